//! Shared test support for the trunk tests: deterministic randomness, a
//! virtual-time harness around `TrunkCore`, and a fake provider built on the
//! message model and the digest server of `voip_sip::auth`.
#![allow(dead_code)]
// Test helpers outside `#[test]` fns: panicking on bad test data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::Duration;

use voip_sip::auth::{DigestServer, DigestServerConfig, StoredCredential, Verdict};
use voip_sip::header::{CSeq, Contact, Expires};
use voip_sip::message::{HeaderName, Headers, Request, Response, SipMessage, StatusCode, Version};
use voip_sip::trunk::{RandomSource, Secret, TrunkConfig, TrunkCore, TrunkEvent};
use voip_sip::uri::Uri;

pub const T0: Duration = Duration::from_secs(1_700_000_000);
pub const USER: &str = "31201234567";
pub const AUTH_USER: &str = "kantoor-trunk";
pub const PASSWORD: &str = "zeer-geheim-wachtwoord";
pub const REALM: &str = "provider.example";
pub const REGISTRAR: &str = "sip.provider.example";

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// xorshift64*: deterministic, good enough for ids and jitter in tests.
#[derive(Debug, Clone)]
pub struct TestRng(pub u64);

impl RandomSource for TestRng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
    }
}

pub fn config() -> TrunkConfig {
    let Uri::Sip(contact) = Uri::parse(&format!("sip:{USER}@192.0.2.10:5060")).unwrap() else {
        panic!("not sip")
    };
    let mut c = TrunkConfig::new(REGISTRAR, USER, Secret::new(PASSWORD), contact);
    c.auth_username = AUTH_USER.into();
    c.backoff_jitter_percent = 0;
    c
}

/// Runs a `TrunkCore` in virtual time and collects what it emits.
pub struct Harness {
    pub core: TrunkCore<TestRng>,
    pub now: Duration,
    pub events: Vec<TrunkEvent>,
    /// Requests sent and not yet taken by the test, with the time sent.
    pub out: VecDeque<(Duration, Request)>,
    /// Every request ever sent, with the time sent.
    pub log: Vec<(Duration, Request)>,
}

impl Harness {
    pub fn new(cfg: TrunkConfig) -> Self {
        Self {
            core: TrunkCore::new(cfg, TestRng(0x9E37_79B9_7F4A_7C15)).unwrap(),
            now: T0,
            events: Vec::new(),
            out: VecDeque::new(),
            log: Vec::new(),
        }
    }

    pub fn started(cfg: TrunkConfig) -> Self {
        let mut h = Self::new(cfg);
        h.core.start(h.now);
        h.pump();
        h
    }

    /// Drains the core; every request goes through the serialiser and the
    /// parser, as it would on the wire.
    pub fn pump(&mut self) {
        while let Some(req) = self.core.poll_request() {
            let SipMessage::Request(parsed) = SipMessage::parse(&req.to_bytes()).unwrap() else {
                panic!("not a request")
            };
            assert_eq!(parsed, req, "request must survive the wire");
            self.out.push_back((self.now, parsed.clone()));
            self.log.push((self.now, parsed));
        }
        while let Some(e) = self.core.poll_event() {
            self.events.push(e);
        }
    }

    pub fn take_events(&mut self) -> Vec<TrunkEvent> {
        std::mem::take(&mut self.events)
    }

    /// Fires every timer due up to `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Duration) {
        for _ in 0..100_000 {
            match self.core.poll_timeout() {
                Some(x) if x <= t => {
                    self.now = self.now.max(x);
                    self.core.handle_timeout(self.now);
                    self.pump();
                }
                _ => {
                    self.now = self.now.max(t);
                    return;
                }
            }
        }
        panic!("timer loop does not make progress");
    }

    /// Fires timers until a request is sent (at most until `limit`).
    pub fn next_request(&mut self, limit: Duration) -> (Duration, Request) {
        for _ in 0..100_000 {
            if let Some(r) = self.out.pop_front() {
                return r;
            }
            match self.core.poll_timeout() {
                Some(x) if x <= limit => {
                    self.now = self.now.max(x);
                    self.core.handle_timeout(self.now);
                    self.pump();
                }
                other => panic!("no request until {limit:?} (next timer {other:?})"),
            }
        }
        panic!("timer loop does not make progress");
    }

    /// Like [`Self::next_request`], skipping OPTIONS (answered 200 at once).
    pub fn next_register(&mut self, limit: Duration) -> (Duration, Request) {
        loop {
            let (t, r) = self.next_request(limit);
            if r.method.as_str() == "REGISTER" {
                return (t, r);
            }
            let resp = reply(&r, 200, &[]);
            self.respond(&resp);
        }
    }

    /// Delivers a response (after a trip through serialiser and parser).
    pub fn respond(&mut self, resp: &Response) {
        let SipMessage::Response(parsed) = SipMessage::parse(&resp.to_bytes()).unwrap() else {
            panic!("not a response")
        };
        self.core.handle_response(self.now, &parsed);
        self.pump();
    }

    /// Reports the client transaction of `req` as timed out.
    pub fn time_out(&mut self, req: &Request) {
        let cseq = req.headers.typed::<CSeq>().unwrap().unwrap();
        self.core.handle_transaction_timeout(self.now, &cseq);
        self.pump();
    }
}

/// A response to `req` with the dialog-identifying headers copied.
pub fn reply(req: &Request, status: u16, extra: &[(HeaderName, String)]) -> Response {
    let mut h = Headers::new();
    for v in req.headers.get_all(&HeaderName::VIA) {
        h.push(HeaderName::VIA, v);
    }
    h.push(
        HeaderName::FROM,
        req.headers.get(&HeaderName::FROM).unwrap(),
    );
    h.push(
        HeaderName::TO,
        format!("{};tag=prov", req.headers.get(&HeaderName::TO).unwrap()),
    );
    h.push(
        HeaderName::CALL_ID,
        req.headers.get(&HeaderName::CALL_ID).unwrap(),
    );
    h.push(
        HeaderName::CSEQ,
        req.headers.get(&HeaderName::CSEQ).unwrap(),
    );
    for (n, v) in extra {
        h.push(n.clone(), v.clone());
    }
    let status = StatusCode::new(status).unwrap();
    Response {
        version: Version::SIP_2_0,
        status,
        reason: status.default_reason().to_owned(),
        headers: h,
        body: Vec::new(),
    }
}

pub fn header<'a>(req: &'a Request, name: &HeaderName) -> Option<&'a str> {
    req.headers.get(name)
}

pub fn cseq(req: &Request) -> u32 {
    req.headers.typed::<CSeq>().unwrap().unwrap().seq
}

pub fn call_id(req: &Request) -> String {
    header(req, &HeaderName::CALL_ID).unwrap().to_owned()
}

pub fn expires(req: &Request) -> u32 {
    req.headers.typed::<Expires>().unwrap().unwrap().0
}

/// A provider registrar: digest authentication with the real server of
/// `voip_sip::auth`, then 200 echoing our Contact with the granted expiry.
pub struct Provider {
    pub server: DigestServer,
    pub password: String,
    /// Largest expiry granted.
    pub max_grant: u32,
    /// Every verdict on an Authorization header, in order.
    pub verdicts: Vec<Verdict>,
}

impl Provider {
    pub fn new() -> Self {
        Self::with_nonce_lifetime(secs(300))
    }

    pub fn with_nonce_lifetime(lifetime: Duration) -> Self {
        Self {
            server: DigestServer::new(
                REALM,
                [7; 32],
                DigestServerConfig {
                    nonce_lifetime: lifetime,
                    ..DigestServerConfig::default()
                },
            ),
            password: PASSWORD.into(),
            max_grant: 3600,
            verdicts: Vec::new(),
        }
    }

    pub fn challenge(&self, req: &Request, now: Duration, stale: bool) -> Response {
        let extra: Vec<_> = self
            .server
            .challenge(now, stale)
            .into_iter()
            .map(|c| (HeaderName::WWW_AUTHENTICATE, c))
            .collect();
        reply(req, 401, &extra)
    }

    pub fn handle(&mut self, req: &Request, now: Duration) -> Response {
        assert_eq!(req.method.as_str(), "REGISTER");
        let Some(auth) = req.headers.get(&HeaderName::AUTHORIZATION) else {
            return self.challenge(req, now, false);
        };
        let password = self.password.clone();
        let verdict = self.server.verify(now, "REGISTER", auth, |user| {
            (user == AUTH_USER).then(|| StoredCredential::Password(password.clone()))
        });
        self.verdicts.push(verdict.clone());
        match verdict {
            Verdict::Authenticated { uri, .. } => {
                assert_eq!(uri, req.uri.to_string(), "digest uri is the Request-URI");
                let requested = expires(req);
                let Some(Ok(Contact::Address(contact))) = req.headers.typed::<Contact>() else {
                    panic!("REGISTER without a contact")
                };
                if requested == 0 {
                    return reply(req, 200, &[]);
                }
                let granted = requested.min(self.max_grant);
                reply(
                    req,
                    200,
                    &[(
                        HeaderName::CONTACT,
                        format!("<{}>;expires={granted}", contact.uri),
                    )],
                )
            }
            Verdict::Stale => self.challenge(req, now, true),
            _ => self.challenge(req, now, false),
        }
    }
}

//! Shared helpers for the registrar integration tests: a registrar with a
//! fixed secret, a credential table, request builders and a digest client.
#![allow(dead_code)]
// Reason: test helpers; a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_sip::auth::{BanConfig, BanTracker, DigestClient, StoredCredential};
use voip_sip::message::{HeaderName, Request, Response, SipMessage, StatusCode};
use voip_sip::registrar::{Flow, Outcome, Registrar, RegistrarConfig, RegistrarEvent};

pub const SECRET: [u8; 32] = [7; 32];
/// Wall clock used for nonces: 2023-11-14.
pub const UNIX0: Duration = Duration::from_secs(1_700_000_000);

/// Extensions known to the test registrar and their passwords.
pub const USERS: &[(&str, &str)] = &[
    ("201", "geheim-201"),
    ("202", "geheim-202"),
    ("watson", "elementary"),
    ("user", "escaped"),
    ("j.user", "secret"),
    ("null-\0-null", "nul"),
];

pub fn password(user: &str) -> Option<&'static str> {
    USERS.iter().find(|(u, _)| *u == user).map(|(_, p)| *p)
}

pub fn lookup(user: &str) -> Option<StoredCredential> {
    password(user).map(|p| StoredCredential::Password(p.to_owned()))
}

pub fn config() -> RegistrarConfig {
    let mut c = RegistrarConfig::new("example.com");
    c.local_addresses = vec!["192.0.2.1".parse().unwrap()];
    c
}

/// Virtual time: a fixed origin plus offsets; nothing sleeps.
pub struct Clock {
    pub t0: Instant,
    pub unix0: Duration,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            t0: Instant::now(),
            unix0: UNIX0,
        }
    }
    pub fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }
    pub fn unix(&self, secs: u64) -> Duration {
        self.unix0 + Duration::from_secs(secs)
    }
}

pub fn registrar(clock: &Clock) -> Registrar {
    Registrar::new(
        config(),
        SECRET,
        BanTracker::new(BanConfig::default()),
        clock.t0,
    )
}

pub fn udp(addr: &str) -> Flow {
    Flow::udp(addr.parse::<SocketAddr>().unwrap())
}

pub fn parse_request(text: &str) -> Request {
    match SipMessage::parse(text.as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("not a request"),
    }
}

/// A REGISTER for `user`@example.com from a phone at 192.168.1.20 with the
/// given Contact lines and extra header lines.
pub fn register(
    user: &str,
    call_id: &str,
    cseq: u32,
    contacts: &[&str],
    extra: &[&str],
) -> Request {
    let mut text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.168.1.20:5060;rport;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@example.com>;tag=ft{call_id}\r\n\
         To: <sip:{user}@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        let _ = write!(text, "Contact: {c}\r\n");
    }
    for e in extra {
        text.push_str(e);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    parse_request(&text)
}

pub fn respond(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Respond(r) => r,
        Outcome::Drop => panic!("unexpected drop"),
    }
}

pub fn challenges(resp: &Response) -> Vec<String> {
    resp.headers
        .get_all(&HeaderName::WWW_AUTHENTICATE)
        .map(str::to_owned)
        .collect()
}

/// Adds an `Authorization` answering the challenges of `resp`.
pub fn authorize(req: &mut Request, resp: &Response, user: &str, password: &str) {
    let ch = challenges(resp);
    let refs: Vec<&str> = ch.iter().map(String::as_str).collect();
    let value = DigestClient::default()
        .respond(
            &refs,
            "REGISTER",
            &req.uri.to_string(),
            user,
            password,
            [3; 16],
            1,
        )
        .unwrap()
        .into_string();
    // The client writes control characters raw; a NUL inside a quoted string
    // must travel as a quoted-pair (RFC 3261 §25.1).
    let value = value.replace('\0', "\\\0");
    req.headers.remove(&HeaderName::AUTHORIZATION);
    req.headers.push(HeaderName::AUTHORIZATION, value);
}

/// Sends `req` unauthenticated (expecting 401), then with credentials for
/// `user`; returns the second response.
pub fn register_with_auth(
    reg: &mut Registrar,
    mut req: Request,
    flow: &Flow,
    now: Instant,
    unix: Duration,
    user: &str,
    password: &str,
) -> Response {
    let challenge = respond(reg.handle_register(&req, flow, now, unix, &lookup));
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    authorize(&mut req, &challenge, user, password);
    respond(reg.handle_register(&req, flow, now, unix, &lookup))
}

pub fn events(reg: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| reg.poll_event()).collect()
}

pub fn contacts(resp: &Response) -> Vec<String> {
    resp.headers
        .values(&HeaderName::CONTACT)
        .map(str::to_owned)
        .collect()
}

pub fn header_names(resp: &Response) -> Vec<String> {
    resp.headers
        .iter()
        .map(|h| h.name.as_str().to_owned())
        .collect()
}

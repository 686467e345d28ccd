//! A virtual-time harness for the `Pbx` core: scripted phones and trunk
//! providers on an in-memory network (every message is serialised and
//! re-parsed), no sockets, no clock reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use voip_appliance::pbx::{LocalAddrs, MediaCommand, Pbx, PbxEvent, Transmit};
use voip_appliance::secrets::Secrets;
use voip_shared::mqtt::CallRecord;
use voip_shared::site_config::SiteConfig;
use voip_sip::auth::DigestClient;
use voip_sip::b2bua::{Entropy, MediaPorts};
use voip_sip::message::{HeaderName, Request, Response, SipMessage, StatusCode};
use voip_sip::registrar::{Flow, TransportKind};
use voip_sip::transaction::response_to;

/// Our SIP and media address.
pub const PBX_IP: &str = "198.51.100.10";
/// The priority-1 trunk (`kpn`).
pub const KPN: &str = "203.0.113.10:5060";
/// The priority-2 trunk (`backup`).
pub const BACKUP: &str = "203.0.113.20:5060";
pub const PORTS: MediaPorts = MediaPorts {
    a_port: 20_000,
    b_port: 30_000,
};

/// The site: two trunks (`kpn` registering only when `register_kpn`),
/// extensions 201/202 with a full profile and 203 with internal calls only.
pub fn site(register_kpn: bool) -> SiteConfig {
    SiteConfig::from_toml_str(&site_text(register_kpn)).unwrap()
}

/// The TOML of [`site`] (for tests that add to it).
pub fn site_text(register_kpn: bool) -> String {
    format!(
        r#"
version = 1
site_name = "Testkantoor"
tenant = "test"

[[trunks]]
id = "kpn"
host = "203.0.113.10"
credentials = "trunk-kpn"
username = "0301234567"
register = {register_kpn}
options_interval_s = 0
priority = 10
dids = [
  {{ number = "+31301234567", extension = "202" }},
  {{ number = "+31301234568", extension = "201" }},
]

[[trunks]]
id = "backup"
host = "203.0.113.20"
credentials = "trunk-backup"
username = "test"
register = false
options_interval_s = 0
priority = 20

[[permission_profiles]]
name = "volledig"
allowed_classes = ["internal", "national_fixed", "mobile", "service"]

[[permission_profiles]]
name = "intern"
allowed_classes = ["internal"]

[[extensions]]
number = "201"
display_name = "Marieke"
credentials = "ext-201"
permission_profile = "volledig"

[[extensions]]
number = "202"
display_name = "Joost"
credentials = "ext-202"
permission_profile = "volledig"

[[extensions]]
number = "203"
display_name = "Magazijn"
credentials = "ext-203"
permission_profile = "intern"

[[dial_plan]]
name = "alarm"
pattern = "112"
destination = {{ trunk_group = "all" }}

[[dial_plan]]
name = "intern"
pattern = "2XX"
destination = "extension"

[[dial_plan]]
name = "mobiel"
pattern = "06XXXXXXXX"
strip = 1
prefix = "+31"
destination = {{ trunk_group = "all" }}
"#
    )
}

pub const SECRETS: &str = r#"
[credentials.trunk-kpn]
password = "kpn-geheim"

[credentials.trunk-backup]
username = "backup-user"
password = "backup-geheim"

[credentials.ext-201]
password = "pw-201"

[credentials.ext-202]
password = "pw-202"

[credentials.ext-203]
password = "pw-203"
"#;

pub struct Rng(u64);

impl Entropy for Rng {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn udp(s: &str) -> Flow {
    Flow::udp(addr(s))
}

pub fn parse(text: &str) -> SipMessage {
    SipMessage::parse(text.replace('\n', "\r\n").as_bytes()).unwrap()
}

pub fn request(text: &str) -> Request {
    match parse(text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

pub fn sdp(ip: &str, port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
}

/// A response of a scripted peer to `request`.
pub fn reply(
    request: &Request,
    code: u16,
    tag: &str,
    contact: &str,
    body: Option<String>,
) -> Response {
    let mut r = response_to(request, StatusCode::new(code).unwrap(), Some(tag));
    r.headers.push(HeaderName::CONTACT, format!("<{contact}>"));
    if let Some(b) = body {
        r.headers.push(HeaderName::CONTENT_TYPE, "application/sdp");
        r.body = b.into_bytes();
    }
    r
}

/// The network around one `Pbx`.
pub struct Net {
    pub pbx: Pbx<Rng>,
    pub t0: Instant,
    pub now: Instant,
    pub unix: Duration,
    /// Everything the PBX sent, not yet taken.
    pub sent: Vec<Transmit>,
    pub media: Vec<MediaCommand>,
    pub events: Vec<PbxEvent>,
    pub records: Vec<CallRecord>,
    branch: u32,
}

impl Net {
    pub fn new(site: SiteConfig) -> Net {
        let t0 = Instant::now();
        let unix = Duration::from_secs(1_790_000_000);
        let local = LocalAddrs {
            sip: vec![(TransportKind::Udp, addr(&format!("{PBX_IP}:5060")))],
            media_ip: PBX_IP.parse::<IpAddr>().unwrap(),
            domains: vec!["pbx.example".into()],
            other_ips: Vec::new(),
        };
        let pbx = Pbx::new(
            site,
            Secrets::from_toml_str(SECRETS).unwrap(),
            local,
            [7; 32],
            t0,
            unix,
            Rng(0x9e37_79b9_7f4a_7c15),
        );
        let mut net = Net {
            pbx,
            t0,
            now: t0,
            unix,
            sent: Vec::new(),
            media: Vec::new(),
            events: Vec::new(),
            records: Vec::new(),
            branch: 0,
        };
        net.drain();
        net
    }

    /// A fresh RFC 3261 branch.
    pub fn branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bKt{}", self.branch)
    }

    /// Collects every output of the PBX (after a direct call on `pbx`).
    pub fn drain(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.pbx.poll_transmit() {
                moved = true;
                // The wire form is what crosses the network.
                let wire = SipMessage::parse(&t.to_bytes()).unwrap();
                self.sent.push(Transmit { message: wire, ..t });
            }
            while let Some(m) = self.pbx.poll_media() {
                moved = true;
                if let MediaCommand::Allocate { call, .. } = &m {
                    self.pbx.handle_media_allocated(self.now, *call, PORTS);
                }
                self.media.push(m);
            }
            while let Some(e) = self.pbx.poll_event() {
                moved = true;
                self.events.push(e);
            }
            while let Some(r) = self.pbx.poll_record() {
                moved = true;
                self.records.push(r);
            }
            if !moved {
                break;
            }
        }
    }

    /// `from` sends `message` over UDP.
    pub fn send(&mut self, from: &str, message: impl Into<Msg>) {
        let message = match message.into() {
            Msg::Req(r) => SipMessage::Request(r),
            Msg::Resp(r) => SipMessage::Response(r),
        };
        let wire = SipMessage::parse(&message.to_bytes()).unwrap();
        self.pbx
            .handle_inbound(self.now, self.unix, wire, udp(from));
        self.drain();
    }

    /// Runs the PBX's timers for `d` of virtual time.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(at) = self.pbx.poll_timeout().filter(|t| *t <= end) {
            let at = at.max(self.now);
            self.unix += at - self.now;
            self.now = at;
            self.pbx.handle_timeout(self.now, self.unix);
            self.drain();
        }
        self.unix += end - self.now;
        self.now = end;
    }

    /// Takes every message sent to `to`.
    pub fn take(&mut self, to: &str) -> Vec<SipMessage> {
        let to = addr(to);
        let mut out = Vec::new();
        self.sent.retain(|t| {
            if t.destination == to {
                out.push(t.message.clone());
                false
            } else {
                true
            }
        });
        out
    }

    /// The single request with `method` sent to `to` (others to `to` stay).
    pub fn request_to(&mut self, to: &str, method: &str) -> Request {
        let to_addr = addr(to);
        let pos = self
            .sent
            .iter()
            .position(|t| {
                t.destination == to_addr
                    && matches!(&t.message, SipMessage::Request(r) if r.method.as_str() == method)
            })
            .unwrap_or_else(|| panic!("no {method} to {to}; sent: {:#?}", self.sent));
        match self.sent.remove(pos).message {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        }
    }

    /// Status codes of the responses sent to `to`, taken.
    pub fn codes_to(&mut self, to: &str) -> Vec<u16> {
        self.responses_to(to)
            .iter()
            .map(|r| r.status.as_u16())
            .collect()
    }

    /// The responses sent to `to`, taken.
    pub fn responses_to(&mut self, to: &str) -> Vec<Response> {
        let to_addr = addr(to);
        let mut out = Vec::new();
        self.sent.retain(|t| match &t.message {
            SipMessage::Response(r) if t.destination == to_addr => {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }

    /// The last final response sent to `to` (provisional ones dropped).
    pub fn final_to(&mut self, to: &str) -> Response {
        self.responses_to(to)
            .into_iter()
            .rfind(|r| r.status.is_final())
            .unwrap_or_else(|| panic!("no final response to {to}"))
    }
}

/// A scripted desk phone.
pub struct Phone {
    pub ext: String,
    pub password: String,
    /// Where it sends from (its NAT's public side).
    pub at: String,
    cseq: u32,
}

impl Phone {
    pub fn new(ext: &str, password: &str, at: &str) -> Phone {
        Phone {
            ext: ext.into(),
            password: password.into(),
            at: at.into(),
            cseq: 0,
        }
    }

    pub fn ip(&self) -> String {
        addr(&self.at).ip().to_string()
    }

    pub fn contact(&self) -> String {
        format!("sip:{}@{}", self.ext, self.at)
    }

    pub fn register_request(&mut self, branch: &str, authorization: Option<&str>) -> Request {
        self.cseq += 1;
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\n"));
        request(&format!(
            "REGISTER sip:{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP {at};branch={branch};rport
Max-Forwards: 70
From: <sip:{ext}@{PBX_IP}>;tag=reg{ext}
To: <sip:{ext}@{PBX_IP}>
Call-ID: reg-{ext}@{ip}
CSeq: {cseq} REGISTER
Contact: <{contact}>
Expires: 600
{auth}Content-Length: 0

",
            at = self.at,
            ext = self.ext,
            ip = self.ip(),
            cseq = self.cseq,
            contact = self.contact(),
        ))
    }

    /// The answer to a 401/407 `challenge` for `method` on `uri`.
    pub fn answer(&self, challenge: &Response, method: &str, uri: &str, password: &str) -> String {
        let name = if challenge.status.as_u16() == 407 {
            HeaderName::PROXY_AUTHENTICATE
        } else {
            HeaderName::WWW_AUTHENTICATE
        };
        let values: Vec<&str> = challenge.headers.get_all(&name).collect();
        DigestClient::default()
            .respond(&values, method, uri, &self.ext, password, [9; 16], 1)
            .unwrap()
            .into_string()
    }

    /// REGISTER → 401 → REGISTER with credentials; returns the final status.
    pub fn register(&mut self, net: &mut Net) -> u16 {
        let b = net.branch();
        let first = self.register_request(&b, None);
        net.send(&self.at.clone(), first);
        let challenge = net.final_to(&self.at);
        assert_eq!(challenge.status.as_u16(), 401);
        let auth = self.answer(
            &challenge,
            "REGISTER",
            &format!("sip:{PBX_IP}"),
            &self.password.clone(),
        );
        let b = net.branch();
        let second = self.register_request(&b, Some(&auth));
        net.send(&self.at.clone(), second);
        net.final_to(&self.at).status.as_u16()
    }

    /// An INVITE to `user` with this phone's SDP.
    pub fn invite(
        &mut self,
        user: &str,
        call_id: &str,
        branch: &str,
        proxy_auth: Option<&str>,
    ) -> Request {
        self.cseq += 1;
        let body = sdp(&self.ip(), 4000);
        let auth = proxy_auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\n"));
        request(&format!(
            "INVITE sip:{user}@{PBX_IP} SIP/2.0
Via: SIP/2.0/UDP {at};branch={branch}
Max-Forwards: 70
From: <sip:{ext}@{PBX_IP}>;tag=from{ext}
To: <sip:{user}@{PBX_IP}>
Call-ID: {call_id}
CSeq: {cseq} INVITE
Contact: <{contact}>
{auth}Content-Type: application/sdp
Content-Length: {len}

{body}",
            at = self.at,
            ext = self.ext,
            cseq = self.cseq,
            contact = self.contact(),
            len = body.len(),
            body = body.replace("\r\n", "\n"),
        ))
    }

    /// INVITE → 407 → ACK → INVITE with `Proxy-Authorization`. Returns the
    /// authenticated INVITE (already sent).
    pub fn call(&mut self, net: &mut Net, user: &str, call_id: &str) -> Request {
        let b = net.branch();
        let first = self.invite(user, call_id, &b, None);
        net.send(&self.at.clone(), first.clone());
        let challenge = net.final_to(&self.at);
        assert_eq!(challenge.status.as_u16(), 407, "{challenge}");
        net.send(&self.at.clone(), ack_for(&first, &challenge));
        let auth = self.answer(
            &challenge,
            "INVITE",
            &format!("sip:{user}@{PBX_IP}"),
            &self.password.clone(),
        );
        let b = net.branch();
        let second = self.invite(user, call_id, &b, Some(&auth));
        net.send(&self.at.clone(), second.clone());
        second
    }
}

/// The ACK for a non-2xx final response (same branch as the INVITE).
pub fn ack_for(invite: &Request, response: &Response) -> Request {
    let via = invite.headers.get(&HeaderName::VIA).unwrap();
    let from = invite.headers.get(&HeaderName::FROM).unwrap();
    let to = response.headers.get(&HeaderName::TO).unwrap();
    let call_id = invite.headers.get(&HeaderName::CALL_ID).unwrap();
    let seq = invite
        .headers
        .get(&HeaderName::CSEQ)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    request(&format!(
        "ACK {} SIP/2.0\nVia: {via}\nMax-Forwards: 70\nFrom: {from}\nTo: {to}\nCall-ID: {call_id}\nCSeq: {seq} ACK\nContent-Length: 0\n\n",
        invite.uri
    ))
}

/// An in-dialog request from the caller side of a dialog established by
/// `invite` and answered with `ok` (ACK or BYE), with a new branch.
pub fn in_dialog(
    method: &str,
    invite: &Request,
    ok: &Response,
    branch: &str,
    cseq: u32,
) -> Request {
    let via_host = invite
        .headers
        .get(&HeaderName::VIA)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let from = invite.headers.get(&HeaderName::FROM).unwrap();
    let to = ok.headers.get(&HeaderName::TO).unwrap();
    let call_id = invite.headers.get(&HeaderName::CALL_ID).unwrap();
    let target = ok
        .headers
        .get(&HeaderName::CONTACT)
        .unwrap()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    request(&format!(
        "{method} {target} SIP/2.0\nVia: {via_host};branch={branch}\nMax-Forwards: 70\nFrom: {from}\nTo: {to}\nCall-ID: {call_id}\nCSeq: {cseq} {method}\nContent-Length: 0\n\n"
    ))
}

/// The in-dialog request `req` (sent by the PBX to a peer) answered 200 by
/// that peer.
pub fn ok_to(req: &Request, tag: &str) -> Response {
    let mut r = response_to(req, StatusCode::OK, None);
    if !req.headers.get(&HeaderName::TO).unwrap().contains("tag=") {
        r = response_to(req, StatusCode::OK, Some(tag));
    }
    r
}

pub fn ipv4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

pub enum Msg {
    Req(Request),
    Resp(Response),
}

impl From<Request> for Msg {
    fn from(r: Request) -> Msg {
        Msg::Req(r)
    }
}

impl From<Response> for Msg {
    fn from(r: Response) -> Msg {
        Msg::Resp(r)
    }
}

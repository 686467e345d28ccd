//! A virtual-time harness: a `TransactionLayer` and a `B2bua` glued the way
//! the shell glues them, with scripted phones on the other end of an
//! in-memory link (every message is serialised and re-parsed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use voip_sip::b2bua::{
    B2bua, B2buaConfig, CallRef, ClientTx, Command, Entropy, Event, MediaInstruction, MediaPorts,
    RouteDecision, Target,
};
use voip_sip::message::{HeaderName, Request, Response, SipMessage, StatusCode};
use voip_sip::transaction::{
    ClientEvent, Destination, LayerConfig, Reliability, ServerEvent, TimerConfig, TransactionEvent,
    TransactionId, TransactionLayer, response_to,
};
use voip_sip::uri::Uri;

pub const UDP: Reliability = Reliability::Unreliable;
pub const MEDIA_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
pub const PORTS: MediaPorts = MediaPorts {
    a_port: 20_000,
    b_port: 30_000,
};

pub fn phone(last: u8) -> Destination {
    Destination {
        addr: SocketAddr::from(([192, 0, 2, last], 5060)),
        flow: u64::from(last),
    }
}

/// Alice, the caller.
pub fn alice() -> Destination {
    phone(1)
}

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

pub fn parse(text: &str) -> SipMessage {
    SipMessage::parse(text.replace('\n', "\r\n").as_bytes()).unwrap()
}

pub fn sdp(ip: &str, port: u16, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n{extra}"
    )
}

/// Alice's INVITE to `user` with her SDP (RTP at 192.0.2.1:4000).
pub fn a_invite(user: &str, extra_headers: &str) -> Request {
    let body = sdp("192.0.2.1", 4000, "a=sendrecv\r\n");
    let text = format!(
        "INVITE sip:{user}@pbx.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKalice1
Max-Forwards: 70
From: \"Alice\" <sip:201@pbx.example>;tag=atag
To: <sip:{user}@pbx.example>
Call-ID: a-call-1@192.0.2.1
CSeq: 1 INVITE
Contact: <sip:201@192.0.2.1:5060>
{extra_headers}Content-Type: application/sdp
Content-Length: {}

{}",
        body.len(),
        body.replace("\r\n", "\n")
    );
    match parse(&text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

/// A phone's response to `request` with a To tag, a Contact and an optional SDP.
pub fn reply(request: &Request, code: u16, tag: &str, body: Option<String>) -> Response {
    let mut r = response_to(request, StatusCode::new(code).unwrap(), Some(tag));
    r.headers
        .push(HeaderName::CONTACT, "<sip:peer@192.0.2.99:5060>");
    if let Some(b) = body {
        r.headers.push(HeaderName::CONTENT_TYPE, "application/sdp");
        r.body = b.into_bytes();
    }
    r
}

pub fn target(last: u8, user: &str) -> Target {
    Target {
        request_uri: Uri::parse(&format!("sip:{user}@192.0.2.{last}:5060")).unwrap(),
        destination: phone(last),
        trunk_id: None,
        from_user: None,
        credentials: None,
        codecs: Vec::new(),
        address_failover: false,
    }
}

pub fn targets(groups: Vec<Vec<Target>>) -> RouteDecision {
    RouteDecision::Targets {
        groups,
        max_duration: None,
        emergency: false,
        caller_codecs: Vec::new(),
    }
}

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub layer: TransactionLayer,
    pub b2b: B2bua<Rng>,
    map: HashMap<TransactionId, ClientTx>,
    /// Every message the B2BUA side sent, in order, not yet taken.
    pub inbox: Vec<(Destination, SipMessage)>,
    pub events: Vec<Event>,
    pub media: Vec<MediaInstruction>,
    /// Answer `AllocateMedia` at once with [`PORTS`].
    pub auto_ports: bool,
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with_transcoding(false)
    }

    /// A simulation whose media engine can (or cannot) transcode.
    pub fn with_transcoding(transcoding: bool) -> Sim {
        let t0 = Instant::now();
        let config = B2buaConfig {
            via_sent_by: "198.51.100.10:5060".into(),
            via_transport: "UDP".into(),
            local_host: "198.51.100.10:5060".into(),
            media_address: MEDIA_IP,
            timers: TimerConfig::default(),
            transcoding,
        };
        Sim {
            t0,
            now: t0,
            layer: TransactionLayer::new(LayerConfig::default()),
            b2b: B2bua::new(config, Rng(0x9e37_79b9_7f4a_7c15)),
            map: HashMap::new(),
            inbox: Vec::new(),
            events: Vec::new(),
            media: Vec::new(),
            auto_ports: true,
        }
    }

    pub fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut progressed = false;
            while let Some(ev) = self.layer.poll_event() {
                progressed = true;
                match ev {
                    TransactionEvent::RequestReceived {
                        id,
                        request,
                        source,
                        ..
                    } => self.b2b.handle_request(now, id, request, source, UDP),
                    TransactionEvent::AckWithoutTransaction { request, .. } => {
                        self.b2b.handle_ack(now, &request);
                    }
                    TransactionEvent::Client { id, event } => {
                        if let Some(&tx) = self.map.get(&id) {
                            if event == ClientEvent::Terminated {
                                self.map.remove(&id);
                            }
                            self.b2b.handle_client_event(now, tx, &event);
                        }
                    }
                    TransactionEvent::Server {
                        event: ServerEvent::AckReceived(r),
                        ..
                    } => self.b2b.handle_ack(now, &r),
                    TransactionEvent::Server { .. } => {}
                }
            }
            while let Some(cmd) = self.b2b.poll_command() {
                progressed = true;
                match cmd {
                    Command::StartClient {
                        tx,
                        request,
                        destination,
                    } => {
                        let id = self
                            .layer
                            .start_client(now, request, destination, UDP)
                            .unwrap();
                        self.map.insert(id, tx);
                    }
                    Command::SendResponse { tx, response } => {
                        let _ = self.layer.send_response(now, tx, response);
                    }
                    Command::SendStateless {
                        destination,
                        message,
                    } => self.layer.send_stateless(destination, message),
                }
            }
            while let Some(e) = self.b2b.poll_event() {
                progressed = true;
                if let (true, Event::AllocateMedia { call_id_ref }) = (self.auto_ports, &e) {
                    self.b2b.handle_media_allocated(now, *call_id_ref, PORTS);
                }
                self.events.push(e);
            }
            while let Some(m) = self.b2b.poll_media() {
                self.media.push(m);
            }
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                let wire = SipMessage::parse(&t.message.to_bytes()).unwrap();
                self.inbox.push((t.destination, wire));
            }
            if !progressed {
                break;
            }
        }
    }

    /// `from` sends `message` to the B2BUA.
    pub fn send(&mut self, from: Destination, message: impl Into<Msg>) {
        let message = match message.into() {
            Msg::Req(r) => SipMessage::Request(r),
            Msg::Resp(r) => SipMessage::Response(r),
        };
        let wire = SipMessage::parse(&message.to_bytes()).unwrap();
        match wire {
            SipMessage::Request(r) => {
                self.layer.handle_request(self.now, r, from, UDP);
            }
            SipMessage::Response(r) => {
                self.layer.handle_response(self.now, r);
            }
        }
        self.pump();
    }

    /// Runs timers up to `now + d`.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [self.layer.poll_timeout(), self.b2b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= end);
            let Some(at) = next else {
                self.now = end;
                break;
            };
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            self.b2b.handle_timeout(self.now);
            self.pump();
        }
    }

    pub fn call(&self) -> CallRef {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::RouteRequired { call_id_ref, .. } => Some(*call_id_ref),
                _ => None,
            })
            .expect("a RouteRequired event")
    }

    pub fn route(&mut self, decision: RouteDecision) {
        let call = self.call();
        self.b2b.handle_route(self.now, call, decision);
        self.pump();
    }

    /// Takes the requests with `method` sent to `to`.
    pub fn take_requests(&mut self, to: Destination, method: &str) -> Vec<Request> {
        let mut out = Vec::new();
        self.inbox.retain(|(d, m)| match m {
            SipMessage::Request(r) if *d == to && r.method.as_str() == method => {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }

    /// Takes the responses sent to `to` whose `CSeq` method is `method`.
    pub fn take_responses(&mut self, to: Destination, method: &str) -> Vec<Response> {
        let mut out = Vec::new();
        self.inbox.retain(|(d, m)| match m {
            SipMessage::Response(r)
                if *d == to
                    && r.headers
                        .get(&HeaderName::CSEQ)
                        .is_some_and(|c| c.ends_with(method)) =>
            {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }

    pub fn codes(&mut self, to: Destination, method: &str) -> Vec<u16> {
        self.take_responses(to, method)
            .iter()
            .map(|r| r.status.as_u16())
            .collect()
    }

    /// The single request with `method` sent to `to` (retransmissions folded).
    pub fn one_request(&mut self, to: Destination, method: &str) -> Request {
        let mut all = self.take_requests(to, method);
        assert!(!all.is_empty(), "no {method} to {to:?}");
        let first = all.remove(0);
        let key = first.headers.get(&HeaderName::VIA).map(str::to_owned);
        assert!(
            all.iter()
                .all(|r| r.headers.get(&HeaderName::VIA).map(str::to_owned) == key),
            "more than one {method} transaction to {to:?}"
        );
        first
    }

    pub fn ended(&self) -> Option<&voip_sip::b2bua::CallSummary> {
        self.events.iter().find_map(|e| match e {
            Event::CallEnded(s) => Some(&**s),
            _ => None,
        })
    }
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

/// An in-dialog request from a phone, built from a response/request it holds.
#[allow(clippy::too_many_arguments, reason = "a plain message template")]
pub fn in_dialog(
    method: &str,
    uri: &str,
    from: &str,
    to: &str,
    call_id: &str,
    cseq: u32,
    branch: &str,
    body: Option<&str>,
) -> Request {
    let (ct, len, b) = match &body {
        Some(b) => (
            "Content-Type: application/sdp\n",
            b.len(),
            b.replace("\r\n", "\n"),
        ),
        None => ("", 0, String::new()),
    };
    let text = format!(
        "{method} {uri} SIP/2.0
Via: SIP/2.0/UDP 192.0.2.200:5060;branch={branch}
Max-Forwards: 70
From: {from}
To: {to}
Call-ID: {call_id}
CSeq: {cseq} {method}
Contact: <sip:peer@192.0.2.99:5060>
{ct}Content-Length: {len}

{b}"
    );
    match parse(&text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => unreachable!(),
    }
}

//! Shared helpers for the transaction and dialog tests: message builders and
//! virtual-time drivers. No sleeps: time is `t0 + offset`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure should panic the test"
)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_sip::message::{HeaderName, Request, Response, SipMessage, StatusCode};
use voip_sip::transaction::{Destination, response_to};

pub fn dest(port: u16) -> Destination {
    Destination {
        addr: SocketAddr::from(([192, 0, 2, 1], port)),
        flow: u64::from(port),
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn request(text: &str) -> Request {
    match SipMessage::parse(text.replace('\n', "\r\n").as_bytes()).unwrap() {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("not a request"),
    }
}

/// A request with the given method, branch and `CSeq` number.
pub fn req(method: &str, branch: &str, seq: u32) -> Request {
    request(&format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: {seq} {method}
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

"
    ))
}

pub fn invite(branch: &str) -> Request {
    req("INVITE", branch, 314_159)
}

/// A response to `request` with a To tag and a Contact.
pub fn resp(request: &Request, code: u16, to_tag: &str) -> Response {
    let mut r = response_to(request, StatusCode::new(code).unwrap(), Some(to_tag));
    r.headers.push(HeaderName::CONTACT, "<sip:bob@192.0.2.4>");
    r
}

/// The offsets from `t0` (in ms) of a list of instants.
pub fn offsets(t0: Instant, at: &[Instant]) -> Vec<u64> {
    at.iter().map(|t| (*t - t0).as_millis() as u64).collect()
}

//! The server transport's duty on a received request (RFC 3261 18.2.1,
//! RFC 3581 4): stamp the top `Via` with `received` and fill `rport`, so
//! every response the core builds from the request carries them (phones
//! behind NAT learn their public address from them). The rule is the
//! transport's own (`sip_transport::stateless::stamped_via`), so stateless
//! and PBX answers agree.

use std::net::SocketAddr;

use voip_sip::message::{HeaderName, Headers, Request};

/// Stamps the top `Via` of `request`, received from `source`.
pub(crate) fn stamp_top_via(request: &mut Request, source: SocketAddr) {
    let Some(first) = request.headers.values(&HeaderName::VIA).next() else {
        return;
    };
    let Some(stamped) = crate::sip_transport::stateless::stamped_via(first, source) else {
        return;
    };
    let mut headers = Headers::new();
    let mut done = false;
    for h in &request.headers {
        if !done && h.name == HeaderName::VIA {
            done = true;
            // The first value of the first Via line; keep the rest of the line.
            let rest = h
                .value
                .find(first)
                .map_or("", |at| &h.value[at + first.len()..]);
            headers.push(h.name.clone(), format!("{stamped}{rest}"));
        } else {
            headers.push(h.name.clone(), h.value.clone());
        }
    }
    request.headers = headers;
}

#[cfg(test)]
mod tests {
    use super::*;
    use voip_sip::message::SipMessage;

    fn request(via: &str) -> Request {
        let text = format!(
            "OPTIONS sip:a@192.0.2.1 SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n\
             From: <sip:b@192.0.2.2>;tag=1\r\nTo: <sip:a@192.0.2.1>\r\nCall-ID: x\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match SipMessage::parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn top_via_gets_received_and_rport_and_later_values_stay() {
        let table = [
            (
                "SIP/2.0/UDP phone.invalid:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0",
                "SIP/2.0/UDP phone.invalid:5060;branch=z9hG4bK1;received=198.51.100.7;rport=40000, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0",
            ),
            (
                "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1",
                "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1",
            ),
            (
                "SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK1",
                "SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK1;received=198.51.100.7",
            ),
        ];
        let source: SocketAddr = "198.51.100.7:40000".parse().unwrap();
        for (via, want) in table {
            let mut r = request(via);
            stamp_top_via(&mut r, source);
            assert_eq!(r.headers.get(&HeaderName::VIA), Some(want), "{via}");
            assert_eq!(r.headers.len(), request(via).headers.len());
        }
    }
}

//! The server transport's duty on a received request (RFC 3261 18.2.1,
//! RFC 3581 4): stamp the top `Via` with `received` and fill `rport`, so
//! every response the core builds from the request carries them (phones
//! behind NAT learn their public address from them). The rule is the one of
//! the transport's stateless answers: `received` when the sent-by host
//! differs from the source address or `rport` is present; `rport=<source
//! port>` when `rport` is present. A top `Via` that does not parse is left
//! unchanged.

use std::net::{IpAddr, SocketAddr};

use voip_sip::header::{TypedHeader as _, Via};
use voip_sip::message::{HeaderName, Headers, Request};
use voip_sip::uri::{Host, Param};

/// The stamped form of the top `Via` value `raw`, or `None` to keep it.
fn stamp(raw: &str, source: SocketAddr) -> Option<String> {
    let mut via = Via::parse(raw).ok()?;
    let wants_rport = via.rport().is_some() || via.param("rport").is_some();
    let same_host = match (&via.host, source.ip()) {
        (Host::Ipv4(a), IpAddr::V4(b)) => *a == b,
        (Host::Ipv6(a), IpAddr::V6(b)) => *a == b,
        (Host::Ipv6(a), IpAddr::V4(b)) => a.to_ipv4_mapped() == Some(b),
        (Host::Ipv4(b), IpAddr::V6(a)) => a.to_ipv4_mapped() == Some(*b),
        (Host::Domain(_), _) => false,
    };
    if same_host && !wants_rport {
        return None;
    }
    via.params.retain(|p| {
        !p.name.eq_ignore_ascii_case("received") && !p.name.eq_ignore_ascii_case("rport")
    });
    let ip = match source.ip() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => a
            .to_ipv4_mapped()
            .map_or_else(|| a.to_string(), |v4| v4.to_string()),
    };
    via.params.push(Param {
        name: "received".to_owned(),
        value: Some(ip),
    });
    if wants_rport {
        via.params.push(Param {
            name: "rport".to_owned(),
            value: Some(source.port().to_string()),
        });
    }
    Some(via.to_string())
}

/// Stamps the top `Via` of `request`, received from `source`.
pub(crate) fn stamp_top_via(request: &mut Request, source: SocketAddr) {
    let Some(first) = request.headers.values(&HeaderName::VIA).next() else {
        return;
    };
    let Some(stamped) = stamp(first, source) else {
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

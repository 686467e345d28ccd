//! Stateless answers built by the transport shell: the rejections decided by
//! [`voip_sip::validate`] and the TEMPORARY fallback UAS.
//!
//! Everything here is pure (input → bytes); the tasks that send live in the
//! sibling modules.
//!
//! # Response construction (RFC 3261 8.2.6, 18.2.1; RFC 3581)
//! - Every `Via` value is copied in order. The top one gets `received=<source
//!   IP>` when its sent-by host differs from the source address or when it
//!   carries `rport`, and an empty `rport` is filled with the source port. A
//!   top `Via` that does not parse is copied unchanged.
//! - `From`, `Call-ID` and `CSeq` lines are copied as received; `To` gets a tag
//!   when it has none (a hash of `Call-ID`, `From`, top `Via` and `CSeq`, so a
//!   retransmitted request gets the same tag).
//! - No `Server` header (it would reveal the version); `Content-Length: 0`.
//! - Requests with method `ACK` (by request line, or by `CSeq` when the request
//!   line did not parse) are never answered.
//!
//! # Temporary fallback UAS
//! Until the transaction layer, registrar and B2BUA exist, [`fallback_answer`]
//! decides for every request the validation layer let through: `OPTIONS` →
//! 200 with `Allow`, `Accept: application/sdp` and `Supported`; `ACK` →
//! nothing; anything else → `503 Service Unavailable` with `Retry-After: 30`.
//! This goes away when the real layers consume [`super::Inbound`].

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::net::{IpAddr, SocketAddr};

use voip_sip::header::{CSeq, To, TypedHeader as _, Via};
use voip_sip::message::{HeaderName, Headers, Method, Request, Response, StatusCode, Version};
use voip_sip::uri::{Host, Param};
use voip_sip::validate::Capabilities;

/// `Retry-After` seconds of the fallback's 503.
pub const FALLBACK_RETRY_AFTER_SECS: u32 = 30;

/// Whether the request (by its `CSeq`) is an `ACK`; used when only the header
/// fields of a broken request are known.
pub fn cseq_says_ack(headers: &Headers) -> bool {
    matches!(headers.typed::<CSeq>(), Some(Ok(c)) if c.method == Method::ACK)
}

/// Builds a stateless response to a request whose header fields are
/// `request_headers`, received from `source`. `None` when the request has no
/// `Via` (there is nowhere to answer per RFC 3261 18.2.2).
pub fn build_response(
    request_headers: &Headers,
    status: StatusCode,
    extra: &[(HeaderName, String)],
    source: SocketAddr,
) -> Option<Vec<u8>> {
    let mut headers = Headers::new();
    let mut vias = request_headers.values(&HeaderName::VIA);
    let top = vias.next()?;
    headers.push(HeaderName::VIA, top_via(top, source));
    for v in vias {
        headers.push(HeaderName::VIA, v);
    }
    for v in request_headers.get_all(&HeaderName::FROM) {
        headers.push(HeaderName::FROM, v);
    }
    let mut tagged = false;
    for v in request_headers.get_all(&HeaderName::TO) {
        if tagged {
            headers.push(HeaderName::TO, v);
            continue;
        }
        tagged = true;
        match To::parse(v) {
            Ok(to) if to.tag().is_none() => {
                headers.push(
                    HeaderName::TO,
                    format!("{v};tag={}", to_tag(request_headers)),
                );
            }
            _ => headers.push(HeaderName::TO, v),
        }
    }
    for name in [HeaderName::CALL_ID, HeaderName::CSEQ] {
        for v in request_headers.get_all(&name) {
            headers.push(name.clone(), v);
        }
    }
    for (name, value) in extra {
        headers.push(name.clone(), value.as_str());
    }
    let response = Response {
        version: Version::SIP_2_0,
        status,
        reason: status.default_reason().to_owned(),
        headers,
        body: Vec::new(),
    };
    Some(response.to_bytes())
}

/// The top `Via` with `received`/`rport` set for `source`.
fn top_via(raw: &str, source: SocketAddr) -> String {
    stamped_via(raw, source).unwrap_or_else(|| raw.to_owned())
}

/// The top `Via` value `raw` stamped for a request received from `source`
/// (RFC 3261 18.2.1, RFC 3581 4), or `None` when it stays as it is:
/// `received` when the sent-by host differs from the source address or
/// `rport` is present; `rport=<source port>` when `rport` is present. A value
/// that does not parse is kept. Shared by the stateless answers and the
/// engine, which stamps every request before the PBX sees it.
pub(crate) fn stamped_via(raw: &str, source: SocketAddr) -> Option<String> {
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

/// A deterministic To-tag for a stateless answer.
fn to_tag(h: &Headers) -> String {
    let mut hasher = DefaultHasher::new();
    for name in [
        HeaderName::CALL_ID,
        HeaderName::FROM,
        HeaderName::VIA,
        HeaderName::CSEQ,
    ] {
        h.get(&name).hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// What the TEMPORARY fallback UAS answers to a request that passed
/// validation: `None` for `ACK`, 200 for `OPTIONS`, 503 + `Retry-After` for
/// everything else (see the module documentation).
pub fn fallback_answer(
    request: &Request,
    caps: &Capabilities,
    source: SocketAddr,
) -> Option<Vec<u8>> {
    if request.method == Method::ACK {
        return None;
    }
    let (status, extra) = if request.method == Method::OPTIONS {
        let allow = caps
            .allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        (
            StatusCode::OK,
            vec![
                (HeaderName::ALLOW, allow),
                (HeaderName::ACCEPT, "application/sdp".to_owned()),
                (HeaderName::SUPPORTED, caps.supported.join(", ")),
            ],
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            vec![(
                HeaderName::RETRY_AFTER,
                FALLBACK_RETRY_AFTER_SECS.to_string(),
            )],
        )
    };
    build_response(&request.headers, status, &extra, source)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use voip_sip::message::SipMessage;

    use super::*;

    fn request(via: &str, to: &str, method: &str) -> Request {
        let text = format!(
            "{method} sip:a@b SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP second;branch=z9hG4bK2\r\n\
             From: <sip:c@d>;tag=f\r\nTo: {to}\r\nCall-ID: id1\r\nCSeq: 7 {method}\r\n\
             Server: secret/1.0\r\nContent-Length: 0\r\n\r\n"
        );
        match SipMessage::parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!(),
        }
    }

    fn parse(bytes: &[u8]) -> Response {
        match SipMessage::parse(bytes).unwrap() {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => panic!(),
        }
    }

    const SRC: &str = "198.51.100.7:40000";

    #[test]
    fn rport_is_filled_and_received_added_with_source() {
        let r = request(
            "SIP/2.0/UDP host.example;rport;branch=z9hG4bK1",
            "<sip:a@b>",
            "INVITE",
        );
        let out = build_response(
            &r.headers,
            StatusCode::BAD_REQUEST,
            &[],
            SRC.parse().unwrap(),
        );
        let resp = parse(&out.unwrap());
        assert_eq!(resp.status, StatusCode::BAD_REQUEST);
        let vias: Vec<&str> = resp.headers.get_all(&HeaderName::VIA).collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP host.example;branch=z9hG4bK1;received=198.51.100.7;rport=40000",
                "SIP/2.0/UDP second;branch=z9hG4bK2"
            ]
        );
        assert!(!resp.headers.contains(&HeaderName::SERVER));
        assert_eq!(resp.headers.get(&HeaderName::CONTENT_LENGTH), Some("0"));
        assert_eq!(resp.headers.get(&HeaderName::CALL_ID), Some("id1"));
        assert_eq!(resp.headers.get(&HeaderName::CSEQ), Some("7 INVITE"));
        assert_eq!(resp.headers.get(&HeaderName::FROM), Some("<sip:c@d>;tag=f"));
    }

    #[test]
    fn received_only_when_source_differs_and_no_rport() {
        let src: SocketAddr = SRC.parse().unwrap();
        let same = request(
            "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1",
            "<sip:a@b>",
            "BYE",
        );
        let resp = parse(&build_response(&same.headers, StatusCode::OK, &[], src).unwrap());
        assert_eq!(
            resp.headers.get(&HeaderName::VIA),
            Some("SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1")
        );
        let other = request(
            "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;received=1.2.3.4",
            "<sip:a@b>",
            "BYE",
        );
        let resp = parse(&build_response(&other.headers, StatusCode::OK, &[], src).unwrap());
        assert_eq!(
            resp.headers.get(&HeaderName::VIA),
            Some("SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;received=198.51.100.7")
        );
    }

    #[test]
    fn to_tag_is_added_once_and_stable_and_existing_tags_are_kept() {
        let src: SocketAddr = SRC.parse().unwrap();
        let r = request("SIP/2.0/UDP h;branch=z9hG4bK1", "<sip:a@b>", "INVITE");
        let a = parse(&build_response(&r.headers, StatusCode::OK, &[], src).unwrap());
        let b = parse(&build_response(&r.headers, StatusCode::OK, &[], src).unwrap());
        let to = a.headers.get(&HeaderName::TO).unwrap();
        assert!(to.starts_with("<sip:a@b>;tag="), "{to}");
        assert_eq!(Some(to), b.headers.get(&HeaderName::TO));
        let tagged = request("SIP/2.0/UDP h;branch=z9hG4bK1", "<sip:a@b>;tag=x", "INVITE");
        let c = parse(&build_response(&tagged.headers, StatusCode::OK, &[], src).unwrap());
        assert_eq!(c.headers.get(&HeaderName::TO), Some("<sip:a@b>;tag=x"));
    }

    #[test]
    fn no_via_means_no_answer() {
        let mut h = Headers::new();
        h.push(HeaderName::CALL_ID, "x");
        assert!(build_response(&h, StatusCode::BAD_REQUEST, &[], SRC.parse().unwrap()).is_none());
    }

    #[test]
    fn fallback_answers_options_200_others_503_and_never_ack() {
        let caps = Capabilities::default();
        let src: SocketAddr = SRC.parse().unwrap();
        let via = "SIP/2.0/UDP h;branch=z9hG4bK1";
        let ok =
            parse(&fallback_answer(&request(via, "<sip:a@b>", "OPTIONS"), &caps, src).unwrap());
        assert_eq!(ok.status, StatusCode::OK);
        assert!(
            ok.headers
                .get(&HeaderName::ALLOW)
                .unwrap()
                .contains("INVITE")
        );
        assert_eq!(ok.headers.get(&HeaderName::ACCEPT), Some("application/sdp"));
        assert!(
            ok.headers
                .get(&HeaderName::SUPPORTED)
                .unwrap()
                .contains("outbound")
        );
        let busy =
            parse(&fallback_answer(&request(via, "<sip:a@b>", "REGISTER"), &caps, src).unwrap());
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers.get(&HeaderName::RETRY_AFTER), Some("30"));
        assert!(fallback_answer(&request(via, "<sip:a@b>", "ACK"), &caps, src).is_none());
    }

    #[test]
    fn cseq_ack_detection() {
        let r = request("SIP/2.0/UDP h;branch=z9hG4bK1", "<sip:a@b>", "ACK");
        assert!(cseq_says_ack(&r.headers));
        let r = request("SIP/2.0/UDP h;branch=z9hG4bK1", "<sip:a@b>", "BYE");
        assert!(!cseq_says_ack(&r.headers));
    }
}

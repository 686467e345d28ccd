//! Building responses to a REGISTER: Via stamping (RFC 3581), To-tag, Date.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::header::{TypedHeader, Via};
use crate::message::{HeaderName, Headers, Request, Response, StatusCode, Version};
use crate::uri::{Host, Param};

/// Label mixed into the To-tag MAC so the key can be shared.
const TAG_LABEL: &[u8] = b"voip-sip registrar to-tag v1\0";

/// Sets `received` and `rport` on a Via value for a request from `source`.
///
/// RFC 3261 §18.2.1: `received` when the sent-by host is not the source IP.
/// RFC 3581 §4: with an empty `rport`, fill it with the source port and
/// always add `received`.
pub fn stamp_via(via: &mut Via, source: SocketAddr) {
    let ip = source.ip().to_canonical();
    let wants_rport = via.param("rport").is_some();
    let sent_by_is_source = match &via.host {
        Host::Ipv4(a) => IpAddr::V4(*a) == ip,
        Host::Ipv6(a) => IpAddr::V6(*a).to_canonical() == ip,
        Host::Domain(_) => false,
    };
    if wants_rport || !sent_by_is_source {
        set_param(&mut via.params, "received", Some(ip.to_string()));
    }
    if wants_rport {
        set_param(&mut via.params, "rport", Some(source.port().to_string()));
    }
}

fn set_param(params: &mut Vec<Param>, name: &str, value: Option<String>) {
    if let Some(p) = params
        .iter_mut()
        .find(|p| p.name.eq_ignore_ascii_case(name))
    {
        p.value = value;
    } else {
        params.push(Param {
            name: name.to_owned(),
            value,
        });
    }
}

/// A To-tag derived from the request (`Call-ID`, `From`, `CSeq`), so a
/// retransmitted request that reaches the core gets the same tag.
fn to_tag(key: &[u8; 32], req: &Request) -> String {
    // Zero-padded to the block size: equals HMAC keyed with the 32 bytes.
    let mut padded = [0u8; 64];
    padded[..32].copy_from_slice(key);
    let mut mac = Hmac::<Sha256>::new(&padded.into());
    mac.update(TAG_LABEL);
    for name in [HeaderName::CALL_ID, HeaderName::FROM, HeaderName::CSEQ] {
        mac.update(req.headers.get(&name).unwrap_or_default().as_bytes());
        mac.update(b"\0");
    }
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(16);
    for b in &tag[..8] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A response to `req` with `status`: Via values copied (the top one
/// stamped per [`stamp_via`]), From, To (with a To-tag added when absent),
/// `Call-ID` and `CSeq` copied. No `Server` header. `Content-Length: 0` last;
/// callers insert further headers before it with [`push_before_length`].
pub fn base_response(
    req: &Request,
    status: StatusCode,
    source: SocketAddr,
    tag_key: &[u8; 32],
) -> Response {
    let mut headers = Headers::new();
    for (i, value) in req.headers.values(&HeaderName::VIA).enumerate() {
        match Via::parse(value) {
            Ok(mut via) if i == 0 => {
                stamp_via(&mut via, source);
                headers.push(HeaderName::VIA, via.to_string());
            }
            _ => headers.push(HeaderName::VIA, value),
        }
    }
    if let Some(from) = req.headers.get(&HeaderName::FROM) {
        headers.push(HeaderName::FROM, from);
    }
    if let Some(to) = req.headers.get(&HeaderName::TO) {
        let has_tag = crate::header::To::parse(to).is_ok_and(|t| t.tag().is_some());
        if has_tag {
            headers.push(HeaderName::TO, to);
        } else {
            headers.push(HeaderName::TO, format!("{to};tag={}", to_tag(tag_key, req)));
        }
    }
    for name in [HeaderName::CALL_ID, HeaderName::CSEQ] {
        if let Some(v) = req.headers.get(&name) {
            headers.push(name, v);
        }
    }
    headers.push(HeaderName::CONTENT_LENGTH, "0");
    Response {
        version: Version::SIP_2_0,
        status,
        reason: status.default_reason().to_owned(),
        headers,
        body: Vec::new(),
    }
}

/// Appends a header field; `Content-Length` stays last.
pub fn push_before_length(resp: &mut Response, name: HeaderName, value: impl Into<String>) {
    resp.headers.remove(&HeaderName::CONTENT_LENGTH);
    resp.headers.push(name, value);
    resp.headers.push(HeaderName::CONTENT_LENGTH, "0");
}

/// RFC 1123 date in GMT (`Sun, 09 Sep 2001 01:46:40 GMT`), the only form
/// RFC 3261 §20.17 allows.
pub fn http_date(unix: Duration) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4) % 7) as usize];
    // Howard Hinnant's civil_from_days, for non-negative day counts.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_matches_known_instants() {
        assert_eq!(http_date(Duration::ZERO), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(Duration::from_secs(1_000_000_000)),
            "Sun, 09 Sep 2001 01:46:40 GMT"
        );
        assert_eq!(
            http_date(Duration::from_secs(1_709_164_801)),
            "Thu, 29 Feb 2024 00:00:01 GMT"
        );
    }

    #[test]
    fn via_stamping_follows_rfc3261_and_rfc3581() {
        let src: SocketAddr = "203.0.113.5:40001".parse().unwrap();
        let cases = [
            // rport requested: both filled even when sent-by equals the source IP.
            (
                "SIP/2.0/UDP 203.0.113.5:5060;rport;branch=z9hG4bK1",
                "SIP/2.0/UDP 203.0.113.5:5060;rport=40001;branch=z9hG4bK1;received=203.0.113.5",
            ),
            // No rport, private sent-by: received only.
            (
                "SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK1",
                "SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK1;received=203.0.113.5",
            ),
            // No rport, sent-by equals the source: untouched.
            (
                "SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1",
                "SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1",
            ),
            // Domain sent-by: received.
            (
                "SIP/2.0/TCP phone.example.com;branch=z9hG4bK1",
                "SIP/2.0/TCP phone.example.com;branch=z9hG4bK1;received=203.0.113.5",
            ),
        ];
        for (input, expected) in cases {
            let mut v = Via::parse(input).unwrap();
            stamp_via(&mut v, src);
            assert_eq!(v.to_string(), expected, "{input}");
        }
    }
}

//! Builders for the messages the transaction layer itself generates: responses
//! (100 Trying, stateless rejections), the ACK for a non-2xx final response
//! (RFC 3261 17.1.1.3) and CANCEL (RFC 3261 9.1).

use crate::message::{HeaderName, Headers, Method, Request, Response, StatusCode, Version};

/// A response to `request` (RFC 3261 8.2.6): copies every Via (in order),
/// From, To, Call-ID and `CSeq`; adds `;tag=<to_tag>` to To when given and the
/// request's To has no tag; copies Timestamp into a 100 (8.2.6.1).
pub fn response_to(request: &Request, status: StatusCode, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::new();
    for v in request.headers.get_all(&HeaderName::VIA) {
        headers.push(HeaderName::VIA, v);
    }
    for name in [
        HeaderName::FROM,
        HeaderName::TO,
        HeaderName::CALL_ID,
        HeaderName::CSEQ,
    ] {
        if let Some(v) = request.headers.get(&name) {
            let value = match to_tag {
                Some(tag) if name == HeaderName::TO && !has_tag(v) => format!("{v};tag={tag}"),
                _ => v.to_owned(),
            };
            headers.push(name, value);
        }
    }
    if let (true, Some(ts)) = (
        status == StatusCode::TRYING,
        request.headers.get(&HeaderName::TIMESTAMP),
    ) {
        headers.push(HeaderName::TIMESTAMP, ts);
    }
    Response {
        version: Version::SIP_2_0,
        status,
        reason: status.default_reason().to_owned(),
        headers,
        body: Vec::new(),
    }
}

/// Whether a To/From value carries a `tag` parameter (outside the `<>` URI).
pub(crate) fn has_tag(value: &str) -> bool {
    let params = value.rsplit_once('>').map_or(value, |(_, p)| p);
    params
        .split(';')
        .skip(usize::from(!value.contains('>')))
        .any(|p| {
            p.trim()
                .split_once('=')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("tag"))
        })
}

/// Headers shared by ACK-for-non-2xx and CANCEL: Request-URI, the top Via
/// only, Max-Forwards, From, To, Call-ID, `CSeq` with `method`, and Route.
fn hop_request(invite: &Request, method: Method, to: Option<&str>) -> Request {
    let mut headers = Headers::new();
    if let Some(top) = invite.headers.values(&HeaderName::VIA).next() {
        headers.push(HeaderName::VIA, top);
    }
    headers.push(HeaderName::MAX_FORWARDS, "70");
    if let Some(v) = invite.headers.get(&HeaderName::FROM) {
        headers.push(HeaderName::FROM, v);
    }
    if let Some(v) = to.or_else(|| invite.headers.get(&HeaderName::TO)) {
        headers.push(HeaderName::TO, v);
    }
    if let Some(v) = invite.headers.get(&HeaderName::CALL_ID) {
        headers.push(HeaderName::CALL_ID, v);
    }
    let seq = crate::transaction::key::cseq_of(&invite.headers).map_or(0, |c| c.seq);
    headers.push(HeaderName::CSEQ, format!("{seq} {method}"));
    for r in invite.headers.get_all(&HeaderName::ROUTE) {
        headers.push(HeaderName::ROUTE, r);
    }
    Request {
        method,
        uri: invite.uri.clone(),
        version: Version::SIP_2_0,
        headers,
        body: Vec::new(),
    }
}

/// The ACK a client INVITE transaction sends for a 3xx–6xx response (RFC 3261
/// 17.1.1.3): same Request-URI, Call-ID, From, `CSeq` number and top Via as the
/// INVITE, To from the response (with its tag), Route copied.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    hop_request(invite, Method::ACK, response.headers.get(&HeaderName::TO))
}

/// A CANCEL for `invite` (RFC 3261 9.1): same Request-URI, Call-ID, From, To,
/// `CSeq` number, top Via (so the same branch) and Route.
pub fn cancel_for(invite: &Request) -> Request {
    hop_request(invite, Method::CANCEL, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_detection_ignores_uri_parameters() {
        assert!(has_tag("<sip:a@b>;tag=1"));
        assert!(has_tag("sip:a@b;TAG=1"));
        assert!(!has_tag("<sip:a@b;tag=1>"));
        assert!(!has_tag("<sip:a@b>;tagx=1"));
        assert!(!has_tag("sip:a@b"));
    }
}

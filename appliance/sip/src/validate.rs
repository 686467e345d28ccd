//! Request and response validation before the transaction layer: what a UAS
//! or registrar core must do with a message (or with a parse error).
//!
//! Order of request checks (RFC 3261 8.2): version (505) → well-formedness of
//! the mandatory and single-value headers (400) → method support (501 with
//! `Allow`) → `CSeq` method consistency (400) → Request-URI scheme (416) →
//! registrar AOR scheme (400) → `Require` option tags (420 with `Unsupported`).
//! Checks that need the UAS core's state or content knowledge are left to it
//! and documented there: 415 (Content-Type), 406 (Accept), 401/407 (auth),
//! 483 (Max-Forwards is only a proxy concern; this element is an endpoint).
//!
//! Decisions:
//! - A missing `Max-Forwards` is tolerated (RFC 2543 clients, RFC 4475 3.4.1);
//!   a present one must be digits (values above 255 saturate).
//! - `Proxy-Require` is syntax-checked but not enforced: we are a UAS/B2BUA,
//!   and RFC 3261 8.2.2.3 only makes `Require` binding on a UAS.
//! - Unknown methods are answered with 501 here ([`Reaction::Reject`] with an
//!   `Allow` header built from [`Capabilities::allow`]), not left to the core.
//! - Responses that are malformed, not `SIP/2.0`, or carry other than exactly
//!   one Via value (RFC 3261 8.1.3.3) are dropped silently.

use crate::header::{
    CSeq, CallId, Contact, From, HeaderError, MaxForwards, ProxyRequire, Require, To, TypedHeader,
    Via,
};
use crate::message::{
    HeaderName, Headers, Malformed, MessageKind, Method, ParseError, Request, Response, SipMessage,
    StatusCode, Version,
};
use crate::uri::Uri;

/// The methods the appliance really handles: the registrar takes REGISTER,
/// the PBX answers OPTIONS, and the B2BUA handles INVITE/ACK/CANCEL/BYE and
/// relays UPDATE and INFO in dialog. No PRACK (provisionals are unreliable),
/// REFER, NOTIFY, SUBSCRIBE, MESSAGE or PUBLISH. Every `Allow` the appliance
/// sends is [`ALLOW`], this list joined.
pub const ALLOWED_METHODS: &[Method] = &[
    Method::INVITE,
    Method::ACK,
    Method::BYE,
    Method::CANCEL,
    Method::OPTIONS,
    Method::REGISTER,
    Method::UPDATE,
    Method::INFO,
];

/// The `Allow` header value of the appliance: [`ALLOWED_METHODS`] joined
/// with `", "` (a unit test keeps the two equal).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, INFO";

/// What this element supports; drives 501 and 420 answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Methods the UAS core implements (sent in `Allow` with a 501).
    pub allow: Vec<Method>,
    /// Option tags this element supports (anything else in `Require` gets 420).
    pub supported: Vec<String>,
    /// Whether REGISTER is handled as a registrar (To must then be a SIP/SIPS AOR).
    pub registrar: bool,
}

impl Default for Capabilities {
    /// The appliance profile: registrar + B2BUA.
    fn default() -> Self {
        Capabilities {
            allow: ALLOWED_METHODS.to_vec(),
            // Not 100rel: the B2BUA sends provisional responses unreliably
            // (no PRACK, RFC 3262), so `Require: 100rel` gets 420.
            supported: ["timer", "replaces", "path", "outbound"]
                .map(String::from)
                .to_vec(),
            registrar: true,
        }
    }
}

/// Why a request is rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectCause {
    /// The request is malformed.
    Malformed(Malformed),
    /// Protocol version other than SIP/2.0.
    VersionNotSupported,
    /// The method is not in [`Capabilities::allow`].
    MethodNotImplemented,
    /// Request-URI scheme other than sip, sips or tel.
    UnsupportedUriScheme,
    /// REGISTER whose To is not a SIP or SIPS URI (RFC 3261 10.3 step 5).
    InvalidAddressOfRecord,
    /// `Require` lists option tags we do not support.
    BadExtension {
        /// The unsupported tags, in order of appearance.
        tags: Vec<String>,
    },
}

impl RejectCause {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            RejectCause::Malformed(m) => m.status(),
            RejectCause::VersionNotSupported => StatusCode::VERSION_NOT_SUPPORTED,
            RejectCause::MethodNotImplemented => StatusCode::NOT_IMPLEMENTED,
            RejectCause::UnsupportedUriScheme => StatusCode::UNSUPPORTED_URI_SCHEME,
            RejectCause::InvalidAddressOfRecord => StatusCode::BAD_REQUEST,
            RejectCause::BadExtension { .. } => StatusCode::BAD_EXTENSION,
        }
    }
}

/// A rejection: the status, its cause and the extra headers the answer must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Status to answer with.
    pub status: StatusCode,
    /// Why.
    pub cause: RejectCause,
    /// Extra header fields for the answer (`Allow` for 501, `Unsupported` for 420).
    pub headers: Vec<(HeaderName, String)>,
}

/// Why a message is silently discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A response that is malformed (including status codes outside 100..=699).
    MalformedResponse(Malformed),
    /// A response with a version other than SIP/2.0.
    UnsupportedVersion,
    /// A response with zero or several Via values (RFC 3261 8.1.3.3).
    ViaCount,
}

/// What the core must do with a message before the transaction layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Hand it on (requests: to the transaction layer / UAS core; responses: to client transactions).
    Process,
    /// Answer a request statelessly with this status and headers.
    Reject(Rejection),
    /// Discard silently.
    Drop(DropReason),
}

impl Reaction {
    fn reject(cause: RejectCause) -> Reaction {
        Reaction::Reject(Rejection {
            status: cause.status(),
            cause,
            headers: Vec::new(),
        })
    }

    /// The status of a rejection, if this is one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Reaction::Reject(r) => Some(r.status),
            _ => None,
        }
    }
}

/// Reaction to a message that failed to parse: requests are rejected with the
/// status of their [`Malformed`] kind, responses are dropped.
pub fn react_to_parse_error(err: &ParseError) -> Reaction {
    match err.kind {
        MessageKind::Response => Reaction::Drop(DropReason::MalformedResponse(err.malformed)),
        MessageKind::Request => Reaction::reject(RejectCause::Malformed(err.malformed)),
    }
}

/// Validates a parsed message.
pub fn validate_message(msg: &SipMessage, caps: &Capabilities) -> Reaction {
    match msg {
        SipMessage::Request(r) => validate_request(r, caps),
        SipMessage::Response(r) => validate_response(r),
    }
}

/// Convenience: validates the result of [`SipMessage::parse`].
pub fn validate_parsed(parsed: &Result<SipMessage, ParseError>, caps: &Capabilities) -> Reaction {
    match parsed {
        Ok(m) => validate_message(m, caps),
        Err(e) => react_to_parse_error(e),
    }
}

const SINGLE: &[(HeaderName, &str)] = &[
    (HeaderName::TO, "To"),
    (HeaderName::FROM, "From"),
    (HeaderName::CALL_ID, "Call-ID"),
    (HeaderName::CSEQ, "CSeq"),
    (HeaderName::MAX_FORWARDS, "Max-Forwards"),
    (HeaderName::CONTENT_TYPE, "Content-Type"),
    (HeaderName::CONTENT_LENGTH, "Content-Length"),
];

fn bad(e: HeaderError) -> Malformed {
    Malformed::BadHeaderValue { name: e.header() }
}

fn required<T: TypedHeader>(h: &Headers) -> Result<T, Malformed> {
    match h.typed::<T>() {
        None => Err(Malformed::MissingHeader { name: T::NAME_STR }),
        Some(r) => r.map_err(bad),
    }
}

/// Checks the headers every request and response needs; returns the `CSeq`.
fn check_common(h: &Headers) -> Result<CSeq, Malformed> {
    for (name, s) in SINGLE {
        if h.count(name) > 1 {
            return Err(Malformed::DuplicateHeader { name: s });
        }
    }
    let mut vias = 0usize;
    for v in h.typed_all::<Via>() {
        v.map_err(bad)?;
        vias += 1;
    }
    if vias == 0 {
        return Err(Malformed::MissingHeader { name: "Via" });
    }
    required::<From>(h)?;
    required::<To>(h)?;
    required::<CallId>(h)?;
    let cseq = required::<CSeq>(h)?;
    Ok(cseq)
}

/// Validates a request (see the module documentation for the order of checks).
pub fn validate_request(req: &Request, caps: &Capabilities) -> Reaction {
    if req.version != Version::SIP_2_0 {
        return Reaction::reject(RejectCause::VersionNotSupported);
    }
    let h = &req.headers;
    let cseq = match check_request_headers(req) {
        Ok(c) => c,
        Err(m) => return Reaction::reject(RejectCause::Malformed(m)),
    };
    if !caps.allow.contains(&req.method) {
        let allow = caps
            .allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        return Reaction::Reject(Rejection {
            status: StatusCode::NOT_IMPLEMENTED,
            cause: RejectCause::MethodNotImplemented,
            headers: vec![(HeaderName::ALLOW, allow)],
        });
    }
    if cseq.method != req.method {
        return Reaction::reject(RejectCause::Malformed(Malformed::CSeqMethodMismatch));
    }
    if !matches!(req.uri, Uri::Sip(_) | Uri::Tel(_)) {
        return Reaction::reject(RejectCause::UnsupportedUriScheme);
    }
    if caps.registrar && req.method == Method::REGISTER {
        let aor_ok = matches!(h.typed::<To>(), Some(Ok(to)) if matches!(to.uri, Uri::Sip(_)));
        if !aor_ok {
            return Reaction::reject(RejectCause::InvalidAddressOfRecord);
        }
    }
    if req.method != Method::ACK && req.method != Method::CANCEL {
        let mut unsupported: Vec<String> = Vec::new();
        for tag in h.typed_all::<Require>().flatten() {
            if !caps
                .supported
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&tag.0))
                && !unsupported.contains(&tag.0)
            {
                unsupported.push(tag.0);
            }
        }
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            return Reaction::Reject(Rejection {
                status: StatusCode::BAD_EXTENSION,
                cause: RejectCause::BadExtension { tags: unsupported },
                headers: vec![(HeaderName::UNSUPPORTED, list)],
            });
        }
    }
    Reaction::Process
}

fn check_request_headers(req: &Request) -> Result<CSeq, Malformed> {
    let h = &req.headers;
    let cseq = check_common(h)?;
    if let Some(mf) = h.typed::<MaxForwards>() {
        mf.map_err(bad)?;
    }
    for c in h.typed_all::<Contact>() {
        c.map_err(bad)?;
    }
    for r in h.typed_all::<Require>() {
        r.map_err(bad)?;
    }
    for r in h.typed_all::<ProxyRequire>() {
        r.map_err(bad)?;
    }
    if let Uri::Sip(u) = &req.uri
        && !u.headers.is_empty()
    {
        return Err(Malformed::RequestUriHeaders);
    }
    Ok(cseq)
}

/// Validates a response: malformed, non-2.0 or Via-count violations are dropped.
pub fn validate_response(resp: &Response) -> Reaction {
    if resp.version != Version::SIP_2_0 {
        return Reaction::Drop(DropReason::UnsupportedVersion);
    }
    if let Err(m) = check_common(&resp.headers) {
        return Reaction::Drop(DropReason::MalformedResponse(m));
    }
    if resp.headers.values(&HeaderName::VIA).count() != 1 {
        return Reaction::Drop(DropReason::ViaCount);
    }
    Reaction::Process
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(start: &str, extra: &str) -> SipMessage {
        let text = format!(
            "{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\
             Call-ID: x@y\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        SipMessage::parse(text.as_bytes()).unwrap()
    }

    fn react(start: &str, extra: &str) -> Reaction {
        validate_message(&msg(start, extra), &Capabilities::default())
    }

    #[test]
    fn allow_constant_is_exactly_the_handled_methods() {
        let joined = ALLOWED_METHODS
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(joined, ALLOW);
        for unhandled in [
            Method::PRACK,
            Method::REFER,
            Method::NOTIFY,
            Method::SUBSCRIBE,
            Method::MESSAGE,
            Method::PUBLISH,
        ] {
            assert!(!ALLOWED_METHODS.contains(&unhandled), "{unhandled}");
        }
        assert_eq!(Capabilities::default().allow, ALLOWED_METHODS);
    }

    #[test]
    fn unimplemented_methods_get_501_with_the_appliance_allow() {
        for start in [
            "PRACK sip:c@d SIP/2.0",
            "REFER sip:c@d SIP/2.0",
            "NOTIFY sip:c@d SIP/2.0",
            "MESSAGE sip:c@d SIP/2.0",
        ] {
            let method = start.split(' ').next().unwrap_or_default();
            let Reaction::Reject(rej) = react(start, &format!("CSeq: 1 {method}\r\n")) else {
                panic!("{start} not rejected");
            };
            assert_eq!(rej.status, StatusCode::NOT_IMPLEMENTED);
            assert_eq!(rej.headers, vec![(HeaderName::ALLOW, ALLOW.to_owned())]);
        }
    }

    #[test]
    fn well_formed_requests_are_processed_even_without_max_forwards() {
        assert_eq!(
            react("OPTIONS sip:c@d SIP/2.0", "CSeq: 1 OPTIONS\r\n"),
            Reaction::Process
        );
        assert_eq!(
            react(
                "INVITE tel:+31201234567 SIP/2.0",
                "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            ),
            Reaction::Process
        );
    }

    #[test]
    fn require_is_not_enforced_on_ack_and_cancel() {
        let extra = "CSeq: 1 ACK\r\nRequire: foo\r\n";
        assert_eq!(react("ACK sip:c@d SIP/2.0", extra), Reaction::Process);
        let extra = "CSeq: 1 OPTIONS\r\nRequire: foo, 100rel, foo\r\n";
        let Reaction::Reject(r) = react("OPTIONS sip:c@d SIP/2.0", extra) else {
            panic!()
        };
        assert_eq!(
            r.cause,
            RejectCause::BadExtension {
                tags: vec!["foo".into(), "100rel".into()]
            }
        );
    }

    #[test]
    fn invite_requiring_100rel_gets_420_naming_it_unsupported() {
        let extra = "CSeq: 1 INVITE\r\nSupported: timer\r\nRequire: 100rel\r\n";
        let Reaction::Reject(r) = react("INVITE sip:c@d SIP/2.0", extra) else {
            panic!("expected a rejection")
        };
        assert_eq!(r.status, StatusCode::BAD_EXTENSION);
        assert_eq!(
            r.cause,
            RejectCause::BadExtension {
                tags: vec!["100rel".into()]
            }
        );
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| *n == HeaderName::UNSUPPORTED && v == "100rel"),
            "{:?}",
            r.headers
        );
        // Merely supporting 100rel is fine.
        let extra = "CSeq: 1 INVITE\r\nSupported: 100rel, timer\r\n";
        assert_eq!(react("INVITE sip:c@d SIP/2.0", extra), Reaction::Process);
    }

    #[test]
    fn unknown_method_gets_501_before_cseq_mismatch_and_known_mismatch_gets_400() {
        assert_eq!(
            react("FOO sip:c@d SIP/2.0", "CSeq: 1 INVITE\r\n").status(),
            Some(StatusCode::NOT_IMPLEMENTED)
        );
        assert_eq!(
            react("BYE sip:c@d SIP/2.0", "CSeq: 1 INVITE\r\n").status(),
            Some(StatusCode::BAD_REQUEST)
        );
        let caps = Capabilities {
            allow: vec![Method::new("FOO").unwrap()],
            ..Capabilities::default()
        };
        assert_eq!(
            validate_message(&msg("FOO sip:c@d SIP/2.0", "CSeq: 1 FOO\r\n"), &caps),
            Reaction::Process
        );
    }

    #[test]
    fn responses_need_exactly_one_via_and_valid_headers() {
        assert_eq!(
            react("SIP/2.0 200 OK", "CSeq: 1 INVITE\r\n"),
            Reaction::Process
        );
        assert_eq!(
            react(
                "SIP/2.0 200 OK",
                "CSeq: 1 INVITE\r\nVia: SIP/2.0/UDP other\r\n"
            ),
            Reaction::Drop(DropReason::ViaCount)
        );
        assert_eq!(
            react("SIP/2.0 200 OK", "CSeq: x INVITE\r\n"),
            Reaction::Drop(DropReason::MalformedResponse(Malformed::BadHeaderValue {
                name: "CSeq"
            }))
        );
        assert_eq!(
            react("SIP/3.0 200 OK", "CSeq: 1 INVITE\r\n"),
            Reaction::Drop(DropReason::UnsupportedVersion)
        );
    }

    #[test]
    fn every_malformed_kind_maps_to_a_4xx_or_5xx() {
        for m in [
            Malformed::BadRequestLine,
            Malformed::HeadTooLarge,
            Malformed::BodyTooLarge,
            Malformed::CSeqMethodMismatch,
        ] {
            let s = m.status().as_u16();
            assert!((400..600).contains(&s), "{m:?}");
        }
        assert_eq!(
            Malformed::HeadTooLarge.status(),
            StatusCode::MESSAGE_TOO_LARGE
        );
    }
}

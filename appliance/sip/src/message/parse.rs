//! Header-section parser: start line plus unfolded header fields.

use memchr::{memchr, memchr_iter};

use super::{HeaderName, Headers, Method, StatusCode, Version};
use crate::header::scan::is_wsp;
use crate::message::StatusCode as Sc;
use crate::uri::Uri;

/// Whether a (possibly broken) message was a request or a response, judged by
/// its start line (`SIP/` prefix means response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Start line did not begin with `SIP/`.
    Request,
    /// Start line began with `SIP/`.
    Response,
}

/// What is wrong with a message: peer misbehaviour as data. Each kind maps to
/// the status a UAS answers a request with ([`Malformed::status`]); malformed
/// responses are always dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Start line or header section is not valid UTF-8.
    #[error("message head is not valid UTF-8")]
    NotUtf8,
    /// Request line is not `Method SP Request-URI SP SIP-Version` (extra or trailing SP included).
    #[error("malformed request line")]
    BadRequestLine,
    /// Method is not a token.
    #[error("malformed method")]
    BadMethod,
    /// Request-URI does not parse (e.g. enclosed in `<>`).
    #[error("malformed Request-URI")]
    BadRequestUri,
    /// Request-URI carries a `?headers` component.
    #[error("Request-URI carries escaped headers")]
    RequestUriHeaders,
    /// Status line malformed.
    #[error("malformed status line")]
    BadStatusLine,
    /// Status code not three digits in 100..=699.
    #[error("status code out of range")]
    BadStatusCode,
    /// Version is not `SIP/<n>.<n>`.
    #[error("malformed protocol version")]
    BadVersion,
    /// Header line without colon, invalid name, bare CR/LF, or continuation without field.
    #[error("malformed header line")]
    BadHeaderLine,
    /// No empty line ends the header section.
    #[error("header section not terminated by an empty line")]
    UnterminatedHead,
    /// Header section exceeds the configured limit.
    #[error("header section too large")]
    HeadTooLarge,
    /// Body exceeds the configured limit.
    #[error("body too large")]
    BodyTooLarge,
    /// Content-Length not a non-negative decimal that fits in usize.
    #[error("malformed Content-Length")]
    BadContentLength,
    /// More than one Content-Length field.
    #[error("multiple Content-Length values")]
    MultipleContentLength,
    /// Stream message without Content-Length.
    #[error("Content-Length missing on a stream transport")]
    MissingContentLength,
    /// Content-Length larger than the datagram's remaining octets.
    #[error("Content-Length exceeds the datagram")]
    ContentLengthExceedsDatagram,
    /// A mandatory header is absent.
    #[error("missing mandatory header {name}")]
    MissingHeader {
        /// Canonical header name.
        name: &'static str,
    },
    /// A single-valued header appears more than once.
    #[error("multiple values in single-value header {name}")]
    DuplicateHeader {
        /// Canonical header name.
        name: &'static str,
    },
    /// A header value fails its grammar (or a number overflows).
    #[error("malformed {name} header value")]
    BadHeaderValue {
        /// Canonical header name.
        name: &'static str,
    },
    /// CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
}

impl Malformed {
    /// The status a UAS answers a malformed request with.
    pub fn status(self) -> StatusCode {
        match self {
            Malformed::HeadTooLarge => Sc::MESSAGE_TOO_LARGE,
            Malformed::BodyTooLarge => Sc::REQUEST_ENTITY_TOO_LARGE,
            _ => Sc::BAD_REQUEST,
        }
    }

    /// Whether, on a stream transport, the connection must be closed because
    /// message boundaries can no longer be trusted.
    pub fn breaks_framing(self) -> bool {
        matches!(
            self,
            Malformed::NotUtf8
                | Malformed::BadHeaderLine
                | Malformed::HeadTooLarge
                | Malformed::BodyTooLarge
                | Malformed::BadContentLength
                | Malformed::MultipleContentLength
                | Malformed::MissingContentLength
        )
    }
}

impl From<Malformed> for StatusCode {
    fn from(m: Malformed) -> StatusCode {
        m.status()
    }
}

/// A message that could not be parsed. Carries the header fields read so far
/// (when the header section was readable) so that a stateless 400 can echo
/// Via, From, To, Call-ID and CSeq.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{malformed}")]
pub struct ParseError {
    /// What was wrong.
    pub malformed: Malformed,
    /// Request or response, by the start line.
    pub kind: MessageKind,
    /// Header fields read before/despite the error.
    pub headers: Option<Headers>,
}

impl ParseError {
    pub(crate) fn new(malformed: Malformed, kind: MessageKind, headers: Option<Headers>) -> Self {
        ParseError {
            malformed,
            kind,
            headers,
        }
    }
}

/// The parsed start line.
#[derive(Clone, Debug)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        uri: Uri,
        version: Version,
    },
    Response {
        version: Version,
        status: StatusCode,
        reason: String,
    },
}

/// Kind of a message by its first bytes.
pub(crate) fn kind_of(head: &[u8]) -> MessageKind {
    if head.len() >= 4 && head[..4].eq_ignore_ascii_case(b"SIP/") {
        MessageKind::Response
    } else {
        MessageKind::Request
    }
}

/// Parses a header section: `head` is everything before the empty line (the
/// final CRLF of the last header line excluded).
pub(crate) fn parse_head(head: &[u8]) -> Result<(StartLine, Headers), ParseError> {
    let kind = kind_of(head);
    let Ok(text) = std::str::from_utf8(head) else {
        return Err(ParseError::new(Malformed::NotUtf8, kind, None));
    };
    let (start, rest) = match memchr(b'\n', head) {
        Some(i) => {
            if i == 0 || head[i - 1] != b'\r' {
                return Err(ParseError::new(Malformed::BadHeaderLine, kind, None));
            }
            (&text[..i - 1], Some(&text[i + 1..]))
        }
        None => (text, None),
    };
    let headers = match rest {
        Some(r) => parse_header_lines(r)
            .map_err(|partial| ParseError::new(Malformed::BadHeaderLine, kind, Some(partial)))?,
        None => Headers::new(),
    };
    if memchr(b'\r', start.as_bytes()).is_some() {
        return Err(ParseError::new(
            Malformed::BadHeaderLine,
            kind,
            Some(headers),
        ));
    }
    let line = match kind {
        MessageKind::Response => parse_status_line(start),
        MessageKind::Request => parse_request_line(start),
    };
    match line {
        Ok(line) => Ok((line, headers)),
        Err(m) => Err(ParseError::new(m, kind, Some(headers))),
    }
}

fn parse_request_line(line: &str) -> Result<StartLine, Malformed> {
    let mut parts = line.splitn(3, ' ');
    let (Some(m), Some(u), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Malformed::BadRequestLine);
    };
    if u.is_empty() || v.contains(' ') || v.contains('\t') || u.contains('\t') {
        return Err(Malformed::BadRequestLine);
    }
    let method = Method::new(m).map_err(|_| Malformed::BadMethod)?;
    let version = Version::parse(v).ok_or(Malformed::BadVersion)?;
    let uri = Uri::parse(u).map_err(|_| Malformed::BadRequestUri)?;
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

fn parse_status_line(line: &str) -> Result<StartLine, Malformed> {
    let (v, rest) = line.split_once(' ').ok_or(Malformed::BadStatusLine)?;
    let version = Version::parse(v).ok_or(Malformed::BadVersion)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = StatusCode::parse(code.as_bytes()).map_err(|_| Malformed::BadStatusCode)?;
    Ok(StartLine::Response {
        version,
        status,
        reason: reason.to_owned(),
    })
}

fn trim_wsp(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t')
}

/// Parses CRLF-separated header lines, unfolding continuation lines. On error
/// returns the fields read so far.
fn parse_header_lines(text: &str) -> Result<Headers, Headers> {
    let bytes = text.as_bytes();
    let mut headers = Headers::new();
    let mut current: Option<(HeaderName, String)> = None;
    let mut start = 0usize;
    let mut ends = memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    loop {
        let Some(nl) = ends.next() else { break };
        let line_end = if nl < bytes.len() {
            if nl == 0 || bytes[nl - 1] != b'\r' {
                return Err(finish(headers, current));
            }
            nl - 1
        } else {
            nl
        };
        if start > line_end {
            break;
        }
        let line = &text[start..line_end];
        start = nl + 1;
        if memchr(b'\r', line.as_bytes()).is_some() {
            return Err(finish(headers, current));
        }
        if line.as_bytes().first().copied().is_some_and(is_wsp) {
            // Continuation (RFC 3261 7.3.1: LWS with CRLF is equivalent to SP).
            let Some((_, value)) = current.as_mut() else {
                return Err(headers);
            };
            let more = trim_wsp(line);
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            continue;
        }
        if let Some((n, v)) = current.take() {
            headers.push(n, v);
        }
        let Some(colon) = memchr(b':', line.as_bytes()) else {
            return Err(headers);
        };
        let Ok(name) = HeaderName::new(trim_wsp(&line[..colon])) else {
            return Err(headers);
        };
        if line
            .as_bytes()
            .first()
            .is_some_and(|b| !crate::header::scan::is_token(*b))
        {
            return Err(headers);
        }
        current = Some((name, trim_wsp(&line[colon + 1..]).to_owned()));
        if nl >= bytes.len() {
            break;
        }
    }
    if let Some((n, v)) = current {
        headers.push(n, v);
    }
    Ok(headers)
}

fn finish(mut headers: Headers, current: Option<(HeaderName, String)>) -> Headers {
    if let Some((n, v)) = current {
        headers.push(n, v);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_unfold_to_single_space() {
        let h = parse_header_lines(
            "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\ns :\r\nX: a\r\n\tb",
        )
        .unwrap();
        assert_eq!(
            h.get(&HeaderName::VIA),
            Some("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
        );
        assert_eq!(h.get(&HeaderName::SUBJECT), Some(""));
        assert_eq!(h.get(&HeaderName::new("x").unwrap()), Some("a b"));
    }

    #[test]
    fn lines_without_colon_or_with_bare_lf_are_errors() {
        assert!(parse_header_lines("Via SIP/2.0/UDP a").is_err());
        assert!(parse_header_lines("Via: a\nTo: b").is_err());
        assert!(parse_header_lines(" continuation first").is_err());
    }

    #[test]
    fn request_line_requires_single_spaces() {
        assert!(parse_request_line("INVITE sip:a@b SIP/2.0").is_ok());
        assert_eq!(
            parse_request_line("INVITE  sip:a@b  SIP/2.0").err(),
            Some(Malformed::BadRequestLine)
        );
        assert_eq!(
            parse_request_line("INVITE sip:a@b SIP/2.0  ").err(),
            Some(Malformed::BadRequestLine)
        );
        assert_eq!(
            parse_request_line("INVITE sip:a@b; lr SIP/2.0").err(),
            Some(Malformed::BadRequestLine)
        );
        assert_eq!(
            parse_request_line("INVITE <sip:a@b> SIP/2.0").err(),
            Some(Malformed::BadRequestUri)
        );
    }
}

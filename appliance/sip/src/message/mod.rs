//! The SIP message model, header-section parser and serialiser.
//!
//! Parsing of whole datagrams and streams (Content-Length, limits) lives in
//! [`crate::framing`]; [`SipMessage::parse`] is a shortcut for datagram framing.

mod headers;
mod method;
mod parse;
mod status;

use std::fmt;

pub use headers::{Header, HeaderName, Headers, InvalidHeaderName, split_list};
pub use method::{InvalidMethod, Method};
pub use parse::{Malformed, MessageKind, ParseError};
pub(crate) use parse::{StartLine, kind_of, parse_head};
pub use status::{InvalidStatusCode, StatusCode};

use crate::uri::Uri;

/// The protocol version of a start line (`SIP/2.0`). Other versions parse so
/// that validation can answer 505.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// Major number.
    pub major: u16,
    /// Minor number.
    pub minor: u16,
}

impl Version {
    /// `SIP/2.0`, the only version this crate speaks.
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };

    /// Parses `SIP/<digits>.<digits>` ("SIP" case-insensitive).
    pub fn parse(s: &str) -> Option<Version> {
        let b = s.as_bytes();
        if b.len() < 4 || !b[..4].eq_ignore_ascii_case(b"SIP/") {
            return None;
        }
        let (maj, min) = s.get(4..)?.split_once('.')?;
        let digits = |x: &str| -> Option<u16> {
            let v = crate::header::scan::parse_digits_u64(x)?;
            u16::try_from(v).ok()
        };
        Some(Version {
            major: digits(maj)?,
            minor: digits(min)?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}.{}", self.major, self.minor)
    }
}

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Request method (open set).
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Protocol version of the request line.
    pub version: Version,
    /// Header fields in wire order.
    pub headers: Headers,
    /// Message body (binary safe).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Protocol version of the status line.
    pub version: Version,
    /// Status code (100..=699).
    pub status: StatusCode,
    /// Reason phrase as received (may be empty, may be UTF-8).
    pub reason: String,
    /// Header fields in wire order.
    pub headers: Headers,
    /// Message body (binary safe).
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SipMessage {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl SipMessage {
    /// Parses one complete message from a datagram (RFC 3261 18.3 rules: octets
    /// after Content-Length are ignored, a missing Content-Length means "rest of
    /// the datagram"). See [`crate::framing::parse_datagram`] for keep-alives.
    pub fn parse(datagram: &[u8]) -> Result<SipMessage, ParseError> {
        crate::framing::parse_message(datagram)
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            SipMessage::Request(r) => &r.headers,
            SipMessage::Response(r) => &r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        match self {
            SipMessage::Request(r) => &r.body,
            SipMessage::Response(r) => &r.body,
        }
    }

    /// Canonical wire form (see [`Request::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SipMessage::Request(r) => r.to_bytes(),
            SipMessage::Response(r) => r.to_bytes(),
        }
    }
}

fn write_head_and_body(
    out: &mut Vec<u8>,
    start: fmt::Arguments<'_>,
    headers: &Headers,
    body: &[u8],
) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = out.write_fmt(start);
    out.extend_from_slice(b"\r\n");
    let mut wrote_len = false;
    for h in headers {
        if h.name == HeaderName::CONTENT_LENGTH {
            if !wrote_len {
                let _ = write!(out, "Content-Length: {}\r\n", body.len());
                wrote_len = true;
            }
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_len {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request {
    /// Canonical wire form: long header names, one `Content-Length` equal to the
    /// body length (in place of the first received one, else last), CRLF line ends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        write_head_and_body(
            &mut out,
            format_args!("{} {} {}", self.method, self.uri, self.version),
            &self.headers,
            &self.body,
        );
        out
    }
}

impl Response {
    /// Canonical wire form (see [`Request::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        write_head_and_body(
            &mut out,
            format_args!("{} {} {}", self.version, self.status, self.reason),
            &self.headers,
            &self.body,
        );
        out
    }
}

/// Writes the canonical form; a non-UTF-8 body is written lossily (use
/// `to_bytes` for the exact octets).
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Writes the canonical form; a non-UTF-8 body is written lossily.
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Writes the canonical form; a non-UTF-8 body is written lossily.
impl fmt::Display for SipMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SipMessage::Request(r) => r.fmt(f),
            SipMessage::Response(r) => r.fmt(f),
        }
    }
}

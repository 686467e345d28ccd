//! Message framing for datagram (UDP) and stream (TCP/TLS) transports.
//!
//! - Datagrams: one datagram is one message; octets after Content-Length are
//!   ignored and a missing Content-Length means "the rest of the datagram"
//!   (RFC 3261 18.3). A Content-Length larger than the datagram is an error (400).
//! - Streams: [`StreamFramer`] buffers pushed bytes and yields whole messages
//!   using Content-Length (mandatory on streams), reports RFC 5626 keep-alives
//!   and bounds header and body size. Any error that makes message boundaries
//!   untrustworthy (bad/multiple/missing Content-Length, broken header lines,
//!   limits) is returned once and poisons the framer: the transport answers
//!   400 (or 413/513) if it can and closes the connection.

use memchr::memmem;

use crate::header::{ContentLength, TypedHeader};
use crate::message::{
    HeaderName, Headers, Malformed, MessageKind, ParseError, Request, Response, SipMessage,
    StartLine, parse_head,
};

/// Size limits applied by the framers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum header section size in octets (start line to empty line).
    pub max_head: usize,
    /// Maximum body size in octets.
    pub max_body: usize,
}

impl Default for Limits {
    /// 64 KiB of headers, 256 KiB of body.
    fn default() -> Self {
        Limits {
            max_head: 64 * 1024,
            max_body: 256 * 1024,
        }
    }
}

/// One unit produced by a framer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A well-framed, parsed message (still to be validated, see [`crate::validate`]).
    Message(SipMessage),
    /// A well-framed message whose head did not parse; the stream stays usable.
    /// Feed it to [`crate::validate::react_to_parse_error`].
    Invalid(ParseError),
    /// RFC 5626 keep-alive ping (double CRLF): answer with a single CRLF on streams.
    Ping,
    /// RFC 5626 pong (single CRLF followed by something else), or a lone CRLF datagram.
    Pong,
}

const CRLFCRLF: &[u8] = b"\r\n\r\n";

/// Frames one datagram. Never panics; all-CRLF datagrams are keep-alives.
pub fn parse_datagram(buf: &[u8]) -> Frame {
    if !buf.is_empty() && buf.iter().all(|b| *b == b'\r' || *b == b'\n') {
        return if buf.starts_with(CRLFCRLF) {
            Frame::Ping
        } else {
            Frame::Pong
        };
    }
    match parse_message(buf) {
        Ok(m) => Frame::Message(m),
        Err(e) => Frame::Invalid(e),
    }
}

/// Parses one message from a datagram.
pub(crate) fn parse_message(buf: &[u8]) -> Result<SipMessage, ParseError> {
    let buf = skip_leading_crlf(buf);
    let Some(head_end) = memmem::find(buf, CRLFCRLF) else {
        // Best effort: read the header fields anyway so a 400 can be built.
        let trimmed = buf.strip_suffix(b"\r\n").unwrap_or(buf);
        let headers = parse_head(trimmed).ok().map(|(_, h)| h);
        return Err(ParseError::new(
            Malformed::UnterminatedHead,
            crate::message::kind_of(buf),
            headers,
        ));
    };
    let (line, headers) = parse_head(&buf[..head_end])?;
    let kind = line.kind();
    let rest = &buf[head_end + 4..];
    let body = match content_length(&headers) {
        Err(m) => return Err(ParseError::new(m, kind, Some(headers))),
        Ok(None) => rest,
        Ok(Some(n)) if n > rest.len() => {
            return Err(ParseError::new(
                Malformed::ContentLengthExceedsDatagram,
                kind,
                Some(headers),
            ));
        }
        Ok(Some(n)) => &rest[..n],
    };
    Ok(assemble(line, headers, body.to_vec()))
}

fn skip_leading_crlf(mut buf: &[u8]) -> &[u8] {
    while let Some(r) = buf.strip_prefix(b"\r\n") {
        buf = r;
    }
    buf
}

/// The single Content-Length value, if any.
fn content_length(headers: &Headers) -> Result<Option<usize>, Malformed> {
    let mut values = headers.get_all(&HeaderName::CONTENT_LENGTH);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Malformed::MultipleContentLength);
    }
    ContentLength::parse(first)
        .map(|c| Some(c.0))
        .map_err(|_| Malformed::BadContentLength)
}

fn assemble(line: StartLine, headers: Headers, body: Vec<u8>) -> SipMessage {
    match line {
        StartLine::Request {
            method,
            uri,
            version,
        } => SipMessage::Request(Request {
            method,
            uri,
            version,
            headers,
            body,
        }),
        StartLine::Response {
            version,
            status,
            reason,
        } => SipMessage::Response(Response {
            version,
            status,
            reason,
            headers,
            body,
        }),
    }
}

impl StartLine {
    fn kind(&self) -> MessageKind {
        match self {
            StartLine::Request { .. } => MessageKind::Request,
            StartLine::Response { .. } => MessageKind::Response,
        }
    }
}

#[derive(Debug)]
struct Pending {
    head_len: usize,
    body_len: usize,
    head: Result<(StartLine, Headers), ParseError>,
}

/// Incremental framer for one stream connection: `push` received bytes, then
/// call [`StreamFramer::poll_message`] until it returns `None`.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limits: Limits,
    searched: usize,
    pending: Option<Pending>,
    failed: bool,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            buf: Vec::new(),
            limits,
            searched: 0,
            pending: None,
            failed: false,
        }
    }

    /// Appends received bytes. Bytes pushed after a framing error are discarded.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Octets buffered but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a framing error occurred (the connection must be closed).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    fn fail(
        &mut self,
        malformed: Malformed,
        kind: MessageKind,
        headers: Option<Headers>,
    ) -> Option<Result<Frame, ParseError>> {
        self.failed = true;
        self.buf = Vec::new();
        self.pending = None;
        Some(Err(ParseError::new(malformed, kind, headers)))
    }

    /// The next frame: `None` when more bytes are needed (or after a failure),
    /// `Some(Err(_))` once for a framing error (answer if possible, then close).
    pub fn poll_message(&mut self) -> Option<Result<Frame, ParseError>> {
        if self.failed {
            return None;
        }
        if self.pending.is_none() {
            if self.buf.starts_with(b"\r") {
                if self.buf.starts_with(CRLFCRLF) {
                    self.buf.drain(..4);
                    return Some(Ok(Frame::Ping));
                }
                if self.buf.len() < 4 && CRLFCRLF.starts_with(&self.buf) {
                    return None;
                }
                if self.buf.starts_with(b"\r\n") {
                    self.buf.drain(..2);
                    self.searched = 0;
                    return Some(Ok(Frame::Pong));
                }
            }
            let from = self.searched.saturating_sub(3);
            let Some(rel) = memmem::find(&self.buf[from..], CRLFCRLF) else {
                self.searched = self.buf.len();
                if self.buf.len() > self.limits.max_head {
                    let kind = crate::message::kind_of(&self.buf);
                    return self.fail(Malformed::HeadTooLarge, kind, None);
                }
                return None;
            };
            let head_end = from + rel;
            let kind = crate::message::kind_of(&self.buf);
            if head_end > self.limits.max_head {
                return self.fail(Malformed::HeadTooLarge, kind, None);
            }
            let head = parse_head(&self.buf[..head_end]);
            let headers = match &head {
                Ok((_, h)) => h,
                Err(e) if e.malformed.breaks_framing() => {
                    let e = e.clone();
                    return self.fail(e.malformed, e.kind, e.headers);
                }
                Err(e) => match &e.headers {
                    Some(h) => h,
                    None => {
                        let e = e.clone();
                        return self.fail(e.malformed, e.kind, None);
                    }
                },
            };
            let body_len = match content_length(headers) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    let h = headers.clone();
                    return self.fail(Malformed::MissingContentLength, kind, Some(h));
                }
                Err(m) => {
                    let h = headers.clone();
                    return self.fail(m, kind, Some(h));
                }
            };
            if body_len > self.limits.max_body {
                let h = headers.clone();
                return self.fail(Malformed::BodyTooLarge, kind, Some(h));
            }
            self.pending = Some(Pending {
                head_len: head_end + 4,
                body_len,
                head,
            });
        }
        let total = self.pending.as_ref().map(|p| p.head_len + p.body_len)?;
        if self.buf.len() < total {
            return None;
        }
        let p = self.pending.take()?;
        let body = self.buf[p.head_len..total].to_vec();
        self.buf.drain(..total);
        self.searched = 0;
        Some(Ok(match p.head {
            Ok((line, headers)) => Frame::Message(assemble(line, headers, body)),
            Err(e) => Frame::Invalid(e),
        }))
    }
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn stream_reports_ping_then_message_then_pong() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n\r\n");
        f.push(OPTIONS);
        f.push(b"\r\nOPT");
        assert_eq!(f.poll_message(), Some(Ok(Frame::Ping)));
        let Some(Ok(Frame::Message(SipMessage::Request(r)))) = f.poll_message() else {
            panic!()
        };
        assert_eq!(r.body, b"body");
        assert_eq!(f.poll_message(), Some(Ok(Frame::Pong)));
        assert_eq!(f.poll_message(), None);
        assert_eq!(f.buffered(), 3);
    }

    #[test]
    fn lone_crlf_waits_for_more() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n");
        assert_eq!(f.poll_message(), None);
        f.push(b"\r\n");
        assert_eq!(f.poll_message(), Some(Ok(Frame::Ping)));
    }

    #[test]
    fn oversized_head_and_body_fail_and_poison() {
        let mut f = StreamFramer::new(Limits {
            max_head: 16,
            max_body: 2,
        });
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x");
        let Some(Err(e)) = f.poll_message() else {
            panic!()
        };
        assert_eq!(e.malformed, Malformed::HeadTooLarge);
        assert!(f.is_failed());
        f.push(OPTIONS);
        assert_eq!(f.poll_message(), None);

        let mut f = StreamFramer::new(Limits {
            max_head: 1024,
            max_body: 2,
        });
        f.push(OPTIONS);
        let Some(Err(e)) = f.poll_message() else {
            panic!()
        };
        assert_eq!(e.malformed, Malformed::BodyTooLarge);
    }

    #[test]
    fn datagram_keepalives_and_trailing_octets() {
        assert_eq!(parse_datagram(b"\r\n\r\n"), Frame::Ping);
        assert_eq!(parse_datagram(b"\r\n"), Frame::Pong);
        let mut d = OPTIONS.to_vec();
        d.extend_from_slice(b"garbage");
        let Frame::Message(m) = parse_datagram(&d) else {
            panic!()
        };
        assert_eq!(m.body(), b"body");
    }
}

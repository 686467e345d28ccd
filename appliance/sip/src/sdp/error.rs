//! SDP parse errors.

/// Why an SDP body was refused. Line numbers are 1-based and count every line
/// of the input, blank ones included. No variant carries input text, so an
/// error can be logged without leaking personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than [`super::Limits::max_bytes`].
    #[error("SDP body of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size of the body in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body has more lines than [`super::Limits::max_lines`].
    #[error("SDP body has more than {limit} lines")]
    TooManyLines {
        /// The configured limit.
        limit: usize,
    },
    /// The body has more `m=` sections than [`super::Limits::max_media`].
    #[error("SDP body has more than {limit} media descriptions")]
    TooManyMedia {
        /// The configured limit.
        limit: usize,
    },
    /// The body is empty (or only blank lines).
    #[error("SDP body is empty")]
    Empty,
    /// A line is not `<letter>=<value>`.
    #[error("line {line}: not of the form <type>=<value>")]
    MalformedLine {
        /// Line number.
        line: usize,
    },
    /// A line type letter SDP does not define.
    #[error("line {line}: unknown line type")]
    UnknownLineType {
        /// Line number.
        line: usize,
    },
    /// The first line is not `v=`.
    #[error("the first line is not v=")]
    MissingVersion,
    /// `v=` is not `0`.
    #[error("line {line}: unsupported SDP version")]
    BadVersion {
        /// Line number.
        line: usize,
    },
    /// A mandatory session-level line (`o`, `s` or `t`) is missing.
    #[error("mandatory {kind}= line is missing")]
    MissingLine {
        /// The missing line type.
        kind: char,
    },
    /// A line that may appear once appears again.
    #[error("line {line}: duplicate {kind}= line")]
    Duplicate {
        /// Line number.
        line: usize,
        /// The line type.
        kind: char,
    },
    /// A line appears where it is not allowed (`t=` inside a media section,
    /// `r=` before any `t=`, ...).
    #[error("line {line}: {kind}= line is not allowed here")]
    Misplaced {
        /// Line number.
        line: usize,
        /// The line type.
        kind: char,
    },
    /// Malformed `o=` line.
    #[error("line {line}: malformed o= line")]
    BadOrigin {
        /// Line number.
        line: usize,
    },
    /// Malformed `c=` line (or address part of `a=rtcp`).
    #[error("line {line}: malformed connection data")]
    BadConnection {
        /// Line number.
        line: usize,
    },
    /// Malformed `b=` line.
    #[error("line {line}: malformed b= line")]
    BadBandwidth {
        /// Line number.
        line: usize,
    },
    /// Malformed `t=` line.
    #[error("line {line}: malformed t= line")]
    BadTiming {
        /// Line number.
        line: usize,
    },
    /// Malformed `m=` line (too few fields, empty format list).
    #[error("line {line}: malformed m= line")]
    BadMedia {
        /// Line number.
        line: usize,
    },
    /// The port (or port count) of an `m=` line is not a number in 0..=65535.
    #[error("line {line}: bad port")]
    BadPort {
        /// Line number.
        line: usize,
    },
    /// A format of an RTP `m=` line is not a payload type in 0..=127.
    #[error("line {line}: bad RTP payload type")]
    BadPayloadType {
        /// Line number.
        line: usize,
    },
    /// Malformed `a=` line (empty attribute name).
    #[error("line {line}: malformed a= line")]
    BadAttribute {
        /// Line number.
        line: usize,
    },
    /// An active media description (port not 0) has no `c=` line and the
    /// session has none either.
    #[error("media description {media_index} has no connection data and the session has none")]
    MissingConnection {
        /// Zero-based index of the media description.
        media_index: usize,
    },
}

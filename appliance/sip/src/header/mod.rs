//! Typed header values, parsed on demand from the raw values kept in
//! [`crate::message::Headers`] (see [`crate::message::Headers::typed`]).

mod cseq;
mod name_addr;
pub(crate) mod scan;
mod simple;
mod via;

pub use cseq::CSeq;
pub use name_addr::{Contact, From, NameAddr, To};
pub use simple::{CallId, ContentLength, Expires, MaxForwards, ProxyRequire, Require, Supported};
pub use via::{Transport, Via};

use crate::message::HeaderName;
use crate::uri::{Param, UriError};
use scan::Scanner;

/// A header value that failed its grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The value does not match the header's grammar.
    #[error("malformed {header} value")]
    Syntax {
        /// Canonical header name.
        header: &'static str,
    },
    /// A number does not fit its type (e.g. CSeq above 2^32-1).
    #[error("{header} number out of range")]
    Overflow {
        /// Canonical header name.
        header: &'static str,
    },
    /// The embedded URI is invalid.
    #[error("invalid URI in {header}: {source}")]
    Uri {
        /// Canonical header name.
        header: &'static str,
        /// What was wrong with the URI.
        source: UriError,
    },
}

impl HeaderError {
    /// Name of the header that failed.
    pub fn header(&self) -> &'static str {
        match self {
            HeaderError::Syntax { header }
            | HeaderError::Overflow { header }
            | HeaderError::Uri { header, .. } => header,
        }
    }
}

/// A header whose value(s) can be parsed into `Self`.
pub trait TypedHeader: Sized {
    /// The header's name.
    const NAME: HeaderName;
    /// Canonical name used in errors.
    const NAME_STR: &'static str;
    /// Parses one value (one list element for list headers).
    fn parse(value: &str) -> Result<Self, HeaderError>;
}

/// Parses `*( SEMI name [EQUAL gen-value] )` with LWS around separators.
/// Values may be tokens, host-ish text (`[v6]`, `a.b:c`) or quoted strings
/// (stored with their quotes so the value re-serialises unchanged).
pub(crate) fn parse_params(
    sc: &mut Scanner<'_>,
    header: &'static str,
) -> Result<Vec<Param>, HeaderError> {
    let err = HeaderError::Syntax { header };
    let mut params = Vec::new();
    while sc.eat_sep(b';') {
        let name = sc.token().ok_or(err)?;
        let value = if sc.eat_sep(b'=') {
            if sc.peek() == Some(b'"') {
                let start = sc.pos();
                sc.quoted_string().ok_or(err)?;
                Some(sc.since(start).to_owned())
            } else {
                let v = sc.take_while(|b| scan::is_token(b) || matches!(b, b'[' | b']' | b':'));
                if v.is_empty() {
                    return Err(err);
                }
                Some(v.to_owned())
            }
        } else {
            None
        };
        params.push(Param {
            name: name.to_owned(),
            value,
        });
    }
    Ok(params)
}

/// Writes `;name[=value]` parameters.
pub(crate) fn write_params(f: &mut std::fmt::Formatter<'_>, params: &[Param]) -> std::fmt::Result {
    for p in params {
        match &p.value {
            Some(v) => write!(f, ";{}={}", p.name, v)?,
            None => write!(f, ";{}", p.name)?,
        }
    }
    Ok(())
}

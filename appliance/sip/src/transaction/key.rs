//! Transaction keys (RFC 3261 17.1.3 and 17.2.3) and branch generation.
//!
//! RFC 3261 branches (magic cookie `z9hG4bK`) are matched as such. Requests
//! whose top Via lacks the cookie (RFC 2543 peers, and RFC 4475's valid
//! `wsinv` INVITE) get the RFC 3261 17.2.3 fallback: a synthetic branch built
//! from the Request-URI, From tag, Call-ID, `CSeq` number and the top Via's
//! branch value (RFC 2543 tags are optional: a missing From tag counts as
//! empty). The To tag and the `CSeq` method are left out so that a
//! retransmitted INVITE, its ACK (for a non-2xx answer) and its CANCEL all
//! land on the INVITE's key (the ACK's To tag is the one we sent). Client
//! transactions always use our own cookie branches.

use std::fmt::Write as _;

use crate::header::{CSeq, Via};
use crate::message::{Headers, Method, Request, Response};
use crate::uri::Host;

/// The RFC 3261 magic cookie every branch starts with.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A branch parameter `z9hG4bK` + 32 lower-case hex digits from 16 bytes of
/// caller-provided randomness (the core never reads OS randomness).
pub fn generate_branch(random: &[u8; 16]) -> String {
    let mut s = String::with_capacity(MAGIC_COOKIE.len() + 32);
    s.push_str(MAGIC_COOKIE);
    for b in random {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Why no key could be computed for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No Via header, or the top Via does not parse: the message cannot be
    /// answered and is dropped.
    #[error("missing or malformed top Via")]
    BadVia,
    /// The top Via has no `branch` starting with `z9hG4bK` (RFC 2543 peer)
    /// and the fallback fields (From, Call-ID) are missing: answered 400
    /// statelessly. Also used for responses, which we only match by our own
    /// cookie branches.
    #[error("top Via branch lacks the RFC 3261 magic cookie")]
    NoMagicCookie,
    /// No parseable `CSeq`.
    #[error("missing or malformed CSeq")]
    BadCSeq,
}

/// The typed top Via of a message.
pub(crate) fn top_via(headers: &Headers) -> Result<Via, KeyError> {
    headers
        .typed::<Via>()
        .and_then(Result::ok)
        .ok_or(KeyError::BadVia)
}

/// The typed `CSeq` of a message.
pub(crate) fn cseq_of(headers: &Headers) -> Option<CSeq> {
    headers.typed::<CSeq>().and_then(Result::ok)
}

fn rfc3261_branch(via: &Via) -> Result<String, KeyError> {
    match via.branch() {
        Some(b) if b.starts_with(MAGIC_COOKIE) => Ok(b.to_owned()),
        _ => Err(KeyError::NoMagicCookie),
    }
}

/// The synthetic branch of an RFC 2543 request (RFC 3261 17.2.3 fallback).
/// It starts with a character no RFC 3261 branch starts with, so it can
/// never collide with a cookie branch.
fn rfc2543_branch(request: &Request, via: &Via) -> Result<String, KeyError> {
    use crate::header::{CallId, From};
    // RFC 2543 made tags optional, so a missing From tag is part of the key.
    let from_tag = request
        .headers
        .typed::<From>()
        .and_then(Result::ok)
        .ok_or(KeyError::NoMagicCookie)?
        .tag()
        .unwrap_or("")
        .to_owned();
    let call_id = request
        .headers
        .typed::<CallId>()
        .and_then(Result::ok)
        .ok_or(KeyError::NoMagicCookie)?;
    let cseq = cseq_of(&request.headers).ok_or(KeyError::BadCSeq)?;
    Ok(format!(
        "%2543|{}|{}|{}|{}|{}",
        request.uri,
        from_tag,
        call_id.0,
        cseq.seq,
        via.branch().unwrap_or("")
    ))
}

/// A client transaction key (RFC 3261 17.1.3): branch of the top Via plus the
/// `CSeq` method. A CANCEL and the INVITE it cancels share a branch but differ
/// here by method.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Branch of the top Via (case-sensitive).
    pub branch: String,
    /// `CSeq` method.
    pub method: Method,
}

impl ClientKey {
    /// The key of a request the client sends.
    pub fn from_request(request: &Request) -> Result<ClientKey, KeyError> {
        let branch = rfc3261_branch(&top_via(&request.headers)?)?;
        Ok(ClientKey {
            branch,
            method: request.method.clone(),
        })
    }

    /// The key a response matches: its top Via branch and its `CSeq` method.
    pub fn from_response(response: &Response) -> Result<ClientKey, KeyError> {
        let branch = rfc3261_branch(&top_via(&response.headers)?)?;
        let cseq = cseq_of(&response.headers).ok_or(KeyError::BadCSeq)?;
        Ok(ClientKey {
            branch,
            method: cseq.method,
        })
    }
}

/// The sent-by of a Via: host (domain names lower-cased) and port as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SentBy {
    /// Host, domain names lower-cased.
    pub host: Host,
    /// Port, if written.
    pub port: Option<u16>,
}

impl SentBy {
    fn of(via: &Via) -> SentBy {
        let host = match &via.host {
            Host::Domain(d) => Host::Domain(d.to_ascii_lowercase()),
            other => other.clone(),
        };
        SentBy {
            host,
            port: via.port,
        }
    }
}

/// A server transaction key (RFC 3261 17.2.3): branch, sent-by of the top Via
/// and the request method, where ACK counts as INVITE (so the ACK for a
/// non-2xx response finds its INVITE transaction).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerKey {
    /// Branch of the top Via (case-sensitive).
    pub branch: String,
    /// sent-by of the top Via.
    pub sent_by: SentBy,
    /// Request method, ACK mapped to INVITE.
    pub method: Method,
}

impl ServerKey {
    /// The key of an incoming request.
    pub fn from_request(request: &Request) -> Result<ServerKey, KeyError> {
        let via = top_via(&request.headers)?;
        let branch = match rfc3261_branch(&via) {
            Ok(branch) => branch,
            Err(_) => rfc2543_branch(request, &via)?,
        };
        let method = if request.method == Method::ACK {
            Method::INVITE
        } else {
            request.method.clone()
        };
        Ok(ServerKey {
            branch,
            sent_by: SentBy::of(&via),
            method,
        })
    }

    /// The key of the INVITE transaction a CANCEL with this key refers to
    /// (RFC 3261 9.2: same matching rules, method INVITE).
    #[must_use]
    pub fn cancelled_invite(&self) -> ServerKey {
        ServerKey {
            method: Method::INVITE,
            ..self.clone()
        }
    }
}

/// A key in the [`super::TransactionLayer`]'s table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// A client transaction.
    Client(ClientKey),
    /// A server transaction.
    Server(ServerKey),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_branches_carry_the_cookie_and_the_randomness() {
        let b = generate_branch(&[0xab; 16]);
        assert!(b.starts_with(MAGIC_COOKIE));
        assert_eq!(b.len(), 7 + 32);
        assert!(b.ends_with("abab"));
        assert_ne!(b, generate_branch(&[0; 16]));
    }
}

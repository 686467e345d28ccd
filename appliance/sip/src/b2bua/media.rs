//! Small SDP helpers: body parsing, anchoring rewrite, remote address,
//! direction and codec of the first active audio stream.

use std::net::SocketAddr;

use crate::message::{HeaderName, Headers};
use crate::sdp::{Direction, MediaType, Session, rewrite_connection};

/// The SDP body of a message, if it has one that parses.
pub(crate) fn sdp_of(headers: &Headers, body: &[u8]) -> Option<Session> {
    if body.is_empty() {
        return None;
    }
    let is_sdp = headers.get(&HeaderName::CONTENT_TYPE).is_none_or(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/sdp")
    });
    if !is_sdp {
        return None;
    }
    Session::parse_bytes(body).ok()
}

/// `session` pointed at our relay, serialised.
pub(crate) fn anchored(session: &Session, addr: std::net::IpAddr, port: u16) -> Vec<u8> {
    rewrite_connection(session, addr, port)
        .to_string()
        .into_bytes()
}

fn first_audio(session: &Session) -> Option<&crate::sdp::MediaDescription> {
    session
        .media
        .iter()
        .find(|m| m.media == MediaType::Audio && m.port != 0)
}

/// Where the first active audio stream wants RTP.
pub(crate) fn remote_rtp(session: &Session) -> Option<SocketAddr> {
    let m = first_audio(session)?;
    let ip = m.connection(session)?.ip()?;
    Some(SocketAddr::new(ip, m.port))
}

/// The direction the session's author declares for the first audio stream;
/// `c=0.0.0.0` (RFC 2543 hold) counts as `Inactive`.
pub(crate) fn direction(session: &Session) -> Direction {
    let Some(m) = first_audio(session) else {
        return Direction::Inactive;
    };
    if m.connection(session)
        .is_some_and(crate::sdp::Connection::is_null_address)
    {
        return Direction::Inactive;
    }
    m.effective_direction(session)
}

/// Name of the first codec of the first active audio stream (the chosen one
/// in an answer).
pub(crate) fn codec_name(session: &Session) -> Option<String> {
    let m = first_audio(session)?;
    m.codecs().into_iter().next().map(|(_, c)| c.name)
}

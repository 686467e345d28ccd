//! Sans-IO SIP (RFC 3261 and friends). Nothing here touches a socket or reads
//! the clock: callers pass `now` in and drain outputs.
//!
//! Layers provided so far:
//! - [`message`]: the message model ([`message::Request`], [`message::Response`],
//!   [`message::Headers`], open [`message::Method`] and [`message::StatusCode`]
//!   newtypes), the header-section parser and the serialiser.
//! - [`uri`]: SIP/SIPS, `tel:` and opaque absolute URIs.
//! - [`header`]: typed header values parsed on demand (Via, To/From/Contact, CSeq, ...).
//! - [`framing`]: datagram and stream framing (Content-Length, keep-alives, limits).
//! - [`sdp`]: SDP model, parser, serialiser, codecs and RFC 3264 offer/answer.
//! - [`validate`]: what a UAS/registrar core must do with a request before the
//!   transaction layer (process, reject with a status, or drop).
#![forbid(unsafe_code)]

pub mod auth;
pub mod framing;
pub mod header;
pub mod message;
pub mod sdp;
pub mod uri;
pub mod validate;

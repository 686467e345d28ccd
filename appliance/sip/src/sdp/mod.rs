//! SDP (RFC 8866, formerly RFC 4566): model, parser, serialiser, codec model
//! and RFC 3264 offer/answer for a B2BUA that anchors media.
//!
//! Self-contained: everything works on `&str` / `&[u8]` and owned values.
//!
//! - [`Session`] / [`MediaDescription`]: the model. Every line type
//!   (`v o s i u e p c b t r z k a m`) is kept; attributes are typed where the
//!   appliance needs them ([`Attribute`]) and preserved verbatim, in order,
//!   otherwise.
//! - [`Session::parse`] is tolerant of line ends (CRLF or LF), trailing
//!   whitespace and blank lines, strict about structure (typed
//!   [`ParseError`]s) and bounded by [`Limits`].
//! - `Display` on [`Session`] writes canonical SDP with CRLF line ends.
//! - [`Codec`] and [`PayloadType`]: codec identity by name and RTP clock rate.
//! - [`answer`], [`offer`], [`rewrite_connection`]: offer/answer helpers.
//!
//! Secrets (SDES key parameters, `ice-pwd`, `k=`) and personal data (`e=`,
//! `p=`) are held in [`Redacted`], which never shows its content in `Debug`.

mod attribute;
mod codec;
mod error;
mod model;
mod negotiate;
mod parse;
mod write;

pub use attribute::{
    Attribute, Candidate, Crypto, Direction, Fingerprint, Fmtp, Rtcp, Rtpmap, Setup, Ssrc,
};
pub use codec::{Codec, PayloadType};
pub use error::ParseError;
pub use model::{
    Bandwidth, Connection, MediaDescription, MediaType, Origin, Proto, Redacted, Session, Timing,
};
pub use negotiate::{
    CodecPref, DirectionPolicy, LocalMedia, Negotiated, NegotiationError, answer, audio_codecs,
    offer, restrict_offer, rewrite_connection, telephone_event_pt,
};
pub use parse::Limits;

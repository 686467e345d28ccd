//! Sans-IO SIP (RFC 3261 and friends). Nothing here touches a socket or reads
//! the clock: callers pass `now` in and drain outputs.
//!
//! Layers:
//! - [`message`]: the message model ([`message::Request`], [`message::Response`],
//!   [`message::Headers`], open [`message::Method`] and [`message::StatusCode`]
//!   newtypes), the header-section parser and the serialiser.
//! - [`uri`]: SIP/SIPS, `tel:` and opaque absolute URIs.
//! - [`header`]: typed header values parsed on demand (`Via`, `To`/`From`/`Contact`, `CSeq`, ...).
//! - [`framing`]: datagram and stream framing (Content-Length, keep-alives, limits).
//! - [`validate`]: what a UAS/registrar core must do with a request before the
//!   transaction layer (process, reject with a status, or drop).
//! - [`transaction`]: the four RFC 3261 section 17 machines and the matching table.
//! - [`dialog`]: RFC 3261 section 12 dialogs and the UAS 2xx retransmitter.
//! - [`auth`]: digest authentication (RFC 8760, MD5 and SHA-256) and the
//!   per-source ban tracker.
//! - [`registrar`]: the registrar core (bindings, digest authentication,
//!   NAT flows, expiry).
//! - [`trunk`]: outbound trunk registration and OPTIONS keepalive.
//! - [`sdp`]: SDP model, parser, serialiser, codecs and RFC 3264 offer/answer.
//! - [`b2bua`]: the back-to-back user agent call core (anchored media, forking,
//!   failover, CDR summaries).
#![forbid(unsafe_code)]

pub mod auth;
pub mod b2bua;
pub mod dialog;
pub mod framing;
pub mod header;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod transaction;
pub mod trunk;
pub mod uri;
pub mod validate;

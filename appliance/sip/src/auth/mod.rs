//! SIP digest authentication (RFC 3261 §22.4 with RFC 7616 semantics and the
//! RFC 8760 algorithms) and a per-source ban tracker.
//!
//! Everything here is sans-IO: callers pass `now` and random bytes in.
//!
//! - [`Challenge`] / [`Credentials`]: parse `WWW-Authenticate` /
//!   `Proxy-Authenticate` and `Authorization` / `Proxy-Authorization` values.
//!   Unknown schemes parse as `Other`, so a registrar can still answer with a
//!   Digest challenge (RFC 4475 regaut01).
//! - [`DigestServer`]: registrar side with stateless HMAC nonces.
//! - [`DigestClient`] / [`ClientSession`]: trunk registration side.
//! - [`BanTracker`]: counts failures per source IP (IPv6 per /64) and bans.
//!
//! # Algorithms and qop
//!
//! MD5, SHA-256 and their `-sess` variants are implemented; the server offers
//! SHA-256 then MD5 by default (one challenge header each, RFC 8760 §2.4) and
//! accepts only what it offers. Only `qop=auth` is supported (`auth-int` is
//! not). RFC 2069 answers without `qop` are accepted by the server only with
//! [`DigestServerConfig::allow_no_qop`] (default off) and produced by the
//! client when a challenge lacks `qop` (default on). `userhash` (RFC 7616) is
//! not supported. The server does not track nonce counts (stateless nonces,
//! see [`DigestServer`]).
//!
//! # How the registrar uses this
//!
//! For every REGISTER (and other requests it authenticates), in this order:
//!
//! 1. If [`BanTracker::is_banned`]`(now, source_ip)`, drop the packet
//!    silently: no response, no parsing beyond what was needed to get here.
//! 2. No `Authorization` header: answer 401 with one `WWW-Authenticate` per
//!    value of [`DigestServer::challenge`]`(now, false)`. Not a failure.
//! 3. Otherwise [`DigestServer::verify`] the header value (several values:
//!    use the one whose realm is ours) and act on the [`Verdict`]:
//!    - `Authenticated` → proceed; [`BanTracker::record_success`].
//!    - `Stale` → 401 with `challenge(now, true)`; not a failure.
//!    - `OtherScheme` → 401 with `challenge(now, false)`; not a failure.
//!    - `Rejected` → 401 with `challenge(now, false)` and
//!      [`BanTracker::record_failure`]. An unknown extension and a wrong
//!      password get the very same answer (never 403/404 for unknown users),
//!      so extensions cannot be enumerated.
//!    - `Malformed` → 400 and `record_failure`.
//! 4. Drain [`BanTracker::poll_event`] (log `SourceBanned` at `warn`, it is
//!    an operator-relevant event) and re-arm the timer at
//!    [`BanTracker::poll_timeout`], calling [`BanTracker::handle_timeout`].
//!
//! A proxy challenge uses 407 and `Proxy-Authenticate` / `Proxy-Authorization`
//! with the same values. The trunk client answers a 401/407 with
//! [`ClientSession::handle_challenge`], pre-authorises refreshes with
//! [`ClientSession::preauthorize`], and treats a second challenge for the
//! same realm without `stale=true` as wrong credentials.

pub mod ban;
mod challenge;
mod client;
mod credentials;
mod digest;
mod params;
mod server;

pub use ban::{BanConfig, BanEvent, BanSource, BanStarted, BanTracker, Cidr, CidrError};
pub use challenge::{Challenge, DigestChallenge};
pub use client::{AuthorizationValue, ClientError, ClientSession, DigestClient};
pub use credentials::{Credentials, DigestCredentials};
pub use digest::{Algorithm, ha1};
pub use params::AuthParseError;
pub use server::{DigestServer, DigestServerConfig, StoredCredential, Verdict};

#[cfg(test)]
mod tests;

//! Trunk registration and OPTIONS keep-alive for one provider trunk
//! (sans-IO), in the spirit of Asterisk's and `FreeSWITCH`'s outbound
//! registration, but never giving up silently: every failure is reported as
//! a state and retried forever.
//!
//! [`TrunkCore`] sits above the transaction layer. It emits complete
//! requests ([`TrunkCore::poll_request`]), consumes final responses and
//! transaction timeouts / transport errors, and reports
//! [`TrunkEvent`]s. The shell resolves the registrar (RFC 3263), owns the
//! transactions and the clock, and provides randomness ([`RandomSource`]).
//!
//! # Registration rules
//!
//! | Answer to REGISTER | Action |
//! |---|---|
//! | 2xx | [`TrunkState::Registered`]; granted expiry = `expires` of our Contact in the 200 (matched by `+sip.instance` if configured, else user/host/port), else the `Expires` header, else what we asked. A grant of 0 counts as `Rejected(200)`. Refresh per [`TrunkConfig::refresh_delay`] (default 85 % or expiry − 30 s, whichever is earlier). |
//! | 401 / 407 | Answered at once (`Authorization` / `Proxy-Authorization`, both kinds tracked separately). If the rejected request already carried a *fresh* answer: a `stale=true` challenge with a new nonce is answered again (at most 2 in a row), anything else (same nonce, `stale` absent) is [`FailureReason::AuthFailed`]. A rejected *pre-authorised* refresh is simply answered (the remembered nonce may have expired). |
//! | 423 | Retried at once with `Min-Expires` (kept for later refreshes) if it is higher than what we asked and at most one day; else `Rejected(423)`. |
//! | 403 | [`FailureReason::AuthFailed`]. |
//! | 408, timeout, guard expiry | [`FailureReason::Timeout`], backoff. |
//! | transport error | [`FailureReason::Transport`], backoff. |
//! | 5xx / 6xx | `Rejected(status)`, backoff; a `Retry-After` longer than the backoff delay is honoured (capped at [`TrunkConfig::slow_retry`]). |
//! | other 3xx / 4xx | `Rejected(status)`, slow retry (no redirects are followed). |
//!
//! **Backoff**: `backoff_initial × 2^n`, capped at `backoff_max` (1 s, 2 s,
//! 4 s, …, 256 s, 300 s, 300 s, … with the defaults), minus up to
//! `backoff_jitter_percent` % drawn from the [`RandomSource`]; reset by a
//! 2xx. **Slow retry** (auth failures, permanent-looking rejections): every
//! [`TrunkConfig::slow_retry`] (10 min), starting from a clean slate without
//! remembered challenges, so each slow retry is REGISTER → 401 → answer.
//!
//! Failing refreshes: a *transient* failure while the binding is still valid
//! keeps [`TrunkState::Registered`] and retries with backoff; the state
//! becomes [`TrunkState::Failed`] when the binding's `expires_at` passes.
//! A non-transient failure (auth, 4xx) leaves `Registered` at once.
//! Retries from `Failed` stay in `Failed` (no flapping through
//! `Registering`); an event is emitted only when the reason changes.
//!
//! Refreshes use the same Call-ID and From tag with an incremented `CSeq` and
//! pre-authorise on the remembered challenge (`nc` incremented), saving the
//! 401 round trip while the provider accepts the nonce.
//!
//! # Keep-alive
//!
//! An OPTIONS (own Call-ID, incrementing `CSeq`) goes out at start and then
//! every [`TrunkConfig::keepalive_interval`] after the previous one was sent
//! (at once after a late failure). **Any final response counts as alive**
//! — including 401/404/405/501, which prove the provider is there — **except
//! 408 and 503**, which count as failures like a timeout or transport error.
//! [`TrunkConfig::keepalive_failures`] (3) failures in a row emit
//! [`TrunkEvent::KeepaliveLost`] and make [`TrunkCore::is_up`] false even
//! while registered; the next answer emits [`TrunkEvent::KeepaliveRestored`]
//! and triggers an immediate re-REGISTER (the NAT binding may have changed)
//! unless a slow retry is waiting for corrected credentials.
//!
//! With [`TrunkConfig::register`] off, the state stays [`TrunkState::Idle`]
//! and only the keep-alive decides [`TrunkCore::is_up`].
//!
//! # Requests
//!
//! REGISTER carries `Via` (fresh `z9hG4bK` branch, `rport`), `Max-Forwards:
//! 70`, `From` (AOR with tag), `To` (AOR), `Call-ID` (32 random hex digits,
//! no host), `CSeq`, `Contact` (with `+sip.instance` when configured),
//! `Expires`, the authorization headers, and `User-Agent` only when
//! configured (validated to contain no digits, so no version leaks).
//!
//! # Operator codes
//!
//! [`FailureReason::error_code`] and [`KEEPALIVE_LOST_CODE`] give the stable
//! codes of the shared error catalogue (`trunk.register.auth_failed`, …).

mod config;
mod core;
mod random;

pub use config::{Secret, TrunkConfig, TrunkConfigError, TrunkTransport};
pub use core::{
    FailureReason, KEEPALIVE_LOST_CODE, KeepaliveStatus, TrunkCore, TrunkEvent, TrunkState,
};
pub use random::RandomSource;

//! Locating a SIP trunk's servers in DNS (RFC 3263 §4), split into a
//! sans-IO core ([`plan`]) and a thin tokio shell over hickory-resolver
//! ([`resolver`]).
//!
//! # What is resolved, in what order
//! Given the trunk's configured host, optional explicit port and configured
//! transport:
//! 1. **IP literal** (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`): one
//!    target, no DNS; port as configured, else 5060 (UDP, TCP) or 5061 (TLS).
//! 2. **Name with an explicit port**: A and AAAA of the name; no SRV
//!    (RFC 3263 §4.2: a port in the URI means no SRV lookup).
//! 3. **Name without port**: SRV `_sip._udp.<host>` (UDP), `_sip._tcp.<host>`
//!    (TCP) or `_sips._tcp.<host>` (TLS). The records are ordered by
//!    priority, and within a priority by RFC 2782's weighted random
//!    selection (the random numbers come in through [`plan::WeightRng`], so
//!    tests are deterministic). Every SRV target is then resolved to A and
//!    AAAA. When the SRV lookup finds nothing (NXDOMAIN, NODATA, or an empty
//!    answer), A and AAAA of the host itself on the default port.
//!
//! **No NAPTR.** RFC 3263 §4.1 uses NAPTR records to pick the transport when
//! the URI does not say; our trunks always configure the transport, so the
//! NAPTR step would only confirm what we already know. We go straight to the
//! SRV record of the configured transport (what §4.1 prescribes when the
//! transport is known).
//!
//! **Address families.** For each SRV target (or the host), its IPv4
//! addresses come first, then its IPv6 addresses; both are kept, so an
//! IPv6-only target is still reached and a dead IPv4 path fails over to
//! IPv6. IPv4 first because the offices' uplinks and most Dutch SIP providers
//! are IPv4 (often IPv4-only behind NAT with IPv6 only partially routed).
//! Family order never overrides SRV order: target 1's IPv6 address comes
//! before target 2's IPv4 address.
//!
//! **Failures.** A failed SRV lookup (timeout, SERVFAIL, network error)
//! fails the resolution: RFC 3263 falls back to A/AAAA only when no SRV
//! records *exist*, and falling back on a timeout could send signalling to
//! the web server behind the bare domain. An SRV target whose address
//! lookups fail is skipped if another target resolves. Errors
//! ([`ResolveError`]) distinguish NXDOMAIN, timeout, server failure, network
//! error, "service not available" (a sole SRV target of `.`) and "no usable
//! records".
//!
//! **TTL.** The result carries the smallest TTL of the records it used
//! (SRV, A, AAAA, and the negative TTL of an absent SRV record so a newly
//! published SRV record is picked up), clamped to 30 s ..= 1 h
//! ([`plan::MIN_TTL`], [`plan::MAX_TTL`]). The shell turns it into
//! [`resolver::Resolved::valid_until`]; the trunk layer re-resolves when it
//! has passed. IP literals are valid for the maximum.
//!
//! # How the trunk / B2BUA layer uses the targets (RFC 3263 §4.3)
//! - Resolve when the trunk starts and again before a new transaction once
//!   `valid_until` has passed. If re-resolving fails, keep using the last
//!   good list (stale but better than nothing) and retry with backoff.
//! - Send each new request to the first target. On a **transport error**
//!   (ICMP unreachable, TCP connect refused/reset, TLS handshake failure),
//!   a **transaction timeout** (Timer B for INVITE, Timer F otherwise) or a
//!   **503** response, try the next target with a new client transaction:
//!   the same request with a new Via branch (RFC 3263 §4.3). Any other final
//!   response (including 4xx and 5xx other than 503) ends the attempt.
//! - ACK for a non-2xx and CANCEL go to the target the INVITE went to;
//!   in-dialog requests follow the dialog's route set, not this list.
//! - A registration stays on the target that accepted it (refreshes go
//!   there) until that target fails; then the next target gets a fresh
//!   REGISTER. When every target has failed, the trunk is down
//!   (`TRUNK_UNAVAILABLE`) until the next successful registration.
//! - For TLS, the certificate is checked against the configured host name
//!   (RFC 5922 §4), never against an SRV target name or an address.
//!
//! Trunk host names are provider infrastructure, not personal data, so they
//! may appear in errors and logs.

pub mod plan;
pub mod resolver;

pub use plan::{Resolution, Target, Targets};
pub use resolver::{NameServers, Resolved, ResolverSettings, SetupError, SipResolver};

/// Why a trunk host could not be resolved to any target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The configured host is neither an IP literal nor a valid domain name.
    #[error("invalid trunk host {host:?}")]
    InvalidHost {
        /// The host as configured.
        host: String,
    },
    /// The host name does not exist (NXDOMAIN for its A and AAAA records).
    #[error("trunk host {host} does not exist (NXDOMAIN)")]
    NxDomain {
        /// The host as configured.
        host: String,
    },
    /// No name server answered in time.
    #[error("DNS timeout resolving trunk host {host}")]
    Timeout {
        /// The host as configured.
        host: String,
    },
    /// A name server answered with an error response code.
    #[error("DNS server failure (rcode {rcode}) resolving trunk host {host}")]
    ServerFailure {
        /// The host as configured.
        host: String,
        /// The DNS response code (2 = SERVFAIL, 5 = REFUSED…).
        rcode: u16,
    },
    /// Sending the query or receiving the answer failed.
    #[error("network error resolving trunk host {host}")]
    Network {
        /// The host as configured.
        host: String,
    },
    /// The SRV record's only target is `.`: no SIP service at this domain.
    #[error("trunk host {host} publishes that it offers no SIP service (SRV target \".\")")]
    ServiceNotAvailable {
        /// The host as configured.
        host: String,
    },
    /// The names exist but none resolved to an address.
    #[error("no usable address records for trunk host {host}")]
    NoUsableRecords {
        /// The host as configured.
        host: String,
    },
}

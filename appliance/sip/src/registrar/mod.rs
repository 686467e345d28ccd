//! Sans-IO registrar core (RFC 3261 §10.3, RFC 3327 Path, RFC 3581 rport,
//! RFC 5626-style flows for phones behind NAT).
//!
//! The [`Registrar`] works at the transaction-user level: the shell hands it
//! a parsed REGISTER (after [`crate::validate`] and the server transaction,
//! which absorbs retransmissions), the transport [`Flow`] it came from,
//! `now` (monotonic, for bindings and bans) and `now_unix` (wall clock since
//! the Unix epoch, for digest nonces and the `Date` header). It answers with
//! a complete [`Response`] or [`Outcome::Drop`] for a banned source. Events
//! are drained with [`Registrar::poll_event`]; bindings expire through
//! [`Registrar::poll_timeout`] / [`Registrar::handle_timeout`].
//!
//! # Processing order (RFC 3261 §10.3, with `auth` as its module docs say)
//!
//! 1. Banned source ([`BanTracker::is_banned`]) → [`Outcome::Drop`].
//! 2. Not REGISTER → 405 with `Allow: REGISTER`. Missing or malformed
//!    `Call-ID`, `CSeq` (or its method not REGISTER), `From` or `To` → 400.
//! 3. Request-URI not `sip`/`sips` → 416; its host not one of ours → 403.
//! 4. To not a `sip`/`sips` URI → 400 (RFC 4475 unksm2); To host not ours → 403.
//!    These checks do not depend on the user, so they reveal nothing about
//!    which extensions exist.
//! 5. Digest authentication: no credentials or another scheme (RFC 4475
//!    regaut01) → 401 with our challenge; `Rejected` → the very same 401 and a
//!    failure counted against the source IP (unknown extension and wrong
//!    password are indistinguishable); `Malformed` → 400 and a failure;
//!    `Stale` → 401 with `stale=true`. An authenticated user may only
//!    register its own AOR (username equal to the unescaped To user):
//!    otherwise 403.
//! 6. Contacts: unparseable or not `sip`/`sips` → 400; `*` only alone and
//!    with `Expires: 0` (else 400); a non-zero expiry below `min_expires` →
//!    423 with `Min-Expires`; above `max_expires` it is shortened.
//! 7. Bindings are updated all-or-nothing: an existing binding with the same
//!    `Call-ID` and a `CSeq` not higher aborts the whole request with 500
//!    (RFC 3261 §10.3 step 7). Then, if the AOR has more than `max_contacts`
//!    bindings, the least recently updated are dropped (the usual PBX
//!    behaviour: a phone that re-registered from a new NAT port must not be
//!    locked out by its own stale binding).
//! 8. 200 with every current binding (`Contact: <uri>;params;expires=N`),
//!    `Path` echoed when the request carried `Supported: path`, and `Date`.
//!
//! # Personal data
//!
//! AORs (extension numbers), contact URIs and paths are personal data. The
//! `Debug` impls of [`Binding`] and [`RegistrarEvent`] redact them; the
//! shell must wrap the AOR carried by events (hash or mask it) before
//! logging or exporting it.

mod binding;
mod response;

pub use binding::{Binding, ConnectionId, Flow, TransportKind};
pub use response::{http_date, stamp_via};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::auth::{
    BanEvent, BanSource, BanTracker, Credentials, DigestServer, DigestServerConfig,
    StoredCredential, Verdict,
};
use crate::header::{CSeq, CallId, Contact, Expires, From, NameAddr, Supported, To, TypedHeader};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::uri::{Host, Uri};
use response::{base_response, push_before_length};

/// Settings of a [`Registrar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Digest realm (usually the SIP domain).
    pub realm: String,
    /// Domain names we are registrar for (compared case-insensitively with
    /// the Request-URI and To hosts).
    pub domains: Vec<String>,
    /// Our IP addresses; phones that register to `sip:<ip>` are accepted.
    pub local_addresses: Vec<IpAddr>,
    /// Bindings kept per AOR; the least recently updated are dropped beyond
    /// it. Default 5; 0 acts as 1.
    pub max_contacts: usize,
    /// Per-AOR limits (by the AOR's user part, e.g. an extension number)
    /// that override `max_contacts`.
    pub max_contacts_per_aor: std::collections::HashMap<String, usize>,
    /// Shortest accepted non-zero expiry (423 below). Default 60 s.
    pub min_expires: u32,
    /// Expiry when neither the Contact nor the request gives one. Default 600 s.
    pub default_expires: u32,
    /// Longest granted expiry (longer requests are shortened). Default 3600 s.
    pub max_expires: u32,
    /// Digest settings, including the nonce lifetime (default 300 s) and the
    /// offered algorithms.
    pub digest: DigestServerConfig,
}

impl RegistrarConfig {
    /// Defaults for `realm`, which is also the one served domain.
    pub fn new(realm: impl Into<String>) -> Self {
        let realm = realm.into();
        Self {
            domains: vec![realm.clone()],
            realm,
            local_addresses: Vec::new(),
            max_contacts: 5,
            max_contacts_per_aor: std::collections::HashMap::new(),
            min_expires: 60,
            default_expires: 600,
            max_expires: 3600,
            digest: DigestServerConfig::default(),
        }
    }
}

/// Where the registrar gets stored credentials: extension (the digest
/// username, equal to the unescaped AOR user part) → credential. Implemented
/// for closures `Fn(&str) -> Option<StoredCredential>`.
pub trait CredentialLookup {
    /// The credential of `username`, `None` if the extension does not exist.
    fn credential(&self, username: &str) -> Option<StoredCredential>;
}

impl<F: Fn(&str) -> Option<StoredCredential>> CredentialLookup for F {
    fn credential(&self, username: &str) -> Option<StoredCredential> {
        self(username)
    }
}

/// What to do with a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response (through the server transaction) to the request's
    /// source: the top Via carries `received`/`rport` as needed.
    Respond(Response),
    /// The source is banned: send nothing.
    Drop,
}

impl Outcome {
    /// The response, if any.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Self::Respond(r) => Some(r),
            Self::Drop => None,
        }
    }
}

/// Events for the shell (logging, metrics, the call layer, alerting).
///
/// `aor` is the AOR user (extension number): personal data. `Debug`
/// redacts it; the shell wraps it before logging.
#[derive(Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// A REGISTER added, refreshed or removed bindings and some remain.
    Registered {
        /// The AOR user.
        aor: String,
        /// Bindings now registered for it.
        contacts: usize,
    },
    /// A REGISTER removed the last binding of an AOR.
    Unregistered {
        /// The AOR user.
        aor: String,
    },
    /// A binding reached its expiry without refresh.
    BindingExpired {
        /// The AOR user.
        aor: String,
        /// Bindings left for it.
        remaining: usize,
    },
    /// Bindings were dropped because the AOR exceeded `max_contacts`.
    BindingsEvicted {
        /// The AOR user.
        aor: String,
        /// How many were dropped.
        count: usize,
    },
    /// Wrong credentials (or an unknown extension, indistinguishably) or
    /// malformed credentials from this address.
    AuthFailed {
        /// The packet's source.
        source: std::net::SocketAddr,
    },
    /// The [`BanTracker`] banned a source (log at `warn`).
    SourceBanned {
        /// The banned address or /64.
        source: BanSource,
        /// When the ban ends.
        until: Instant,
    },
    /// A ban ended.
    BanLifted {
        /// The source that may send again.
        source: BanSource,
    },
}

impl fmt::Debug for RegistrarEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: &str = "<redacted>";
        match self {
            Self::Registered { contacts, .. } => f
                .debug_struct("Registered")
                .field("aor", &R)
                .field("contacts", contacts)
                .finish(),
            Self::Unregistered { .. } => f.debug_struct("Unregistered").field("aor", &R).finish(),
            Self::BindingExpired { remaining, .. } => f
                .debug_struct("BindingExpired")
                .field("aor", &R)
                .field("remaining", remaining)
                .finish(),
            Self::BindingsEvicted { count, .. } => f
                .debug_struct("BindingsEvicted")
                .field("aor", &R)
                .field("count", count)
                .finish(),
            Self::AuthFailed { source } => f
                .debug_struct("AuthFailed")
                .field("source", source)
                .finish(),
            Self::SourceBanned { source, until } => f
                .debug_struct("SourceBanned")
                .field("source", source)
                .field("until", until)
                .finish(),
            Self::BanLifted { source } => {
                f.debug_struct("BanLifted").field("source", source).finish()
            }
        }
    }
}

/// A request-level failure: the status and any extra header.
struct Reject {
    status: StatusCode,
    extra: Vec<(HeaderName, String)>,
}

impl Reject {
    fn status(status: StatusCode) -> Self {
        Self {
            status,
            extra: Vec::new(),
        }
    }
}

/// A Contact of the request with its granted expiry (0 = remove).
struct Requested {
    contact: NameAddr,
    expires: u32,
}

/// What a REGISTER asks for.
enum Update {
    /// No Contact: return the current bindings.
    Fetch,
    /// `Contact: *` with `Expires: 0`.
    RemoveAll,
    /// Add, refresh or remove (expiry 0) these contacts.
    Contacts(Vec<Requested>),
}

/// The registrar: bindings per AOR, authentication, NAT flows.
pub struct Registrar {
    config: RegistrarConfig,
    digest: DigestServer,
    bans: BanTracker,
    /// Key for To-tags, derived from the secret.
    tag_key: [u8; 32],
    /// Epoch of the ban tracker's `Duration` clock.
    origin: Instant,
    aors: HashMap<String, Vec<Binding>>,
    events: VecDeque<RegistrarEvent>,
    next_seq: u64,
}

impl fmt::Debug for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("aors", &self.aors.len())
            .field("bans", &self.bans.tracked())
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// A registrar with no bindings.
    ///
    /// `secret` must come from a CSPRNG and be kept across restarts (digest
    /// nonces stay valid); `bans` carries the ban policy; `now` is the
    /// monotonic epoch for the ban tracker.
    pub fn new(config: RegistrarConfig, secret: [u8; 32], bans: BanTracker, now: Instant) -> Self {
        let digest = DigestServer::new(config.realm.clone(), secret, config.digest.clone());
        let mut padded = [0u8; 64];
        padded[..32].copy_from_slice(&secret);
        let mut mac = Hmac::<Sha256>::new(&padded.into());
        mac.update(b"voip-sip registrar tag key v1\0");
        let tag_key: [u8; 32] = mac.finalize().into_bytes().into();
        Self {
            config,
            digest,
            bans,
            tag_key,
            origin: now,
            aors: HashMap::new(),
            events: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Replaces the digest algorithms challenged with and accepted (a
    /// configuration reload).
    pub fn set_digest_algorithms(&mut self, algorithms: Vec<crate::auth::Algorithm>) {
        self.config.digest.algorithms.clone_from(&algorithms);
        self.digest.set_algorithms(algorithms);
    }

    /// The ban tracker.
    pub fn bans(&self) -> &BanTracker {
        &self.bans
    }

    fn ban_clock(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }

    fn instant(&self, ban_time: Duration) -> Instant {
        self.origin.checked_add(ban_time).unwrap_or(self.origin)
    }

    /// Handles one REGISTER from `source` (see the [module docs](self) for
    /// the order of checks).
    pub fn handle_register(
        &mut self,
        req: &Request,
        source: &Flow,
        now: Instant,
        now_unix: Duration,
        credentials: &impl CredentialLookup,
    ) -> Outcome {
        let ip = source.remote.ip();
        if self.bans.is_banned(self.ban_clock(now), ip) {
            return Outcome::Drop;
        }
        let result = self.process(req, source, now, now_unix, credentials);
        self.drain_bans();
        let mut resp = match result {
            Ok(resp) => resp,
            Err(reject) => {
                let mut r = base_response(req, reject.status, source.remote, &self.tag_key);
                for (name, value) in reject.extra {
                    push_before_length(&mut r, name, value);
                }
                r
            }
        };
        if resp.status == StatusCode::OK {
            push_before_length(&mut resp, HeaderName::DATE, http_date(now_unix));
        }
        Outcome::Respond(resp)
    }

    fn process(
        &mut self,
        req: &Request,
        source: &Flow,
        now: Instant,
        now_unix: Duration,
        credentials: &impl CredentialLookup,
    ) -> Result<Response, Reject> {
        let bad = || Reject::status(StatusCode::BAD_REQUEST);
        if req.method != Method::REGISTER {
            return Err(Reject {
                status: StatusCode::METHOD_NOT_ALLOWED,
                extra: vec![(HeaderName::ALLOW, crate::validate::ALLOW.to_owned())],
            });
        }
        let call_id = single::<CallId>(req).ok_or_else(bad)?.0;
        let cseq = single::<CSeq>(req).ok_or_else(bad)?;
        if cseq.method != Method::REGISTER {
            return Err(bad());
        }
        single::<From>(req).ok_or_else(bad)?;
        let to = single::<To>(req).ok_or_else(bad)?;

        // Step 1: the Request-URI names our domain.
        let Uri::Sip(ruri) = &req.uri else {
            return Err(Reject::status(StatusCode::UNSUPPORTED_URI_SCHEME));
        };
        if !self.is_local(&ruri.host) {
            return Err(Reject::status(StatusCode::FORBIDDEN));
        }
        // Step 5 (syntactic part, before authentication): To is a SIP AOR of ours.
        let Uri::Sip(aor_uri) = &to.uri else {
            return Err(bad());
        };
        if !self.is_local(&aor_uri.host) {
            return Err(Reject::status(StatusCode::FORBIDDEN));
        }
        let aor =
            String::from_utf8(aor_uri.user_unescaped().unwrap_or_default()).map_err(|_| bad())?;

        // Step 3 and 4: authentication and authorisation.
        self.authenticate(req, source, now, now_unix, credentials, &aor)?;

        // Step 6: contacts.
        let requested = self.requested_contacts(req)?;
        let supports_path = req
            .headers
            .typed_all::<Supported>()
            .any(|s| s.is_ok_and(|s| s.0.eq_ignore_ascii_case("path")));
        let path: Vec<String> = req
            .headers
            .values(&HeaderName::PATH)
            .map(str::to_owned)
            .collect();

        // Step 7: update all-or-nothing.
        if !matches!(requested, Update::Fetch) {
            self.update_bindings(&aor, requested, &call_id, cseq.seq, source, &path, now)?;
        }

        // Step 8: the current list.
        let mut resp = base_response(req, StatusCode::OK, source.remote, &self.tag_key);
        for b in self.current(&aor, now) {
            push_before_length(&mut resp, HeaderName::CONTACT, b.contact_value(now));
        }
        if supports_path {
            for p in &path {
                push_before_length(&mut resp, HeaderName::PATH, p.clone());
            }
        }
        Ok(resp)
    }

    fn is_local(&self, host: &Host) -> bool {
        match host {
            Host::Domain(d) => self
                .config
                .domains
                .iter()
                .any(|x| x.eq_ignore_ascii_case(d)),
            Host::Ipv4(a) => self.config.local_addresses.contains(&IpAddr::V4(*a)),
            Host::Ipv6(a) => self.config.local_addresses.contains(&IpAddr::V6(*a)),
        }
    }

    fn challenge(&self, now_unix: Duration, stale: bool) -> Reject {
        Reject {
            status: StatusCode::UNAUTHORIZED,
            extra: self
                .digest
                .challenge(now_unix, stale)
                .into_iter()
                .map(|v| (HeaderName::WWW_AUTHENTICATE, v))
                .collect(),
        }
    }

    fn authenticate(
        &mut self,
        req: &Request,
        source: &Flow,
        now: Instant,
        now_unix: Duration,
        credentials: &impl CredentialLookup,
        aor: &str,
    ) -> Result<(), Reject> {
        let values: Vec<&str> = req.headers.get_all(&HeaderName::AUTHORIZATION).collect();
        // Several values: use the one for our realm, else the first.
        let chosen = values
            .iter()
            .find(|v| {
                matches!(Credentials::parse(v), Ok(Credentials::Digest(c)) if c.realm == self.config.realm)
            })
            .or(values.first());
        let Some(value) = chosen else {
            return Err(self.challenge(now_unix, false));
        };
        let verdict = self
            .digest
            .verify(now_unix, "REGISTER", value, |u| credentials.credential(u));
        let ban_now = self.ban_clock(now);
        let ip = source.remote.ip();
        match verdict {
            Verdict::Authenticated { username, .. } => {
                self.bans.record_success(ban_now, ip);
                if username == aor {
                    Ok(())
                } else {
                    Err(Reject::status(StatusCode::FORBIDDEN))
                }
            }
            Verdict::Stale => Err(self.challenge(now_unix, true)),
            Verdict::OtherScheme => Err(self.challenge(now_unix, false)),
            Verdict::Rejected => {
                self.bans.record_failure(ban_now, ip);
                self.events.push_back(RegistrarEvent::AuthFailed {
                    source: source.remote,
                });
                Err(self.challenge(now_unix, false))
            }
            Verdict::Malformed(_) => {
                self.bans.record_failure(ban_now, ip);
                self.events.push_back(RegistrarEvent::AuthFailed {
                    source: source.remote,
                });
                Err(Reject::status(StatusCode::BAD_REQUEST))
            }
        }
    }

    /// What the request asks for: a fetch, removal of all bindings, or the
    /// listed Contacts with their granted expiries.
    fn requested_contacts(&self, req: &Request) -> Result<Update, Reject> {
        let bad = || Reject::status(StatusCode::BAD_REQUEST);
        let header_expires = match req.headers.typed::<Expires>() {
            None => None,
            Some(Ok(e)) => Some(e.0),
            Some(Err(_)) => return Err(bad()),
        };
        let contacts: Vec<Contact> = req
            .headers
            .typed_all::<Contact>()
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if contacts.is_empty() {
            return Ok(Update::Fetch);
        }
        if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
            // RFC 3261 §10.3 step 6.
            return if contacts.len() == 1 && header_expires == Some(0) {
                Ok(Update::RemoveAll)
            } else {
                Err(bad())
            };
        }
        let mut out = Vec::with_capacity(contacts.len());
        let mut too_brief = false;
        for c in contacts {
            let Contact::Address(mut contact) = c else {
                return Err(bad());
            };
            if !matches!(contact.uri, Uri::Sip(_)) {
                return Err(bad());
            }
            let asked = contact
                .expires()
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            let expires = if asked == 0 {
                0
            } else if asked < self.config.min_expires {
                too_brief = true;
                0
            } else {
                asked.min(self.config.max_expires.max(self.config.min_expires))
            };
            contact
                .params
                .retain(|p| !p.name.eq_ignore_ascii_case("expires"));
            out.push(Requested { contact, expires });
        }
        if too_brief {
            return Err(Reject {
                status: StatusCode::INTERVAL_TOO_BRIEF,
                extra: vec![(HeaderName::MIN_EXPIRES, self.config.min_expires.to_string())],
            });
        }
        Ok(Update::Contacts(out))
    }

    #[allow(clippy::too_many_arguments)]
    fn update_bindings(
        &mut self,
        aor: &str,
        update: Update,
        call_id: &str,
        cseq: u32,
        source: &Flow,
        path: &[String],
        now: Instant,
    ) -> Result<(), Reject> {
        let abort = || Reject::status(StatusCode::SERVER_INTERNAL_ERROR);
        let before: Vec<Binding> = self.current(aor, now);
        let had = before.len();
        let first_seq = self.next_seq;
        let mut seq = first_seq;
        let mut working = before;
        let requested = match update {
            Update::Fetch => return Ok(()),
            Update::RemoveAll => {
                // RFC 3261 §10.3 step 6: the same CSeq rule for every binding.
                if working
                    .iter()
                    .any(|b| b.call_id == call_id && cseq <= b.cseq)
                {
                    return Err(abort());
                }
                working.clear();
                Vec::new()
            }
            Update::Contacts(c) => c,
        };
        for r in requested {
            let instance = param_value(&r.contact, "+sip.instance");
            let reg_id = param_value(&r.contact, "reg-id");
            let found = working
                .iter()
                .position(|b| b.matches(&r.contact.uri, instance.as_deref(), reg_id.as_deref()));
            if let Some(i) = found {
                let b = &working[i];
                // A binding touched earlier in this same request is simply updated.
                if b.seq < first_seq && b.call_id == call_id && cseq <= b.cseq {
                    return Err(abort());
                }
                if r.expires == 0 {
                    working.remove(i);
                    continue;
                }
            } else if r.expires == 0 {
                continue;
            }
            let binding = Binding {
                q: r.contact.q().unwrap_or(1000),
                contact: r.contact,
                expires_at: now
                    .checked_add(Duration::from_secs(u64::from(r.expires)))
                    .unwrap_or(now),
                updated: now,
                call_id: call_id.to_owned(),
                cseq,
                flow: *source,
                path: path.to_vec(),
                instance,
                reg_id,
                seq,
            };
            seq += 1;
            match found {
                Some(i) => working[i] = binding,
                None => working.push(binding),
            }
        }
        // Over the limit: drop the least recently updated.
        let max = self
            .config
            .max_contacts_per_aor
            .get(aor)
            .copied()
            .unwrap_or(self.config.max_contacts)
            .max(1);
        let mut evicted = 0;
        while working.len() > max {
            if let Some(i) = working
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.seq)
                .map(|(i, _)| i)
            {
                working.remove(i);
                evicted += 1;
            }
        }
        // Commit.
        self.next_seq = seq;
        if evicted > 0 {
            self.events.push_back(RegistrarEvent::BindingsEvicted {
                aor: aor.to_owned(),
                count: evicted,
            });
        }
        let now_count = working.len();
        if working.is_empty() {
            self.aors.remove(aor);
            if had > 0 {
                self.events.push_back(RegistrarEvent::Unregistered {
                    aor: aor.to_owned(),
                });
            }
        } else {
            self.aors.insert(aor.to_owned(), working);
            self.events.push_back(RegistrarEvent::Registered {
                aor: aor.to_owned(),
                contacts: now_count,
            });
        }
        Ok(())
    }

    /// The unexpired bindings of `aor` at `now`, in storage order.
    fn current(&self, aor: &str, now: Instant) -> Vec<Binding> {
        self.aors
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// The bindings of the AOR user `aor` (unescaped user part, e.g. `"201"`)
    /// unexpired at `now`, ordered by `q` (highest first) then most recent
    /// update first. For the call layer: reach each through its
    /// [`Binding::flow`] and [`Binding::path`].
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let mut v = self.current(aor, now);
        v.sort_by(|a, b| b.q.cmp(&a.q).then(b.seq.cmp(&a.seq)));
        v
    }

    /// Number of AORs with at least one binding (expired ones not yet
    /// removed by [`Self::handle_timeout`] included).
    pub fn aor_count(&self) -> usize {
        self.aors.len()
    }

    /// When [`Self::handle_timeout`] should run next: the earliest binding
    /// expiry or ban end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bindings = self.aors.values().flatten().map(|b| b.expires_at).min();
        let ban = self.bans.poll_timeout().map(|d| self.instant(d));
        match (bindings, ban) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes bindings whose expiry is at or before `now` (queuing
    /// [`RegistrarEvent::BindingExpired`]) and ends due bans. A binding that
    /// expired before this ran is already invisible to [`Self::lookup`] and
    /// REGISTER answers; a REGISTER for its AOR in that gap drops it without
    /// a `BindingExpired` event.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired: Vec<(String, usize)> = Vec::new();
        self.aors.retain(|aor, bindings| {
            let before = bindings.len();
            bindings.retain(|b| b.expires_at > now);
            let remaining = bindings.len();
            for _ in remaining..before {
                expired.push((aor.clone(), remaining));
            }
            remaining > 0
        });
        expired.sort();
        for (aor, remaining) in expired {
            self.events
                .push_back(RegistrarEvent::BindingExpired { aor, remaining });
        }
        self.bans.handle_timeout(self.ban_clock(now));
        self.drain_bans();
    }

    /// The next queued event. Drain after every call.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    fn drain_bans(&mut self) {
        while let Some(e) = self.bans.poll_event() {
            let event = match e {
                BanEvent::SourceBanned { source, until } => RegistrarEvent::SourceBanned {
                    source,
                    until: self.instant(until),
                },
                BanEvent::BanLifted { source } => RegistrarEvent::BanLifted { source },
            };
            self.events.push_back(event);
        }
    }
}

/// Parses the single value of a mandatory header; `None` when it is
/// missing, malformed or repeated.
fn single<T: TypedHeader>(req: &Request) -> Option<T> {
    let mut values = req.headers.values(&T::NAME);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    T::parse(first).ok()
}

fn param_value(contact: &NameAddr, name: &str) -> Option<String> {
    contact.param(name).and_then(|p| p.value.clone())
}

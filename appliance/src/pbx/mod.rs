//! The appliance's SIP behaviour as one sans-IO core: [`Pbx`] composes the
//! transaction layer, the registrar, the B2BUA, one trunk core per trunk and
//! the routing state. The shell feeds it parsed, validated messages with the
//! flow they came in on, timer expiry and media port allocations, and
//! drains [`Transmit`]s, [`MediaCommand`]s, call records and [`PbxEvent`]s.
//! It never touches a socket or reads a clock.
//!
//! # Time
//!
//! Every input carries `now` (monotonic) and `now_unix` (wall clock since
//! the Unix epoch). The latest pair is kept as an anchor to convert the
//! B2BUA's `Instant`s into the `OffsetDateTime`s of the call record
//! (`wall(t) = now_unix − (now − t)`), so a CDR carries the wall time as
//! seen at the last input before the call ended. The local date used for
//! daily minutes is the wall time at the offset set with
//! [`Pbx::set_utc_offset`] (UTC until the shell sets it; the shell updates
//! it at DST changes). Digest nonces use `now_unix`; the ban tracker and the
//! trunk cores use the time since the `now` given to [`Pbx::new`].
//!
//! # Dispatch of requests (after the transaction layer)
//!
//! 1. A source banned by the shared ban tracker: everything (requests and
//!    responses) is dropped silently, before the transaction layer.
//! 2. `REGISTER` → the registrar (the digest username is the extension
//!    number; its password is the extension's `credentials` entry of the
//!    secrets file). A failure it reports counts into the shared tracker.
//! 3. A request with a To tag (in-dialog: BYE, re-INVITE, INFO, UPDATE, ...)
//!    and every `CANCEL` → the B2BUA, without authentication.
//! 4. A new `INVITE` from a trunk's address (see below) → the B2BUA, routed
//!    by DID. Any other new `INVITE` must carry a valid `Proxy-Authorization`
//!    for our realm (same realm, nonce secret and semantics as the
//!    registrar): none → 407 with `Proxy-Authenticate` (not a failure); wrong
//!    → 407 and a failure counted into the tracker; malformed → 400 and a
//!    failure; stale → 407 `stale=true`; correct credentials computed for
//!    another Request-URI (digest `uri`) → 407, not counted. The
//!    authenticated user is the calling extension, whatever the From header
//!    says. Nonces are stateless (see `voip_sip::auth::DigestServer`), so an
//!    answer can be replayed to the same Request-URI while its nonce is
//!    fresh (5 minutes); use TLS where that matters.
//! 5. `OPTIONS` out of dialog → 200 with `Allow`, `Accept` and `Supported`
//!    (no `Server` header). `BYE`, `INFO` and `UPDATE` out of dialog → the
//!    B2BUA (481). Any other method → 501 with `Allow`.
//!
//! Responses go to the client transaction that sent the request, then to its
//! owner (the B2BUA or a trunk core).
//!
//! # Trunks
//!
//! A trunk is recognised by the source IP of a request: inside one of its
//! `allowed_sources` when the site configuration lists them, else equal to
//! the IP of one of the trunk's resolved addresses
//! ([`Pbx::set_trunk_addresses`]; a host that is an IP literal counts as
//! resolved from the start, on its configured port or the transport's
//! default port). Requests to a trunk (calls, REGISTER, OPTIONS) go to its
//! first resolved socket address: the shell resolves with RFC 3263, so with
//! no configured port that is the SRV target's port. The Request-URI
//! carries the configured port; a host name without a configured port gets
//! none (RFC 3263 §4.2: the far end may then use SRV as well), an IP
//! literal without one gets the transport's default port.
//!
//! A trunk core runs for each trunk with `register = true` or an OPTIONS
//! keep-alive, from the moment its address is known; its requests go out
//! as client transactions, its `is_up()` feeds
//! [`RoutingState::set_trunk_up`]. A trunk whose credentials entry is
//! missing gets no core and counts as down.
//!
//! # Routing
//!
//! [`RoutingState::route`] decides; the decision becomes the B2BUA's:
//! - `Extension` → one group forking to every current binding of the
//!   extension: Request-URI = the registered contact, destination = the flow
//!   the REGISTER came from (NAT-friendly), caller id = the caller's
//!   extension (or the From user of a trunk call). No binding → 480
//!   Temporarily Unavailable with code `NO_ANSWER` (the catalogue's 480).
//! - `Trunks` → one group per trunk in failover order: Request-URI
//!   `sip:{dial}@{host}:{port}` (`;transport=tcp|tls` when not UDP),
//!   credentials from the secrets file (the entry's `username` overrides the
//!   trunk's). Caller id: the trunk's DID that rings the calling extension,
//!   else the trunk's first DID, else the extension number. No trunk with an
//!   address → 503 `TRUNK_UNAVAILABLE` (`emergency.no_trunk` for 112).
//! - `EchoTest` and `Reject` map one to one.
//!
//! Registered bindings' `Path` sets are not used (the B2BUA target has no
//! route set). The B2BUA writes one `Via`/`Contact` for all legs: the first
//! UDP address (else TCP, else TLS) of [`LocalAddrs`].
//!
//! # Calls and records
//!
//! Each call gets a random 16-hex-digit id (the CDR's `call_id`, also in
//! [`MediaCommand::Allocate`] for telemetry). Non-rejected calls are booked
//! with [`RoutingState::call_started`] and ended with the B2BUA's talk time.
//! Every call the B2BUA ends yields one [`CallRecord`] ([`Pbx::poll_record`]).
//!
//! # Bans
//!
//! One [`BanTracker`] (the site's `registrar_ban` policy, trunk networks
//! allow-listed) counts REGISTER and INVITE failures together. The
//! registrar's own tracker is configured never to ban; its `AuthFailed`
//! events feed the shared one.
//!
//! # Reload
//!
//! [`Pbx::reload`] is minimal: calls routed after it use the new site
//! configuration and secrets; calls in progress keep their legs. Trunk
//! cores whose trunk (or credentials) changed or disappeared are stopped
//! (they unregister) and replaced; unchanged ones keep running. The
//! registrar (realm, bindings, contact limit) and the ban policy keep their
//! values from [`Pbx::new`].

mod record;
mod types;

pub use types::{LocalAddrs, MediaCommand, PbxEvent, SharedRng, Transmit};

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use time::{OffsetDateTime, UtcOffset};
use voip_shared::error::ErrorCode;
use voip_shared::mqtt::CallRecord;
use voip_shared::site_config::{
    Codec as SiteCodec, DigestAlgorithm, RecordingPolicy, SiteConfig, Transport, Trunk,
};

use voip_sip::auth::{
    BanConfig, BanEvent, BanTracker, Cidr as BanCidr, Credentials, DigestServer,
    DigestServerConfig, StoredCredential, Verdict,
};
use voip_sip::b2bua::{
    B2bua, B2buaConfig, CallRef, ClientTx, Command, Entropy, Event, MediaInstruction, MediaPorts,
    RouteDecision as B2bDecision, Target, TargetCredentials,
};
use voip_sip::header::{CSeq, To};
use voip_sip::message::{HeaderName, Method, Request, Response, SipMessage, StatusCode};
use voip_sip::registrar::{
    Flow, Outcome, Registrar, RegistrarConfig, RegistrarEvent, TransportKind,
};
use voip_sip::transaction::{
    ClientEvent, Destination, LayerConfig, Reliability, ServerEvent, TimerConfig, TransactionEvent,
    TransactionId, TransactionLayer, response_to,
};
use voip_sip::trunk::{TrunkConfig, TrunkCore, TrunkState, TrunkTransport};
use voip_sip::uri::Uri;

use crate::routing::{CallRequest, Origin, RouteDecision, RouteOutcome, RoutingState};
use crate::secrets::Secrets;
use types::{flow_tag, untag};

/// Methods we implement (the `Allow` of OPTIONS answers and 501s): the one
/// appliance-wide list, [`voip_sip::validate::ALLOW`].
pub const ALLOW: &str = voip_sip::validate::ALLOW;
/// Option tags we support (`Supported` of OPTIONS answers).
pub const SUPPORTED: &str = "path, timer";

/// Who placed a call, as established before the B2BUA saw it.
#[derive(Debug, Clone)]
enum CallerOrigin {
    /// An authenticated extension.
    Extension(String),
    /// A trunk, recognised by source address.
    Trunk {
        trunk_id: String,
        /// The To user (the DID as the provider sent it).
        did: String,
    },
}

/// What the core keeps per call.
#[derive(Debug)]
struct CallInfo {
    call_id: String,
    origin: CallerOrigin,
    outcome: Option<RouteOutcome>,
    /// The party the route reached (extension, dialled E.164, echo number).
    callee: String,
    booked: bool,
    /// The recording policy resolved when the call was routed.
    recording: Option<RecordingPolicy>,
}

/// Who owns a client transaction.
#[derive(Debug, Clone)]
enum Owner {
    B2b(ClientTx),
    Trunk { key: u64, cseq: CSeq },
}

#[derive(Debug)]
struct ClientEntry {
    owner: Owner,
    destination: Destination,
}

/// A trunk core and what it was built from.
struct TrunkSlot<R> {
    key: u64,
    trunk_id: String,
    /// The trunk and its password, to detect changes on reload.
    built_from: (Trunk, Option<(Option<String>, String)>),
    core: TrunkCore<SharedRng<R>>,
    started: bool,
    retiring: bool,
    last_up: Option<bool>,
}

/// The sans-IO PBX core. See the [module documentation](self).
pub struct Pbx<R> {
    site: SiteConfig,
    secrets: Secrets,
    local: LocalAddrs,
    origin: Instant,
    anchor: (Instant, Duration),
    utc_offset: UtcOffset,
    rng: SharedRng<R>,
    layer: TransactionLayer,
    registrar: Registrar,
    digest: DigestServer,
    bans: BanTracker,
    b2b: B2bua<SharedRng<R>>,
    routing: RoutingState,
    trunks: Vec<TrunkSlot<R>>,
    next_trunk_key: u64,
    trunk_addrs: HashMap<String, Vec<SocketAddr>>,
    clients: HashMap<TransactionId, ClientEntry>,
    calls: HashMap<CallRef, CallInfo>,
    next_origin: Option<CallerOrigin>,
    transmits: VecDeque<Transmit>,
    media: VecDeque<MediaCommand>,
    records: VecDeque<CallRecord>,
    events: VecDeque<PbxEvent>,
}

impl<R> std::fmt::Debug for Pbx<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pbx")
            .field("transactions", &self.layer.len())
            .field("calls", &self.calls.len())
            .field("trunks", &self.trunks.len())
            .finish_non_exhaustive()
    }
}

fn reliability(transport: TransportKind) -> Reliability {
    if transport.is_connection_oriented() {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

fn destination_of(flow: &Flow) -> Destination {
    Destination {
        addr: flow.remote,
        flow: flow_tag(flow.transport, flow.connection),
    }
}

fn flow_of(d: Destination) -> Flow {
    let (transport, connection) = untag(d);
    Flow {
        transport,
        remote: d.addr,
        connection,
    }
}

fn transport_kind(t: Transport) -> TransportKind {
    match t {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
    }
}

fn has_to_tag(request: &Request) -> bool {
    request
        .headers
        .typed::<To>()
        .and_then(Result::ok)
        .is_some_and(|t| t.tag().is_some())
}

/// The user part of the To header, empty if none.
fn to_user(request: &Request) -> String {
    request
        .headers
        .typed::<To>()
        .and_then(Result::ok)
        .and_then(|t| t.uri.as_sip().and_then(|u| u.user.clone()))
        .unwrap_or_default()
}

/// `host` as written in a URI (IPv6 literals bracketed).
fn uri_host(host: &str) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The socket address of a trunk whose host is an IP literal: the
/// configured port, else the transport's default port. `None` for a name.
fn literal_addr(trunk: &Trunk) -> Option<SocketAddr> {
    let ip = trunk.host.parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, trunk.port_or_default()))
}

/// The port written in Request-URIs towards a trunk: the configured one; an
/// IP literal without one gets the transport's default; a host name without
/// one gets none (RFC 3263 §4.2).
fn uri_port(trunk: &Trunk) -> Option<u16> {
    match trunk.port {
        Some(port) => Some(port),
        None => literal_addr(trunk).map(|a| a.port()),
    }
}

fn ban_config(site: &SiteConfig) -> BanConfig {
    let mut allowlist = Vec::new();
    for trunk in &site.trunks {
        for cidr in trunk.allowed_sources.iter().flatten() {
            if let Ok(c) = BanCidr::new(cidr.addr(), cidr.prefix_len()) {
                allowlist.push(c);
            }
        }
    }
    BanConfig {
        max_failures: site.registrar_ban.max_failures,
        window: site.registrar_ban.window,
        ban: site.registrar_ban.ban,
        allowlist,
        ..BanConfig::default()
    }
}

fn hex(rng: &mut impl Entropy, n: usize) -> String {
    use std::fmt::Write as _;
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes);
    let mut s = String::with_capacity(2 * n);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl<R: Entropy> Pbx<R> {
    /// A core for `site`. `secret` keys the digest nonces and must come from
    /// a CSPRNG and survive restarts; `rng` must be a CSPRNG (Call-IDs, tags,
    /// branches, cnonces). Trunks whose host is an IP literal start
    /// registering at once (their first requests are queued).
    pub fn new(
        site: SiteConfig,
        secrets: Secrets,
        local: LocalAddrs,
        secret: [u8; 32],
        now: Instant,
        now_unix: Duration,
        rng: R,
    ) -> Self {
        let rng = SharedRng::new(rng);
        let realm = site.tenant.clone();
        let mut reg_config = RegistrarConfig::new(realm.clone());
        reg_config.digest = digest_config(&site);
        reg_config.domains.clone_from(&local.domains);
        reg_config.local_addresses = local.sip.iter().map(|(_, a)| a.ip()).collect();
        reg_config.local_addresses.push(local.media_ip);
        reg_config
            .local_addresses
            .extend(local.other_ips.iter().copied());
        reg_config.max_contacts_per_aor = site
            .extensions
            .iter()
            .map(|e| (e.number.clone(), e.max_contacts as usize))
            .collect();
        // The registrar's own tracker never bans: the shared one below does.
        let registrar_bans = BanTracker::new(BanConfig {
            max_failures: u32::MAX,
            ..BanConfig::default()
        });
        let registrar = Registrar::new(reg_config, secret, registrar_bans, now);
        let digest = DigestServer::new(realm, secret, digest_config(&site));
        let (via_transport, via_addr) = local
            .preferred()
            .unwrap_or((TransportKind::Udp, SocketAddr::new(local.media_ip, 5060)));
        let b2b_config = B2buaConfig {
            via_sent_by: via_addr.to_string(),
            via_transport: via_token(via_transport).to_owned(),
            local_host: via_addr.to_string(),
            media_address: local.media_ip,
            timers: TimerConfig::default(),
            // The engine transcodes calls whose legs have no codec in
            // common (media_relay's transcoding task).
            transcoding: true,
        };
        let mut pbx = Pbx {
            bans: BanTracker::new(ban_config(&site)),
            site,
            secrets,
            local,
            origin: now,
            anchor: (now, now_unix),
            utc_offset: UtcOffset::UTC,
            b2b: B2bua::new(b2b_config, rng.clone()),
            rng,
            layer: TransactionLayer::new(LayerConfig {
                max_transactions: MAX_TRANSACTIONS,
                ..LayerConfig::default()
            }),
            registrar,
            digest,
            routing: RoutingState::new(),
            trunks: Vec::new(),
            next_trunk_key: 0,
            trunk_addrs: HashMap::new(),
            clients: HashMap::new(),
            calls: HashMap::new(),
            next_origin: None,
            transmits: VecDeque::new(),
            media: VecDeque::new(),
            records: VecDeque::new(),
            events: VecDeque::new(),
        };
        for trunk in pbx.site.trunks.clone() {
            if let Some(addr) = literal_addr(&trunk) {
                pbx.trunk_addrs.insert(trunk.id.clone(), vec![addr]);
            }
            pbx.add_trunk_core(&trunk);
        }
        pbx.start_trunks(now);
        pbx.pump(now);
        pbx
    }

    /// The local UTC offset for the date daily minutes are counted on.
    pub fn set_utc_offset(&mut self, offset: UtcOffset) {
        self.utc_offset = offset;
    }

    /// The live routing state (trunk up/down, active calls, minutes).
    pub fn routing(&self) -> &RoutingState {
        &self.routing
    }

    /// The registrar (bindings lookup for the shell's status page).
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The shared ban tracker.
    pub fn bans(&self) -> &BanTracker {
        &self.bans
    }

    /// The site configuration in force for new calls.
    pub fn site(&self) -> &SiteConfig {
        &self.site
    }

    /// The shell resolved trunk `trunk_id`'s host to `addrs` (first =
    /// preferred), each with the port to send to (the SRV target's port when
    /// the trunk has no configured port). Starts the trunk's core once an
    /// address is known. Inbound trunk recognition uses only the IPs.
    pub fn set_trunk_addresses(
        &mut self,
        now: Instant,
        now_unix: Duration,
        trunk_id: &str,
        addrs: Vec<SocketAddr>,
    ) {
        self.anchor = (now, now_unix);
        self.trunk_addrs.insert(trunk_id.to_owned(), addrs);
        self.start_trunks(now);
        self.pump(now);
    }

    /// A message from the network (already framed and validated by the
    /// transport shell) arrived over `flow`.
    pub fn handle_inbound(
        &mut self,
        now: Instant,
        now_unix: Duration,
        message: SipMessage,
        flow: Flow,
    ) {
        self.anchor = (now, now_unix);
        if self.bans.is_banned(self.ban_clock(now), flow.remote.ip()) {
            return;
        }
        match message {
            SipMessage::Request(request) => {
                self.layer.handle_request(
                    now,
                    request,
                    destination_of(&flow),
                    reliability(flow.transport),
                );
            }
            SipMessage::Response(response) => {
                self.layer.handle_response(now, response);
            }
        }
        self.pump(now);
    }

    /// Fires every timer due at `now` (call [`Pbx::poll_timeout`] for when).
    pub fn handle_timeout(&mut self, now: Instant, now_unix: Duration) {
        self.anchor = (now, now_unix);
        self.layer.handle_timeout(now);
        self.b2b.handle_timeout(now);
        self.registrar.handle_timeout(now);
        let clock = self.ban_clock(now);
        self.bans.handle_timeout(clock);
        for slot in &mut self.trunks {
            if slot.started {
                slot.core.handle_timeout(clock);
            }
        }
        self.pump(now);
    }

    /// The shell allocated the local ports of `call`.
    pub fn handle_media_allocated(&mut self, now: Instant, call: CallRef, ports: MediaPorts) {
        self.b2b.handle_media_allocated(now, call, ports);
        self.pump(now);
    }

    /// The shell could not allocate media ports for `call`: it is refused
    /// with 503 (`media.ports_exhausted`).
    pub fn handle_media_unavailable(&mut self, now: Instant, call: CallRef) {
        self.b2b.handle_media_unavailable(
            now,
            call,
            voip_shared::error::ErrorCode::MediaPortsExhausted.as_str(),
        );
        self.pump(now);
    }

    /// The relay saw no media for the site's media timeout: both sides get BYE.
    pub fn handle_media_timeout(&mut self, now: Instant, call: CallRef) {
        self.b2b.handle_media_timeout(now, call);
        self.pump(now);
    }

    /// The shell could not send to `destination` over `transport` /
    /// `connection` (connection refused or closed, ICMP unreachable): every
    /// live client transaction towards it fails with a transport error.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        transport: TransportKind,
        connection: Option<voip_sip::registrar::ConnectionId>,
    ) {
        let failed: Vec<TransactionId> = self
            .clients
            .iter()
            .filter(|(_, e)| {
                let (t, c) = untag(e.destination);
                e.destination.addr == destination
                    && t == transport
                    && (connection.is_none() || c.is_none() || c == connection)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in failed {
            self.layer.handle_transport_error(now, id);
        }
        self.pump(now);
    }

    /// A stream connection we opened to `destination` closed (the provider
    /// or the network dropped it). A TCP/TLS trunk that sends to
    /// `destination` re-registers at once, not at its next refresh: its
    /// binding (RFC 5626 flow) is gone with the connection. A failing
    /// re-registration is retried with the trunk core's backoff.
    /// Transactions on that flow fail as for
    /// [`Pbx::handle_transport_error`].
    pub fn handle_connection_closed(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        transport: TransportKind,
    ) {
        if transport != TransportKind::Udp {
            let clock = self.ban_clock(now);
            let hit: Vec<String> = self
                .site
                .trunks
                .iter()
                .filter(|t| transport_kind(t.transport) == transport)
                .filter(|t| {
                    self.trunk_destination(t)
                        .is_some_and(|d| d.addr == destination)
                })
                .map(|t| t.id.clone())
                .collect();
            for slot in &mut self.trunks {
                if !slot.retiring && slot.started && hit.contains(&slot.trunk_id) {
                    slot.core.handle_transport_error(clock);
                }
            }
        }
        self.handle_transport_error(now, destination, transport, None);
    }

    /// New configuration and secrets; see the module docs for what changes.
    pub fn reload(&mut self, now: Instant, now_unix: Duration, site: SiteConfig, secrets: Secrets) {
        self.anchor = (now, now_unix);
        let old_hosts: HashMap<String, (String, Option<u16>)> = self
            .site
            .trunks
            .iter()
            .map(|t| (t.id.clone(), (t.host.clone(), t.port)))
            .collect();
        self.site = site;
        self.secrets = secrets;
        let algorithms = digest_config(&self.site).algorithms;
        self.registrar.set_digest_algorithms(algorithms.clone());
        self.digest.set_algorithms(algorithms);
        let clock = self.ban_clock(now);
        let wanted: Vec<Trunk> = self.site.trunks.clone();
        let mut keep = Vec::new();
        for slot in &mut self.trunks {
            if slot.retiring {
                continue;
            }
            let current = wanted.iter().find(|t| t.id == slot.trunk_id);
            let unchanged = current
                .is_some_and(|t| slot.built_from == (t.clone(), credential_of(&self.secrets, t)));
            if unchanged {
                keep.push(slot.trunk_id.clone());
            } else {
                slot.retiring = true;
                slot.core.stop(clock);
            }
        }
        for trunk in &wanted {
            if let Some(addr) = literal_addr(trunk) {
                self.trunk_addrs.insert(trunk.id.clone(), vec![addr]);
            } else if old_hosts.get(&trunk.id) != Some(&(trunk.host.clone(), trunk.port)) {
                // A new host name or port: the old addresses no longer
                // apply; the shell resolves it and calls
                // `set_trunk_addresses`.
                self.trunk_addrs.remove(&trunk.id);
            }
            if !keep.contains(&trunk.id) {
                self.add_trunk_core(trunk);
            }
        }
        self.start_trunks(now);
        self.pump(now);
    }

    /// The earliest instant [`Pbx::handle_timeout`] must be called at.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let origin = self.origin;
        let at = |d: Duration| origin.checked_add(d);
        [
            self.layer.poll_timeout(),
            self.b2b.poll_timeout(),
            self.registrar.poll_timeout(),
            self.bans.poll_timeout().and_then(at),
        ]
        .into_iter()
        .chain(
            self.trunks
                .iter()
                .filter(|s| s.started)
                .map(|s| s.core.poll_timeout().and_then(at)),
        )
        .flatten()
        .min()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next media instruction.
    pub fn poll_media(&mut self) -> Option<MediaCommand> {
        self.media.pop_front()
    }

    /// The next call record (one per ended call) for the store.
    pub fn poll_record(&mut self) -> Option<CallRecord> {
        self.records.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PbxEvent> {
        self.events.pop_front()
    }

    fn ban_clock(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }

    /// Converts a monotonic instant to wall time with the latest anchor.
    fn wall(&self, t: Instant) -> OffsetDateTime {
        let (a_now, a_unix) = self.anchor;
        let unix = if t <= a_now {
            a_unix.saturating_sub(a_now - t)
        } else {
            a_unix.saturating_add(t - a_now)
        };
        let nanos = i128::try_from(unix.as_nanos()).unwrap_or(0);
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn today(&self, now: Instant) -> time::Date {
        self.wall(now).to_offset(self.utc_offset).date()
    }

    // ---- trunks --------------------------------------------------------

    fn add_trunk_core(&mut self, trunk: &Trunk) {
        if !trunk.register && trunk.options_interval.is_none() {
            return;
        }
        let Some(cred) = credential_of(&self.secrets, trunk) else {
            self.events.push_back(PbxEvent::TrunkConfigRejected {
                trunk_id: trunk.id.clone(),
                error: None,
            });
            self.routing.set_trunk_up(&trunk.id, false);
            return;
        };
        let kind = transport_kind(trunk.transport);
        let local = self
            .local
            .first(kind)
            .or_else(|| self.local.preferred().map(|(_, a)| a))
            .unwrap_or_else(|| SocketAddr::new(self.local.media_ip, 5060));
        let transport_param = match trunk.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        let contact = Uri::parse(&format!("sip:{}@{local}{transport_param}", trunk.username))
            .ok()
            .and_then(|u| u.as_sip().cloned());
        let Some(contact) = contact else {
            self.events.push_back(PbxEvent::TrunkConfigRejected {
                trunk_id: trunk.id.clone(),
                error: None,
            });
            return;
        };
        let mut config = TrunkConfig::new(
            trunk.host.clone(),
            trunk.username.clone(),
            voip_sip::trunk::Secret::new(cred.1.clone()),
            contact,
        );
        config.registrar_port = uri_port(trunk);
        config.transport = match trunk.transport {
            Transport::Udp => TrunkTransport::Udp,
            Transport::Tcp => TrunkTransport::Tcp,
            Transport::Tls => TrunkTransport::Tls,
        };
        if let Some(user) = &cred.0 {
            config.auth_username.clone_from(user);
        }
        config.realm.clone_from(&trunk.realm);
        config.expiry = trunk.register_expiry;
        config.keepalive_interval = trunk.options_interval.unwrap_or(Duration::ZERO);
        config.via_sent_by = Some(local.to_string());
        config.register = trunk.register;
        match TrunkCore::new(config, self.rng.clone()) {
            Ok(core) => {
                let key = self.next_trunk_key;
                self.next_trunk_key += 1;
                self.trunks.push(TrunkSlot {
                    key,
                    trunk_id: trunk.id.clone(),
                    built_from: (trunk.clone(), Some(cred)),
                    core,
                    started: false,
                    retiring: false,
                    last_up: None,
                });
            }
            Err(error) => {
                self.events.push_back(PbxEvent::TrunkConfigRejected {
                    trunk_id: trunk.id.clone(),
                    error: Some(error),
                });
                self.routing.set_trunk_up(&trunk.id, false);
            }
        }
    }

    fn start_trunks(&mut self, now: Instant) {
        let clock = self.ban_clock(now);
        for slot in &mut self.trunks {
            if !slot.started
                && !slot.retiring
                && self
                    .trunk_addrs
                    .get(&slot.trunk_id)
                    .is_some_and(|a| !a.is_empty())
            {
                slot.started = true;
                slot.core.start(clock);
            }
        }
    }

    /// Where to send to trunk `id`: its first resolved socket address.
    fn trunk_destination(&self, trunk: &Trunk) -> Option<Destination> {
        let addr = *self.trunk_addrs.get(&trunk.id)?.first()?;
        Some(Destination {
            addr,
            flow: flow_tag(transport_kind(trunk.transport), None),
        })
    }

    /// The trunk whose addresses include `ip` (see the module docs).
    fn trunk_of_source(&self, ip: IpAddr) -> Option<&Trunk> {
        let ip = ip.to_canonical();
        self.site.trunks.iter().find(|t| match &t.allowed_sources {
            Some(cidrs) => cidrs.iter().any(|c| c.contains(ip)),
            None => self
                .trunk_addrs
                .get(&t.id)
                .is_some_and(|a| a.iter().any(|x| x.ip().to_canonical() == ip)),
        })
    }

    // ---- the pump ------------------------------------------------------

    /// Moves outputs between the cores until nothing moves.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.layer.poll_event() {
                progressed = true;
                self.on_transaction_event(now, ev);
            }
            progressed |= self.drain_b2b(now);
            progressed |= self.drain_trunks(now);
            progressed |= self.drain_registrar(now);
            while let Some(t) = self.layer.poll_transmit() {
                progressed = true;
                let (transport, connection) = untag(t.destination);
                self.transmits.push_back(Transmit {
                    message: t.message,
                    destination: t.destination.addr,
                    transport,
                    connection,
                });
            }
            if !progressed {
                break;
            }
        }
        self.trunks
            .retain(|s| !(s.retiring && s.core.state() == TrunkState::Stopped));
    }

    fn drain_registrar(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        let clock = self.ban_clock(now);
        while let Some(ev) = self.registrar.poll_event() {
            progressed = true;
            match ev {
                RegistrarEvent::SourceBanned { .. } | RegistrarEvent::BanLifted { .. } => {}
                RegistrarEvent::AuthFailed { source } => {
                    self.bans.record_failure(clock, source.ip());
                    self.events
                        .push_back(PbxEvent::Registrar(RegistrarEvent::AuthFailed { source }));
                }
                other => self.events.push_back(PbxEvent::Registrar(other)),
            }
        }
        while let Some(ev) = self.bans.poll_event() {
            progressed = true;
            self.events.push_back(match ev {
                BanEvent::SourceBanned { source, until } => PbxEvent::SourceBanned {
                    source,
                    until: self.origin.checked_add(until).unwrap_or(self.origin),
                },
                BanEvent::BanLifted { source } => PbxEvent::BanLifted { source },
            });
        }
        progressed
    }

    fn drain_trunks(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        let clock = self.ban_clock(now);
        for i in 0..self.trunks.len() {
            while let Some(request) = self.trunks[i].core.poll_request() {
                progressed = true;
                let slot = &self.trunks[i];
                let dest = self
                    .site
                    .trunk(&slot.trunk_id)
                    .and_then(|t| self.trunk_destination(t));
                let cseq = request.headers.typed::<CSeq>().and_then(Result::ok);
                let (Some(dest), Some(cseq)) = (dest, cseq) else {
                    self.trunks[i].core.handle_transport_error(clock);
                    continue;
                };
                let (transport, _) = untag(dest);
                match self
                    .layer
                    .start_client(now, request, dest, reliability(transport))
                {
                    Ok(id) => {
                        self.clients.insert(
                            id,
                            ClientEntry {
                                owner: Owner::Trunk {
                                    key: self.trunks[i].key,
                                    cseq,
                                },
                                destination: dest,
                            },
                        );
                    }
                    Err(_) => self.trunks[i].core.handle_transport_error(clock),
                }
            }
            let slot = &mut self.trunks[i];
            while let Some(event) = slot.core.poll_event() {
                progressed = true;
                if !slot.retiring {
                    self.events.push_back(PbxEvent::Trunk {
                        trunk_id: slot.trunk_id.clone(),
                        event,
                    });
                }
            }
            let up = slot.core.is_up();
            if !slot.retiring && slot.started && slot.last_up != Some(up) {
                slot.last_up = Some(up);
                self.routing.set_trunk_up(&slot.trunk_id, up);
                self.events.push_back(PbxEvent::TrunkUsable {
                    trunk_id: slot.trunk_id.clone(),
                    up,
                });
            }
        }
        progressed
    }

    fn drain_b2b(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        loop {
            let mut moved = false;
            while let Some(cmd) = self.b2b.poll_command() {
                moved = true;
                self.on_b2b_command(now, cmd);
            }
            while let Some(ev) = self.b2b.poll_event() {
                moved = true;
                self.on_b2b_event(now, ev);
            }
            while let Some(m) = self.b2b.poll_media() {
                moved = true;
                self.media.push_back(match m {
                    MediaInstruction::Relay {
                        call,
                        a_local_port,
                        a_remote,
                        b_local_port,
                        b_remote,
                        payloads,
                    } => MediaCommand::Relay {
                        call,
                        a_local_port,
                        a_remote,
                        b_local_port,
                        b_remote,
                        payloads,
                        recording: self.calls.get(&call).and_then(|c| c.recording.clone()),
                    },
                    MediaInstruction::Transcode {
                        call,
                        a_local_port,
                        a_remote,
                        a,
                        b_local_port,
                        b_remote,
                        b,
                    } => MediaCommand::Transcode {
                        call,
                        a_local_port,
                        a_remote,
                        a,
                        b_local_port,
                        b_remote,
                        b,
                        recording: self.calls.get(&call).and_then(|c| c.recording.clone()),
                    },
                    MediaInstruction::Direction {
                        call,
                        side,
                        direction,
                    } => MediaCommand::Direction {
                        call,
                        side,
                        direction,
                    },
                    MediaInstruction::EchoLoop {
                        call,
                        local_port,
                        remote,
                    } => MediaCommand::EchoLoop {
                        call,
                        local_port,
                        remote,
                    },
                    MediaInstruction::Release { call } => MediaCommand::Release { call },
                });
            }
            if !moved {
                break;
            }
            progressed = true;
        }
        progressed
    }

    fn on_b2b_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::StartClient {
                tx,
                request,
                destination,
            } => {
                let (transport, _) = untag(destination);
                if let Ok(id) =
                    self.layer
                        .start_client(now, request, destination, reliability(transport))
                {
                    self.clients.insert(
                        id,
                        ClientEntry {
                            owner: Owner::B2b(tx),
                            destination,
                        },
                    );
                } else {
                    self.b2b
                        .handle_client_event(now, tx, &ClientEvent::TransportError);
                    self.b2b
                        .handle_client_event(now, tx, &ClientEvent::Terminated);
                }
            }
            Command::SendResponse { tx, response } => {
                // The transaction may be gone (e.g. terminated by a
                // transport error); nothing else to do then.
                let _ = self.layer.send_response(now, tx, response);
            }
            Command::SendStateless {
                destination,
                message,
            } => self.layer.send_stateless(destination, message),
        }
    }

    fn on_transaction_event(&mut self, now: Instant, ev: TransactionEvent) {
        match ev {
            TransactionEvent::RequestReceived {
                id,
                request,
                source,
                ..
            } => self.on_request(now, id, request, source),
            TransactionEvent::AckWithoutTransaction { request, .. } => {
                self.b2b.handle_ack(now, &request);
            }
            TransactionEvent::Client { id, event } => {
                let terminated = event == ClientEvent::Terminated;
                let entry = if terminated {
                    self.clients.remove(&id)
                } else {
                    self.clients.get(&id).map(|e| ClientEntry {
                        owner: e.owner.clone(),
                        destination: e.destination,
                    })
                };
                let Some(entry) = entry else { return };
                match entry.owner {
                    Owner::B2b(tx) => self.b2b.handle_client_event(now, tx, &event),
                    Owner::Trunk { key, cseq } => {
                        let clock = self.ban_clock(now);
                        if let Some(slot) = self.trunks.iter_mut().find(|s| s.key == key) {
                            match &event {
                                ClientEvent::ResponseReceived(r) => {
                                    slot.core.handle_response(clock, r);
                                }
                                ClientEvent::Timeout => {
                                    slot.core.handle_transaction_timeout(clock, &cseq);
                                }
                                ClientEvent::TransportError => {
                                    slot.core.handle_transport_error(clock);
                                }
                                ClientEvent::Terminated => {}
                            }
                        }
                    }
                }
            }
            TransactionEvent::Server {
                event: ServerEvent::AckReceived(request),
                ..
            } => self.b2b.handle_ack(now, &request),
            TransactionEvent::Server { .. } => {}
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        source: Destination,
    ) {
        let flow = flow_of(source);
        let reliability = reliability(flow.transport);
        if request.method == Method::REGISTER {
            let (_, now_unix) = self.anchor;
            let site = &self.site;
            let secrets = &self.secrets;
            let lookup = |user: &str| -> Option<StoredCredential> {
                let ext = site.extension(user)?;
                let password = secrets.password(&ext.credentials)?;
                Some(StoredCredential::Password(password.to_owned()))
            };
            let outcome = self
                .registrar
                .handle_register(&request, &flow, now, now_unix, &lookup);
            if let Outcome::Respond(response) = outcome {
                if response.status == StatusCode::OK {
                    let clock = self.ban_clock(now);
                    self.bans.record_success(clock, flow.remote.ip());
                }
                let _ = self.layer.send_response(now, id, response);
            }
            return;
        }
        if has_to_tag(&request) || request.method == Method::CANCEL {
            self.b2b
                .handle_request(now, id, request, source, reliability);
            return;
        }
        if request.method == Method::INVITE {
            let origin = if let Some(trunk) = self.trunk_of_source(flow.remote.ip()) {
                CallerOrigin::Trunk {
                    trunk_id: trunk.id.clone(),
                    did: to_user(&request),
                }
            } else {
                match self.authorize_invite(now, &request, flow.remote) {
                    Ok(user) => CallerOrigin::Extension(user),
                    Err(response) => {
                        let _ = self.layer.send_response(now, id, response);
                        return;
                    }
                }
            };
            self.next_origin = Some(origin);
            self.b2b
                .handle_request(now, id, request, source, reliability);
            self.drain_b2b(now);
            self.next_origin = None;
            return;
        }
        if request.method == Method::OPTIONS {
            let mut response = response_to(&request, StatusCode::OK, Some(&self.tag()));
            response.headers.push(HeaderName::ALLOW, ALLOW);
            response.headers.push(HeaderName::ACCEPT, "application/sdp");
            response.headers.push(HeaderName::SUPPORTED, SUPPORTED);
            let _ = self.layer.send_response(now, id, response);
            return;
        }
        if [Method::BYE, Method::INFO, Method::UPDATE].contains(&request.method) {
            self.b2b
                .handle_request(now, id, request, source, reliability);
            return;
        }
        let mut response = response_to(&request, StatusCode::NOT_IMPLEMENTED, Some(&self.tag()));
        response.headers.push(HeaderName::ALLOW, ALLOW);
        let _ = self.layer.send_response(now, id, response);
    }

    fn tag(&mut self) -> String {
        hex(&mut self.rng, 6)
    }

    /// Checks the `Proxy-Authorization` of a new INVITE; the error is the
    /// response to send (407 or 400).
    fn authorize_invite(
        &mut self,
        now: Instant,
        request: &Request,
        source: SocketAddr,
    ) -> Result<String, Response> {
        let (_, now_unix) = self.anchor;
        let clock = self.ban_clock(now);
        let values: Vec<&str> = request
            .headers
            .get_all(&HeaderName::PROXY_AUTHORIZATION)
            .collect();
        let realm = self.digest.realm().to_owned();
        let value = values
            .iter()
            .find(
                |v| matches!(Credentials::parse(v), Ok(Credentials::Digest(c)) if c.realm == realm),
            )
            .or_else(|| values.first())
            .copied();
        let verdict = value.map(|value| {
            let site = &self.site;
            let secrets = &self.secrets;
            self.digest.verify(now_unix, "INVITE", value, |user| {
                let ext = site.extension(user)?;
                let password = secrets.password(&ext.credentials)?;
                Some(StoredCredential::Password(password.to_owned()))
            })
        });
        let (stale, failure, malformed) = match verdict {
            Some(Verdict::Authenticated { username, uri, .. }) => {
                self.bans.record_success(clock, source.ip());
                // Credentials are only good for the Request-URI they were
                // computed for: a captured answer cannot call elsewhere.
                if Uri::parse(&uri).is_ok_and(|u| u == request.uri) {
                    return Ok(username);
                }
                (false, false, false)
            }
            None | Some(Verdict::OtherScheme) => (false, false, false),
            Some(Verdict::Stale) => (true, false, false),
            Some(Verdict::Rejected) => (false, true, false),
            Some(Verdict::Malformed(_)) => (false, true, true),
        };
        if failure {
            self.bans.record_failure(clock, source.ip());
            self.events.push_back(PbxEvent::InviteAuthFailed { source });
        }
        let tag = self.tag();
        if malformed {
            return Err(response_to(request, StatusCode::BAD_REQUEST, Some(&tag)));
        }
        let mut response = response_to(
            request,
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            Some(&tag),
        );
        for challenge in self.digest.challenge(now_unix, stale) {
            response
                .headers
                .push(HeaderName::PROXY_AUTHENTICATE, challenge);
        }
        Err(response)
    }

    // ---- calls ---------------------------------------------------------

    fn on_b2b_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::CallStarted { call_id_ref } => {
                let origin = self
                    .next_origin
                    .take()
                    .unwrap_or(CallerOrigin::Extension(String::new()));
                let call_id = hex(&mut self.rng, 8);
                self.calls.insert(
                    call_id_ref,
                    CallInfo {
                        call_id,
                        origin,
                        outcome: None,
                        callee: String::new(),
                        booked: false,
                        recording: None,
                    },
                );
            }
            Event::RouteRequired {
                call_id_ref,
                caller,
                dialled,
                ..
            } => {
                let decision = self.route(now, call_id_ref, &caller, &dialled);
                self.b2b.handle_route(now, call_id_ref, decision);
            }
            Event::AllocateMedia { call_id_ref } => {
                let call_id = self
                    .calls
                    .get(&call_id_ref)
                    .map(|c| c.call_id.clone())
                    .unwrap_or_default();
                self.media.push_back(MediaCommand::Allocate {
                    call: call_id_ref,
                    call_id,
                });
            }
            Event::CallAnswered { call_id_ref } => {
                self.events
                    .push_back(PbxEvent::CallAnswered { call: call_id_ref });
            }
            Event::CallEnded(summary) => {
                let Some(info) = self.calls.remove(&summary.call) else {
                    return;
                };
                if info.booked {
                    let today = self.today(now);
                    self.routing
                        .call_ended(&info.call_id, summary.talk_time(), today);
                }
                let record = record::build(&summary, &info, |t| self.wall(t));
                self.records.push_back(record);
            }
            Event::DtmfInfo {
                call_id_ref,
                from,
                tx,
                body,
            } => {
                let relay = std::str::from_utf8(&body)
                    .ok()
                    .and_then(|b| voip_media::dtmf::DtmfRelay::parse(b).ok());
                if let Some(relay) = relay {
                    self.media.push_back(MediaCommand::Dtmf {
                        call: call_id_ref,
                        from,
                        event: relay.event,
                        duration_ms: relay.duration_ms,
                    });
                    self.b2b.answer_info(tx, 200);
                } else {
                    self.b2b.answer_info(tx, 400);
                }
            }
        }
    }

    /// Routes `call` and maps the outcome to the B2BUA's decision.
    fn route(&mut self, now: Instant, call: CallRef, caller: &str, dialled: &str) -> B2bDecision {
        let Some(info) = self.calls.get(&call) else {
            return reject(500, ErrorCode::InternalError);
        };
        let origin = match &info.origin {
            CallerOrigin::Extension(number) => Origin::Extension {
                number: number.clone(),
            },
            CallerOrigin::Trunk { trunk_id, did } => Origin::Trunk {
                trunk_id: trunk_id.clone(),
                did: did.clone(),
            },
        };
        let request = CallRequest {
            origin,
            dialled: dialled.to_owned(),
            today: self.today(now),
        };
        let outcome = self.routing.route(&self.site, &request);
        let from_user = match &info.origin {
            CallerOrigin::Extension(n) => n.clone(),
            CallerOrigin::Trunk { .. } => caller.to_owned(),
        };
        // The caller's configured codecs: what a transcoded call answers it with.
        let caller_codecs = match &info.origin {
            CallerOrigin::Extension(n) => self.site.extension(n).map(|e| sdp_codecs(&e.codecs)),
            CallerOrigin::Trunk { trunk_id, .. } => {
                self.site.trunk(trunk_id).map(|t| sdp_codecs(&t.codecs))
            }
        }
        .unwrap_or_default();
        let (decision, reached) = match &outcome.decision {
            RouteDecision::Extension { number } => {
                let bindings = self.registrar.lookup(number, now);
                let group: Vec<Target> = bindings
                    .iter()
                    .map(|b| Target {
                        request_uri: b.contact.uri.clone(),
                        destination: destination_of(&b.flow),
                        trunk_id: None,
                        from_user: Some(from_user.clone()),
                        credentials: None,
                        codecs: self
                            .site
                            .extension(number)
                            .map(|e| sdp_codecs(&e.codecs))
                            .unwrap_or_default(),
                        address_failover: false,
                    })
                    .collect();
                let decision = if group.is_empty() {
                    reject(480, ErrorCode::NoAnswer)
                } else {
                    B2bDecision::Targets {
                        groups: vec![group],
                        max_duration: outcome.max_duration,
                        emergency: false,
                        caller_codecs: caller_codecs.clone(),
                    }
                };
                (decision, number.clone())
            }
            RouteDecision::Trunks {
                trunk_ids,
                dial,
                emergency,
            } => {
                // One group per trunk address (RFC 3263 failover within the
                // trunk), trunks in priority order.
                let groups: Vec<Vec<Target>> = trunk_ids
                    .iter()
                    .flat_map(|id| self.trunk_targets(id, dial, &info.origin))
                    .map(|t| vec![t])
                    .collect();
                let decision = if groups.is_empty() {
                    if *emergency {
                        reject(503, ErrorCode::EmergencyNoTrunk)
                    } else {
                        reject(503, ErrorCode::TrunkUnavailable)
                    }
                } else {
                    B2bDecision::Targets {
                        groups,
                        max_duration: outcome.max_duration,
                        emergency: *emergency,
                        caller_codecs: caller_codecs.clone(),
                    }
                };
                (decision, dial.clone())
            }
            RouteDecision::EchoTest => (B2bDecision::EchoTest, self.site.echo_test_number.clone()),
            RouteDecision::Reject { status, code } => (
                B2bDecision::Reject {
                    status: *status,
                    code: code.as_str().to_owned(),
                },
                dialled.to_owned(),
            ),
        };
        let book = !matches!(decision, B2bDecision::Reject { .. });
        if let Some(info) = self.calls.get_mut(&call) {
            if let (true, Some(account)) = (book, outcome.account.clone()) {
                self.routing.call_started(&info.call_id, account);
                info.booked = true;
            }
            info.callee = reached;
            info.outcome = Some(outcome);
        }
        if book {
            let policy = self.recording_policy(call);
            if let Some(info) = self.calls.get_mut(&call) {
                info.recording = policy;
            }
        }
        decision
    }

    /// The recording policy of a routed call: the caller's extension's,
    /// else the callee's extension's, else the trunk's (inbound: the trunk
    /// the call came in on; outbound: the first trunk of the route). A
    /// per-call override (click-to-call API) does not exist yet; the
    /// on-demand command of the media path starts and stops recordings.
    fn recording_policy(&self, call: CallRef) -> Option<RecordingPolicy> {
        use crate::recording::policy::{CallPolicies, resolve};
        let info = self.calls.get(&call)?;
        let named = |name: Option<&String>| name.and_then(|n| self.site.recording_policy(n));
        let extension = |number: &str| {
            named(
                self.site
                    .extension(number)
                    .and_then(|e| e.recording_policy.as_ref()),
            )
        };
        let trunk = |id: &str| {
            named(
                self.site
                    .trunks
                    .iter()
                    .find(|t| t.id == id)
                    .and_then(|t| t.recording_policy.as_ref()),
            )
        };
        let (from_extension, inbound_trunk) = match &info.origin {
            CallerOrigin::Extension(number) => (extension(number), None),
            CallerOrigin::Trunk { trunk_id, .. } => (None, trunk(trunk_id)),
        };
        let (to_extension, outbound_trunk) = match info.outcome.as_ref().map(|o| &o.decision) {
            Some(RouteDecision::Extension { number }) => (extension(number), None),
            Some(RouteDecision::Trunks { trunk_ids, .. }) => {
                (None, trunk_ids.first().and_then(|id| trunk(id)))
            }
            _ => (None, None),
        };
        resolve(&CallPolicies {
            call: None,
            caller_extension: from_extension,
            callee_extension: to_extension,
            trunk: inbound_trunk.or(outbound_trunk),
        })
        .cloned()
    }

    /// The B-leg targets on trunk `id`, one per resolved address in RFC 3263
    /// order (the second and later marked [`Target::address_failover`]);
    /// none when the trunk is unknown or has no address yet.
    fn trunk_targets(&self, id: &str, dial: &str, origin: &CallerOrigin) -> Vec<Target> {
        let Some(first) = self.trunk_target(id, dial, origin) else {
            return Vec::new();
        };
        let addrs = self.trunk_addrs.get(id).map_or(&[][..], Vec::as_slice);
        let mut targets = Vec::with_capacity(addrs.len().max(1));
        for &addr in addrs.iter().skip(1) {
            let mut next = first.clone();
            next.destination.addr = addr;
            next.address_failover = true;
            targets.push(next);
        }
        targets.insert(0, first);
        targets
    }

    /// A B-leg target on trunk `id` at its first address, or `None` when the
    /// trunk is unknown or has no address yet.
    fn trunk_target(&self, id: &str, dial: &str, origin: &CallerOrigin) -> Option<Target> {
        let trunk = self.site.trunk(id)?;
        let destination = self.trunk_destination(trunk)?;
        let transport_param = match trunk.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        let port = uri_port(trunk).map(|p| format!(":{p}")).unwrap_or_default();
        let request_uri = Uri::parse(&format!(
            "sip:{dial}@{}{port}{transport_param}",
            uri_host(&trunk.host),
        ))
        .ok()?;
        let credentials =
            credential_of(&self.secrets, trunk).map(|(user, password)| TargetCredentials {
                username: user.unwrap_or_else(|| trunk.username.clone()),
                password,
            });
        let from_user = match origin {
            CallerOrigin::Extension(ext) => trunk
                .dids
                .iter()
                .find(|d| d.extension == *ext)
                .or_else(|| trunk.dids.first())
                .map_or_else(|| ext.clone(), |d| d.number.clone()),
            CallerOrigin::Trunk { .. } => return None,
        };
        Some(Target {
            request_uri,
            destination,
            trunk_id: Some(trunk.id.clone()),
            from_user: Some(from_user),
            credentials,
            codecs: sdp_codecs(&trunk.codecs),
            address_failover: false,
        })
    }
}

/// The site configuration's audio codecs as SDP codecs, in order
/// (telephone-event is always offered and answered; it is not a choice).
fn sdp_codecs(codecs: &[SiteCodec]) -> Vec<voip_sip::sdp::Codec> {
    use voip_sip::sdp::Codec;
    codecs
        .iter()
        .filter_map(|c| match c {
            SiteCodec::Pcmu => Some(Codec::pcmu()),
            SiteCodec::Pcma => Some(Codec::pcma()),
            SiteCodec::G722 => Some(Codec::g722()),
            SiteCodec::Opus => Some(Codec::opus()),
            SiteCodec::TelephoneEvent => None,
        })
        .collect()
}

fn reject(status: u16, code: ErrorCode) -> B2bDecision {
    B2bDecision::Reject {
        status,
        code: code.as_str().to_owned(),
    }
}

fn via_token(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "UDP",
        TransportKind::Tcp => "TCP",
        TransportKind::Tls => "TLS",
    }
}

/// The trunk's (username override, password) from the secrets file.
fn credential_of(secrets: &Secrets, trunk: &Trunk) -> Option<(Option<String>, String)> {
    let c = secrets.credential(&trunk.credentials)?;
    Some((c.username.clone(), c.password.expose().clone()))
}

/// Cap on live SIP transactions before new requests get a stateless 503.
///
/// RFC 3261's timers keep a UDP call's four transactions (server and client
/// INVITE in Accepted, the BYEs in Completed) for up to 64·T1 = 32 s after
/// the call, so a sustained rate of R calls/s holds about 4 · 32 · R
/// transactions: 4 096 (the layer's default) is exhausted at 32 calls/s. The
/// SIP load benchmark met exactly that (503s and stuck calls after a 100
/// calls/s plateau). 262 144 covers 2 000 calls/s; a transaction holds its
/// request and last response, about 2–3 KiB, so the cap bounds that memory
/// to well under 1 GiB and an office never comes near it.
const MAX_TRANSACTIONS: usize = 262_144;

/// The digest challenges the appliance sends: the site's
/// `digest_algorithms`, by default MD5 only.
///
/// RFC 8760 recommends offering SHA-256 (first) and MD5, but the UACs
/// measured here fail as soon as a SHA-256 challenge is present at all:
/// `SIPp` 3.6.1 exits ("authentication must use MD5") when it comes first, and
/// baresip 1.0.0 fails the registration ("Function not implemented") even
/// when MD5 comes first. Many desk phones in the field only do MD5 too, so
/// SHA-256 is a per-site switch for offices whose phones all support it.
/// The real protection of the credentials is TLS on the signalling leg.
fn digest_config(site: &SiteConfig) -> DigestServerConfig {
    DigestServerConfig {
        algorithms: site
            .digest_algorithms
            .iter()
            .map(|a| match a {
                DigestAlgorithm::Sha256 => voip_sip::auth::Algorithm::Sha256,
                DigestAlgorithm::Md5 => voip_sip::auth::Algorithm::Md5,
            })
            .collect(),
        ..DigestServerConfig::default()
    }
}

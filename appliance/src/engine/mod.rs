//! The SIP/media engine: one tokio task that owns the sans-IO
//! [`Pbx`] and connects it to the SIP transport, the media relay, the store
//! thread, DNS and the clock.
//!
//! # Loop
//!
//! The task `select`s over, in this order of priority: its command channel
//! ([`Engine`]: reload, stats, shutdown), the transport's [`Inbound`]
//! channel, the relay event channel, trunk host resolutions, and a sleep
//! until [`Pbx::poll_timeout`]. After every input it drains all of the
//! core's outputs:
//!
//! - transmits → serialised into an [`Outbound`] for the transport (never
//!   waiting: a full queue drops the message, counted; the transaction layer
//!   retransmits over UDP). UDP goes to the destination from the socket the
//!   peer's flow came in on; TCP/TLS goes over the peer's connection, or,
//!   without one (requests to a TCP/TLS trunk), over a connection the
//!   transport reuses or opens. For TLS the transport verifies the server's
//!   certificate against [`Outbound::server_name`]: the Request-URI host of
//!   requests ([`Transmit`] does not carry the trunk; requests to trunks
//!   address the trunk's configured host, `REGISTER sip:host` and
//!   `INVITE sip:number@host:port`), none for responses (they go over the
//!   request's connection, or the destination IP address is checked);
//!   in-dialog requests whose Request-URI is the provider's Contact normally
//!   reuse the connection to the same address;
//! - transport reports → [`TransportEvent::ConnectionClosed`] becomes
//!   [`Pbx::handle_connection_closed`] (trunks on it re-register at once);
//!   [`TransportEvent::ConnectFailed`] and
//!   [`TransportEvent::QueueFull`] become [`Pbx::handle_transport_error`]
//!   (client transactions to that destination fail at once: trunk
//!   registration backs off, calls fail over to the next trunk); connect
//!   failures are logged once per destination at warning level;
//! - media commands → the [`RelayManager`] (module `media`); a failed port
//!   allocation is logged, and the call then waits for the caller to give up
//!   (the core has no input for it yet);
//! - call records → the store thread ([`store_thread`]);
//! - events → logs (phone numbers and AORs through [`Pii`]).
//!
//! Received requests get `received`/`rport` on their top `Via` first
//! (RFC 3261 18.2.1, RFC 3581), the transport's duty the transport shell
//! only does for its own stateless answers.
//!
//! Relay `MediaTimeout` and `Failed` events become
//! [`Pbx::handle_media_timeout`] (BYE both sides).
//!
//! # Time
//!
//! `now` is `tokio::time::Instant::now()` and `now_unix` the system clock
//! since the Unix epoch, read in this shell only.
//!
//! # Trunk hosts
//!
//! For every trunk whose host is a name, a background task resolves it with
//! [`SipResolver`] (RFC 3263: with a configured port, A/AAAA on that port;
//! without one, DNS SRV for the trunk's transport, falling back to A/AAAA on
//! 5060/5061), feeds the targets' socket addresses (SRV order, duplicates
//! removed) to [`Pbx::set_trunk_addresses`], so requests go to the SRV
//! target's port, and resolves again when the TTL expires. A
//! failure is a warning and is retried with backoff (30 s doubling to
//! 5 min); the last good addresses stay in use. Resolution never delays
//! start-up. A reload restarts the tasks.
//!
//! # Shutdown
//!
//! [`Engine::shutdown`] stops the trunk cores (registered trunks send
//! `REGISTER` with `Expires: 0`) and keeps serving the network for at most
//! the grace period (the daemon uses 2 s) or until every registered trunk
//! has stopped. Calls in progress are dropped without BYE; their relays stop
//! and the phones notice by their own session or media timers.

pub mod entropy;
mod media;
pub use media::{RecordingAnswer, RelayPacketTotals};
mod quality;
pub use quality::QualityMetrics;
pub mod store_thread;
mod via;

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use voip_shared::pii::Pii;
use voip_shared::site_config::SiteConfig;
use voip_sip::auth::BanSource;
use voip_sip::header::CSeq;
use voip_sip::message::{Method, SipMessage};
use voip_sip::registrar::{ConnectionId, Flow, RegistrarEvent, TransportKind as SipKind};
use voip_sip::trunk::{TrunkEvent, TrunkState};

use crate::media_relay::record_tap::RecordingCommand;
use crate::media_relay::{RelayEvent, RelayEventKind, RelayManager};
use crate::pbx::{LocalAddrs, MediaCommand, Pbx, PbxEvent, Transmit};
use crate::secrets::Secrets;
use crate::sip_resolve::SipResolver;
use crate::sip_transport::{
    self, Inbound, Outbound, OutboundSender, TransportEvent, TransportKind,
};

pub use entropy::{EntropyError, OsEntropy};
use media::MediaBridge;
use store_thread::StoreSender;

/// Capacity of the engine's command channel.
const COMMAND_QUEUE: usize = 64;
/// First retry after a failed trunk host resolution.
const RESOLVE_RETRY_MIN: Duration = Duration::from_secs(30);
/// Longest wait between resolution retries.
const RESOLVE_RETRY_MAX: Duration = Duration::from_mins(5);
/// Output rounds after one input (transport errors feed back into the core).
const MAX_ROUNDS: usize = 16;
/// Queued transport events handled per wake-up after the first.
const INBOUND_BATCH: usize = 32;

/// Everything the engine task needs.
#[derive(Debug)]
pub struct EngineParts {
    /// The site configuration in force.
    pub site: SiteConfig,
    /// The secrets file's credentials.
    pub secrets: Secrets,
    /// Our SIP and media addresses ([`local_addrs`]).
    pub local: LocalAddrs,
    /// The digest nonce key ([`entropy::load_or_create_key`]).
    pub nonce_key: [u8; 32],
    /// Validated messages and connection failures from the transport.
    pub inbound: mpsc::Receiver<TransportEvent>,
    /// The transport's send queue.
    pub outbound: OutboundSender,
    /// The media relay.
    pub relays: RelayManager,
    /// The relay event channel given to the [`RelayManager`].
    pub relay_events: mpsc::Receiver<RelayEvent>,
    /// The store thread.
    pub store: StoreSender,
    /// DNS for trunk hosts; `None`: only IP-literal trunks are reachable.
    pub resolver: Option<SipResolver>,
    /// The recording service; `None`: calls are not recorded.
    pub recording: Option<crate::recording::service::ServiceHandle>,
}

/// One trunk's state for health and metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrunkStatus {
    /// Trunk id.
    pub id: String,
    /// Whether routing may use it.
    pub up: bool,
    /// Registration state (`idle`, `registering`, `registered`, `failed`,
    /// `unregistering`, `stopped`; `not_started` before its core runs or
    /// when it has none).
    pub registration: &'static str,
}

/// A snapshot of the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineStats {
    /// Calls holding media ports (ringing or talking).
    pub calls: usize,
    /// Extensions with at least one registered contact.
    pub registered_extensions: usize,
    /// The site's trunks.
    pub trunks: Vec<TrunkStatus>,
    /// Sources banned now.
    pub bans: usize,
    /// Media relays and echoes running.
    pub relays: usize,
    /// Media port pairs reserved.
    pub ports_in_use: usize,
    /// SIP messages dropped because the transport's queue was full.
    pub transmit_dropped: u64,
    /// SIP messages that could not be sent at all: the transport is gone,
    /// or an outbound TCP/TLS connection could not be opened (counted once
    /// per failed connection attempt).
    pub transmit_unroutable: u64,
    /// Packet counters of the media relays that have stopped.
    pub relay_packets: media::RelayPacketTotals,
    /// Aggregated call-leg quality samples.
    pub quality: QualityMetrics,
}

enum Command {
    Reload {
        site: Box<SiteConfig>,
        secrets: Secrets,
    },
    Stats(oneshot::Sender<EngineStats>),
    ActiveCalls(oneshot::Sender<Vec<String>>),
    Recording {
        call_id: String,
        command: RecordingCommand,
        reply: oneshot::Sender<RecordingAnswer>,
    },
    Shutdown {
        grace: Duration,
        done: oneshot::Sender<()>,
    },
}

/// Handle on the engine task.
#[derive(Debug)]
pub struct Engine {
    handle: EngineHandle,
    task: JoinHandle<()>,
}

/// A cloneable handle for asking the engine (HTTP handlers).
#[derive(Debug, Clone)]
pub struct EngineHandle {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Reload { .. } => "Reload",
            Command::Stats(_) => "Stats",
            Command::Recording { .. } => "Recording",
            Command::ActiveCalls(_) => "ActiveCalls",
            Command::Shutdown { .. } => "Shutdown",
        })
    }
}

impl EngineHandle {
    /// A snapshot; `None` if the engine has stopped.
    pub async fn stats(&self) -> Option<EngineStats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The call ids (as in the CDR) of the calls whose media runs now;
    /// `None` if the engine has stopped.
    pub async fn active_calls(&self) -> Option<Vec<String>> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::ActiveCalls(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Starts or stops the recording of the call `call_id` (the CDR's
    /// call id); `None` if the engine has stopped.
    pub async fn recording(
        &self,
        call_id: &str,
        command: RecordingCommand,
    ) -> Option<RecordingAnswer> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Recording {
                call_id: call_id.to_owned(),
                command,
                reply,
            })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// New site configuration and secrets (see [`Pbx::reload`]). Returns
    /// `false` if the engine has stopped.
    pub async fn reload(&self, site: SiteConfig, secrets: Secrets) -> bool {
        self.commands
            .send(Command::Reload {
                site: Box::new(site),
                secrets,
            })
            .await
            .is_ok()
    }
}

impl Engine {
    /// Starts the engine task. Must be called within a tokio runtime.
    pub fn spawn(parts: EngineParts) -> Result<Engine, EntropyError> {
        let rng = OsEntropy::new()?;
        // The numbering-plan tables are built on first use (about 0.6 G
        // instructions, a few hundred ms on a Pi): do it now, not in the
        // first call's setup time.
        let _ = voip_shared::number::classify(
            "+31201234567",
            &voip_shared::number::DialPlanContext::default(),
        );
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (resolved_tx, resolved_rx) = mpsc::channel(64);
        let (now, now_unix) = clock();
        let media_timeout = parts.site.media.timeout;
        let opus = parts.site.media.opus;
        let secrets = parts.secrets.clone();
        let pbx = Pbx::new(
            parts.site,
            parts.secrets,
            parts.local,
            parts.nonce_key,
            now,
            now_unix,
            rng,
        );
        let mut task = Task {
            pbx,
            secrets,
            commands: command_rx,
            inbound: Some(parts.inbound),
            outbound: parts.outbound,
            relay_events: parts.relay_events,
            media: MediaBridge::new(parts.relays, media_timeout, parts.recording),
            store: parts.store,
            resolver: parts.resolver,
            resolved_tx,
            resolved: resolved_rx,
            resolvers: Vec::new(),
            generation: 0,
            bans: HashSet::new(),
            registration: BTreeMap::new(),
            unroutable_logged: HashSet::new(),
            transmit_dropped: 0,
            transmit_unroutable: 0,
            quality: QualityMetrics::default(),
        };
        task.media.set_opus(opus);
        task.spawn_resolvers();
        let task = tokio::spawn(task.run());
        Ok(Engine {
            handle: EngineHandle { commands },
            task,
        })
    }

    /// A handle for the HTTP handlers.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// See [`EngineHandle::stats`].
    pub async fn stats(&self) -> Option<EngineStats> {
        self.handle.stats().await
    }

    /// Unregisters the trunks (waiting at most `grace`) and ends the task;
    /// see the module documentation.
    pub async fn shutdown(self, grace: Duration) {
        let (done, rx) = oneshot::channel();
        if self
            .handle
            .commands
            .send(Command::Shutdown { grace, done })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

/// Our addresses as peers must see them, from the bound SIP sockets. A
/// wildcard bind (`0.0.0.0`, `::`) has no address to advertise; it is
/// replaced by the loopback address with a warning. The media address is the
/// first SIP address's IP. See [`local_addrs_advertised`] for the bootstrap
/// file's `advertise` key.
pub fn local_addrs(bound: &[(TransportKind, SocketAddr)]) -> LocalAddrs {
    local_addrs_advertised(bound, None)
}

/// [`local_addrs`] with the bootstrap file's `sip.advertise`: when set, it
/// replaces the IP of every listener of the same address family (wildcard or
/// not: behind NAT the bound address is private) in `Via`, `Contact` and
/// SDP; the ports stay the bound ones, and the replaced addresses stay ours
/// for incoming Request-URIs. Listeners of the other family keep the
/// wildcard rule of [`local_addrs`].
pub fn local_addrs_advertised(
    bound: &[(TransportKind, SocketAddr)],
    advertise: Option<IpAddr>,
) -> LocalAddrs {
    let mut sip = Vec::new();
    let mut other_ips = Vec::new();
    for &(kind, addr) in bound {
        let mut addr = addr;
        match advertise {
            Some(ip) if ip.is_ipv4() == addr.is_ipv4() => {
                if !addr.ip().is_unspecified() && addr.ip() != ip && !other_ips.contains(&addr.ip())
                {
                    other_ips.push(addr.ip());
                }
                addr.set_ip(ip);
            }
            _ if addr.ip().is_unspecified() => {
                let loopback = match addr.ip() {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                };
                tracing::warn!(
                    transport = kind.as_str(),
                    bound = %addr,
                    advertised = %loopback,
                    "SIP listener bound to a wildcard address: advertising the loopback address in Via, Contact and SDP; set sip.advertise or bind to a specific address for phones on the network"
                );
                addr.set_ip(loopback);
            }
            _ => {}
        }
        sip.push((sip_kind(kind), addr));
    }
    let media_ip = advertise.unwrap_or_else(|| {
        sip.first()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |(_, a)| a.ip())
    });
    LocalAddrs {
        sip,
        media_ip,
        domains: Vec::new(),
        other_ips,
    }
}

fn sip_kind(kind: TransportKind) -> SipKind {
    match kind {
        TransportKind::Udp => SipKind::Udp,
        TransportKind::Tcp => SipKind::Tcp,
        TransportKind::Tls => SipKind::Tls,
    }
}

fn transport_kind(kind: SipKind) -> TransportKind {
    match kind {
        SipKind::Udp => TransportKind::Udp,
        SipKind::Tcp => TransportKind::Tcp,
        SipKind::Tls => TransportKind::Tls,
    }
}

/// The shell's clock: monotonic (tokio's, so paused-clock tests work) and
/// wall time since the epoch.
fn clock() -> (std::time::Instant, Duration) {
    let now = tokio::time::Instant::now().into_std();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now, unix)
}

fn state_name(state: &TrunkState) -> &'static str {
    match state {
        TrunkState::Idle => "idle",
        TrunkState::Registering => "registering",
        TrunkState::Registered { .. } => "registered",
        TrunkState::Failed { .. } => "failed",
        TrunkState::Unregistering => "unregistering",
        TrunkState::Stopped => "stopped",
    }
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// A resolution result: (generation, trunk id, socket addresses).
type Resolution = (u64, String, Vec<SocketAddr>);

struct Task {
    pbx: Pbx<OsEntropy>,
    /// The secrets in force (the core does not hand them out).
    secrets: Secrets,
    commands: mpsc::Receiver<Command>,
    inbound: Option<mpsc::Receiver<TransportEvent>>,
    outbound: OutboundSender,
    relay_events: mpsc::Receiver<RelayEvent>,
    media: MediaBridge,
    store: StoreSender,
    resolver: Option<SipResolver>,
    resolved_tx: mpsc::Sender<Resolution>,
    resolved: mpsc::Receiver<Resolution>,
    resolvers: Vec<JoinHandle<()>>,
    generation: u64,
    bans: HashSet<BanSource>,
    registration: BTreeMap<String, &'static str>,
    unroutable_logged: HashSet<(SocketAddr, TransportKind)>,
    transmit_dropped: u64,
    transmit_unroutable: u64,
    quality: QualityMetrics,
}

async fn recv_inbound(rx: &mut Option<mpsc::Receiver<TransportEvent>>) -> Option<TransportEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Task {
    async fn run(mut self) {
        // `Pbx::new` queues output already (first REGISTERs of IP-literal
        // trunks, rejected trunk configurations).
        self.drain();
        // One timer for the core's deadline, moved only when the deadline
        // changes (not a new timer per loop turn).
        let timer = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(timer);
        let mut armed: Option<std::time::Instant> = None;
        loop {
            let deadline = self.pbx.poll_timeout();
            if deadline != armed {
                if let Some(at) = deadline {
                    timer.as_mut().reset(tokio::time::Instant::from_std(at));
                }
                armed = deadline;
            }
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { grace, done }) => {
                        self.shutdown(grace).await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        self.shutdown(Duration::ZERO).await;
                        return;
                    }
                },
                event = recv_inbound(&mut self.inbound) => match event {
                    Some(event) => {
                        self.on_transport_event(event);
                        self.more_inbound();
                    }
                    None => self.inbound = None,
                },
                Some(event) = self.relay_events.recv() => self.on_relay_event(event),
                Some(resolution) = self.resolved.recv() => self.on_resolved(resolution),
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    let (now, unix) = clock();
                    self.pbx.handle_timeout(now, unix);
                }
            }
            self.drain();
        }
    }

    /// Feeds the core the transport events already queued (at most
    /// [`INBOUND_BATCH`]), draining its output after each, so a busy engine
    /// goes through the `select!` once per batch rather than per message.
    fn more_inbound(&mut self) {
        for _ in 0..INBOUND_BATCH {
            let Some(Ok(event)) = self.inbound.as_mut().map(mpsc::Receiver::try_recv) else {
                return;
            };
            self.drain();
            self.on_transport_event(event);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Reload { site, secrets } => {
                let (now, unix) = clock();
                self.media.set_media_timeout(site.media.timeout);
                self.media.set_opus(site.media.opus);
                tracing::info!(site_revision = site.revision, "site configuration reloaded");
                self.secrets = secrets.clone();
                self.pbx.reload(now, unix, *site, secrets);
                self.spawn_resolvers();
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Command::Recording {
                call_id,
                command,
                reply,
            } => self.media.recording_command(&call_id, command, reply),
            Command::ActiveCalls(reply) => {
                let _ = reply.send(self.media.active_call_ids());
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn stats(&self) -> EngineStats {
        let routing = self.pbx.routing();
        EngineStats {
            relay_packets: self.media.packet_totals(),
            quality: self.quality.clone(),
            calls: self.media.calls(),
            registered_extensions: self.pbx.registrar().aor_count(),
            trunks: self
                .pbx
                .site()
                .trunks
                .iter()
                .map(|t| TrunkStatus {
                    id: t.id.clone(),
                    up: routing.is_trunk_up(&t.id),
                    registration: self
                        .registration
                        .get(&t.id)
                        .copied()
                        .unwrap_or("not_started"),
                })
                .collect(),
            bans: self.bans.len(),
            relays: self.media.relays(),
            ports_in_use: self.media.ports_in_use(),
            transmit_dropped: self.transmit_dropped,
            transmit_unroutable: self.transmit_unroutable,
        }
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        let (now, unix) = clock();
        let flow = Flow {
            transport: sip_kind(inbound.transport),
            remote: inbound.source,
            connection: Some(ConnectionId(inbound.connection.0)),
        };
        let mut message = inbound.message;
        if let SipMessage::Request(request) = &mut message {
            via::stamp_top_via(request, inbound.source);
        }
        self.pbx.handle_inbound(now, unix, message, flow);
    }

    fn on_relay_event(&mut self, event: RelayEvent) {
        let kind = match event.kind {
            RelayEventKind::Quality(sample) => {
                self.on_quality_sample(event.call, &sample);
                return;
            }
            kind => kind,
        };
        let Some(call) = self.media.call_of(event.call) else {
            return;
        };
        match kind {
            RelayEventKind::Quality(_) => {}
            RelayEventKind::Latched { leg, port, source } => {
                tracing::debug!(call = %event.call, ?leg, ?port, %source, "media latched");
            }
            RelayEventKind::MediaTimeout { leg } => {
                tracing::info!(call = %event.call, ?leg, "no media: hanging up");
                let (now, _) = clock();
                self.pbx.handle_media_timeout(now, call);
            }
            RelayEventKind::Failed { leg, port, error } => {
                tracing::warn!(call = %event.call, ?leg, ?port, ?error, "media socket failed: hanging up");
                let (now, _) = clock();
                self.pbx.handle_media_timeout(now, call);
            }
        }
    }

    /// A leg's quality sample: metrics, then the store (for the uplink).
    fn on_quality_sample(
        &mut self,
        media: crate::media_relay::CallRef,
        sample: &voip_media::QualitySample,
    ) {
        self.quality.observe(sample);
        let Some(call_id) = self.media.sample_call_id(media, sample.last) else {
            tracing::debug!(call = %media, "quality sample of an unknown relay dropped");
            return;
        };
        tracing::debug!(
            %call_id,
            leg = ?sample.leg,
            loss = ?sample.loss_fraction,
            jitter_ms = ?sample.jitter_ms,
            rtt_ms = ?sample.rtt_ms,
            mos = ?sample.mos,
            last = sample.last,
            "call quality sample"
        );
        let (now, unix) = clock();
        let record = quality::leg_sample(&call_id, sample, now, unix);
        if let Err(error) = self.store.quality_sample(record) {
            tracing::warn!(%call_id, %error, "quality sample lost");
        }
    }

    fn on_resolved(&mut self, (generation, trunk_id, addrs): Resolution) {
        if generation != self.generation {
            return;
        }
        let (now, unix) = clock();
        self.pbx.set_trunk_addresses(now, unix, &trunk_id, addrs);
    }

    /// (Re)starts one resolution task per trunk whose host is a name.
    fn spawn_resolvers(&mut self) {
        for task in self.resolvers.drain(..) {
            task.abort();
        }
        self.generation += 1;
        let generation = self.generation;
        for trunk in &self.pbx.site().trunks {
            if trunk.host.parse::<IpAddr>().is_ok()
                || trunk
                    .host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .is_some_and(|h| h.parse::<Ipv6Addr>().is_ok())
            {
                continue;
            }
            let Some(resolver) = self.resolver.clone() else {
                tracing::warn!(trunk = %trunk.id, host = %trunk.host, "no DNS resolver: trunk host cannot be resolved");
                continue;
            };
            let tx = self.resolved_tx.clone();
            let (id, host, port, transport) = (
                trunk.id.clone(),
                trunk.host.clone(),
                trunk.port,
                trunk.transport,
            );
            self.resolvers.push(tokio::spawn(async move {
                let mut backoff = RESOLVE_RETRY_MIN;
                loop {
                    match resolver.resolve(&host, port, transport).await {
                        Ok(found) => {
                            backoff = RESOLVE_RETRY_MIN;
                            let mut addrs: Vec<SocketAddr> = Vec::new();
                            for target in &found.targets {
                                if !addrs.contains(&target.addr) {
                                    addrs.push(target.addr);
                                }
                            }
                            tracing::info!(trunk = %id, %host, addresses = addrs.len(), "trunk host resolved");
                            if tx.send((generation, id.clone(), addrs)).await.is_err() {
                                return;
                            }
                            tokio::time::sleep_until(tokio::time::Instant::from_std(
                                found.valid_until,
                            ))
                            .await;
                        }
                        Err(error) => {
                            tracing::warn!(trunk = %id, %error, retry_s = backoff.as_secs(), "cannot resolve the trunk host; trunk unusable until it resolves");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(RESOLVE_RETRY_MAX);
                        }
                    }
                }
            }));
        }
    }

    /// Drains every output of the core (see the module documentation).
    fn drain(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let mut moved = false;
            let mut failed = Vec::new();
            while let Some(transmit) = self.pbx.poll_transmit() {
                moved = true;
                if let Some(failure) = self.send(&transmit) {
                    failed.push(failure);
                }
            }
            while let Some(command) = self.pbx.poll_media() {
                moved = true;
                self.on_media(command);
            }
            while let Some(record) = self.pbx.poll_record() {
                moved = true;
                let call_id = record.call_id.clone();
                if let Err(error) = self.store.record_call(record) {
                    tracing::error!(%call_id, %error, "call record lost");
                }
            }
            while let Some(event) = self.pbx.poll_event() {
                moved = true;
                self.on_event(event);
            }
            if !failed.is_empty() {
                let (now, _) = clock();
                for (destination, kind) in failed {
                    self.pbx
                        .handle_transport_error(now, destination, kind, None);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Queues `transmit` for the transport; returns the destination when
    /// it cannot be sent at all (the transport is gone).
    fn send(&mut self, transmit: &Transmit) -> Option<(SocketAddr, SipKind)> {
        let transport = transport_kind(transmit.transport);
        let out = Outbound {
            bytes: transmit.to_bytes(),
            destination: transmit.destination,
            transport,
            connection: transmit
                .connection
                .map(|c| sip_transport::ConnectionId(c.0)),
            server_name: tls_server_name(transmit),
        };
        match self.outbound.try_send(out) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.transmit_dropped += 1;
                if self.transmit_dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = self.transmit_dropped,
                        "SIP transport queue full: message dropped"
                    );
                }
                None
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.transmit_unroutable += 1;
                Some((transmit.destination, transmit.transport))
            }
        }
    }

    /// A transport report: messages go to the core, send failures become
    /// transport errors (see the module documentation).
    fn on_transport_event(&mut self, event: TransportEvent) {
        let (destination, transport) = match event {
            TransportEvent::Message(inbound) => return self.on_inbound(*inbound),
            TransportEvent::ConnectionClosed {
                destination,
                transport,
                ..
            } => {
                tracing::debug!(
                    %destination,
                    transport = transport.as_str(),
                    "outbound SIP connection closed"
                );
                let (now, _) = clock();
                self.pbx
                    .handle_connection_closed(now, destination, sip_kind(transport));
                return;
            }
            TransportEvent::ConnectFailed {
                destination,
                transport,
                cause,
            } => {
                self.transmit_unroutable += 1;
                if self.unroutable_logged.insert((destination, transport)) {
                    tracing::warn!(
                        %destination,
                        transport = transport.as_str(),
                        cause = cause.as_str(),
                        "cannot open a SIP connection"
                    );
                } else {
                    tracing::debug!(
                        %destination,
                        transport = transport.as_str(),
                        cause = cause.as_str(),
                        "cannot open a SIP connection"
                    );
                }
                (destination, transport)
            }
            TransportEvent::QueueFull {
                destination,
                transport,
            } => {
                self.transmit_dropped += 1;
                (destination, transport)
            }
        };
        let (now, _) = clock();
        self.pbx
            .handle_transport_error(now, destination, sip_kind(transport), None);
    }

    fn on_media(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Allocate { call, call_id } => match self.media.allocate(call, &call_id) {
                Ok(ports) => {
                    let (now, _) = clock();
                    self.pbx.handle_media_allocated(now, call, ports);
                }
                Err(error) => {
                    tracing::error!(%call_id, %error, "cannot allocate media ports: call refused");
                    let (now, _) = clock();
                    self.pbx.handle_media_unavailable(now, call);
                }
            },
            MediaCommand::Relay {
                call,
                a_local_port,
                a_remote,
                b_local_port,
                b_remote,
                payloads,
                recording,
            } => self.media.relay(
                call,
                a_local_port,
                a_remote,
                b_local_port,
                b_remote,
                &payloads,
                recording.as_ref(),
            ),
            MediaCommand::EchoLoop {
                call,
                local_port,
                remote,
            } => self.media.echo(call, local_port, remote),
            MediaCommand::Transcode {
                call,
                a_local_port,
                a_remote,
                a,
                b_local_port,
                b_remote,
                b,
                recording,
            } => self.media.transcode(
                call,
                (a_local_port, a_remote, &a),
                (b_local_port, b_remote, &b),
                recording.as_ref(),
            ),
            MediaCommand::Direction {
                call,
                side,
                direction,
            } => self.media.direction(call, side, direction),
            MediaCommand::Dtmf {
                call,
                from,
                event,
                duration_ms,
            } => {
                if !self.media.dtmf(call, from, event, duration_ms) {
                    tracing::debug!(?call, "SIP INFO digit for a call without media");
                }
            }
            MediaCommand::Release { call } => self.media.release(call),
        }
    }

    fn on_event(&mut self, event: PbxEvent) {
        match event {
            PbxEvent::Registrar(event) => log_registrar(event),
            PbxEvent::InviteAuthFailed { source } => {
                tracing::warn!(source = %source.ip(), "INVITE with wrong credentials");
            }
            PbxEvent::SourceBanned { source, until } => {
                let ban_s = until
                    .saturating_duration_since(tokio::time::Instant::now().into_std())
                    .as_secs();
                tracing::warn!(
                    ?source,
                    ban_s,
                    "source banned after repeated authentication failures"
                );
                self.bans.insert(source);
            }
            PbxEvent::BanLifted { source } => {
                tracing::info!(?source, "ban lifted");
                self.bans.remove(&source);
            }
            PbxEvent::Trunk { trunk_id, event } => match event {
                TrunkEvent::TrunkStateChanged { from, to } => {
                    tracing::info!(
                        trunk = %trunk_id,
                        from = state_name(&from),
                        to = state_name(&to),
                        reason = ?match to { TrunkState::Failed { reason } => Some(reason), _ => None },
                        "trunk registration state"
                    );
                    self.registration.insert(trunk_id, state_name(&to));
                }
                TrunkEvent::KeepaliveLost => {
                    tracing::warn!(trunk = %trunk_id, "trunk keep-alive lost");
                }
                TrunkEvent::KeepaliveRestored => {
                    tracing::info!(trunk = %trunk_id, "trunk keep-alive restored");
                }
            },
            PbxEvent::TrunkUsable { trunk_id, up } => {
                if up {
                    tracing::info!(trunk = %trunk_id, "trunk up");
                } else {
                    tracing::warn!(trunk = %trunk_id, "trunk down");
                }
            }
            PbxEvent::TrunkConfigRejected { trunk_id, error } => {
                if let Some(error) = error {
                    tracing::error!(trunk = %trunk_id, %error, "trunk not started: invalid configuration");
                } else {
                    tracing::error!(
                        trunk = %trunk_id,
                        "trunk not started: its credentials entry is missing from the secrets file"
                    );
                }
            }
            PbxEvent::CallAnswered { call } => {
                tracing::debug!(?call, "call answered");
            }
        }
    }

    /// Stops the trunk cores and serves the network until they have
    /// unregistered or `grace` has passed.
    async fn shutdown(&mut self, grace: Duration) {
        for task in self.resolvers.drain(..) {
            task.abort();
        }
        let registered = self
            .registration
            .values()
            .filter(|s| matches!(**s, "registered" | "unregistering"))
            .count();
        if registered > 0 && !grace.is_zero() {
            // Stop every trunk core: the same trunks without registration
            // or keep-alive make `Pbx::reload` retire the running cores
            // (they send `Expires: 0` to the trunk's address, which must
            // still be in the configuration) and start no new ones. The
            // retired cores report no events, so the end is detected by
            // counting final responses to REGISTER (the engine sends no
            // other REGISTER as a client).
            let (now, unix) = clock();
            let mut site = self.pbx.site().clone();
            for trunk in &mut site.trunks {
                trunk.register = false;
                trunk.options_interval = None;
            }
            let secrets = self.secrets.clone();
            self.pbx.reload(now, unix, site, secrets);
            self.drain();
            let end = tokio::time::Instant::now() + grace;
            let mut answered = 0;
            while answered < registered {
                let deadline = self.pbx.poll_timeout();
                tokio::select! {
                    () = tokio::time::sleep_until(end) => {
                        tracing::warn!("trunks did not unregister within the grace period");
                        break;
                    }
                    event = recv_inbound(&mut self.inbound) => match event {
                        Some(event) => {
                            if let TransportEvent::Message(message) = &event
                                && is_final_register_response(&message.message)
                            {
                                answered += 1;
                            }
                            self.on_transport_event(event);
                        }
                        None => break,
                    },
                    () = sleep_until(deadline) => {
                        let (now, unix) = clock();
                        self.pbx.handle_timeout(now, unix);
                    }
                }
                self.drain();
            }
            if answered >= registered {
                tracing::info!(trunks = registered, "trunks unregistered");
            }
        }
        let calls = self.media.calls();
        if calls > 0 {
            tracing::warn!(calls, "calls in progress dropped at shutdown");
        }
        self.media.release_all();
        tracing::info!("SIP engine stopped");
    }
}

/// The TLS server name for a transmit: the Request-URI host of a request
/// (brackets of an IPv6 reference removed); `None` for responses and other
/// transports (see the module documentation).
fn tls_server_name(transmit: &Transmit) -> Option<String> {
    if transmit.transport != SipKind::Tls {
        return None;
    }
    let SipMessage::Request(request) = &transmit.message else {
        return None;
    };
    let host = &request.uri.as_sip()?.host;
    Some(match host {
        voip_sip::uri::Host::Domain(name) => name.clone(),
        voip_sip::uri::Host::Ipv4(ip) => ip.to_string(),
        voip_sip::uri::Host::Ipv6(ip) => ip.to_string(),
    })
}

fn is_final_register_response(message: &SipMessage) -> bool {
    matches!(message, SipMessage::Response(r)
        if r.status.is_final()
            && r.headers.typed::<CSeq>().and_then(Result::ok).is_some_and(|c| c.method == Method::REGISTER))
}

fn log_registrar(event: RegistrarEvent) {
    match event {
        RegistrarEvent::Registered { aor, contacts } => {
            tracing::info!(aor = %Pii::from(aor), contacts, "extension registered");
        }
        RegistrarEvent::Unregistered { aor } => {
            tracing::info!(aor = %Pii::from(aor), "extension unregistered");
        }
        RegistrarEvent::BindingExpired { aor, remaining } => {
            tracing::info!(aor = %Pii::from(aor), remaining, "registration expired");
        }
        RegistrarEvent::BindingsEvicted { aor, count } => {
            tracing::info!(aor = %Pii::from(aor), count, "oldest registrations replaced (contact limit)");
        }
        RegistrarEvent::AuthFailed { source } => {
            tracing::warn!(source = %source.ip(), "REGISTER with wrong credentials");
        }
        other => tracing::info!(event = ?other, "registrar event"),
    }
}

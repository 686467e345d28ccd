//! The tokio shell around the sans-IO media cores: binds the RTP/RTCP
//! sockets of a call and runs a [`voip_media::Relay`] (or an [`Echo`]) on
//! them.
//!
//! # Use
//! 1. Per leg, [`RelayManager::allocate_leg`] reserves a port pair from the
//!    site's range ([`PortAllocator`]) and binds its sockets, so the port
//!    written into the SDP is known to be usable. Exhaustion is
//!    [`RelayError::Ports`] (the B2BUA answers 503).
//! 2. Once both SDPs are known, [`RelayManager::create_relay`] (two legs) or
//!    [`RelayManager::create_echo`] (echo-test extension) spawns the call's
//!    task and returns a [`RelayHandle`].
//! 3. The call layer sends commands through the handle
//!    ([`RelayHandle::set_remote`] on a re-INVITE,
//!    [`RelayHandle::set_direction`] on hold/resume, [`RelayHandle::stats`]
//!    for quality samples, [`RelayHandle::stop`] at the end) and receives
//!    [`RelayEvent`]s on the channel given to [`RelayManager::new`].
//!
//! A [`LocalLeg`] or [`RelayHandle`] that is dropped releases its ports too:
//! dropping the handle closes the command channel, which ends the task.
//! Released ports rest in quarantine before reuse (see [`ports`]).
//!
//! # One task per call
//! Each call gets one task that owns its 2–4 sockets and its core and
//! `select`s over the sockets' readiness, the core's
//! [`poll_timeout`](voip_media::Relay::poll_timeout) deadline, the command
//! channel and (when events are waiting) the event channel. A socket error
//! ends only that call's task ([`RelayEventKind::Failed`]); nothing is shared
//! between calls except the port allocator (a mutex held for a few
//! instructions) and the event sender.
//!
//! # Bounds
//! - At most [`RelayManagerConfig::max_relays`] tasks
//!   ([`RelayError::TooManyRelays`]); ports are bounded by the range.
//! - Commands: a channel of [`RelayManagerConfig::command_capacity`] per call.
//! - Events: the caller's bounded channel; a task that finds it full keeps at
//!   most [`RelayManagerConfig::pending_events`] events and drops (and counts,
//!   [`IoCounters::events_dropped`]) the rest, so a slow call layer never
//!   stalls media.
//! - Packets are never queued in the shell: a send that would block (socket
//!   send buffer full) drops the packet and counts it
//!   ([`IoCounters::send_dropped`]); late audio is useless.
//! - Datagrams are read into one [`MAX_DATAGRAM`]-byte buffer per call;
//!   longer datagrams are truncated by the kernel (and then fail to parse or
//!   are forwarded short; voice RTP is far below this).
//! - Socket buffer sizes are left at the kernel default (`net.core.rmem_default`,
//!   about 208 KiB on Linux): at 50 packets/s per leg that is seconds of
//!   audio, far more than a task that is scheduled within milliseconds needs.
//!
//! # Performance
//! One task per call costs an `epoll` registration per socket and a task
//! wake-up per packet burst: a few µs per packet, fine for hundreds of calls
//! on a Raspberry Pi (200 calls × 2 legs × 50 packets/s = 20 000 packets/s).
//! A shared-socket design (one task per N calls, `recvmmsg`/`sendmmsg`
//! batching, or one socket demultiplexed by source) would beat it when
//! packet rates reach the point where per-wake-up overhead dominates
//! (thousands of calls, or 10 ms packetisation), and when the number of file
//! descriptors matters (4 per call). Until then this design keeps calls
//! isolated and the code small.
//!
//! Measured with `benches/relay_latency.rs` (release, `x86_64` 2-core
//! development VM, loopback, one call): the relay adds 47 µs one-way at p50
//! and 154 µs at p99 (mostly the two thread wake-ups of a blocking sender
//! and receiver around the relay's worker) and forwards 227 000 packets/s.
//! A Pi is slower; measure there before sizing `max_relays`.
//!
//! # Time
//! The shell reads time with `tokio::time::Instant::now()` and hands the
//! cores `std` instants, so tests with tokio's paused clock drive media
//! timeouts and port quarantine in virtual time.

mod bridge_task;
mod echo;
pub mod ports;
pub mod record_tap;
mod task;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc, oneshot};
use voip_media::quality::{QualitySample, Reporting};
use voip_media::rtcp::{ReportBlock, VoipMetrics};
pub use voip_media::{Leg, Port};
use voip_media::{
    LegConfig, LegCounters, MediaDirection, NtpClock, NtpTime, RelayConfig, SourceQuality,
};

pub use bridge_task::Transcoder;
pub use echo::{ECHO_SSRC, Echo, EchoConfig};
pub use ports::{
    DEFAULT_QUARANTINE, InvalidPortRange, PortAllocator, PortError, PortPair, PortRange,
};

use task::{Command, LegSockets};

/// Largest datagram read whole (see the module documentation).
pub const MAX_DATAGRAM: usize = 2048;

/// How many port pairs [`RelayManager::allocate_leg`] tries when a port is
/// taken by another program.
const BIND_ATTEMPTS: usize = 8;

/// The call layer's reference for a relay; carried in every [`RelayEvent`].
/// Opaque to this module (no SIP Call-ID, which may hold personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Settings of the [`RelayManager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayManagerConfig {
    /// Local address media sockets bind to (`0.0.0.0` by default).
    pub bind_ip: IpAddr,
    /// Most relays and echoes running at once.
    pub max_relays: usize,
    /// Capacity of each call's command channel.
    pub command_capacity: usize,
    /// Events a call keeps while the event channel is full.
    pub pending_events: usize,
    /// How long released port pairs rest before reuse.
    pub quarantine: Duration,
}

impl Default for RelayManagerConfig {
    fn default() -> Self {
        RelayManagerConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            max_relays: 256,
            command_capacity: 8,
            pending_events: 16,
            quarantine: DEFAULT_QUARANTINE,
        }
    }
}

/// Why a relay could not be created or commanded.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// No port pair free.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// [`RelayManagerConfig::max_relays`] relays are running.
    #[error("{max} relays are running already")]
    TooManyRelays {
        /// The limit.
        max: usize,
    },
    /// A media socket could not be bound.
    #[error("cannot bind media port {port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The I/O error.
        source: io::Error,
    },
    /// The relay's task has ended (stopped, or failed on a socket error).
    #[error("the relay has stopped")]
    Stopped,
    /// An echo has only [`Leg::A`].
    #[error("the relay has no leg {leg:?}")]
    NoSuchLeg {
        /// The leg asked for.
        leg: Leg,
    },
    /// Only a transcoding call terminates RTP and can inject digits.
    #[error("the call is relayed, not transcoded")]
    NotTranscoding,
    /// The leg negotiated no telephone-event.
    #[error("leg {leg:?} negotiated no telephone-event")]
    NoTelephoneEvent {
        /// The leg.
        leg: Leg,
    },
    /// The transcoding bridge could not be built (codec, resampler).
    #[error("transcoding bridge: {0}")]
    Bridge(#[from] voip_media::bridge::BridgeError),
}

/// What happened to a relay.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayEvent {
    /// The relay.
    pub call: CallRef,
    /// What happened.
    pub kind: RelayEventKind,
}

/// Kinds of [`RelayEvent`].
#[derive(Debug, Clone, PartialEq)]
pub enum RelayEventKind {
    /// A leg's quality over the last interval (every
    /// [`RelayConfig::quality_interval`] / [`EchoConfig::quality_interval`]),
    /// and each leg's last sample when the relay stops (`last` set).
    Quality(Box<QualitySample>),
    /// A leg's port latched to a source (symmetric RTP).
    Latched {
        /// Leg.
        leg: Leg,
        /// Port.
        port: Port,
        /// Source latched to.
        source: SocketAddr,
    },
    /// No RTP on a sendrecv leg for the media timeout: hang up.
    MediaTimeout {
        /// The silent leg.
        leg: Leg,
    },
    /// A socket failed for good; the relay has stopped and released its
    /// ports. Hang up.
    Failed {
        /// Leg of the socket.
        leg: Leg,
        /// Which socket.
        port: Port,
        /// The error.
        error: io::ErrorKind,
    },
}

/// Counters of the shell (the cores count packets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Receive errors (other than "would block").
    pub recv_errors: u64,
    /// Send errors (other than "would block").
    pub send_errors: u64,
    /// Packets dropped because the socket's send buffer was full.
    pub send_dropped: u64,
    /// Events dropped because the event channel stayed full or was closed.
    pub events_dropped: u64,
}

/// A snapshot of one leg, for quality samples.
#[derive(Debug, Clone, PartialEq)]
pub struct LegStats {
    /// Packet counters.
    pub counters: LegCounters,
    /// Source the RTP port latched to.
    pub latched_rtp: Option<SocketAddr>,
    /// Source the RTCP port latched to (the RTP one with rtcp-mux).
    pub latched_rtcp: Option<SocketAddr>,
    /// Current direction.
    pub direction: MediaDirection,
    /// Round-trip time relay ↔ this leg's endpoint, once measured.
    pub rtt: Option<Duration>,
    /// Receiver statistics per RTP source received from this leg.
    pub sources: Vec<SourceQuality>,
    /// Report blocks of the endpoint's latest SR/RR (what it receives).
    pub report_blocks: Vec<ReportBlock>,
    /// The endpoint's latest RFC 3611 `VoIP` metrics.
    pub voip_metrics: Option<VoipMetrics>,
}

/// A snapshot of a relay.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayStats {
    /// Leg A (the only leg of an echo).
    pub a: LegStats,
    /// Leg B; `None` for an echo.
    pub b: Option<LegStats>,
    /// Shell counters.
    pub io: IoCounters,
}

impl RelayStats {
    /// The stats of `leg`, if the relay has it.
    pub fn leg(&self, leg: Leg) -> Option<&LegStats> {
        match leg {
            Leg::A => Some(&self.a),
            Leg::B => self.b.as_ref(),
        }
    }
}

type Pool = Arc<Mutex<PortAllocator>>;

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Our RTCP identity for a leg the appliance terminates: the NTP clock
/// anchored now (the one place the shell reads the wall clock for it), a
/// per-call random CNAME (RFC 7022) and interval seed.
fn own_reporting(call: CallRef, ssrc: voip_media::Ssrc) -> Reporting {
    use std::hash::{BuildHasher, Hasher};
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(call.0);
    hasher.write_u128(since_epoch.as_nanos());
    let seed = hasher.finish();
    Reporting {
        ssrc,
        cname: format!("{seed:016x}@voip-appliance"),
        ntp: NtpClock::new(now(), NtpTime::from_unix(since_epoch)),
        seed,
    }
}

/// A reserved port pair; released into quarantine when dropped.
#[derive(Debug)]
struct PortLease {
    pair: PortPair,
    pool: Pool,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        // Only this lease releases its pair, so NotAllocated cannot happen.
        let _ = pool.release(now(), self.pair);
    }
}

/// A leg's local side: a reserved port pair and its bound sockets. Dropping
/// it closes the sockets and releases the pair.
#[derive(Debug)]
pub struct LocalLeg {
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    // Declared after the sockets: they close before the pair is released.
    lease: PortLease,
}

impl LocalLeg {
    /// The reserved pair (RTP port for the SDP `m=` line, RTCP = RTP + 1).
    pub fn ports(&self) -> PortPair {
        self.lease.pair
    }

    /// Whether the RTCP socket is bound (not with rtcp-mux, until needed).
    pub fn rtcp_bound(&self) -> bool {
        self.rtcp.is_some()
    }

    /// The RTP socket's local address.
    pub fn rtp_addr(&self) -> io::Result<SocketAddr> {
        self.rtp.local_addr()
    }
}

/// One leg handed to [`RelayManager::create_relay`].
#[derive(Debug)]
pub struct LegSpec {
    /// Local ports and sockets.
    pub local: LocalLeg,
    /// What the leg's SDP signalled: RTP address, RTCP address or rtcp-mux
    /// (`rtcp: None`). See [`LegConfig::with_rtcp_port_plus_one`] and
    /// [`LegConfig::muxed`].
    pub remote: LegConfig,
}

fn bind(ip: IpAddr, port: u16) -> Result<UdpSocket, RelayError> {
    let bind_err = |source| RelayError::Bind { port, source };
    let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port)).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    UdpSocket::from_std(socket).map_err(bind_err)
}

/// Binds the RTCP socket of a leg that has none yet.
fn ensure_rtcp(leg: &mut LegSockets, remote: &LegConfig) -> Result<(), RelayError> {
    if remote.rtcp.is_none() || leg.rtcp.is_some() {
        return Ok(());
    }
    let port = leg.lease.pair.rtcp();
    let ip = leg
        .rtp
        .local_addr()
        .map_err(|source| RelayError::Bind { port, source })?
        .ip();
    leg.rtcp = Some(bind(ip, port)?);
    Ok(())
}

/// Creates relays and echoes; cheap to clone (shared state behind `Arc`).
#[derive(Debug, Clone)]
pub struct RelayManager {
    config: RelayManagerConfig,
    pool: Pool,
    slots: Arc<Semaphore>,
    events: mpsc::Sender<RelayEvent>,
}

impl RelayManager {
    /// A manager handing out ports from `range` and sending every relay's
    /// events to `events` (a bounded channel the call layer reads).
    pub fn new(
        config: RelayManagerConfig,
        range: PortRange,
        events: mpsc::Sender<RelayEvent>,
    ) -> Self {
        RelayManager {
            config,
            pool: Arc::new(Mutex::new(PortAllocator::new(range, config.quarantine))),
            slots: Arc::new(Semaphore::new(config.max_relays)),
            events,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RelayManagerConfig {
        &self.config
    }

    /// Relays and echoes running.
    pub fn active(&self) -> usize {
        self.config.max_relays - self.slots.available_permits()
    }

    /// Port pairs reserved (by [`LocalLeg`]s and running relays).
    pub fn ports_in_use(&self) -> usize {
        self.lock_pool().in_use()
    }

    /// Port pairs that can be allocated now.
    pub fn ports_available(&self) -> usize {
        self.lock_pool().available(now())
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, PortAllocator> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves a port pair and binds its RTP socket, and its RTCP socket
    /// unless `rtcp_mux`. A port taken by another program is skipped (it
    /// rests in quarantine); up to 8 pairs are tried. Must be called within a
    /// Tokio runtime.
    pub fn allocate_leg(&self, rtcp_mux: bool) -> Result<LocalLeg, RelayError> {
        let mut last_err = None;
        for _ in 0..BIND_ATTEMPTS {
            let pair = self.lock_pool().allocate(now())?;
            let lease = PortLease {
                pair,
                pool: Arc::clone(&self.pool),
            };
            let sockets = bind(self.config.bind_ip, pair.rtp()).and_then(|rtp| {
                let rtcp = if rtcp_mux {
                    None
                } else {
                    Some(bind(self.config.bind_ip, pair.rtcp())?)
                };
                Ok((rtp, rtcp))
            });
            match sockets {
                Ok((media, control)) => {
                    return Ok(LocalLeg {
                        rtp: media,
                        rtcp: control,
                        lease,
                    });
                }
                Err(RelayError::Bind { port, source })
                    if source.kind() == io::ErrorKind::AddrInUse =>
                {
                    tracing::debug!(port, "media port in use by another program, skipped");
                    last_err = Some(RelayError::Bind { port, source });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(RelayError::Ports(PortError::Exhausted {
            in_use: 0,
            quarantined: 0,
        })))
    }

    fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RelayError> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| RelayError::TooManyRelays {
                max: self.config.max_relays,
            })
    }

    fn leg_sockets(spec: LegSpec) -> Result<(LegSockets, LegConfig), RelayError> {
        let LocalLeg { rtp, rtcp, lease } = spec.local;
        let mut sockets = LegSockets { rtp, rtcp, lease };
        ensure_rtcp(&mut sockets, &spec.remote)?;
        Ok((sockets, spec.remote))
    }

    /// Starts relaying between `a` and `b` (spawns the call's task). Must be
    /// called within a Tokio runtime. On error the legs' ports are released.
    pub fn create_relay(
        &self,
        call: CallRef,
        a: LegSpec,
        b: LegSpec,
        config: RelayConfig,
    ) -> Result<RelayHandle, RelayError> {
        let permit = self.slot()?;
        let (a, remote_a) = Self::leg_sockets(a)?;
        let (b, remote_b) = Self::leg_sockets(b)?;
        let ports = [Some(a.lease.pair), Some(b.lease.pair)];
        let core = voip_media::Relay::new(now(), config, remote_a, remote_b);
        Ok(self.spawn(call, core, vec![a, b], ports, permit))
    }

    /// Starts relaying between `a` and `b` with call recording (consent
    /// announcement, tap, on-demand code; see [`record_tap`]).
    pub fn create_recorded_relay(
        &self,
        call: CallRef,
        a: LegSpec,
        b: LegSpec,
        config: RelayConfig,
        setup: record_tap::RecordingSetup,
    ) -> Result<RelayHandle, RelayError> {
        let permit = self.slot()?;
        let (a, remote_a) = Self::leg_sockets(a)?;
        let (b, remote_b) = Self::leg_sockets(b)?;
        let ports = [Some(a.lease.pair), Some(b.lease.pair)];
        let at = now();
        let relay = voip_media::Relay::new(at, config, remote_a, remote_b);
        let core = record_tap::RecordedRelay::new(at, relay, remote_a, remote_b, setup);
        Ok(self.spawn(call, core, vec![a, b], ports, permit))
    }

    /// Starts an echo on one leg: RTP from the latched source goes back to
    /// it (see [`Echo`]). Must be called within a Tokio runtime.
    pub fn create_echo(
        &self,
        call: CallRef,
        leg: LegSpec,
        config: EchoConfig,
    ) -> Result<RelayHandle, RelayError> {
        let permit = self.slot()?;
        let (a, remote) = Self::leg_sockets(leg)?;
        let ports = [Some(a.lease.pair), None];
        let reporting = config.ssrc.map(|ssrc| own_reporting(call, ssrc));
        let core = Echo::with_reporting(now(), config, remote, reporting);
        Ok(self.spawn(call, core, vec![a], ports, permit))
    }

    /// Starts transcoding between `a` and `b`: a
    /// [`voip_media::bridge::Bridge`] with the legs' negotiated codecs
    /// (`media_a`, `media_b`; their `remote` fields are replaced by the
    /// specs' and their `local_ssrc` is the SSRC we send with), and our own
    /// RTCP per leg (see [`Transcoder`]). Must be called within a Tokio
    /// runtime. On error the legs' ports are released.
    pub fn create_transcoder(
        &self,
        call: CallRef,
        a: (LegSpec, voip_media::bridge::LegMedia),
        b: (LegSpec, voip_media::bridge::LegMedia),
        config: voip_media::bridge::BridgeConfig,
        quality_interval: Option<Duration>,
        recording: Option<record_tap::RecordingSetup>,
    ) -> Result<RelayHandle, RelayError> {
        let permit = self.slot()?;
        let (a_spec, mut media_a) = a;
        let (b_spec, mut media_b) = b;
        let (a, remote_a) = Self::leg_sockets(a_spec)?;
        let (b, remote_b) = Self::leg_sockets(b_spec)?;
        media_a.remote = remote_a;
        media_b.remote = remote_b;
        let ports = [Some(a.lease.pair), Some(b.lease.pair)];
        let started = now();
        let bridge = voip_media::bridge::Bridge::new(started, config, media_a, media_b)?;
        let reporting = [
            Some(own_reporting(call, media_a.local_ssrc)),
            Some(own_reporting(call, media_b.local_ssrc)),
        ];
        let mut core = Transcoder::new(
            started,
            bridge,
            config.opus.bitrate_bps,
            quality_interval,
            reporting,
        );
        if let Some(setup) = recording {
            core = core.with_recording(setup);
        }
        Ok(self.spawn(call, core, vec![a, b], ports, permit))
    }

    fn spawn<C: task::Core>(
        &self,
        call: CallRef,
        core: C,
        legs: Vec<LegSockets>,
        ports: [Option<PortPair>; 2],
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> RelayHandle {
        let (tx, rx) = mpsc::channel(self.config.command_capacity.max(1));
        let run = task::Task {
            call,
            core,
            legs,
            commands: rx,
            events: self.events.clone(),
            pending_capacity: self.config.pending_events,
            _permit: permit,
        };
        tokio::spawn(run.run());
        tracing::debug!(%call, "media relay started");
        RelayHandle {
            call,
            ports,
            commands: tx,
        }
    }
}

/// The call layer's handle on a running relay or echo. Dropping it stops
/// the relay (its ports go to quarantine).
#[derive(Debug)]
pub struct RelayHandle {
    call: CallRef,
    ports: [Option<PortPair>; 2],
    commands: mpsc::Sender<Command>,
}

impl RelayHandle {
    /// The call.
    pub fn call(&self) -> CallRef {
        self.call
    }

    /// The local ports of `leg`.
    pub fn ports(&self, leg: Leg) -> Option<PortPair> {
        match leg {
            Leg::A => self.ports[0],
            Leg::B => self.ports[1],
        }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, RelayError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| RelayError::Stopped)?;
        rx.await.map_err(|_| RelayError::Stopped)
    }

    /// New signalled addresses for `leg` (re-INVITE). Binds the RTCP socket
    /// if the leg was muxed and no longer is.
    pub async fn set_remote(&self, leg: Leg, remote: LegConfig) -> Result<(), RelayError> {
        self.ask(|reply| Command::SetRemote { leg, remote, reply })
            .await?
    }

    /// New SDP direction of `leg` (hold/resume; suspends its media timeout).
    pub async fn set_direction(
        &self,
        leg: Leg,
        direction: MediaDirection,
    ) -> Result<(), RelayError> {
        self.ask(|reply| Command::SetDirection {
            leg,
            direction,
            reply,
        })
        .await?
    }

    /// Sends a digit (from SIP INFO) to `to` as RFC 4733 telephone events;
    /// only a transcoding call can ([`RelayError::NotTranscoding`]).
    pub async fn send_dtmf(
        &self,
        to: Leg,
        event: voip_media::dtmf::DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), RelayError> {
        self.ask(|reply| Command::SendDtmf {
            to,
            event,
            duration_ms,
            reply,
        })
        .await?
    }

    /// Starts or stops the call's recording (only a relay made with
    /// [`RelayManager::create_recorded_relay`] takes it).
    pub async fn recording(
        &self,
        command: record_tap::RecordingCommand,
    ) -> Result<Result<(), record_tap::CommandRefused>, RelayError> {
        self.ask(|reply| Command::Recording { command, reply })
            .await
    }

    /// A snapshot of counters and quality figures.
    pub async fn stats(&self) -> Result<RelayStats, RelayError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Stops the relay and returns its final stats. When this returns the
    /// sockets are closed and the ports are in quarantine.
    pub async fn stop(self) -> Result<RelayStats, RelayError> {
        self.ask(|reply| Command::Stop { reply }).await
    }
}

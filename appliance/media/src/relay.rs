//! The relay core: forwards one call's media between leg A and leg B
//! (same codec on both sides, packets forwarded byte for byte).
//!
//! Run loop contract (as str0m's): feed datagrams with
//! [`Relay::handle_packet`], fire timers with [`Relay::handle_timeout`], then
//! drain [`Relay::poll_transmit`] and [`Relay::poll_event`] until `None`, and
//! sleep until [`Relay::poll_timeout`]. The relay never reads the clock.
//!
//! # Latching (symmetric RTP, RTP-bleed protection)
//! Each leg has the address its SDP signalled. A phone behind NAT sends from
//! a different address, so the leg *latches* to the source of the first
//! valid packet, but only
//! - within the latch window: the first [`LatchConfig::max_packets`] packets
//!   arriving on that port and [`LatchConfig::window`] after the relay
//!   started (or after [`Relay::set_remote`] changed the signalled address);
//! - from the signalled address family (IPv4 vs IPv6).
//!
//! After the window only the signalled address itself may latch. Once
//! latched, packets from any other source are dropped and counted as
//! [`LegCounters::rejected_foreign`]. Re-latching is off by default; with
//! [`LatchConfig::relatch_after_silence`] set, a new source (of the right
//! family) may take over after the latched source has been silent that long,
//! which survives NAT rebinding at the cost of a hijack window while a
//! phone is silent. A re-INVITE with a new address is handled by the call
//! layer with [`Relay::set_remote`].
//!
//! RTP and RTCP latch separately unless the leg uses rtcp-mux (RFC 5761),
//! where both share one port and one latch and are told apart by
//! [`classify`](crate::rtcp::classify).
//!
//! # Media timeout
//! When no RTP arrives on a leg for [`RelayConfig::media_timeout`],
//! [`Event::MediaTimeout`] is emitted once for that leg. The timer only runs
//! while the leg's direction is [`MediaDirection::SendRecv`]: on hold
//! (sendonly, recvonly, inactive: a phone on hold may legitimately send
//! nothing) it is suspended, and it restarts in full when the call layer sets
//! the direction back to `SendRecv`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::latch::{Admission, LegLatch};
pub use crate::latch::{LatchConfig, Leg, LegConfig, Port};
use crate::quality::{LegMonitor, MonitorConfig, QualitySample};
use crate::rtcp::{ReportBlock, RtcpPacket, VoipMetrics};
use crate::rtp::{PayloadType, RtpPacket, Ssrc};
use crate::stats::ReceiverStats;

/// Most SSRCs tracked per leg; packets of further SSRCs are still forwarded.
const MAX_SOURCES_PER_LEG: usize = 8;

/// SDP direction of a leg's endpoint, from that endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaDirection {
    /// Sends and receives; the media timeout runs.
    #[default]
    SendRecv,
    /// Holding the other side; timeout suspended.
    SendOnly,
    /// Being held; timeout suspended.
    RecvOnly,
    /// No media either way; timeout suspended.
    Inactive,
}

/// Relay configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Latching policy for both legs.
    pub latch: LatchConfig,
    /// Silence on a `SendRecv` leg after which [`Event::MediaTimeout`] fires.
    pub media_timeout: Duration,
    /// RTP clock rate in Hz for jitter statistics (8000 for G.711).
    pub clock_rate: u32,
    /// RFC 4733 telephone-event payload type, if negotiated. Such packets are
    /// forwarded like any RTP; statistics count them for loss, not jitter.
    pub telephone_event: Option<PayloadType>,
    /// Period of per-leg quality samples ([`Relay::poll_sample`]); `None`:
    /// only the last samples at [`Relay::finish`].
    pub quality_interval: Option<Duration>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            latch: LatchConfig::default(),
            media_timeout: Duration::from_secs(30),
            clock_rate: 8000,
            telephone_event: Some(PayloadType(101)),
            quality_interval: None,
        }
    }
}

/// A datagram to send from `leg`'s local `port` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Leg whose socket sends it.
    pub leg: Leg,
    /// Which of that leg's sockets.
    pub port: Port,
    /// Where to.
    pub destination: SocketAddr,
    /// The packet, unchanged.
    pub bytes: Vec<u8>,
}

/// Something the call layer should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A leg latched to a source address.
    Latched {
        /// Leg.
        leg: Leg,
        /// Port that latched.
        port: Port,
        /// Source latched to.
        source: SocketAddr,
    },
    /// No RTP on `leg` for the configured media timeout; hang up.
    MediaTimeout {
        /// Leg that went silent.
        leg: Leg,
    },
}

/// Per-leg packet counters. "In" counts accepted packets from the leg's
/// endpoint; "out" counts packets sent to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegCounters {
    /// Accepted packets (RTP and RTCP) received from the leg.
    pub packets_in: u64,
    /// Bytes of those packets.
    pub bytes_in: u64,
    /// Packets sent to the leg.
    pub packets_out: u64,
    /// Bytes sent to the leg.
    pub bytes_out: u64,
    /// Well-formed packets from a source other than the latched one, or
    /// from the wrong address family (RTP bleed protection).
    pub rejected_foreign: u64,
    /// Packets that are not valid RTP/RTCP for the port they came in on.
    pub malformed: u64,
}

#[derive(Debug)]
struct LegState {
    latch: LegLatch,
    direction: MediaDirection,
    /// Last RTP arrival, or when the timer was (re)armed.
    silence_since: Instant,
    timed_out: bool,
    counters: LegCounters,
    sources: HashMap<Ssrc, ReceiverStats>,
    /// Quality of this leg (RTT, reports, XR, samples).
    monitor: LegMonitor,
}

impl LegState {
    fn new(now: Instant, remote: LegConfig, monitor: LegMonitor) -> Self {
        LegState {
            latch: LegLatch::new(now, remote),
            direction: MediaDirection::SendRecv,
            silence_since: now,
            timed_out: false,
            counters: LegCounters::default(),
            sources: HashMap::new(),
            monitor,
        }
    }

    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        (self.direction == MediaDirection::SendRecv && !self.timed_out)
            .then(|| self.silence_since + timeout)
    }
}

/// The relay between two legs of one call. See the module documentation.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    legs: [LegState; 2],
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Relay {
    /// A relay started at `now` between the signalled addresses of A and B.
    pub fn new(now: Instant, config: RelayConfig, a: LegConfig, b: LegConfig) -> Self {
        let monitor = |leg| {
            LegMonitor::new(
                now,
                MonitorConfig {
                    leg,
                    clock_rate: config.clock_rate,
                    telephone_event: config.telephone_event,
                    codec: None,
                    sample_interval: config.quality_interval,
                    reporting: None,
                },
            )
        };
        Relay {
            config,
            legs: [
                LegState::new(now, a, monitor(Leg::A)),
                LegState::new(now, b, monitor(Leg::B)),
            ],
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn leg_mut(&mut self, leg: Leg) -> &mut LegState {
        &mut self.legs[leg.index()]
    }

    fn leg(&self, leg: Leg) -> &LegState {
        &self.legs[leg.index()]
    }

    /// Handles one datagram received on `leg`'s local `port` from `source`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        leg: Leg,
        port: Port,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(is_rtcp) = crate::latch::is_rtcp_on(bytes, port, self.leg(leg).latch.is_muxed())
        else {
            self.leg_mut(leg).counters.malformed += 1;
            return;
        };
        if is_rtcp {
            self.handle_rtcp(now, leg, port, source, bytes);
        } else {
            self.handle_rtp(now, leg, source, bytes);
        }
    }

    fn admit(&mut self, now: Instant, leg: Leg, port: Port, source: SocketAddr) -> bool {
        let cfg = self.config.latch;
        let state = self.leg_mut(leg);
        match state.latch.admit(now, port, source, &cfg) {
            Admission::Rejected => {
                state.counters.rejected_foreign += 1;
                false
            }
            Admission::Accepted => true,
            Admission::Latched(port) => {
                self.events.push_back(Event::Latched { leg, port, source });
                true
            }
        }
    }

    fn handle_rtp(&mut self, now: Instant, leg: Leg, source: SocketAddr, bytes: &[u8]) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.leg_mut(leg).counters.malformed += 1;
            return;
        };
        if !self.admit(now, leg, Port::Rtp, source) {
            return;
        }
        let clock_rate = self.config.clock_rate;
        let is_event = self.config.telephone_event == Some(packet.payload_type());
        let state = self.leg_mut(leg);
        state.counters.packets_in += 1;
        state.counters.bytes_in += bytes.len() as u64;
        state.silence_since = now;
        state.timed_out = false;
        let ssrc = packet.ssrc();
        if !state.sources.contains_key(&ssrc) && state.sources.len() < MAX_SOURCES_PER_LEG {
            state.sources.insert(
                ssrc,
                ReceiverStats::new(ssrc, clock_rate, packet.sequence_number()),
            );
        }
        if let Some(stats) = state.sources.get_mut(&ssrc) {
            if is_event {
                stats.handle_parts(now, packet.sequence_number(), packet.timestamp(), false);
            } else {
                stats.handle_rtp(now, &packet);
            }
        }
        state.monitor.handle_rtp(now, &packet);
        self.forward(leg, Port::Rtp, bytes);
    }

    fn handle_rtcp(
        &mut self,
        now: Instant,
        leg: Leg,
        port: Port,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let mut packets = Vec::new();
        for p in RtcpPacket::parse_compound(bytes) {
            let Ok(p) = p else {
                self.leg_mut(leg).counters.malformed += 1;
                return;
            };
            packets.push(p);
        }
        if !self.admit(now, leg, port, source) {
            return;
        }
        {
            let state = self.leg_mut(leg);
            state.counters.packets_in += 1;
            state.counters.bytes_in += bytes.len() as u64;
        }
        for p in &packets {
            if let RtcpPacket::SenderReport(sr) = p {
                if let Some(stats) = self.leg_mut(leg).sources.get_mut(&sr.ssrc) {
                    stats.handle_sender_report(now, sr);
                }
                // Forwarded to the other leg right now: its answer gives
                // the RTT of the relay↔other-leg segment.
                self.leg_mut(leg.other())
                    .monitor
                    .handle_sender_report_forwarded(now, sr.ntp_time);
            }
        }
        self.leg_mut(leg).monitor.handle_rtcp(now, &packets);
        // RTCP goes to the other leg's RTCP destination whichever port it
        // came in on (muxed or not).
        self.forward(leg, Port::Rtcp, bytes);
    }

    fn forward(&mut self, from: Leg, port: Port, bytes: &[u8]) {
        let to = from.other();
        let state = self.leg_mut(to);
        let (port, destination) = state.latch.destination(port);
        state.counters.packets_out += 1;
        state.counters.bytes_out += bytes.len() as u64;
        self.transmits.push_back(Transmit {
            leg: to,
            port,
            destination,
            bytes: bytes.to_vec(),
        });
    }

    /// The next instant at which [`Relay::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timeout = self.config.media_timeout;
        self.legs
            .iter()
            .flat_map(|l| [l.deadline(timeout), l.monitor.poll_timeout()])
            .flatten()
            .min()
    }

    /// Fires due timers: emits [`Event::MediaTimeout`] for silent legs.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.media_timeout;
        for leg in [Leg::A, Leg::B] {
            let state = self.leg_mut(leg);
            state.monitor.handle_timeout(now);
            if state.deadline(timeout).is_some_and(|d| d <= now) {
                state.timed_out = true;
                self.events.push_back(Event::MediaTimeout { leg });
            }
        }
    }

    /// Next quality sample of either leg (every
    /// [`RelayConfig::quality_interval`], and the last ones after
    /// [`Relay::finish`]).
    pub fn poll_sample(&mut self) -> Option<QualitySample> {
        self.legs.iter_mut().find_map(|l| l.monitor.poll_sample())
    }

    /// The call ended: queues each leg's last quality sample.
    pub fn finish(&mut self, now: Instant) {
        for state in &mut self.legs {
            state.monitor.finish(now);
        }
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the call layer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Tells the relay a leg's SDP direction changed (hold/resume). Going
    /// back to `SendRecv` restarts that leg's media timer from `now`.
    pub fn set_direction(&mut self, now: Instant, leg: Leg, direction: MediaDirection) {
        let state = self.leg_mut(leg);
        if direction == MediaDirection::SendRecv && state.direction != MediaDirection::SendRecv {
            state.silence_since = now;
            state.timed_out = false;
        }
        state.direction = direction;
    }

    /// New signalled addresses for a leg (re-INVITE): drops its latches and
    /// reopens the latch window from `now`; restarts its media timer.
    pub fn set_remote(&mut self, now: Instant, leg: Leg, remote: LegConfig) {
        let state = self.leg_mut(leg);
        state.latch.set_remote(now, remote);
        state.silence_since = now;
        state.timed_out = false;
    }

    /// Counters of a leg.
    pub fn counters(&self, leg: Leg) -> LegCounters {
        self.leg(leg).counters
    }

    /// Source a leg's port latched to, if any (with rtcp-mux, `Port::Rtcp`
    /// answers for the shared port).
    pub fn latched(&self, leg: Leg, port: Port) -> Option<SocketAddr> {
        self.leg(leg).latch.latched(port)
    }

    /// Current direction of a leg.
    pub fn direction(&self, leg: Leg) -> MediaDirection {
        self.leg(leg).direction
    }

    /// Receiver statistics of the RTP sources seen on a leg.
    pub fn sources(&self, leg: Leg) -> impl Iterator<Item = &ReceiverStats> {
        self.leg(leg).sources.values()
    }

    /// Receiver statistics of one source on a leg.
    pub fn source(&self, leg: Leg, ssrc: Ssrc) -> Option<&ReceiverStats> {
        self.leg(leg).sources.get(&ssrc)
    }

    /// Mutable statistics of one source (to close a reporting interval).
    pub fn source_mut(&mut self, leg: Leg, ssrc: Ssrc) -> Option<&mut ReceiverStats> {
        self.leg_mut(leg).sources.get_mut(&ssrc)
    }

    /// Round-trip time between the relay and a leg's endpoint, measured from
    /// the other leg's SRs forwarded to it and its report blocks answering
    /// them; `None` until such an answer arrived.
    pub fn rtt(&self, leg: Leg) -> Option<Duration> {
        self.leg(leg).monitor.rtt()
    }

    /// The report blocks of the latest SR/RR a leg's endpoint sent (its view
    /// of what it receives).
    pub fn last_report_blocks(&self, leg: Leg) -> &[ReportBlock] {
        self.leg(leg).monitor.last_report_blocks()
    }

    /// The latest RFC 3611 `VoIP` metrics a leg's endpoint sent.
    pub fn last_voip_metrics(&self, leg: Leg) -> Option<&VoipMetrics> {
        self.leg(leg).monitor.voip_metrics()
    }
}

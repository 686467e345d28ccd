//! Per-leg call quality: the [`LegMonitor`] measures one leg of a call from
//! the RTP and RTCP its endpoint sends, and, where the appliance terminates
//! RTP (echo test, transcoding bridge), writes its own RTCP sender/receiver
//! reports towards that endpoint (RFC 3550 §6).
//!
//! # What is measured
//! - Own receive statistics of the endpoint's current RTP source: packets,
//!   loss per interval and cumulative (RFC 3550 A.3), interarrival jitter
//!   (A.8), and burst loss (RFC 3611 §4.7.2 burst density with Gmin = 16:
//!   the fraction of packets lost inside bursts, where a burst is a stretch
//!   that starts and ends with a loss and holds no run of 16 or more
//!   received packets; a single isolated loss is part of a gap).
//! - Round-trip time from a report block's LSR/DLSR answering an SR that
//!   went to this endpoint: our own SRs ([`Reporting`]) or, in relay mode,
//!   the other leg's SRs forwarded to it ([`LegMonitor::handle_sender_report_forwarded`]).
//!   That is the appliance↔endpoint segment, measured on our own clock.
//! - The endpoint's own view of what it receives (its report block: fraction
//!   lost, cumulative lost, jitter) and its RFC 3611 `VoIP` metrics when it
//!   sends an XR.
//!
//! # Samples
//! Every [`MonitorConfig::sample_interval`] (5 s) and at the end
//! ([`LegMonitor::finish`]) a [`QualitySample`] is queued. Every value that
//! cannot be known is `None`, never a default: no RTT before an answered SR,
//! no loss figures while the source is on probation or when nothing was
//! expected in the interval, no jitter before two packets.
//!
//! R-factor and MOS come from `voip_shared::quality` (ITU-T G.107) and are
//! computed only when the leg's loss, jitter, RTT and codec are all known; otherwise
//! both are `None` ("unknown MOS", not an optimistic guess). Inputs:
//! Ppl = the interval's loss in percent; `BurstR` from the interval's loss
//! runs (`LossPattern`, random loss = 1 when no burst was seen); one-way
//! delay = RTT / 2 + one 20 ms packetisation frame; jitter-buffer delay =
//! 2 × the interarrival jitter (the usual adaptive-buffer target). Codec
//! impairments are the shared table's: G.711 and G.722 Ie = 0 with
//! Bpl = 25.1 (concealment), Opus per bitrate. The codec comes from
//! [`MonitorConfig::codec`] or, when not given, from the RTP payload type
//! if it is a static one (0 PCMU, 8 PCMA, 9 G.722); a dynamic payload type
//! without a configured codec leaves the codec, and so R and MOS, unknown.
//!
//! # RTCP we send
//! With [`MonitorConfig::reporting`] set the monitor writes a compound
//! packet (SR when we sent RTP since the previous report, else RR; then
//! SDES CNAME) at RFC 3550 intervals: the first after half the interval,
//! then the 5 s minimum interval randomised to 0.5–1.5 × (RFC 3550 §6.2,
//! §6.3.5; with two participants and voice bandwidth the computed interval
//! is always below the 5 s minimum). Randomness comes from a caller-given
//! seed, so tests are reproducible. [`LegMonitor::finish`] does not send a
//! BYE: the shell closes the socket with the call.

use std::time::{Duration, Instant};

use voip_shared::quality::{self as emodel, LossPattern, Measurements};

use crate::ntp::NtpClock;
use crate::relay::Leg;
use crate::rtcp::{
    ReceiverReport, ReportBlock, RtcpPacket, Sdes, SenderReport, VoipMetrics, build_compound,
};
use crate::rtp::{PayloadType, RtpPacket, Ssrc};
use crate::stats::{ReceiverStats, RttTracker};

/// RFC 3550 §6.2 minimum RTCP interval.
pub const RTCP_MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Default sample interval (issue 4: every 5 s and at call end).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 3611 §4.7.2 gap threshold: this many received packets in a row end
/// a burst.
pub const GMIN: u64 = 16;
/// Packetisation delay assumed per direction for the E-model (one 20 ms frame).
pub const PACKETISATION_MS: f64 = 20.0;

/// The codec of a leg, as the E-model rates it.
pub type Codec = emodel::Codec;

/// Our own RTCP towards the endpoint (only where the appliance terminates
/// RTP; a relay forwards the endpoints' RTCP instead).
#[derive(Debug, Clone)]
pub struct Reporting {
    /// SSRC of the stream we send to the endpoint (and of our reports).
    pub ssrc: Ssrc,
    /// SDES CNAME (RFC 7022: a random per-session value is fine).
    pub cname: String,
    /// Maps our `Instant`s to NTP time for SRs.
    pub ntp: NtpClock,
    /// Seed of the interval randomisation.
    pub seed: u64,
}

/// Settings of a [`LegMonitor`].
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Which leg of the call this is (copied into samples).
    pub leg: Leg,
    /// RTP clock rate of the endpoint's stream in Hz (jitter units).
    pub clock_rate: u32,
    /// RFC 4733 payload type: such packets count for loss, not jitter.
    pub telephone_event: Option<PayloadType>,
    /// The leg's codec; `None`: inferred from a static payload type.
    pub codec: Option<Codec>,
    /// Sample period; `None`: no periodic samples (only [`LegMonitor::finish`]).
    pub sample_interval: Option<Duration>,
    /// Our own SR/RR; `None` in relay mode.
    pub reporting: Option<Reporting>,
}

impl MonitorConfig {
    /// Relay mode for `leg`: 8 kHz clock, telephone-event 101, 5 s samples,
    /// no RTCP of our own.
    pub fn relay(leg: Leg) -> Self {
        MonitorConfig {
            leg,
            clock_rate: 8000,
            telephone_event: Some(PayloadType(101)),
            codec: None,
            sample_interval: Some(DEFAULT_SAMPLE_INTERVAL),
            reporting: None,
        }
    }
}

/// What the endpoint says about the stream it receives from us (its latest
/// report block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteView {
    /// Fraction lost in its last interval, 0.0 to 1.0.
    pub loss_fraction: f64,
    /// Its cumulative lost count.
    pub cumulative_lost: i64,
    /// Its interarrival jitter in ms (at our clock rate).
    pub jitter_ms: f64,
}

/// One leg's quality over one interval. `None` = unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct QualitySample {
    /// Leg.
    pub leg: Leg,
    /// Start of the interval.
    pub interval_start: Instant,
    /// End of the interval.
    pub interval_end: Instant,
    /// The last sample of the leg (call ended).
    pub last: bool,
    /// The endpoint's RTP source measured, if any packet arrived.
    pub ssrc: Option<Ssrc>,
    /// RTP packets received in the interval (duplicates included).
    pub packets_received: u64,
    /// Packets expected in the interval; `None` on probation.
    pub packets_expected: Option<u64>,
    /// Packets lost in the interval (never negative); `None` when
    /// `packets_expected` is `None`.
    pub packets_lost: Option<u64>,
    /// Lost / expected in the interval; `None` when nothing was expected.
    pub loss_fraction: Option<f64>,
    /// Lost since the start of the source (negative with duplicates).
    pub cumulative_lost: Option<i64>,
    /// Interarrival jitter in ms at the interval's end.
    pub jitter_ms: Option<f64>,
    /// RFC 3611 burst density of the interval, 0.0 to 1.0 (0 when no burst).
    pub burst_loss: Option<f64>,
    /// Round-trip time appliance ↔ endpoint in ms (latest measurement).
    pub rtt_ms: Option<f64>,
    /// The endpoint's report on what it receives from us.
    pub remote: Option<RemoteView>,
    /// The endpoint's latest RFC 3611 `VoIP` metrics.
    pub xr: Option<VoipMetrics>,
    /// The codec rated.
    pub codec: Option<Codec>,
    /// E-model R-factor; `None` unless loss, jitter, RTT and codec are known.
    pub r_factor: Option<f64>,
    /// MOS from R; `None` with `r_factor`.
    pub mos: Option<f64>,
}

/// Streaming RFC 3611 burst/gap classification (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
struct BurstTracker {
    /// Received packets since the last loss.
    received_run: u64,
    /// Whether a loss happened yet.
    seen_loss: bool,
    /// The open candidate holds exactly one (so far unattributed) loss.
    single_pending: bool,
    /// Packets and losses attributed to bursts (running totals).
    burst_packets: u64,
    burst_lost: u64,
}

impl BurstTracker {
    fn received(&mut self, n: u64) {
        self.received_run += n;
    }

    fn lost(&mut self, k: u64) {
        if k == 0 {
            return;
        }
        if self.seen_loss && self.received_run < GMIN {
            // Extends the open burst (or turns a single loss into one).
            if self.single_pending {
                self.burst_packets += 1;
                self.burst_lost += 1;
                self.single_pending = false;
            }
            self.burst_packets += self.received_run + k;
            self.burst_lost += k;
        } else if k >= 2 {
            self.burst_packets += k;
            self.burst_lost += k;
            self.single_pending = false;
        } else {
            self.single_pending = true;
        }
        self.seen_loss = true;
        self.received_run = 0;
    }
}

/// Small deterministic PRNG (splitmix64) for the RTCP interval.
#[derive(Debug, Clone, Copy)]
struct SplitMix(u64);

impl SplitMix {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    packets: u32,
    octets: u32,
    /// Last RTP timestamp sent and when.
    last: Option<(u32, Instant)>,
    /// Whether RTP went out since our previous report.
    since_report: bool,
}

/// Counters at the start of the current sample interval.
#[derive(Debug, Clone, Copy, Default)]
struct Base {
    expected: u64,
    received: u64,
    burst_packets: u64,
    burst_lost: u64,
}

/// The per-leg monitor. See the module documentation.
#[derive(Debug)]
pub struct LegMonitor {
    config: MonitorConfig,
    source: Option<ReceiverStats>,
    /// Codec inferred from the payload type.
    inferred_codec: Option<Codec>,
    bursts: BurstTracker,
    pattern: LossPattern,
    /// Extended highest sequence seen by the burst tracker.
    highest: Option<u32>,
    base: Base,
    /// Whether `base` holds the source's counters (false until it is valid).
    base_valid: bool,
    interval_start: Instant,
    next_sample: Option<Instant>,
    rtt: RttTracker,
    remote: Option<RemoteView>,
    xr: Option<VoipMetrics>,
    last_reports: Vec<ReportBlock>,
    sent: Sent,
    next_report: Option<Instant>,
    rng: SplitMix,
    rtcp_out: Vec<Vec<u8>>,
    samples: Vec<QualitySample>,
    finished: bool,
}

fn codec_of_static_pt(pt: PayloadType) -> Option<Codec> {
    match pt.0 {
        0 => Some(Codec::Pcmu),
        8 => Some(Codec::Pcma),
        9 => Some(Codec::G722),
        _ => None,
    }
}

impl LegMonitor {
    /// A monitor started at `now`.
    pub fn new(now: Instant, config: MonitorConfig) -> Self {
        let seed = config.reporting.as_ref().map_or(0, |r| r.seed);
        let mut rng = SplitMix(seed);
        let next_report = config.reporting.as_ref().map(|_| {
            // RFC 3550 §6.2: the first report after half the minimum
            // interval, randomised like every other.
            now + RTCP_MIN_INTERVAL.mul_f64(0.5 * (0.5 + rng.next_unit()))
        });
        LegMonitor {
            next_sample: config.sample_interval.map(|i| now + i),
            config,
            source: None,
            inferred_codec: None,
            bursts: BurstTracker::default(),
            pattern: LossPattern::new(),
            highest: None,
            base: Base::default(),
            base_valid: false,
            interval_start: now,
            rtt: RttTracker::new(),
            remote: None,
            xr: None,
            last_reports: Vec::new(),
            sent: Sent::default(),
            next_report,
            rng,
            rtcp_out: Vec::new(),
            samples: Vec::new(),
            finished: false,
        }
    }

    /// The leg.
    pub fn leg(&self) -> Leg {
        self.config.leg
    }

    /// Statistics of the endpoint's current RTP source.
    pub fn source(&self) -> Option<&ReceiverStats> {
        self.source.as_ref()
    }

    /// Latest RTT appliance ↔ endpoint.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt.rtt()
    }

    /// Report blocks of the endpoint's latest SR/RR.
    pub fn last_report_blocks(&self) -> &[ReportBlock] {
        &self.last_reports
    }

    /// The endpoint's latest `VoIP` metrics.
    pub fn voip_metrics(&self) -> Option<&VoipMetrics> {
        self.xr.as_ref()
    }

    /// Feeds an RTP packet received from the endpoint.
    pub fn handle_rtp(&mut self, now: Instant, packet: &RtpPacket<'_>) {
        if self.finished {
            return;
        }
        let ssrc = packet.ssrc();
        let is_event = self.config.telephone_event == Some(packet.payload_type());
        if !is_event && self.inferred_codec.is_none() {
            self.inferred_codec = codec_of_static_pt(packet.payload_type());
        }
        if self.source.as_ref().is_none_or(|s| s.ssrc() != ssrc) {
            // A new source (first packet, or the endpoint restarted its
            // stream): measure it from scratch.
            self.source = Some(ReceiverStats::new(
                ssrc,
                self.config.clock_rate,
                packet.sequence_number(),
            ));
            self.highest = None;
            self.base_valid = false;
        }
        let Some(stats) = self.source.as_mut() else {
            return;
        };
        if is_event {
            stats.handle_parts(now, packet.sequence_number(), packet.timestamp(), false);
        } else {
            stats.handle_rtp(now, packet);
        }
        if !stats.sequence().is_valid() {
            return;
        }
        let seq = stats.sequence();
        if !self.base_valid {
            // The source just passed probation (RFC 3550 A.1 counts from
            // the packet that validated it): the counters start here.
            self.base.expected = 0;
            self.base.received = 0;
            self.base_valid = true;
        }
        let ext = seq.extended_max();
        match self.highest {
            None => {
                self.bursts.received(1);
                self.pattern.record(false);
            }
            Some(h) if ext > h => {
                let gap = u64::from(ext - h - 1);
                self.bursts.lost(gap);
                self.pattern.record_run(true, gap);
                self.bursts.received(1);
                self.pattern.record(false);
            }
            // Late, duplicate or resynchronised: counted by the A.1
            // statistics, not by the loss-run view.
            Some(_) => {}
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
    }

    /// Feeds the packets of an RTCP compound received from the endpoint.
    pub fn handle_rtcp(&mut self, now: Instant, packets: &[RtcpPacket<'_>]) {
        if self.finished {
            return;
        }
        for p in packets {
            let blocks: &[ReportBlock] = match p {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(stats) = self.source.as_mut()
                        && stats.ssrc() == sr.ssrc
                    {
                        stats.handle_sender_report(now, sr);
                    }
                    &sr.reports
                }
                RtcpPacket::ReceiverReport(rr) => &rr.reports,
                RtcpPacket::ExtendedReport(xr) => {
                    if let Some(m) = xr.voip_metrics.last() {
                        self.xr = Some(*m);
                    }
                    &[]
                }
                _ => &[],
            };
            if blocks.is_empty() {
                continue;
            }
            for b in blocks {
                self.rtt.handle_report_block(now, b);
            }
            // The block about our stream when we send one, else the first.
            let ours = self.config.reporting.as_ref().map(|r| r.ssrc);
            let block = ours
                .and_then(|ssrc| blocks.iter().find(|b| b.ssrc == ssrc))
                .or(blocks.first());
            if let Some(b) = block {
                self.remote = Some(RemoteView {
                    loss_fraction: b.fraction_lost_ratio(),
                    cumulative_lost: i64::from(b.cumulative_lost),
                    jitter_ms: f64::from(b.jitter) * 1000.0
                        / f64::from(self.config.clock_rate.max(1)),
                });
            }
            self.last_reports = blocks.to_vec();
        }
    }

    /// Relay mode: an SR (from the other leg) with NTP time `ntp` was just
    /// forwarded to this leg's endpoint; its answer gives this leg's RTT.
    pub fn handle_sender_report_forwarded(&mut self, now: Instant, ntp: crate::NtpTime) {
        self.rtt.handle_sender_report_sent(now, ntp);
    }

    /// Terminating mode: we sent an RTP packet to the endpoint (for the
    /// sender info of our SRs).
    pub fn handle_rtp_sent(&mut self, now: Instant, timestamp: u32, payload_len: usize) {
        self.sent.packets = self.sent.packets.wrapping_add(1);
        self.sent.octets = self
            .sent
            .octets
            .wrapping_add(u32::try_from(payload_len).unwrap_or(u32::MAX));
        self.sent.last = Some((timestamp, now));
        self.sent.since_report = true;
    }

    /// The next instant [`LegMonitor::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        match (self.next_sample, self.next_report) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires due timers: queues samples and our RTCP.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if let Some(at) = self.next_report
            && at <= now
        {
            self.write_report(now);
            let factor = 0.5 + self.rng.next_unit();
            self.next_report = Some(now + RTCP_MIN_INTERVAL.mul_f64(factor));
        }
        if let (Some(at), Some(interval)) = (self.next_sample, self.config.sample_interval)
            && at <= now
        {
            self.take_sample(now, false);
            // Keep the grid unless we fell far behind.
            let next = at + interval;
            self.next_sample = Some(if next <= now { now + interval } else { next });
        }
    }

    /// The call ended: queues the last sample; the monitor then stops.
    pub fn finish(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        self.take_sample(now, true);
        self.finished = true;
    }

    /// Next RTCP compound to send to the endpoint.
    pub fn poll_rtcp(&mut self) -> Option<Vec<u8>> {
        if self.rtcp_out.is_empty() {
            None
        } else {
            Some(self.rtcp_out.remove(0))
        }
    }

    /// Next quality sample.
    pub fn poll_sample(&mut self) -> Option<QualitySample> {
        if self.samples.is_empty() {
            None
        } else {
            Some(self.samples.remove(0))
        }
    }

    fn write_report(&mut self, now: Instant) {
        let Some(reporting) = self.config.reporting.as_ref() else {
            return;
        };
        let blocks: Vec<ReportBlock> = self
            .source
            .as_mut()
            .and_then(|s| s.report_block(now))
            .into_iter()
            .collect();
        let first = if self.sent.since_report {
            let ntp = reporting.ntp.ntp(now);
            let rtp_timestamp = self.sent.last.map_or(0, |(ts, at)| {
                let elapsed = now.saturating_duration_since(at).as_secs_f64();
                ts.wrapping_add((elapsed * f64::from(self.config.clock_rate)) as u32)
            });
            self.rtt.handle_sender_report_sent(now, ntp);
            RtcpPacket::SenderReport(SenderReport {
                ssrc: reporting.ssrc,
                ntp_time: ntp,
                rtp_timestamp,
                packet_count: self.sent.packets,
                octet_count: self.sent.octets,
                reports: blocks,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: reporting.ssrc,
                reports: blocks,
            })
        };
        self.sent.since_report = false;
        let cname = reporting.cname.as_bytes();
        let cname = &cname[..cname.len().min(255)];
        let packets = [
            first,
            RtcpPacket::SourceDescription(Sdes::cname(reporting.ssrc, cname)),
        ];
        // Cannot fail: one report block, one chunk, a CNAME cut to 255 bytes.
        if let Ok(bytes) = build_compound(&packets) {
            self.rtcp_out.push(bytes);
        }
    }

    fn take_sample(&mut self, now: Instant, is_last: bool) {
        let codec = self.config.codec.or(self.inferred_codec);
        let valid = self
            .source
            .as_ref()
            .filter(|s| s.sequence().is_valid() && self.base_valid);
        let (received, expected, cumulative_lost, jitter_ms) = match valid {
            Some(s) => {
                let seq = s.sequence();
                let expected = seq.expected().saturating_sub(self.base.expected);
                let received = seq.received().saturating_sub(self.base.received);
                self.base.expected = seq.expected();
                self.base.received = seq.received();
                (received, Some(expected), s.cumulative_lost(), s.jitter_ms())
            }
            None => (
                0,
                None,
                None,
                self.source.as_ref().and_then(ReceiverStats::jitter_ms),
            ),
        };
        let lost = expected.map(|e| e.saturating_sub(received));
        let loss_fraction = match (lost, expected) {
            (Some(l), Some(e)) if e > 0 => Some(l as f64 / e as f64),
            _ => None,
        };
        let burst_packets = self.bursts.burst_packets - self.base.burst_packets;
        let lost_in_bursts = self.bursts.burst_lost - self.base.burst_lost;
        self.base.burst_packets = self.bursts.burst_packets;
        self.base.burst_lost = self.bursts.burst_lost;
        let burst_loss = loss_fraction.map(|_| {
            if burst_packets == 0 {
                0.0
            } else {
                lost_in_bursts as f64 / burst_packets as f64
            }
        });
        let burst_ratio = self.pattern.burst_ratio();
        self.pattern = LossPattern::new();
        let rtt_ms = self.rtt.rtt().map(|d| d.as_secs_f64() * 1000.0);
        let score = match (loss_fraction, rtt_ms, jitter_ms, codec) {
            (Some(fraction), Some(rtt), Some(jitter), Some(codec)) => {
                emodel::estimate(&Measurements {
                    codec,
                    packet_loss_pct: Some((fraction * 100.0).clamp(0.0, 100.0)),
                    // No loss run seen (no loss at all, or only loss): random.
                    burst_ratio: Some(burst_ratio.filter(|b| *b > 0.0).unwrap_or(1.0)),
                    mouth_to_ear_delay_ms: Some(rtt / 2.0 + PACKETISATION_MS),
                    jitter_buffer_ms: Some(2.0 * jitter),
                })
                .ok()
                .flatten()
                .map(|e| e.score)
            }
            _ => None,
        };
        self.samples.push(QualitySample {
            leg: self.config.leg,
            interval_start: self.interval_start,
            interval_end: now,
            last: is_last,
            ssrc: self.source.as_ref().map(ReceiverStats::ssrc),
            packets_received: received,
            packets_expected: expected,
            packets_lost: lost,
            loss_fraction,
            cumulative_lost,
            jitter_ms,
            burst_loss,
            rtt_ms,
            remote: self.remote,
            xr: self.xr,
            codec,
            r_factor: score.map(|s| s.r),
            mos: score.map(|s| s.mos),
        });
        self.interval_start = now;
    }
}

#[cfg(test)]
mod tests;

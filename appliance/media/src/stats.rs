//! Receiver statistics per source (RFC 3550 A.1, A.3, A.8) and round-trip
//! time from report blocks (RFC 3550 §6.4.1).
//!
//! Unknown values are `None`, never a default: no RTT before a report block
//! answers one of our (or our forwarded) sender reports, no jitter before two
//! packets, no loss figures while the source is on probation.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::ntp::{NtpTime, duration_to_short, short_to_duration};
use crate::rtcp::{ReportBlock, SenderReport};
use crate::rtp::{RtpPacket, Ssrc};
use crate::seq::{IntervalCounts, SeqNo, SeqOutcome, SequenceValidator};

/// Reception statistics for one SSRC.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: Ssrc,
    clock_rate: u32,
    seq: SequenceValidator,
    /// Arrival time and RTP timestamp of the previous packet used for jitter.
    last: Option<(Instant, u32)>,
    /// Interarrival jitter estimate in timestamp units (A.8, floating point).
    jitter: Option<f64>,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
    packets: u64,
    payload_bytes: u64,
}

/// A point-in-time view of one source's statistics, for quality samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceQuality {
    /// Source.
    pub ssrc: Ssrc,
    /// RTP packets seen (every packet, probation included).
    pub packets: u64,
    /// Packets expected since the source became valid; `None` on probation.
    pub expected: Option<u64>,
    /// Cumulative lost (negative with duplicates); `None` on probation.
    pub cumulative_lost: Option<i64>,
    /// Interarrival jitter in ms; `None` before two packets.
    pub jitter_ms: Option<f64>,
}

impl ReceiverStats {
    /// Starts statistics for `ssrc` whose first packet has `first_seq`.
    /// `clock_rate` is the RTP clock in Hz (8000 for G.711).
    pub fn new(ssrc: Ssrc, clock_rate: u32, first_seq: SeqNo) -> Self {
        ReceiverStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            seq: SequenceValidator::new(first_seq),
            last: None,
            jitter: None,
            last_sr: None,
            packets: 0,
            payload_bytes: 0,
        }
    }

    /// Source these statistics describe.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Feeds one received RTP packet; updates the sequence state and jitter.
    pub fn handle_rtp(&mut self, now: Instant, packet: &RtpPacket<'_>) -> SeqOutcome {
        self.payload_bytes += packet.payload().len() as u64;
        self.handle_parts(now, packet.sequence_number(), packet.timestamp(), true)
    }

    /// Feeds one packet by its fields. Pass `update_jitter = false` for
    /// packets whose timestamp is not a sampling instant (RFC 4733 events
    /// carry the event's start time), so they count for loss only.
    pub fn handle_parts(
        &mut self,
        now: Instant,
        seq: SeqNo,
        timestamp: u32,
        update_jitter: bool,
    ) -> SeqOutcome {
        self.packets += 1;
        let outcome = self.seq.update(seq);
        if update_jitter && outcome != SeqOutcome::Jumped {
            if let Some((prev_at, prev_ts)) = self.last {
                // A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si), in timestamp units.
                let arrival = now.saturating_duration_since(prev_at).as_secs_f64()
                    * f64::from(self.clock_rate);
                let sent = f64::from(timestamp.wrapping_sub(prev_ts).cast_signed());
                let d = (arrival - sent).abs();
                let j = self.jitter.unwrap_or(0.0);
                self.jitter = Some(j + (d - j) / 16.0);
            }
            self.last = Some((now, timestamp));
        }
        outcome
    }

    /// Records a sender report from this source (for LSR/DLSR of our reports).
    pub fn handle_sender_report(&mut self, now: Instant, sr: &SenderReport) {
        self.last_sr = Some((sr.ntp_time.short(), now));
    }

    /// Interarrival jitter in timestamp units; `None` before two packets.
    pub fn jitter(&self) -> Option<f64> {
        self.jitter
    }

    /// Interarrival jitter in milliseconds; `None` before two packets.
    pub fn jitter_ms(&self) -> Option<f64> {
        self.jitter.map(|j| j * 1000.0 / f64::from(self.clock_rate))
    }

    /// Packets expected; `None` while the source is on probation.
    pub fn expected(&self) -> Option<u64> {
        self.seq.is_valid().then(|| self.seq.expected())
    }

    /// Cumulative packets lost; `None` while the source is on probation.
    pub fn cumulative_lost(&self) -> Option<i64> {
        self.seq.is_valid().then(|| self.seq.cumulative_lost())
    }

    /// The sequence validator (extended highest sequence, received count).
    pub fn sequence(&self) -> &SequenceValidator {
        &self.seq
    }

    /// Payload octets received.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Closes the reporting interval (A.3) and returns its counts.
    pub fn take_interval(&mut self) -> IntervalCounts {
        self.seq.take_interval()
    }

    /// Closes the reporting interval and builds the report block we would
    /// send about this source; `None` while the source is on probation.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        if !self.seq.is_valid() {
            return None;
        }
        let interval = self.seq.take_interval();
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, duration_to_short(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: interval.fraction_lost_fixed(),
            cumulative_lost: self.seq.cumulative_lost().clamp(
                i64::from(ReportBlock::CUMULATIVE_LOST_MIN),
                i64::from(ReportBlock::CUMULATIVE_LOST_MAX),
            ) as i32,
            extended_highest_seq: self.seq.extended_max(),
            jitter: self.jitter.map_or(0, |j| j.round() as u32),
            last_sr,
            delay_since_last_sr,
        })
    }

    /// A snapshot for quality sampling.
    pub fn snapshot(&self) -> SourceQuality {
        SourceQuality {
            ssrc: self.ssrc,
            packets: self.packets,
            expected: self.expected(),
            cumulative_lost: self.cumulative_lost(),
            jitter_ms: self.jitter_ms(),
        }
    }
}

/// RFC 3550 §6.4.1 round-trip time for an endpoint that sends its own SRs:
/// `A − LSR − DLSR` in NTP short format, `arrival` being our NTP time when
/// the report block arrived. `None` when the block answers no SR (LSR 0) or
/// the result is negative (clock trouble or a stale block).
pub fn rtt_from_report_block(arrival: NtpTime, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = arrival
        .short()
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // A "negative" result wraps to the upper half of the 32-bit space.
    (rtt < 0x8000_0000).then(|| short_to_duration(rtt))
}

/// Round-trip time towards one peer, from sender reports we sent or forwarded
/// to it and the report blocks it sends back.
///
/// Keyed by the SR's LSR value, with the local `Instant` at which the SR left,
/// so it works for a relay that forwards someone else's SRs unchanged: the
/// RTT is then that of the relay↔peer segment, measured on our own clock.
#[derive(Debug, Clone, Default)]
pub struct RttTracker {
    sent: VecDeque<(u32, Instant)>,
    last: Option<Duration>,
}

const RTT_TRACKED_SRS: usize = 16;

impl RttTracker {
    /// A tracker with no RTT yet.
    pub fn new() -> Self {
        RttTracker::default()
    }

    /// Records that an SR with NTP time `ntp` left towards the peer at `now`.
    pub fn handle_sender_report_sent(&mut self, now: Instant, ntp: NtpTime) {
        if self.sent.len() == RTT_TRACKED_SRS {
            self.sent.pop_front();
        }
        self.sent.push_back((ntp.short(), now));
    }

    /// Feeds a report block received from the peer at `now`. Returns the new
    /// RTT when the block answers a tracked SR, `None` otherwise.
    pub fn handle_report_block(&mut self, now: Instant, block: &ReportBlock) -> Option<Duration> {
        if block.last_sr == 0 {
            return None;
        }
        let &(_, sent_at) = self
            .sent
            .iter()
            .rev()
            .find(|(lsr, _)| *lsr == block.last_sr)?;
        let rtt = now
            .checked_duration_since(sent_at)?
            .checked_sub(short_to_duration(block.delay_since_last_sr))?;
        self.last = Some(rtt);
        Some(rtt)
    }

    /// The latest RTT; `None` until a report block answered a tracked SR.
    pub fn rtt(&self) -> Option<Duration> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::NtpClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unknown_values_are_none_before_data() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(Ssrc(1), 8000, SeqNo(0));
        assert_eq!(s.jitter(), None);
        assert_eq!(s.expected(), None);
        assert_eq!(s.report_block(t0), None);
        s.handle_parts(t0, SeqNo(0), 0, true);
        assert_eq!(s.jitter(), None);
        assert_eq!(s.cumulative_lost(), None);
        s.handle_parts(t0 + ms(20), SeqNo(1), 160, true);
        assert_eq!(s.jitter(), Some(0.0));
        assert_eq!(s.cumulative_lost(), Some(0));
        let block = s.report_block(t0 + ms(20)).unwrap();
        assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    }

    #[test]
    fn jitter_follows_rfc_3550_a8_for_a_single_late_packet() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(Ssrc(1), 8000, SeqNo(0));
        s.handle_parts(t0, SeqNo(0), 0, true);
        // Packet 1 arrives 10 ms (80 units) late: D = 80, J = 80/16 = 5.
        s.handle_parts(t0 + ms(30), SeqNo(1), 160, true);
        assert!((s.jitter().unwrap() - 5.0).abs() < 1e-9);
        // Packet 2 on time relative to packet 0: D = 80 again, J = 5 + 75/16.
        s.handle_parts(t0 + ms(40), SeqNo(2), 320, true);
        assert!((s.jitter().unwrap() - (5.0 + 75.0 / 16.0)).abs() < 1e-9);
        assert!((s.jitter_ms().unwrap() - (5.0 + 75.0 / 16.0) / 8.0).abs() < 1e-9);
    }

    #[test]
    fn telephone_events_count_for_loss_but_not_jitter() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(Ssrc(1), 8000, SeqNo(0));
        s.handle_parts(t0, SeqNo(0), 0, true);
        s.handle_parts(t0 + ms(20), SeqNo(1), 160, true);
        // An event packet with the event's start timestamp, far from sampling time.
        s.handle_parts(t0 + ms(40), SeqNo(2), 160, false);
        s.handle_parts(t0 + ms(60), SeqNo(3), 480, true);
        assert_eq!(s.jitter(), Some(0.0));
        assert_eq!(s.expected(), Some(3));
        assert_eq!(s.cumulative_lost(), Some(0));
    }

    #[test]
    fn report_block_carries_lsr_and_dlsr_of_last_sr() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(Ssrc(9), 8000, SeqNo(0));
        s.handle_parts(t0, SeqNo(0), 0, true);
        s.handle_parts(t0, SeqNo(1), 160, true);
        let sr = SenderReport {
            ssrc: Ssrc(9),
            ntp_time: NtpTime(0x0001_2345_6789_0000),
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
            reports: vec![],
        };
        s.handle_sender_report(t0 + ms(100), &sr);
        let block = s.report_block(t0 + ms(350)).unwrap();
        assert_eq!(block.last_sr, 0x2345_6789);
        assert_eq!(block.delay_since_last_sr, 0x4000); // 250 ms = 0.25 * 65536
        assert_eq!(block.ssrc, Ssrc(9));
    }

    #[test]
    fn rfc_rtt_formula_and_its_none_cases() {
        let block = |lsr, dlsr| ReportBlock {
            ssrc: Ssrc(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        };
        // RFC 3550 §6.4.1 worked example: A = 0xb710:8000 (46864.500 s),
        // DLSR = 0x0005:4000 (5.250 s), LSR = 0xb705:2000 (46853.125 s) → 6.125 s.
        let arrival = NtpTime(0xb710_8000_u64 << 16);
        assert_eq!(
            rtt_from_report_block(arrival, &block(0xb705_2000, 0x0005_4000)),
            Some(Duration::from_millis(6125))
        );
        assert_eq!(rtt_from_report_block(arrival, &block(0, 0)), None);
        assert_eq!(
            rtt_from_report_block(arrival, &block(0xb710_8000, 0x0001_0000)),
            None
        );
    }

    #[test]
    fn rtt_tracker_matches_lsr_to_sent_instant() {
        let t0 = Instant::now();
        let clock = NtpClock::new(t0, NtpTime(0x0000_1000_0000_0000));
        let mut rtt = RttTracker::new();
        assert_eq!(rtt.rtt(), None);
        rtt.handle_sender_report_sent(t0, clock.ntp(t0));
        rtt.handle_sender_report_sent(t0 + ms(1000), clock.ntp(t0 + ms(1000)));
        let answer = ReportBlock {
            ssrc: Ssrc(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: clock.ntp(t0).short(),
            delay_since_last_sr: duration_to_short(ms(500)),
        };
        assert_eq!(rtt.handle_report_block(t0 + ms(560), &answer), Some(ms(60)));
        let unknown = ReportBlock {
            last_sr: 0x1234,
            ..answer
        };
        assert_eq!(rtt.handle_report_block(t0 + ms(600), &unknown), None);
        assert_eq!(rtt.rtt(), Some(ms(60)));
    }
}

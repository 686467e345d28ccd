//! RTP sequence numbers: wrapping comparison and the RFC 3550 A.1 source
//! validator that extends 16-bit sequence numbers to a 32-bit count of cycles.

use std::cmp::Ordering;
use std::fmt;

/// An RTP sequence number (16 bits, wraps around).
///
/// Ordering is *not* derived: two sequence numbers compare with serial number
/// arithmetic (RFC 1982), see [`SeqNo::is_newer_than`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// Signed distance from `earlier` to `self`, taking wrap-around into
    /// account: `SeqNo(2).delta(SeqNo(65534)) == 4`.
    pub fn delta(self, earlier: SeqNo) -> i16 {
        self.0.wrapping_sub(earlier.0).cast_signed()
    }

    /// True if `self` comes after `other` in wrapping order (distance in
    /// 1..=32767). A sequence number is not newer than itself.
    pub fn is_newer_than(self, other: SeqNo) -> bool {
        self.delta(other) > 0
    }

    /// The next sequence number (wraps 65535 → 0).
    #[must_use]
    pub fn next(self) -> SeqNo {
        SeqNo(self.0.wrapping_add(1))
    }

    /// Wrapping comparison as an [`Ordering`]; not a total order over all
    /// 65536 values, only meaningful for numbers less than half the space apart.
    pub fn wrapping_cmp(self, other: SeqNo) -> Ordering {
        self.delta(other).cmp(&0)
    }
}

impl fmt::Display for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Packets needed in sequence before a new source is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u16 = 2;
/// Largest forward jump accepted as in-sequence (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward jump treated as a late/duplicate packet (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// What [`SequenceValidator::update`] decided about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// The packet counts as received (in order, late or duplicate).
    Valid,
    /// The source is still on probation; the packet is not counted.
    Probation,
    /// A large jump: the packet is not counted. Two consecutive packets after
    /// such a jump restart the sequence (the peer restarted its stream).
    Jumped,
}

/// RFC 3550 A.1 `source` state: probation, cycle counting, received count.
#[derive(Debug, Clone)]
pub struct SequenceValidator {
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u16,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

impl SequenceValidator {
    /// Starts validating a source whose first packet has sequence `seq`
    /// (A.1: `init_seq(s, seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL`).
    pub fn new(seq: SeqNo) -> Self {
        let mut v = SequenceValidator {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        v.init(seq.0);
        v.max_seq = seq.0.wrapping_sub(1);
        v
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Feeds one packet's sequence number (A.1 `update_seq`).
    pub fn update(&mut self, seq: SeqNo) -> SeqOutcome {
        let seq = seq.0;
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return SeqOutcome::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqOutcome::Probation;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets after a big jump: the other side
                // restarted without telling us. Resync.
                self.init(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return SeqOutcome::Jumped;
            }
        }
        // else: duplicate or reordered packet, counted as received.
        self.received += 1;
        SeqOutcome::Valid
    }

    /// True once the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// Extended highest sequence number received: cycles + max seq
    /// (the 32-bit value an RTCP report block carries).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since the base sequence (A.3), 0 while on probation.
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        u64::from(self.cycles) + u64::from(self.max_seq) + 1 - u64::from(self.base_seq)
    }

    /// Packets counted as received (duplicates included, as A.1 does).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost (A.3); negative when duplicates outnumber losses.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected().cast_signed() - self.received.cast_signed()
    }

    /// Closes the current reporting interval (A.3) and returns its figures.
    pub fn take_interval(&mut self) -> IntervalCounts {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        IntervalCounts {
            expected: expected_interval,
            received: received_interval,
        }
    }
}

/// Expected and received packet counts over one reporting interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalCounts {
    /// Packets expected in the interval.
    pub expected: u64,
    /// Packets received in the interval (duplicates included).
    pub received: u64,
}

impl IntervalCounts {
    /// Lost packets in the interval (negative with duplicates).
    pub fn lost(&self) -> i64 {
        self.expected.cast_signed() - self.received.cast_signed()
    }

    /// RFC 3550 A.3 fraction lost as the 8-bit fixed-point value of a report
    /// block (0 when nothing was expected or nothing was lost).
    pub fn fraction_lost_fixed(&self) -> u8 {
        let lost = self.lost();
        if self.expected == 0 || lost <= 0 {
            0
        } else {
            ((lost as u64) * 256 / self.expected).min(255) as u8
        }
    }

    /// Fraction lost as a ratio in `0.0..=1.0`; `None` when nothing was expected.
    pub fn fraction_lost(&self) -> Option<f64> {
        if self.expected == 0 {
            return None;
        }
        Some((self.lost().max(0) as f64 / self.expected as f64).min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_comparison_across_zero() {
        let cases = [
            (SeqNo(1), SeqNo(0), true),
            (SeqNo(0), SeqNo(65535), true),
            (SeqNo(65535), SeqNo(0), false),
            (SeqNo(5), SeqNo(5), false),
            (SeqNo(32767), SeqNo(0), true),
            (SeqNo(100), SeqNo(65000), true),
        ];
        for (a, b, newer) in cases {
            assert_eq!(a.is_newer_than(b), newer, "{a} vs {b}");
        }
        assert_eq!(SeqNo(2).delta(SeqNo(65534)), 4);
        assert_eq!(SeqNo(65535).next(), SeqNo(0));
        assert_eq!(SeqNo(3).wrapping_cmp(SeqNo(65533)), Ordering::Greater);
    }

    #[test]
    fn first_packet_is_probation_then_valid() {
        let mut v = SequenceValidator::new(SeqNo(10));
        assert_eq!(v.update(SeqNo(10)), SeqOutcome::Probation);
        assert!(!v.is_valid());
        assert_eq!(v.update(SeqNo(11)), SeqOutcome::Valid);
        assert!(v.is_valid());
        assert_eq!(v.expected(), 1);
        assert_eq!(v.received(), 1);
    }

    #[test]
    fn out_of_order_during_probation_restarts_probation() {
        let mut v = SequenceValidator::new(SeqNo(10));
        assert_eq!(v.update(SeqNo(10)), SeqOutcome::Probation);
        assert_eq!(v.update(SeqNo(20)), SeqOutcome::Probation);
        assert_eq!(v.update(SeqNo(21)), SeqOutcome::Valid);
    }

    #[test]
    fn extended_sequence_counts_cycles_across_wrap() {
        let mut v = SequenceValidator::new(SeqNo(65530));
        let mut s = SeqNo(65530);
        for _ in 0..20 {
            v.update(s);
            s = s.next();
        }
        // Last fed: 65530 + 19 = 65549 → wraps to 13, one cycle.
        assert_eq!(v.extended_max(), 65536 + 13);
        assert_eq!(v.expected(), 19);
        assert_eq!(v.received(), 19);
        assert_eq!(v.cumulative_lost(), 0);
    }

    #[test]
    fn loss_and_duplicates_in_cumulative_lost() {
        let mut v = SequenceValidator::new(SeqNo(0));
        for s in [0u16, 1, 2, 4, 5, 5, 5, 6] {
            assert_ne!(v.update(SeqNo(s)), SeqOutcome::Jumped);
        }
        // base 1, max 6: expected 6; received 1,2,4,5,5,5,6 = 7.
        assert_eq!(v.expected(), 6);
        assert_eq!(v.received(), 7);
        assert_eq!(v.cumulative_lost(), -1);
    }

    #[test]
    fn large_jump_is_dropped_once_and_resyncs_on_second() {
        let mut v = SequenceValidator::new(SeqNo(100));
        v.update(SeqNo(100));
        v.update(SeqNo(101));
        assert_eq!(v.update(SeqNo(20000)), SeqOutcome::Jumped);
        assert_eq!(v.update(SeqNo(20001)), SeqOutcome::Valid);
        assert_eq!(v.extended_max(), 20001);
        assert_eq!(v.expected(), 1);
    }

    #[test]
    fn late_packet_within_misorder_is_counted_not_jumped() {
        let mut v = SequenceValidator::new(SeqNo(1000));
        for s in 1000..1010 {
            v.update(SeqNo(s));
        }
        assert_eq!(v.update(SeqNo(950)), SeqOutcome::Valid);
        assert_eq!(v.extended_max(), 1009);
    }

    #[test]
    fn interval_fraction_lost() {
        let mut v = SequenceValidator::new(SeqNo(0));
        v.update(SeqNo(0));
        for s in 1..=100u16 {
            if s % 4 != 2 {
                v.update(SeqNo(s));
            }
        }
        let i = v.take_interval();
        assert_eq!(i.expected, 100);
        assert_eq!(i.received, 75);
        assert_eq!(i.fraction_lost_fixed(), 64);
        assert_eq!(i.fraction_lost(), Some(0.25));
        let empty = v.take_interval();
        assert_eq!(empty.expected, 0);
        assert_eq!(empty.fraction_lost(), None);
        assert_eq!(empty.fraction_lost_fixed(), 0);
    }
}

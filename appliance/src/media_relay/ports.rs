//! Sans-IO RTP port allocator.
//!
//! The site's RTP range ([`MediaSettings`]) is cut into pairs: an even RTP
//! port and RTCP on RTP + 1 (RFC 3550 §11). Every port of a pair lies inside
//! the range, so `10000..=20000` gives the 5000 pairs `10000/10001` to
//! `19998/19999`.
//!
//! # Quarantine
//! A released pair is not handed out again for [`PortAllocator::quarantine`]
//! (default [`DEFAULT_QUARANTINE`], 5 s). A phone of the old call may still
//! send for a moment after its BYE (packets in flight, a late re-send of the
//! last packets, a slow-to-stop phone); if the port went straight to a new
//! call, those packets would arrive at the new relay inside its latch window
//! and could latch it to the wrong phone, leaking audio between calls.
//! Free pairs are kept in release order (FIFO) and the least recently
//! released pair is handed out first, so in a large range a port usually
//! rests far longer than the quarantine.
//!
//! The allocator never reads the clock: [`PortAllocator::allocate`] and
//! [`PortAllocator::release`] take `now`. Callers pass a non-decreasing
//! `now`; a time going backwards only delays reuse.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use voip_shared::site_config::MediaSettings;

/// How long a released pair rests before reuse.
pub const DEFAULT_QUARANTINE: Duration = Duration::from_secs(5);

/// A validated range of local RTP/RTCP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    min: u16,
    max: u16,
}

/// Why a port range is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPortRange {
    /// The first port is odd (RTP ports are even).
    #[error("the first RTP port {min} is odd")]
    OddStart {
        /// The first port.
        min: u16,
    },
    /// The range holds no complete RTP/RTCP pair.
    #[error("ports {min}..={max} hold no RTP/RTCP pair")]
    NoPair {
        /// The first port.
        min: u16,
        /// The last port.
        max: u16,
    },
}

impl PortRange {
    /// The ports `min..=max`; `min` must be even and the range must hold at
    /// least one pair (`min + 1 <= max`). Port 0 is refused as "no pair".
    pub fn new(min: u16, max: u16) -> Result<Self, InvalidPortRange> {
        if !min.is_multiple_of(2) {
            return Err(InvalidPortRange::OddStart { min });
        }
        if min == 0 || min >= max {
            return Err(InvalidPortRange::NoPair { min, max });
        }
        Ok(PortRange { min, max })
    }

    /// The range of a site's media settings.
    pub fn from_settings(settings: &MediaSettings) -> Result<Self, InvalidPortRange> {
        PortRange::new(settings.rtp_port_min, settings.rtp_port_max)
    }

    /// First port.
    pub fn min(self) -> u16 {
        self.min
    }

    /// Last port.
    pub fn max(self) -> u16 {
        self.max
    }

    /// Number of RTP/RTCP pairs.
    pub fn pairs(self) -> usize {
        (usize::from(self.max) - usize::from(self.min)).div_ceil(2)
    }

    fn pair(self, index: usize) -> PortPair {
        // index < pairs(), so the result fits below max.
        let rtp = usize::from(self.min) + 2 * index;
        PortPair {
            rtp: u16::try_from(rtp).unwrap_or(u16::MAX - 1),
        }
    }

    fn index(self, pair: PortPair) -> Option<usize> {
        let rtp = pair.rtp;
        (rtp >= self.min && rtp.is_multiple_of(2) && rtp < self.max)
            .then(|| usize::from(rtp - self.min) / 2)
    }
}

impl Default for PortRange {
    /// `10000..=20000`, the site configuration's default.
    fn default() -> Self {
        PortRange {
            min: 10_000,
            max: 20_000,
        }
    }
}

/// An even RTP port and the RTCP port after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortPair {
    rtp: u16,
}

impl PortPair {
    /// The RTP port (even).
    pub fn rtp(self) -> u16 {
        self.rtp
    }

    /// The RTCP port (RTP + 1).
    pub fn rtcp(self) -> u16 {
        self.rtp + 1
    }
}

/// Why no pair could be handed out or taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Every pair is in use or resting in quarantine (the B2BUA answers 503).
    #[error("no RTP port pair free ({in_use} in use, {quarantined} in quarantine)")]
    Exhausted {
        /// Pairs held by calls.
        in_use: usize,
        /// Released pairs still resting.
        quarantined: usize,
    },
    /// A pair released that is not allocated (or not in this range).
    #[error("port pair {rtp}/{rtcp} is not allocated", rtcp = rtp + 1)]
    NotAllocated {
        /// Its RTP port.
        rtp: u16,
    },
}

/// Hands out RTP/RTCP port pairs from a [`PortRange`]; see the module
/// documentation for the quarantine.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    quarantine: Duration,
    /// Free pair indices with the instant they were released (`None`: never
    /// used), oldest release first.
    free: VecDeque<(usize, Option<Instant>)>,
    in_use: Vec<bool>,
    in_use_count: usize,
}

impl PortAllocator {
    /// All pairs of `range` free; released pairs rest for `quarantine`.
    pub fn new(range: PortRange, quarantine: Duration) -> Self {
        let pairs = range.pairs();
        PortAllocator {
            range,
            quarantine,
            free: (0..pairs).map(|i| (i, None)).collect(),
            in_use: vec![false; pairs],
            in_use_count: 0,
        }
    }

    /// The range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// The quarantine of released pairs.
    pub fn quarantine(&self) -> Duration {
        self.quarantine
    }

    /// Pairs currently allocated.
    pub fn in_use(&self) -> usize {
        self.in_use_count
    }

    /// Pairs that can be allocated at `now`.
    pub fn available(&self, now: Instant) -> usize {
        self.free
            .iter()
            .filter(|(_, released)| self.rested(*released, now))
            .count()
    }

    fn rested(&self, released: Option<Instant>, now: Instant) -> bool {
        released.is_none_or(|t| now.saturating_duration_since(t) >= self.quarantine)
    }

    /// The least recently released pair that has rested long enough.
    pub fn allocate(&mut self, now: Instant) -> Result<PortPair, PortError> {
        // Releases are queued in time order, so if the front has not rested,
        // none has.
        match self.free.front() {
            Some(&(index, released)) if self.rested(released, now) => {
                self.free.pop_front();
                self.in_use[index] = true;
                self.in_use_count += 1;
                Ok(self.range.pair(index))
            }
            _ => Err(PortError::Exhausted {
                in_use: self.in_use_count,
                quarantined: self.free.len(),
            }),
        }
    }

    /// Gives a pair back at `now`; it rests in quarantine before reuse.
    pub fn release(&mut self, now: Instant, pair: PortPair) -> Result<(), PortError> {
        let index = self
            .range
            .index(pair)
            .filter(|&i| self.in_use[i])
            .ok_or(PortError::NotAllocated { rtp: pair.rtp })?;
        self.in_use[index] = false;
        self.in_use_count -= 1;
        self.free.push_back((index, Some(now)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: u16, max: u16) -> PortRange {
        PortRange::new(min, max).unwrap()
    }

    #[test]
    fn ranges_are_cut_into_even_rtp_odd_rtcp_pairs_inside_the_range() {
        for (min, max, pairs) in [
            (10_000, 20_000, 5000),
            (10_000, 10_001, 1),
            (10_000, 10_002, 1),
            (10_000, 10_003, 2),
            (65_534, 65_535, 1),
        ] {
            let r = range(min, max);
            assert_eq!(r.pairs(), pairs, "{min}..={max}");
            let last = r.pair(pairs - 1);
            assert!(last.rtcp() <= max, "{min}..={max}");
            assert_eq!(last.rtp() % 2, 0);
        }
    }

    #[test]
    fn unusable_ranges_are_refused() {
        for (min, max, err) in [
            (10_001, 20_000, InvalidPortRange::OddStart { min: 10_001 }),
            (
                10_000,
                10_000,
                InvalidPortRange::NoPair {
                    min: 10_000,
                    max: 10_000,
                },
            ),
            (
                20_000,
                10_000,
                InvalidPortRange::NoPair {
                    min: 20_000,
                    max: 10_000,
                },
            ),
            (0, 100, InvalidPortRange::NoPair { min: 0, max: 100 }),
        ] {
            assert_eq!(PortRange::new(min, max), Err(err));
        }
    }

    #[test]
    fn every_pair_is_handed_out_once_then_exhaustion_is_reported() {
        let t0 = Instant::now();
        let mut ports = PortAllocator::new(range(10_000, 10_007), DEFAULT_QUARANTINE);
        let got: Vec<u16> = (0..4).map(|_| ports.allocate(t0).unwrap().rtp()).collect();
        assert_eq!(got, vec![10_000, 10_002, 10_004, 10_006]);
        assert_eq!(
            ports.allocate(t0),
            Err(PortError::Exhausted {
                in_use: 4,
                quarantined: 0
            })
        );
    }

    #[test]
    fn a_released_pair_rests_for_the_quarantine_before_reuse() {
        let t0 = Instant::now();
        let q = Duration::from_secs(5);
        let mut ports = PortAllocator::new(range(10_000, 10_001), q);
        let pair = ports.allocate(t0).unwrap();
        ports.release(t0, pair).unwrap();
        assert_eq!(ports.available(t0), 0);
        assert_eq!(
            ports.allocate(t0 + q.checked_sub(Duration::from_millis(1)).unwrap()),
            Err(PortError::Exhausted {
                in_use: 0,
                quarantined: 1
            })
        );
        assert_eq!(ports.allocate(t0 + q), Ok(pair));
    }

    #[test]
    fn the_least_recently_released_pair_is_reused_first() {
        let t0 = Instant::now();
        let mut ports = PortAllocator::new(range(10_000, 10_003), Duration::ZERO);
        let a = ports.allocate(t0).unwrap();
        let b = ports.allocate(t0).unwrap();
        ports.release(t0, b).unwrap();
        ports.release(t0 + Duration::from_secs(1), a).unwrap();
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(ports.allocate(t1), Ok(b));
        assert_eq!(ports.allocate(t1), Ok(a));
    }

    #[test]
    fn releasing_a_pair_not_allocated_is_an_error_and_changes_nothing() {
        let t0 = Instant::now();
        let mut ports = PortAllocator::new(range(10_000, 10_003), DEFAULT_QUARANTINE);
        let a = ports.allocate(t0).unwrap();
        ports.release(t0, a).unwrap();
        assert_eq!(
            ports.release(t0, a),
            Err(PortError::NotAllocated { rtp: 10_000 })
        );
        let foreign = PortPair { rtp: 30_000 };
        assert_eq!(
            ports.release(t0, foreign),
            Err(PortError::NotAllocated { rtp: 30_000 })
        );
        assert_eq!(ports.in_use(), 0);
        assert_eq!(ports.available(t0), 1);
    }
}

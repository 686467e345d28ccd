//! Packet-loss burstiness: the burst ratio BurstR of ITU-T G.107 clause 7.5
//! from a two-state (Gilbert) loss model or from observed loss runs, and a
//! small counter that derives both loss inputs from a packet sequence.
//!
//! G.107 defines BurstR = (average length of observed loss bursts) /
//! (average length of bursts expected for random loss). For random loss with
//! probability `ppl`, a burst continues with probability `ppl`, so its
//! expected length is 1 / (1 − ppl). In a two-state Markov (Gilbert) model
//! with p = P(lost | previous received) and q = P(received | previous lost),
//! ppl = p / (p + q), the mean burst length is 1 / q, and BurstR = 1 / (p + q)
//! (G.107 clause 7.5, G.113 Appendix I).

/// BurstR of a two-state Markov loss model. `p` is the probability that a
/// packet is lost after a received one, `q` that a packet is received after
/// a lost one. `None` unless both are in [0, 1] with p + q > 0.
pub fn burst_ratio_from_gilbert(p: f64, q: f64) -> Option<f64> {
    let valid = (0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&q) && p + q > 0.0;
    valid.then(|| 1.0 / (p + q))
}

/// BurstR from the observed loss percentage (0 to 100, exclusive of 100)
/// and the observed mean length of loss bursts (packets, at least 1):
/// mean burst length × (1 − loss / 100). `None` for values outside those
/// ranges, where the ratio is undefined.
pub fn burst_ratio_from_mean_burst(loss_pct: f64, mean_burst_len: f64) -> Option<f64> {
    let valid =
        (0.0..100.0).contains(&loss_pct) && mean_burst_len >= 1.0 && mean_burst_len.is_finite();
    valid.then(|| mean_burst_len * (1.0 - loss_pct / 100.0))
}

/// Counts received and lost packets in sequence order and the number of
/// loss bursts (maximal runs of consecutive losses), from which it derives
/// the loss percentage and BurstR. Sans-IO and allocation-free: the caller
/// feeds one outcome per expected sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossPattern {
    received: u64,
    lost: u64,
    bursts: u64,
    last_lost: bool,
}

impl LossPattern {
    /// An empty pattern.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `count` consecutive packets that were all lost (`lost`) or all
    /// received, e.g. a sequence-number gap in one call.
    pub fn record_run(&mut self, lost: bool, count: u64) {
        if count == 0 {
            return;
        }
        if lost {
            if !self.last_lost {
                self.bursts += 1;
            }
            self.lost += count;
        } else {
            self.received += count;
        }
        self.last_lost = lost;
    }

    /// Records one packet.
    pub fn record(&mut self, lost: bool) {
        self.record_run(lost, 1);
    }

    /// Packets recorded (received + lost).
    pub fn packets(&self) -> u64 {
        self.received + self.lost
    }

    /// Packets recorded as lost.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Number of loss bursts.
    pub fn bursts(&self) -> u64 {
        self.bursts
    }

    /// Loss percentage (0 to 100); `None` before any packet.
    pub fn loss_pct(&self) -> Option<f64> {
        let packets = self.packets();
        (packets > 0).then(|| 100.0 * self.lost as f64 / packets as f64)
    }

    /// Mean length of the loss bursts; `None` before the first loss.
    pub fn mean_burst_len(&self) -> Option<f64> {
        (self.bursts > 0).then(|| self.lost as f64 / self.bursts as f64)
    }

    /// BurstR of the recorded pattern. With packets but no loss it is 1:
    /// BurstR has no effect on the model when Ppl = 0. `None` before any
    /// packet, or when every packet was lost (the ratio is undefined).
    pub fn burst_ratio(&self) -> Option<f64> {
        let loss = self.loss_pct()?;
        match self.mean_burst_len() {
            None => Some(1.0),
            Some(mean) => burst_ratio_from_mean_burst(loss, mean),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gilbert_random_loss_has_burst_ratio_one() {
        // Random loss: p = ppl, q = 1 − ppl, so p + q = 1.
        assert_eq!(burst_ratio_from_gilbert(0.05, 0.95), Some(1.0));
        let b = burst_ratio_from_gilbert(0.01, 0.25).unwrap();
        assert!((b - 1.0 / 0.26).abs() < 1e-12);
    }

    #[test]
    fn gilbert_rejects_impossible_probabilities() {
        for (p, q) in [(0.0, 0.0), (-0.1, 0.5), (0.5, 1.1), (f64::NAN, 0.5)] {
            assert_eq!(burst_ratio_from_gilbert(p, q), None, "p {p} q {q}");
        }
    }

    #[test]
    fn mean_burst_and_gilbert_agree() {
        let (p, q) = (0.02, 0.4);
        let ppl = 100.0 * p / (p + q);
        let from_runs = burst_ratio_from_mean_burst(ppl, 1.0 / q).unwrap();
        let from_model = burst_ratio_from_gilbert(p, q).unwrap();
        assert!((from_runs - from_model).abs() < 1e-12);
    }

    #[test]
    fn mean_burst_rejects_undefined_cases() {
        for (loss, mean) in [
            (100.0, 3.0),
            (-1.0, 1.0),
            (5.0, 0.5),
            (5.0, f64::INFINITY),
            (f64::NAN, 2.0),
        ] {
            assert_eq!(
                burst_ratio_from_mean_burst(loss, mean),
                None,
                "{loss} {mean}"
            );
        }
    }

    #[test]
    fn pattern_counts_bursts_as_runs_of_losses() {
        let mut p = LossPattern::new();
        // R L L R R L R L L L  -> 6 lost of 10, bursts of 2, 1, 3.
        for lost in [
            false, true, true, false, false, true, false, true, true, true,
        ] {
            p.record(lost);
        }
        assert_eq!((p.packets(), p.lost(), p.bursts()), (10, 6, 3));
        assert_eq!(p.loss_pct(), Some(60.0));
        assert_eq!(p.mean_burst_len(), Some(2.0));
        let b = p.burst_ratio().unwrap();
        assert!((b - 2.0 * 0.4).abs() < 1e-12);
    }

    #[test]
    fn runs_equal_single_records() {
        let mut a = LossPattern::new();
        a.record_run(false, 3);
        a.record_run(true, 2);
        a.record_run(true, 1);
        a.record_run(false, 0);
        a.record_run(false, 4);
        let mut b = LossPattern::new();
        for lost in [
            false, false, false, true, true, true, false, false, false, false,
        ] {
            b.record(lost);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn pattern_edge_cases() {
        let empty = LossPattern::new();
        assert_eq!((empty.loss_pct(), empty.burst_ratio()), (None, None));

        let mut clean = LossPattern::new();
        clean.record_run(false, 100);
        assert_eq!(
            (clean.loss_pct(), clean.burst_ratio()),
            (Some(0.0), Some(1.0))
        );

        let mut dead = LossPattern::new();
        dead.record_run(true, 50);
        assert_eq!((dead.loss_pct(), dead.burst_ratio()), (Some(100.0), None));
    }
}

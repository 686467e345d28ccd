//! Packet-loss concealment by pitch-period repetition, in the spirit of
//! ITU-T G.711 Appendix I, for codecs without their own PLC (G.711, G.722).
//!
//! On the first lost frame the concealer estimates the pitch period of the
//! recent output (normalised cross-correlation over 5..15 ms lags) and repeats
//! the last period. After 10 ms of loss it widens the repeated stretch to two,
//! after 20 ms to three periods (less buzzy), cross-fading a quarter period at
//! each widening; from 10 ms on it attenuates linearly by 20 % per 10 ms, so
//! the output is silent after 60 ms. The first good frame after a loss is
//! cross-faded with the continued synthetic signal over 4 ms, plus 4 ms per
//! further 10 ms of loss, at most 10 ms.
//!
//! Unlike Appendix I this adds no algorithmic delay: the samples before the
//! loss have already been sent, so they are not smoothed after the fact.

use std::collections::VecDeque;

/// Pitch-repetition concealer for one decoder, at one sample rate.
#[derive(Debug, Clone)]
pub struct Concealer {
    /// Samples per millisecond.
    per_ms: usize,
    /// Shortest and longest pitch period searched, in samples.
    min_period: usize,
    max_period: usize,
    /// Recent output (good and concealed), at most `4 * max_period` samples.
    history: VecDeque<i16>,
    /// Snapshot of the history tail taken when the current loss began.
    snapshot: Vec<f32>,
    /// Pitch period of the current loss, in samples.
    period: usize,
    /// Periods currently repeated (1..=3).
    periods: usize,
    /// Cross-fade from one period count to the next: samples left.
    widen_left: usize,
    /// Samples concealed in the current loss (0: not in a loss).
    lost: usize,
}

impl Concealer {
    /// A concealer for PCM at `sample_rate` Hz (8 000 or 16 000; any rate
    /// that is a multiple of 1 000 works).
    pub fn new(sample_rate: u32) -> Self {
        let per_ms = (sample_rate / 1000).max(1) as usize;
        let max_period = 15 * per_ms;
        Self {
            per_ms,
            min_period: 5 * per_ms,
            max_period,
            history: VecDeque::with_capacity(4 * max_period),
            snapshot: Vec::with_capacity(3 * max_period),
            period: 0,
            periods: 1,
            widen_left: 0,
            lost: 0,
        }
    }

    /// Whether the last output was concealed (a loss is in progress).
    pub fn in_loss(&self) -> bool {
        self.lost > 0
    }

    /// Feeds freshly decoded samples (in place, before they are output):
    /// after a loss, their start is cross-faded with the synthetic signal.
    pub fn good(&mut self, pcm: &mut [i16]) {
        if self.lost > 0 {
            let extra_tens = self.lost.saturating_sub(10 * self.per_ms) / (10 * self.per_ms);
            let fade = ((4 + 4 * extra_tens) * self.per_ms)
                .min(10 * self.per_ms)
                .min(pcm.len());
            for (i, sample) in pcm.iter_mut().take(fade).enumerate() {
                let w = (i + 1) as f32 / (fade + 1) as f32;
                let synth = self.synth_at(self.lost + i);
                *sample = saturate(synth * (1.0 - w) + f32::from(*sample) * w);
            }
            self.lost = 0;
            self.periods = 1;
            self.widen_left = 0;
        }
        self.remember(pcm);
    }

    /// Appends `samples` concealed samples to `out`.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        if self.lost == 0 {
            self.begin_loss();
        }
        let start = out.len();
        for _ in 0..samples {
            let t = self.lost;
            // Widen the repeated stretch at 10 and 20 ms.
            if self.period > 0 && self.periods < 3 && t == 10 * self.per_ms * self.periods {
                self.periods += 1;
                self.widen_left = (self.period / 4).max(1);
            }
            let value = self.synth_at(t);
            out.push(saturate(value));
            self.lost += 1;
        }
        let concealed: Vec<i16> = out[start..].to_vec();
        self.remember(&concealed);
    }

    /// Synthetic sample `t` samples into the loss, attenuated.
    fn synth_at(&mut self, t: usize) -> f32 {
        if self.period == 0 {
            return 0.0;
        }
        let mut value = self.repeat(self.periods, t);
        if self.widen_left > 0 {
            let span = (self.period / 4).max(1);
            let w = self.widen_left as f32 / (span + 1) as f32;
            value = self.repeat(self.periods - 1, t) * w + value * (1.0 - w);
            self.widen_left -= 1;
        }
        value * self.gain(t)
    }

    /// Sample `t` of the loop over the last `periods` pitch periods.
    fn repeat(&self, periods: usize, t: usize) -> f32 {
        let span = (periods * self.period).min(self.snapshot.len());
        if span == 0 {
            return 0.0;
        }
        self.snapshot[self.snapshot.len() - span + t % span]
    }

    /// Attenuation `t` samples into the loss: 1 for 10 ms, then −20 % per 10 ms.
    fn gain(&self, t: usize) -> f32 {
        let ten_ms = 10 * self.per_ms;
        if t < ten_ms {
            1.0
        } else {
            (1.0 - 0.2 * (t - ten_ms) as f32 / ten_ms as f32).max(0.0)
        }
    }

    fn begin_loss(&mut self) {
        self.periods = 1;
        self.widen_left = 0;
        self.snapshot.clear();
        let take = self.history.len().min(3 * self.max_period);
        self.snapshot.extend(
            self.history
                .iter()
                .skip(self.history.len() - take)
                .map(|&s| f32::from(s)),
        );
        self.period = self.estimate_period();
    }

    /// Pitch period of the history by normalised cross-correlation, or 0 when
    /// there is too little history or it is silent.
    fn estimate_period(&self) -> usize {
        let window = self.max_period;
        let hist: Vec<f32> = self.history.iter().map(|&s| f32::from(s)).collect();
        if hist.len() < window + self.max_period {
            // Too little history to search every lag: repeat what exists.
            return if hist.iter().any(|&s| s != 0.0) {
                hist.len().min(self.snapshot.len()) / 3
            } else {
                0
            };
        }
        let target = &hist[hist.len() - window..];
        let target_energy: f32 = target.iter().map(|s| s * s).sum();
        if target_energy < 1.0 {
            return 0;
        }
        let mut best = (self.min_period, f32::MIN);
        for lag in self.min_period..=self.max_period {
            let start = hist.len() - window - lag;
            let candidate = &hist[start..start + window];
            let (mut dot, mut energy) = (0.0f32, 0.0f32);
            for (a, b) in target.iter().zip(candidate) {
                dot += a * b;
                energy += b * b;
            }
            if energy <= 0.0 {
                continue;
            }
            let score = dot / energy.sqrt();
            if score > best.1 {
                best = (lag, score);
            }
        }
        best.0
    }

    fn remember(&mut self, pcm: &[i16]) {
        let cap = 4 * self.max_period;
        if pcm.len() >= cap {
            self.history.clear();
            self.history.extend(&pcm[pcm.len() - cap..]);
            return;
        }
        let overflow = (self.history.len() + pcm.len()).saturating_sub(cap);
        self.history.drain(..overflow);
        self.history.extend(pcm);
    }
}

fn saturate(x: f32) -> i16 {
    x.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: f32, start: usize, len: usize, amp: f32) -> Vec<i16> {
        (start..start + len)
            .map(|n| (amp * (2.0 * std::f32::consts::PI * freq * n as f32 / rate).sin()) as i16)
            .collect()
    }

    /// Frequency from the spacing of the first and last upward zero crossing.
    fn zero_crossing_freq(pcm: &[i16], rate: f32) -> f32 {
        let ups: Vec<usize> = pcm
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] < 0 && w[1] >= 0)
            .map(|(i, _)| i)
            .collect();
        match (ups.first(), ups.last()) {
            (Some(&a), Some(&b)) if b > a => (ups.len() - 1) as f32 * rate / (b - a) as f32,
            _ => 0.0,
        }
    }

    #[test]
    fn a_lost_frame_inside_a_sine_is_filled_with_the_same_frequency() {
        let mut plc = Concealer::new(8000);
        for frame in 0..10 {
            let mut pcm = sine(210.0, 8000.0, frame * 160, 160, 8000.0);
            plc.good(&mut pcm);
        }
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        let freq = zero_crossing_freq(&out, 8000.0);
        assert!((freq - 210.0).abs() < 10.0, "concealed at {freq} Hz");
        // The first 10 ms is not attenuated and continues the waveform.
        let expected = sine(210.0, 8000.0, 1600, 80, 8000.0);
        let err: f32 = out[..80]
            .iter()
            .zip(&expected)
            .map(|(&a, &b)| (f32::from(a) - f32::from(b)).abs())
            .sum::<f32>()
            / 80.0;
        assert!(err < 400.0, "mean error {err}");
    }

    #[test]
    fn a_long_loss_fades_to_silence_after_60_ms() {
        let mut plc = Concealer::new(16_000);
        for frame in 0..10 {
            let mut pcm = sine(300.0, 16_000.0, frame * 320, 320, 10_000.0);
            plc.good(&mut pcm);
        }
        let mut out = Vec::new();
        for _ in 0..4 {
            plc.conceal(320, &mut out);
        }
        let peak = |s: &[i16]| s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let first = peak(&out[..160]);
        let at_30ms = peak(&out[480..640]);
        let at_60ms = peak(&out[960..]);
        assert!(first > 9_000, "first 10 ms peak {first}");
        assert!(at_30ms < first, "{at_30ms} should be below {first}");
        assert_eq!(at_60ms, 0, "silent after 60 ms");
    }

    #[test]
    fn the_first_good_frame_after_a_loss_is_cross_faded() {
        let mut plc = Concealer::new(8000);
        for frame in 0..10 {
            let mut pcm = sine(250.0, 8000.0, frame * 160, 160, 8000.0);
            plc.good(&mut pcm);
        }
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        assert!(plc.in_loss());
        let mut next = vec![0i16; 160];
        plc.good(&mut next);
        assert!(!plc.in_loss());
        // The synthetic signal leaks into the start of the silent good frame
        // and is gone after the fade (4 ms + 4 ms for the second 10 ms lost).
        assert!(next[..8].iter().any(|&s| s != 0));
        assert!(next[40..64].iter().any(|&s| s != 0));
        assert!(next[64..].iter().all(|&s| s == 0));
    }

    #[test]
    fn silence_is_concealed_with_silence() {
        let mut plc = Concealer::new(8000);
        let mut pcm = vec![0i16; 800];
        plc.good(&mut pcm);
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        assert!(out.iter().all(|&s| s == 0));
        let mut fresh = Concealer::new(8000);
        let mut out = Vec::new();
        fresh.conceal(160, &mut out);
        assert_eq!(out, vec![0; 160]);
    }
}

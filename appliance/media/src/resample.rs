//! Streaming band-limited sample-rate conversion between the engine's rates
//! (8, 16 and 48 kHz, any pair; any rational ratio up to 256/256 works).
//!
//! A rational polyphase FIR: the input is conceptually upsampled by `L`
//! (zero stuffing), low-pass filtered at the filter rate `L · from`, and
//! decimated by `M`; only the taps that meet non-zero input are computed.
//! The prototype is a Kaiser-windowed sinc designed for 80 dB stopband
//! attenuation with the passband edge at 85 % and the stopband edge at 100 %
//! of the lower Nyquist frequency (3.4 / 4 kHz when 8 kHz is involved), so
//! nothing above the lower rate's Nyquist frequency folds back.
//!
//! The state between calls is the last `taps per phase` input samples and
//! the polyphase position, so feeding input in any chunking produces the
//! same output as one call with all of it.

/// Why a resampler cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    /// A rate is zero or the reduced ratio is larger than 256/256.
    #[error("cannot resample from {from_hz} Hz to {to_hz} Hz")]
    UnsupportedRates {
        /// Input rate.
        from_hz: u32,
        /// Output rate.
        to_hz: u32,
    },
}

/// Stopband attenuation the prototype filter is designed for, in dB.
const STOPBAND_DB: f64 = 80.0;
/// Passband edge as a fraction of the lower Nyquist frequency.
const PASSBAND_EDGE: f64 = 0.85;

/// Streaming mono `i16` resampler.
#[derive(Debug, Clone)]
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    /// Upsampling factor L and downsampling factor M (reduced).
    up: usize,
    down: usize,
    /// Taps per polyphase branch.
    taps: usize,
    /// `up` branches of `taps` coefficients each, stored reversed so a
    /// branch lines up with the input window oldest-first.
    branches: Vec<f32>,
    /// Input window: the last `taps - 1` samples plus the new input.
    window: Vec<f32>,
    /// Polyphase position of the next output: branch `phase`, and how many
    /// input samples past the window start its newest tap sits.
    phase: usize,
    /// Index into `window` of the newest input the next output uses.
    newest: usize,
    delay: usize,
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let unsupported = ResampleError::UnsupportedRates { from_hz, to_hz };
        if from_hz == 0 || to_hz == 0 {
            return Err(unsupported);
        }
        let g = gcd(from_hz, to_hz);
        let up = (to_hz / g) as usize;
        let down = (from_hz / g) as usize;
        if up > 256 || down > 256 {
            return Err(unsupported);
        }
        if up == 1 && down == 1 {
            return Ok(Self {
                from_hz,
                to_hz,
                up,
                down,
                taps: 1,
                branches: vec![1.0],
                window: Vec::new(),
                phase: 0,
                newest: 0,
                delay: 0,
            });
        }

        // Filter at the rate L·from.
        let filter_rate = f64::from(from_hz) * up as f64;
        let nyquist = f64::from(from_hz.min(to_hz)) / 2.0;
        let pass = PASSBAND_EDGE * nyquist;
        let cutoff = f64::midpoint(pass, nyquist) / filter_rate; // cycles per sample
        let transition = 2.0 * std::f64::consts::PI * (nyquist - pass) / filter_rate;
        let estimate = ((STOPBAND_DB - 7.95) / (2.285 * transition)).ceil() as usize + 1;
        // Odd length whose half-length is a multiple of L·M: the group delay
        // is then a whole number of samples at both rates.
        let unit = up * down;
        let half = estimate.div_ceil(2).div_ceil(unit) * unit;
        let len = 2 * half + 1;
        let taps = len.div_ceil(up);
        let beta = 0.1102 * (STOPBAND_DB - 8.7);
        let i0_beta = bessel_i0(beta);

        let mut proto = vec![0.0f64; taps * up];
        let centre = half as f64;
        for (n, h) in proto.iter_mut().enumerate().take(len) {
            let x = n as f64 - centre;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
            };
            let r = x / centre;
            let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            *h = sinc * window;
        }
        // Unity DC gain after zero stuffing: the taps sum to L.
        let sum: f64 = proto.iter().sum();
        let scale = up as f64 / sum;

        let mut branches = vec![0.0f32; up * taps];
        for phase in 0..up {
            for i in 0..taps {
                // Output uses h[phase + i·L] · x[q − i]; store reversed.
                branches[phase * taps + (taps - 1 - i)] = (proto[phase + i * up] * scale) as f32;
            }
        }
        Ok(Self {
            from_hz,
            to_hz,
            up,
            down,
            taps,
            branches,
            window: vec![0.0; taps - 1],
            phase: 0,
            newest: taps - 1,
            delay: half / down,
        })
    }

    /// Input rate in Hz.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Output rate in Hz.
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Resamples `input`, appending the output samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == 1 && self.down == 1 {
            out.extend_from_slice(input);
            return;
        }
        self.window.extend(input.iter().map(|&s| f32::from(s)));
        out.reserve(input.len() * self.up / self.down + 1);
        while self.newest < self.window.len() {
            let start = self.newest + 1 - self.taps;
            let coeffs = &self.branches[self.phase * self.taps..(self.phase + 1) * self.taps];
            let acc = dot(&self.window[start..=self.newest], coeffs);
            out.push(acc.round().clamp(-32_768.0, 32_767.0) as i16);
            self.phase += self.down;
            self.newest += self.phase / self.up;
            self.phase %= self.up;
        }
        // Keep the samples the next output still needs.
        let keep_from = (self.newest + 1)
            .saturating_sub(self.taps)
            .min(self.window.len());
        self.window.drain(..keep_from);
        self.newest -= keep_from;
    }

    /// Group delay of the filter, in output samples.
    pub fn delay_samples(&self) -> usize {
        self.delay
    }

    /// Clears the history (as after construction).
    pub fn reset(&mut self) {
        if self.up == 1 && self.down == 1 {
            return;
        }
        self.window.clear();
        self.window.resize(self.taps - 1, 0.0);
        self.phase = 0;
        self.newest = self.taps - 1;
    }
}

/// Dot product in eight independent lanes, so the compiler can vectorise
/// it (a single running sum forces strict sequential float order).
fn dot(x: &[f32], h: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut xc = x.chunks_exact(8);
    let mut hc = h.chunks_exact(8);
    for (xs, hs) in (&mut xc).zip(&mut hc) {
        for i in 0..8 {
            lanes[i] += xs[i] * hs[i];
        }
    }
    let tail: f32 = xc
        .remainder()
        .iter()
        .zip(hc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / f64::from(k);
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, len: usize, amp: f64) -> Vec<i16> {
        (0..len)
            .map(|n| {
                (amp * (2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    fn rms(pcm: &[i16]) -> f64 {
        (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
    }

    fn db(ratio: f64) -> f64 {
        20.0 * ratio.log10()
    }

    const RATES: [u32; 3] = [8000, 16_000, 48_000];

    #[test]
    fn a_passband_tone_keeps_its_level_for_every_pair() {
        for from in RATES {
            for to in RATES {
                let mut r = Resampler::new(from, to).expect("supported");
                let input = tone(1000.0, from, from as usize, 10_000.0);
                let mut out = Vec::new();
                r.process(&input, &mut out);
                assert_eq!(out.len(), to as usize, "{from}→{to}");
                let settled = &out[out.len() / 4..];
                let gain = db(rms(settled) / rms(&input));
                assert!(gain.abs() < 0.1, "{from}→{to}: {gain:.3} dB");
            }
        }
    }

    #[test]
    fn a_6khz_tone_is_removed_when_going_to_8khz() {
        let mut r = Resampler::new(48_000, 8000).expect("supported");
        let input = tone(6000.0, 48_000, 48_000, 20_000.0);
        let mut out = Vec::new();
        r.process(&input, &mut out);
        let settled = &out[out.len() / 4..];
        let attenuation = db(rms(settled).max(0.5) / rms(&input));
        assert!(attenuation < -60.0, "only {attenuation:.1} dB");
    }

    #[test]
    fn streaming_in_odd_chunks_equals_one_shot() {
        for (from, to) in [
            (8000, 48_000),
            (48_000, 8000),
            (16_000, 48_000),
            (48_000, 16_000),
        ] {
            let input = tone(440.0, from, 5000, 12_000.0);
            let mut one = Resampler::new(from, to).expect("supported");
            let mut whole = Vec::new();
            one.process(&input, &mut whole);
            let mut chunked = Resampler::new(from, to).expect("supported");
            let mut parts = Vec::new();
            let mut rest = &input[..];
            for size in [1usize, 7, 13, 160, 3, 999].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*size).min(rest.len());
                chunked.process(&rest[..n], &mut parts);
                rest = &rest[n..];
            }
            assert_eq!(whole, parts, "{from}→{to}");
        }
    }

    #[test]
    fn a_round_trip_8k_48k_8k_keeps_speech_band_tones() {
        for freq in [300.0, 1000.0, 3000.0] {
            let input = tone(freq, 8000, 8000, 12_000.0);
            let mut up = Resampler::new(8000, 48_000).expect("supported");
            let mut down = Resampler::new(48_000, 8000).expect("supported");
            let mut mid = Vec::new();
            up.process(&input, &mut mid);
            let mut back = Vec::new();
            down.process(&mid, &mut back);
            let delay = up.delay_samples() / 6 + down.delay_samples();
            let (mut sig, mut noise) = (0.0f64, 0.0f64);
            for i in 1000..(back.len() - delay) {
                let want = f64::from(input[i]);
                sig += want * want;
                noise += (f64::from(back[i + delay]) - want).powi(2);
            }
            let snr = 10.0 * (sig / noise).log10();
            assert!(snr > 50.0, "{freq} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn identity_passes_through() {
        let mut r = Resampler::new(16_000, 16_000).expect("supported");
        let mut out = Vec::new();
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(r.delay_samples(), 0);
    }

    #[test]
    fn zero_and_unreasonable_rates_are_refused() {
        assert!(Resampler::new(0, 8000).is_err());
        assert!(Resampler::new(8000, 0).is_err());
        assert!(Resampler::new(8000, 8001).is_err());
    }
}

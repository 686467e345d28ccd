//! The consent announcement ("Dit gesprek wordt opgenomen"): played to both
//! parties, in 20 ms frames on the media clock, before they are connected.
//!
//! Sans-IO: [`ConsentSequencer::poll_output`] returns each prompt frame
//! when it is due (the shell encodes it for each leg's codec and sends it
//! to both parties), then [`ConsentOutput::Connect`] once after a short
//! pause: only then may the bridge pass audio between the parties and the
//! recording start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::wav::{self, WavError};

/// The Dutch consent prompt shipped with the appliance (16 kHz mono
/// 16-bit WAV made by `scripts/generate-prompts`).
pub const CONSENT_PROMPT_NL: &[u8] = include_bytes!("../../prompts/nl/recording-consent.wav");

/// Silence after the prompt before the parties are connected.
pub const TRAILING_PAUSE: Duration = Duration::from_millis(300);

/// A prompt: mono PCM at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples.
    pub samples: Arc<[i16]>,
}

impl Prompt {
    /// Reads a mono 16-bit PCM WAV prompt.
    pub fn from_wav(bytes: &[u8]) -> Result<Self, WavError> {
        let (sample_rate, samples) = wav::read_mono(bytes)?;
        Ok(Self {
            sample_rate,
            samples: samples.into(),
        })
    }

    /// The shipped Dutch consent prompt.
    pub fn consent_nl() -> Result<Self, WavError> {
        Self::from_wav(CONSENT_PROMPT_NL)
    }

    /// Its length.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.samples.len() as u64 * 1_000_000_000 / u64::from(self.sample_rate.max(1)),
        )
    }
}

/// What the sequencer wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentOutput {
    /// Play this 20 ms mono frame (at the prompt's rate) to both parties.
    Frame(Vec<i16>),
    /// The announcement is over: connect the parties and start recording.
    Connect,
}

/// Plays one prompt. See the [module docs](self).
#[derive(Debug)]
pub struct ConsentSequencer {
    prompt: Prompt,
    frame_samples: usize,
    start: Instant,
    frames_sent: u64,
    total_frames: u64,
    connected: bool,
}

impl ConsentSequencer {
    /// Starts playing `prompt` at `now`.
    pub fn new(prompt: Prompt, now: Instant) -> Self {
        let frame_samples = (prompt.sample_rate / 50).max(1) as usize;
        let total_frames = prompt.samples.len().div_ceil(frame_samples) as u64;
        Self {
            prompt,
            frame_samples,
            start: now,
            frames_sent: 0,
            total_frames,
            connected: false,
        }
    }

    fn frame_due(&self, n: u64) -> Instant {
        self.start + Duration::from_millis(20) * u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn connect_due(&self) -> Instant {
        self.frame_due(self.total_frames) + TRAILING_PAUSE
    }

    /// When the next output is due; `None` once the parties are connected.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.connected {
            None
        } else if self.frames_sent < self.total_frames {
            Some(self.frame_due(self.frames_sent))
        } else {
            Some(self.connect_due())
        }
    }

    /// Whether the parties were connected.
    pub fn is_done(&self) -> bool {
        self.connected
    }

    /// The next output due at `now`. Call until `None`.
    pub fn poll_output(&mut self, now: Instant) -> Option<ConsentOutput> {
        if self.connected {
            return None;
        }
        if self.frames_sent < self.total_frames {
            if now < self.frame_due(self.frames_sent) {
                return None;
            }
            let from = self.frames_sent as usize * self.frame_samples;
            let to = (from + self.frame_samples).min(self.prompt.samples.len());
            let mut frame = self.prompt.samples[from..to].to_vec();
            frame.resize(self.frame_samples, 0);
            self.frames_sent += 1;
            return Some(ConsentOutput::Frame(frame));
        }
        if now >= self.connect_due() {
            self.connected = true;
            return Some(ConsentOutput::Connect);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn prompt(samples: usize) -> Prompt {
        Prompt {
            sample_rate: 8000,
            samples: (0..samples)
                .map(|i| i16::try_from(i + 1).unwrap())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    #[test]
    fn plays_every_frame_on_time_then_connects_after_the_pause() {
        let t0 = Instant::now();
        // 50 ms of prompt: frames of 160, 160 and 80 (+80 silence).
        let mut s = ConsentSequencer::new(prompt(400), t0);
        let mut frames = Vec::new();
        let mut connect_at = None;
        let mut now = t0;
        while connect_at.is_none() {
            assert!(now < t0 + Duration::from_secs(1), "never connected");
            while let Some(out) = s.poll_output(now) {
                match out {
                    ConsentOutput::Frame(f) => frames.push((now, f)),
                    ConsentOutput::Connect => connect_at = Some(now),
                }
            }
            now = s
                .poll_timeout()
                .unwrap_or(now)
                .max(now + Duration::from_millis(1));
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].0, t0);
        assert_eq!(frames[2].0, t0 + Duration::from_millis(40));
        assert!(frames.iter().all(|(_, f)| f.len() == 160));
        assert_eq!(frames[2].1[79], 400);
        assert_eq!(frames[2].1[80], 0);
        assert_eq!(
            connect_at,
            Some(t0 + Duration::from_millis(60) + TRAILING_PAUSE)
        );
        assert!(s.is_done());
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.poll_output(now + Duration::from_secs(9)), None);
    }

    #[test]
    fn nothing_is_sent_before_it_is_due() {
        let t0 = Instant::now();
        let mut s = ConsentSequencer::new(prompt(320), t0);
        assert!(matches!(s.poll_output(t0), Some(ConsentOutput::Frame(_))));
        assert_eq!(s.poll_output(t0 + Duration::from_millis(19)), None);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_millis(20)));
    }

    #[test]
    fn the_shipped_dutch_prompt_is_valid_speech() {
        let p = Prompt::consent_nl().unwrap();
        assert_eq!(p.sample_rate, 16_000);
        assert!(p.duration() > Duration::from_secs(1), "{:?}", p.duration());
        assert!(p.duration() < Duration::from_secs(6), "{:?}", p.duration());
        // Not silent: RMS well above the noise floor and real peaks.
        let rms = (p.samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>()
            / p.samples.len() as f64)
            .sqrt();
        let peak = p.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(rms > 500.0, "rms {rms}");
        assert!(peak > 8000, "peak {peak}");
    }
}

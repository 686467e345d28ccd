//! Plays a prompt (the consent announcement) to both legs of a call as RTP
//! in each leg's codec, before the parties are connected.
//!
//! Sans-IO, virtual time: [`PromptPlayer::poll_packet`] hands out each
//! leg's next RTP packet when it is due (timing from
//! [`ConsentSequencer`]: one 20 ms frame per 20 ms, then a short pause), and
//! [`PromptPlayer::is_done`] turns true at the sequencer's `Connect`. The
//! prompt is resampled once, at start, to every codec rate ([`PromptSet`]);
//! a player only slices and encodes it, 20 ms at a time. Each leg
//! gets its own SSRC, sequence numbers and timestamps (RFC 3550: the
//! appliance is the source of this audio), the first packet with the
//! marker bit (start of a talk spurt).

use std::collections::VecDeque;
use std::time::Instant;

use voip_media::codec::{self, AudioEncoder, CodecError, CodecKind, OpusSettings};
use voip_media::resample::{ResampleError, Resampler};
use voip_media::{PayloadType, RtpHeader, SeqNo, Ssrc};

use super::consent::{ConsentOutput, ConsentSequencer, Prompt};

/// Which leg a prompt packet is for (A: the caller, B: the callee).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptLeg {
    /// The calling side.
    A,
    /// The called side.
    B,
}

/// How one leg hears the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegAudio {
    /// The leg's negotiated audio codec.
    pub codec: CodecKind,
    /// Its payload type on that leg.
    pub payload_type: u8,
    /// Our SSRC toward the leg.
    pub ssrc: u32,
    /// First sequence number.
    pub first_seq: u16,
    /// First RTP timestamp.
    pub first_timestamp: u32,
}

/// Why a player cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The codec could not be set up.
    #[error("prompt encoder: {0}")]
    Codec(#[from] CodecError),
    /// The prompt's rate cannot be converted.
    #[error("prompt resampler: {0}")]
    Resample(#[from] ResampleError),
}

/// A prompt resampled once to each codec PCM rate (8, 16 and 48 kHz).
#[derive(Debug, Clone)]
pub struct PromptSet {
    original: Prompt,
    by_rate: Vec<Prompt>,
}

impl PromptSet {
    /// Resamples `prompt` to every codec rate (costly: do it once).
    pub fn new(prompt: Prompt) -> Result<Self, PromptError> {
        let mut by_rate = Vec::new();
        for rate in [8000, 16_000, 48_000] {
            by_rate.push(resampled(&prompt, rate)?);
        }
        Ok(Self {
            original: prompt,
            by_rate,
        })
    }

    /// The prompt as recorded.
    pub fn original(&self) -> &Prompt {
        &self.original
    }

    /// The prompt at `rate`, if it is a codec rate.
    pub fn at_rate(&self, rate: u32) -> Option<&Prompt> {
        self.by_rate.iter().find(|p| p.sample_rate == rate)
    }
}

/// `prompt` at `rate`, the filter's delay removed and its tail flushed.
fn resampled(prompt: &Prompt, rate: u32) -> Result<Prompt, PromptError> {
    if prompt.sample_rate == rate {
        return Ok(prompt.clone());
    }
    let mut pcm = Vec::with_capacity(prompt.samples.len() * rate as usize / 8000);
    let mut resampler = Resampler::new(prompt.sample_rate, rate)?;
    resampler.process(&prompt.samples, &mut pcm);
    let delay = resampler.delay_samples();
    let tail = vec![0; delay * prompt.sample_rate as usize / rate as usize + 1];
    resampler.process(&tail, &mut pcm);
    pcm.drain(..delay.min(pcm.len()));
    Ok(Prompt {
        sample_rate: rate,
        samples: pcm.into(),
    })
}

struct LegPlayer {
    leg: PromptLeg,
    audio: LegAudio,
    encoder: Box<dyn AudioEncoder>,
    /// The prompt at the codec's PCM rate.
    pcm: std::sync::Arc<[i16]>,
    seq: u16,
    timestamp: u32,
    first: bool,
}

impl std::fmt::Debug for LegPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegPlayer")
            .field("leg", &self.leg)
            .field("audio", &self.audio)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl LegPlayer {
    fn new(leg: PromptLeg, audio: LegAudio, prompts: &PromptSet) -> Result<Self, PromptError> {
        let rate = audio.codec.sample_rate();
        let pcm = match prompts.at_rate(rate) {
            Some(p) => p.samples.clone(),
            None => resampled(prompts.original(), rate)?.samples,
        };
        Ok(Self {
            leg,
            encoder: codec::new_encoder(audio.codec, &OpusSettings::default())?,
            pcm,
            seq: audio.first_seq,
            timestamp: audio.first_timestamp,
            first: true,
            audio,
        })
    }

    /// RTP packet of prompt frame `n`.
    fn packet(&mut self, n: usize) -> Option<Vec<u8>> {
        let spf = self.audio.codec.samples_per_20ms();
        let from = (n * spf).min(self.pcm.len());
        let to = (from + spf).min(self.pcm.len());
        let mut frame = self.pcm[from..to].to_vec();
        frame.resize(spf, 0);
        let mut payload = Vec::new();
        if let Err(error) = self.encoder.encode(&frame, &mut payload) {
            tracing::debug!(%error, leg = ?self.leg, "prompt frame not encoded");
            return None;
        }
        let mut header = RtpHeader::new(
            PayloadType(self.audio.payload_type),
            SeqNo(self.seq),
            self.timestamp,
            Ssrc(self.audio.ssrc),
        );
        header.marker = std::mem::take(&mut self.first);
        let mut bytes = Vec::with_capacity(12 + payload.len());
        header.write_packet(&payload, 0, &mut bytes).ok()?;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self
            .timestamp
            .wrapping_add(self.audio.codec.rtp_ticks_per_20ms());
        Some(bytes)
    }
}

/// Plays one prompt to both legs. See the [module docs](self).
#[derive(Debug)]
pub struct PromptPlayer {
    sequencer: ConsentSequencer,
    legs: Vec<LegPlayer>,
    frames: usize,
    out: VecDeque<(PromptLeg, Vec<u8>)>,
}

impl PromptPlayer {
    /// Starts playing the prompt at `now` to the legs given.
    pub fn new(
        now: Instant,
        prompts: &PromptSet,
        a: Option<LegAudio>,
        b: Option<LegAudio>,
    ) -> Result<Self, PromptError> {
        let mut legs = Vec::new();
        if let Some(a) = a {
            legs.push(LegPlayer::new(PromptLeg::A, a, prompts)?);
        }
        if let Some(b) = b {
            legs.push(LegPlayer::new(PromptLeg::B, b, prompts)?);
        }
        Ok(Self {
            sequencer: ConsentSequencer::new(prompts.original().clone(), now),
            legs,
            frames: 0,
            out: VecDeque::new(),
        })
    }

    /// When the next packet (or the end) is due; `None` when done. Drain
    /// [`PromptPlayer::poll_packet`] first.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sequencer.poll_timeout()
    }

    /// Whether the prompt and its pause are over: connect the parties.
    pub fn is_done(&self) -> bool {
        self.out.is_empty() && self.sequencer.is_done()
    }

    /// The next packet due at `now`, with the leg it goes to.
    pub fn poll_packet(&mut self, now: Instant) -> Option<(PromptLeg, Vec<u8>)> {
        while self.out.is_empty() {
            match self.sequencer.poll_output(now)? {
                ConsentOutput::Frame(_) => {
                    let n = self.frames;
                    self.frames += 1;
                    for leg in &mut self.legs {
                        if let Some(p) = leg.packet(n) {
                            self.out.push_back((leg.leg, p));
                        }
                    }
                }
                ConsentOutput::Connect => return None,
            }
        }
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use voip_media::RtpPacket;

    use super::*;
    use crate::recording::consent::TRAILING_PAUSE;

    fn tone(rate: u32, ms: u32) -> Prompt {
        let n = rate * ms / 1000;
        Prompt {
            sample_rate: rate,
            samples: (0..n)
                .map(|i| {
                    let t = f64::from(i) / f64::from(rate);
                    #[allow(clippy::cast_possible_truncation, reason = "amplitude < 2^15")]
                    let s = ((2.0 * std::f64::consts::PI * 440.0 * t).sin() * 12_000.0) as i16;
                    s
                })
                .collect::<Vec<_>>()
                .into(),
        }
    }

    fn leg(codec: CodecKind, pt: u8, ssrc: u32) -> LegAudio {
        LegAudio {
            codec,
            payload_type: pt,
            ssrc,
            first_seq: 65_534,
            first_timestamp: 1000,
        }
    }

    /// Runs the player in virtual time: (when, leg, packet) and the
    /// instant it was done.
    fn run(
        player: &mut PromptPlayer,
        t0: Instant,
    ) -> (Vec<(Instant, PromptLeg, Vec<u8>)>, Instant) {
        let mut now = t0;
        let mut sent = Vec::new();
        loop {
            while let Some((leg, p)) = player.poll_packet(now) {
                sent.push((now, leg, p));
            }
            if player.is_done() {
                return (sent, now);
            }
            assert!(now < t0 + Duration::from_secs(10), "never done");
            now = player.poll_timeout().unwrap().max(now);
        }
    }

    fn rms(pcm: &[i16]) -> f64 {
        (pcm.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
    }

    #[test]
    fn each_leg_gets_the_prompt_in_its_codec_every_20_ms_then_connects() {
        let t0 = Instant::now();
        // 100 ms at 16 kHz: 5 frames to each leg.
        let prompt = tone(16_000, 100);
        let mut player = PromptPlayer::new(
            t0,
            &PromptSet::new(prompt).unwrap(),
            Some(leg(CodecKind::Pcma, 8, 0xA)),
            Some(leg(CodecKind::Opus, 111, 0xB)),
        )
        .unwrap();
        let (sent, done) = run(&mut player, t0);
        assert_eq!(done, t0 + Duration::from_millis(100) + TRAILING_PAUSE);
        for (which, pt, ssrc, ticks, kind) in [
            (PromptLeg::A, 8, 0xA, 160, CodecKind::Pcma),
            (PromptLeg::B, 111, 0xB, 960, CodecKind::Opus),
        ] {
            let packets: Vec<_> = sent.iter().filter(|(_, l, _)| *l == which).collect();
            assert_eq!(packets.len(), 5, "{which:?}");
            let mut decoder = codec::new_decoder(kind).unwrap();
            let mut pcm = Vec::new();
            for (i, (at, _, bytes)) in packets.iter().enumerate() {
                let i16x = u16::try_from(i).unwrap();
                let i32x = u32::try_from(i).unwrap();
                assert_eq!(*at, t0 + Duration::from_millis(20) * i32x);
                let rtp = RtpPacket::parse(bytes).unwrap();
                assert_eq!(rtp.payload_type().0, pt);
                assert_eq!(rtp.ssrc().0, ssrc);
                assert_eq!(rtp.sequence_number().0, 65_534u16.wrapping_add(i16x));
                assert_eq!(rtp.timestamp(), 1000 + ticks * i32x);
                assert_eq!(rtp.marker(), i == 0);
                decoder.decode(rtp.payload(), &mut pcm).unwrap();
            }
            // The tone is heard (Opus needs a few ms to ramp up).
            let level = rms(&pcm[pcm.len() / 2..]);
            assert!(level > 4000.0, "{which:?} rms {level}");
        }
    }

    #[test]
    fn nothing_is_due_before_its_time_and_one_leg_works() {
        let t0 = Instant::now();
        let mut player = PromptPlayer::new(
            t0,
            &PromptSet::new(tone(16_000, 60)).unwrap(),
            Some(leg(CodecKind::Pcmu, 0, 1)),
            None,
        )
        .unwrap();
        assert!(player.poll_packet(t0).is_some());
        assert!(player.poll_packet(t0 + Duration::from_millis(19)).is_none());
        assert_eq!(player.poll_timeout(), Some(t0 + Duration::from_millis(20)));
        assert!(!player.is_done());
        let (sent, _) = run(&mut player, t0 + Duration::from_millis(20));
        assert!(sent.iter().all(|(_, l, _)| *l == PromptLeg::A));
        assert_eq!(sent.len(), 2);
    }

    #[test]
    fn the_shipped_prompt_plays_in_g722() {
        let t0 = Instant::now();
        let prompt = Prompt::consent_nl().unwrap();
        let frames = prompt.duration().as_millis().div_ceil(20);
        let mut player = PromptPlayer::new(
            t0,
            &PromptSet::new(prompt).unwrap(),
            None,
            Some(leg(CodecKind::G722, 9, 7)),
        )
        .unwrap();
        let (sent, _) = run(&mut player, t0);
        assert_eq!(sent.len() as u128, frames);
    }
}

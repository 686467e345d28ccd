//! Audio codecs of the media engine: G.711 µ-law and A-law, G.722 and Opus.
//!
//! Every codec works on mono `i16` PCM at its own [`CodecKind::sample_rate`]
//! and one RTP payload per call. Decoders also conceal lost frames
//! ([`AudioDecoder::conceal`]) and, where the codec carries in-band forward
//! error correction (Opus), recover a lost frame from the next packet
//! ([`AudioDecoder::recover`]). Telephone events (RFC 4733) are not audio and
//! live in [`crate::dtmf`].
//!
//! Encoders and decoders are values without I/O; [`new_decoder`] and
//! [`new_encoder`] hand them out boxed behind the two traits so the bridge can
//! hold any pair.

mod g711;
mod g722;
mod opus;
mod plc;

use std::fmt;

pub use g711::{
    AlawDecoder, AlawEncoder, UlawDecoder, UlawEncoder, alaw_to_linear, linear_to_alaw,
    linear_to_ulaw, ulaw_to_linear,
};
pub use g722::{G722Decoder, G722Encoder};
pub use opus::{OPUS_RATES, OpusDecoder, OpusEncoder, has_lbrr};
pub use plc::Concealer;

/// Audio codecs the media engine encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law (RTP `PCMU/8000`).
    Pcmu,
    /// G.711 A-law (RTP `PCMA/8000`).
    Pcma,
    /// G.722 at 64 kbit/s (RTP `G722/8000`, 16 kHz audio).
    G722,
    /// Opus (RTP `opus/48000/2`, RFC 7587), encoded and decoded as mono.
    Opus,
}

impl CodecKind {
    /// All codecs, in no particular order.
    pub const ALL: [CodecKind; 4] = [
        CodecKind::Pcmu,
        CodecKind::Pcma,
        CodecKind::G722,
        CodecKind::Opus,
    ];

    /// PCM rate of decoder output and encoder input, in Hz.
    pub fn sample_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::G722 => 16_000,
            CodecKind::Opus => 48_000,
        }
    }

    /// RTP timestamp clock rate, in Hz. G.722 runs its RTP clock at 8 kHz
    /// although it samples at 16 kHz (RFC 3551 §4.5.2).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 => 8000,
            CodecKind::Opus => 48_000,
        }
    }

    /// The static RTP payload type of RFC 3551, if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            CodecKind::Pcmu => Some(0),
            CodecKind::Pcma => Some(8),
            CodecKind::G722 => Some(9),
            CodecKind::Opus => None,
        }
    }

    /// Encoding name as written in SDP `a=rtpmap` (case-insensitive there).
    pub fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::G722 => "G722",
            CodecKind::Opus => "opus",
        }
    }

    /// PCM samples in one 20 ms frame at [`CodecKind::sample_rate`].
    pub fn samples_per_20ms(self) -> usize {
        (self.sample_rate() / 50) as usize
    }

    /// RTP timestamp increment of one 20 ms frame.
    pub fn rtp_ticks_per_20ms(self) -> u32 {
        self.rtp_clock_rate() / 50
    }

    /// The PCM rate to run this codec at when its audio comes from or goes
    /// to a leg with codec `other`: Opus runs at libopus's lowest API rate
    /// that holds the other codec's band (8 kHz towards G.711, 16 kHz
    /// towards G.722, 48 kHz towards Opus), so no resampler is needed and
    /// libopus's internal one does the work; the other codecs have one rate.
    pub fn pcm_rate_towards(self, other: CodecKind) -> u32 {
        match self {
            CodecKind::Opus => OPUS_RATES
                .into_iter()
                .find(|&r| r >= other.sample_rate())
                .unwrap_or(48_000),
            _ => self.sample_rate(),
        }
    }
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// Opus encoder settings (from the site configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Encoder complexity 0..=10 (higher costs more CPU).
    pub complexity: u8,
    /// Target bitrate in bit/s (6 000..=510 000).
    pub bitrate_bps: u32,
    /// In-band forward error correction (LBRR), decodable by the receiver's
    /// `decode_fec` from the next packet.
    pub fec: bool,
    /// Discontinuous transmission: near-silent frames shrink to 1–2 bytes.
    pub dtx: bool,
    /// Packet loss the encoder should expect, in percent (0..=100); drives
    /// how much FEC it spends.
    pub expected_loss_pct: u8,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            complexity: 5,
            bitrate_bps: 32_000,
            fec: true,
            dtx: false,
            expected_loss_pct: 5,
        }
    }
}

impl OpusSettings {
    /// Checks the ranges libopus accepts.
    pub fn validate(&self) -> Result<(), CodecError> {
        if self.complexity > 10 {
            return Err(CodecError::BadSetting {
                name: "complexity",
                value: u32::from(self.complexity),
            });
        }
        if !(6_000..=510_000).contains(&self.bitrate_bps) {
            return Err(CodecError::BadSetting {
                name: "bitrate_bps",
                value: self.bitrate_bps,
            });
        }
        if self.expected_loss_pct > 100 {
            return Err(CodecError::BadSetting {
                name: "expected_loss_pct",
                value: u32::from(self.expected_loss_pct),
            });
        }
        Ok(())
    }
}

/// Why a codec operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The encoder was given a frame of the wrong length.
    #[error("{kind} encoder expects {expected} samples per frame, got {got}")]
    FrameLength {
        /// Codec.
        kind: CodecKind,
        /// Samples one frame must have.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The payload cannot be decoded (empty, truncated, or rejected by the codec).
    #[error("{kind} payload of {len} bytes is malformed")]
    MalformedPayload {
        /// Codec.
        kind: CodecKind,
        /// Payload length.
        len: usize,
    },
    /// A setting is out of range.
    #[error("codec setting {name} = {value} is out of range")]
    BadSetting {
        /// Setting name.
        name: &'static str,
        /// Value given.
        value: u32,
    },
    /// The codec library reported an error.
    #[error("{kind} codec library error: {message}")]
    Library {
        /// Codec.
        kind: CodecKind,
        /// The library's description.
        message: String,
    },
}

/// Decodes one codec's RTP payloads into mono PCM.
pub trait AudioDecoder: fmt::Debug + Send {
    /// The codec decoded.
    fn kind(&self) -> CodecKind;

    /// PCM rate of the output: `kind().sample_rate()` unless the decoder
    /// was made for another rate ([`new_decoder_at`]).
    fn sample_rate(&self) -> u32 {
        self.kind().sample_rate()
    }

    /// Decodes one RTP payload, appending mono PCM at [`Self::sample_rate`]
    /// to `out`; returns the number of samples appended.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;

    /// Packet-loss concealment for one missing frame of `samples` samples
    /// (Opus: the library's PLC; G.711 and G.722: pitch-period repetition
    /// with attenuation in the spirit of G.711 Appendix I).
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError>;

    /// Recovers a lost frame of `samples` samples from the in-band FEC of the
    /// NEXT packet's payload. `Ok(0)` when the codec or packet carries no
    /// FEC; the caller then conceals.
    fn recover(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError>;
}

/// Encodes mono PCM frames into one codec's RTP payloads.
pub trait AudioEncoder: fmt::Debug + Send {
    /// The codec encoded.
    fn kind(&self) -> CodecKind;

    /// PCM rate of the input: `kind().sample_rate()` unless the encoder was
    /// made for another rate ([`new_encoder_at`]).
    fn sample_rate(&self) -> u32 {
        self.kind().sample_rate()
    }

    /// Encodes exactly one frame of mono PCM at [`Self::sample_rate`]
    /// (20 ms = `sample_rate / 50` samples), appending the RTP payload to
    /// `out`; returns the number of bytes appended.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError>;
}

/// A decoder for `kind`.
pub fn new_decoder(kind: CodecKind) -> Result<Box<dyn AudioDecoder>, CodecError> {
    Ok(match kind {
        CodecKind::Pcmu => Box::new(UlawDecoder::new()),
        CodecKind::Pcma => Box::new(AlawDecoder::new()),
        CodecKind::G722 => Box::new(G722Decoder::new()),
        CodecKind::Opus => Box::new(OpusDecoder::new()?),
    })
}

/// A decoder for `kind` giving PCM at `sample_rate`: any of
/// [`OPUS_RATES`] for Opus, `kind.sample_rate()` for the others.
pub fn new_decoder_at(
    kind: CodecKind,
    sample_rate: u32,
) -> Result<Box<dyn AudioDecoder>, CodecError> {
    if kind == CodecKind::Opus {
        return Ok(Box::new(OpusDecoder::with_rate(sample_rate)?));
    }
    fixed_rate(kind, sample_rate)?;
    new_decoder(kind)
}

/// An encoder for `kind` taking PCM at `sample_rate`: any of
/// [`OPUS_RATES`] for Opus, `kind.sample_rate()` for the others.
pub fn new_encoder_at(
    kind: CodecKind,
    opus: &OpusSettings,
    sample_rate: u32,
) -> Result<Box<dyn AudioEncoder>, CodecError> {
    if kind == CodecKind::Opus {
        return Ok(Box::new(OpusEncoder::with_rate(opus, sample_rate)?));
    }
    fixed_rate(kind, sample_rate)?;
    new_encoder(kind, opus)
}

fn fixed_rate(kind: CodecKind, sample_rate: u32) -> Result<(), CodecError> {
    if sample_rate == kind.sample_rate() {
        Ok(())
    } else {
        Err(CodecError::BadSetting {
            name: "sample_rate",
            value: sample_rate,
        })
    }
}

/// An encoder for `kind`; `opus` is used only when `kind` is Opus.
pub fn new_encoder(
    kind: CodecKind,
    opus: &OpusSettings,
) -> Result<Box<dyn AudioEncoder>, CodecError> {
    Ok(match kind {
        CodecKind::Pcmu => Box::new(UlawEncoder::new()),
        CodecKind::Pcma => Box::new(AlawEncoder::new()),
        CodecKind::G722 => Box::new(G722Encoder::new()),
        CodecKind::Opus => Box::new(OpusEncoder::new(opus)?),
    })
}

//! Opus through libopus (crate `opus` 0.4, libopus 1.6.1 bundled): mono,
//! 20 ms frames by default, PCM at 48 kHz unless another of libopus's API
//! rates (8, 12, 16, 24 kHz) is asked for ([`OpusEncoder::with_rate`],
//! [`OpusDecoder::with_rate`]): towards a G.711 leg the bridge runs Opus at
//! 8 kHz, so libopus resamples internally (SILK works at 8–16 kHz anyway)
//! and the bridge needs no resampler. The decoder downmixes stereo packets
//! (RFC 7587 signals `opus/48000/2` whatever the content) to mono.
//!
//! Loss handling: [`AudioDecoder::conceal`] runs libopus's PLC (decode of a
//! missing packet); [`AudioDecoder::recover`] decodes the in-band FEC (SILK
//! LBRR) carried by the next packet, and answers `Ok(0)` when that packet has
//! none, which it finds by reading the TOC byte and the LBRR flag of the
//! first SILK frame (RFC 6716 §3.1, §4.2.3).

use super::{AudioDecoder, AudioEncoder, CodecError, CodecKind, OpusSettings};

/// Largest Opus frame: 120 ms at 48 kHz.
const MAX_FRAME: usize = 5760;
/// Largest payload we produce (libopus recommends 4 000 bytes as a ceiling).
const MAX_PAYLOAD: usize = 1500;

fn lib_error(err: &opus::Error) -> CodecError {
    CodecError::Library {
        kind: CodecKind::Opus,
        message: err.to_string(),
    }
}

/// The PCM rates libopus accepts at its API, in Hz.
pub const OPUS_RATES: [u32; 5] = [8000, 12_000, 16_000, 24_000, 48_000];

fn check_rate(rate: u32) -> Result<(), CodecError> {
    if OPUS_RATES.contains(&rate) {
        Ok(())
    } else {
        Err(CodecError::BadSetting {
            name: "sample_rate",
            value: rate,
        })
    }
}

/// Samples in 2.5 ms at `rate` (an [`OPUS_RATES`] entry).
fn unit(rate: u32) -> usize {
    (rate / 400) as usize
}

/// Whether `samples` is a duration libopus can encode (2.5, 5, 10, 20, 40
/// or 60 ms at `rate`).
fn valid_frame(samples: usize, rate: u32) -> bool {
    let u = unit(rate);
    samples.is_multiple_of(u) && matches!(samples / u, 1 | 2 | 4 | 8 | 16 | 24)
}

/// Opus encoder (mono, `VoIP` application; 48 kHz input unless
/// [`OpusEncoder::with_rate`]).
pub struct OpusEncoder {
    inner: opus::Encoder,
    settings: OpusSettings,
    rate: u32,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("settings", &self.settings)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder with `settings` applied, taking 48 kHz PCM.
    pub fn new(settings: &OpusSettings) -> Result<Self, CodecError> {
        Self::with_rate(settings, 48_000)
    }

    /// An encoder taking PCM at `rate` (one of [`OPUS_RATES`]).
    pub fn with_rate(settings: &OpusSettings, rate: u32) -> Result<Self, CodecError> {
        settings.validate()?;
        check_rate(rate)?;
        let mut inner = opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| lib_error(&e))?;
        let apply = |inner: &mut opus::Encoder| -> Result<(), opus::Error> {
            inner.set_complexity(i32::from(settings.complexity))?;
            inner.set_bitrate(opus::Bitrate::Bits(settings.bitrate_bps.cast_signed()))?;
            inner.set_inband_fec(settings.fec)?;
            inner.set_dtx(settings.dtx)?;
            inner.set_packet_loss_perc(i32::from(settings.expected_loss_pct))?;
            inner.set_signal(opus::Signal::Voice)
        };
        apply(&mut inner).map_err(|e| lib_error(&e))?;
        Ok(Self {
            inner,
            settings: *settings,
            rate,
            scratch: vec![0; MAX_PAYLOAD],
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &OpusSettings {
        &self.settings
    }

    /// Changes the expected loss (e.g. from RTCP receiver reports).
    pub fn set_expected_loss(&mut self, pct: u8) -> Result<(), CodecError> {
        let pct = pct.min(100);
        self.inner
            .set_packet_loss_perc(i32::from(pct))
            .map_err(|e| lib_error(&e))?;
        self.settings.expected_loss_pct = pct;
        Ok(())
    }
}

impl AudioEncoder for OpusEncoder {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }

    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        if !valid_frame(pcm.len(), self.rate) {
            return Err(CodecError::FrameLength {
                kind: CodecKind::Opus,
                expected: (self.rate / 50) as usize,
                got: pcm.len(),
            });
        }
        let len = self
            .inner
            .encode(pcm, &mut self.scratch)
            .map_err(|e| lib_error(&e))?;
        out.extend_from_slice(&self.scratch[..len]);
        Ok(len)
    }
}

/// Opus decoder (mono output at 48 kHz unless [`OpusDecoder::with_rate`]).
pub struct OpusDecoder {
    inner: opus::Decoder,
    rate: u32,
    scratch: Vec<i16>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder in the reset state, giving 48 kHz PCM.
    pub fn new() -> Result<Self, CodecError> {
        Self::with_rate(48_000)
    }

    /// A decoder giving PCM at `rate` (one of [`OPUS_RATES`]).
    pub fn with_rate(rate: u32) -> Result<Self, CodecError> {
        check_rate(rate)?;
        let inner = opus::Decoder::new(rate, opus::Channels::Mono).map_err(|e| lib_error(&e))?;
        Ok(Self {
            inner,
            rate,
            scratch: vec![0; MAX_FRAME],
        })
    }

    fn malformed(payload: &[u8]) -> CodecError {
        CodecError::MalformedPayload {
            kind: CodecKind::Opus,
            len: payload.len(),
        }
    }
}

impl AudioDecoder for OpusDecoder {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }

    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(Self::malformed(payload));
        }
        let n = self
            .inner
            .decode(payload, &mut self.scratch, false)
            .map_err(|_| Self::malformed(payload))?;
        out.extend_from_slice(&self.scratch[..n]);
        Ok(n)
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let samples = plc_length(samples, self.rate);
        let n = self
            .inner
            .decode(&[], &mut self.scratch[..samples], false)
            .map_err(|e| lib_error(&e))?;
        out.extend_from_slice(&self.scratch[..n]);
        Ok(n)
    }

    fn recover(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        if !has_lbrr(next_payload)? {
            return Ok(0);
        }
        let samples = plc_length(samples, self.rate);
        let n = self
            .inner
            .decode(next_payload, &mut self.scratch[..samples], true)
            .map_err(|_| Self::malformed(next_payload))?;
        out.extend_from_slice(&self.scratch[..n]);
        Ok(n)
    }
}

/// A concealment length libopus accepts at `rate`: a multiple of 2.5 ms,
/// 2.5..=120 ms.
fn plc_length(samples: usize, rate: u32) -> usize {
    let u = unit(rate);
    (samples / u * u).clamp(u, u * 48)
}

/// Whether the first Opus frame of `packet` carries SILK LBRR (in-band FEC)
/// data for the previous packet. CELT-only packets never do.
pub fn has_lbrr(packet: &[u8]) -> Result<bool, CodecError> {
    let malformed = || CodecError::MalformedPayload {
        kind: CodecKind::Opus,
        len: packet.len(),
    };
    let &toc = packet.first().ok_or_else(malformed)?;
    let config = toc >> 3;
    // SILK frames (each 10 or 20 ms) in one Opus frame.
    let silk_frames = match config {
        0..=11 => match config % 4 {
            0 | 1 => 1, // 10 or 20 ms
            2 => 2,     // 40 ms
            _ => 3,     // 60 ms
        },
        12..=15 => 1,
        _ => return Ok(false), // CELT only
    };
    let frame = first_frame(packet).ok_or_else(malformed)?;
    if frame.is_empty() {
        return Ok(false);
    }
    let mut dec = RangeDecoder::new(frame);
    for _ in 0..silk_frames {
        dec.bit_half(); // VAD flag
    }
    Ok(dec.bit_half())
}

/// The bytes of the first Opus frame in `packet` (RFC 6716 §3.2).
fn first_frame(packet: &[u8]) -> Option<&[u8]> {
    let toc = *packet.first()?;
    let rest = &packet[1..];
    match toc & 0x03 {
        0 => Some(rest),
        1 => Some(&rest[..rest.len() / 2]),
        2 => {
            let (len, used) = frame_length(rest)?;
            rest.get(used..used + len)
        }
        _ => {
            let &count_byte = rest.first()?;
            let vbr = count_byte & 0x80 != 0;
            let padded = count_byte & 0x40 != 0;
            let count = usize::from(count_byte & 0x3F);
            if count == 0 {
                return None;
            }
            let mut pos = 1;
            let mut padding = 0usize;
            if padded {
                loop {
                    let &b = rest.get(pos)?;
                    pos += 1;
                    padding += if b == 255 { 254 } else { usize::from(b) };
                    if b != 255 {
                        break;
                    }
                }
            }
            if vbr {
                // M-1 length fields, then the frames; the last frame takes
                // what is left before the padding.
                let mut skip = pos;
                let mut first_len = None;
                for _ in 0..count - 1 {
                    let (len, used) = frame_length(rest.get(skip..)?)?;
                    first_len.get_or_insert(len);
                    skip += used;
                }
                let len = match first_len {
                    Some(len) => len,
                    None => rest.len().checked_sub(skip + padding)?,
                };
                rest.get(skip..skip + len)
            } else {
                let data = rest.len().checked_sub(pos + padding)?;
                let len = data / count;
                rest.get(pos..pos + len)
            }
        }
    }
}

/// One frame length field (1 or 2 bytes): (length, bytes used).
fn frame_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let &b0 = bytes.first()?;
    if b0 < 252 {
        Some((usize::from(b0), 1))
    } else {
        let &b1 = bytes.get(1)?;
        Some((usize::from(b1) * 4 + usize::from(b0), 2))
    }
}

/// The start of the Opus range decoder (RFC 6716 §4.1), enough to read
/// equiprobable flags.
struct RangeDecoder<'a> {
    buf: &'a [u8],
    pos: usize,
    rng: u32,
    val: u32,
    rem: u32,
}

impl<'a> RangeDecoder<'a> {
    fn new(buf: &'a [u8]) -> Self {
        let mut dec = Self {
            buf,
            pos: 0,
            rng: 128,
            val: 0,
            rem: 0,
        };
        dec.rem = dec.read_byte();
        dec.val = dec.rng - 1 - (dec.rem >> 1);
        dec.normalize();
        dec
    }

    fn read_byte(&mut self) -> u32 {
        let b = self.buf.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        u32::from(b)
    }

    fn normalize(&mut self) {
        while self.rng <= 1 << 23 {
            self.rng <<= 8;
            let sym = self.rem;
            self.rem = self.read_byte();
            let sym = ((sym << 8) | self.rem) >> 1;
            self.val = ((self.val << 8) + (255 & !sym)) & 0x7FFF_FFFF;
        }
    }

    /// `ec_dec_bit_logp(dec, 1)`.
    fn bit_half(&mut self) -> bool {
        let s = self.rng >> 1;
        let bit = self.val < s;
        if bit {
            self.rng = s;
        } else {
            self.val -= s;
            self.rng -= s;
        }
        self.normalize();
        bit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frame_of_each_code() {
        // Code 0: everything after the TOC.
        assert_eq!(first_frame(&[0x08, 1, 2, 3]), Some(&[1u8, 2, 3][..]));
        // Code 1: two equal halves.
        assert_eq!(first_frame(&[0x09, 1, 2, 3, 4]), Some(&[1u8, 2][..]));
        // Code 2: explicit first length.
        assert_eq!(first_frame(&[0x0A, 1, 9, 7, 7]), Some(&[9u8][..]));
        // Code 3, CBR, two frames, no padding.
        assert_eq!(first_frame(&[0x0B, 0x02, 1, 2, 3, 4]), Some(&[1u8, 2][..]));
        // Code 3, VBR, two frames: the first has length 1.
        assert_eq!(first_frame(&[0x0B, 0x82, 1, 5, 6, 6]), Some(&[5u8][..]));
        // Truncated.
        assert_eq!(first_frame(&[0x0B]), None);
        assert_eq!(first_frame(&[0x0A, 10, 1]), None);
    }

    #[test]
    fn celt_packets_have_no_lbrr() {
        assert_eq!(has_lbrr(&[0xF8, 0xFF, 0xFE]), Ok(false));
        assert!(has_lbrr(&[]).is_err());
    }
}

//! Turns stereo frames into the bytes of a recording file: Ogg/Opus
//! (RFC 7845, two uncoupled mono Opus streams so each party keeps its own
//! channel) or 16-bit PCM WAV.
//!
//! No I/O: bytes are appended to a caller's buffer. [`StreamWriter::end_batch`]
//! closes the open Ogg page, so every flushed batch ends on a page boundary
//! and a file cut after any flushed batch is playable.

use voip_shared::site_config::RecordingFormat;

use super::ogg::{OPUS_GRANULE_RATE, PageWriter, opus_head, opus_tags};
use super::wav;

/// Total Opus bitrate of a recording (two mono streams of 24 kbit/s):
/// about 21 MB per hour.
pub const OPUS_BITRATE_BPS: i32 = 48_000;
/// Opus encoder complexity (0 to 10): 5 keeps a Pi-class CPU free for calls.
pub const OPUS_COMPLEXITY: i32 = 5;
/// Frames (20 ms) per Ogg page: one second of audio per page.
pub const FRAMES_PER_PAGE: usize = 50;
/// Recording sample rates the writer accepts (Opus input rates that the
/// engine's codecs use).
pub const SAMPLE_RATES: [u32; 3] = [8_000, 16_000, 48_000];

/// Why the writer failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The sample rate is not one of [`SAMPLE_RATES`].
    #[error("unsupported recording sample rate {0} Hz")]
    SampleRate(u32),
    /// A frame has the wrong number of samples.
    #[error("a stereo frame must hold {expected} samples, got {got}")]
    FrameLength {
        /// Interleaved samples expected.
        expected: usize,
        /// Interleaved samples given.
        got: usize,
    },
    /// libopus refused.
    #[error("opus encoder: {0}")]
    Opus(#[from] opus::Error),
    /// The Ogg muxer refused a packet (cannot happen with Opus packets).
    #[error(transparent)]
    Ogg(#[from] super::ogg::PacketTooLarge),
}

enum Kind {
    Ogg {
        encoder: opus::MSEncoder,
        pages: PageWriter,
        pre_skip: u64,
        packet: Vec<u8>,
    },
    Wav,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Ogg { pre_skip, .. } => f
                .debug_struct("Ogg")
                .field("pre_skip", pre_skip)
                .finish_non_exhaustive(),
            Kind::Wav => f.write_str("Wav"),
        }
    }
}

/// Encodes and frames one recording. See the [module docs](self).
#[derive(Debug)]
pub struct StreamWriter {
    kind: Kind,
    sample_rate: u32,
    frame_samples: usize,
    frames: u64,
}

impl StreamWriter {
    /// Starts a stream of `format` at `sample_rate` (one of
    /// [`SAMPLE_RATES`]) with 20 ms stereo frames, appending the file's
    /// header to `out`. `serial` is the Ogg stream serial number.
    pub fn new(
        format: RecordingFormat,
        sample_rate: u32,
        serial: u32,
        out: &mut Vec<u8>,
    ) -> Result<Self, StreamError> {
        if !SAMPLE_RATES.contains(&sample_rate) {
            return Err(StreamError::SampleRate(sample_rate));
        }
        let frame_samples = sample_rate as usize / 50;
        let kind = match format {
            RecordingFormat::OggOpus => {
                let mut encoder =
                    opus::MSEncoder::new(sample_rate, 2, 0, &[0, 1], opus::Application::Voip)?;
                encoder.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE_BPS))?;
                encoder.set_complexity(OPUS_COMPLEXITY)?;
                let lookahead = u64::try_from(encoder.get_lookahead()?).unwrap_or(0);
                let pre_skip = lookahead * u64::from(OPUS_GRANULE_RATE) / u64::from(sample_rate);
                let mut pages = PageWriter::new(serial);
                pages.push_packet(&opus_head(2, pre_skip as u16, sample_rate, true), 0, out)?;
                pages.close_page(false, out);
                let vendor = format!("voip-appliance {}", env!("CARGO_PKG_VERSION"));
                pages.push_packet(&opus_tags(&vendor, &["ENCODER=voip-appliance"]), 0, out)?;
                pages.close_page(false, out);
                Kind::Ogg {
                    encoder,
                    pages,
                    pre_skip,
                    packet: vec![0; 4000],
                }
            }
            RecordingFormat::Wav => {
                out.extend_from_slice(&wav::header(2, sample_rate, wav::UNKNOWN_SIZE));
                Kind::Wav
            }
        };
        Ok(Self {
            kind,
            sample_rate,
            frame_samples,
            frames: 0,
        })
    }

    /// Samples per channel of one frame.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Length of the audio written so far, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.frames * 20
    }

    /// Encodes one interleaved stereo frame (`2 * frame_samples()` samples)
    /// into `out`.
    pub fn write_frame(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), StreamError> {
        if frame.len() != self.frame_samples * 2 {
            return Err(StreamError::FrameLength {
                expected: self.frame_samples * 2,
                got: frame.len(),
            });
        }
        self.frames += 1;
        match &mut self.kind {
            Kind::Ogg {
                encoder,
                pages,
                pre_skip,
                packet,
            } => {
                let len = encoder.encode(frame, packet)?;
                let granule = *pre_skip + self.frames * u64::from(OPUS_GRANULE_RATE) / 50;
                pages.push_packet(&packet[..len], granule, out)?;
                if pages.pending_packets() >= FRAMES_PER_PAGE {
                    pages.close_page(false, out);
                }
            }
            Kind::Wav => {
                out.reserve(frame.len() * 2);
                for s in frame {
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        Ok(())
    }

    /// Ends a batch: closes the open Ogg page so the batch ends on a page
    /// boundary.
    pub fn end_batch(&mut self, out: &mut Vec<u8>) {
        if let Kind::Ogg { pages, .. } = &mut self.kind {
            pages.close_page(false, out);
        }
    }

    /// Ends the stream (the Ogg end-of-stream page). A WAV file's sizes are
    /// written by the shell over the header: see [`StreamWriter::final_header`].
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Kind::Ogg { pages, .. } = &mut self.kind {
            pages.close_page(true, out);
        }
    }

    /// The header to write over the start of a finished WAV file; `None`
    /// for Ogg/Opus.
    pub fn final_header(&self) -> Option<[u8; wav::HEADER_LEN]> {
        match self.kind {
            Kind::Wav => {
                let data = self.frames * self.frame_samples as u64 * 4;
                Some(wav::header(
                    2,
                    self.sample_rate,
                    u32::try_from(data).unwrap_or(wav::UNKNOWN_SIZE - 1),
                ))
            }
            Kind::Ogg { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::recording::ogg;

    #[test]
    fn ogg_stream_has_headers_one_page_per_second_and_exact_granules() {
        let mut out = Vec::new();
        let mut w = StreamWriter::new(RecordingFormat::OggOpus, 16_000, 42, &mut out).unwrap();
        let frame = vec![0i16; 640];
        for i in 0..120 {
            w.write_frame(&frame, &mut out).unwrap();
            if i == 74 {
                w.end_batch(&mut out);
            }
        }
        w.finish(&mut out);
        let scan = ogg::scan(&out);
        assert_eq!(scan.valid_len, out.len());
        // Two header pages, then pages after 50, 75 (batch), 125... frames:
        // 50 | 25 (batch end) | 45 (EOS).
        assert_eq!(scan.pages.len(), 2 + 3);
        assert!(scan.ends_with_eos());
        assert_eq!(scan.opus_duration_ms(), Some(2400));
        assert_eq!(w.duration_ms(), 2400);
        let head = ogg::parse_opus_head(scan.first_packet.as_deref().unwrap()).unwrap();
        assert_eq!(head.channels, 2);
        assert!(head.pre_skip > 0);
        assert_eq!(w.final_header(), None);
    }

    #[test]
    fn wav_stream_writes_interleaved_samples_and_the_final_header() {
        let mut out = Vec::new();
        let mut w = StreamWriter::new(RecordingFormat::Wav, 8_000, 0, &mut out).unwrap();
        let mut frame = vec![0i16; 320];
        frame[0] = 7;
        frame[1] = -7;
        w.write_frame(&frame, &mut out).unwrap();
        assert_eq!(out.len(), wav::HEADER_LEN + 640);
        assert_eq!(&out[44..48], &[7, 0, 0xf9, 0xff]);
        let header = w.final_header().unwrap();
        out[..wav::HEADER_LEN].copy_from_slice(&header);
        let info = wav::parse(&out).unwrap();
        assert_eq!((info.channels, info.data_len), (2, 640));
        assert_eq!(info.duration_ms(), 20);
    }

    #[test]
    fn bad_rates_and_frames_are_errors() {
        let mut out = Vec::new();
        assert!(matches!(
            StreamWriter::new(RecordingFormat::Wav, 11_025, 0, &mut out),
            Err(StreamError::SampleRate(11_025))
        ));
        let mut w = StreamWriter::new(RecordingFormat::OggOpus, 8_000, 0, &mut out).unwrap();
        assert!(matches!(
            w.write_frame(&[0; 10], &mut out),
            Err(StreamError::FrameLength {
                expected: 320,
                got: 10
            })
        ));
    }
}

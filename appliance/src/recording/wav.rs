//! WAV (RIFF) 16-bit PCM: the 44-byte header of a recording, its rewrite
//! on finalise, and a reader for shipped prompts and for crash recovery.
//!
//! A recording starts with [`header`] holding placeholder sizes
//! ([`UNKNOWN_SIZE`], which players read as "until the end of the file");
//! [`header`] with the real sizes is written over it when the recording is
//! finished or recovered.

/// Length of the header [`header`] writes.
pub const HEADER_LEN: usize = 44;
/// Placeholder for the RIFF and data sizes while a recording is written.
pub const UNKNOWN_SIZE: u32 = u32::MAX;

/// Why a WAV file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not a RIFF/WAVE file.
    #[error("not a RIFF/WAVE file")]
    NotWave,
    /// The `fmt ` chunk is missing or too short.
    #[error("the fmt chunk is missing or malformed")]
    BadFormatChunk,
    /// Not 16-bit integer PCM.
    #[error("unsupported WAV encoding (format {format}, {bits} bits); expected 16-bit PCM")]
    Unsupported {
        /// `wFormatTag`.
        format: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// No `data` chunk.
    #[error("the data chunk is missing")]
    NoData,
}

/// The header of a 16-bit PCM WAV file with `channels` channels at
/// `sample_rate` and `data_len` bytes of samples ([`UNKNOWN_SIZE`] while
/// unknown).
pub fn header(channels: u16, sample_rate: u32, data_len: u32) -> [u8; HEADER_LEN] {
    let block_align = channels * 2;
    let riff_len = if data_len == UNKNOWN_SIZE {
        UNKNOWN_SIZE
    } else {
        data_len.saturating_add(36)
    };
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_len.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// What [`parse`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// Channels.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// Offset of the first sample byte.
    pub data_offset: usize,
    /// Sample bytes present: the declared data size, clipped to the bytes
    /// actually in the file and rounded down to whole frames.
    pub data_len: usize,
}

impl WavInfo {
    /// Frames (one sample per channel) present.
    pub fn frames(&self) -> usize {
        self.data_len / (usize::from(self.channels) * 2)
    }

    /// Playable length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.frames() as u64 * 1000 / u64::from(self.sample_rate.max(1))
    }
}

/// Reads the layout of a 16-bit PCM WAV file.
pub fn parse(data: &[u8]) -> Result<WavInfo, WavError> {
    if data.len() < 12 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut offset = 12;
    let mut format: Option<(u16, u32)> = None;
    while let Some(chunk) = data.get(offset..offset + 8) {
        let id = &chunk[0..4];
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as usize;
        let body = offset + 8;
        if id == b"fmt " {
            let fmt = data
                .get(body..body + 16)
                .filter(|_| size >= 16)
                .ok_or(WavError::BadFormatChunk)?;
            let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            if tag != 1 || bits != 16 {
                return Err(WavError::Unsupported { format: tag, bits });
            }
            if channels == 0 || rate == 0 {
                return Err(WavError::BadFormatChunk);
            }
            format = Some((channels, rate));
        } else if id == b"data" {
            let (channels, sample_rate) = format.ok_or(WavError::BadFormatChunk)?;
            let present = data.len() - body;
            let frame = usize::from(channels) * 2;
            let len = size.min(present) / frame * frame;
            return Ok(WavInfo {
                channels,
                sample_rate,
                data_offset: body,
                data_len: len,
            });
        }
        // Chunks are padded to an even length.
        offset = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(WavError::NoData)
}

/// The samples of a mono 16-bit WAV file and its rate.
pub fn read_mono(data: &[u8]) -> Result<(u32, Vec<i16>), WavError> {
    let info = parse(data)?;
    if info.channels != 1 {
        return Err(WavError::Unsupported {
            format: 1,
            bits: 16,
        });
    }
    let samples = data[info.data_offset..info.data_offset + info.data_len]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok((info.sample_rate, samples))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn header_round_trips_and_placeholder_reads_to_end_of_file() {
        let mut file = header(2, 16_000, UNKNOWN_SIZE).to_vec();
        file.extend_from_slice(&[1u8; 4 * 100 + 3]); // a torn last frame
        let info = parse(&file).unwrap();
        assert_eq!(info.channels, 2);
        assert_eq!(info.sample_rate, 16_000);
        assert_eq!(info.data_offset, HEADER_LEN);
        assert_eq!(info.data_len, 400);
        assert_eq!(info.frames(), 100);
        let fixed = header(2, 16_000, 400);
        assert_eq!(u32::from_le_bytes(fixed[4..8].try_into().unwrap()), 436);
        file[..HEADER_LEN].copy_from_slice(&fixed);
        assert_eq!(parse(&file).unwrap().data_len, 400);
    }

    #[test]
    fn mutated_files_never_panic_the_reader() {
        let mut file = header(2, 16_000, 400).to_vec();
        file.extend_from_slice(&[7u8; 400]);
        for m in crate::recording::mutations(&file, 3000) {
            if let Ok(info) = parse(&m) {
                assert!(info.data_offset + info.data_len <= m.len());
                let _ = info.duration_ms();
            }
            let _ = read_mono(&m);
        }
    }

    #[test]
    fn reads_mono_and_refuses_other_encodings() {
        let mut file = header(1, 8000, 8).to_vec();
        for s in [1i16, -1, 300, -300] {
            file.extend_from_slice(&s.to_le_bytes());
        }
        assert_eq!(read_mono(&file).unwrap(), (8000, vec![1, -1, 300, -300]));
        let mut float = file.clone();
        float[20] = 3;
        assert!(matches!(
            parse(&float),
            Err(WavError::Unsupported { format: 3, .. })
        ));
        assert_eq!(parse(b"RIFF1234WAVE"), Err(WavError::NoData));
        assert_eq!(parse(b"nonsense"), Err(WavError::NotWave));
        assert!(read_mono(&header(2, 8000, 0)).is_err());
    }
}

//! Crash recovery, run at start before any new recording: every recording
//! the index still lists as `recording` was cut by a crash (SIGKILL, power
//! cut, full disk). Its file is repaired in place so it plays up to the
//! last flushed batch:
//! - Ogg/Opus: cut after the last complete page with a valid checksum,
//!   the end-of-stream flag set on that page;
//! - WAV: cut to whole stereo frames, the RIFF and data sizes written;
//! - encrypted: cut after the last complete authentic chunk, an empty final
//!   chunk appended (the inner stream is whole pages or frames per chunk).
//!
//! Then its duration, size and SHA-256 go into the index with state
//! `recovered`; a file that is missing or has no usable audio becomes
//! `failed`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use voip_shared::site_config::RecordingFormat;

use super::recorder::sha256_file;
use super::seal::{self, RecordingKey, Sealer};
use super::{ogg, wav};
use crate::store::{RecordingState, Store, StoreError};

/// Why a file could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// File I/O failed.
    #[error("recording file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Nothing playable is left (no valid header).
    #[error("recording file {path} has no playable audio")]
    Unplayable {
        /// The file.
        path: PathBuf,
    },
    /// The file is encrypted and no key is configured.
    #[error("recording file {path} is encrypted and no recording key is configured")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
}

/// A repaired file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Playable length.
    pub duration_ms: u64,
    /// Size after the repair.
    pub bytes: u64,
    /// Bytes cut off (a torn batch).
    pub truncated: u64,
    /// SHA-256 after the repair, hex.
    pub sha256: String,
}

/// Repairs one file in place. See the [module docs](self).
pub fn repair(
    path: &Path,
    format: RecordingFormat,
    key: Option<&RecordingKey>,
) -> Result<Repaired, RecoveryError> {
    let io_err = |source| RecoveryError::Io {
        path: path.to_owned(),
        source,
    };
    let unplayable = || RecoveryError::Unplayable {
        path: path.to_owned(),
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut start = [0u8; 64];
    let n = read_up_to(&mut file, &mut start).map_err(io_err)?;
    let (keep, duration_ms) = if seal::is_encrypted(&start[..n]) {
        let key = key.ok_or_else(|| RecoveryError::NoKey {
            path: path.to_owned(),
        })?;
        repair_sealed(&mut file, path, key, len)?
    } else {
        match format {
            RecordingFormat::OggOpus => {
                let mut data = Vec::new();
                file.read_to_end(&mut data).map_err(io_err)?;
                let mut all = start[..n].to_vec();
                all.extend_from_slice(&data);
                let scan = ogg::scan(&all);
                let duration = scan.opus_duration_ms().ok_or_else(unplayable)?;
                if let Some(last) = scan.pages.last().filter(|_| !scan.ends_with_eos()) {
                    let mut page = all[last.offset..last.offset + last.len].to_vec();
                    ogg::mark_eos(&mut page);
                    file.write_all_at(&page, last.offset as u64)
                        .map_err(io_err)?;
                }
                (scan.valid_len as u64, duration)
            }
            RecordingFormat::Wav => {
                let mut head = vec![0u8; 4096.min(len as usize)];
                file.read_exact_at(&mut head, 0).map_err(io_err)?;
                let info = wav::parse(&head).map_err(|_| unplayable())?;
                let frame = u64::from(info.channels) * 2;
                let data = (len - info.data_offset as u64) / frame * frame;
                let data32 = u32::try_from(data).unwrap_or(wav::UNKNOWN_SIZE - 1);
                let header = wav::header(info.channels, info.sample_rate, data32);
                if info.data_offset == wav::HEADER_LEN {
                    file.write_all_at(&header, 0).map_err(io_err)?;
                }
                let frames = data / frame;
                (
                    info.data_offset as u64 + data,
                    frames * 1000 / u64::from(info.sample_rate),
                )
            }
        }
    };
    file.set_len(keep).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    let bytes = file.metadata().map_err(io_err)?.len();
    Ok(Repaired {
        duration_ms,
        bytes,
        truncated: len.saturating_sub(keep),
        sha256: sha256_file(path).map_err(io_err)?,
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Walks the sealed chunks one at a time (memory stays at one batch) and
/// appends the final chunk when it is missing. Returns the length to keep
/// (before the appended chunk) and the playable duration.
fn repair_sealed(
    file: &mut File,
    path: &Path,
    key: &RecordingKey,
    len: u64,
) -> Result<(u64, u64), RecoveryError> {
    let io_err = |source| RecoveryError::Io {
        path: path.to_owned(),
        source,
    };
    let unplayable = || RecoveryError::Unplayable {
        path: path.to_owned(),
    };
    let mut header = [0u8; seal::HEADER_LEN];
    file.read_exact_at(&mut header, 0).map_err(io_err)?;
    let (header, format) = seal::parse_header(&header).map_err(|_| unplayable())?;
    let cipher = key.cipher();
    let mut offset = seal::HEADER_LEN as u64;
    let mut chunks = 0u32;
    let mut finished = false;
    let mut opus_head: Option<ogg::OpusHead> = None;
    let mut granule = 0u64;
    let mut wav_data = 0u64;
    let mut wav_rate = 0u32;
    while !finished && offset + 4 <= len {
        let mut len_field = [0u8; 4];
        file.read_exact_at(&mut len_field, offset).map_err(io_err)?;
        let chunk_len = u32::from_be_bytes(len_field) as usize;
        if !(seal::TAG_LEN..=seal::MAX_CHUNK).contains(&chunk_len)
            || offset + 4 + chunk_len as u64 > len
        {
            break;
        }
        let mut sealed = vec![0u8; chunk_len];
        file.read_exact_at(&mut sealed, offset + 4)
            .map_err(io_err)?;
        let Some((plain, last)) = seal::open_chunk(&cipher, &header, chunks, &sealed) else {
            break;
        };
        match format {
            RecordingFormat::OggOpus => {
                let scan = ogg::scan(&plain);
                if chunks == 0 {
                    opus_head = scan.first_packet.as_deref().and_then(ogg::parse_opus_head);
                }
                if let Some(g) = scan.last_granule() {
                    granule = granule.max(g);
                }
            }
            RecordingFormat::Wav => {
                if chunks == 0 {
                    let info = wav::parse(&plain).map_err(|_| unplayable())?;
                    wav_rate = info.sample_rate;
                    wav_data += (plain.len() - info.data_offset) as u64;
                } else {
                    wav_data += plain.len() as u64;
                }
            }
        }
        chunks += 1;
        finished = last;
        offset += 4 + chunk_len as u64;
    }
    if chunks == 0 {
        return Err(unplayable());
    }
    let duration_ms = match format {
        RecordingFormat::OggOpus => {
            let head = opus_head.ok_or_else(unplayable)?;
            granule.saturating_sub(u64::from(head.pre_skip)) * 1000
                / u64::from(ogg::OPUS_GRANULE_RATE)
        }
        RecordingFormat::Wav => wav_data / 4 * 1000 / u64::from(wav_rate.max(1)),
    };
    if !finished {
        file.set_len(offset).map_err(io_err)?;
        let mut last = Vec::new();
        Sealer::resume(key, header, chunks)
            .seal_chunk(&[], true, &mut last)
            .map_err(|_| unplayable())?;
        file.write_all_at(&last, offset).map_err(io_err)?;
        file.flush().map_err(io_err)?;
        offset += last.len() as u64;
    }
    Ok((offset, duration_ms))
}

/// What [`recover_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Recordings repaired, with their id.
    pub recovered: Vec<(String, Repaired)>,
    /// Recordings marked failed, with their id.
    pub failed: Vec<String>,
}

/// Repairs every recording the index lists as `recording` (the daemon
/// runs this before it starts recording). `now` is the wall clock, stored
/// as the recordings' finish time.
pub fn recover_all(
    store: &mut Store,
    dir: &Path,
    key: Option<&RecordingKey>,
    now: OffsetDateTime,
) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    for row in store.recordings()? {
        if row.state != RecordingState::Recording {
            continue;
        }
        let r = &row.recording;
        let path = dir.join(&r.path);
        match repair(&path, r.format, key) {
            Ok(repaired) => {
                tracing::info!(
                    recording = %r.id,
                    duration_ms = repaired.duration_ms,
                    truncated_bytes = repaired.truncated,
                    "recording recovered after an unclean stop"
                );
                store.finish_recording(
                    &r.id,
                    RecordingState::Recovered,
                    repaired.duration_ms,
                    repaired.bytes,
                    Some(&repaired.sha256),
                    now,
                )?;
                report.recovered.push((r.id.clone(), repaired));
            }
            Err(error) => {
                tracing::warn!(recording = %r.id, %error, "recording cannot be recovered");
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                store.finish_recording(&r.id, RecordingState::Failed, 0, bytes, None, now)?;
                report.failed.push(r.id.clone());
            }
        }
    }
    Ok(report)
}

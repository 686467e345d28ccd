//! One recording file: the shell around the framer, the stream writer, the
//! batcher and the sealer.
//!
//! Synchronous and single-owner; the [`service`](super::service) thread
//! drives it with `now` from the monotonic clock. Durability:
//! - the file is created (`O_EXCL`) with its headers, `fsync`ed, and the
//!   directory `fsync`ed, so after a crash the file exists with a valid
//!   start;
//! - every batch is one `write` plus one `fdatasync` and ends on an Ogg
//!   page (or sealed-chunk) boundary, so a crash loses at most the batch
//!   being written and recovery truncates what was torn;
//! - [`Recorder::finish`] writes the rest, the end of stream (Ogg EOS page,
//!   WAV sizes, final sealed chunk), `fsync`s and computes the SHA-256.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use voip_shared::site_config::RecordingFormat;

use super::batch::{BatchPolicy, Batcher};
use super::framer::{FramerConfig, Party, StereoFramer};
use super::seal::{OpenError, RecordingKey, Sealer};
use super::stream::{StreamError, StreamWriter};
use super::wav;

/// How a recording is written.
#[derive(Debug, Clone)]
pub struct RecorderSettings {
    /// File format.
    pub format: RecordingFormat,
    /// Sample rate of the pushed PCM and of the file (8000, 16000, 48000).
    pub sample_rate: u32,
    /// Batching.
    pub batch: BatchPolicy,
    /// Encrypt with this key.
    pub key: Option<RecordingKey>,
}

/// Why a recorder failed.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// File I/O failed.
    #[error("recording file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Encoding failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] OpenError),
}

/// What a finished recording looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Playable length.
    pub duration_ms: u64,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// A batch reached the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Audio on disk after this batch.
    pub duration_ms: u64,
    /// File size after this batch.
    pub bytes: u64,
}

/// One recording being written. See the [module docs](self).
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    format: RecordingFormat,
    sample_rate: u32,
    file: File,
    stream: StreamWriter,
    framer: StereoFramer,
    batcher: Batcher,
    sealer: Option<Sealer>,
    /// SHA-256 of the bytes written, in order (not for plain WAV, whose
    /// header is rewritten at the end).
    hasher: Option<Sha256>,
    bytes: u64,
    flushed_ms: u64,
    drained: bool,
}

/// Hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// `fsync`s a directory, so a file created in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Recorder {
    /// Creates the file at `path` (which must not exist) and writes its
    /// headers durably. `serial` is the Ogg stream serial, `nonce_prefix`
    /// the sealer's random nonce prefix (unused without a key).
    pub fn create(
        path: &Path,
        settings: &RecorderSettings,
        serial: u32,
        nonce_prefix: [u8; 19],
        now: Instant,
    ) -> Result<Self, RecorderError> {
        let io_err = |source| RecorderError::Io {
            path: path.to_owned(),
            source,
        };
        let mut header = Vec::new();
        let stream = StreamWriter::new(settings.format, settings.sample_rate, serial, &mut header)?;
        let mut sealer = settings
            .key
            .as_ref()
            .map(|key| Sealer::new(key, settings.format, nonce_prefix));
        let bytes = match &mut sealer {
            Some(sealer) => {
                let mut first = sealer.header().to_vec();
                sealer.seal_chunk(&header, false, &mut first)?;
                first
            }
            None => header,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err)?;
        file.write_all(&bytes).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io_err)?;
        }
        let plain_wav = settings.key.is_none() && settings.format == RecordingFormat::Wav;
        let hasher = (!plain_wav).then(|| {
            let mut h = Sha256::new();
            h.update(&bytes);
            h
        });
        Ok(Self {
            path: path.to_owned(),
            format: settings.format,
            sample_rate: settings.sample_rate,
            file,
            stream,
            framer: StereoFramer::new(FramerConfig::new(settings.sample_rate), now),
            batcher: Batcher::new(settings.batch, now),
            sealer,
            hasher,
            bytes: bytes.len() as u64,
            flushed_ms: 0,
            drained: false,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes waiting for the next batch.
    pub fn pending_bytes(&self) -> usize {
        self.batcher.buffered()
    }

    /// Audio on disk, in milliseconds.
    pub fn flushed_ms(&self) -> u64 {
        self.flushed_ms
    }

    /// Repair counters of the framer.
    pub fn framer_stats(&self) -> super::framer::FramerStats {
        self.framer.stats()
    }

    /// Adds `pcm` (mono, at the recording's rate) of `party` whose first
    /// sample was captured at `at`.
    pub fn push(&mut self, party: Party, at: Instant, pcm: &[i16]) {
        if !self.drained {
            self.framer.push(party, at, pcm);
        }
    }

    /// When [`Recorder::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Instant {
        self.framer.poll_timeout().min(self.batcher.poll_timeout())
    }

    /// Encodes the frames due at `now` and reports whether a batch is due;
    /// call [`Recorder::flush`] (after checking free space) when it is.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<bool, RecorderError> {
        while let Some(frame) = self.framer.poll_frame(now).filter(|_| !self.drained) {
            self.stream.write_frame(&frame, self.batcher.buffer_mut())?;
        }
        Ok(self.batcher.is_due(now))
    }

    /// Writes and syncs the batch due at `now`; `None` when nothing was
    /// buffered.
    pub fn flush(&mut self, now: Instant) -> Result<Option<Flushed>, RecorderError> {
        self.stream.end_batch(self.batcher.buffer_mut());
        let Some(batch) = self.batcher.poll_flush(now) else {
            return Ok(None);
        };
        self.write(&batch, false)?;
        self.file.sync_data().map_err(|source| RecorderError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.flushed_ms = self.stream.duration_ms();
        Ok(Some(Flushed {
            duration_ms: self.flushed_ms,
            bytes: self.bytes,
        }))
    }

    fn write(&mut self, plain: &[u8], last: bool) -> Result<(), RecorderError> {
        let chunk;
        let bytes = match &mut self.sealer {
            Some(s) => {
                let mut out = Vec::with_capacity(plain.len() + 20);
                s.seal_chunk(plain, last, &mut out)?;
                chunk = out;
                &chunk[..]
            }
            None => plain,
        };
        self.file
            .write_all(bytes)
            .map_err(|source| RecorderError::Io {
                path: self.path.clone(),
                source,
            })?;
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Encodes the rest of both parties' audio and the end of stream into
    /// the buffer, so [`Recorder::pending_bytes`] tells what
    /// [`Recorder::finish`] will write. No more audio is accepted after it.
    pub fn drain(&mut self) -> Result<(), RecorderError> {
        if self.drained {
            return Ok(());
        }
        self.drained = true;
        for frame in self.framer.finish() {
            self.stream.write_frame(&frame, self.batcher.buffer_mut())?;
        }
        self.stream.finish(self.batcher.buffer_mut());
        Ok(())
    }

    /// Ends the recording: the rest of both parties' audio, the end of
    /// stream, `fsync`, checksum.
    pub fn finish(mut self) -> Result<Finished, RecorderError> {
        self.drain()?;
        let rest = self.batcher.take_all();
        let duration_ms = self.stream.duration_ms();
        self.close(&rest, duration_ms)
    }

    /// Ends the recording without writing what is still buffered (the disk
    /// is full): the file keeps the flushed batches (an Ogg stream without
    /// its end-of-stream page is valid), a WAV header gets the real sizes,
    /// an encrypted file its final chunk.
    pub fn abort(mut self) -> Result<Finished, RecorderError> {
        drop(self.batcher.take_all());
        let duration_ms = self.flushed_ms;
        self.close(&[], duration_ms)
    }

    fn close(mut self, rest: &[u8], duration_ms: u64) -> Result<Finished, RecorderError> {
        let path = self.path.clone();
        let io_err = |source| RecorderError::Io {
            path: path.clone(),
            source,
        };
        if self.sealer.is_some() || !rest.is_empty() {
            self.write(rest, true)?;
        }
        if self.sealer.is_none() && self.format == RecordingFormat::Wav {
            let data = self.bytes.saturating_sub(wav::HEADER_LEN as u64);
            let data = u32::try_from(data).unwrap_or(wav::UNKNOWN_SIZE - 1);
            self.file
                .write_all_at(&wav::header(2, self.sample_rate, data), 0)
                .map_err(io_err)?;
        }
        self.file.sync_all().map_err(io_err)?;
        let sha256 = match self.hasher.take() {
            Some(h) => hex(&h.finalize()),
            None => sha256_file(&self.path).map_err(io_err)?,
        };
        Ok(Finished {
            duration_ms,
            bytes: self.bytes,
            sha256,
        })
    }
}

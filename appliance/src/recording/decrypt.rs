//! `voip-appliance recording decrypt`: turns an encrypted recording back
//! into the Ogg/Opus or WAV file it holds, after checking every chunk.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use voip_shared::site_config::RecordingFormat;

use super::seal::{self, OpenError, RecordingKey};
use super::wav;

/// Why decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// Reading the input or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not intact or the key is wrong.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: OpenError,
    },
}

/// Decrypts `input` into a new file `output` (which must not exist) and
/// returns the inner format. A WAV gets its real sizes in the header.
/// Nothing is written when any chunk fails to authenticate or the file is
/// truncated.
pub fn decrypt_file(
    key: &RecordingKey,
    input: &Path,
    output: &Path,
) -> Result<RecordingFormat, DecryptError> {
    let data = std::fs::read(input).map_err(|source| DecryptError::Io {
        path: input.to_owned(),
        source,
    })?;
    let (format, mut plain) = seal::open(key, &data).map_err(|source| DecryptError::Open {
        path: input.to_owned(),
        source,
    })?;
    if format == RecordingFormat::Wav
        && let Ok(info) = wav::parse(&plain)
        && info.data_offset == wav::HEADER_LEN
    {
        let data_len = plain.len() - info.data_offset;
        let data_len = data_len / 4 * 4;
        plain.truncate(info.data_offset + data_len);
        let size = u32::try_from(data_len).unwrap_or(wav::UNKNOWN_SIZE - 1);
        plain[..wav::HEADER_LEN].copy_from_slice(&wav::header(
            info.channels,
            info.sample_rate,
            size,
        ));
    }
    let io_err = |source| DecryptError::Io {
        path: output.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .map_err(io_err)?;
    file.write_all(&plain).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(format)
}

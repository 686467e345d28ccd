//! Encryption at rest: a recording as a sequence of sealed chunks, one per
//! flushed batch, so a crash keeps every complete chunk (STREAM
//! construction, Hoang–Reyhanitabar–Rogaway–Vizár 2015, with
//! XChaCha20-Poly1305).
//!
//! File layout (all integers big-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `VRECENC1` |
//! | 8 | inner format: 1 = Ogg/Opus, 2 = WAV |
//! | 9..12 | reserved, zero |
//! | 12..31 | 19-byte random nonce prefix |
//! | 31 | reserved, zero |
//! | then per chunk | `u32` ciphertext length, ciphertext (plaintext + 16-byte tag) |
//!
//! Chunk `i` is sealed with nonce `prefix ‖ i (u32) ‖ last (u8: 1 on the
//! final chunk, else 0)` and the 32-byte header as associated data. So
//! reordering, dropping or altering chunks, changing the header, and
//! cutting the file after any chunk all fail to open: a file is complete
//! only with its final chunk. A recording recovered after a crash gets an
//! empty final chunk appended after its last complete chunk.
//!
//! A WAV file inside keeps its placeholder sizes (the header is in the
//! first sealed chunk and cannot be rewritten); `recording decrypt` writes
//! the real sizes into the plaintext it outputs.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use voip_shared::site_config::RecordingFormat;

/// Magic at the start of an encrypted recording.
pub const MAGIC: &[u8; 8] = b"VRECENC1";
/// Length of the file header.
pub const HEADER_LEN: usize = 32;
/// Length of a key.
pub const KEY_LEN: usize = 32;
/// Length of the authentication tag of each chunk.
pub const TAG_LEN: usize = 16;
/// Largest chunk accepted when reading (a flushed batch is far smaller).
pub const MAX_CHUNK: usize = 64 * 1024 * 1024;

/// A 256-bit recording key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordingKey([u8; KEY_LEN]);

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordingKey(***)")
    }
}

/// The key text is not 64 hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a recording key must be 64 hexadecimal digits (32 bytes)")]
pub struct BadKey;

impl RecordingKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<Self, BadKey> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 || !text.is_ascii() {
            return Err(BadKey);
        }
        let mut key = [0u8; KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| BadKey)?;
        }
        Ok(Self(key))
    }

    /// The AEAD instance for this key.
    pub fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// Why an encrypted recording could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not an encrypted recording (bad magic or header).
    #[error("not an encrypted recording")]
    NotEncrypted,
    /// A chunk failed authentication: wrong key, or the file was altered.
    #[error("chunk {chunk} failed authentication (wrong key or altered file)")]
    Tampered {
        /// Index of the chunk.
        chunk: u32,
    },
    /// The file ends without its final chunk (cut, or a recovery that has
    /// not run yet).
    #[error("the file is truncated: its final chunk is missing")]
    Truncated,
    /// Bytes after the final chunk.
    #[error("unexpected data after the final chunk")]
    TrailingData,
    /// A chunk length field is implausible.
    #[error("chunk {chunk} declares an invalid length")]
    BadLength {
        /// Index of the chunk.
        chunk: u32,
    },
    /// The counter would wrap (more than 2^32 chunks).
    #[error("too many chunks")]
    TooManyChunks,
}

fn inner_code(format: RecordingFormat) -> u8 {
    match format {
        RecordingFormat::OggOpus => 1,
        RecordingFormat::Wav => 2,
    }
}

fn nonce(prefix: &[u8], counter: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..19].copy_from_slice(prefix);
    n[19..23].copy_from_slice(&counter.to_be_bytes());
    n[23] = u8::from(last);
    n.into()
}

/// Seals the chunks of one file.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER_LEN],
    counter: u32,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for a new file holding `format`, with a fresh random
    /// `nonce_prefix` (19 bytes from the OS's random source).
    pub fn new(key: &RecordingKey, format: RecordingFormat, nonce_prefix: [u8; 19]) -> Self {
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = inner_code(format);
        header[12..31].copy_from_slice(&nonce_prefix);
        Self {
            cipher: key.cipher(),
            header,
            counter: 0,
        }
    }

    /// Continues a file whose header is `header` after `chunks` chunks
    /// (crash recovery appends the final chunk this way).
    pub fn resume(key: &RecordingKey, header: [u8; HEADER_LEN], chunks: u32) -> Self {
        Self {
            cipher: key.cipher(),
            header,
            counter: chunks,
        }
    }

    /// The file header, written before the first chunk.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        self.header
    }

    /// Appends `plaintext` as one sealed chunk (length and ciphertext) to
    /// `out`; `last` marks the final chunk.
    pub fn seal_chunk(
        &mut self,
        plaintext: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        let n = nonce(&self.header[12..31], self.counter, last);
        let sealed = self
            .cipher
            .encrypt(
                &n,
                Payload {
                    msg: plaintext,
                    aad: &self.header,
                },
            )
            .map_err(|_| OpenError::BadLength {
                chunk: self.counter,
            })?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(OpenError::TooManyChunks)?;
        out.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok(())
    }
}

/// Whether `data` starts like an encrypted recording.
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// What [`scan`] recovered from a possibly torn file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// The inner format.
    pub format: RecordingFormat,
    /// The header.
    pub header: [u8; HEADER_LEN],
    /// Bytes from the start covered by the header and the complete,
    /// authentic chunks.
    pub valid_len: usize,
    /// Complete, authentic chunks.
    pub chunks: u32,
    /// Whether the last of them is the final chunk.
    pub finished: bool,
    /// Their plaintext, concatenated.
    pub plaintext: Vec<u8>,
}

/// Reads and checks the header of an encrypted recording.
pub fn parse_header(data: &[u8]) -> Result<([u8; HEADER_LEN], RecordingFormat), OpenError> {
    let header: [u8; HEADER_LEN] = data
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .filter(|h: &[u8; HEADER_LEN]| h.starts_with(MAGIC))
        .ok_or(OpenError::NotEncrypted)?;
    let format = match header[8] {
        1 => RecordingFormat::OggOpus,
        2 => RecordingFormat::Wav,
        _ => return Err(OpenError::NotEncrypted),
    };
    Ok((header, format))
}

/// Opens chunk number `index` (its ciphertext without the length field);
/// returns the plaintext and whether it is the final chunk, or `None` when
/// it does not authenticate.
pub fn open_chunk(
    cipher: &XChaCha20Poly1305,
    header: &[u8; HEADER_LEN],
    index: u32,
    sealed: &[u8],
) -> Option<(Vec<u8>, bool)> {
    [false, true].into_iter().find_map(|last| {
        cipher
            .decrypt(
                &nonce(&header[12..31], index, last),
                Payload {
                    msg: sealed,
                    aad: header,
                },
            )
            .ok()
            .map(|p| (p, last))
    })
}

/// Reads the header and every complete, authentic chunk, stopping at the
/// first torn or failing one (crash recovery).
pub fn scan(key: &RecordingKey, data: &[u8]) -> Result<Scanned, OpenError> {
    let (header, format) = parse_header(data)?;
    let cipher = key.cipher();
    let mut result = Scanned {
        format,
        header,
        valid_len: HEADER_LEN,
        chunks: 0,
        finished: false,
        plaintext: Vec::new(),
    };
    let mut offset = HEADER_LEN;
    while !result.finished {
        let Some(len) = data.get(offset..offset + 4) else {
            break;
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if !(TAG_LEN..=MAX_CHUNK).contains(&len) {
            break;
        }
        let Some(sealed) = data.get(offset + 4..offset + 4 + len) else {
            break;
        };
        let opened = open_chunk(&cipher, &header, result.chunks, sealed);
        let Some((plain, last)) = opened else {
            break;
        };
        result.plaintext.extend_from_slice(&plain);
        result.chunks = result
            .chunks
            .checked_add(1)
            .ok_or(OpenError::TooManyChunks)?;
        result.finished = last;
        offset += 4 + len;
        result.valid_len = offset;
    }
    Ok(result)
}

/// Opens a complete encrypted recording: every chunk must authenticate,
/// the last must be the final chunk and nothing may follow it.
pub fn open(key: &RecordingKey, data: &[u8]) -> Result<(RecordingFormat, Vec<u8>), OpenError> {
    let scanned = scan(key, data)?;
    if scanned.valid_len < data.len() {
        if scanned.finished {
            return Err(OpenError::TrailingData);
        }
        // Distinguish a failing chunk from a torn tail.
        let rest = &data[scanned.valid_len..];
        let complete = rest.len() >= 4 && {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if !(TAG_LEN..=MAX_CHUNK).contains(&len) {
                return Err(OpenError::BadLength {
                    chunk: scanned.chunks,
                });
            }
            rest.len() >= 4 + len
        };
        return Err(if complete {
            OpenError::Tampered {
                chunk: scanned.chunks,
            }
        } else {
            OpenError::Truncated
        });
    }
    if !scanned.finished {
        return Err(OpenError::Truncated);
    }
    Ok((scanned.format, scanned.plaintext))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn key() -> RecordingKey {
        RecordingKey::from_hex(&"0f".repeat(32)).unwrap()
    }

    fn file(chunks: &[&[u8]], finish: bool) -> Vec<u8> {
        let mut s = Sealer::new(&key(), RecordingFormat::OggOpus, [7; 19]);
        let mut out = s.header().to_vec();
        for (i, c) in chunks.iter().enumerate() {
            s.seal_chunk(c, finish && i == chunks.len() - 1, &mut out)
                .unwrap();
        }
        out
    }

    #[test]
    fn round_trip() {
        let f = file(&[b"hello ", b"world", b""], true);
        let (format, plain) = open(&key(), &f).unwrap();
        assert_eq!(format, RecordingFormat::OggOpus);
        assert_eq!(plain, b"hello world");
        assert!(!f.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn tampering_truncation_and_wrong_keys_are_detected() {
        let f = file(&[b"hello ", b"world"], true);
        let mut flipped = f.clone();
        let at = HEADER_LEN + 4 + 2;
        flipped[at] ^= 1;
        assert_eq!(
            open(&key(), &flipped),
            Err(OpenError::Tampered { chunk: 0 })
        );
        let mut header = f.clone();
        header[20] ^= 1;
        assert_eq!(open(&key(), &header), Err(OpenError::Tampered { chunk: 0 }));
        // Cut after the first chunk: authentic, but not final.
        let first_end = HEADER_LEN + 4 + 6 + TAG_LEN;
        assert_eq!(open(&key(), &f[..first_end]), Err(OpenError::Truncated));
        assert_eq!(open(&key(), &f[..f.len() - 3]), Err(OpenError::Truncated));
        let mut trailing = f.clone();
        trailing.push(0);
        assert_eq!(open(&key(), &trailing), Err(OpenError::TrailingData));
        let other = RecordingKey::from_bytes([1; 32]);
        assert_eq!(open(&other, &f), Err(OpenError::Tampered { chunk: 0 }));
        assert_eq!(open(&key(), b"OggS...."), Err(OpenError::NotEncrypted));
        // Swapped chunks fail (the counter is in the nonce).
        let a = file(&[b"aaaa", b"bbbb"], false);
        let c1 = HEADER_LEN..HEADER_LEN + 4 + 4 + TAG_LEN;
        let mut swapped = a[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&a[c1.end..]);
        swapped.extend_from_slice(&a[c1]);
        assert_eq!(
            open(&key(), &swapped),
            Err(OpenError::Tampered { chunk: 0 })
        );
    }

    #[test]
    fn scan_keeps_complete_chunks_of_a_torn_file_and_resume_finishes_it() {
        let f = file(&[b"one ", b"two ", b"three"], false);
        let torn = &f[..f.len() - 5];
        let s = scan(&key(), torn).unwrap();
        assert_eq!(s.chunks, 2);
        assert_eq!(s.plaintext, b"one two ");
        assert!(!s.finished);
        let mut repaired = torn[..s.valid_len].to_vec();
        Sealer::resume(&key(), s.header, s.chunks)
            .seal_chunk(b"", true, &mut repaired)
            .unwrap();
        assert_eq!(open(&key(), &repaired).unwrap().1, b"one two ");
    }

    #[test]
    fn mutated_files_never_panic_and_never_open_as_valid() {
        let f = file(&[b"one ", b"two ", b"three"], true);
        for m in crate::recording::mutations(&f, 600) {
            let opened = open(&key(), &m);
            if m != f {
                // Only an unchanged file (or a no-op mutation) may open.
                if let Ok((_, plain)) = opened {
                    assert_eq!(plain, b"one two three");
                }
            }
            if let Ok(s) = scan(&key(), &m) {
                assert!(s.valid_len <= m.len());
            }
        }
    }

    #[test]
    fn keys_parse_from_hex_only() {
        assert!(RecordingKey::from_hex(&"ab".repeat(32)).is_ok());
        assert_eq!(RecordingKey::from_hex("abcd"), Err(BadKey));
        assert_eq!(RecordingKey::from_hex(&"zz".repeat(32)), Err(BadKey));
        assert_eq!(format!("{:?}", key()), "RecordingKey(***)");
    }
}

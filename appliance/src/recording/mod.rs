//! Call recording (issue 4): stereo files, one channel per party, in
//! Ogg/Opus or WAV, written in SD-card-friendly batches, crash-safe,
//! indexed in `SQLite`, optionally encrypted, with retention and a disk
//! quota.
//!
//! Sans-IO cores (deterministic, `now` passed in, no files):
//! - [`ogg`]: Ogg pages (RFC 3533), `OpusHead`/`OpusTags` (RFC 7845), the
//!   page scanner crash recovery uses;
//! - [`wav`]: RIFF/WAVE header, its rewrite, a reader;
//! - [`stream`]: stereo frames to file bytes (Opus encoder + Ogg muxer, or
//!   PCM);
//! - [`framer`]: aligns the two parties' PCM into stereo frames;
//! - [`batch`]: when buffered bytes are written and synced;
//! - [`seal`]: chunked XChaCha20-Poly1305 encryption at rest;
//! - [`retention`]: which recordings to delete (age, quota, free-space
//!   floor), oldest first;
//! - [`policy`]: which policy applies to a call, on-demand start by DTMF
//!   code or command;
//! - [`consent`]: the consent announcement before the parties are
//!   connected;
//! - [`prompt`]: that announcement as RTP in each leg's codec.
//!
//! Shell (files, threads, `SQLite`, `statvfs`):
//! - [`decrypt`]: the `recording decrypt` command;
//! - [`http`]: the local start/stop command (`POST /calls/{call_id}/recording`);
//! - [`recorder`]: one recording file: frames in, batches written and
//!   `fsync`ed, finalised with duration and SHA-256;
//! - [`recovery`]: at start, repairs recordings a crash left unfinished;
//! - [`space`]: free space of the recordings' file system;
//! - [`service`]: the recording thread: [`RecorderHandle`] per call, the
//!   index, the retention and quota job.

pub mod batch;
pub mod consent;
pub mod decrypt;
pub mod framer;
pub mod http;
pub mod ogg;
pub mod policy;
pub mod prompt;
pub mod recorder;
pub mod recovery;
pub mod retention;
pub mod seal;
pub mod service;
pub mod space;
pub mod stream;
pub mod wav;

pub use framer::Party;
pub use service::{RecorderHandle, RecordingService, ServiceConfig};

/// Seeded mutations of `valid` (bit flips, truncations, random bytes) for
/// the never-panic tests of the parsers.
#[cfg(test)]
pub(crate) fn mutations(valid: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|i| {
            let mut m = valid.to_vec();
            match i % 3 {
                0 => {
                    for _ in 0..=(next() % 8) {
                        if !m.is_empty() {
                            let at = (next() % m.len() as u64) as usize;
                            m[at] ^= 1 << (next() % 8);
                        }
                    }
                }
                1 => m.truncate((next() % (m.len() as u64 + 1)) as usize),
                _ => {
                    let at = (next() % (m.len() as u64 + 1)) as usize;
                    let junk: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
                    m.splice(at..at, junk);
                }
            }
            m
        })
        .collect()
}

/// A validated [`RecordingPolicy`](voip_shared::site_config::RecordingPolicy)
/// from raw values, for tests (the type is non-exhaustive): validated as
/// part of the example site configuration.
#[cfg(test)]
pub(crate) fn testing_policy(
    raw: voip_shared::site_config::RawRecordingPolicy,
) -> voip_shared::site_config::RecordingPolicy {
    use voip_shared::site_config::RawSiteConfig;
    let mut site: RawSiteConfig = toml::from_str(include_str!("../../../docs/examples/site.toml"))
        .unwrap_or_else(|e| {
            panic!("example site configuration: {e}");
        });
    for e in &mut site.extensions {
        e.recording_policy = None;
    }
    let name = raw.name.clone();
    site.recording_policies = vec![raw];
    match site.validate() {
        Ok(c) => c
            .recording_policy(&name)
            .cloned()
            .unwrap_or_else(|| panic!("policy {name} missing")),
        Err(e) => panic!("invalid test policy: {e:?}"),
    }
}

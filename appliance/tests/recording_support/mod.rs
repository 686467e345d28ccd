//! Shared fixtures of the recording tests: temporary directories, a
//! synthetic two-party call, and the real `ffprobe`/`ffmpeg` (Debian package
//! `ffmpeg`, installed by `scripts/install-deps`). A missing tool fails the
//! test loudly.

#![allow(dead_code, reason = "each test file uses a subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use voip_appliance::recording::Party;
use voip_appliance::recording::recorder::Recorder;

/// A unique, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "voip-rec-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ffprobe`'s view of a media file.
#[derive(Debug)]
pub struct Probe {
    pub codec: String,
    pub channels: u64,
    pub sample_rate: u64,
    pub duration_s: f64,
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is required for this test and is missing: run scripts/install-deps \
         (Debian package ffmpeg)"
    );
    Command::new(name)
}

/// Runs `ffprobe` on `path`; panics (with its output) when it cannot read
/// the file.
pub fn ffprobe(path: &Path) -> Probe {
    let out = tool("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,channels,sample_rate:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe rejected {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &json["streams"][0];
    Probe {
        codec: stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        channels: stream["channels"].as_u64().unwrap_or(0),
        sample_rate: stream["sample_rate"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        duration_s: json["format"]["duration"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no duration from ffprobe: {json}")),
    }
}

/// Decodes `path` with `ffmpeg` to interleaved stereo 16-bit PCM at `rate`;
/// panics when ffmpeg reports any error.
pub fn decode_stereo(path: &Path, rate: u32) -> Vec<i16> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-ar", &rate.to_string(), "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// RMS and zero crossings per second of one channel (0 = left) of
/// interleaved stereo between `from` and `to` seconds.
pub fn channel_stats(pcm: &[i16], rate: u32, channel: usize, from: f64, to: f64) -> (f64, f64) {
    let start = (from * f64::from(rate)) as usize;
    let end = ((to * f64::from(rate)) as usize).min(pcm.len() / 2);
    let samples: Vec<f64> = (start..end)
        .map(|i| f64::from(pcm[i * 2 + channel]))
        .collect();
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    (rms, crossings as f64 / (to - from))
}

/// A 20 ms frame of a sine of `freq` Hz (amplitude 8000) at `rate`,
/// frame number `n` of a continuous tone.
pub fn tone(freq: f64, rate: u32, n: u64) -> Vec<i16> {
    let len = rate as usize / 50;
    (0..len)
        .map(|i| {
            let t = (n as f64 * len as f64 + i as f64) / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

/// The synthetic call: party A plays 440 Hz throughout, party B 1000 Hz
/// except for a silent stretch (no frames at all) between 2 s and 4 s.
/// Frames `0..frames` are pushed at their media time from `t0`; the
/// recorder is driven in virtual time and flushed when a batch is due.
/// `on_flush` sees the flushed duration after each batch.
pub fn play_call(
    rec: &mut Recorder,
    rate: u32,
    t0: Instant,
    frames: u64,
    mut on_flush: impl FnMut(u64),
) {
    for n in 0..frames {
        let at = t0 + Duration::from_millis(20 * n);
        rec.push(Party::A, at, &tone(440.0, rate, n));
        if !(100..200).contains(&n) {
            // B's frames arrive up to 12 ms late (scheduling jitter).
            rec.push(
                Party::B,
                at + Duration::from_millis(n % 3 * 6),
                &tone(1000.0, rate, n),
            );
        }
        let now = at + Duration::from_millis(20);
        if rec.handle_timeout(now).unwrap()
            && let Some(flushed) = rec.flush(now).unwrap()
        {
            on_flush(flushed.duration_ms);
        }
    }
}

//! Our G.711 and G.722 against real peers: `sox`'s G.711 encoder and
//! decoder, `ffmpeg`'s G.722 encoder and decoder. The tools must be installed
//! (`scripts/install-deps`); a missing tool fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use voip_media::codec::{
    AudioDecoder, AudioEncoder, G722Decoder, G722Encoder, alaw_to_linear, linear_to_alaw,
    linear_to_ulaw, ulaw_to_linear,
};

/// A fresh scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("voip-media-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Runs a tool; panics with a clear message when it is missing or fails.
fn run(tool: &str, args: &[&str]) {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("`{tool}` is required for this test (install it with scripts/install-deps): {e}")
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn write_s16(path: &Path, pcm: &[i16]) {
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_s16(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// SNR in dB of `got` against `want` with `got` delayed by `delay`.
fn snr_db(want: &[i16], got: &[i16], delay: usize) -> f64 {
    let (mut sig, mut noise) = (0.0f64, 0.0f64);
    for (i, &w) in want.iter().enumerate() {
        let Some(&g) = got.get(i + delay) else { break };
        sig += f64::from(w).powi(2);
        noise += (f64::from(g) - f64::from(w)).powi(2);
    }
    10.0 * (sig / noise.max(1.0)).log10()
}

/// A sweep of tones inside the 50–7000 Hz band of G.722, 16 kHz.
fn wideband_signal(len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f64 / 16_000.0;
            let v = 6000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1870.0 * t).sin()
                + 1500.0 * (2.0 * std::f64::consts::PI * 5200.0 * t).sin();
            v as i16
        })
        .collect()
}

#[test]
fn g711_decoding_matches_sox_for_every_code() {
    let dir = scratch("g711-decode");
    let codes: Vec<u8> = (0..=255).collect();
    std::fs::write(dir.join("codes.raw"), &codes).unwrap();
    for (law, ours) in [
        ("mu-law", ulaw_to_linear as fn(u8) -> i16),
        ("a-law", alaw_to_linear),
    ] {
        let out = dir.join(&format!("{law}.s16"));
        run(
            "sox",
            &[
                "-D",
                "-t",
                "raw",
                "-r",
                "8000",
                "-c",
                "1",
                "-e",
                law,
                "-b",
                "8",
                p(&dir.join("codes.raw")),
                "-t",
                "raw",
                "-e",
                "signed",
                "-b",
                "16",
                p(&out),
            ],
        );
        let sox = read_s16(&out);
        assert_eq!(sox.len(), 256);
        for code in 0..=255u8 {
            assert_eq!(ours(code), sox[usize::from(code)], "{law} code {code:#04x}");
        }
    }
}

#[test]
fn g711_encoding_agrees_with_sox_up_to_rounding_at_decision_levels() {
    // sox rounds 16-bit input to the nearest 14-bit (µ) / 13-bit (A) value;
    // G.191 truncates. Codes may therefore differ only for inputs at a
    // decision level, and then by one quantisation step.
    let dir = scratch("g711-encode");
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    write_s16(&dir.join("all.s16"), &all);
    for (law, encode, decode) in [
        (
            "mu-law",
            linear_to_ulaw as fn(i16) -> u8,
            ulaw_to_linear as fn(u8) -> i16,
        ),
        ("a-law", linear_to_alaw, alaw_to_linear),
    ] {
        let out = dir.join(&format!("{law}.raw"));
        run(
            "sox",
            &[
                "-D",
                "-t",
                "raw",
                "-r",
                "8000",
                "-c",
                "1",
                "-e",
                "signed",
                "-b",
                "16",
                p(&dir.join("all.s16")),
                "-t",
                "raw",
                "-e",
                law,
                "-b",
                "8",
                p(&out),
            ],
        );
        let sox = std::fs::read(&out).unwrap();
        assert_eq!(sox.len(), all.len());
        let mut differ = 0usize;
        for (&x, &theirs) in all.iter().zip(&sox) {
            let ours = encode(x);
            if ours == theirs {
                continue;
            }
            differ += 1;
            let (a, b) = (i32::from(decode(ours)), i32::from(decode(theirs)));
            let (lo, hi) = (a.min(b), a.max(b));
            // Neighbouring levels: no other code decodes strictly between them.
            assert!(
                (0..=255u8).all(|c| {
                    let v = i32::from(decode(c));
                    v <= lo || v >= hi
                }),
                "{law}: {x} → ours {ours:#04x} ({a}), sox {theirs:#04x} ({b}) are not neighbours"
            );
            // x sits within 16 of a decision level (where our own encoder
            // changes code), i.e. it is a rounding case, not a wrong segment.
            let near = |d: i16| encode(x.saturating_add(d)) != ours;
            assert!(
                near(-16) || near(16),
                "{law}: {x} is not near a decision level ({lo}..{hi})"
            );
        }
        assert!(
            differ * 50 < all.len(),
            "{law}: {differ} of {} codes differ",
            all.len()
        );
    }
}

#[test]
fn g722_stream_encoded_by_us_decodes_in_ffmpeg() {
    let dir = scratch("g722-ours-to-ffmpeg");
    let pcm = wideband_signal(32_000);
    let mut enc = G722Encoder::new();
    let mut payload = Vec::new();
    for frame in pcm.chunks(320) {
        enc.encode(frame, &mut payload).unwrap();
    }
    std::fs::write(dir.join("ours.g722"), &payload).unwrap();
    let decoded = dir.join("ffmpeg.s16");
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "g722",
            "-i",
            p(&dir.join("ours.g722")),
            "-f",
            "s16le",
            "-ar",
            "16000",
            "-ac",
            "1",
            p(&decoded),
        ],
    );
    let theirs = read_s16(&decoded);
    assert_eq!(theirs.len(), pcm.len());
    // Same bitstream decoded by us and by ffmpeg: sample for sample equal.
    let mut dec = G722Decoder::new();
    let mut ours = Vec::new();
    dec.decode(&payload, &mut ours).unwrap();
    assert!(
        ours == theirs,
        "our decode of the stream differs from ffmpeg's"
    );
    // ffmpeg's decode of our stream reproduces the input (QMF delay 22).
    let quality = snr_db(&pcm[1600..], &theirs[1600..], 22);
    assert!(
        quality > 25.0,
        "SNR through ffmpeg's decoder {quality:.1} dB"
    );
}

#[test]
fn g722_stream_encoded_by_ffmpeg_decodes_in_ours() {
    let dir = scratch("g722-ffmpeg-to-ours");
    let pcm = wideband_signal(32_000);
    write_s16(&dir.join("in.s16"), &pcm);
    let encoded = dir.join("ffmpeg.g722");
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "s16le",
            "-ar",
            "16000",
            "-ac",
            "1",
            "-i",
            p(&dir.join("in.s16")),
            "-c:a",
            "g722",
            "-f",
            "g722",
            p(&encoded),
        ],
    );
    let theirs = std::fs::read(&encoded).unwrap();
    assert_eq!(theirs.len(), pcm.len() / 2);
    // Same input encoded by us: byte for byte the same bitstream.
    let mut enc = G722Encoder::new();
    let mut ours = Vec::new();
    enc.encode(&pcm, &mut ours).unwrap();
    let same = ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
    assert_eq!(same, theirs.len(), "bytes equal to ffmpeg's encoding");
    let mut dec = G722Decoder::new();
    let mut out = Vec::new();
    dec.decode(&theirs, &mut out).unwrap();
    let quality = snr_db(&pcm[1600..], &out[1600..], 22);
    assert!(
        quality > 25.0,
        "SNR of ffmpeg's stream through our decoder {quality:.1} dB"
    );
}

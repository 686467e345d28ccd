//! Crash safety of recordings: a child process writing a recording (one
//! batch per second of audio, each `fsync`ed) is killed with SIGKILL
//! mid-way; recovery at the next start (the recording service) repairs the
//! file, which then plays in `ffprobe` with at least the audio of the last
//! batch the child reported as flushed, and indexes it as `recovered` with
//! the file's real size and SHA-256.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod recording_support;

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use recording_support::{TempDir, decode_stereo, ffprobe, play_call};
use time::OffsetDateTime;
use voip_appliance::recording::batch::BatchPolicy;
use voip_appliance::recording::recorder::{Recorder, RecorderSettings};
use voip_appliance::recording::seal::RecordingKey;
use voip_appliance::recording::{RecordingService, ServiceConfig};
use voip_appliance::store::{NewRecording, RecordingState, Store, StoreConfig};
use voip_shared::mqtt::ApplianceId;
use voip_shared::site_config::RecordingFormat;

/// Set in the child: `<dir>|<format>|<encrypted>`.
const CHILD_ENV: &str = "VOIP_RECORDING_CRASH_CHILD";
/// Flushed audio the parent waits for before the kill.
const KILL_AFTER_MS: u64 = 3000;
/// Upper bound of the child's call, in case nobody kills it (10 minutes).
const CHILD_MAX_FRAMES: u64 = 30_000;
const KEY_HEX: &str = "8c1f3a5e7092b4d6f81a3c5e7092b4d6f8a1c3e5071b3d5f7092a4c6e8f1a3c5";
const ID: &str = "20261121T120000Z-crash";

fn store_config() -> StoreConfig {
    StoreConfig::new(ApplianceId::new("pi-test-01").unwrap())
}

fn file_name(format: RecordingFormat, encrypted: bool) -> String {
    let ext = match format {
        RecordingFormat::OggOpus => "opus.ogg",
        RecordingFormat::Wav => "wav",
    };
    if encrypted {
        format!("{ID}.{ext}.enc")
    } else {
        format!("{ID}.{ext}")
    }
}

/// The child: indexes the recording, then records a long call in virtual
/// time, printing `flushed <ms>` after each batch is on disk.
fn run_child(spec: &str) {
    let mut parts = spec.split('|');
    let dir = Path::new(parts.next().unwrap());
    let format = match parts.next().unwrap() {
        "ogg" => RecordingFormat::OggOpus,
        _ => RecordingFormat::Wav,
    };
    let encrypted = parts.next().unwrap() == "1";
    let mut store = Store::open(dir.join("appliance.db"), store_config()).unwrap();
    let rec_dir = dir.join("recordings");
    std::fs::create_dir_all(&rec_dir).unwrap();
    let name = file_name(format, encrypted);
    store
        .insert_recording(&NewRecording {
            id: ID.into(),
            call_id: "crash-call".into(),
            path: name.clone(),
            format,
            sample_rate: 16_000,
            started_at: OffsetDateTime::now_utc(),
            retention_days: 30,
            encrypted,
        })
        .unwrap();
    let settings = RecorderSettings {
        format,
        sample_rate: 16_000,
        batch: BatchPolicy {
            interval: Duration::from_secs(1),
            ..BatchPolicy::default()
        },
        key: encrypted.then(|| RecordingKey::from_hex(KEY_HEX).unwrap()),
    };
    let t0 = Instant::now();
    let mut rec = Recorder::create(&rec_dir.join(name), &settings, 7, [3; 19], t0).unwrap();
    let mut stdout = std::io::stdout();
    play_call(&mut rec, 16_000, t0, CHILD_MAX_FRAMES, |ms| {
        writeln!(stdout, "flushed {ms}").unwrap();
        stdout.flush().unwrap();
    });
    // Not killed: never finish, so the test notices.
    writeln!(stdout, "child ran out of audio").unwrap();
}

fn sigkill_and_recover(format: RecordingFormat, encrypted: bool, test_name: &str) {
    let dir = TempDir::new(test_name);
    let fmt = if format == RecordingFormat::OggOpus {
        "ogg"
    } else {
        "wav"
    };
    let spec = format!("{}|{fmt}|{}", dir.path().display(), u8::from(encrypted));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut flushed = 0u64;
    let parse = |line: &str| {
        line.split_once("flushed ")
            .and_then(|(_, ms)| ms.trim().parse::<u64>().ok())
    };
    while flushed < KILL_AFTER_MS {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("child stopped after {flushed} ms"))
            .unwrap();
        assert!(!line.contains("ran out"), "child was never killed");
        if let Some(ms) = parse(&line) {
            flushed = ms;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    // Reports already in the pipe were printed after their fsync, too.
    for line in lines {
        if let Some(ms) = parse(&line.unwrap()) {
            flushed = flushed.max(ms);
        }
    }
    assert!(!status.success(), "the child was killed mid-recording");

    // The next start: the service recovers the recording.
    let mut config = ServiceConfig::new(dir.path().join("recordings"));
    config.key = encrypted.then(|| RecordingKey::from_hex(KEY_HEX).unwrap());
    let store = Store::open(dir.path().join("appliance.db"), store_config()).unwrap();
    let service = RecordingService::start(config, store).unwrap();
    let report = service.recovery().clone();
    service.shutdown();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.recovered.len(), 1, "{report:?}");
    let (id, repaired) = &report.recovered[0];
    assert_eq!(id, ID);
    assert!(
        repaired.duration_ms >= flushed,
        "recovered {} ms, but {flushed} ms were reported flushed",
        repaired.duration_ms
    );

    let store = Store::open(dir.path().join("appliance.db"), store_config()).unwrap();
    let row = store.recording(ID).unwrap().unwrap();
    assert_eq!(row.state, RecordingState::Recovered);
    assert_eq!(row.duration_ms, repaired.duration_ms);
    let path = dir.path().join("recordings").join(&row.recording.path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(row.bytes, bytes.len() as u64);
    let sha = Command::new("sha256sum").arg(&path).output().unwrap();
    assert_eq!(
        row.sha256.as_deref(),
        Some(&String::from_utf8(sha.stdout).unwrap()[..64])
    );

    let playable = if encrypted {
        let key = RecordingKey::from_hex(KEY_HEX).unwrap();
        let plain = dir.path().join("decrypted");
        voip_appliance::recording::decrypt::decrypt_file(&key, &path, &plain).unwrap();
        plain
    } else {
        path
    };
    let probe = ffprobe(&playable);
    assert_eq!(probe.channels, 2);
    assert!(
        probe.duration_s * 1000.0 >= flushed as f64,
        "ffprobe: {} s, flushed {flushed} ms",
        probe.duration_s
    );
    assert!(
        (probe.duration_s * 1000.0 - repaired.duration_ms as f64).abs() <= 20.0,
        "ffprobe {} s vs index {} ms",
        probe.duration_s,
        repaired.duration_ms
    );
    // ffmpeg decodes it to the end without an error (±1 frame: Opus
    // decoders trim the encoder's lookahead).
    let pcm = decode_stereo(&playable, 16_000);
    let decoded_ms = pcm.len() as u64 / 2 / 16;
    assert!(
        decoded_ms + 20 >= flushed,
        "decoded {decoded_ms} ms, flushed {flushed} ms"
    );
    println!(
        "{test_name}: killed after {flushed} ms flushed; recovered {} ms, cut {} bytes",
        repaired.duration_ms, repaired.truncated
    );
}

#[test]
fn ogg_recording_cut_by_sigkill_is_recovered() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec);
        return;
    }
    sigkill_and_recover(
        RecordingFormat::OggOpus,
        false,
        "ogg_recording_cut_by_sigkill_is_recovered",
    );
}

#[test]
fn wav_recording_cut_by_sigkill_is_recovered() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec);
        return;
    }
    sigkill_and_recover(
        RecordingFormat::Wav,
        false,
        "wav_recording_cut_by_sigkill_is_recovered",
    );
}

#[test]
fn encrypted_recording_cut_by_sigkill_is_recovered() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec);
        return;
    }
    sigkill_and_recover(
        RecordingFormat::OggOpus,
        true,
        "encrypted_recording_cut_by_sigkill_is_recovered",
    );
}

#[test]
fn a_torn_tail_is_cut_and_the_last_page_marked_end_of_stream() {
    // Deterministic variant of the crash: a complete recording with half a
    // batch of garbage appended (a torn write) is repaired to its pages.
    let dir = TempDir::new("torn");
    let path = dir.path().join("torn.opus.ogg");
    let settings = RecorderSettings {
        format: RecordingFormat::OggOpus,
        sample_rate: 16_000,
        batch: BatchPolicy::default(),
        key: None,
    };
    let t0 = Instant::now();
    let mut rec = Recorder::create(&path, &settings, 1, [0; 19], t0).unwrap();
    let mut last = 0;
    play_call(&mut rec, 16_000, t0, 400, |ms| last = ms);
    // One batch after 5 s, holding what the framer released by then (it
    // releases 200 ms behind the clock).
    assert_eq!(last, 4800);
    drop(rec); // never finished: like a crash after the first batch
    let good = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"OggS\0\0garbage-of-a-torn-page").unwrap();
    drop(f);
    let repaired =
        voip_appliance::recording::recovery::repair(&path, RecordingFormat::OggOpus, None).unwrap();
    assert_eq!(repaired.bytes, good);
    assert_eq!(repaired.truncated, 28);
    assert_eq!(repaired.duration_ms, last);
    let scan = voip_appliance::recording::ogg::scan(&std::fs::read(&path).unwrap());
    assert!(scan.ends_with_eos());
    let probe = ffprobe(&path);
    assert!((probe.duration_s - 4.8).abs() <= 0.02, "{probe:?}");
}

#[test]
fn recovery_of_damaged_files_reports_errors_instead_of_panicking() {
    let dir = TempDir::new("damaged");
    let key = RecordingKey::from_hex(KEY_HEX).unwrap();
    let cases = [
        (RecordingFormat::OggOpus, None),
        (RecordingFormat::Wav, None),
        (RecordingFormat::OggOpus, Some(key.clone())),
        (RecordingFormat::Wav, Some(key.clone())),
    ];
    for (i, (format, k)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("valid-{i}"));
        let settings = RecorderSettings {
            format,
            sample_rate: 8_000,
            batch: BatchPolicy {
                interval: Duration::from_millis(500),
                ..BatchPolicy::default()
            },
            key: k.clone(),
        };
        let t0 = Instant::now();
        let mut rec = Recorder::create(&path, &settings, 1, [2; 19], t0).unwrap();
        play_call(&mut rec, 8_000, t0, 150, |_| {});
        drop(rec);
        let valid = std::fs::read(&path).unwrap();
        // Seeded damage: a flipped byte, a cut, zeros appended (a power cut
        // on some file systems), random garbage.
        let mut seed = 0x2545_F491_4F6C_DD1Du64 + i as u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in 0..40 {
            let mut m = valid.clone();
            match n % 4 {
                0 => {
                    let at = (next() % m.len() as u64) as usize;
                    m[at] ^= 0x5a;
                }
                1 => m.truncate((next() % m.len() as u64) as usize),
                2 => m.extend(std::iter::repeat_n(0, (next() % 5000) as usize)),
                _ => m = (0..next() % 2000).map(|_| next() as u8).collect(),
            }
            let damaged = dir.path().join(format!("damaged-{i}-{n}"));
            std::fs::write(&damaged, &m).unwrap();
            let result = voip_appliance::recording::recovery::repair(&damaged, format, k.as_ref());
            if let Ok(r) = result {
                assert_eq!(r.bytes, std::fs::metadata(&damaged).unwrap().len());
            }
        }
    }
}

//! Recordings of a synthetic call, checked with the real `ffprobe` and
//! `ffmpeg`: right duration (±1 frame), two channels, each party on its own
//! channel; the index entry of a recording made through the service; and
//! encryption at rest with the `recording decrypt` command (round trip,
//! tamper and truncation detection).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod recording_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use recording_support::{TempDir, channel_stats, decode_stereo, ffprobe, play_call, tone};
use voip_appliance::recording::batch::BatchPolicy;
use voip_appliance::recording::recorder::{Recorder, RecorderSettings};
use voip_appliance::recording::seal::RecordingKey;
use voip_appliance::recording::service::{PcmFrame, StartRequest};
use voip_appliance::recording::{Party, RecordingService, ServiceConfig};
use voip_appliance::store::{RecordingState, Store, StoreConfig};
use voip_shared::mqtt::ApplianceId;
use voip_shared::site_config::RecordingFormat;

/// 7.3 s of call: 365 frames of 20 ms.
const FRAMES: u64 = 365;
const KEY_HEX: &str = "3f1e5a7c9b2d4f6081a3c5e7092b4d6f8a1c3e5071b3d5f7092a4c6e8f1a3c5e";

fn settings(format: RecordingFormat, rate: u32, key: Option<RecordingKey>) -> RecorderSettings {
    RecorderSettings {
        format,
        sample_rate: rate,
        batch: BatchPolicy::default(),
        key,
    }
}

fn record_call(path: &Path, format: RecordingFormat, rate: u32, key: Option<RecordingKey>) -> u64 {
    let t0 = Instant::now();
    let mut rec =
        Recorder::create(path, &settings(format, rate, key), 0x5eed, [9; 19], t0).unwrap();
    let mut flushes = 0;
    play_call(&mut rec, rate, t0, FRAMES, |_| flushes += 1);
    assert!(flushes >= 1, "5 s batches: at least one flush during 7.3 s");
    let finished = rec.finish().unwrap();
    assert_eq!(finished.bytes, std::fs::metadata(path).unwrap().len());
    finished.duration_ms
}

/// Left = party A (440 Hz throughout), right = party B (1000 Hz, silent
/// from 2 s to 4 s): checked on ffmpeg's decoding of the file.
fn assert_parties_on_their_own_channels(path: &Path) {
    let rate = 16_000;
    let pcm = decode_stereo(path, rate);
    let (left_rms, left_zc) = channel_stats(&pcm, rate, 0, 0.5, 7.0);
    assert!(
        left_rms > 3000.0,
        "party A audible on the left: rms {left_rms}"
    );
    assert!(
        (800.0..960.0).contains(&left_zc),
        "440 Hz on the left: {left_zc} crossings/s"
    );
    let (right_rms, right_zc) = channel_stats(&pcm, rate, 1, 0.5, 1.5);
    assert!(
        right_rms > 3000.0,
        "party B audible on the right: rms {right_rms}"
    );
    assert!(
        (1900.0..2100.0).contains(&right_zc),
        "1000 Hz on the right: {right_zc}"
    );
    let (gap_rms, _) = channel_stats(&pcm, rate, 1, 2.2, 3.8);
    assert!(
        gap_rms < 100.0,
        "B's silence is silence, no crosstalk from A: rms {gap_rms}"
    );
    let (after_rms, _) = channel_stats(&pcm, rate, 1, 4.5, 7.0);
    assert!(
        after_rms > 3000.0,
        "B audible again after the gap: rms {after_rms}"
    );
}

fn assert_duration(probe_s: f64, expected_ms: u64) {
    let diff = (probe_s * 1000.0 - expected_ms as f64).abs();
    assert!(
        diff <= 20.0,
        "ffprobe says {probe_s} s, expected {expected_ms} ms (±1 frame)"
    );
}

#[test]
fn ogg_opus_recording_plays_with_the_call_duration_and_two_channels() {
    let dir = TempDir::new("ogg");
    let path = dir.path().join("call.opus.ogg");
    let duration_ms = record_call(&path, RecordingFormat::OggOpus, 16_000, None);
    assert_eq!(duration_ms, 7300);
    let probe = ffprobe(&path);
    assert_eq!(probe.codec, "opus");
    assert_eq!(probe.channels, 2);
    assert_duration(probe.duration_s, 7300);
    assert_parties_on_their_own_channels(&path);
}

#[test]
fn wav_recording_plays_with_the_call_duration_and_two_channels() {
    let dir = TempDir::new("wav");
    for rate in [8_000, 48_000] {
        let path = dir.path().join(format!("call-{rate}.wav"));
        let duration_ms = record_call(&path, RecordingFormat::Wav, rate, None);
        assert_eq!(duration_ms, 7300, "the call length, on the frame grid");
        let probe = ffprobe(&path);
        assert_eq!(probe.codec, "pcm_s16le");
        assert_eq!((probe.channels, probe.sample_rate), (2, u64::from(rate)));
        assert_duration(probe.duration_s, 7300);
    }
    assert_parties_on_their_own_channels(&dir.path().join("call-48000.wav"));
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn the_service_indexes_a_finished_recording_with_duration_size_and_checksum() {
    let dir = TempDir::new("service");
    let store = Store::open(
        dir.path().join("appliance.db"),
        StoreConfig::new(ApplianceId::new("pi-test-01").unwrap()),
    )
    .unwrap();
    let rec_dir = dir.path().join("recordings");
    let service = RecordingService::start(ServiceConfig::new(rec_dir.clone()), store).unwrap();
    assert!(service.recovery().recovered.is_empty());
    let handle = service.handle();
    for format in [RecordingFormat::OggOpus, RecordingFormat::Wav] {
        let before = Instant::now();
        let rec = handle
            .start_recording(StartRequest {
                call_id: "call-1@pbx".into(),
                format,
                sample_rate: 16_000,
                retention_days: 30,
            })
            .unwrap();
        // 2 s of both parties, stamped on the media clock from now: stop()
        // releases everything the framer holds, no waiting needed. The
        // recording's clock started inside start_recording, so the audio
        // starts up to `lead` later.
        let t0 = Instant::now();
        let lead = u64::try_from((t0 - before).as_millis()).unwrap();
        for n in 0..100u64 {
            let at = t0 + Duration::from_millis(20 * n);
            for (party, freq) in [(Party::A, 440.0), (Party::B, 1000.0)] {
                let frame = PcmFrame {
                    at,
                    samples: tone(freq, 16_000, n),
                };
                assert!(rec.push(party, frame), "queue has room");
            }
        }
        let id = rec.id().to_owned();
        let finished = rec.stop().unwrap();
        assert!(
            (2000..=2020 + lead).contains(&finished.duration_ms),
            "{finished:?}, lead {lead} ms"
        );
        let db = Store::open(
            dir.path().join("appliance.db"),
            StoreConfig::new(ApplianceId::new("pi-test-01").unwrap()),
        )
        .unwrap();
        let row = db.recording(&id).unwrap().unwrap();
        assert_eq!(row.state, RecordingState::Complete);
        assert_eq!(row.recording.call_id, "call-1@pbx");
        assert_eq!(row.recording.format, format);
        assert!(!row.recording.encrypted);
        assert_eq!(row.duration_ms, finished.duration_ms);
        let file = rec_dir.join(&row.recording.path);
        assert_eq!(row.bytes, std::fs::metadata(&file).unwrap().len());
        assert_eq!(row.sha256.as_deref(), Some(sha256sum(&file).as_str()));
        let probe = ffprobe(&file);
        assert_eq!(probe.channels, 2);
        assert_duration(probe.duration_s, finished.duration_ms);
    }
    service.shutdown();
}

fn write_secrets(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("secrets.toml");
    std::fs::write(&path, format!("[recording]\nkey = \"{KEY_HEX}\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn decrypt_cli(secrets: &Path, input: &Path, output: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_voip-appliance"))
        .args(["recording", "decrypt", "--secrets"])
        .arg(secrets)
        .arg(input)
        .arg(output)
        .output()
        .unwrap()
}

#[test]
fn encrypted_recordings_decrypt_to_playable_files_and_tampering_is_refused() {
    let dir = TempDir::new("enc");
    let secrets = write_secrets(dir.path());
    let key = RecordingKey::from_hex(KEY_HEX).unwrap();
    for (format, name) in [
        (RecordingFormat::OggOpus, "call.opus.ogg"),
        (RecordingFormat::Wav, "call.wav"),
    ] {
        let sealed = dir.path().join(format!("{name}.enc"));
        record_call(&sealed, format, 16_000, Some(key.clone()));
        let bytes = std::fs::read(&sealed).unwrap();
        assert!(bytes.starts_with(b"VRECENC1"));
        assert!(!bytes.windows(4).any(|w| w == b"OggS" || w == b"RIFF"));

        let plain = dir.path().join(name);
        let out = decrypt_cli(&secrets, &sealed, &plain);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let probe = ffprobe(&plain);
        assert_eq!(probe.channels, 2);
        assert_duration(probe.duration_s, 7300);
        assert_parties_on_their_own_channels(&plain);

        // One flipped bit in the middle: refused, nothing written.
        let mut tampered = bytes.clone();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 0x01;
        let bad = dir.path().join(format!("tampered-{name}.enc"));
        std::fs::write(&bad, &tampered).unwrap();
        let target = dir.path().join(format!("tampered-{name}"));
        let out = decrypt_cli(&secrets, &bad, &target);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("failed authentication"), "{err}");
        assert!(!target.exists());

        // Cut after a chunk (the final chunk missing): refused as truncated.
        let cut = dir.path().join(format!("cut-{name}.enc"));
        std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
        let out = decrypt_cli(&secrets, &cut, &dir.path().join(format!("cut-{name}")));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    }
    // The wrong key fails too.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let wrong = other.join("secrets.toml");
    std::fs::write(
        &wrong,
        format!("[recording]\nkey = \"{}\"\n", "00".repeat(32)),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = decrypt_cli(
        &wrong,
        &dir.path().join("call.wav.enc"),
        &other.join("x.wav"),
    );
    assert!(!out.status.success());
}

#[test]
fn the_shipped_consent_prompt_is_a_valid_wav_of_speech_length() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/nl/recording-consent.wav");
    let probe = ffprobe(&path);
    assert_eq!(probe.codec, "pcm_s16le");
    assert_eq!((probe.channels, probe.sample_rate), (1, 16_000));
    assert!(
        (1.0..6.0).contains(&probe.duration_s),
        "{} s",
        probe.duration_s
    );
    // The engine reads the same bytes it embeds.
    let prompt = voip_appliance::recording::consent::Prompt::consent_nl().unwrap();
    let engine_s = prompt.samples.len() as f64 / 16_000.0;
    assert!(
        (engine_s - probe.duration_s).abs() < 1e-5,
        "engine {engine_s} s, ffprobe {} s",
        probe.duration_s
    );
}

//! Cost of recording a call (not a timed test; run with
//! `cargo bench -p voip-appliance --bench recording`).
//!
//! Each iteration turns 10 s of a two-party call (both parties speaking a
//! tone, 16 kHz, 20 ms frames) into the bytes of a file, as the recording
//! thread does: framer → stream writer (Opus encoder + Ogg muxer, or PCM),
//! in memory, no disk. `seal` measures encrypting one 5 s batch. The peer
//! for Ogg/Opus is `ffmpeg -c:a libopus` on the same audio (see
//! `docs/benchmarks.md`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench binary: a failure should abort it"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voip_appliance::recording::framer::{FramerConfig, Party, StereoFramer};
use voip_appliance::recording::seal::{RecordingKey, Sealer};
use voip_appliance::recording::stream::StreamWriter;
use voip_shared::site_config::RecordingFormat;

const RATE: u32 = 16_000;
const FRAMES: u64 = 500; // 10 s

fn tone(freq: f64, n: u64) -> Vec<i16> {
    let len = RATE as usize / 50;
    (0..len)
        .map(|i| {
            let t = (n as f64 * len as f64 + i as f64) / f64::from(RATE);
            (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

#[inline(never)]
fn record(format: RecordingFormat, a: &[Vec<i16>], b: &[Vec<i16>]) -> usize {
    let t0 = Instant::now();
    let mut out = Vec::with_capacity(1 << 20);
    let mut writer = StreamWriter::new(format, RATE, 1, &mut out).unwrap();
    let mut framer = StereoFramer::new(FramerConfig::new(RATE), t0);
    for n in 0..FRAMES {
        let at = t0 + Duration::from_millis(20 * n);
        framer.push(Party::A, at, &a[n as usize]);
        framer.push(Party::B, at, &b[n as usize]);
        let now = at + Duration::from_millis(20);
        while let Some(frame) = framer.poll_frame(now) {
            writer.write_frame(&frame, &mut out).unwrap();
        }
    }
    for frame in framer.finish() {
        writer.write_frame(&frame, &mut out).unwrap();
    }
    writer.finish(&mut out);
    out.len()
}

fn bench(c: &mut Criterion) {
    let a: Vec<Vec<i16>> = (0..FRAMES).map(|n| tone(440.0, n)).collect();
    let b: Vec<Vec<i16>> = (0..FRAMES).map(|n| tone(1000.0, n)).collect();
    let mut g = c.benchmark_group("record_10s_16k_stereo");
    g.throughput(Throughput::Elements(10)); // seconds of audio
    g.sample_size(20);
    g.bench_function("ogg_opus", |bench| {
        bench.iter(|| black_box(record(RecordingFormat::OggOpus, &a, &b)));
    });
    g.bench_function("wav", |bench| {
        bench.iter(|| black_box(record(RecordingFormat::Wav, &a, &b)));
    });
    g.finish();

    let key = RecordingKey::from_bytes([7; 32]);
    let mut g = c.benchmark_group("seal_5s_batch");
    for (name, len) in [("ogg_opus_30k", 30_000usize), ("wav_16k_320k", 320_000)] {
        let batch = vec![0x55u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(name, |bench| {
            let mut sealer = Sealer::new(&key, RecordingFormat::OggOpus, [1; 19]);
            let mut out = Vec::with_capacity(len + 64);
            bench.iter(|| {
                out.clear();
                sealer.seal_chunk(&batch, false, &mut out).unwrap();
                black_box(out.len())
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Per-frame cost of the codecs and the resampler (20 ms frames), beside the
//! bare libopus floor (the `opus` crate called directly, same settings).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voip_media::codec::{CodecKind, OpusSettings, new_decoder, new_encoder};
use voip_media::resample::Resampler;

/// A voiced-speech-like signal at `rate` Hz.
fn voice(rate: u32, len: usize) -> Vec<i16> {
    let mut phase = 0.0f64;
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let f0 = 150.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
            let mut v = 0.0;
            for h in 1..=12 {
                v += (phase * f64::from(h)).sin() / f64::from(h);
            }
            (4000.0 * v) as i16
        })
        .collect()
}

fn codecs(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    let settings = OpusSettings::default(); // complexity 5, 32 kbit/s, FEC on
    for kind in CodecKind::ALL {
        let n = kind.samples_per_20ms();
        let pcm = voice(kind.sample_rate(), n * 50);
        let frames: Vec<&[i16]> = pcm.chunks_exact(n).collect();
        let mut enc = new_encoder(kind, &settings).unwrap();
        let mut payload = Vec::with_capacity(1500);
        let mut i = 0;
        group.bench_function(format!("{kind}_encode_20ms"), |b| {
            b.iter(|| {
                payload.clear();
                enc.encode(black_box(frames[i % frames.len()]), &mut payload)
                    .unwrap();
                i += 1;
            });
        });
        let mut enc = new_encoder(kind, &settings).unwrap();
        let packets: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        let mut dec = new_decoder(kind).unwrap();
        let mut out = Vec::with_capacity(n);
        let mut i = 0;
        group.bench_function(format!("{kind}_decode_20ms"), |b| {
            b.iter(|| {
                out.clear();
                dec.decode(black_box(&packets[i % packets.len()]), &mut out)
                    .unwrap();
                i += 1;
            });
        });
    }

    // The floor: libopus through the `opus` crate, no wrapper.
    let pcm = voice(48_000, 960 * 50);
    let frames: Vec<&[i16]> = pcm.chunks_exact(960).collect();
    let mut raw =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    raw.set_complexity(5).unwrap();
    raw.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    raw.set_inband_fec(true).unwrap();
    raw.set_packet_loss_perc(5).unwrap();
    raw.set_signal(opus::Signal::Voice).unwrap();
    let mut buf = vec![0u8; 1500];
    let mut i = 0;
    group.bench_function("libopus_raw_encode_20ms", |b| {
        b.iter(|| {
            raw.encode(black_box(frames[i % frames.len()]), &mut buf)
                .unwrap();
            i += 1;
        });
    });
    let packets: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let n = raw.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let mut raw_dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut out = vec![0i16; 960];
    let mut i = 0;
    group.bench_function("libopus_raw_decode_20ms", |b| {
        b.iter(|| {
            raw_dec
                .decode(black_box(&packets[i % packets.len()]), &mut out, false)
                .unwrap();
            i += 1;
        });
    });
    group.finish();
}

fn resampler(c: &mut Criterion) {
    let mut group = c.benchmark_group("resample");
    for (from, to) in [
        (8000u32, 48_000u32),
        (48_000, 8000),
        (16_000, 48_000),
        (48_000, 16_000),
    ] {
        let input = voice(from, (from / 50) as usize);
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = Vec::with_capacity((to / 50) as usize + 8);
        group.bench_function(format!("{from}_to_{to}_20ms"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&input), &mut out);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, codecs, resampler);
criterion_main!(benches);

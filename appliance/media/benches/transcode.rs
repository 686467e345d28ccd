//! Cost of transcoding one call Opus↔PCMU for 20 ms of audio each way, next
//! to the floor measured in the same run: the bare codec calls a call needs
//! (Opus decode + PCMU encode one way, PCMU decode + Opus encode the other),
//! on the same packets, with libopus at 48 kHz (`floor_codec_calls`) and at
//! the 8 kHz API rate the bridge now uses towards G.711
//! (`floor_codec_calls_8khz`). Also prints the jitter buffer's added delay at 0 and
//! 30 ms jitter (virtual-time harness) and a many-bridges-on-one-thread run.
//!
//! `cargo bench -p voip-media --bench transcode`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::similar_names,
    clippy::many_single_char_names,
    reason = "benchmark"
)]

use std::f64::consts::PI;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use voip_media::bridge::{Bridge, BridgeConfig, LegMedia, TICK};
use voip_media::codec::{
    CodecKind, OpusSettings, new_decoder, new_decoder_at, new_encoder, new_encoder_at,
};
use voip_media::jitter::JitterConfig;
use voip_media::testing::{LinkConfig, StreamSpec, run_jitter};
use voip_media::{Leg, LegConfig, PayloadType, Port, RtpHeader, SeqNo, Ssrc};

const FRAMES: usize = 250;

fn speech_like(rate: u32, frames: usize) -> Vec<i16> {
    let n = rate as usize / 50 * frames;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let env = (PI * 4.0 * t).sin().powi(2);
            let phase = 2.0 * PI * (140.0 * t + 6.0 * (2.0 * PI * 3.0 * t).sin());
            let s: f64 = (1..20)
                .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                .sum();
            (env * 6000.0 * s) as i16
        })
        .collect()
}

/// 20 ms Opus packets (complexity 5, 32 kbit/s, FEC on) and PCMU packets of
/// the same audio.
fn packets() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let opus = OpusSettings::default();
    let mut enc = new_encoder(CodecKind::Opus, &opus).unwrap();
    let mut ulaw = new_encoder(CodecKind::Pcmu, &opus).unwrap();
    let pcm48 = speech_like(48_000, FRAMES);
    let pcm8 = speech_like(8000, FRAMES);
    let mut o = Vec::new();
    let mut u = Vec::new();
    for k in 0..FRAMES {
        let mut p = Vec::new();
        enc.encode(&pcm48[k * 960..(k + 1) * 960], &mut p).unwrap();
        o.push(p);
        let mut p = Vec::new();
        ulaw.encode(&pcm8[k * 160..(k + 1) * 160], &mut p).unwrap();
        u.push(p);
    }
    (o, u)
}

fn rtp(pt: u8, k: usize, ticks: u32, payload: &[u8]) -> Vec<u8> {
    RtpHeader::new(PayloadType(pt), SeqNo(k as u16), k as u32 * ticks, Ssrc(5))
        .to_packet(payload, 0)
        .unwrap()
}

fn new_bridge(t0: Instant, i: u32) -> Bridge {
    let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
    Bridge::new(
        t0,
        BridgeConfig::default(),
        LegMedia {
            codec: CodecKind::Opus,
            payload_type: PayloadType(111),
            telephone_event: Some(PayloadType(110)),
            remote: LegConfig::muxed(a),
            local_ssrc: Ssrc(1 + i),
        },
        LegMedia {
            codec: CodecKind::Pcmu,
            payload_type: PayloadType(0),
            telephone_event: Some(PayloadType(101)),
            remote: LegConfig::muxed(b),
            local_ssrc: Ssrc(0x1000 + i),
        },
    )
    .unwrap()
}

/// A call in steady state: leg A (Opus) and leg B (PCMU) each send one
/// packet per tick; the bridge transcodes both ways.
struct Call {
    bridge: Bridge,
    opus: Vec<Vec<u8>>,
    pcmu: Vec<Vec<u8>>,
    k: usize,
    now: Instant,
}

impl Call {
    fn new(t0: Instant, i: u32, opus: &[Vec<u8>], pcmu: &[Vec<u8>]) -> Self {
        let bridge = new_bridge(t0, i);
        let opus = opus
            .iter()
            .enumerate()
            .map(|(k, p)| rtp(111, k, 960, p))
            .collect();
        let pcmu = pcmu
            .iter()
            .enumerate()
            .map(|(k, p)| rtp(0, k, 160, p))
            .collect();
        Call {
            bridge,
            opus,
            pcmu,
            k: 0,
            now: t0,
        }
    }

    /// One 20 ms step. The stream loops through the packets with fresh
    /// sequence numbers and timestamps.
    fn step(&mut self) -> usize {
        let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let i = self.k % FRAMES;
        let k = self.k;
        let seq = (k as u16).to_be_bytes();
        let o = &mut self.opus[i];
        o[2..4].copy_from_slice(&seq);
        o[4..8].copy_from_slice(&(k as u32 * 960).to_be_bytes());
        let u = &mut self.pcmu[i];
        u[2..4].copy_from_slice(&seq);
        u[4..8].copy_from_slice(&(k as u32 * 160).to_be_bytes());
        self.now += TICK;
        self.bridge
            .handle_packet(self.now, Leg::A, Port::Rtp, a, &self.opus[i]);
        self.bridge
            .handle_packet(self.now, Leg::B, Port::Rtp, b, &self.pcmu[i]);
        self.bridge.handle_timeout(self.now);
        let mut n = 0;
        while let Some(t) = self.bridge.poll_transmit() {
            n += t.bytes.len();
        }
        self.k += 1;
        n
    }
}

fn transcode(c: &mut Criterion) {
    let (opus, pcmu) = packets();
    let settings = OpusSettings::default();
    let mut group = c.benchmark_group("transcode_opus_pcmu_per_20ms");

    // The floor: raw codec calls for one call's 20 ms, both directions.
    let mut opus_dec = new_decoder(CodecKind::Opus).unwrap();
    let mut opus_enc = new_encoder(CodecKind::Opus, &settings).unwrap();
    let mut ulaw_dec = new_decoder(CodecKind::Pcmu).unwrap();
    let mut ulaw_enc = new_encoder(CodecKind::Pcmu, &settings).unwrap();
    let pcm48 = speech_like(48_000, FRAMES);
    let pcm8 = speech_like(8000, FRAMES);
    let mut k = 0usize;
    let (mut pcm, mut out) = (Vec::with_capacity(960), Vec::with_capacity(1500));
    group.bench_function("floor_codec_calls", |bench| {
        bench.iter(|| {
            let i = k % FRAMES;
            k += 1;
            // A→B: Opus decode, PCMU encode (of the same call's audio).
            pcm.clear();
            opus_dec.decode(&opus[i], &mut pcm).unwrap();
            out.clear();
            ulaw_enc
                .encode(&pcm8[i * 160..(i + 1) * 160], &mut out)
                .unwrap();
            // B→A: PCMU decode, Opus encode.
            pcm.clear();
            ulaw_dec.decode(&pcmu[i], &mut pcm).unwrap();
            out.clear();
            opus_enc
                .encode(&pcm48[i * 960..(i + 1) * 960], &mut out)
                .unwrap();
            black_box(out.len())
        });
    });

    // The same at libopus's 8 kHz API rate (what the bridge does now).
    let mut opus_dec8 = new_decoder_at(CodecKind::Opus, 8000).unwrap();
    let mut opus_enc8 = new_encoder_at(CodecKind::Opus, &settings, 8000).unwrap();
    let mut k = 0usize;
    let (mut pcm, mut out) = (Vec::with_capacity(960), Vec::with_capacity(1500));
    group.bench_function("floor_codec_calls_8khz", |bench| {
        bench.iter(|| {
            let i = k % FRAMES;
            k += 1;
            pcm.clear();
            opus_dec8.decode(&opus[i], &mut pcm).unwrap();
            out.clear();
            ulaw_enc.encode(&pcm[..160], &mut out).unwrap();
            pcm.clear();
            ulaw_dec.decode(&pcmu[i], &mut pcm).unwrap();
            out.clear();
            opus_enc8.encode(&pcm[..160], &mut out).unwrap();
            black_box(out.len())
        });
    });

    let t0 = Instant::now();
    let mut call = Call::new(t0, 0, &opus, &pcmu);
    for _ in 0..10 {
        call.step();
    }
    group.bench_function("bridge_full", |bench| {
        bench.iter(|| black_box(call.step()));
    });
    group.finish();
}

/// Jitter-buffer added delay (virtual time) and many calls on one thread.
fn figures(_c: &mut Criterion) {
    for jitter_ms in [0u64, 30] {
        for (name, lookahead) in [("", Duration::ZERO), (" +Opus look-ahead", TICK)] {
            let run = run_jitter(
                Instant::now(),
                JitterConfig {
                    lookahead,
                    ..JitterConfig::default()
                },
                LinkConfig {
                    delay: Duration::from_millis(20),
                    jitter: Duration::from_millis(jitter_ms),
                    ..LinkConfig::default()
                },
                42,
                StreamSpec {
                    packets: 3000,
                    ..StreamSpec::default()
                },
            );
            // Added by the buffer: send-to-playout minus the path's fixed delay.
            let base = Duration::from_millis(20);
            eprintln!(
                "jitter buffer at {jitter_ms} ms jitter{name}: added delay mean {:.1} ms, p95 {:.1} ms \
                 (target {:.1} ms; late {}, concealed {})",
                run.mean_delay().saturating_sub(base).as_secs_f64() * 1e3,
                run.delay_quantile(0.95).saturating_sub(base).as_secs_f64() * 1e3,
                f64::from(run.stats.target_delay) / 8.0,
                run.stats.late,
                run.stats.concealed
            );
        }
    }
    let (opus, pcmu) = packets();
    let calls = 100u32;
    let seconds = 5usize;
    let t0 = Instant::now();
    let mut all: Vec<Call> = (0..calls).map(|i| Call::new(t0, i, &opus, &pcmu)).collect();
    let start = Instant::now();
    for _ in 0..seconds * 50 {
        for call in &mut all {
            black_box(call.step());
        }
    }
    let spent = start.elapsed();
    let audio = Duration::from_secs(seconds as u64);
    let per_call = spent.as_secs_f64() / f64::from(calls) / audio.as_secs_f64();
    eprintln!(
        "{calls} Opus<->PCMU bridges on one thread, {seconds} s of audio: {:.2} s CPU, \
         {:.2} % of a core per call, {:.0} calls per core, {:.0} on 2 cores",
        spent.as_secs_f64(),
        per_call * 100.0,
        1.0 / per_call,
        2.0 / per_call
    );
}

criterion_group!(benches, transcode, figures);
criterion_main!(benches);

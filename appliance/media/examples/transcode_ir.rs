//! Instruction counts for the transcode comparison (run under
//! `valgrind --tool=callgrind`, see docs/performance.md): one call's
//! Opus↔PCMU work for `N` × 20 ms, either as the bare codec calls (`floor8`:
//! libopus at 8 kHz, as the bridge runs it towards G.711; `floor48`: libopus
//! at 48 kHz) or through the bridge (`bridge`). Run each with N and with 0
//! and subtract: the difference is N frames' instructions, set-up excluded.
//!
//! `cargo run --profile bench -p voip-media --example transcode_ir -- bridge 500`
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::similar_names,
    clippy::many_single_char_names,
    reason = "measurement tool"
)]

use std::f64::consts::PI;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use voip_media::bridge::{Bridge, BridgeConfig, LegMedia, TICK};
use voip_media::codec::{CodecKind, OpusSettings, new_decoder_at, new_encoder_at};
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

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(500);
    let settings = OpusSettings::default();
    // The same packets as benches/transcode.rs.
    let mut enc = new_encoder_at(CodecKind::Opus, &settings, 48_000).unwrap();
    let mut ulaw = new_encoder_at(CodecKind::Pcmu, &settings, 8000).unwrap();
    let pcm48 = speech_like(48_000, FRAMES);
    let pcm8 = speech_like(8000, FRAMES);
    let (mut opus, mut pcmu) = (Vec::new(), Vec::new());
    for k in 0..FRAMES {
        let mut p = Vec::new();
        enc.encode(&pcm48[k * 960..(k + 1) * 960], &mut p).unwrap();
        opus.push(p);
        let mut p = Vec::new();
        ulaw.encode(&pcm8[k * 160..(k + 1) * 160], &mut p).unwrap();
        pcmu.push(p);
    }
    match mode.as_str() {
        "floor8" | "floor48" => {
            let rate = if mode == "floor8" { 8000 } else { 48_000 };
            let mut opus_dec = new_decoder_at(CodecKind::Opus, rate).unwrap();
            let mut opus_enc = new_encoder_at(CodecKind::Opus, &settings, rate).unwrap();
            let mut ulaw_dec = new_decoder_at(CodecKind::Pcmu, 8000).unwrap();
            let mut ulaw_enc = new_encoder_at(CodecKind::Pcmu, &settings, 8000).unwrap();
            let (mut pcm, mut out) = (Vec::new(), Vec::new());
            for k in 0..n {
                let i = k % FRAMES;
                pcm.clear();
                opus_dec.decode(&opus[i], &mut pcm).unwrap();
                out.clear();
                ulaw_enc
                    .encode(&pcm8[i * 160..(i + 1) * 160], &mut out)
                    .unwrap();
                pcm.clear();
                ulaw_dec.decode(&pcmu[i], &mut pcm).unwrap();
                out.clear();
                let frame = if rate == 8000 {
                    &pcm[..160]
                } else {
                    &pcm48[i * 960..(i + 1) * 960]
                };
                opus_enc.encode(frame, &mut out).unwrap();
                black_box(out.len());
            }
        }
        "bridge" => {
            let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
            let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
            let t0 = Instant::now();
            let mut bridge = Bridge::new(
                t0,
                BridgeConfig::default(),
                LegMedia {
                    codec: CodecKind::Opus,
                    payload_type: PayloadType(111),
                    telephone_event: Some(PayloadType(110)),
                    remote: LegConfig::muxed(a),
                    local_ssrc: Ssrc(1),
                },
                LegMedia {
                    codec: CodecKind::Pcmu,
                    payload_type: PayloadType(0),
                    telephone_event: Some(PayloadType(101)),
                    remote: LegConfig::muxed(b),
                    local_ssrc: Ssrc(2),
                },
            )
            .unwrap();
            let mut now = t0;
            for k in 0..n {
                let i = k % FRAMES;
                now += TICK;
                let o = RtpHeader::new(PayloadType(111), SeqNo(k as u16), k as u32 * 960, Ssrc(5))
                    .to_packet(&opus[i], 0)
                    .unwrap();
                let u = RtpHeader::new(PayloadType(0), SeqNo(k as u16), k as u32 * 160, Ssrc(6))
                    .to_packet(&pcmu[i], 0)
                    .unwrap();
                bridge.handle_packet(now, Leg::A, Port::Rtp, a, &o);
                bridge.handle_packet(now, Leg::B, Port::Rtp, b, &u);
                bridge.handle_timeout(now);
                while let Some(t) = bridge.poll_transmit() {
                    black_box(t.bytes.len());
                }
            }
        }
        _ => {
            println!("usage: transcode_ir floor8|floor48|bridge N");
            std::process::exit(2);
        }
    }
}

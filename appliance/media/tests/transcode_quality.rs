//! Signal tests of the transcoding bridge in virtual time: a 1 kHz sine and
//! a speech-like signal (a 150 Hz harmonic complex, amplitude-modulated at a
//! syllable rate with pauses) go from a phone through a lossy link into a
//! chain of bridges and are decoded at the far phone.
//!
//! Bounds (issue 4), checked on the output after the first 0.5 s:
//! - frequency: the sine's zero-crossing frequency and the speech-like
//!   signal's autocorrelation pitch within ±2 % of the input's;
//! - level: RMS within ±1.5 dB of the input's (sine), ±2 dB (speech-like);
//! - SNR: the sine's SINAD (per 20 ms block, residual after a least-squares
//!   1 kHz fit) ≥ 10 dB under 5 % loss and 30 ms jitter (≥ 25 dB without;
//!   an Opus-coded pure tone is CELT, so every loss is CELT PLC);
//!   the speech-like signal's median segmental SNR against the same chain
//!   without loss (200 ms segments, each aligned within ±100 ms) ≥ 10 dB.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(
    clippy::many_single_char_names,
    clippy::needless_range_loop,
    clippy::cast_possible_wrap,
    reason = "signal maths reads best with index loops and short names"
)]

use std::f64::consts::PI;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_media::bridge::{Bridge, BridgeConfig, LegMedia};
use voip_media::codec::{CodecKind, OpusSettings, new_decoder, new_encoder};
use voip_media::resample::Resampler;
use voip_media::testing::{LinkConfig, LossyLink};
use voip_media::{Leg, LegConfig, PayloadType, Port, RtpHeader, RtpPacket, SeqNo, Ssrc};

const SECONDS: usize = 8;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn pt(codec: CodecKind) -> PayloadType {
    PayloadType(codec.static_payload_type().unwrap_or(111))
}

fn sine(rate: u32, freq: f64, amplitude: f64) -> Vec<i16> {
    let n = rate as usize * SECONDS;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amplitude * 32767.0 * (2.0 * PI * freq * t).sin()) as i16
        })
        .collect()
}

/// 150 Hz harmonic complex (harmonics to 3.4 kHz, 1/k roll-off), 4 Hz
/// syllable envelope with a pause every fourth syllable.
fn speech_like(rate: u32) -> Vec<i16> {
    let n = rate as usize * SECONDS;
    let f0 = 150.0;
    let harmonics = (3400.0 / f0) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let syllable = (t * 4.0).floor() as u64;
            let phase = (t * 4.0).fract();
            let env = if syllable % 4 == 3 {
                0.0
            } else {
                (PI * phase).sin().powi(2)
            };
            let mut s = 0.0;
            for k in 1..=harmonics {
                s += (2.0 * PI * f0 * k as f64 * t + k as f64).sin() / k as f64;
            }
            (env * 0.25 * 32767.0 * s / 2.0).clamp(-32767.0, 32767.0) as i16
        })
        .collect()
}

/// Sends `input` (at `codecs[0]`'s rate) from a phone through `link` and a
/// chain of bridges (`codecs[i]` → `codecs[i + 1]`); returns the PCM the
/// far phone decodes, placed by RTP timestamp.
fn run_chain(codecs: &[CodecKind], link: LinkConfig, seed: u64, input: &[i16]) -> Vec<i16> {
    let t0 = Instant::now();
    let first = codecs[0];
    let last = codecs[codecs.len() - 1];
    let opus = OpusSettings::default();
    let mut encoder = new_encoder(first, &opus).unwrap();
    let mut far = new_decoder(last).unwrap();
    let phone_a = addr("10.0.0.1:4000");
    let phone_b = addr("10.0.0.2:4000");
    let mut bridges: Vec<Bridge> = codecs
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let leg = |codec: CodecKind, at: SocketAddr, ssrc: u32| LegMedia {
                codec,
                payload_type: pt(codec),
                telephone_event: None,
                remote: LegConfig::muxed(at),
                local_ssrc: Ssrc(ssrc),
            };
            Bridge::new(
                t0 + Duration::from_millis(3 + 7 * i as u64),
                BridgeConfig::default(),
                leg(w[0], phone_a, 100 + i as u32),
                leg(w[1], phone_b, 200 + i as u32),
            )
            .unwrap()
        })
        .collect();
    let mut link: LossyLink<Vec<u8>> = LossyLink::new(link, seed);
    let frame = first.samples_per_20ms();
    let frames = input.len() / frame;
    let mut sent = 0usize;
    let mut payload = Vec::new();
    let mut out = vec![
        0i16;
        input.len() * last.sample_rate() as usize / first.sample_rate() as usize
            + 48_000
    ];
    let mut pcm = Vec::new();
    let mut first_ts: Option<u32> = None;
    let end = t0 + Duration::from_millis(20 * frames as u64 + 1000);
    loop {
        let send_due = (sent < frames).then(|| t0 + Duration::from_millis(20 * sent as u64));
        let now = [send_due, link.poll_timeout()]
            .into_iter()
            .chain(bridges.iter().map(Bridge::poll_timeout))
            .flatten()
            .min()
            .unwrap();
        if now > end {
            break;
        }
        if send_due == Some(now) {
            payload.clear();
            encoder
                .encode(&input[sent * frame..(sent + 1) * frame], &mut payload)
                .unwrap();
            let ts = (sent as u32) * first.rtp_ticks_per_20ms();
            let bytes = RtpHeader::new(pt(first), SeqNo(sent as u16), ts, Ssrc(7))
                .to_packet(&payload, 0)
                .unwrap();
            link.send(now, bytes);
            sent += 1;
        }
        while let Some((_, bytes)) = link.poll_receive(now) {
            bridges[0].handle_packet(now, Leg::A, Port::Rtp, phone_a, &bytes);
        }
        for i in 0..bridges.len() {
            if bridges[i].poll_timeout().is_some_and(|t| t <= now) {
                bridges[i].handle_timeout(now);
            }
            while let Some(tx) = bridges[i].poll_transmit() {
                assert_eq!(tx.leg, Leg::B);
                if i + 1 < bridges.len() {
                    bridges[i + 1].handle_packet(now, Leg::A, Port::Rtp, phone_a, &tx.bytes);
                } else {
                    let p = RtpPacket::parse(&tx.bytes).unwrap();
                    let ts0 = *first_ts.get_or_insert(p.timestamp());
                    let offset = u64::from(p.timestamp().wrapping_sub(ts0))
                        * u64::from(last.sample_rate())
                        / u64::from(last.rtp_clock_rate());
                    pcm.clear();
                    far.decode(p.payload(), &mut pcm).unwrap();
                    let at = offset as usize;
                    if at + pcm.len() <= out.len() {
                        out[at..at + pcm.len()].copy_from_slice(&pcm);
                    }
                }
            }
        }
    }
    eprintln!(
        "bridge 0 from A: {:?}\n  jitter: {:?}",
        bridges[0].counters(Leg::A),
        bridges[0].jitter_stats(Leg::A)
    );
    out
}

fn rms_db(x: &[i16]) -> f64 {
    let e: f64 = x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * (e.max(1e-9)).log10()
}

/// The steady part: from 0.5 s to 0.5 s before the input's end.
fn steady(x: &[i16], rate: u32) -> &[i16] {
    let r = rate as usize;
    &x[r / 2..(SECONDS * r - r / 2).min(x.len())]
}

/// Frequency from rising zero crossings.
fn zero_crossing_hz(x: &[i16], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        if x[i - 1] < 0 && x[i] >= 0 {
            crossings.push(i);
        }
    }
    let span = (crossings[crossings.len() - 1] - crossings[0]) as f64 / f64::from(rate);
    (crossings.len() - 1) as f64 / span
}

/// SINAD of a sine of known frequency: per 20 ms block, least-squares fit
/// of a·sin + b·cos + c; ratio of fitted to residual energy over all blocks.
fn sinad_db(x: &[i16], rate: u32, freq: f64) -> f64 {
    let block = rate as usize / 50;
    let (mut signal, mut noise) = (0.0, 0.0);
    for (bi, chunk) in x.chunks_exact(block).enumerate() {
        let base = bi * block;
        let w = |i: usize| 2.0 * PI * freq * (base + i) as f64 / f64::from(rate);
        // Normal equations for [sin, cos, 1].
        let mut m = [[0.0f64; 3]; 3];
        let mut v = [0.0f64; 3];
        for (i, &s) in chunk.iter().enumerate() {
            let f = [w(i).sin(), w(i).cos(), 1.0];
            for r in 0..3 {
                v[r] += f[r] * f64::from(s);
                for c in 0..3 {
                    m[r][c] += f[r] * f[c];
                }
            }
        }
        let coef = solve3(m, v);
        for (i, &s) in chunk.iter().enumerate() {
            let fit = coef[0] * w(i).sin() + coef[1] * w(i).cos() + coef[2];
            signal += fit * fit;
            noise += (f64::from(s) - fit).powi(2);
        }
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let piv = (col..3)
            .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
            .unwrap();
        m.swap(col, piv);
        v.swap(col, piv);
        let d = m[col][col];
        if d.abs() < 1e-12 {
            return [0.0; 3];
        }
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / d;
                for c in 0..3 {
                    m[r][c] -= f * m[col][c];
                }
                v[r] -= f * v[col];
            }
        }
    }
    [v[0] / m[0][0], v[1] / m[1][1], v[2] / m[2][2]]
}

fn to_8k(x: &[i16], rate: u32) -> Vec<i16> {
    let mut r = Resampler::new(rate, 8000).unwrap();
    let mut out = Vec::new();
    r.process(x, &mut out);
    out
}

/// Pitch from the autocorrelation peak between 2.5 and 12.5 ms (8 kHz).
fn pitch_hz(x8k: &[i16]) -> f64 {
    let x: Vec<f64> = x8k.iter().map(|&s| f64::from(s)).collect();
    let best = (20..100)
        .max_by(|&a, &b| {
            let ca: f64 = x.iter().zip(&x[a..]).map(|(p, q)| p * q).sum();
            let cb: f64 = x.iter().zip(&x[b..]).map(|(p, q)| p * q).sum();
            ca.total_cmp(&cb)
        })
        .unwrap();
    // Parabolic interpolation around the peak.
    let c = |l: usize| -> f64 { x.iter().zip(&x[l..]).map(|(p, q)| p * q).sum() };
    let (y0, y1, y2) = (c(best - 1), c(best), c(best + 1));
    let delta = 0.5 * (y0 - y2) / (y0 - 2.0 * y1 + y2);
    8000.0 / (best as f64 + delta)
}

/// Median over 200 ms segments of the SNR of `out` against `reference`,
/// each segment aligned within ±100 ms (8 kHz signals). Silent reference
/// segments are skipped.
fn median_segment_snr_db(out: &[i16], reference: &[i16]) -> f64 {
    let seg = 1600;
    let max_lag = 800i64;
    let mut snrs = Vec::new();
    let mut start = 4000usize;
    while start + seg + 800 < reference.len().min(out.len()) {
        let r = &reference[start..start + seg];
        let energy: f64 = r.iter().map(|&s| f64::from(s).powi(2)).sum();
        if energy / seg as f64 > 1e4 {
            let mut best = f64::MAX;
            for lag in -max_lag..=max_lag {
                let o0 = start as i64 + lag;
                if o0 < 0 || o0 as usize + seg > out.len() {
                    continue;
                }
                let o = &out[o0 as usize..o0 as usize + seg];
                let err: f64 = r
                    .iter()
                    .zip(o)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                best = best.min(err);
            }
            snrs.push(10.0 * (energy / best.max(1e-9)).log10());
        }
        start += seg;
    }
    snrs.sort_by(f64::total_cmp);
    snrs[snrs.len() / 2]
}

fn impaired() -> LinkConfig {
    LinkConfig {
        loss: 0.05,
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        ..LinkConfig::default()
    }
}

fn clean() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(20),
        ..LinkConfig::default()
    }
}

const OPUS_PCMU_OPUS: [CodecKind; 3] = [CodecKind::Opus, CodecKind::Pcmu, CodecKind::Opus];

#[test]
fn sine_through_opus_pcmu_opus_under_loss_and_jitter_keeps_frequency_level_and_sinad() {
    let input = sine(48_000, 1000.0, 0.3);
    let reference = run_chain(&OPUS_PCMU_OPUS, clean(), 1, &input);
    let sinad_ref = sinad_db(steady(&reference, 48_000), 48_000, 1000.0);
    for seed in [11, 12, 13] {
        let out = run_chain(&OPUS_PCMU_OPUS, impaired(), seed, &input);
        let s = steady(&out, 48_000);
        let f = zero_crossing_hz(s, 48_000);
        let level = rms_db(s) - rms_db(steady(&input, 48_000));
        let sinad = sinad_db(s, 48_000, 1000.0);
        eprintln!(
            "seed {seed}: {f:.1} Hz, level {level:+.2} dB, SINAD {sinad:.1} dB (no loss: {sinad_ref:.1} dB)"
        );
        assert!((f - 1000.0).abs() <= 20.0, "frequency {f}");
        assert!(level.abs() <= 1.5, "level {level} dB");
        assert!(sinad >= 10.0, "SINAD {sinad} dB");
    }
    assert!(sinad_ref >= 25.0, "SINAD without loss {sinad_ref} dB");
}

#[test]
fn speech_like_signal_through_opus_pcmu_opus_keeps_pitch_level_and_snr() {
    let input = speech_like(48_000);
    let reference = to_8k(&run_chain(&OPUS_PCMU_OPUS, clean(), 1, &input), 48_000);
    let input8 = to_8k(&input, 48_000);
    let f_in = pitch_hz(&input8[4000..40_000]);
    for seed in [21, 22] {
        let out = to_8k(
            &run_chain(&OPUS_PCMU_OPUS, impaired(), seed, &input),
            48_000,
        );
        let f = pitch_hz(&out[4000..40_000]);
        let level = rms_db(steady(&out, 8000)) - rms_db(steady(&input8, 8000));
        let snr = median_segment_snr_db(&out, &reference);
        eprintln!(
            "seed {seed}: pitch {f:.1} Hz (input {f_in:.1}), level {level:+.2} dB, median segmental SNR vs no-loss run {snr:.1} dB"
        );
        assert!((f - f_in).abs() <= 0.02 * f_in, "pitch {f} vs {f_in}");
        assert!(level.abs() <= 2.0, "level {level} dB");
        assert!(snr >= 10.0, "segmental SNR {snr} dB");
    }
}

fn check_sine_pair(codecs: &[CodecKind], min_sinad: f64) {
    let rate = codecs[0].sample_rate();
    let out_rate = codecs[codecs.len() - 1].sample_rate();
    let input = sine(rate, 1000.0, 0.3);
    let out = run_chain(codecs, impaired(), 5, &input);
    let s = steady(&out, out_rate);
    let f = zero_crossing_hz(s, out_rate);
    let level = rms_db(s) - rms_db(steady(&input, rate));
    let sinad = sinad_db(s, out_rate, 1000.0);
    eprintln!("{codecs:?}: {f:.1} Hz, level {level:+.2} dB, SINAD {sinad:.1} dB");
    assert!((f - 1000.0).abs() <= 20.0, "{codecs:?}: frequency {f}");
    assert!(level.abs() <= 1.5, "{codecs:?}: level {level} dB");
    assert!(sinad >= min_sinad, "{codecs:?}: SINAD {sinad} dB");
}

#[test]
fn g711_and_g722_transcode_both_ways_under_loss() {
    check_sine_pair(&[CodecKind::Pcmu, CodecKind::G722], 12.0);
    check_sine_pair(&[CodecKind::G722, CodecKind::Pcmu], 12.0);
    check_sine_pair(&[CodecKind::Pcma, CodecKind::G722], 12.0);
}

#[test]
fn opus_and_pcma_transcode_both_ways_under_loss() {
    check_sine_pair(&[CodecKind::Opus, CodecKind::Pcma], 12.0);
    check_sine_pair(&[CodecKind::Pcma, CodecKind::Opus], 12.0);
}

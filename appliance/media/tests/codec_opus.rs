//! Opus through libopus: settings take effect, PLC and in-band FEC recover
//! lost frames, malformed payloads are errors, and the codec factory hands
//! out every codec with its 20 ms frame.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use voip_media::codec::{
    AudioDecoder, AudioEncoder, CodecError, CodecKind, OpusDecoder, OpusEncoder, OpusSettings,
    has_lbrr, new_decoder, new_decoder_at, new_encoder, new_encoder_at,
};

const FRAME: usize = 960;

/// Voiced-speech-like signal at 48 kHz: harmonics of a gliding 120–180 Hz
/// fundamental, syllable-rate amplitude modulation.
fn voice(len: usize) -> Vec<i16> {
    let mut phase = 0.0f64;
    (0..len)
        .map(|n| {
            let t = n as f64 / 48_000.0;
            let f0 = 150.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / 48_000.0;
            let envelope = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let mut v = 0.0;
            for h in 1..=12 {
                v += (phase * f64::from(h)).sin() / f64::from(h);
            }
            (4000.0 * envelope * v) as i16
        })
        .collect()
}

fn encode_all(settings: OpusSettings, pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(&settings).unwrap();
    pcm.chunks_exact(FRAME)
        .map(|frame| {
            let mut out = Vec::new();
            enc.encode(frame, &mut out).unwrap();
            out
        })
        .collect()
}

fn energy(a: &[i16]) -> f64 {
    a.iter().map(|&s| f64::from(s).powi(2)).sum()
}

fn error_energy(a: &[i16], b: &[i16]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

#[test]
fn a_voice_signal_round_trips_at_its_level() {
    let pcm = voice(48_000);
    let packets = encode_all(OpusSettings::default(), &pcm);
    let mut dec = OpusDecoder::new().unwrap();
    let mut out = Vec::new();
    for p in &packets {
        assert_eq!(dec.decode(p, &mut out).unwrap(), FRAME);
    }
    assert_eq!(out.len(), pcm.len());
    let level = 10.0 * (energy(&out[9600..]) / energy(&pcm[9600..])).log10();
    assert!(level.abs() < 2.0, "level changed by {level:.1} dB");
}

#[test]
fn bitrate_setting_sizes_the_payloads() {
    let pcm = voice(48_000);
    let mean = |bitrate_bps: u32| {
        let settings = OpusSettings {
            bitrate_bps,
            ..OpusSettings::default()
        };
        let packets = encode_all(settings, &pcm);
        packets.iter().map(Vec::len).sum::<usize>() as f64 / packets.len() as f64
    };
    let low = mean(12_000);
    let high = mean(64_000);
    // 20 ms at 12 kbit/s is 30 bytes, at 64 kbit/s 160 bytes.
    assert!((20.0..45.0).contains(&low), "12 kbit/s: {low:.0} bytes");
    assert!((120.0..200.0).contains(&high), "64 kbit/s: {high:.0} bytes");
}

#[test]
fn dtx_shrinks_silence_to_a_few_bytes() {
    let silence = vec![0i16; 48_000];
    let with = encode_all(
        OpusSettings {
            dtx: true,
            ..OpusSettings::default()
        },
        &silence,
    );
    let without = encode_all(OpusSettings::default(), &silence);
    // In DTX the encoder sends TOC-only frames, with a comfort-noise
    // update every 400 ms.
    let tiny = |p: &[Vec<u8>]| p[10..].iter().filter(|f| f.len() <= 2).count();
    let tail = with.len() - 10;
    assert!(
        tiny(&with) * 10 >= tail * 8,
        "{} of {tail} DTX frames tiny",
        tiny(&with)
    );
    assert_eq!(tiny(&without), 0);
}

#[test]
fn fec_packets_carry_lbrr_and_recover_a_lost_frame_better_than_plc() {
    let pcm = voice(48_000);
    let settings = OpusSettings {
        fec: true,
        expected_loss_pct: 20,
        bitrate_bps: 32_000,
        ..OpusSettings::default()
    };
    let packets = encode_all(settings, &pcm);
    // LBRR follows voice-active frames (quiet stretches of the envelope
    // carry none).
    let with_lbrr = packets[1..].iter().filter(|p| has_lbrr(p).unwrap()).count();
    assert!(
        with_lbrr * 10 >= (packets.len() - 1) * 6,
        "{with_lbrr} of {} packets carry FEC",
        packets.len() - 1
    );

    // Reference: everything received.
    let mut reference = Vec::new();
    let mut dec = OpusDecoder::new().unwrap();
    for p in &packets {
        dec.decode(p, &mut reference).unwrap();
    }

    // Lose every 4th packet; once recovered from FEC, once concealed.
    let (mut fec_err, mut plc_err, mut recovered, mut lost) = (0.0, 0.0, 0, 0);
    for use_fec in [true, false] {
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i % 4 == 2 && i + 1 < packets.len() {
                let start = out.len();
                let n = if use_fec {
                    dec.recover(&packets[i + 1], FRAME, &mut out).unwrap()
                } else {
                    0
                };
                if n == 0 {
                    dec.conceal(FRAME, &mut out).unwrap();
                } else {
                    recovered += 1;
                }
                assert_eq!(out.len() - start, FRAME);
                let err = error_energy(&out[start..], &reference[start..start + FRAME]);
                if use_fec {
                    fec_err += err;
                    lost += 1;
                } else {
                    plc_err += err;
                }
            } else {
                dec.decode(p, &mut out).unwrap();
            }
        }
    }
    assert!(
        recovered * 2 >= lost,
        "recovered {recovered} of {lost} frames from FEC"
    );
    assert!(
        fec_err * 2.0 < plc_err,
        "FEC error {fec_err:.3e} not well below PLC error {plc_err:.3e}"
    );
}

#[test]
fn without_fec_recover_answers_zero_and_plc_fills_the_frame() {
    let pcm = voice(9600);
    let settings = OpusSettings {
        fec: false,
        ..OpusSettings::default()
    };
    let packets = encode_all(settings, &pcm);
    assert!(packets.iter().all(|p| !has_lbrr(p).unwrap()));
    let mut dec = OpusDecoder::new().unwrap();
    let mut out = Vec::new();
    dec.decode(&packets[0], &mut out).unwrap();
    assert_eq!(dec.recover(&packets[2], FRAME, &mut out).unwrap(), 0);
    assert_eq!(out.len(), FRAME);
    assert_eq!(dec.conceal(FRAME, &mut out).unwrap(), FRAME);
    assert_eq!(out.len(), 2 * FRAME);
    assert!(
        out[FRAME..].iter().any(|&s| s != 0),
        "PLC continues the signal"
    );
}

#[test]
fn malformed_opus_payloads_are_errors() {
    let mut dec = OpusDecoder::new().unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        dec.decode(&[], &mut out),
        Err(CodecError::MalformedPayload { .. })
    ));
    // Code 3 packet claiming 63 frames of 60 ms: longer than 120 ms.
    assert!(dec.decode(&[0xFB, 0x3F, 0, 0], &mut out).is_err());
    // Code 2 with a first-frame length past the end.
    assert!(dec.decode(&[0x0A, 200, 1, 2], &mut out).is_err());
    assert!(has_lbrr(&[0x0A, 200, 1]).is_err());
    assert!(dec.recover(&[], FRAME, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn settings_out_of_range_are_refused() {
    for bad in [
        OpusSettings {
            complexity: 11,
            ..OpusSettings::default()
        },
        OpusSettings {
            bitrate_bps: 1000,
            ..OpusSettings::default()
        },
        OpusSettings {
            expected_loss_pct: 101,
            ..OpusSettings::default()
        },
    ] {
        assert!(matches!(
            OpusEncoder::new(&bad),
            Err(CodecError::BadSetting { .. })
        ));
    }
}

#[test]
fn the_factory_builds_every_codec_for_20ms_frames() {
    for kind in CodecKind::ALL {
        let mut enc = new_encoder(kind, &OpusSettings::default()).unwrap();
        let mut dec = new_decoder(kind).unwrap();
        assert_eq!((enc.kind(), dec.kind()), (kind, kind));
        let frame = vec![0i16; kind.samples_per_20ms()];
        let mut payload = Vec::new();
        enc.encode(&frame, &mut payload).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            dec.decode(&payload, &mut out).unwrap(),
            kind.samples_per_20ms()
        );
        // G.711 takes any length; G.722 needs sample pairs, Opus whole
        // Opus frame durations.
        if matches!(kind, CodecKind::G722 | CodecKind::Opus) {
            assert!(matches!(
                enc.encode(&frame[1..], &mut payload),
                Err(CodecError::FrameLength { .. })
            ));
        }
    }
    assert_eq!(CodecKind::G722.rtp_clock_rate(), 8000);
    assert_eq!(CodecKind::G722.sample_rate(), 16_000);
    assert_eq!(CodecKind::Opus.static_payload_type(), None);
    assert_eq!(CodecKind::Pcma.static_payload_type(), Some(8));
}

#[test]
fn lbrr_detection_agrees_with_libopus() {
    // Where our parser finds no LBRR, libopus's FEC decode falls back to its
    // PLC; where it finds LBRR, the FEC decode differs from the PLC.
    let pcm = voice(96_000);
    let settings = OpusSettings {
        fec: true,
        expected_loss_pct: 20,
        bitrate_bps: 32_000,
        ..OpusSettings::default()
    };
    let packets = encode_all(settings, &pcm);
    let (mut agree, mut total) = (0, 0);
    for i in 1..packets.len() - 1 {
        let mut a = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut b = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut buf = vec![0i16; FRAME];
        for p in &packets[..i] {
            a.decode(p, &mut buf, false).unwrap();
            b.decode(p, &mut buf, false).unwrap();
        }
        let mut fec = vec![0i16; FRAME];
        let mut plc = vec![0i16; FRAME];
        a.decode(&packets[i + 1], &mut fec, true).unwrap();
        b.decode(&[], &mut plc, false).unwrap();
        let differs = fec != plc;
        let ours = has_lbrr(&packets[i + 1]).unwrap();
        total += 1;
        if ours == differs {
            agree += 1;
        }
    }
    assert_eq!(agree, total);
}

/// A 1 kHz tone at `rate`.
fn tone(rate: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
        })
        .collect()
}

/// Fraction of the energy of `pcm` (at `rate`) in the 1 kHz bin.
fn at_1khz(pcm: &[i16], rate: u32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * 1000.0 / f64::from(rate);
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in pcm.iter().enumerate() {
        re += f64::from(v) * (w * i as f64).cos();
        im += f64::from(v) * (w * i as f64).sin();
    }
    2.0 * (re * re + im * im) / pcm.len() as f64 / energy(pcm).max(1.0)
}

#[test]
fn opus_at_8_khz_takes_and_gives_160_samples_per_frame_and_keeps_a_tone() {
    let settings = OpusSettings::default();
    let mut enc = new_encoder_at(CodecKind::Opus, &settings, 8000).unwrap();
    assert_eq!(enc.sample_rate(), 8000);
    let mut narrow_dec = new_decoder_at(CodecKind::Opus, 8000).unwrap();
    assert_eq!(narrow_dec.sample_rate(), 8000);
    // A 48 kHz decoder reads the same packets (the API rate is local).
    let mut wide_dec = new_decoder(CodecKind::Opus).unwrap();
    let pcm = tone(8000, 8000);
    let (mut narrow_out, mut wide_out) = (Vec::new(), Vec::new());
    for frame in pcm.chunks_exact(160) {
        let mut p = Vec::new();
        enc.encode(frame, &mut p).unwrap();
        assert_eq!(narrow_dec.decode(&p, &mut narrow_out).unwrap(), 160);
        assert_eq!(wide_dec.decode(&p, &mut wide_out).unwrap(), 960);
    }
    // A 48 kHz frame is the wrong length for an 8 kHz encoder.
    let err = enc.encode(&vec![0; 960], &mut Vec::new()).unwrap_err();
    assert!(matches!(
        err,
        CodecError::FrameLength {
            expected: 160,
            got: 960,
            ..
        }
    ));
    // Loss at 8 kHz: PLC gives one 20 ms frame at the decoder's rate.
    assert_eq!(narrow_dec.conceal(160, &mut Vec::new()).unwrap(), 160);
    let narrow_steady = &narrow_out[1600..];
    let wide_steady = &wide_out[9600..];
    assert!(
        at_1khz(narrow_steady, 8000) > 0.9,
        "8 kHz decode is the tone"
    );
    assert!(
        at_1khz(wide_steady, 48_000) > 0.9,
        "48 kHz decode is the tone"
    );
    let level = (energy(narrow_steady) / energy(&pcm[1600..])).sqrt();
    assert!((0.7..1.3).contains(&level), "level ratio {level}");
}

#[test]
fn codec_rates_other_than_the_supported_ones_are_errors() {
    let settings = OpusSettings::default();
    for rate in [11_025, 44_100, 0] {
        assert!(new_decoder_at(CodecKind::Opus, rate).is_err());
        assert!(new_encoder_at(CodecKind::Opus, &settings, rate).is_err());
    }
    assert!(new_decoder_at(CodecKind::Pcmu, 16_000).is_err());
    assert!(new_encoder_at(CodecKind::G722, &settings, 8000).is_err());
    assert_eq!(
        new_decoder_at(CodecKind::G722, 16_000)
            .unwrap()
            .sample_rate(),
        16_000
    );
    assert_eq!(CodecKind::Opus.pcm_rate_towards(CodecKind::Pcmu), 8000);
    assert_eq!(CodecKind::Opus.pcm_rate_towards(CodecKind::G722), 16_000);
    assert_eq!(CodecKind::Opus.pcm_rate_towards(CodecKind::Opus), 48_000);
    assert_eq!(CodecKind::Pcma.pcm_rate_towards(CodecKind::Opus), 8000);
}

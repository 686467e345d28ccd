//! The transcoding bridge's behaviour in virtual time: packetisation,
//! latching, hold, media timeout, RFC 4733 translation and injection, the
//! PCM tap, Opus FEC recovery and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::f64::consts::PI;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_media::bridge::{Bridge, BridgeConfig, BridgeError, LegMedia, TICK};
use voip_media::codec::{CodecKind, OpusSettings, new_decoder, new_encoder};
use voip_media::dtmf::{DtmfEvent, TelephoneEvent};
use voip_media::testing::Xorshift64;
use voip_media::{
    Event, Leg, LegConfig, MediaDirection, PayloadType, Port, RtpHeader, RtpPacket, SeqNo, Ssrc,
    Transmit,
};

const PHONE_A: &str = "10.0.0.1:4000";
const NAT_A: &str = "203.0.113.9:34000";
const PHONE_B: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn leg(codec: CodecKind, pt: u8, te: Option<u8>, at: &str, ssrc: u32) -> LegMedia {
    LegMedia {
        codec,
        payload_type: PayloadType(pt),
        telephone_event: te.map(PayloadType),
        remote: LegConfig::muxed(addr(at)),
        local_ssrc: Ssrc(ssrc),
    }
}

/// PCMU (with telephone-event 101) on A, PCMA (telephone-event 96) on B.
fn g711_bridge(t0: Instant) -> Bridge {
    Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Pcmu, 0, Some(101), PHONE_A, 0xaaaa),
        leg(CodecKind::Pcma, 8, Some(96), PHONE_B, 0xbbbb),
    )
    .unwrap()
}

fn tone_pcmu(k: u32) -> Vec<u8> {
    let mut enc = new_encoder(CodecKind::Pcmu, &OpusSettings::default()).unwrap();
    let pcm: Vec<i16> = (0..160)
        .map(|i| {
            let t = f64::from(k * 160 + i) / 8000.0;
            (8000.0 * (2.0 * PI * 440.0 * t).sin()) as i16
        })
        .collect();
    let mut out = Vec::new();
    enc.encode(&pcm, &mut out).unwrap();
    out
}

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = RtpHeader::new(PayloadType(pt), SeqNo(seq), ts, Ssrc(0x1234));
    h.marker = marker;
    h.to_packet(payload, 0).unwrap()
}

/// Drives the bridge to `until`, sending phone A's PCMU stream every 20 ms
/// for ticks where `send(k)`; returns everything transmitted.
fn drive(
    bridge: &mut Bridge,
    t0: Instant,
    ticks: std::ops::Range<u32>,
    from: &str,
    mut send: impl FnMut(u32) -> bool,
) -> Vec<(Instant, Transmit)> {
    let mut out = Vec::new();
    for k in ticks {
        let now = t0 + TICK * k + Duration::from_millis(1);
        if send(k) {
            let bytes = rtp(0, k as u16, k * 160, k == 0, &tone_pcmu(k));
            bridge.handle_packet(now, Leg::A, Port::Rtp, addr(from), &bytes);
        }
        let due = bridge.poll_timeout().unwrap();
        let tick_at = t0 + TICK * (k + 1);
        if due <= tick_at {
            bridge.handle_timeout(tick_at);
        }
        while let Some(t) = bridge.poll_transmit() {
            out.push((tick_at, t));
        }
    }
    out
}

#[test]
fn audio_is_transcoded_and_sent_with_own_ssrc_sequence_and_timestamps() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    let sent = drive(&mut bridge, t0, 0..50, PHONE_A, |_| true);
    let to_b: Vec<_> = sent.iter().filter(|(_, t)| t.leg == Leg::B).collect();
    assert!(to_b.len() >= 45, "{}", to_b.len());
    let packets: Vec<RtpPacket<'_>> = to_b
        .iter()
        .map(|(_, t)| RtpPacket::parse(&t.bytes).unwrap())
        .collect();
    assert!(to_b.iter().all(|(_, t)| t.destination == addr(PHONE_B)));
    for w in packets.windows(2) {
        assert_eq!(w[1].sequence_number(), w[0].sequence_number().next());
        assert_eq!(w[1].timestamp().wrapping_sub(w[0].timestamp()), 160);
    }
    for p in &packets {
        assert_eq!(p.payload_type(), PayloadType(8));
        assert_eq!(p.ssrc(), Ssrc(0xbbbb));
        assert_eq!(p.payload().len(), 160);
    }
    assert!(packets[0].marker());
    assert!(packets[1..].iter().all(|p| !p.marker()));
    // Nothing goes to A: its phone sent nothing but B's direction is idle.
    assert!(sent.iter().all(|(_, t)| t.leg == Leg::B));
    let c = bridge.counters(Leg::A);
    assert_eq!((c.packets_in, c.concealed), (50, 0));
    assert_eq!(bridge.counters(Leg::B).packets_out, to_b.len() as u64);
}

#[test]
fn talkspurt_after_silence_starts_with_a_marker_and_a_timestamp_gap() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    // 20 packets, 1 s without any, then 20 more (a DTX sender).
    let mut k_sent = 0u32;
    let mut out = Vec::new();
    for k in 0..100u32 {
        let now = t0 + TICK * k + Duration::from_millis(1);
        if k < 20 || (70..90).contains(&k) {
            let seq = k_sent as u16;
            let bytes = rtp(0, seq, k * 160, k == 70, &tone_pcmu(k));
            bridge.handle_packet(now, Leg::A, Port::Rtp, addr(PHONE_A), &bytes);
            k_sent += 1;
        }
        bridge.handle_timeout(t0 + TICK * (k + 1));
        while let Some(t) = bridge.poll_transmit() {
            out.push(t);
        }
    }
    let packets: Vec<RtpPacket<'_>> = out
        .iter()
        .map(|t| RtpPacket::parse(&t.bytes).unwrap())
        .collect();
    let markers: Vec<usize> = (0..packets.len())
        .filter(|&i| packets[i].marker())
        .collect();
    assert_eq!(markers.len(), 2, "{markers:?}");
    let second = markers[1];
    let gap = packets[second]
        .timestamp()
        .wrapping_sub(packets[second - 1].timestamp());
    assert!(gap >= 160 * 30, "timestamp gap {gap}");
    assert_eq!(
        packets[second].sequence_number(),
        packets[second - 1].sequence_number().next()
    );
    assert_eq!(bridge.jitter_stats(Leg::A).lost, 0);
}

#[test]
fn latches_like_the_relay_and_rejects_foreign_sources() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    let sent = drive(&mut bridge, t0, 0..5, NAT_A, |_| true);
    assert_eq!(
        bridge.poll_event(),
        Some(Event::Latched {
            leg: Leg::A,
            port: Port::Rtp,
            source: addr(NAT_A)
        })
    );
    assert_eq!(bridge.latched(Leg::A, Port::Rtp), Some(addr(NAT_A)));
    assert!(!sent.is_empty());
    // Another source, even inside the window, is RTP bleed.
    let bytes = rtp(0, 5, 800, false, &tone_pcmu(5));
    bridge.handle_packet(t0, Leg::A, Port::Rtp, addr("198.51.100.7:9"), &bytes);
    assert_eq!(bridge.counters(Leg::A).rejected_foreign, 1);
    // A re-INVITE with a new address reopens latching.
    bridge.set_remote(t0, Leg::A, LegConfig::muxed(addr("10.0.0.9:4000")));
    assert_eq!(bridge.latched(Leg::A, Port::Rtp), None);
}

#[test]
fn held_leg_gets_no_audio_and_its_media_timer_is_suspended() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    bridge.set_direction(t0, Leg::B, MediaDirection::SendOnly);
    let sent = drive(&mut bridge, t0, 0..30, PHONE_A, |_| true);
    assert!(
        sent.iter().all(|(_, t)| t.leg != Leg::B),
        "audio to a held leg"
    );
    bridge.set_direction(t0, Leg::B, MediaDirection::RecvOnly);
    let sent = drive(&mut bridge, t0, 30..60, PHONE_A, |_| true);
    assert!(sent.iter().any(|(_, t)| t.leg == Leg::B));
    // B never sent anything; on hold its timer does not run.
    bridge.handle_timeout(t0 + Duration::from_secs(40));
    let events: Vec<Event> = std::iter::from_fn(|| bridge.poll_event()).collect();
    assert!(events.contains(&Event::MediaTimeout { leg: Leg::A }));
    assert!(!events.contains(&Event::MediaTimeout { leg: Leg::B }));
    bridge.set_direction(
        t0 + Duration::from_secs(40),
        Leg::B,
        MediaDirection::SendRecv,
    );
    bridge.handle_timeout(t0 + Duration::from_secs(71));
    let events: Vec<Event> = std::iter::from_fn(|| bridge.poll_event()).collect();
    assert_eq!(events, vec![Event::MediaTimeout { leg: Leg::B }]);
}

#[test]
fn telephone_events_are_translated_to_the_other_legs_payload_type_and_clock() {
    let t0 = Instant::now();
    // A: PCMU with telephone-event 101 at 8 kHz; B: Opus with 110 at 48 kHz.
    let mut bridge = Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Pcmu, 0, Some(101), PHONE_A, 1),
        leg(CodecKind::Opus, 111, Some(110), PHONE_B, 2),
    )
    .unwrap();
    let mut out = Vec::new();
    for k in 0..40u32 {
        let now = t0 + TICK * k + Duration::from_millis(1);
        let bytes = if (10..16).contains(&k) {
            let ev = TelephoneEvent {
                event: DtmfEvent(5),
                end: k >= 14,
                volume: 10,
                duration: ((k - 9) * 160) as u16,
            };
            rtp(101, k as u16, 10 * 160, k == 10, &ev.to_bytes())
        } else {
            rtp(0, k as u16, k * 160, false, &tone_pcmu(k))
        };
        bridge.handle_packet(now, Leg::A, Port::Rtp, addr(PHONE_A), &bytes);
        bridge.handle_timeout(t0 + TICK * (k + 1));
        while let Some(t) = bridge.poll_transmit() {
            out.push((k, t));
        }
    }
    let events: Vec<(u32, RtpPacket<'_>)> = out
        .iter()
        .map(|(k, t)| (*k, RtpPacket::parse(&t.bytes).unwrap()))
        .filter(|(_, p)| p.payload_type() == PayloadType(110))
        .collect();
    assert_eq!(events.len(), 6);
    assert!(events[0].1.marker() && events[1..].iter().all(|(_, p)| !p.marker()));
    let ts = events[0].1.timestamp();
    for (i, (_, p)) in events.iter().enumerate() {
        assert_eq!(p.timestamp(), ts, "one event, one timestamp");
        let ev = TelephoneEvent::parse(p.payload()).unwrap();
        assert_eq!(ev.event, DtmfEvent(5));
        assert_eq!(
            u32::from(ev.duration),
            (i as u32 + 1) * 960,
            "scaled to 48 kHz"
        );
        assert_eq!(ev.end, i >= 4);
    }
    // No Opus audio is sent while the event plays.
    let event_ticks: Vec<u32> = events.iter().map(|(k, _)| *k).collect();
    let audio_during = out.iter().any(|(k, t)| {
        RtpPacket::parse(&t.bytes).unwrap().payload_type() == PayloadType(111)
            && (event_ticks[1]..=event_ticks[4]).contains(k)
    });
    assert!(!audio_during, "audio sent during the event");
    assert_eq!(bridge.counters(Leg::A).events_in, 6);
    assert_eq!(bridge.counters(Leg::B).events_out, 6);
}

#[test]
fn sip_info_digit_is_injected_as_rfc4733_with_three_end_packets() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    bridge
        .send_dtmf(Leg::B, DtmfEvent::from_digit('7').unwrap(), 100)
        .unwrap();
    let sent = drive(&mut bridge, t0, 0..20, PHONE_A, |_| true);
    let events: Vec<TelephoneEvent> = sent
        .iter()
        .map(|(_, t)| RtpPacket::parse(&t.bytes).unwrap())
        .filter(|p| p.payload_type() == PayloadType(96))
        .map(|p| TelephoneEvent::parse(p.payload()).unwrap())
        .collect();
    assert_eq!(events.len(), 5 + 2, "{events:?}");
    assert!(events.iter().all(|e| e.event == DtmfEvent(7)));
    assert_eq!(events.iter().filter(|e| e.end).count(), 3);
    assert_eq!(events.last().unwrap().duration, 800);
    // A leg without telephone-event cannot take a digit.
    let mut plain = Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Pcmu, 0, None, PHONE_A, 1),
        leg(CodecKind::Pcma, 8, None, PHONE_B, 2),
    )
    .unwrap();
    assert_eq!(
        plain.send_dtmf(Leg::B, DtmfEvent(1), 100),
        Err(BridgeError::NoTelephoneEvent { leg: Leg::B })
    );
}

#[test]
fn tap_yields_twenty_ms_frames_of_each_direction_while_on() {
    let t0 = Instant::now();
    let mut bridge = Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Pcmu, 0, None, PHONE_A, 1),
        leg(CodecKind::G722, 9, None, PHONE_B, 2),
    )
    .unwrap();
    drive(&mut bridge, t0, 0..10, PHONE_A, |_| true);
    assert_eq!(bridge.poll_tap(), None, "tap is off by default");
    bridge.set_tap(true);
    drive(&mut bridge, t0, 10..20, PHONE_A, |_| true);
    let taps: Vec<_> = std::iter::from_fn(|| bridge.poll_tap()).collect();
    assert!(taps.len() >= 9, "{}", taps.len());
    assert!(
        taps.iter()
            .all(|t| t.from == Leg::A && t.sample_rate == 16_000)
    );
    assert!(taps.iter().all(|t| t.pcm.len() == 320));
    assert!(taps.windows(2).all(|w| w[1].at - w[0].at == TICK));
    let peak = taps
        .iter()
        .flat_map(|t| t.pcm.iter())
        .map(|s| s.unsigned_abs())
        .max();
    assert!(peak.unwrap() > 4000, "the tone is in the tap");
}

#[test]
fn opus_loss_is_recovered_from_the_next_packets_fec() {
    let t0 = Instant::now();
    let mut bridge = Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Opus, 111, None, PHONE_A, 1),
        leg(CodecKind::Pcmu, 0, None, PHONE_B, 2),
    )
    .unwrap();
    // A voice-like signal at 32 kbit/s: Opus codes it with SILK,
    // which carries the previous frame as LBRR when FEC is on.
    let mut enc = new_encoder(
        CodecKind::Opus,
        &OpusSettings {
            bitrate_bps: 32_000,
            fec: true,
            expected_loss_pct: 20,
            ..OpusSettings::default()
        },
    )
    .unwrap();
    for k in 0..100u32 {
        let now = t0 + TICK * k + Duration::from_millis(1);
        let pcm: Vec<i16> = (0..960)
            .map(|i| {
                let t = f64::from(k * 960 + i) / 48_000.0;
                // Gliding pitch and a syllable envelope: the encoder's voice
                // activity detector must see speech, not a stationary tone.
                let phase = 2.0 * PI * (130.0 * t + 8.0 * (2.0 * PI * 3.0 * t).sin());
                let env = 0.3 + 0.7 * (PI * 5.0 * t).sin().powi(2);
                let s: f64 = (1..8)
                    .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                    .sum();
                (env * 6000.0 * s) as i16
            })
            .collect();
        let mut payload = Vec::new();
        enc.encode(&pcm, &mut payload).unwrap();
        if k % 10 != 5 {
            let bytes = rtp(111, k as u16, k * 960, false, &payload);
            bridge.handle_packet(now, Leg::A, Port::Rtp, addr(PHONE_A), &bytes);
        }
        bridge.handle_timeout(t0 + TICK * (k + 1));
        while bridge.poll_transmit().is_some() {}
    }
    let c = bridge.counters(Leg::A);
    assert!(c.recovered >= 5, "{c:?} {:?}", bridge.jitter_stats(Leg::A));
}

#[test]
fn garbage_and_unknown_payload_types_are_counted_not_fatal() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    let mut rng = Xorshift64::new(9);
    for i in 0..2000u32 {
        let len = (rng.next_u64() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if i % 2 == 0 && bytes.len() > 12 {
            // Valid RTP header, random payload (also the codec's own PT).
            bytes[0] = 0x80;
            bytes[1] = [0u8, 101, 13, 96][i as usize / 2 % 4];
        }
        bridge.handle_packet(t0, Leg::A, Port::Rtp, addr(PHONE_A), &bytes);
        bridge.handle_timeout(t0 + TICK * (i + 1));
        while bridge.poll_transmit().is_some() {}
    }
    let c = bridge.counters(Leg::A);
    assert!(c.malformed > 0 && c.unknown_payload_type > 0, "{c:?}");
}

#[test]
fn opus_towards_g711_runs_at_8_khz_so_the_tap_and_encoder_see_160_samples() {
    let t0 = Instant::now();
    let mut bridge = Bridge::new(
        t0,
        BridgeConfig::default(),
        leg(CodecKind::Pcmu, 0, None, PHONE_A, 1),
        leg(CodecKind::Opus, 111, None, PHONE_B, 2),
    )
    .unwrap();
    bridge.set_tap(true);
    let sent = drive(&mut bridge, t0, 0..20, PHONE_A, |_| true);
    let taps: Vec<_> = std::iter::from_fn(|| bridge.poll_tap()).collect();
    assert!(taps.len() >= 9, "{}", taps.len());
    assert!(
        taps.iter()
            .all(|t| t.from == Leg::A && t.sample_rate == 8000 && t.pcm.len() == 160)
    );
    // The Opus packets towards B still advance 960 ticks (48 kHz RTP clock)
    // and decode at 48 kHz to the tone.
    let opus: Vec<_> = sent
        .iter()
        .filter(|(_, t)| t.leg == Leg::B)
        .map(|(_, t)| RtpPacket::parse(&t.bytes).unwrap())
        .collect();
    assert!(opus.len() >= 9);
    assert!(
        opus.windows(2)
            .all(|w| w[1].timestamp().wrapping_sub(w[0].timestamp()) == 960)
    );
    let mut dec = voip_media::codec::new_decoder(CodecKind::Opus).unwrap();
    let mut pcm = Vec::new();
    for p in &opus {
        dec.decode(p.payload(), &mut pcm).unwrap();
    }
    let peak = pcm[pcm.len() / 2..].iter().map(|s| s.unsigned_abs()).max();
    assert!(peak.unwrap() > 2000, "the tone reaches the Opus leg");
}

#[test]
fn an_announcement_replaces_the_other_partys_audio_until_it_has_played() {
    let t0 = Instant::now();
    let mut bridge = g711_bridge(t0);
    assert_eq!(bridge.pcm_rate(Leg::B), 8000);
    // One second of a quiet 1 kHz tone to both legs.
    let prompt: Vec<i16> = (0..8000)
        .map(|i| (1000.0 * (2.0 * PI * 1000.0 * f64::from(i) / 8000.0).sin()) as i16)
        .collect();
    bridge.play(Leg::A, &prompt);
    bridge.play(Leg::B, &prompt);
    bridge.set_tap(true);
    assert!(bridge.is_playing());
    let sent = drive(&mut bridge, t0, 0..50, PHONE_A, |_| true);
    assert!(!bridge.is_playing(), "one second played in 50 ticks");
    assert_eq!(
        bridge.poll_tap(),
        None,
        "the other party is not tapped meanwhile"
    );
    let mut dec = new_decoder(CodecKind::Pcma).unwrap();
    let mut heard = Vec::new();
    for (_, t) in sent.iter().filter(|(_, t)| t.leg == Leg::B) {
        dec.decode(RtpPacket::parse(&t.bytes).unwrap().payload(), &mut heard)
            .unwrap();
    }
    assert_eq!(heard.len(), prompt.len(), "B hears the whole prompt");
    let worst = heard
        .iter()
        .zip(&prompt)
        .map(|(h, p)| (i32::from(*h) - i32::from(*p)).abs())
        .max()
        .unwrap();
    assert!(
        worst < 100,
        "B hears the prompt, not A's tone (error {worst})"
    );
    assert_eq!(
        sent.iter().filter(|(_, t)| t.leg == Leg::A).count(),
        50,
        "A hears the prompt too"
    );
    // Afterwards A's tone is forwarded again (and tapped); A gets nothing.
    let after = drive(&mut bridge, t0, 50..60, PHONE_A, |_| true);
    assert!(after.iter().all(|(_, t)| t.leg == Leg::B));
    let mut loud = Vec::new();
    for (_, t) in &after {
        dec.decode(RtpPacket::parse(&t.bytes).unwrap().payload(), &mut loud)
            .unwrap();
    }
    let peak = loud.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 6000, "A's 8000-peak tone reaches B again ({peak})");
    assert!(bridge.poll_tap().is_some());
}

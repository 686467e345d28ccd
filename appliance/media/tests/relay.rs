//! Relay core behaviour on a virtual clock: latching, RTP bleed protection,
//! RTCP relaying, media timeout and hold, counters.
// Reason: test helpers outside #[test] functions build known-good packets.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_media::rtcp::{ReceiverReport, ReportBlock, SenderReport, build_compound};
use voip_media::{
    Event, LatchConfig, Leg, LegConfig, MediaDirection, NtpTime, PayloadType, Port, Relay,
    RelayConfig, RtcpPacket, RtpHeader, RtpPacket, SeqNo, Ssrc, Transmit,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One nanosecond before `t`.
fn just_before(t: Instant) -> Instant {
    t.checked_sub(Duration::from_nanos(1)).unwrap()
}

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8) -> Vec<u8> {
    RtpHeader::new(PayloadType(pt), SeqNo(seq), ts, Ssrc(ssrc))
        .to_packet(&[0xff; 160], 0)
        .unwrap()
}

const A_SIGNALLED: &str = "10.0.0.1:4000";
const A_NAT: &str = "203.0.113.5:34567";
const B_SIGNALLED: &str = "192.0.2.2:5000";

fn config() -> RelayConfig {
    RelayConfig {
        latch: LatchConfig {
            max_packets: 5,
            window: Duration::from_secs(2),
            relatch_after_silence: None,
        },
        media_timeout: Duration::from_secs(30),
        clock_rate: 8000,
        telephone_event: Some(PayloadType(101)),
        quality_interval: None,
    }
}

fn relay_with(now: Instant, config: RelayConfig) -> Relay {
    Relay::new(
        now,
        config,
        LegConfig::with_rtcp_port_plus_one(addr(A_SIGNALLED)),
        LegConfig::with_rtcp_port_plus_one(addr(B_SIGNALLED)),
    )
}

fn drain(relay: &mut Relay) -> (Vec<Transmit>, Vec<Event>) {
    let mut t = Vec::new();
    while let Some(x) = relay.poll_transmit() {
        t.push(x);
    }
    let mut e = Vec::new();
    while let Some(x) = relay.poll_event() {
        e.push(x);
    }
    (t, e)
}

#[test]
fn natted_source_latches_in_window_and_receives_the_other_legs_media() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    // B's media goes to A's signalled address while A has not latched.
    relay.handle_packet(t0, Leg::B, Port::Rtp, addr(B_SIGNALLED), &rtp(1, 0, 2, 0));
    let (tx, _) = drain(&mut relay);
    assert_eq!(tx[0].destination, addr(A_SIGNALLED));

    let pkt = rtp(1, 0, 1, 0);
    relay.handle_packet(t0 + ms(20), Leg::A, Port::Rtp, addr(A_NAT), &pkt);
    let (tx, events) = drain(&mut relay);
    assert_eq!(
        tx,
        vec![Transmit {
            leg: Leg::B,
            port: Port::Rtp,
            destination: addr(B_SIGNALLED),
            bytes: pkt
        }]
    );
    assert_eq!(
        events,
        vec![Event::Latched {
            leg: Leg::A,
            port: Port::Rtp,
            source: addr(A_NAT)
        }]
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(addr(A_NAT)));

    // Now B's media follows A's latched source.
    relay.handle_packet(
        t0 + ms(40),
        Leg::B,
        Port::Rtp,
        addr(B_SIGNALLED),
        &rtp(2, 160, 2, 0),
    );
    let (tx, _) = drain(&mut relay);
    assert_eq!(tx[0].destination, addr(A_NAT));
    assert_eq!(tx[0].leg, Leg::A);
}

#[test]
fn foreign_source_after_latch_is_rejected_and_counted() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    relay.handle_packet(t0, Leg::A, Port::Rtp, addr(A_NAT), &rtp(1, 0, 1, 0));
    let _ = drain(&mut relay);
    // An attacker (or a stale stream) within the window, after the latch.
    relay.handle_packet(
        t0 + ms(10),
        Leg::A,
        Port::Rtp,
        addr("198.51.100.9:1234"),
        &rtp(9, 0, 9, 0),
    );
    // Even the signalled address is foreign once latched elsewhere.
    relay.handle_packet(
        t0 + ms(15),
        Leg::A,
        Port::Rtp,
        addr(A_SIGNALLED),
        &rtp(9, 0, 9, 0),
    );
    let (tx, events) = drain(&mut relay);
    assert!(tx.is_empty());
    assert!(events.is_empty());
    assert_eq!(relay.counters(Leg::A).rejected_foreign, 2);
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(addr(A_NAT)));
    // The latched source still flows.
    relay.handle_packet(
        t0 + ms(20),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(2, 160, 1, 0),
    );
    assert_eq!(drain(&mut relay).0.len(), 1);
}

#[test]
fn wrong_address_family_never_latches() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    relay.handle_packet(
        t0,
        Leg::A,
        Port::Rtp,
        addr("[2001:db8::1]:4000"),
        &rtp(1, 0, 1, 0),
    );
    let (tx, events) = drain(&mut relay);
    assert!(tx.is_empty() && events.is_empty());
    assert_eq!(relay.counters(Leg::A).rejected_foreign, 1);
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
    relay.handle_packet(
        t0 + ms(20),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(2, 160, 1, 0),
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(addr(A_NAT)));
}

#[test]
fn latch_window_closes_by_time_or_packet_count() {
    let t0 = Instant::now();
    // By time: first packet arrives after the 2 s window.
    let mut relay = relay_with(t0, config());
    relay.handle_packet(
        t0 + ms(2000),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(1, 0, 1, 0),
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
    assert_eq!(relay.counters(Leg::A).rejected_foreign, 1);
    // ...but the signalled address itself still latches.
    relay.handle_packet(
        t0 + ms(2020),
        Leg::A,
        Port::Rtp,
        addr(A_SIGNALLED),
        &rtp(2, 0, 1, 0),
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(addr(A_SIGNALLED)));

    // By count: five wrong-family packets use up the 5-packet window.
    let mut relay = relay_with(t0, config());
    for i in 0..5 {
        relay.handle_packet(
            t0 + ms(i),
            Leg::A,
            Port::Rtp,
            addr("[2001:db8::1]:4000"),
            &rtp(1, 0, 1, 0),
        );
    }
    relay.handle_packet(
        t0 + ms(10),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(1, 0, 1, 0),
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
    assert_eq!(relay.counters(Leg::A).rejected_foreign, 6);
}

#[test]
fn relatch_only_after_the_latched_source_went_silent() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.latch.relatch_after_silence = Some(Duration::from_secs(3));
    let mut relay = relay_with(t0, cfg);
    let rebound = addr("203.0.113.5:40000");
    relay.handle_packet(t0, Leg::A, Port::Rtp, addr(A_NAT), &rtp(1, 0, 1, 0));
    relay.handle_packet(t0 + ms(2999), Leg::A, Port::Rtp, rebound, &rtp(2, 0, 1, 0));
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(addr(A_NAT)));
    let _ = drain(&mut relay);
    relay.handle_packet(t0 + ms(3000), Leg::A, Port::Rtp, rebound, &rtp(3, 0, 1, 0));
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(rebound));
    let (tx, events) = drain(&mut relay);
    assert_eq!(tx.len(), 1);
    assert_eq!(
        events,
        vec![Event::Latched {
            leg: Leg::A,
            port: Port::Rtp,
            source: rebound
        }]
    );
}

#[test]
fn set_remote_reopens_the_latch_window() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    relay.handle_packet(t0, Leg::A, Port::Rtp, addr(A_NAT), &rtp(1, 0, 1, 0));
    let moved = addr("203.0.113.77:6000");
    relay.set_remote(
        t0 + ms(60_000),
        Leg::A,
        LegConfig::muxed(addr("10.0.0.9:7000")),
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
    relay.handle_packet(t0 + ms(60_100), Leg::A, Port::Rtp, moved, &rtp(2, 0, 1, 0));
    assert_eq!(relay.latched(Leg::A, Port::Rtp), Some(moved));
}

#[test]
fn malformed_and_misrouted_packets_are_dropped_and_counted() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    let sr = build_compound(&[RtcpPacket::SenderReport(SenderReport {
        ssrc: Ssrc(1),
        ntp_time: NtpTime(1 << 32),
        rtp_timestamp: 0,
        packet_count: 0,
        octet_count: 0,
        reports: vec![],
    })])
    .unwrap();
    let mut bad_padding = rtp(1, 0, 1, 0);
    bad_padding[0] |= 0x20;
    *bad_padding.last_mut().unwrap() = 200;
    let cases: Vec<(Port, Vec<u8>)> = vec![
        (Port::Rtp, vec![]),
        (Port::Rtp, vec![0x00, 0x01, 0x00, 0x00]), // STUN
        (Port::Rtp, vec![0x80, 0x00, 0x00]),       // truncated RTP
        (Port::Rtp, bad_padding),
        (Port::Rtp, sr),               // RTCP on the RTP port without rtcp-mux
        (Port::Rtcp, rtp(1, 0, 1, 0)), // RTP on the RTCP port
        (Port::Rtcp, vec![0x81, 0xc9, 0x00, 0x07, 0, 0, 0, 1]), // RR count past end
    ];
    let n = cases.len() as u64;
    for (port, bytes) in cases {
        relay.handle_packet(t0, Leg::A, port, addr(A_NAT), &bytes);
    }
    let (tx, events) = drain(&mut relay);
    assert!(tx.is_empty() && events.is_empty());
    let c = relay.counters(Leg::A);
    assert_eq!((c.malformed, c.packets_in, c.rejected_foreign), (n, 0, 0));
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
}

#[test]
fn rtcp_goes_to_port_plus_one_or_to_the_muxed_port() {
    let t0 = Instant::now();
    let b_muxed = addr("192.0.2.2:6000");
    let mut relay = Relay::new(
        t0,
        config(),
        LegConfig::with_rtcp_port_plus_one(addr(A_SIGNALLED)),
        LegConfig::muxed(b_muxed),
    );
    let rr = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![],
    })])
    .unwrap();
    // A's RTCP from its NAT port: latches A's RTCP port separately, goes to B's muxed port.
    relay.handle_packet(t0, Leg::A, Port::Rtcp, addr("203.0.113.5:34568"), &rr);
    // B's RTCP arrives muxed on B's RTP port; goes to A's latched RTCP source.
    relay.handle_packet(t0 + ms(1), Leg::B, Port::Rtp, b_muxed, &rr);
    // B's RTP goes to A's RTP port: signalled, since A's RTP port has not latched.
    relay.handle_packet(t0 + ms(2), Leg::B, Port::Rtp, b_muxed, &rtp(1, 0, 2, 0));
    let (tx, events) = drain(&mut relay);
    let routes: Vec<_> = tx.iter().map(|t| (t.leg, t.port, t.destination)).collect();
    assert_eq!(
        routes,
        vec![
            (Leg::B, Port::Rtp, b_muxed),
            (Leg::A, Port::Rtcp, addr("203.0.113.5:34568")),
            (Leg::A, Port::Rtp, addr(A_SIGNALLED)),
        ]
    );
    assert_eq!(
        events,
        vec![
            Event::Latched {
                leg: Leg::A,
                port: Port::Rtcp,
                source: addr("203.0.113.5:34568")
            },
            Event::Latched {
                leg: Leg::B,
                port: Port::Rtp,
                source: b_muxed
            },
        ]
    );
    assert_eq!(relay.latched(Leg::A, Port::Rtp), None);
    assert_eq!(relay.latched(Leg::B, Port::Rtcp), Some(b_muxed));
}

#[test]
fn media_timeout_fires_exactly_at_the_configured_silence_and_once() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    assert_eq!(relay.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    relay.handle_packet(
        t0 + ms(1000),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(1, 0, 1, 0),
    );
    let _ = drain(&mut relay);
    // B never sent anything: its deadline is 30 s after start; A's after its packet.
    assert_eq!(relay.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    relay.handle_timeout(just_before(t0 + Duration::from_secs(30)));
    assert_eq!(relay.poll_event(), None);
    relay.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(
        relay.poll_event(),
        Some(Event::MediaTimeout { leg: Leg::B })
    );
    assert_eq!(relay.poll_event(), None);

    let a_deadline = t0 + ms(31_000);
    assert_eq!(relay.poll_timeout(), Some(a_deadline));
    relay.handle_timeout(just_before(a_deadline));
    assert_eq!(relay.poll_event(), None);
    relay.handle_timeout(a_deadline);
    assert_eq!(
        relay.poll_event(),
        Some(Event::MediaTimeout { leg: Leg::A })
    );
    assert_eq!(relay.poll_timeout(), None);
    relay.handle_timeout(a_deadline + Duration::from_secs(100));
    assert_eq!(relay.poll_event(), None, "a timeout is reported once");

    // Media coming back re-arms the timer.
    relay.handle_packet(
        a_deadline + ms(5),
        Leg::A,
        Port::Rtp,
        addr(A_NAT),
        &rtp(2, 160, 1, 0),
    );
    assert_eq!(
        relay.poll_timeout(),
        Some(a_deadline + ms(5) + Duration::from_secs(30))
    );
}

#[test]
fn hold_suspends_the_media_timeout_and_resume_rearms_it_in_full() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    relay.set_direction(t0 + ms(10), Leg::A, MediaDirection::SendOnly);
    relay.set_direction(t0 + ms(10), Leg::B, MediaDirection::RecvOnly);
    assert_eq!(relay.poll_timeout(), None);
    relay.handle_timeout(t0 + Duration::from_mins(10));
    assert_eq!(relay.poll_event(), None);

    let resume = t0 + Duration::from_mins(10);
    relay.set_direction(resume, Leg::A, MediaDirection::SendRecv);
    relay.set_direction(resume, Leg::B, MediaDirection::SendRecv);
    let deadline = resume + Duration::from_secs(30);
    assert_eq!(relay.poll_timeout(), Some(deadline));
    relay.handle_timeout(just_before(deadline));
    assert_eq!(relay.poll_event(), None);
    relay.handle_timeout(deadline);
    assert_eq!(
        relay.poll_event(),
        Some(Event::MediaTimeout { leg: Leg::A })
    );
    assert_eq!(
        relay.poll_event(),
        Some(Event::MediaTimeout { leg: Leg::B })
    );

    // Inactive also suspends.
    relay.set_direction(deadline, Leg::A, MediaDirection::Inactive);
    assert_eq!(relay.direction(Leg::A), MediaDirection::Inactive);
}

#[test]
fn telephone_events_are_forwarded_unchanged_and_do_not_disturb_jitter() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    let mut sent = Vec::new();
    for i in 0..10u16 {
        // Events 4..7 carry the event start timestamp (RFC 4733), audio resumes after.
        let (pt, ts) = if (4..8).contains(&i) {
            (101, 480)
        } else {
            (0, u32::from(i) * 160)
        };
        let mut header = RtpHeader::new(PayloadType(pt), SeqNo(i), ts, Ssrc(7));
        header.marker = i == 4;
        let payload: &[u8] = if pt == 101 {
            &[5, 0x0a, 0x00, 0xa0]
        } else {
            &[0xff; 160]
        };
        let bytes = header.to_packet(payload, 0).unwrap();
        relay.handle_packet(
            t0 + ms(20 * u64::from(i)),
            Leg::A,
            Port::Rtp,
            addr(A_NAT),
            &bytes,
        );
        sent.push(bytes);
    }
    let (tx, _) = drain(&mut relay);
    let forwarded: Vec<_> = tx.into_iter().map(|t| t.bytes).collect();
    assert_eq!(forwarded, sent);
    let stats = relay.source(Leg::A, Ssrc(7)).unwrap();
    assert_eq!(stats.jitter(), Some(0.0));
    assert_eq!(stats.cumulative_lost(), Some(0));
    assert_eq!(stats.expected(), Some(9));
}

#[test]
fn counters_count_packets_and_bytes_each_way() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    for i in 0..3u16 {
        relay.handle_packet(t0, Leg::A, Port::Rtp, addr(A_NAT), &rtp(i, 0, 1, 0));
    }
    relay.handle_packet(t0, Leg::B, Port::Rtp, addr(B_SIGNALLED), &rtp(0, 0, 2, 0));
    let a = relay.counters(Leg::A);
    let b = relay.counters(Leg::B);
    assert_eq!(
        (a.packets_in, a.bytes_in, a.packets_out, a.bytes_out),
        (3, 3 * 172, 1, 172)
    );
    assert_eq!(
        (b.packets_in, b.bytes_in, b.packets_out, b.bytes_out),
        (1, 172, 3, 3 * 172)
    );
}

#[test]
fn ffmpeg_capture_parses_and_is_forwarded_byte_for_byte() {
    let bytes = include_bytes!("data/ffmpeg_pcmu_rtp_first.bin");
    let p = RtpPacket::parse(bytes).unwrap();
    assert_eq!(p.payload_type(), PayloadType::PCMU);
    assert_eq!(p.sequence_number(), SeqNo(0x0616));
    assert_eq!(p.timestamp(), 0xe983_24a9);
    assert_eq!(p.ssrc(), Ssrc(0xc496_dc23));
    assert_eq!(p.payload().len(), 170);
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    relay.handle_packet(t0, Leg::A, Port::Rtp, addr("127.0.0.1:40000"), bytes);
    assert_eq!(relay.poll_transmit().unwrap().bytes, bytes.to_vec());
}

#[test]
fn rtt_is_unknown_until_a_report_answers_a_forwarded_sr() {
    let t0 = Instant::now();
    let mut relay = relay_with(t0, config());
    assert_eq!((relay.rtt(Leg::A), relay.rtt(Leg::B)), (None, None));
    let rr = |lsr| {
        build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(2),
            reports: vec![ReportBlock {
                ssrc: Ssrc(1),
                fraction_lost: 0,
                cumulative_lost: 0,
                extended_highest_seq: 0,
                jitter: 0,
                last_sr: lsr,
                delay_since_last_sr: 0,
            }],
        })])
        .unwrap()
    };
    // An RR with LSR 0 (no SR seen) and one answering an SR we never forwarded.
    relay.handle_packet(t0, Leg::B, Port::Rtcp, addr("192.0.2.2:5001"), &rr(0));
    relay.handle_packet(
        t0 + ms(5),
        Leg::B,
        Port::Rtcp,
        addr("192.0.2.2:5001"),
        &rr(0x1234_5678),
    );
    assert_eq!(relay.rtt(Leg::B), None);
    assert_eq!(relay.last_report_blocks(Leg::B)[0].last_sr, 0x1234_5678);
}

#[test]
fn quality_samples_come_per_leg_every_interval_and_at_the_end() {
    let t0 = Instant::now();
    let mut relay = relay_with(
        t0,
        RelayConfig {
            quality_interval: Some(ms(5000)),
            ..config()
        },
    );
    assert_eq!(relay.poll_timeout(), Some(t0 + ms(5000)));
    // A sends 5 s of PCMA, losing one packet; B sends an SR, A answers it
    // 60 ms later having held it 20 ms: A's segment RTT is 40 ms.
    for i in 0..250u16 {
        if i != 100 {
            relay.handle_packet(
                t0 + ms(20) * u32::from(i),
                Leg::A,
                Port::Rtp,
                addr(A_SIGNALLED),
                &rtp(i, u32::from(i) * 160, 1, 8),
            );
        }
    }
    let ntp = NtpTime(0x0000_4000_8000_0000);
    let sr = build_compound(&[RtcpPacket::SenderReport(SenderReport {
        ssrc: Ssrc(2),
        ntp_time: ntp,
        rtp_timestamp: 0,
        packet_count: 0,
        octet_count: 0,
        reports: vec![],
    })])
    .unwrap();
    relay.handle_packet(
        t0 + ms(1000),
        Leg::B,
        Port::Rtcp,
        addr("192.0.2.2:5001"),
        &sr,
    );
    let rr = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![ReportBlock {
            ssrc: Ssrc(2),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: ntp.short(),
            delay_since_last_sr: voip_media::ntp::duration_to_short(ms(20)),
        }],
    })])
    .unwrap();
    relay.handle_packet(
        t0 + ms(1060),
        Leg::A,
        Port::Rtcp,
        addr("10.0.0.1:4001"),
        &rr,
    );
    relay.handle_timeout(t0 + ms(5000));
    let mut samples = Vec::new();
    while let Some(s) = relay.poll_sample() {
        samples.push(s);
    }
    assert_eq!(samples.len(), 2, "{samples:?}");
    let a = samples.iter().find(|s| s.leg == Leg::A).unwrap();
    let b = samples.iter().find(|s| s.leg == Leg::B).unwrap();
    assert_eq!((a.packets_expected, a.packets_lost), (Some(249), Some(1)));
    assert!((a.rtt_ms.unwrap() - 40.0).abs() < 0.1, "{:?}", a.rtt_ms);
    assert!(a.mos.is_some());
    assert_eq!((b.loss_fraction, b.rtt_ms, b.mos), (None, None, None));
    relay.finish(t0 + ms(6000));
    let last: Vec<_> = std::iter::from_fn(|| relay.poll_sample()).collect();
    assert_eq!(last.len(), 2);
    assert!(last.iter().all(|s| s.last));
}

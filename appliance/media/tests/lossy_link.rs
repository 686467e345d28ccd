//! Receiver statistics and RTT measured through the in-memory lossy link on
//! a virtual clock: injected loss, jitter and delay must come out of the
//! statistics as configured.
// Reason: test helpers outside #[test] functions build known-good packets.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_media::ntp::{NtpClock, duration_to_short};
use voip_media::rtcp::{ReceiverReport, ReportBlock, SenderReport, build_compound};
use voip_media::testing::{LinkConfig, LossyLink};
use voip_media::{
    Leg, LegConfig, NtpTime, PayloadType, Port, ReceiverStats, Relay, RelayConfig, RtcpPacket,
    RtpHeader, RtpPacket, SeqNo, Ssrc, rtt_from_report_block,
};

const SSRC: Ssrc = Ssrc(0x00c0_ffee);
const PACKET_INTERVAL: Duration = Duration::from_millis(20);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn relay(now: Instant) -> Relay {
    Relay::new(
        now,
        RelayConfig::default(),
        LegConfig::with_rtcp_port_plus_one(addr("10.0.0.1:4000")),
        LegConfig::with_rtcp_port_plus_one(addr("192.0.2.2:5000")),
    )
}

fn pcmu(seq: u16, ts: u32) -> Vec<u8> {
    RtpHeader::new(PayloadType::PCMU, SeqNo(seq), ts, SSRC)
        .to_packet(&[0xff; 160], 0)
        .unwrap()
}

/// Streams `count` 20 ms PCMU packets from leg A's phone through `link` into
/// the relay; calls `sample` after each delivered packet.
fn stream_through(
    t0: Instant,
    link_config: LinkConfig,
    seed: u64,
    count: u16,
    mut sample: impl FnMut(&Relay),
) -> (Relay, LossyLink<Vec<u8>>) {
    let mut relay = relay(t0);
    let mut link = LossyLink::new(link_config, seed);
    let source = addr("203.0.113.5:34567");
    let mut sent: u16 = 0;
    let mut next_send = t0;
    loop {
        let send_due = (sent < count).then_some(next_send);
        let Some(now) = [send_due, link.poll_timeout()].into_iter().flatten().min() else {
            break;
        };
        if send_due == Some(now) {
            link.send(now, pcmu(sent, u32::from(sent) * 160));
            sent += 1;
            next_send += PACKET_INTERVAL;
        }
        while let Some((at, bytes)) = link.poll_receive(now) {
            relay.handle_packet(at, Leg::A, Port::Rtp, source, &bytes);
            while relay.poll_transmit().is_some() {}
            sample(&relay);
        }
    }
    (relay, link)
}

#[test]
fn five_percent_loss_is_measured_as_five_percent() {
    let t0 = Instant::now();
    let cfg = LinkConfig {
        loss: 0.05,
        delay: Duration::from_millis(30),
        ..LinkConfig::default()
    };
    let (mut relay, link) = stream_through(t0, cfg, 0x5eed, 10_000, |_| {});
    let lost_on_link = link.stats().lost;
    let stats = relay.source_mut(Leg::A, SSRC).unwrap();
    let cumulative = stats.cumulative_lost().unwrap();
    // Loss before the first counted packet or after the last one is invisible.
    assert!(
        (cumulative - lost_on_link.cast_signed()).abs() <= 3,
        "{cumulative} vs {lost_on_link}"
    );
    let interval = stats.take_interval();
    let fraction = interval.fraction_lost().unwrap();
    assert!((0.04..0.06).contains(&fraction), "fraction lost {fraction}");
    let fixed = f64::from(interval.fraction_lost_fixed()) / 256.0;
    assert!((fraction - fixed).abs() < 1.0 / 256.0);
    // The relay forwards everything it receives.
    let c = relay.counters(Leg::B);
    assert_eq!(c.packets_out, 10_000 - lost_on_link);
}

#[test]
fn injected_jitter_is_estimated_in_the_expected_range() {
    let t0 = Instant::now();
    // Uniform extra delay in [0, 30 ms): E|U1 - U2| = 30/3 = 10 ms, which
    // is what the RFC 3550 A.8 estimator converges to.
    let cfg = LinkConfig {
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(30),
        ..LinkConfig::default()
    };
    let mut samples = Vec::new();
    let mut delivered = 0u32;
    let (relay, _) = stream_through(t0, cfg, 0xfeed, 10_000, |relay| {
        delivered += 1;
        if delivered > 200 && delivered.is_multiple_of(50) {
            samples.push(relay.source(Leg::A, SSRC).unwrap().jitter_ms().unwrap());
        }
    });
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    assert!((9.0..11.0).contains(&mean), "mean jitter {mean} ms");
    // And a jitter-free link measures zero.
    let (quiet, _) = stream_through(
        t0,
        LinkConfig {
            delay: Duration::from_millis(30),
            ..LinkConfig::default()
        },
        1,
        500,
        |_| {},
    );
    assert_eq!(quiet.source(Leg::A, SSRC).unwrap().jitter_ms(), Some(0.0));
    assert_eq!(
        relay.source(Leg::A, SSRC).unwrap().cumulative_lost(),
        Some(0)
    );
}

fn sender_report(ssrc: Ssrc, ntp_time: NtpTime) -> Vec<u8> {
    build_compound(&[RtcpPacket::SenderReport(SenderReport {
        ssrc,
        ntp_time,
        rtp_timestamp: 0,
        packet_count: 0,
        octet_count: 0,
        reports: vec![],
    })])
    .unwrap()
}

fn parse_sr(bytes: &[u8]) -> SenderReport {
    match RtcpPacket::parse_compound(bytes).next() {
        Some(Ok(RtcpPacket::SenderReport(sr))) => sr,
        other => panic!("not an SR: {other:?}"),
    }
}

fn parse_first_block(bytes: &[u8]) -> ReportBlock {
    match RtcpPacket::parse_compound(bytes).next() {
        Some(Ok(RtcpPacket::ReceiverReport(rr))) => rr.reports[0],
        other => panic!("not an RR: {other:?}"),
    }
}

#[test]
fn rtt_from_sr_rr_exchange_is_exact_to_ntp_short_resolution() {
    let t0 = Instant::now();
    let one_way = Duration::from_micros(37_123);
    let hold = Duration::from_micros(123_456);
    let cfg = LinkConfig {
        delay: one_way,
        ..LinkConfig::default()
    };
    let mut x_to_y = LossyLink::new(cfg, 1);
    let mut y_to_x = LossyLink::new(cfg, 2);
    // X's wall clock: anchored once, as the shell would do.
    let x_clock = NtpClock::new(t0, NtpTime::from_unix(Duration::from_secs(1_790_000_000)));

    // Y receives X's media, so it has a valid source to report on.
    let mut y_stats = ReceiverStats::new(Ssrc(1), 8000, SeqNo(0));
    for seq in 0..2u16 {
        let bytes = pcmu(seq, u32::from(seq) * 160);
        y_stats.handle_rtp(t0, &RtpPacket::parse(&bytes).unwrap());
    }

    let sr_at = t0 + Duration::from_millis(5);
    x_to_y.send(sr_at, sender_report(Ssrc(1), x_clock.ntp(sr_at)));
    let arrive_y = x_to_y.poll_timeout().unwrap();
    let (_, bytes) = x_to_y.poll_receive(arrive_y).unwrap();
    y_stats.handle_sender_report(arrive_y, &parse_sr(&bytes));

    let rr_at = arrive_y + hold;
    let block = y_stats.report_block(rr_at).unwrap();
    let rr = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(2),
        reports: vec![block],
    })])
    .unwrap();
    y_to_x.send(rr_at, rr);
    let arrive_x = y_to_x.poll_timeout().unwrap();
    let (_, bytes) = y_to_x.poll_receive(arrive_x).unwrap();

    let rtt = rtt_from_report_block(x_clock.ntp(arrive_x), &parse_first_block(&bytes)).unwrap();
    let truth = 2 * one_way;
    let error = rtt.abs_diff(truth);
    // A, LSR and DLSR are each truncated to 1/65536 s: at most two units off.
    assert!(
        error < Duration::from_nanos(2 * 15_259),
        "rtt {rtt:?}, truth {truth:?}"
    );
}

#[test]
fn relay_measures_rtt_of_each_segment_from_forwarded_srs() {
    let t0 = Instant::now();
    let mut relay = relay(t0);
    let to_b = Duration::from_millis(25);
    let hold = Duration::from_micros(123_456);
    let cfg = LinkConfig {
        delay: to_b,
        ..LinkConfig::default()
    };
    let mut relay_to_b = LossyLink::new(cfg, 3);
    let mut b_to_relay = LossyLink::new(cfg, 4);
    let a_phone = addr("203.0.113.5:34568");
    let b_phone = addr("192.0.2.2:5001");

    // A's phone sends an SR (its own wall clock, unrelated to ours).
    let a_ntp = NtpTime(0xdead_beef_1234_5678);
    let sr_at = t0 + Duration::from_millis(100);
    relay.handle_packet(
        sr_at,
        Leg::A,
        Port::Rtcp,
        a_phone,
        &sender_report(Ssrc(1), a_ntp),
    );
    let tx = relay.poll_transmit().unwrap();
    assert_eq!(
        (tx.leg, tx.port, tx.destination),
        (Leg::B, Port::Rtcp, b_phone)
    );
    relay_to_b.send(sr_at, tx.bytes);

    let at_b = relay_to_b.poll_timeout().unwrap();
    let (_, bytes) = relay_to_b.poll_receive(at_b).unwrap();
    let sr = parse_sr(&bytes);
    let rr_at = at_b + hold;
    let rr = build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(2),
        reports: vec![ReportBlock {
            ssrc: sr.ssrc,
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: sr.ntp_time.short(),
            delay_since_last_sr: duration_to_short(hold),
        }],
    })])
    .unwrap();
    b_to_relay.send(rr_at, rr);
    let back = b_to_relay.poll_timeout().unwrap();
    let (_, bytes) = b_to_relay.poll_receive(back).unwrap();
    relay.handle_packet(back, Leg::B, Port::Rtcp, b_phone, &bytes);

    let rtt = relay.rtt(Leg::B).unwrap();
    // Only DLSR is truncated to 1/65536 s; our side is measured in Instants.
    assert!(
        rtt >= 2 * to_b && rtt.abs_diff(2 * to_b) < Duration::from_nanos(15_259),
        "{rtt:?}"
    );
    // Nobody answered an SR towards A: unknown, not zero.
    assert_eq!(relay.rtt(Leg::A), None);
    // The RR went on to A unchanged.
    assert_eq!(relay.poll_transmit().unwrap().destination, a_phone);
}

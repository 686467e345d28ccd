use std::time::{Duration, Instant};

use super::*;
use crate::ntp::{NtpTime, duration_to_short};
use crate::rtcp::{ExtendedReport, RtcpPacket};
use crate::rtp::RtpHeader;
use crate::seq::SeqNo;
use crate::testing::{LinkConfig, LossyLink};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn rtp(seq: u16, ts: u32, pt: u8) -> Vec<u8> {
    RtpHeader::new(PayloadType(pt), SeqNo(seq), ts, Ssrc(0xabcd))
        .to_packet(&[0xd5; 160], 0)
        .unwrap()
}

fn feed(m: &mut LegMonitor, at: Instant, bytes: &[u8]) {
    m.handle_rtp(at, &RtpPacket::parse(bytes).unwrap());
}

fn relay_monitor(t0: Instant) -> LegMonitor {
    LegMonitor::new(t0, MonitorConfig::relay(Leg::A))
}

fn reporting_config(t0: Instant) -> MonitorConfig {
    MonitorConfig {
        reporting: Some(Reporting {
            ssrc: Ssrc(0x4543_484f),
            cname: "appliance@test".into(),
            ntp: NtpClock::new(t0, NtpTime(0xe000_0000_0000_0000)),
            seed: 7,
        }),
        ..MonitorConfig::relay(Leg::A)
    }
}

/// Runs the timers up to `until`, collecting samples and RTCP.
fn run_until(m: &mut LegMonitor, until: Instant) -> (Vec<QualitySample>, Vec<(Instant, Vec<u8>)>) {
    let mut samples = Vec::new();
    let mut rtcp = Vec::new();
    while let Some(at) = m.poll_timeout().filter(|t| *t <= until) {
        m.handle_timeout(at);
        while let Some(s) = m.poll_sample() {
            samples.push(s);
        }
        while let Some(r) = m.poll_rtcp() {
            rtcp.push((at, r));
        }
    }
    (samples, rtcp)
}

#[test]
fn without_rtcp_rtt_and_mos_are_unknown_but_own_stats_are_known() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    for i in 0..250u16 {
        feed(
            &mut m,
            t0 + ms(20) * u32::from(i),
            &rtp(i, u32::from(i) * 160, 8),
        );
    }
    let (samples, rtcp) = run_until(&mut m, t0 + ms(5000));
    assert!(rtcp.is_empty(), "relay mode sends no RTCP of its own");
    let [s] = samples.as_slice() else {
        panic!("one sample after 5 s, got {samples:?}")
    };
    assert_eq!((s.interval_start, s.interval_end), (t0, t0 + ms(5000)));
    // RFC 3550 A.1: the first packet is the source's probation.
    assert_eq!(s.packets_received, 249);
    assert_eq!(s.packets_expected, Some(249));
    assert_eq!(s.loss_fraction, Some(0.0));
    assert_eq!(s.cumulative_lost, Some(0));
    assert_eq!(s.jitter_ms, Some(0.0));
    assert_eq!(s.burst_loss, Some(0.0));
    assert_eq!(s.codec, Some(Codec::Pcma));
    assert_eq!(s.rtt_ms, None);
    assert_eq!((s.r_factor, s.mos), (None, None), "no RTT: MOS unknown");
    assert_eq!(s.remote, None);
    assert!(!s.last);
}

#[test]
fn an_interval_without_packets_has_unknown_loss() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    let (samples, _) = run_until(&mut m, t0 + ms(5000));
    let s = &samples[0];
    assert_eq!(
        (s.packets_received, s.packets_expected, s.loss_fraction),
        (0, None, None)
    );
    assert_eq!((s.jitter_ms, s.burst_loss, s.codec), (None, None, None));
}

#[test]
fn forwarded_sr_answered_by_the_endpoint_gives_the_segment_rtt_and_a_mos() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    for i in 0..100u16 {
        feed(
            &mut m,
            t0 + ms(20) * u32::from(i),
            &rtp(i, u32::from(i) * 160, 0),
        );
    }
    let ntp = NtpTime(0x1234_5678_9abc_0000);
    m.handle_sender_report_forwarded(t0 + ms(1000), ntp);
    // The endpoint held it 300 ms and its answer took 90 ms in all on the wire.
    let rr = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(0xabcd),
        reports: vec![ReportBlock {
            ssrc: Ssrc(0x9999),
            fraction_lost: 13, // 5 %
            cumulative_lost: 4,
            extended_highest_seq: 90,
            jitter: 40,
            last_sr: ntp.short(),
            delay_since_last_sr: duration_to_short(ms(300)),
        }],
    });
    m.handle_rtcp(t0 + ms(1390), &[rr]);
    let (samples, _) = run_until(&mut m, t0 + ms(5000));
    let s = &samples[0];
    let rtt = s.rtt_ms.unwrap();
    assert!((rtt - 90.0).abs() < 0.1, "{rtt}");
    let remote = s.remote.unwrap();
    assert!((remote.loss_fraction - 13.0 / 256.0).abs() < 1e-9);
    assert_eq!(remote.cumulative_lost, 4);
    assert!((remote.jitter_ms - 5.0).abs() < 1e-9);
    assert_eq!(s.codec, Some(Codec::Pcmu));
    assert_eq!(s.loss_fraction, Some(0.0));
    let mos = s.mos.unwrap();
    let r = s.r_factor.unwrap();
    // G.711, no loss, 45 + 20 ms one way: close to the G.107 default 93.2.
    assert!(r > 91.0 && r < 93.3, "R {r}");
    assert!(mos > 4.3 && mos <= 4.5, "MOS {mos}");
}

#[test]
fn loss_cumulative_loss_and_burst_density_follow_the_sequence() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    // 200 packets; isolated losses at 40 and 80 (gap losses, ≥ 16 received
    // around them), and a burst: 120, 121, 122 lost, 125 lost (3 received
    // between: still the same burst), then clean.
    let lost = [40u16, 80, 120, 121, 122, 125];
    for i in 0..200u16 {
        if !lost.contains(&i) {
            feed(
                &mut m,
                t0 + ms(20) * u32::from(i),
                &rtp(i, u32::from(i) * 160, 8),
            );
        }
    }
    let (samples, _) = run_until(&mut m, t0 + ms(5000));
    let s = &samples[0];
    assert_eq!(s.packets_expected, Some(199));
    assert_eq!(s.packets_received, 193);
    assert_eq!(s.packets_lost, Some(6));
    assert_eq!(s.cumulative_lost, Some(6));
    assert!((s.loss_fraction.unwrap() - 6.0 / 199.0).abs() < 1e-9);
    // Burst 120..=125: 6 packets, 4 lost.
    let density = s.burst_loss.unwrap();
    assert!((density - 4.0 / 6.0).abs() < 1e-9, "{density}");

    // The next interval starts from zero; cumulative loss carries on.
    for i in 200..450u16 {
        if i != 300 {
            feed(
                &mut m,
                t0 + ms(20) * u32::from(i),
                &rtp(i, u32::from(i) * 160, 8),
            );
        }
    }
    let (samples, _) = run_until(&mut m, t0 + ms(10_000));
    let s = &samples[0];
    assert_eq!(
        (s.packets_expected, s.packets_lost, s.cumulative_lost),
        (Some(250), Some(1), Some(7))
    );
    assert_eq!(s.burst_loss, Some(0.0), "one isolated loss is a gap");
    assert_eq!(s.interval_start, t0 + ms(5000));
}

#[test]
fn own_reports_start_early_are_randomised_and_carry_sr_rr_and_cname() {
    let t0 = Instant::now();
    let mut m = LegMonitor::new(t0, reporting_config(t0));
    let (_, rtcp) = run_until(&mut m, t0 + Duration::from_mins(2));
    assert!(rtcp.len() >= 16, "{} reports in 120 s", rtcp.len());
    let first = rtcp[0].0 - t0;
    assert!(
        first >= ms(1250) && first <= ms(3750),
        "first after {first:?}"
    );
    let gaps: Vec<Duration> = rtcp.windows(2).map(|w| w[1].0 - w[0].0).collect();
    for g in &gaps {
        assert!(*g >= ms(2500) && *g <= ms(7500), "{g:?}");
    }
    assert!(
        gaps.iter().any(|g| *g != gaps[0]),
        "intervals are randomised"
    );
    // Nothing sent: receiver reports, SDES CNAME second.
    let packets: Vec<RtcpPacket<'_>> = RtcpPacket::parse_compound(&rtcp[0].1)
        .map(Result::unwrap)
        .collect();
    assert!(matches!(&packets[0], RtcpPacket::ReceiverReport(rr) if rr.ssrc == Ssrc(0x4543_484f)));
    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("{packets:?}")
    };
    assert_eq!(sdes.chunks[0].cname(), Some(&b"appliance@test"[..]));

    // Same seed, same schedule.
    let mut again = LegMonitor::new(t0, reporting_config(t0));
    let (_, rtcp2) = run_until(&mut again, t0 + Duration::from_mins(2));
    assert_eq!(
        rtcp.iter().map(|r| r.0).collect::<Vec<_>>(),
        rtcp2.iter().map(|r| r.0).collect::<Vec<_>>()
    );
}

#[test]
fn our_sr_answered_by_the_endpoint_gives_rtt_and_report_blocks_describe_its_stream() {
    let t0 = Instant::now();
    let mut m = LegMonitor::new(t0, reporting_config(t0));
    let mut sr_at = None;
    let mut sr = None;
    for i in 0..250u16 {
        let at = t0 + ms(20) * u32::from(i);
        if i % 25 != 3 {
            feed(&mut m, at, &rtp(i, u32::from(i) * 160, 8));
        }
        m.handle_rtp_sent(at, 1000 + u32::from(i) * 160, 160);
        while let Some(t) = m.poll_timeout().filter(|t| *t <= at) {
            m.handle_timeout(t);
            if let Some(bytes) = m.poll_rtcp() {
                let p: Vec<RtcpPacket<'_>> = RtcpPacket::parse_compound(&bytes)
                    .map(Result::unwrap)
                    .collect();
                if let RtcpPacket::SenderReport(s) = &p[0] {
                    sr_at.get_or_insert(t);
                    if sr.is_none() {
                        sr = Some(s.clone());
                    }
                }
            }
        }
    }
    let (sr_at, sr) = (sr_at.unwrap(), sr.unwrap());
    assert_eq!(sr.ssrc, Ssrc(0x4543_484f));
    assert!(sr.packet_count > 50 && sr.octet_count == sr.packet_count * 160);
    // Its report block is about the endpoint's stream: 1 lost in 25.
    let block = sr.reports[0];
    assert_eq!(block.ssrc, Ssrc(0xabcd));
    assert!(block.fraction_lost > 0 && block.cumulative_lost > 0);
    assert_eq!(block.last_sr, 0, "the endpoint sent no SR yet");
    // The endpoint answers after holding our SR 200 ms; 80 ms on the wire.
    let answer = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(0xabcd),
        reports: vec![ReportBlock {
            ssrc: Ssrc(0x4543_484f),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: sr.ntp_time.short(),
            delay_since_last_sr: duration_to_short(ms(200)),
        }],
    });
    m.handle_rtcp(sr_at + ms(280), &[answer]);
    let rtt = m.rtt().unwrap();
    assert!(rtt.abs_diff(ms(80)) < Duration::from_micros(100), "{rtt:?}");
}

#[test]
fn xr_voip_metrics_are_kept_and_reported() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    let metrics = VoipMetrics {
        ssrc: Ssrc(1),
        loss_rate: 12,
        discard_rate: 0,
        burst_density: 0,
        gap_density: 12,
        burst_duration_ms: 0,
        gap_duration_ms: 5000,
        round_trip_delay_ms: 70,
        end_system_delay_ms: 40,
        signal_level: 127,
        noise_level: 127,
        rerl: 127,
        gmin: 16,
        r_factor: 88,
        ext_r_factor: 127,
        mos_lq: 41,
        mos_cq: 40,
        rx_config: 0,
        jb_nominal_ms: 40,
        jb_maximum_ms: 80,
        jb_abs_max_ms: 200,
    };
    m.handle_rtcp(
        t0,
        &[RtcpPacket::ExtendedReport(ExtendedReport {
            ssrc: Ssrc(1),
            voip_metrics: vec![metrics],
        })],
    );
    let (samples, _) = run_until(&mut m, t0 + ms(5000));
    assert_eq!(samples[0].xr, Some(metrics));
    assert_eq!(samples[0].rtt_ms, None, "an XR RTT is the peer's, not ours");
}

#[test]
fn finish_queues_a_last_sample_then_the_monitor_is_silent() {
    let t0 = Instant::now();
    let mut m = LegMonitor::new(t0, reporting_config(t0));
    for i in 0..100u16 {
        feed(
            &mut m,
            t0 + ms(20) * u32::from(i),
            &rtp(i, u32::from(i) * 160, 9),
        );
    }
    let (samples, _) = run_until(&mut m, t0 + ms(7000));
    assert_eq!(samples.len(), 1);
    m.finish(t0 + ms(7100));
    let last = m.poll_sample().unwrap();
    assert!(last.last);
    assert_eq!(
        (last.interval_start, last.interval_end),
        (t0 + ms(5000), t0 + ms(7100))
    );
    assert_eq!(last.codec, Some(Codec::G722));
    assert_eq!(last.packets_expected, Some(0));
    assert_eq!(last.loss_fraction, None, "nothing expected: unknown");
    assert_eq!(m.poll_timeout(), None);
    m.finish(t0 + ms(8000));
    assert_eq!(m.poll_sample(), None);
}

#[test]
fn a_dynamic_payload_type_without_a_configured_codec_has_no_mos() {
    let t0 = Instant::now();
    let mut m = relay_monitor(t0);
    for i in 0..100u16 {
        feed(
            &mut m,
            t0 + ms(20) * u32::from(i),
            &rtp(i, u32::from(i) * 960, 111),
        );
    }
    m.handle_sender_report_forwarded(t0, NtpTime(1 << 32));
    let rr = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(0xabcd),
        reports: vec![ReportBlock {
            ssrc: Ssrc(2),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: NtpTime(1 << 32).short(),
            delay_since_last_sr: 0,
        }],
    });
    m.handle_rtcp(t0 + ms(50), &[rr]);
    m.finish(t0 + ms(2000));
    let s = m.poll_sample().unwrap();
    assert!(s.rtt_ms.is_some() && s.loss_fraction.is_some());
    assert_eq!((s.codec, s.mos), (None, None));
}

/// A seeded lossy link with 40 ms ± 10 ms one-way delay and 5 % loss between
/// a phone and the monitor: the sample's loss and jitter match what the
/// link did.
#[test]
fn seeded_impaired_link_yields_matching_loss_and_jitter() {
    for seed in [1u64, 2, 3] {
        let t0 = Instant::now();
        let mut m = relay_monitor(t0);
        let mut link = LossyLink::new(
            LinkConfig {
                loss: 0.05,
                delay: ms(30),
                jitter: ms(20),
                ..LinkConfig::default()
            },
            seed,
        );
        for i in 0..500u16 {
            let at = t0 + ms(20) * u32::from(i);
            link.send(at, rtp(i, u32::from(i) * 160, 8));
            while let Some((when, bytes)) = link.poll_receive(at) {
                feed(&mut m, when, &bytes);
            }
        }
        let end = t0 + Duration::from_secs(11);
        while let Some((when, bytes)) = link.poll_receive(end) {
            feed(&mut m, when, &bytes);
        }
        m.finish(end);
        let mut samples = Vec::new();
        while let Some(s) = m.poll_sample() {
            samples.push(s);
        }
        let s = samples.last().unwrap();
        let lost = link.stats().lost;
        assert_eq!(
            s.cumulative_lost.unwrap().cast_unsigned(),
            lost,
            "seed {seed}"
        );
        let fraction = lost as f64 / 500.0;
        assert!((0.03..=0.07).contains(&fraction), "seed {seed}: {fraction}");
        // Uniform ±10 ms per packet: E|Di - Dj| = 20/3 ms ≈ 6.7 ms.
        let jitter = s.jitter_ms.unwrap();
        assert!(
            (4.5..=9.0).contains(&jitter),
            "seed {seed}: jitter {jitter}"
        );
    }
}

use super::*;
use crate::ntp::NtpTime;
use crate::rtp::Ssrc;

/// SR(1 block) + SDES(CNAME) + XR(VoIP metrics) + APP + BYE(reason, padded),
/// built by hand from the RFC 3550 §6.4.1, §6.5, §6.6, §6.7 and RFC 3611
/// §4.7 layouts.
#[rustfmt::skip]
const COMPOUND: &[u8] = &[
    // SR: V=2 RC=1, PT=200, length 12
    0x81, 0xc8, 0x00, 0x0c,
    0x11, 0x22, 0x33, 0x44,             // SSRC of sender
    0xe8, 0xc1, 0xa2, 0xb3,             // NTP seconds
    0x80, 0x00, 0x00, 0x00,             // NTP fraction (0.5 s)
    0x00, 0x00, 0x3e, 0x80,             // RTP timestamp 16000
    0x00, 0x00, 0x00, 0x64,             // packet count 100
    0x00, 0x00, 0x3e, 0x80,             // octet count 16000
    0x55, 0x66, 0x77, 0x88,             // report block: SSRC
    0x40, 0xff, 0xff, 0xfe,             // fraction 64/256, cumulative lost -2
    0x00, 0x01, 0x00, 0x05,             // extended highest seq
    0x00, 0x00, 0x00, 0x10,             // jitter 16
    0xa2, 0xb3, 0x80, 0x00,             // LSR
    0x00, 0x00, 0x80, 0x00,             // DLSR 0.5 s
    // SDES: V=2 SC=1, PT=202, length 6
    0x81, 0xca, 0x00, 0x06,
    0x11, 0x22, 0x33, 0x44,
    0x01, 0x0f, b'a', b'l', b'i', b'c', b'e', b'@', b'1', b'9', b'2', b'.', b'0', b'.', b'2', b'.', b'1',
    0x00, 0x00, 0x00,                   // null item + pad to word
    // XR: V=2, PT=207, length 10
    0x80, 0xcf, 0x00, 0x0a,
    0x11, 0x22, 0x33, 0x44,
    0x07, 0x00, 0x00, 0x08,             // BT=7, block length 8 words
    0x55, 0x66, 0x77, 0x88,
    0x0d, 0x02, 0x40, 0x05,             // loss, discard, burst density, gap density
    0x00, 0x78, 0x07, 0xd0,             // burst duration 120, gap duration 2000
    0x00, 0x32, 0x00, 0x64,             // RTD 50, ESD 100
    0xec, 0xc4, 0x7f, 0x10,             // signal -20, noise -60, RERL n/a, Gmin 16
    0x5d, 0x7f, 0x29, 0x28,             // R 93, ext R n/a, MOS-LQ 4.1, MOS-CQ 4.0
    0x00, 0x00, 0x00, 0x3c,             // RX config, reserved, JB nominal 60
    0x00, 0x78, 0x00, 0xc8,             // JB max 120, JB abs max 200
    // APP: V=2 subtype 0, PT=204, length 3
    0x80, 0xcc, 0x00, 0x03,
    0x11, 0x22, 0x33, 0x44,
    b'T', b'E', b'S', b'T',
    0xde, 0xad, 0xbe, 0xef,
    // BYE: V=2 P=1 SC=1, PT=203, length 4
    0xa1, 0xcb, 0x00, 0x04,
    0x11, 0x22, 0x33, 0x44,
    0x06, b'h', b'a', b'n', b'g', b'u', b'p', 0x00,
    0x00, 0x00, 0x00, 0x04,             // RTCP padding, count 4
];

fn expected_block() -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(0x5566_7788),
        fraction_lost: 64,
        cumulative_lost: -2,
        extended_highest_seq: 0x0001_0005,
        jitter: 16,
        last_sr: 0xa2b3_8000,
        delay_since_last_sr: 0x8000,
    }
}

#[test]
fn hand_built_compound_packet_parses_every_part() {
    let packets: Vec<_> = RtcpPacket::parse_compound(COMPOUND)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(packets.len(), 5);

    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("not SR: {:?}", packets[0])
    };
    assert_eq!(sr.ssrc, Ssrc(0x1122_3344));
    assert_eq!(sr.ntp_time, NtpTime(0xe8c1_a2b3_8000_0000));
    assert_eq!(sr.ntp_time.short(), 0xa2b3_8000);
    assert_eq!(
        (sr.rtp_timestamp, sr.packet_count, sr.octet_count),
        (16000, 100, 16000)
    );
    assert_eq!(sr.reports, vec![expected_block()]);
    assert!((sr.reports[0].fraction_lost_ratio() - 0.25).abs() < f64::EPSILON);

    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("not SDES")
    };
    assert_eq!(sdes.chunks.len(), 1);
    assert_eq!(sdes.chunks[0].ssrc, Ssrc(0x1122_3344));
    assert_eq!(sdes.chunks[0].cname(), Some(&b"alice@192.0.2.1"[..]));

    let RtcpPacket::ExtendedReport(xr) = &packets[2] else {
        panic!("not XR")
    };
    assert_eq!(xr.ssrc, Ssrc(0x1122_3344));
    let m = &xr.voip_metrics[0];
    assert_eq!(m.ssrc, Ssrc(0x5566_7788));
    assert_eq!(
        (m.loss_rate, m.discard_rate, m.burst_density, m.gap_density),
        (13, 2, 64, 5)
    );
    assert_eq!((m.burst_duration_ms, m.gap_duration_ms), (120, 2000));
    assert_eq!(
        m.round_trip_delay(),
        Some(std::time::Duration::from_millis(50))
    );
    assert_eq!(m.end_system_delay_ms, 100);
    assert_eq!(
        (m.signal_level, m.noise_level, m.rerl, m.gmin),
        (-20, -60, 127, 16)
    );
    assert_eq!(m.r_factor(), Some(93));
    assert_eq!(m.ext_r_factor, 127);
    assert_eq!(m.mos_lq(), Some(4.1));
    assert_eq!(m.mos_cq(), Some(4.0));
    assert_eq!(
        (m.jb_nominal_ms, m.jb_maximum_ms, m.jb_abs_max_ms),
        (60, 120, 200)
    );

    assert_eq!(
        packets[3],
        RtcpPacket::Other {
            packet_type: PT_APP,
            count: 0,
            body: &COMPOUND[128..140],
        }
    );
    assert_eq!(&COMPOUND[132..136], b"TEST");

    let RtcpPacket::Goodbye(bye) = &packets[4] else {
        panic!("not BYE")
    };
    assert_eq!(bye.sources, vec![Ssrc(0x1122_3344)]);
    assert_eq!(bye.reason, Some(&b"hangup"[..]));
}

#[test]
fn builders_reproduce_the_hand_built_packets() {
    let packets: Vec<_> = RtcpPacket::parse_compound(COMPOUND)
        .collect::<Result<_, _>>()
        .unwrap();
    let rebuilt = build_compound(&packets).unwrap();
    // Everything but the BYE's trailing RTCP padding word is reproduced byte for byte.
    let bye_start = COMPOUND.len() - 20;
    assert_eq!(&rebuilt[..bye_start], &COMPOUND[..bye_start]);
    assert_eq!(
        &rebuilt[bye_start..],
        &[
            0x81, 0xcb, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x06, b'h', b'a', b'n', b'g', b'u',
            b'p', 0x00
        ]
    );
    let reparsed: Vec<_> = RtcpPacket::parse_compound(&rebuilt)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(reparsed, packets);
}

#[test]
fn receiver_report_sdes_and_bye_round_trip() {
    let rr = ReceiverReport {
        ssrc: Ssrc(7),
        reports: vec![
            expected_block(),
            ReportBlock {
                cumulative_lost: ReportBlock::CUMULATIVE_LOST_MAX,
                ..expected_block()
            },
        ],
    };
    let sdes = Sdes {
        chunks: vec![
            SdesChunk {
                ssrc: Ssrc(7),
                items: vec![
                    SdesItem {
                        kind: SdesType::CNAME,
                        value: b"abcd",
                    },
                    SdesItem {
                        kind: SdesType::TOOL,
                        value: b"voip",
                    },
                ],
            },
            SdesChunk {
                ssrc: Ssrc(8),
                items: vec![],
            },
        ],
    };
    let bye = Bye {
        sources: vec![Ssrc(7), Ssrc(8)],
        reason: None,
    };
    let packets = vec![
        RtcpPacket::ReceiverReport(rr),
        RtcpPacket::SourceDescription(sdes),
        RtcpPacket::Goodbye(bye),
    ];
    let bytes = build_compound(&packets).unwrap();
    assert_eq!(bytes.len() % 4, 0);
    let back: Vec<_> = RtcpPacket::parse_compound(&bytes)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, packets);
}

#[test]
fn cumulative_lost_clamps_to_24_bits_and_sign_extends() {
    for (value, wire) in [
        (-1, -1),
        (
            ReportBlock::CUMULATIVE_LOST_MIN,
            ReportBlock::CUMULATIVE_LOST_MIN,
        ),
        (10_000_000, ReportBlock::CUMULATIVE_LOST_MAX),
        (-10_000_000, ReportBlock::CUMULATIVE_LOST_MIN),
    ] {
        let rr = ReceiverReport {
            ssrc: Ssrc(1),
            reports: vec![ReportBlock {
                cumulative_lost: value,
                ..expected_block()
            }],
        };
        let mut out = Vec::new();
        rr.write(&mut out).unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport(back))) = RtcpPacket::parse_compound(&out).next()
        else {
            panic!("no RR")
        };
        assert_eq!(back.reports[0].cumulative_lost, wire, "{value}");
    }
}

#[test]
fn ffmpeg_sender_reports_parse() {
    let files: [&[u8]; 3] = [
        include_bytes!("../../tests/data/ffmpeg_rtcp_sr_0.bin"),
        include_bytes!("../../tests/data/ffmpeg_rtcp_sr_1.bin"),
        include_bytes!("../../tests/data/ffmpeg_rtcp_sr_2.bin"),
    ];
    let mut counts = Vec::new();
    for bytes in files {
        assert_eq!(classify(bytes), PacketKind::Rtcp);
        let packets: Vec<_> = RtcpPacket::parse_compound(bytes)
            .collect::<Result<_, _>>()
            .unwrap();
        let [RtcpPacket::SenderReport(sr)] = packets.as_slice() else {
            panic!("expected one SR, got {packets:?}")
        };
        assert_eq!(sr.ssrc, Ssrc(0xc496_dc23));
        assert!(sr.reports.is_empty());
        counts.push((sr.packet_count, sr.octet_count));
    }
    // The first SR precedes any packet; later ones count 160-byte PCMU frames.
    assert_eq!(counts, vec![(0, 0), (0xd7, 0x9bf2), (0x1af, 0x0001_38ae)]);
}

#[test]
fn malformed_compounds_yield_one_error_then_stop() {
    let mut truncated_sr = COMPOUND[..52].to_vec();
    truncated_sr[3] = 11; // length 11 words: the report block is cut short
    let cases: Vec<(&str, Vec<u8>, RtcpError)> = vec![
        (
            "three bytes",
            vec![0x80, 0xc8, 0x00],
            RtcpError::TooShort { len: 3 },
        ),
        (
            "bad version",
            vec![0x40, 0xc8, 0x00, 0x00],
            RtcpError::BadVersion { version: 1 },
        ),
        (
            "length past end",
            vec![0x80, 0xc9, 0x00, 0x05, 0, 0, 0, 1],
            RtcpError::LengthPastEnd {
                declared: 24,
                available: 8,
            },
        ),
        (
            "padding past body",
            vec![0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 9],
            RtcpError::BadPadding {
                padding: 9,
                available: 4,
            },
        ),
        (
            "zero padding",
            vec![0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0],
            RtcpError::BadPadding {
                padding: 0,
                available: 4,
            },
        ),
        (
            "report count past body",
            truncated_sr,
            RtcpError::Truncated {
                packet_type: PT_SR,
                needed: 48,
                len: 44,
            },
        ),
        (
            "sdes item past body",
            vec![0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 9, b'x', b'y'],
            RtcpError::Truncated {
                packet_type: PT_SDES,
                needed: 15,
                len: 8,
            },
        ),
        (
            "bye reason past body",
            vec![0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 8, b'a', b'b', b'c'],
            RtcpError::Truncated {
                packet_type: PT_BYE,
                needed: 13,
                len: 8,
            },
        ),
        (
            "xr block past body",
            vec![0x80, 0xcf, 0x00, 0x02, 0, 0, 0, 1, 7, 0, 0, 8],
            RtcpError::Truncated {
                packet_type: PT_XR,
                needed: 40,
                len: 8,
            },
        ),
    ];
    for (name, bytes, want) in cases {
        let mut it = RtcpPacket::parse_compound(&bytes);
        assert_eq!(it.next(), Some(Err(want)), "{name}");
        assert_eq!(it.next(), None, "{name}");
    }
}

#[test]
fn parse_never_panics_on_prefixes_and_bit_flips() {
    for end in 0..=COMPOUND.len() {
        for p in RtcpPacket::parse_compound(&COMPOUND[..end]) {
            let _ = p;
        }
    }
    for i in 0..COMPOUND.len() {
        for bit in 0..8 {
            let mut b = COMPOUND.to_vec();
            b[i] ^= 1 << bit;
            for p in RtcpPacket::parse_compound(&b) {
                let _ = p;
            }
        }
    }
}

#[test]
fn demux_by_second_byte() {
    let cases: [(&[u8], PacketKind); 9] = [
        (&[0x80, 0x00], PacketKind::Rtp),   // PT 0
        (&[0x80, 0xe0], PacketKind::Rtp),   // PT 96 with marker
        (&[0x80, 0x7f], PacketKind::Rtp),   // PT 127
        (&[0x80, 0xc8], PacketKind::Rtcp),  // SR
        (&[0x81, 0xc0], PacketKind::Rtcp),  // 192, lower bound
        (&[0x81, 0xdf], PacketKind::Rtcp),  // 223, upper bound
        (&[0x00, 0x01], PacketKind::Other), // STUN binding request
        (&[0x16, 0xfe], PacketKind::Other), // DTLS handshake
        (&[0x80], PacketKind::Other),       // too short
    ];
    for (bytes, kind) in cases {
        assert_eq!(classify(bytes), kind, "{bytes:02x?}");
    }
}

#[test]
fn build_rejects_oversized_counts_and_text() {
    let rr = ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![expected_block(); 32],
    };
    assert_eq!(
        rr.write(&mut Vec::new()),
        Err(RtcpBuildError::TooManyEntries { count: 32 })
    );
    let long = [b'x'; 256];
    let sdes = Sdes::cname(Ssrc(1), &long);
    assert_eq!(
        sdes.write(&mut Vec::new()),
        Err(RtcpBuildError::TextTooLong { len: 256 })
    );
    let bye = Bye {
        sources: vec![],
        reason: Some(&long),
    };
    assert_eq!(
        bye.write(&mut Vec::new()),
        Err(RtcpBuildError::TextTooLong { len: 256 })
    );
}

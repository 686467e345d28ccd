//! The adaptive jitter buffer in virtual time: direct packet scripts for the
//! edge cases (loss with FEC look-ahead, DTX, SSRC change, timestamp jumps,
//! outliers) and seeded runs through the lossy link for jitter, reordering,
//! duplication and clock drift.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, Instant};

use voip_media::jitter::{JitterBuffer, JitterConfig, Playout, PushOutcome};
use voip_media::testing::{LinkConfig, StreamSpec, run_jitter};
use voip_media::{PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc};

const MS20: Duration = Duration::from_millis(20);

fn packet(ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    RtpHeader::new(PayloadType::PCMU, SeqNo(seq), ts, Ssrc(ssrc))
        .to_packet(payload, 0)
        .unwrap()
}

fn push(jb: &mut JitterBuffer, now: Instant, ssrc: u32, seq: u16, ts: u32) -> PushOutcome {
    let bytes = packet(ssrc, seq, ts, &seq.to_be_bytes());
    jb.push(now, &RtpPacket::parse(&bytes).unwrap())
}

fn frame_seq(p: &Playout) -> Option<u16> {
    match p {
        Playout::Frame(f) => Some(f.seq.0),
        _ => None,
    }
}

/// A buffer with a fixed 40 ms target (no adaptation noise) for scripts.
fn fixed(delay_ms: u64) -> JitterBuffer {
    JitterBuffer::new(JitterConfig {
        min_delay: Duration::from_millis(delay_ms),
        max_delay: Duration::from_millis(delay_ms),
        ..JitterConfig::default()
    })
}

#[test]
fn steady_stream_plays_every_packet_in_order_after_the_target_delay() {
    let t0 = Instant::now();
    let mut jb = fixed(40);
    let mut out = Vec::new();
    for k in 0..50u16 {
        let now = t0 + MS20 * u32::from(k);
        assert_eq!(
            push(&mut jb, now, 1, k, u32::from(k) * 160),
            PushOutcome::Buffered
        );
        out.push(jb.pop(now + Duration::from_millis(5)));
    }
    // 40 ms target: the first two ticks wait, then one frame per tick.
    assert_eq!(out[0], Playout::Empty);
    assert_eq!(out[1], Playout::Empty);
    let seqs: Vec<u16> = out.iter().filter_map(frame_seq).collect();
    assert_eq!(seqs, (0..48).collect::<Vec<_>>());
    let s = jb.stats();
    assert_eq!((s.lost, s.concealed, s.late, s.dropped), (0, 0, 0, 0));
    assert_eq!(jb.target_delay(), Duration::from_millis(40));
}

#[test]
fn missing_packet_is_lost_with_the_next_payload_for_fec() {
    let t0 = Instant::now();
    let mut jb = fixed(40);
    let mut out = Vec::new();
    for k in 0..10u16 {
        let now = t0 + MS20 * u32::from(k);
        if k != 4 {
            push(&mut jb, now, 1, k, u32::from(k) * 160);
        }
        out.push(jb.pop(now + Duration::from_millis(5)));
    }
    // Ticks 2.. play seq 0..; seq 4 would play at tick 6.
    assert_eq!(frame_seq(&out[5]), Some(3));
    assert_eq!(
        out[6],
        Playout::Lost {
            duration: 160,
            next: Some(5u16.to_be_bytes().to_vec())
        }
    );
    assert_eq!(frame_seq(&out[7]), Some(5));
    let s = jb.stats();
    assert_eq!((s.lost, s.concealed, s.fec_available), (1, 1, 1));
}

#[test]
fn reordered_packet_within_the_target_plays_in_order() {
    let t0 = Instant::now();
    let mut jb = fixed(40);
    let order = [0u16, 1, 3, 2, 4, 5, 6, 7];
    let mut seqs = Vec::new();
    for (i, &k) in order.iter().enumerate() {
        let now = t0 + MS20 * i as u32;
        push(&mut jb, now, 1, k, u32::from(k) * 160);
        seqs.extend(frame_seq(&jb.pop(now + Duration::from_millis(5))));
    }
    assert_eq!(seqs, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn duplicates_are_dropped_before_and_after_playout_and_late_packets_counted() {
    let t0 = Instant::now();
    let mut jb = fixed(20);
    push(&mut jb, t0, 1, 0, 0);
    assert_eq!(push(&mut jb, t0, 1, 0, 0), PushOutcome::Duplicate);
    assert!(frame_seq(&jb.pop(t0 + MS20)).is_some());
    assert_eq!(push(&mut jb, t0 + MS20, 1, 0, 0), PushOutcome::Duplicate);
    // Seq 1 never comes in time: its slot is concealed, then it is late.
    assert!(matches!(
        jb.pop(t0 + MS20 * 2),
        Playout::Lost { next: None, .. }
    ));
    assert_eq!(push(&mut jb, t0 + MS20 * 2, 1, 1, 160), PushOutcome::Late);
    let s = jb.stats();
    assert_eq!((s.duplicates, s.late), (2, 1));
}

#[test]
fn dtx_gap_plays_silence_and_is_not_counted_as_loss() {
    let t0 = Instant::now();
    let mut jb = fixed(40);
    let mut out = Vec::new();
    // 10 packets, one second of DTX (consecutive seq, timestamp jumps), 10 more.
    for tick in 0..80u32 {
        let now = t0 + MS20 * tick;
        let k = if tick < 10 {
            Some(tick)
        } else if (60..70).contains(&tick) {
            Some(tick - 50)
        } else {
            None
        };
        if let Some(k) = k {
            let ts = if k < 10 { k * 160 } else { (k + 50) * 160 };
            push(&mut jb, now, 1, k as u16, ts);
        }
        out.push(jb.pop(now + Duration::from_millis(5)));
    }
    let seqs: Vec<u16> = out.iter().filter_map(frame_seq).collect();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    let silence = out
        .iter()
        .filter(|p| matches!(p, Playout::Silence { .. }))
        .count();
    assert!(silence >= 40, "{silence} silent ticks");
    let s = jb.stats();
    assert_eq!(s.lost, 0, "{s:?}");
    // The fade-out after each talkspurt is concealed, at most max_conceal.
    assert!(s.concealed <= 10, "{s:?}");
}

#[test]
fn ssrc_change_restarts_the_stream_and_stray_old_packets_are_late() {
    let t0 = Instant::now();
    let mut jb = fixed(20);
    let mut seqs = Vec::new();
    for tick in 0..40u32 {
        let now = t0 + MS20 * tick;
        if tick < 20 {
            push(&mut jb, now, 1, tick as u16, tick * 160);
        } else {
            let k = (tick - 20) as u16;
            let outcome = push(&mut jb, now, 2, 30_000 + k, 9_000_000 + u32::from(k) * 160);
            if k == 0 {
                assert_eq!(outcome, PushOutcome::Resynced);
                assert_eq!(push(&mut jb, now, 1, 20, 20 * 160), PushOutcome::Late);
            }
        }
        seqs.extend(frame_seq(&jb.pop(now + Duration::from_millis(5))));
    }
    // The old stream's packet still buffered at the switch is discarded.
    assert!(seqs.contains(&18) && seqs.contains(&30_010), "{seqs:?}");
    let s = jb.stats();
    assert_eq!(s.resyncs, 1);
    assert_eq!(s.lost, 0, "{s:?}");
    assert_eq!(jb.ssrc(), Some(Ssrc(2)));
}

#[test]
fn timestamp_jump_confirmed_by_the_next_packet_resyncs() {
    let t0 = Instant::now();
    let mut jb = fixed(20);
    let mut seqs = Vec::new();
    for tick in 0..40u32 {
        let now = t0 + MS20 * tick;
        // Same SSRC and sequence, timestamps jump by 100 s at tick 20.
        let ts = if tick < 20 {
            tick * 160
        } else {
            800_000 + tick * 160
        };
        let outcome = push(&mut jb, now, 1, tick as u16, ts);
        if tick == 20 {
            assert_eq!(outcome, PushOutcome::Held);
        }
        if tick == 21 {
            assert_eq!(outcome, PushOutcome::Resynced);
        }
        seqs.extend(frame_seq(&jb.pop(now + Duration::from_millis(5))));
    }
    assert!(seqs.contains(&20) && seqs.contains(&38), "{seqs:?}");
    assert_eq!(jb.stats().resyncs, 1);
}

#[test]
fn single_timestamp_outlier_is_discarded_without_resync() {
    let t0 = Instant::now();
    let mut jb = fixed(20);
    let mut seqs = Vec::new();
    for tick in 0..30u32 {
        let now = t0 + MS20 * tick;
        let ts = if tick == 10 { 0x8000_0000 } else { tick * 160 };
        push(&mut jb, now, 1, tick as u16, ts);
        seqs.extend(frame_seq(&jb.pop(now + Duration::from_millis(5))));
    }
    let s = jb.stats();
    assert_eq!((s.resyncs, s.outliers, s.lost), (0, 1, 1), "{s:?}");
    assert!(!seqs.contains(&10) && seqs.contains(&11));
}

#[test]
fn no_jitter_adds_at_most_one_tick_over_the_margin() {
    let run = run_jitter(
        Instant::now(),
        JitterConfig::default(),
        LinkConfig {
            delay: Duration::from_millis(30),
            ..LinkConfig::default()
        },
        1,
        StreamSpec::default(),
    );
    assert_eq!(run.played.len(), 1500);
    assert_eq!(run.stats.lost + run.stats.late + run.stats.dropped, 0);
    // Only the fade-out after the last packet is concealed.
    assert_eq!(run.stats.concealed, 5);
    // Added delay = send-to-playout minus the 30 ms path: margin (5 ms) plus
    // the tick phase (< 20 ms).
    let added = run
        .delay_quantile(1.0)
        .saturating_sub(Duration::from_millis(30));
    assert!(added <= Duration::from_millis(25), "{added:?}");
}

#[test]
fn thirty_ms_jitter_raises_the_target_and_keeps_late_packets_rare() {
    for seed in 1..=5 {
        let run = run_jitter(
            Instant::now(),
            JitterConfig::default(),
            LinkConfig {
                delay: Duration::from_millis(30),
                jitter: Duration::from_millis(30),
                ..LinkConfig::default()
            },
            seed,
            StreamSpec::default(),
        );
        let s = run.stats;
        // Target ≈ 98th percentile of the 0..30 ms spread + 5 ms.
        assert!((200..=320).contains(&s.target_delay), "seed {seed}: {s:?}");
        assert!(s.late <= 30, "seed {seed}: {s:?} (2 % of 1500)");
        assert!(
            run.played.len() >= 1450,
            "seed {seed}: {}",
            run.played.len()
        );
        let added = run.mean_delay().saturating_sub(Duration::from_millis(30));
        assert!(added <= Duration::from_millis(60), "seed {seed}: {added:?}");
    }
}

#[test]
fn loss_reorder_and_duplication_never_replay_or_misorder_a_packet() {
    for seed in 1..=20 {
        let run = run_jitter(
            Instant::now(),
            JitterConfig::default(),
            LinkConfig {
                loss: 0.05,
                delay: Duration::from_millis(20),
                jitter: Duration::from_millis(40),
                duplicate: 0.05,
                reorder: 0.05,
                reorder_delay: Duration::from_millis(50),
            },
            seed,
            StreamSpec {
                packets: 1000,
                ..StreamSpec::default()
            },
        );
        let seqs: Vec<u16> = run.played.iter().map(|(s, _)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: out of order or replayed"
        );
        let s = run.stats;
        // Every sequence number between the first and last played is either
        // played or counted lost.
        let span = u64::from(seqs[seqs.len() - 1] - seqs[0]) + 1;
        assert_eq!(s.played + s.lost, span, "seed {seed}: {s:?}");
        assert!(s.duplicates > 0, "seed {seed}: {s:?}");
        // 5 % link loss plus late packets: 5 % are held back 50 ms, more
        // than the 98th percentile the target covers.
        let missing = 1000 - run.played.len();
        assert!(
            (20..=160).contains(&missing),
            "seed {seed}: {missing} {s:?}"
        );
        assert!(run.max_buffered <= 20, "seed {seed}: {}", run.max_buffered);
    }
}

#[test]
fn fast_sender_clock_is_absorbed_by_dropping_frames() {
    // Sender 0.5 % fast for 60 s: 15 frames too many arrive.
    let run = run_jitter(
        Instant::now(),
        JitterConfig::default(),
        LinkConfig {
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(10),
            ..LinkConfig::default()
        },
        3,
        StreamSpec {
            packets: 3000,
            sender_clock: 1.005,
            ..StreamSpec::default()
        },
    );
    let s = run.stats;
    assert!((10..=25).contains(&s.dropped), "{s:?}");
    assert!(run.max_buffered <= 6, "{}", run.max_buffered);
    // Late in the run the delay is as low as early on.
    let early = run.played[100..400].iter().map(|(_, d)| *d).max().unwrap();
    let late = run.played[run.played.len() - 300..]
        .iter()
        .map(|(_, d)| *d)
        .max()
        .unwrap();
    assert!(late <= early + MS20, "{early:?} → {late:?}");
}

#[test]
fn slow_sender_clock_is_absorbed_by_concealment() {
    // Sender 0.5 % slow for 60 s: the receiver runs out of 15 frames.
    let run = run_jitter(
        Instant::now(),
        JitterConfig::default(),
        LinkConfig {
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(10),
            ..LinkConfig::default()
        },
        4,
        StreamSpec {
            packets: 3000,
            sender_clock: 0.995,
            ..StreamSpec::default()
        },
    );
    let s = run.stats;
    assert!((10..=30).contains(&s.concealed), "{s:?}");
    assert_eq!(s.lost, 0, "{s:?}");
    assert!(run.played.len() >= 2990, "{}", run.played.len());
    let early = run.played[100..400].iter().map(|(_, d)| *d).max().unwrap();
    let late = run.played[run.played.len() - 300..]
        .iter()
        .map(|(_, d)| *d)
        .max()
        .unwrap();
    assert!(late <= early + MS20, "{early:?} → {late:?}");
}

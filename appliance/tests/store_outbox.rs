//! Behaviour of the appliance store: CDRs, outbox seqs, acks, overflow,
//! malformed payloads and schema versions.

// Helpers outside `#[test]` fns panic on broken fixtures on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use time::OffsetDateTime;
use time::macros::datetime;
use voip_appliance::store::{SCHEMA_VERSION, Store, StoreConfig, StoreError};
use voip_shared::mqtt::{
    Alarm, AlarmState, ApplianceId, CallRecord, CdrLeg, Codec, Decision, Disposition, EndpointKind,
    Event, EventKind, Gauges, Leg, LegDirection, LegSample, Message, PermissionDecision, Severity,
    TopicKind, TrunkState, TrunkStatus, decode,
};

const T0: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);

fn config(max_outbox_bytes: u64) -> StoreConfig {
    StoreConfig {
        appliance_id: ApplianceId::new("pi-amsterdam-01").unwrap(),
        max_outbox_bytes,
    }
}

fn memory() -> Store {
    Store::open_in_memory(config(u64::MAX)).unwrap()
}

/// A unique, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "voip-store-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("appliance.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cdr(call_id: &str, ended_min: i64) -> CallRecord {
    let started_at = T0 + time::Duration::minutes(ended_min) - time::Duration::seconds(95);
    CallRecord {
        call_id: call_id.into(),
        legs: vec![
            CdrLeg {
                leg: Leg::A,
                direction: LegDirection::Inbound,
                endpoint: EndpointKind::Extension,
                codec: Some(Codec::G722),
            },
            CdrLeg {
                leg: Leg::B,
                direction: LegDirection::Outbound,
                endpoint: EndpointKind::Trunk,
                codec: None,
            },
        ],
        caller: "+31201234567".into(),
        callee: "+31612345678".into(),
        trunk: Some("kpn-sip-1".into()),
        started_at,
        answered_at: Some(started_at + time::Duration::milliseconds(11_250)),
        ended_at: T0 + time::Duration::minutes(ended_min),
        duration_s: 95,
        billable_s: 83,
        disposition: Disposition::Answered,
        sip_cause: 200,
        permission: PermissionDecision {
            decision: Decision::Allowed,
            reason: "permission.class_allowed".into(),
        },
    }
}

fn sample(call_id: &str, leg: Leg) -> LegSample {
    LegSample {
        call_id: call_id.into(),
        leg,
        interval_start: T0,
        interval_end: T0 + time::Duration::seconds(10),
        packets_received: 498,
        packets_lost: Some(2),
        jitter_ms: Some(3.25),
        loss_fraction: Some(0.004),
        cumulative_lost: Some(2),
        burst_loss: Some(0.0),
        rtt_ms: Some(38.5),
        r_factor: Some(91.2),
        mos: Some(4.38),
        remote_loss_fraction: None,
        remote_jitter_ms: None,
        peer_xr: None,
        codec: Some(Codec::PCMA),
        last: false,
    }
}

fn samples(n: usize) -> Vec<LegSample> {
    (0..n)
        .map(|i| sample(&format!("c-{i}"), if i % 2 == 0 { Leg::A } else { Leg::B }))
        .collect()
}

fn gauges() -> Gauges {
    Gauges {
        active_calls: 3,
        registered_endpoints: 14,
        cpu_percent: 12.5,
        mem_used_bytes: 187_695_104,
        disk_free_bytes: 21_474_836_480,
        outbox_backlog: 0,
    }
}

fn alarm() -> EventKind {
    EventKind::Alarm(Alarm {
        code: "storage.disk_low".into(),
        severity: Severity::Warning,
        state: AlarmState::Raised,
        detail: None,
    })
}

fn trunk_down() -> EventKind {
    EventKind::TrunkState(TrunkState {
        trunk: "kpn-sip-1".into(),
        state: TrunkStatus::Down,
        detail: None,
    })
}

fn pending_seqs(store: &Store) -> Vec<u64> {
    store
        .pending(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect()
}

fn decode_event(payload: &[u8]) -> Event {
    match decode(TopicKind::Events, payload).unwrap() {
        Message::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

// ---------------------------------------------------------------- CDRs

#[test]
fn record_call_stores_the_cdr_and_enqueues_its_event() {
    let mut store = memory();
    let cdr = cdr("c-7f3a9e21", 5);
    let seq = store
        .record_call(T0 + time::Duration::minutes(6), &cdr)
        .unwrap();
    assert_eq!(seq, 1);

    assert_eq!(store.call("c-7f3a9e21").unwrap(), Some(cdr.clone()));
    let pending = store.pending(0, 10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].seq, seq);
    assert_eq!(pending[0].kind, TopicKind::Events);
    assert_eq!(pending[0].created_at, T0 + time::Duration::minutes(6));
    let event = decode_event(&pending[0].payload);
    assert_eq!(event.seq, seq);
    assert_eq!(event.appliance_id.as_str(), "pi-amsterdam-01");
    assert_eq!(
        event.ts, cdr.ended_at,
        "a CDR event is stamped with the call's end"
    );
    assert_eq!(event.event, EventKind::CallRecord(cdr));
}

#[test]
fn record_call_is_idempotent_on_call_id() {
    let mut store = memory();
    let first = cdr("c-1", 1);
    let seq = store.record_call(T0, &first).unwrap();

    let mut changed = first.clone();
    changed.disposition = Disposition::Failed;
    changed.billable_s = 0;
    let again = store
        .record_call(T0 + time::Duration::minutes(1), &changed)
        .unwrap();

    assert_eq!(again, seq);
    assert_eq!(pending_seqs(&store), vec![seq], "queued exactly once");
    assert_eq!(store.call("c-1").unwrap(), Some(first), "first record kept");
    assert_eq!(
        store.backlog().unwrap().next_seq,
        seq + 1,
        "no seq consumed"
    );
}

#[test]
fn record_calls_stores_a_batch_with_consecutive_seqs() {
    let mut store = memory();
    let (a, b) = (cdr("c-1", 1), cdr("c-2", 2));
    let seqs = store.record_calls(T0, &[&a, &b, &a]).unwrap();

    assert_eq!(
        seqs,
        vec![1, 2, 1],
        "a repeated call id keeps its first seq"
    );
    assert_eq!(pending_seqs(&store), vec![1, 2]);
    assert_eq!(store.call("c-1").unwrap(), Some(a));
    assert_eq!(store.call("c-2").unwrap(), Some(b));
    assert_eq!(store.backlog().unwrap().next_seq, 3);
}

#[test]
fn record_calls_stores_nothing_when_one_record_of_the_batch_fails() {
    let mut store = memory();
    let good = cdr("c-1", 1);
    let mut bad = cdr("c-2", 2);
    // Beyond what fits in i64 nanoseconds since the epoch.
    bad.ended_at = datetime!(2300-01-01 0:00 UTC);
    let error = store.record_calls(T0, &[&good, &bad]).unwrap_err();

    assert!(matches!(error, StoreError::OutOfRange { .. }), "{error:?}");
    assert_eq!(store.call("c-1").unwrap(), None, "rolled back");
    assert!(pending_seqs(&store).is_empty());
    assert_eq!(store.record_call(T0, &good).unwrap(), 1, "no seq consumed");
}

#[test]
fn recording_an_acknowledged_call_again_does_not_requeue_it() {
    let mut store = memory();
    let seq = store.record_call(T0, &cdr("c-1", 1)).unwrap();
    assert_eq!(store.ack(seq).unwrap(), 1);

    assert_eq!(store.record_call(T0, &cdr("c-1", 1)).unwrap(), seq);
    assert!(pending_seqs(&store).is_empty());
}

#[test]
fn cdr_fields_round_trip_including_unanswered_calls() {
    let mut store = memory();
    let mut unanswered = cdr("c-2", 3);
    unanswered.answered_at = None;
    unanswered.billable_s = 0;
    unanswered.trunk = None;
    unanswered.disposition = Disposition::NoAnswer;
    unanswered.sip_cause = 480;
    unanswered.permission = PermissionDecision {
        decision: Decision::Denied,
        reason: "permission.premium_denied".into(),
    };
    store.record_call(T0, &unanswered).unwrap();
    assert_eq!(store.call("c-2").unwrap(), Some(unanswered));
    assert_eq!(store.call("c-unknown").unwrap(), None);
}

#[test]
fn recent_calls_are_newest_first_and_limited() {
    let mut store = memory();
    for (id, ended) in [("c-b", 2), ("c-c", 3), ("c-a", 1)] {
        store.record_call(T0, &cdr(id, ended)).unwrap();
    }
    let ids = |calls: Vec<CallRecord>| calls.into_iter().map(|c| c.call_id).collect::<Vec<_>>();
    assert_eq!(ids(store.recent_calls(10).unwrap()), ["c-c", "c-b", "c-a"]);
    assert_eq!(ids(store.recent_calls(2).unwrap()), ["c-c", "c-b"]);
    assert!(store.recent_calls(0).unwrap().is_empty());
}

#[test]
fn a_call_record_event_goes_through_record_call() {
    let mut store = memory();
    let seq = store
        .enqueue_event(T0, EventKind::CallRecord(cdr("c-1", 1)))
        .unwrap();
    assert!(store.call("c-1").unwrap().is_some());
    assert_eq!(
        store
            .enqueue_event(T0, EventKind::CallRecord(cdr("c-1", 1)))
            .unwrap(),
        seq
    );
    assert_eq!(pending_seqs(&store), [seq]);
}

// ---------------------------------------------------------------- seqs

#[test]
fn telemetry_and_events_share_one_strictly_increasing_sequence() {
    use TopicKind::{Events as E, Telemetry as T};
    let mut store = memory();
    let seqs = [
        store.enqueue_telemetry(T0, samples(2), gauges()).unwrap(),
        store.enqueue_event(T0, alarm()).unwrap(),
        store.record_call(T0, &cdr("c-1", 1)).unwrap(),
        store.enqueue_telemetry(T0, vec![], gauges()).unwrap(),
        store.enqueue_event(T0, trunk_down()).unwrap(),
    ];
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let kinds: Vec<_> = store
        .pending(0, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, [T, E, E, T, E]);
}

#[test]
fn every_payload_carries_its_own_seq_and_appliance() {
    let mut store = memory();
    store.enqueue_event(T0, alarm()).unwrap();
    store.enqueue_telemetry(T0, samples(3), gauges()).unwrap();
    for record in store.pending(0, 10).unwrap() {
        let message = decode(record.kind, &record.payload).unwrap();
        assert_eq!(message.seq(), Some(record.seq));
        assert_eq!(message.appliance_id().unwrap().as_str(), "pi-amsterdam-01");
    }
    let telemetry = store.pending(1, 1).unwrap();
    let Message::Telemetry(t) = decode(TopicKind::Telemetry, &telemetry[0].payload).unwrap() else {
        panic!("not telemetry");
    };
    assert_eq!(t.samples, samples(3));
    assert_eq!(t.gauges, gauges());
    assert_eq!(t.ts, T0);
}

#[test]
fn a_seq_is_never_reused_after_its_record_was_acknowledged() {
    let mut store = memory();
    store.enqueue_event(T0, alarm()).unwrap();
    store.enqueue_event(T0, alarm()).unwrap();
    assert_eq!(store.ack(2).unwrap(), 2);
    assert_eq!(store.enqueue_event(T0, alarm()).unwrap(), 3);
}

#[test]
fn seq_keeps_increasing_across_restarts() {
    let dir = TempDir::new("restart");
    {
        let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
        for _ in 0..3 {
            store.enqueue_event(T0, alarm()).unwrap();
        }
        store.ack(3).unwrap();
    }
    let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    assert_eq!(store.backlog().unwrap().highest_acked, 3);
    assert_eq!(store.enqueue_telemetry(T0, vec![], gauges()).unwrap(), 4);
    drop(store);
    let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    assert_eq!(store.enqueue_event(T0, alarm()).unwrap(), 5);
    assert_eq!(pending_seqs(&store), [4, 5]);
}

#[test]
fn a_failed_enqueue_consumes_no_seq_and_writes_nothing() {
    let mut store = memory();
    let mut bad = samples(1);
    bad[0].jitter_ms = Some(f64::NAN);
    assert!(matches!(
        store.enqueue_telemetry(T0, bad, gauges()),
        Err(StoreError::Encode(_))
    ));
    assert!(matches!(
        store.enqueue_event(T0, EventKind::Unknown),
        Err(StoreError::UnknownEvent)
    ));
    assert!(pending_seqs(&store).is_empty());
    assert_eq!(store.enqueue_event(T0, alarm()).unwrap(), 1);
}

// ---------------------------------------------------------------- pending

#[test]
fn pending_pages_in_seq_order_after_a_seq() {
    let mut store = memory();
    for _ in 0..7 {
        store.enqueue_event(T0, alarm()).unwrap();
    }
    let page = |after, limit| {
        store
            .pending(after, limit)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(0, 3), [1, 2, 3]);
    assert_eq!(page(3, 3), [4, 5, 6]);
    assert_eq!(page(6, 3), [7]);
    assert!(page(7, 3).is_empty());
    assert!(page(u64::MAX, 3).is_empty());
    assert!(page(0, 0).is_empty());
}

#[test]
fn mark_published_counts_attempts_of_a_range() {
    let mut store = memory();
    for _ in 0..3 {
        store.enqueue_event(T0, alarm()).unwrap();
    }
    store.mark_published(1, 2).unwrap();
    store.mark_published(2, 3).unwrap();
    let attempts: Vec<_> = store
        .pending(0, 10)
        .unwrap()
        .iter()
        .map(|r| r.attempts)
        .collect();
    assert_eq!(attempts, [1, 2, 1]);
}

// ---------------------------------------------------------------- acks

#[test]
fn ack_deletes_exactly_the_records_up_to_the_acknowledged_seq() {
    struct Case {
        name: &'static str,
        acks: &'static [u64],
        deleted: &'static [u64],
        left: &'static [u64],
        highest_acked: u64,
    }
    let cases = [
        Case {
            name: "partial",
            acks: &[3],
            deleted: &[3],
            left: &[4, 5],
            highest_acked: 3,
        },
        Case {
            name: "zero",
            acks: &[0],
            deleted: &[0],
            left: &[1, 2, 3, 4, 5],
            highest_acked: 0,
        },
        Case {
            name: "exact end",
            acks: &[5],
            deleted: &[5],
            left: &[],
            highest_acked: 5,
        },
        Case {
            name: "beyond the highest enqueued is clamped",
            acks: &[1_000],
            deleted: &[5],
            left: &[],
            highest_acked: 5,
        },
        Case {
            name: "u64::MAX is clamped",
            acks: &[u64::MAX],
            deleted: &[5],
            left: &[],
            highest_acked: 5,
        },
        Case {
            name: "cumulative",
            acks: &[2, 4],
            deleted: &[2, 2],
            left: &[5],
            highest_acked: 4,
        },
        Case {
            name: "stale and duplicate acks are ignored",
            acks: &[4, 2, 4],
            deleted: &[4, 0, 0],
            left: &[5],
            highest_acked: 4,
        },
    ];
    for case in cases {
        let mut store = memory();
        for _ in 0..5 {
            store.enqueue_event(T0, alarm()).unwrap();
        }
        let deleted: Vec<u64> = case.acks.iter().map(|&a| store.ack(a).unwrap()).collect();
        assert_eq!(deleted, case.deleted, "{}", case.name);
        assert_eq!(pending_seqs(&store), case.left, "{}", case.name);
        let backlog = store.backlog().unwrap();
        assert_eq!(backlog.highest_acked, case.highest_acked, "{}", case.name);
        assert_eq!(backlog.records, case.left.len() as u64, "{}", case.name);
    }
}

#[test]
fn a_clamped_ack_never_deletes_records_enqueued_after_it() {
    let mut store = memory();
    for _ in 0..3 {
        store.enqueue_event(T0, alarm()).unwrap();
    }
    assert_eq!(store.ack(10).unwrap(), 3);
    let later = [
        store.enqueue_event(T0, alarm()).unwrap(),
        store.enqueue_telemetry(T0, samples(1), gauges()).unwrap(),
    ];
    assert_eq!(later, [4, 5]);
    // The same (replayed) ack must not reach the new records.
    assert_eq!(store.ack(3).unwrap(), 0);
    assert_eq!(pending_seqs(&store), [4, 5]);
    assert_eq!(store.ack(4).unwrap(), 1);
    assert_eq!(pending_seqs(&store), [5]);
}

#[test]
fn ack_on_an_empty_outbox_deletes_nothing() {
    let mut store = memory();
    assert_eq!(store.ack(7).unwrap(), 0);
    assert_eq!(store.backlog().unwrap().highest_acked, 0);
    assert_eq!(store.enqueue_event(T0, alarm()).unwrap(), 1);
    assert_eq!(pending_seqs(&store), [1]);
}

// ---------------------------------------------------------------- backlog

#[test]
fn backlog_reports_records_bytes_and_the_oldest_creation_time() {
    let mut store = memory();
    let empty = store.backlog().unwrap();
    assert_eq!(
        (empty.records, empty.bytes, empty.oldest_created_at),
        (0, 0, None)
    );
    assert_eq!(empty.next_seq, 1);

    let t1 = T0 + time::Duration::seconds(1);
    let t2 = T0 + time::Duration::seconds(2);
    store.enqueue_event(t1, alarm()).unwrap();
    store.enqueue_telemetry(t2, samples(2), gauges()).unwrap();
    let pending = store.pending(0, 10).unwrap();
    let bytes: usize = pending.iter().map(|r| r.payload.len()).sum();

    let backlog = store.backlog().unwrap();
    assert_eq!(backlog.records, 2);
    assert_eq!(backlog.bytes, bytes as u64);
    assert_eq!(backlog.oldest_created_at, Some(t1));
    assert!(!backlog.over_limit);

    store.ack(1).unwrap();
    let backlog = store.backlog().unwrap();
    assert_eq!(backlog.records, 1);
    assert_eq!(backlog.bytes, pending[1].payload.len() as u64);
    assert_eq!(backlog.oldest_created_at, Some(t2));
}

// ---------------------------------------------------------------- overflow

/// Enqueues the same mix into `store`: telemetry, CDR, telemetry, alarm,
/// telemetry. Returns the seqs.
fn enqueue_mix(store: &mut Store) -> Vec<u64> {
    vec![
        store.enqueue_telemetry(T0, samples(20), gauges()).unwrap(),
        store.record_call(T0, &cdr("c-1", 1)).unwrap(),
        store.enqueue_telemetry(T0, samples(20), gauges()).unwrap(),
        store.enqueue_event(T0, alarm()).unwrap(),
        store.enqueue_telemetry(T0, samples(20), gauges()).unwrap(),
    ]
}

#[test]
fn overflow_drops_the_samples_of_the_oldest_telemetry_only() {
    let mut unbounded = memory();
    enqueue_mix(&mut unbounded);
    let full = unbounded.pending(0, 10).unwrap();
    let total = unbounded.backlog().unwrap().bytes;

    // One byte too little: thinning the oldest telemetry record is enough.
    let mut store = Store::open_in_memory(config(total - 1)).unwrap();
    assert_eq!(enqueue_mix(&mut store), [1, 2, 3, 4, 5]);
    let bounded = store.pending(0, 10).unwrap();

    assert_eq!(
        bounded.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "no seq is deleted: the cloud's contiguous ack must not stall"
    );
    for (kept, original) in bounded.iter().zip(&full) {
        match (kept.seq, kept.kind) {
            (1, TopicKind::Telemetry) => {
                let Message::Telemetry(t) = decode(kept.kind, &kept.payload).unwrap() else {
                    panic!("seq 1 is not telemetry");
                };
                assert!(t.samples.is_empty(), "oldest telemetry lost its samples");
                assert_eq!((t.seq, t.gauges), (1, gauges()), "and kept seq and gauges");
            }
            _ => assert_eq!(kept.payload, original.payload, "seq {} untouched", kept.seq),
        }
    }
    let backlog = store.backlog().unwrap();
    assert_eq!((backlog.thinned_records, backlog.dropped_samples), (1, 20));
    assert!(backlog.bytes < total);
    assert!(!backlog.over_limit);
}

#[test]
fn overflow_thins_telemetry_oldest_first_until_it_fits() {
    let mut store = Store::open_in_memory(config(1)).unwrap();
    enqueue_mix(&mut store);
    let backlog = store.backlog().unwrap();
    assert_eq!((backlog.thinned_records, backlog.dropped_samples), (3, 60));
    assert!(
        backlog.over_limit,
        "only events and thinned telemetry are left"
    );
    for record in store.pending(0, 10).unwrap() {
        match decode(record.kind, &record.payload).unwrap() {
            Message::Telemetry(t) => assert!(t.samples.is_empty()),
            Message::Event(e) => assert!(matches!(
                e.event,
                EventKind::CallRecord(_) | EventKind::Alarm(_)
            )),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn events_are_never_dropped_even_far_over_the_limit() {
    let mut store = Store::open_in_memory(config(10)).unwrap();
    let mut seqs = vec![];
    for i in 0..20 {
        seqs.push(store.record_call(T0, &cdr(&format!("c-{i}"), i)).unwrap());
        seqs.push(store.enqueue_event(T0, alarm()).unwrap());
    }
    assert_eq!(pending_seqs(&store), seqs);
    let backlog = store.backlog().unwrap();
    assert!(backlog.over_limit);
    assert_eq!(backlog.records, 40);
    assert_eq!(backlog.thinned_records, 0);
    assert_eq!(store.recent_calls(100).unwrap().len(), 20);
}

// ---------------------------------------------------------------- malformed data

#[test]
fn a_payload_that_no_longer_decodes_is_returned_as_is_and_acked_like_any_other() {
    let dir = TempDir::new("malformed");
    let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    store.enqueue_event(T0, alarm()).unwrap();
    store.enqueue_telemetry(T0, samples(2), gauges()).unwrap();
    store.enqueue_event(T0, trunk_down()).unwrap();

    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute(
        "UPDATE outbox SET payload = x'7b2273636865' WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(raw);

    let pending = store.pending(0, 10).unwrap();
    assert_eq!(pending.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(pending[1].payload, b"{\"sche");
    assert_eq!(pending[1].kind, TopicKind::Telemetry);
    assert!(decode(TopicKind::Telemetry, &pending[1].payload).is_err());
    assert_eq!(store.ack(3).unwrap(), 3);
    assert!(pending_seqs(&store).is_empty());
}

#[test]
fn overflow_skips_a_telemetry_payload_that_no_longer_decodes() {
    let dir = TempDir::new("malformed-overflow");
    let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    store.enqueue_telemetry(T0, samples(5), gauges()).unwrap();
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute("UPDATE outbox SET payload = x'00ff' WHERE seq = 1", [])
        .unwrap();
    drop(raw);
    drop(store);

    let mut store = Store::open(dir.db(), config(1)).unwrap();
    let seq = store.enqueue_telemetry(T0, samples(5), gauges()).unwrap();
    assert_eq!(seq, 2);
    let pending = store.pending(0, 10).unwrap();
    assert_eq!(pending[0].payload, [0x00, 0xff], "left as it was");
    let backlog = store.backlog().unwrap();
    assert_eq!((backlog.thinned_records, backlog.dropped_samples), (1, 5));
}

// ---------------------------------------------------------------- schema

#[test]
fn a_database_from_a_newer_schema_is_refused_and_left_untouched() {
    let dir = TempDir::new("newer");
    {
        let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
        store.record_call(T0, &cdr("c-1", 1)).unwrap();
    }
    let newer = SCHEMA_VERSION + 1;
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.pragma_update(None, "user_version", newer).unwrap();
    drop(raw);
    let before = std::fs::read(dir.db()).unwrap();

    match Store::open(dir.db(), config(u64::MAX)) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (newer, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }

    assert_eq!(std::fs::read(dir.db()).unwrap(), before, "file unchanged");
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let calls: i64 = raw
        .query_row("SELECT count(*) FROM call_records", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, calls), (newer, 1));
}

#[test]
fn opening_sets_wal_and_the_current_schema_and_reopening_keeps_the_data() {
    let dir = TempDir::new("reopen");
    let mut store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    store.record_call(T0, &cdr("c-1", 1)).unwrap();
    drop(store);

    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(raw);

    let store = Store::open(dir.db(), config(u64::MAX)).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.call("c-1").unwrap(), Some(cdr("c-1", 1)));
    store.check_integrity().unwrap();
}

//! Quality samples in the appliance store: kept with unknown values as
//! `null`, listed per call, and moved into one `telemetry` outbox record
//! with the gauges in one transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use time::OffsetDateTime;
use time::macros::datetime;
use voip_appliance::store::{MAX_SAMPLES_PER_BATCH, Store, StoreConfig};
use voip_shared::mqtt::{ApplianceId, Codec, Gauges, Leg, LegSample, Message, TopicKind, decode};

const T0: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);

fn store() -> Store {
    Store::open_in_memory(StoreConfig::new(ApplianceId::new("pi-test").unwrap())).unwrap()
}

fn sample(call_id: &str, leg: Leg, i: i64) -> LegSample {
    LegSample {
        call_id: call_id.into(),
        leg,
        interval_start: T0 + time::Duration::seconds(5 * i),
        interval_end: T0 + time::Duration::seconds(5 * i + 5),
        packets_received: 250,
        packets_lost: Some(0),
        jitter_ms: Some(1.5),
        loss_fraction: Some(0.0),
        cumulative_lost: Some(0),
        burst_loss: Some(0.0),
        // No RTCP from this peer: unknown, so no MOS either.
        rtt_ms: None,
        r_factor: None,
        mos: None,
        remote_loss_fraction: None,
        remote_jitter_ms: None,
        peer_xr: None,
        codec: Some(Codec::PCMA),
        last: false,
    }
}

fn gauges() -> Gauges {
    Gauges {
        active_calls: 1,
        registered_endpoints: 2,
        cpu_percent: 3.0,
        mem_used_bytes: 4,
        disk_free_bytes: 5,
        outbox_backlog: 0,
    }
}

#[test]
fn samples_are_kept_per_call_with_unknowns_as_null() {
    let mut s = store();
    s.record_quality_sample(T0, &sample("c-1", Leg::A, 0))
        .unwrap();
    s.record_quality_sample(T0, &sample("c-2", Leg::A, 0))
        .unwrap();
    s.record_quality_sample(T0, &sample("c-1", Leg::B, 1))
        .unwrap();
    let c1 = s.quality_samples(Some("c-1")).unwrap();
    assert_eq!(c1, vec![sample("c-1", Leg::A, 0), sample("c-1", Leg::B, 1)]);
    assert_eq!(s.quality_samples(None).unwrap().len(), 3);
    assert_eq!(c1[0].rtt_ms, None);
    assert_eq!(c1[0].mos, None);
}

#[test]
fn waiting_samples_move_into_one_telemetry_record() {
    let mut s = store();
    assert_eq!(s.enqueue_quality_telemetry(T0, gauges()).unwrap(), None);
    for i in 0..3 {
        s.record_quality_sample(T0, &sample("c-1", Leg::A, i))
            .unwrap();
    }
    let seq = s.enqueue_quality_telemetry(T0, gauges()).unwrap().unwrap();
    assert!(s.quality_samples(None).unwrap().is_empty());
    let records = s.pending(0, 10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].seq, records[0].kind),
        (seq, TopicKind::Telemetry)
    );
    let json: serde_json::Value = serde_json::from_slice(&records[0].payload).unwrap();
    assert!(json["samples"][0]["rtt_ms"].is_null());
    assert!(json["samples"][0]["mos"].is_null());
    let Message::Telemetry(t) = decode(TopicKind::Telemetry, &records[0].payload).unwrap() else {
        panic!("not telemetry")
    };
    assert_eq!(t.samples.len(), 3);
    assert_eq!(t.samples[2], sample("c-1", Leg::A, 2));
    assert_eq!(t.gauges, gauges());
}

#[test]
fn a_batch_holds_at_most_the_limit_and_the_rest_waits() {
    let mut s = store();
    for i in 0..=i64::try_from(MAX_SAMPLES_PER_BATCH).unwrap() {
        s.record_quality_sample(T0, &sample("c-1", Leg::B, i))
            .unwrap();
    }
    s.enqueue_quality_telemetry(T0, gauges()).unwrap().unwrap();
    assert_eq!(s.quality_samples(None).unwrap().len(), 1);
    s.enqueue_quality_telemetry(T0, gauges()).unwrap().unwrap();
    assert!(s.quality_samples(None).unwrap().is_empty());
    assert_eq!(s.pending(0, 10).unwrap().len(), 2);
}

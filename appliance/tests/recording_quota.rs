//! Retention and the disk quota through the shell: the retention job
//! deletes expired recordings, then the oldest first while over the quota
//! or under the free-space floor; each deletion removes the file and the
//! index row and queues a `recording_deleted` event in the outbox. The
//! recording service keeps free space above the floor on a simulated small
//! disk (free space = capacity minus the files in the directory): it
//! deletes the oldest recordings to make room for a recording's last
//! batch, cuts a recording that cannot fit, and refuses new ones.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod recording_support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use recording_support::{TempDir, tone};
use time::OffsetDateTime;
use voip_appliance::recording::retention::Limits;
use voip_appliance::recording::service::{PcmFrame, ServiceError, StartRequest, enforce};
use voip_appliance::recording::{Party, RecordingService, ServiceConfig};
use voip_appliance::store::{NewRecording, RecordingState, Store, StoreConfig};
use voip_shared::mqtt::{DeletionReason, EventKind, Message, decode};
use voip_shared::site_config::RecordingFormat;

fn store(dir: &Path) -> Store {
    Store::open(
        dir.join("appliance.db"),
        StoreConfig::new(voip_shared::mqtt::ApplianceId::new("pi-test-01").unwrap()),
    )
    .unwrap()
}

/// Indexes a finished recording of `bytes` bytes that started `age` ago,
/// with a file of that size.
fn seed(store: &mut Store, rec_dir: &Path, id: &str, age: time::Duration, bytes: u64) {
    std::fs::create_dir_all(rec_dir).unwrap();
    let path = format!("{id}.wav");
    std::fs::write(rec_dir.join(&path), vec![0u8; bytes as usize]).unwrap();
    let now = OffsetDateTime::now_utc();
    store
        .insert_recording(&NewRecording {
            id: id.into(),
            call_id: format!("call-{id}"),
            path,
            format: RecordingFormat::Wav,
            sample_rate: 8000,
            started_at: now - age,
            retention_days: 30,
            encrypted: false,
        })
        .unwrap();
    store
        .finish_recording(id, RecordingState::Complete, 1000, bytes, Some("00"), now)
        .unwrap();
}

/// The `recording_deleted` events in the outbox, in order.
fn deleted_events(store: &Store) -> Vec<(String, DeletionReason)> {
    store
        .pending(0, 1000)
        .unwrap()
        .into_iter()
        .filter_map(|r| match decode(r.kind, &r.payload).unwrap() {
            Message::Event(e) => match e.event {
                EventKind::RecordingDeleted(d) => Some((d.recording_id, d.reason)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

#[test]
fn retention_job_deletes_expired_then_oldest_first_for_quota_and_floor() {
    let dir = TempDir::new("enforce");
    let rec_dir = dir.path().join("recordings");
    let mut db = store(dir.path());
    // Seeded out of order on purpose.
    seed(&mut db, &rec_dir, "d-8", days(8), 1000);
    seed(&mut db, &rec_dir, "a-40", days(40), 1000);
    seed(&mut db, &rec_dir, "c-9", days(9), 1000);
    seed(&mut db, &rec_dir, "e-7", days(7), 1000);
    seed(&mut db, &rec_dir, "b-10", days(10), 1000);
    // One being written: listed as active, never deleted even though it is
    // the oldest of all.
    seed(&mut db, &rec_dir, "live-50", days(50), 1000);
    let active = HashMap::from([("live-50".to_owned(), 1000u64)]);

    // 6000 bytes against a quota of 3000; nothing free, floor 4000: after
    // the expired one and two for the quota, one more for the floor.
    let limits = Limits {
        quota_bytes: 3000,
        min_free_bytes: 4000,
    };
    let plan = enforce(
        &mut db,
        &rec_dir,
        limits,
        0,
        &active,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let expected = [
        ("a-40", DeletionReason::Age),
        ("b-10", DeletionReason::Quota),
        ("c-9", DeletionReason::Quota),
        ("d-8", DeletionReason::DiskFloor),
    ];
    let got: Vec<(&str, DeletionReason)> = plan
        .deletions
        .iter()
        .map(|d| (d.id.as_str(), d.reason))
        .collect();
    assert_eq!(got, expected);
    assert!(!plan.short);
    for (id, _) in expected {
        assert!(
            !rec_dir.join(format!("{id}.wav")).exists(),
            "{id} file deleted"
        );
        assert!(db.recording(id).unwrap().is_none(), "{id} row deleted");
    }
    for id in ["e-7", "live-50"] {
        assert!(rec_dir.join(format!("{id}.wav")).exists(), "{id} kept");
        assert!(db.recording(id).unwrap().is_some());
    }
    assert_eq!(
        deleted_events(&db),
        expected
            .iter()
            .map(|(id, r)| ((*id).to_owned(), *r))
            .collect::<Vec<_>>()
    );
    // A second run has nothing left to do.
    let again = enforce(
        &mut db,
        &rec_dir,
        limits,
        4000,
        &active,
        OffsetDateTime::now_utc(),
    );
    assert!(again.unwrap().deletions.is_empty());
}

/// The simulated disk of the service test: free = capacity - files.
static CAPACITY: AtomicU64 = AtomicU64::new(0);

fn simulated_free(dir: &Path) -> std::io::Result<u64> {
    let used: u64 = std::fs::read_dir(dir)?
        .map(|e| e.and_then(|e| e.metadata()).map_or(0, |m| m.len()))
        .sum();
    Ok(CAPACITY.load(Ordering::SeqCst).saturating_sub(used))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

const KB: u64 = 1024;

fn request() -> StartRequest {
    StartRequest {
        call_id: "call-floor".into(),
        // 16 kHz stereo PCM: 64 KB per second.
        format: RecordingFormat::Wav,
        sample_rate: 16_000,
        retention_days: 30,
    }
}

fn push_seconds(rec: &voip_appliance::recording::RecorderHandle, seconds: u64) {
    let t0 = Instant::now();
    for n in 0..seconds * 50 {
        let at = t0 + Duration::from_millis(20 * n);
        for party in [Party::A, Party::B] {
            let frame = PcmFrame {
                at,
                samples: tone(440.0, 16_000, n),
            };
            assert!(rec.push(party, frame));
        }
    }
}

#[test]
fn the_service_never_lets_recordings_push_free_space_under_the_floor() {
    let dir = TempDir::new("floor");
    let rec_dir = dir.path().join("recordings");
    let mut db = store(dir.path());
    for (i, id) in (0i64..).zip(["old-1", "old-2", "old-3", "old-4"]) {
        seed(&mut db, &rec_dir, id, days(20 - i), 400 * KB);
    }
    drop(db);
    // 3 MiB disk, 1.6 MiB used by old recordings: 1.4 MiB free, floor 1 MiB.
    CAPACITY.store(3 * 1024 * KB, Ordering::SeqCst);
    let floor = 1024 * KB;
    let mut config = ServiceConfig::new(rec_dir.clone());
    config.limits = Limits {
        quota_bytes: 100 * 1024 * KB,
        min_free_bytes: floor,
    };
    config.free_space = simulated_free;
    config.batch.interval = Duration::from_hours(1); // one write at the end
    let service = RecordingService::start(config, store(dir.path())).unwrap();
    let handle = service.handle();

    // 10 s of WAV (640 KiB) does not fit above the floor (1.4 - 0.64 < 1):
    // the oldest recording is deleted to make room, and only that one.
    let rec = handle.start_recording(request()).unwrap();
    push_seconds(&rec, 10);
    let finished = rec.stop().unwrap();
    assert!(finished.duration_ms >= 10_000, "{finished:?}");
    let free = simulated_free(&rec_dir).unwrap();
    assert!(free >= floor, "free {free} under the floor {floor}");
    let db = store(dir.path());
    assert!(db.recording("old-1").unwrap().is_none(), "oldest deleted");
    for id in ["old-2", "old-3", "old-4"] {
        assert!(db.recording(id).unwrap().is_some(), "{id} kept");
    }
    assert_eq!(
        deleted_events(&db),
        [("old-1".to_owned(), DeletionReason::DiskFloor)]
    );

    // The disk fills up from elsewhere (free space 0): deleting every
    // finished recording, oldest first, still cannot keep the floor for a
    // recording's last batch, so the recording is cut to what was on disk
    // (nothing after its header).
    let rec = handle.start_recording(request()).unwrap();
    CAPACITY.store(
        dir_bytes(&rec_dir).saturating_sub(500 * KB),
        Ordering::SeqCst,
    );
    push_seconds(&rec, 10);
    let cut = rec.stop().unwrap();
    assert_eq!(cut.duration_ms, 0, "nothing written under the floor");
    assert!(cut.bytes <= 64, "{cut:?}");
    let db = store(dir.path());
    let events = deleted_events(&db);
    let ids: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        &ids[..4],
        ["old-1", "old-2", "old-3", "old-4"],
        "oldest first"
    );
    assert!(events.iter().all(|(_, r)| *r == DeletionReason::DiskFloor));
    // New recordings are refused while there is no room ...
    CAPACITY.store(500 * KB, Ordering::SeqCst);
    assert!(matches!(
        handle.start_recording(request()),
        Err(ServiceError::QuotaExceeded)
    ));
    // ... and accepted again once there is.
    CAPACITY.store(dir_bytes(&rec_dir) + 100 * 1024 * KB, Ordering::SeqCst);
    let rec = handle.start_recording(request()).unwrap();
    assert!(rec.stop().is_ok());
    service.shutdown();
}

//! Crash safety of the appliance store: every committed record survives a
//! crash (a copy of the files taken mid-WAL, a connection never closed, a
//! writer process killed with SIGKILL), and the database stays intact.

// Helpers outside `#[test]` fns panic on broken fixtures on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use time::OffsetDateTime;
use time::macros::datetime;
use voip_appliance::store::{Store, StoreConfig};
use voip_shared::mqtt::{
    ApplianceId, CallRecord, Codec, Decision, Disposition, Gauges, Leg, LegSample,
    PermissionDecision,
};

const T0: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);
/// Set (to the database path) in the child process that plays the writer.
const WRITER_ENV: &str = "VOIP_STORE_CRASH_WRITER";
/// Committed records the parent waits for before killing the writer.
const KILL_AFTER: usize = 200;
/// Upper bound of the writer's loop, in case nobody kills it.
const WRITER_MAX: u64 = 100_000;

fn config() -> StoreConfig {
    StoreConfig::new(ApplianceId::new("pi-amsterdam-01").unwrap())
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

fn cdr(i: u64) -> CallRecord {
    CallRecord {
        call_id: format!("c-{i}"),
        legs: vec![],
        caller: "201".into(),
        callee: "+31612345678".into(),
        trunk: Some("kpn-sip-1".into()),
        started_at: T0,
        answered_at: None,
        ended_at: T0 + time::Duration::seconds(i.cast_signed()),
        duration_s: i,
        billable_s: 0,
        disposition: Disposition::Cancelled,
        sip_cause: 487,
        permission: PermissionDecision {
            decision: Decision::Allowed,
            reason: "permission.class_allowed".into(),
        },
    }
}

fn sample(i: u64) -> LegSample {
    LegSample {
        call_id: format!("c-{i}"),
        leg: Leg::A,
        interval_start: T0,
        interval_end: T0 + time::Duration::seconds(10),
        packets_received: 500,
        packets_lost: Some(i % 7),
        jitter_ms: Some(2.0),
        loss_fraction: Some(0.0),
        cumulative_lost: None,
        remote_loss_fraction: None,
        remote_jitter_ms: None,
        peer_xr: None,
        last: false,
        burst_loss: None,
        rtt_ms: None,
        r_factor: None,
        mos: None,
        codec: Some(Codec::OPUS),
    }
}

fn gauges() -> Gauges {
    Gauges {
        active_calls: 1,
        registered_endpoints: 2,
        cpu_percent: 5.0,
        mem_used_bytes: 1 << 20,
        disk_free_bytes: 1 << 30,
        outbox_backlog: 0,
    }
}

/// Writes record `i`: every third one a CDR, the others telemetry. Returns
/// its seq and, for a CDR, the call id.
fn write_one(store: &mut Store, i: u64) -> (u64, Option<String>) {
    let now = T0 + time::Duration::seconds(i.cast_signed());
    if i.is_multiple_of(3) {
        let cdr = cdr(i);
        (store.record_call(now, &cdr).unwrap(), Some(cdr.call_id))
    } else {
        (
            store
                .enqueue_telemetry(now, vec![sample(i)], gauges())
                .unwrap(),
            None,
        )
    }
}

fn assert_seqs_contiguous(store: &Store) -> Vec<u64> {
    let seqs: Vec<u64> = store
        .pending(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "committed seqs have no gaps");
    seqs
}

fn copy_if_exists(from: &Path, to: &Path) {
    if from.exists() {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn a_copy_of_the_files_taken_mid_wal_holds_every_committed_record() {
    let dir = TempDir::new("copy-mid-wal");
    let copy = TempDir::new("copy-mid-wal-target");
    let mut store = Store::open(dir.db(), config()).unwrap();
    let mut calls = vec![];
    for i in 1..=60 {
        if let (_, Some(call_id)) = write_one(&mut store, i) {
            calls.push(call_id);
        }
    }
    let wal = dir.0.join("appliance.db-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "records are still in the WAL"
    );
    // The image a power cut would leave: database and WAL, no shared memory
    // index, the writer's connection still open.
    std::fs::copy(dir.db(), copy.db()).unwrap();
    copy_if_exists(&wal, &copy.0.join("appliance.db-wal"));

    let recovered = Store::open(copy.db(), config()).unwrap();
    assert_eq!(assert_seqs_contiguous(&recovered).len(), 60);
    for call_id in &calls {
        assert!(recovered.call(call_id).unwrap().is_some(), "{call_id}");
    }
    recovered.check_integrity().unwrap();
    drop(store);
}

#[test]
fn records_survive_a_connection_that_is_never_closed() {
    let dir = TempDir::new("never-closed");
    let mut store = Store::open(dir.db(), config()).unwrap();
    for i in 1..=30 {
        write_one(&mut store, i);
    }
    store.ack(5).unwrap();
    // No clean close: no final checkpoint, the WAL is left as it is.
    std::mem::forget(store);

    let mut reopened = Store::open(dir.db(), config()).unwrap();
    let pending: Vec<u64> = reopened
        .pending(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(pending, (6..=30).collect::<Vec<_>>());
    assert_eq!(reopened.call("c-30").unwrap(), Some(cdr(30)));
    assert_eq!(write_one(&mut reopened, 31).0, 31, "seq continues");
    reopened.check_integrity().unwrap();
}

/// The child's role in [`sigkill_mid_write_loop_loses_no_committed_record`]:
/// write records as fast as possible and report each one after its commit.
fn run_writer(db: &Path) {
    let mut store = Store::open(db, config()).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 1..=WRITER_MAX {
        let (seq, call_id) = write_one(&mut store, i);
        writeln!(out, "committed {seq} {}", call_id.as_deref().unwrap_or("-")).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_mid_write_loop_loses_no_committed_record() {
    if let Some(db) = std::env::var_os(WRITER_ENV) {
        run_writer(Path::new(&db));
        return;
    }
    let dir = TempDir::new("sigkill");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_mid_write_loop_loses_no_committed_record",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, dir.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    let mut reported: Vec<(u64, Option<String>)> = vec![];
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest may print its own text before ours on the same line.
    let parse = |line: String, reported: &mut Vec<_>| {
        if let Some((_, report)) = line.split_once("committed ") {
            let mut words = report.split_whitespace();
            let seq: u64 = words.next().unwrap().parse().unwrap();
            let call_id = words.next().filter(|w| *w != "-").map(str::to_owned);
            reported.push((seq, call_id));
        }
    };
    while reported.len() < KILL_AFTER {
        let Some(line) = lines.next() else {
            panic!("writer stopped after {} records", reported.len());
        };
        parse(line.unwrap(), &mut reported);
    }
    child.kill().unwrap(); // SIGKILL on Unix.
    let status = child.wait().unwrap();
    // Lines already in the pipe were printed after their commit, too.
    for line in lines {
        parse(line.unwrap(), &mut reported);
    }
    assert!(
        !status.success(),
        "the writer was killed mid-loop: {status}"
    );

    let store = Store::open(dir.db(), config()).unwrap();
    store.check_integrity().unwrap();
    let present: BTreeSet<u64> = assert_seqs_contiguous(&store).into_iter().collect();
    let reported_seqs: Vec<u64> = reported.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        reported_seqs,
        (1..=reported.len() as u64).collect::<Vec<_>>(),
        "the writer reported every seq in order"
    );
    for (seq, call_id) in &reported {
        assert!(present.contains(seq), "committed seq {seq} lost");
        if let Some(call_id) = call_id {
            assert!(store.call(call_id).unwrap().is_some(), "{call_id} lost");
        }
    }
    // At most the one record being written when the kill came may be
    // committed without having been reported.
    assert!(present.len() <= reported.len() + 1);
    println!(
        "sigkill: {} records reported, {} present after reopen",
        reported.len(),
        present.len()
    );
}

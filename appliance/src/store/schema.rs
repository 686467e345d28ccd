//! Schema migrations, versioned with `PRAGMA user_version`.
//!
//! Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
//! Migrations are append-only: a released migration is never edited, a
//! change is a new entry. All pending migrations run in one `IMMEDIATE`
//! transaction together with the `user_version` update, so a crash leaves
//! either the old or the new schema, never a mix.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Version 1: outbox, its counters and the call records.
///
/// - `outbox_state` is a single row. `next_seq` is the next record sequence
///   number: it is taken and incremented in the transaction that inserts the
///   record, so a seq is never reused, even after its row was acknowledged
///   and deleted, and a rolled-back insert consumes none. `records` and
///   `bytes` are kept by triggers so the overflow check needs no scan.
/// - `outbox.thinned` marks a telemetry record whose samples were dropped by
///   the overflow policy.
/// - Timestamps are `INTEGER` nanoseconds since the Unix epoch, UTC.
const V1: &str = "
CREATE TABLE outbox_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq        INTEGER NOT NULL CHECK (next_seq >= 1),
    highest_acked   INTEGER NOT NULL DEFAULT 0,
    records         INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    thinned_records INTEGER NOT NULL DEFAULT 0,
    dropped_samples INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO outbox_state (id, next_seq) VALUES (1, 1);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    kind       TEXT    NOT NULL CHECK (kind IN ('telemetry', 'events')),
    payload    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    thinned    INTEGER NOT NULL DEFAULT 0 CHECK (thinned IN (0, 1))
) STRICT;
CREATE INDEX outbox_thinnable ON outbox (seq) WHERE kind = 'telemetry' AND thinned = 0;

CREATE TRIGGER outbox_count_insert AFTER INSERT ON outbox BEGIN
    UPDATE outbox_state SET records = records + 1, bytes = bytes + length(NEW.payload) WHERE id = 1;
END;
CREATE TRIGGER outbox_count_delete AFTER DELETE ON outbox BEGIN
    UPDATE outbox_state SET records = records - 1, bytes = bytes - length(OLD.payload) WHERE id = 1;
END;
CREATE TRIGGER outbox_count_update AFTER UPDATE OF payload ON outbox BEGIN
    UPDATE outbox_state SET bytes = bytes - length(OLD.payload) + length(NEW.payload) WHERE id = 1;
END;

CREATE TABLE call_records (
    call_id             TEXT    PRIMARY KEY,
    seq                 INTEGER NOT NULL UNIQUE,
    legs                TEXT    NOT NULL,
    caller              TEXT    NOT NULL,
    callee              TEXT    NOT NULL,
    trunk               TEXT,
    started_at          INTEGER NOT NULL,
    answered_at         INTEGER,
    ended_at            INTEGER NOT NULL,
    duration_s          INTEGER NOT NULL CHECK (duration_s >= 0),
    billable_s          INTEGER NOT NULL CHECK (billable_s >= 0),
    disposition         TEXT    NOT NULL,
    sip_cause           INTEGER NOT NULL,
    permission_decision TEXT    NOT NULL,
    permission_reason   TEXT    NOT NULL,
    recorded_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX call_records_ended_at ON call_records (ended_at);
";

/// Version 2: per-leg quality samples waiting to be batched into a
/// `telemetry` record (`payload`: the MQTT `LegSample` JSON; `mos` NULL when
/// unknown).
const V2: &str = "
CREATE TABLE quality_samples (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT    NOT NULL,
    leg          TEXT    NOT NULL CHECK (leg IN ('a', 'b')),
    interval_end INTEGER NOT NULL,
    mos          REAL,
    payload      BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX quality_samples_call ON quality_samples (call_id);
";

/// Version 3: the index of call recordings (`recording` module).
///
/// - `path` is the file name inside the recordings directory.
/// - `state`: `recording` while written (a crash leaves it so; recovery at
///   start repairs the file and sets `recovered`), `complete`, or `failed`
///   (the file was unusable; the row keeps the call's trace until retention
///   removes it).
/// - `bytes`, `duration_ms`, `sha256` (hex, of the file as stored, i.e. the
///   ciphertext when `encrypted`) are set when the recording ends.
/// - `retention_days` comes from the policy the call was recorded under.
const V3: &str = "
CREATE TABLE recordings (
    id             TEXT    PRIMARY KEY,
    call_id        TEXT    NOT NULL,
    path           TEXT    NOT NULL UNIQUE,
    format         TEXT    NOT NULL CHECK (format IN ('ogg_opus', 'wav')),
    sample_rate    INTEGER NOT NULL CHECK (sample_rate > 0),
    started_at     INTEGER NOT NULL,
    retention_days INTEGER NOT NULL CHECK (retention_days >= 1),
    duration_ms    INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    bytes          INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    sha256         TEXT,
    encrypted      INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
    state          TEXT    NOT NULL CHECK (state IN ('recording', 'complete', 'recovered', 'failed')),
    finished_at    INTEGER
) STRICT;
CREATE INDEX recordings_started_at ON recordings (started_at);
CREATE INDEX recordings_call_id ON recordings (call_id);
";

/// The migrations, in order. The schema version is their count.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The newest schema version this build knows.
#[allow(clippy::cast_possible_wrap)] // A handful of migrations, far below i64::MAX.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads the schema version of the open database.
pub(super) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the schema to [`SCHEMA_VERSION`]. Refuses, before touching
/// anything, a database whose version is newer.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read inside the write transaction: another process cannot migrate
    // between the check and the update.
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(found).map_err(|_| StoreError::Corrupt {
        table: "pragma",
        column: "user_version",
        reason: format!("negative schema version {found}"),
    })?;
    if start == MIGRATIONS.len() {
        return Ok(());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tracing::debug!(
            from = index,
            to = index + 1,
            "applying store schema migration"
        );
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

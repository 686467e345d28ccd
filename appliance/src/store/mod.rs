//! The appliance's `SQLite` store: call records (CDRs), the MQTT outbox and
//! the index of call recordings.
//!
//! # Threading
//!
//! The API is synchronous and a [`Store`] owns one `rusqlite` connection
//! (`Send`, not `Sync`). Every write commits with `synchronous=FULL`, i.e.
//! it waits for an `fsync` of the WAL, which can take milliseconds on an SD
//! card. The daemon therefore owns the `Store` on one dedicated blocking
//! thread (`std::thread`, or a single long-lived
//! `tokio::task::spawn_blocking`) and talks to it over a bounded channel;
//! async tasks never call it directly.
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous=FULL` and
//! `foreign_keys=ON`. A method returns `Ok` only after its transaction is
//! committed and synced, so a record whose seq was returned survives a crash
//! or a power cut.
//!
//! # Outbox and delivery
//!
//! Records (telemetry batches and events) get a `seq` from one strictly
//! increasing sequence, kept in the `outbox_state` row and taken in the
//! transaction that inserts the record: a seq is never reused, even after its
//! record was acknowledged and deleted, and a failed insert consumes none,
//! so committed seqs have no gaps. (Not `AUTOINCREMENT`: the payload
//! contains its own seq, which must be known before the row is inserted.)
//! The payload is the encoded MQTT message
//! with its seq set, stored as published. A record is deleted only by
//! [`Store::ack`], i.e. after the cloud's end-to-end `ack` (`docs/mqtt.md`,
//! "Delivery guarantee").
//!
//! # Overflow
//!
//! The outbox is bounded by [`StoreConfig::max_outbox_bytes`] (sum of the
//! payload sizes). When a new record pushes it over, the samples of the
//! oldest telemetry records are dropped (see [`Store::enqueue_telemetry`])
//! until it fits. Events (CDRs, alarms, registrations, trunk state,
//! recording deletions) are never dropped or changed: when only events are
//! left the outbox stays over its limit and [`Backlog::over_limit`] says so,
//! for the daemon to raise an alarm.
//!
//! Time is always passed in (`now`); the store never reads the clock.

mod calls;
mod error;
mod outbox;
mod quality;
mod recordings;
mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use time::OffsetDateTime;
use voip_shared::mqtt::ApplianceId;

pub use error::StoreError;
pub use outbox::{Backlog, OutboxRecord};
pub use quality::MAX_SAMPLES_PER_BATCH;
pub use recordings::{NewRecording, RecordingRow, RecordingState};
pub use schema::SCHEMA_VERSION;

/// Default bound of the outbox: 64 MiB of payloads, about a week of
/// telemetry of a busy office.
pub const DEFAULT_MAX_OUTBOX_BYTES: u64 = 64 * 1024 * 1024;

/// How long a statement waits for a lock held by another connection (an
/// operator's `sqlite3` shell, a backup) before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of a [`Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The appliance's id, written into every record's payload.
    pub appliance_id: ApplianceId,
    /// Bound of the outbox, in payload bytes; see the module docs.
    pub max_outbox_bytes: u64,
}

impl StoreConfig {
    /// A configuration with the default outbox bound.
    pub fn new(appliance_id: ApplianceId) -> Self {
        Self {
            appliance_id,
            max_outbox_bytes: DEFAULT_MAX_OUTBOX_BYTES,
        }
    }
}

/// The appliance's database. See the [module docs](self).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    config: StoreConfig,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    ///
    /// Fails with [`StoreError::NewerSchema`], without changing anything,
    /// when the file comes from a newer build.
    pub fn open(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref())?;
        Self::setup(conn, config, true)
    }

    /// An empty in-memory database, for tests.
    pub fn open_in_memory(config: StoreConfig) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, config, false)
    }

    fn setup(mut conn: Connection, config: StoreConfig, file: bool) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Refuse a newer schema before anything writes to the file (switching
        // the journal mode would).
        let found = schema::version(&conn)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if file {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::WalUnavailable { mode });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        schema::migrate(&mut conn)?;
        Ok(Self { conn, config })
    }

    /// The configuration this store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::version(&self.conn)
    }

    /// Runs `PRAGMA integrity_check`; [`StoreError::IntegrityCheckFailed`]
    /// lists the problems found.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::IntegrityCheckFailed { problems: lines })
        }
    }
}

/// A timestamp as stored: nanoseconds since the Unix epoch.
fn to_nanos(t: OffsetDateTime, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| StoreError::OutOfRange { field })
}

/// The inverse of [`to_nanos`], in UTC.
fn from_nanos(
    nanos: i64,
    table: &'static str,
    column: &'static str,
) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|e| StoreError::Corrupt {
        table,
        column,
        reason: e.to_string(),
    })
}

/// A `u64` as stored in an `INTEGER` column.
fn to_i64(v: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange { field })
}

/// The inverse of [`to_i64`].
fn from_i64(v: i64, table: &'static str, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        column,
        reason: format!("negative value {v}"),
    })
}

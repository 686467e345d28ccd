//! The index of call recordings (table `recordings`, schema version 2).

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use time::OffsetDateTime;
use voip_shared::mqtt::{DeletionReason, EventKind, RecordingDeleted};
use voip_shared::site_config::RecordingFormat;

use super::outbox::{enforce_limit, insert_event};
use super::{Store, StoreError, from_i64, from_nanos, to_i64, to_nanos};

/// Life cycle of a recording file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingState {
    /// Being written (or cut by a crash, until recovery runs).
    Recording,
    /// Finished normally.
    Complete,
    /// Repaired by crash recovery.
    Recovered,
    /// Unusable (file missing or unreadable at recovery).
    Failed,
}

impl RecordingState {
    fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Complete => "complete",
            RecordingState::Recovered => "recovered",
            RecordingState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "recording" => RecordingState::Recording,
            "complete" => RecordingState::Complete,
            "recovered" => RecordingState::Recovered,
            "failed" => RecordingState::Failed,
            _ => return None,
        })
    }
}

fn format_str(format: RecordingFormat) -> &'static str {
    match format {
        RecordingFormat::OggOpus => "ogg_opus",
        RecordingFormat::Wav => "wav",
    }
}

/// A recording about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    /// Unique id (also in the file name and the `recording_deleted` event).
    pub id: String,
    /// The call's id.
    pub call_id: String,
    /// File name inside the recordings directory.
    pub path: String,
    /// File format.
    pub format: RecordingFormat,
    /// Sample rate of the audio.
    pub sample_rate: u32,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// Days it is kept.
    pub retention_days: u32,
    /// Whether the file is encrypted.
    pub encrypted: bool,
}

/// One row of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRow {
    /// What was known at the start.
    pub recording: NewRecording,
    /// Playable length.
    pub duration_ms: u64,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file as stored, hex.
    pub sha256: Option<String>,
    /// State.
    pub state: RecordingState,
    /// When it was finished or recovered.
    pub finished_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, call_id, path, format, sample_rate, started_at, retention_days, \
    encrypted, duration_ms, bytes, sha256, state, finished_at";

fn corrupt(column: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt {
        table: "recordings",
        column,
        reason,
    }
}

fn row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        call_id: r.get(1)?,
        path: r.get(2)?,
        format: r.get(3)?,
        sample_rate: r.get(4)?,
        started_at: r.get(5)?,
        retention_days: r.get(6)?,
        encrypted: r.get(7)?,
        duration_ms: r.get(8)?,
        bytes: r.get(9)?,
        sha256: r.get(10)?,
        state: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

struct RawRow {
    id: String,
    call_id: String,
    path: String,
    format: String,
    sample_rate: i64,
    started_at: i64,
    retention_days: i64,
    encrypted: bool,
    duration_ms: i64,
    bytes: i64,
    sha256: Option<String>,
    state: String,
    finished_at: Option<i64>,
}

impl RawRow {
    fn typed(self) -> Result<RecordingRow, StoreError> {
        let format = match self.format.as_str() {
            "ogg_opus" => RecordingFormat::OggOpus,
            "wav" => RecordingFormat::Wav,
            other => return Err(corrupt("format", format!("unknown format {other:?}"))),
        };
        let state = RecordingState::parse(&self.state)
            .ok_or_else(|| corrupt("state", format!("unknown state {:?}", self.state)))?;
        Ok(RecordingRow {
            recording: NewRecording {
                id: self.id,
                call_id: self.call_id,
                path: self.path,
                format,
                sample_rate: u32::try_from(self.sample_rate)
                    .map_err(|_| corrupt("sample_rate", self.sample_rate.to_string()))?,
                started_at: from_nanos(self.started_at, "recordings", "started_at")?,
                retention_days: u32::try_from(self.retention_days)
                    .map_err(|_| corrupt("retention_days", self.retention_days.to_string()))?,
                encrypted: self.encrypted,
            },
            duration_ms: from_i64(self.duration_ms, "recordings", "duration_ms")?,
            bytes: from_i64(self.bytes, "recordings", "bytes")?,
            sha256: self.sha256,
            state,
            finished_at: self
                .finished_at
                .map(|t| from_nanos(t, "recordings", "finished_at"))
                .transpose()?,
        })
    }
}

impl Store {
    /// Adds a recording in state `recording`, before its file is created,
    /// so a crash never leaves a file the index does not know.
    pub fn insert_recording(&mut self, r: &NewRecording) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO recordings (id, call_id, path, format, sample_rate, started_at, \
             retention_days, encrypted, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'recording')",
            params![
                r.id,
                r.call_id,
                r.path,
                format_str(r.format),
                r.sample_rate,
                to_nanos(r.started_at, "started_at")?,
                r.retention_days,
                r.encrypted,
            ],
        )?;
        Ok(())
    }

    /// Records how a recording ended (`Complete`, `Recovered` or
    /// `Failed`) with its length, size and checksum.
    pub fn finish_recording(
        &mut self,
        id: &str,
        state: RecordingState,
        duration_ms: u64,
        bytes: u64,
        sha256: Option<&str>,
        finished_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE recordings SET state = ?2, duration_ms = ?3, bytes = ?4, sha256 = ?5, \
             finished_at = ?6 WHERE id = ?1",
            params![
                id,
                state.as_str(),
                to_i64(duration_ms, "duration_ms")?,
                to_i64(bytes, "bytes")?,
                sha256,
                to_nanos(finished_at, "finished_at")?,
            ],
        )?;
        Ok(())
    }

    /// The recording with `id`.
    pub fn recording(&self, id: &str) -> Result<Option<RecordingRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM recordings WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?
            .map(RawRow::typed)
            .transpose()
    }

    /// Every recording, oldest first.
    pub fn recordings(&self) -> Result<Vec<RecordingRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM recordings ORDER BY started_at, id"
        ))?;
        let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawRow::typed).collect()
    }

    /// Removes a recording from the index and enqueues its
    /// `recording_deleted` event in the same transaction. Returns the
    /// event's seq, or `None` when the id is unknown (nothing is enqueued).
    /// The caller deletes the file first: a crash in between leaves a row
    /// whose file is gone, which the next run deletes again.
    pub fn delete_recording(
        &mut self,
        now: OffsetDateTime,
        id: &str,
        reason: DeletionReason,
    ) -> Result<Option<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if tx.execute("DELETE FROM recordings WHERE id = ?1", [id])? == 0 {
            return Ok(None);
        }
        let event = EventKind::RecordingDeleted(RecordingDeleted {
            recording_id: id.to_owned(),
            reason,
        });
        let seq = insert_event(&tx, &self.config, now, now, event)?;
        enforce_limit(&tx, self.config.max_outbox_bytes)?;
        tx.commit()?;
        Ok(Some(seq))
    }
}

//! Call detail records (CDRs).

use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use voip_shared::mqtt::{CallRecord, EncodeError, EventKind, PermissionDecision};

use super::outbox::{enforce_limit, insert_event};
use super::{Store, StoreConfig, StoreError, from_i64, from_nanos, to_i64, to_nanos};

const COLUMNS: &str = "call_id, legs, caller, callee, trunk, started_at, answered_at, ended_at,
    duration_s, billable_s, disposition, sip_cause, permission_decision, permission_reason";

impl Store {
    /// Stores a finished call's CDR and enqueues its `call_record` event in
    /// the same transaction, so a CDR is never stored without being queued
    /// for the cloud nor queued without being stored. Returns the event's
    /// seq. The event's `ts` is the call's `ended_at`.
    ///
    /// Idempotent on `call_id`: recording a call that is already stored
    /// changes nothing (even if the record differs) and returns the seq it
    /// got the first time, also after that record was acknowledged.
    pub fn record_call(
        &mut self,
        now: OffsetDateTime,
        cdr: &CallRecord,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = record_in(&tx, &self.config, now, cdr)?;
        tx.commit()?;
        Ok(seq)
    }

    /// [`Store::record_call`] for several CDRs in one transaction, so they
    /// share one commit (one `fsync`): the store thread's group commit under
    /// load. All or nothing: on an error no record of the batch is stored
    /// (the caller may retry them one by one to isolate a bad record).
    /// Returns the seqs in the order of `cdrs`.
    pub fn record_calls(
        &mut self,
        now: OffsetDateTime,
        cdrs: &[&CallRecord],
    ) -> Result<Vec<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seqs = Vec::with_capacity(cdrs.len());
        for cdr in cdrs {
            seqs.push(record_in(&tx, &self.config, now, cdr)?);
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// The stored CDR of `call_id`, if any.
    pub fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM call_records WHERE call_id = ?1"
            ))?
            .query_row([call_id], RawCall::from_row)
            .optional()?;
        raw.map(RawCall::into_record).transpose()
    }

    /// The `limit` most recently ended calls, newest first.
    pub fn recent_calls(&self, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM call_records ORDER BY ended_at DESC, seq DESC LIMIT ?1"
            ))?
            .query_map([limit], RawCall::from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawCall::into_record).collect()
    }
}

/// The body of [`Store::record_call`] inside the caller's transaction.
fn record_in(
    tx: &Transaction<'_>,
    config: &StoreConfig,
    now: OffsetDateTime,
    cdr: &CallRecord,
) -> Result<u64, StoreError> {
    let existing: Option<i64> = tx
        .prepare_cached("SELECT seq FROM call_records WHERE call_id = ?1")?
        .query_row([&cdr.call_id], |row| row.get(0))
        .optional()?;
    if let Some(seq) = existing {
        tracing::debug!(call_id = %cdr.call_id, seq, "call record already stored");
        return from_i64(seq, "call_records", "seq");
    }
    let legs = serde_json::to_string(&cdr.legs).map_err(|e| unrepresentable(&e))?;
    let disposition = enum_text(&cdr.disposition)?;
    let decision = enum_text(&cdr.permission.decision)?;
    let started_at = to_nanos(cdr.started_at, "started_at")?;
    let answered_at = cdr
        .answered_at
        .map(|t| to_nanos(t, "answered_at"))
        .transpose()?;
    let ended_at = to_nanos(cdr.ended_at, "ended_at")?;
    let duration_s = to_i64(cdr.duration_s, "duration_s")?;
    let billable_s = to_i64(cdr.billable_s, "billable_s")?;
    let recorded_at = to_nanos(now, "now")?;
    let seq = insert_event(
        tx,
        config,
        now,
        cdr.ended_at,
        EventKind::CallRecord(cdr.clone()),
    )?;
    tx.prepare_cached(&format!(
        "INSERT INTO call_records ({COLUMNS}, seq, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        cdr.call_id,
        legs,
        cdr.caller,
        cdr.callee,
        cdr.trunk,
        started_at,
        answered_at,
        ended_at,
        duration_s,
        billable_s,
        disposition,
        cdr.sip_cause,
        decision,
        cdr.permission.reason,
        to_i64(seq, "seq")?,
        recorded_at,
    ])?;
    enforce_limit(tx, config.max_outbox_bytes)?;
    Ok(seq)
}

/// A `call_records` row as read, before validation.
struct RawCall {
    call_id: String,
    legs: String,
    caller: String,
    callee: String,
    trunk: Option<String>,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: i64,
    duration_s: i64,
    billable_s: i64,
    disposition: String,
    sip_cause: u16,
    permission_decision: String,
    permission_reason: String,
}

impl RawCall {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            call_id: row.get(0)?,
            legs: row.get(1)?,
            caller: row.get(2)?,
            callee: row.get(3)?,
            trunk: row.get(4)?,
            started_at: row.get(5)?,
            answered_at: row.get(6)?,
            ended_at: row.get(7)?,
            duration_s: row.get(8)?,
            billable_s: row.get(9)?,
            disposition: row.get(10)?,
            sip_cause: row.get(11)?,
            permission_decision: row.get(12)?,
            permission_reason: row.get(13)?,
        })
    }

    fn into_record(self) -> Result<CallRecord, StoreError> {
        const T: &str = "call_records";
        Ok(CallRecord {
            call_id: self.call_id,
            legs: serde_json::from_str(&self.legs).map_err(|e| StoreError::Corrupt {
                table: T,
                column: "legs",
                reason: e.to_string(),
            })?,
            caller: self.caller,
            callee: self.callee,
            trunk: self.trunk,
            started_at: from_nanos(self.started_at, T, "started_at")?,
            answered_at: self
                .answered_at
                .map(|t| from_nanos(t, T, "answered_at"))
                .transpose()?,
            ended_at: from_nanos(self.ended_at, T, "ended_at")?,
            duration_s: from_i64(self.duration_s, T, "duration_s")?,
            billable_s: from_i64(self.billable_s, T, "billable_s")?,
            disposition: parse_enum(self.disposition, "disposition")?,
            sip_cause: self.sip_cause,
            permission: PermissionDecision {
                decision: parse_enum(self.permission_decision, "permission_decision")?,
                reason: self.permission_reason,
            },
        })
    }
}

/// The wire name of a unit enum variant (`"no_answer"`), as stored.
fn enum_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(unrepresentable(&other)),
        Err(e) => Err(unrepresentable(&e)),
    }
}

fn unrepresentable(e: &impl std::fmt::Display) -> StoreError {
    StoreError::Encode(EncodeError::Unrepresentable {
        message: e.to_string(),
    })
}

/// The inverse of [`enum_text`].
fn parse_enum<T: DeserializeOwned>(text: String, column: &'static str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|e| StoreError::Corrupt {
        table: "call_records",
        column,
        reason: e.to_string(),
    })
}

//! The outbox: records (telemetry batches and events) waiting for the
//! cloud's end-to-end `ack`.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use time::OffsetDateTime;
use voip_shared::mqtt::{
    Event, EventKind, Gauges, LegSample, Message, SchemaVersion, Telemetry, TopicKind, decode,
    encode,
};

use super::{Store, StoreConfig, StoreError, from_i64, from_nanos, to_i64, to_nanos};

/// One unacknowledged record, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The record's sequence number (also inside the payload).
    pub seq: u64,
    /// The topic kind to publish on: [`TopicKind::Telemetry`] or
    /// [`TopicKind::Events`].
    pub kind: TopicKind,
    /// The encoded MQTT message, exactly as stored. It is returned even if it
    /// no longer decodes: the cloud quarantines and acknowledges such a
    /// record, so it never blocks the outbox.
    pub payload: Vec<u8>,
    /// When the record was enqueued.
    pub created_at: OffsetDateTime,
    /// How many times the uplink reported publishing it
    /// ([`Store::mark_published`]).
    pub attempts: u64,
}

/// State of the outbox, for the `outbox_backlog` gauge, metrics and alarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Unacknowledged records.
    pub records: u64,
    /// Sum of their payload sizes in bytes.
    pub bytes: u64,
    /// Creation time of the oldest unacknowledged record (lowest seq);
    /// `None` when the outbox is empty.
    pub oldest_created_at: Option<OffsetDateTime>,
    /// Whether `bytes` exceeds [`StoreConfig::max_outbox_bytes`] even after
    /// dropping every droppable telemetry sample: only events are left, which
    /// are never dropped. The daemon should raise an alarm.
    pub over_limit: bool,
    /// Telemetry records whose samples the overflow policy dropped, since
    /// the database was created.
    pub thinned_records: u64,
    /// Leg samples dropped by the overflow policy, since the database was
    /// created.
    pub dropped_samples: u64,
    /// The seq the next record will get.
    pub next_seq: u64,
    /// The highest `up_to_seq` acknowledged so far (after clamping); 0 if
    /// none.
    pub highest_acked: u64,
}

impl Store {
    /// Enqueues an event; returns its seq. The event's `ts` is `now`.
    ///
    /// A [`EventKind::CallRecord`] is passed to [`Store::record_call`] (so
    /// it is also stored as a CDR, idempotently); [`EventKind::Unknown`] is
    /// refused with [`StoreError::UnknownEvent`]. Events are never dropped by
    /// the overflow policy.
    pub fn enqueue_event(
        &mut self,
        now: OffsetDateTime,
        event: EventKind,
    ) -> Result<u64, StoreError> {
        match event {
            EventKind::CallRecord(cdr) => self.record_call(now, &cdr),
            EventKind::Unknown => Err(StoreError::UnknownEvent),
            event => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let seq = insert_event(&tx, &self.config, now, now, event)?;
                enforce_limit(&tx, self.config.max_outbox_bytes)?;
                tx.commit()?;
                Ok(seq)
            }
        }
    }

    /// Enqueues a telemetry batch taken at `now`; returns its seq.
    ///
    /// Overflow policy: when the outbox exceeds
    /// [`StoreConfig::max_outbox_bytes`], the oldest telemetry records (this
    /// one included) lose their `samples` (the record stays, with `samples:
    /// []` and its gauges) until the outbox fits. The record is kept rather
    /// than deleted because the cloud acknowledges only the highest
    /// *contiguous* seq: a deleted seq would stall every later
    /// acknowledgement. Dropped samples are counted in [`Backlog`].
    pub fn enqueue_telemetry(
        &mut self,
        now: OffsetDateTime,
        samples: Vec<LegSample>,
        gauges: Gauges,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let appliance_id = self.config.appliance_id.clone();
        let seq = insert_record(&tx, TopicKind::Telemetry, now, |seq| {
            Message::Telemetry(Telemetry {
                schema: SchemaVersion::CURRENT,
                appliance_id,
                seq,
                ts: now,
                samples,
                gauges,
            })
        })?;
        enforce_limit(&tx, self.config.max_outbox_bytes)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Up to `limit` unacknowledged records with a seq above `after_seq`, in
    /// seq order. `pending(0, n)` starts from the oldest.
    pub fn pending(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, kind, payload, created_at, attempts FROM outbox
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, kind, payload, created_at, attempts)| {
                Ok(OutboxRecord {
                    seq: from_i64(seq, "outbox", "seq")?,
                    kind: kind.parse().map_err(|_| StoreError::Corrupt {
                        table: "outbox",
                        column: "kind",
                        reason: format!("unknown topic kind `{kind}`"),
                    })?,
                    payload,
                    created_at: from_nanos(created_at, "outbox", "created_at")?,
                    attempts: from_i64(attempts, "outbox", "attempts")?,
                })
            })
            .collect()
    }

    /// Counts one publish attempt for the records with a seq in
    /// `first..=last` (the uplink calls it once per published batch).
    pub fn mark_published(&mut self, first: u64, last: u64) -> Result<(), StoreError> {
        let (Ok(first), Ok(last)) = (i64::try_from(first), i64::try_from(last)) else {
            return Ok(());
        };
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1 WHERE seq BETWEEN ?1 AND ?2",
            params![first, last],
        )?;
        Ok(())
    }

    /// Applies the cloud's `ack`: deletes every record with a seq up to and
    /// including `up_to_seq`, and returns how many were deleted.
    ///
    /// An `up_to_seq` above the highest seq ever enqueued cannot come from a
    /// correct cloud: it is clamped to that seq (so a record enqueued later
    /// is never deleted by it) and logged as a warning. An ack at or below
    /// one already applied (lost, duplicated or reordered acks) deletes
    /// nothing and writes nothing.
    pub fn ack(&mut self, up_to_seq: u64) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (next_seq, highest_acked): (i64, i64) = tx.query_row(
            "SELECT next_seq, highest_acked FROM outbox_state WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let highest_enqueued = from_i64(next_seq - 1, "outbox_state", "next_seq")?;
        let effective = if up_to_seq > highest_enqueued {
            tracing::warn!(
                up_to_seq,
                highest_enqueued,
                "suspicious ack beyond the highest enqueued seq; clamped"
            );
            highest_enqueued
        } else {
            up_to_seq
        };
        let effective = to_i64(effective, "up_to_seq")?;
        if effective <= highest_acked {
            return Ok(0);
        }
        let deleted = tx.execute("DELETE FROM outbox WHERE seq <= ?1", [effective])?;
        tx.execute(
            "UPDATE outbox_state SET highest_acked = ?1 WHERE id = 1",
            [effective],
        )?;
        tx.commit()?;
        Ok(deleted as u64)
    }

    /// The outbox's size and counters.
    pub fn backlog(&self) -> Result<Backlog, StoreError> {
        let (next_seq, highest_acked, records, bytes, thinned, dropped): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = self.conn.query_row(
            "SELECT next_seq, highest_acked, records, bytes, thinned_records, dropped_samples
             FROM outbox_state WHERE id = 1",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            },
        )?;
        let oldest: Option<i64> = self
            .conn
            .query_row(
                "SELECT created_at FROM outbox ORDER BY seq LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let bytes = from_i64(bytes, "outbox_state", "bytes")?;
        Ok(Backlog {
            records: from_i64(records, "outbox_state", "records")?,
            bytes,
            oldest_created_at: oldest
                .map(|t| from_nanos(t, "outbox", "created_at"))
                .transpose()?,
            over_limit: bytes > self.config.max_outbox_bytes,
            thinned_records: from_i64(thinned, "outbox_state", "thinned_records")?,
            dropped_samples: from_i64(dropped, "outbox_state", "dropped_samples")?,
            next_seq: from_i64(next_seq, "outbox_state", "next_seq")?,
            highest_acked: from_i64(highest_acked, "outbox_state", "highest_acked")?,
        })
    }
}

/// Enqueues `event` with timestamp `ts` inside `tx`; returns its seq.
pub(super) fn insert_event(
    tx: &Transaction<'_>,
    config: &StoreConfig,
    now: OffsetDateTime,
    ts: OffsetDateTime,
    event: EventKind,
) -> Result<u64, StoreError> {
    let appliance_id = config.appliance_id.clone();
    insert_record(tx, TopicKind::Events, now, |seq| {
        Message::Event(Event {
            schema: SchemaVersion::CURRENT,
            appliance_id,
            seq,
            ts,
            event,
        })
    })
}

/// Takes the next seq, builds the message for it and inserts it, all inside
/// `tx`: if anything fails the seq is not consumed.
pub(super) fn insert_record(
    tx: &Transaction<'_>,
    kind: TopicKind,
    now: OffsetDateTime,
    build: impl FnOnce(u64) -> Message,
) -> Result<u64, StoreError> {
    let created_at = to_nanos(now, "now")?;
    let seq: i64 = tx
        .prepare_cached(
            "UPDATE outbox_state SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
        )?
        .query_row([], |row| row.get(0))?;
    let seq_u64 = from_i64(seq, "outbox_state", "next_seq")?;
    let payload = encode(&build(seq_u64))?;
    tx.prepare_cached(
        "INSERT INTO outbox (seq, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![seq, kind.as_str(), payload, created_at])?;
    Ok(seq_u64)
}

/// Drops the samples of the oldest telemetry records until the outbox's
/// payloads fit in `max_bytes`, or no telemetry with samples is left.
pub(super) fn enforce_limit(tx: &Transaction<'_>, max_bytes: u64) -> Result<(), StoreError> {
    let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    loop {
        let bytes: i64 = tx
            .prepare_cached("SELECT bytes FROM outbox_state WHERE id = 1")?
            .query_row([], |row| row.get(0))?;
        if bytes <= max_bytes {
            return Ok(());
        }
        let oldest: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, payload FROM outbox WHERE kind = 'telemetry' AND thinned = 0
                 ORDER BY seq LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((seq, payload)) = oldest else {
            tracing::debug!(
                bytes,
                max_bytes,
                "outbox over its limit with only events left"
            );
            return Ok(());
        };
        let thinned = match decode(TopicKind::Telemetry, &payload) {
            Ok(Message::Telemetry(mut telemetry)) => {
                let dropped = telemetry.samples.len();
                telemetry.samples.clear();
                encode(&Message::Telemetry(telemetry))
                    .ok()
                    .map(|payload| (payload, dropped))
            }
            // A payload that no longer decodes is left as it is (and not
            // looked at again); the cloud quarantines it.
            _ => None,
        };
        match thinned {
            Some((payload, dropped)) => {
                tx.execute(
                    "UPDATE outbox SET payload = ?1, thinned = 1 WHERE seq = ?2",
                    params![payload, seq],
                )?;
                if dropped > 0 {
                    tx.execute(
                        "UPDATE outbox_state SET thinned_records = thinned_records + 1,
                         dropped_samples = dropped_samples + ?1 WHERE id = 1",
                        [i64::try_from(dropped).unwrap_or(i64::MAX)],
                    )?;
                }
                tracing::debug!(seq, dropped, "outbox full: dropped telemetry samples");
            }
            None => {
                tx.execute("UPDATE outbox SET thinned = 1 WHERE seq = ?1", [seq])?;
            }
        }
    }
}

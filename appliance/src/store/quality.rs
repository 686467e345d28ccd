//! Quality samples: per-leg [`LegSample`]s of running and ended calls, kept
//! until the uplink batches them into a `telemetry` outbox record together
//! with the appliance gauges ([`Store::enqueue_quality_telemetry`]).
//!
//! Samples live in their own table rather than one outbox record each: a
//! `telemetry` record needs the appliance gauges of its moment, and a call
//! produces two samples every 5 s, which are better sent in batches.
//! Samples are stored in the MQTT contract's JSON shape (unknown values
//! `null`), so the batch is built without conversion.

use rusqlite::{TransactionBehavior, params};
use time::OffsetDateTime;
use voip_shared::mqtt::{Gauges, LegSample, SchemaVersion, Telemetry, TopicKind};

use super::outbox::{enforce_limit, insert_record};
use super::{Store, StoreError, from_nanos, to_nanos};

/// Most samples moved into one telemetry record.
pub const MAX_SAMPLES_PER_BATCH: usize = 500;

fn leg_name(sample: &LegSample) -> &'static str {
    match sample.leg {
        voip_shared::mqtt::Leg::A => "a",
        voip_shared::mqtt::Leg::B => "b",
    }
}

fn decode(payload: &[u8]) -> Result<LegSample, StoreError> {
    serde_json::from_slice(payload).map_err(|e| StoreError::Corrupt {
        table: "quality_samples",
        column: "payload",
        reason: e.to_string(),
    })
}

impl Store {
    /// Stores one leg sample (committed and synced when `Ok`).
    pub fn record_quality_sample(
        &mut self,
        now: OffsetDateTime,
        sample: &LegSample,
    ) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(sample).map_err(|e| {
            StoreError::Encode(voip_shared::mqtt::EncodeError::Unrepresentable {
                message: e.to_string(),
            })
        })?;
        self.conn.execute(
            "INSERT INTO quality_samples (call_id, leg, interval_end, mos, payload, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                sample.call_id,
                leg_name(sample),
                to_nanos(sample.interval_end, "interval_end")?,
                sample.mos,
                payload,
                to_nanos(now, "now")?,
            ],
        )?;
        Ok(())
    }

    /// The samples not yet batched, oldest first; only `call_id`'s when given.
    pub fn quality_samples(&self, call_id: Option<&str>) -> Result<Vec<LegSample>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT payload FROM quality_samples
             WHERE ?1 IS NULL OR call_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([call_id], |row| row.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|p| decode(p)).collect()
    }

    /// Moves up to [`MAX_SAMPLES_PER_BATCH`] waiting samples into one
    /// `telemetry` outbox record with `gauges`, in one transaction; returns
    /// its seq, or `None` when no sample was waiting. Rows that no longer
    /// decode are dropped (and logged) rather than blocking the batch.
    pub fn enqueue_quality_telemetry(
        &mut self,
        now: OffsetDateTime,
        gauges: Gauges,
    ) -> Result<Option<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, Vec<u8>, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, payload, created_at FROM quality_samples ORDER BY id LIMIT ?1",
            )?;
            stmt.query_map(
                [i64::try_from(MAX_SAMPLES_PER_BATCH).unwrap_or(i64::MAX)],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?
            .collect::<Result<_, _>>()?
        };
        let Some(&(last_id, _, _)) = rows.last() else {
            return Ok(None);
        };
        let mut samples = Vec::with_capacity(rows.len());
        for (id, payload, created_at) in &rows {
            match decode(payload) {
                Ok(s) => samples.push(s),
                Err(error) => {
                    let created = from_nanos(*created_at, "quality_samples", "created_at").ok();
                    tracing::warn!(id, ?created, %error, "unreadable quality sample dropped");
                }
            }
        }
        tx.execute("DELETE FROM quality_samples WHERE id <= ?1", [last_id])?;
        let appliance_id = self.config.appliance_id.clone();
        let seq = insert_record(&tx, TopicKind::Telemetry, now, |seq| {
            voip_shared::mqtt::Message::Telemetry(Telemetry {
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
        Ok(Some(seq))
    }
}

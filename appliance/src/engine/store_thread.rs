//! The [`Store`] on its own blocking thread behind a bounded channel (see
//! the store's module documentation: every write waits for an `fsync`).
//! Call records that queue up while a write is in progress, or within
//! `COMMIT_INTERVAL` of the previous commit, are written together in one
//! transaction (group commit: one `fsync` for the batch).

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use voip_shared::mqtt::{CallRecord, LegSample};

use crate::store::{Backlog, Store, StoreError};

/// Requests queued before a record is refused.
pub const STORE_QUEUE: usize = 1024;

#[derive(Debug)]
enum Request {
    RecordCall(Box<CallRecord>),
    QualitySample(Box<LegSample>),
    Backlog(oneshot::Sender<Result<Backlog, StoreError>>),
    Stop,
}

/// The store thread. [`StoreThread::stop`] finishes the queued writes and
/// joins it.
#[derive(Debug)]
pub struct StoreThread {
    sender: StoreSender,
    thread: std::thread::JoinHandle<()>,
}

/// A cheap handle to queue work for the store thread.
#[derive(Debug, Clone)]
pub struct StoreSender {
    tx: mpsc::Sender<Request>,
}

/// The store thread is gone or its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// [`STORE_QUEUE`] requests are waiting.
    #[error("the store queue is full")]
    Full,
    /// The thread has stopped.
    #[error("the store thread has stopped")]
    Stopped,
}

/// Most call records written in one transaction (group commit).
const BATCH: usize = 256;

/// Shortest time between two commits of call records: a record arriving
/// sooner after the previous commit waits for the rest of this interval,
/// so that under load (hundreds of calls ending per second) records share
/// commits, at most 50 `fsync`s per second. A lone record is written at
/// once.
const COMMIT_INTERVAL: Duration = Duration::from_millis(20);

fn serve(mut store: Store, mut rx: mpsc::Receiver<Request>) {
    let mut batch: Vec<CallRecord> = Vec::with_capacity(BATCH);
    let mut last_commit: Option<Instant> = None;
    while let Some(request) = rx.blocking_recv() {
        if matches!(request, Request::RecordCall(_))
            && let Some(wait) = last_commit
                .map(|at| COMMIT_INTERVAL.saturating_sub(at.elapsed()))
                .filter(|w| !w.is_zero())
        {
            std::thread::sleep(wait);
        }
        // Group commit: the call records queued behind this one share its
        // transaction (one fsync), up to `BATCH`; a request of another kind
        // ends the batch so requests are still served in order.
        let mut next = Some(request);
        loop {
            match next.take() {
                Some(Request::RecordCall(record)) => {
                    batch.push(*record);
                    if batch.len() < BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                other => {
                    next = other;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            write_batch(&mut store, &mut batch);
            last_commit = Some(Instant::now());
        }
        match next {
            Some(Request::QualitySample(sample)) => {
                if let Err(error) = store.record_quality_sample(OffsetDateTime::now_utc(), &sample)
                {
                    tracing::error!(call_id = %sample.call_id, %error, "cannot store a quality sample");
                }
            }
            Some(Request::Backlog(reply)) => {
                let _ = reply.send(store.backlog());
            }
            Some(Request::Stop) => break,
            Some(Request::RecordCall(_)) | None => {}
        }
    }
}

/// Writes `batch` in one transaction; if that fails, record by record so
/// one bad record costs only itself.
fn write_batch(store: &mut Store, batch: &mut Vec<CallRecord>) {
    if batch.is_empty() {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let records: Vec<&CallRecord> = batch.iter().collect();
    let result = if records.len() == 1 {
        store.record_call(now, records[0]).map(|seq| vec![seq])
    } else {
        store.record_calls(now, &records)
    };
    match result {
        Ok(seqs) => {
            for (record, seq) in records.iter().zip(seqs) {
                tracing::debug!(call_id = %record.call_id, seq, "call record stored");
            }
        }
        Err(error) if records.len() > 1 => {
            tracing::warn!(%error, records = records.len(), "batch of call records failed; storing them one by one");
            for record in records {
                match store.record_call(now, record) {
                    Ok(seq) => {
                        tracing::debug!(call_id = %record.call_id, seq, "call record stored");
                    }
                    Err(error) => {
                        tracing::error!(call_id = %record.call_id, %error, "cannot store a call record");
                    }
                }
            }
        }
        Err(error) => {
            tracing::error!(call_id = %records[0].call_id, %error, "cannot store a call record");
        }
    }
    batch.clear();
}

impl StoreThread {
    /// Moves `store` onto a new thread named `store`.
    pub fn spawn(store: Store) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(STORE_QUEUE);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || serve(store, rx))?;
        Ok(StoreThread {
            sender: StoreSender { tx },
            thread,
        })
    }

    /// A handle for queueing work.
    pub fn sender(&self) -> StoreSender {
        self.sender.clone()
    }

    /// Writes what is queued, then stops the thread and waits for it.
    pub async fn stop(self) {
        let _ = self.sender.tx.send(Request::Stop).await;
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

impl StoreSender {
    /// Queues a finished call's record (never waits).
    pub fn record_call(&self, record: CallRecord) -> Result<(), QueueError> {
        self.tx
            .try_send(Request::RecordCall(Box::new(record)))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Stopped,
            })
    }

    /// Queues a call leg's quality sample (never waits).
    pub fn quality_sample(&self, sample: LegSample) -> Result<(), QueueError> {
        self.tx
            .try_send(Request::QualitySample(Box::new(sample)))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Stopped,
            })
    }

    /// The outbox backlog; `None` if the thread is gone or the query failed.
    pub async fn backlog(&self) -> Option<Backlog> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Request::Backlog(reply)).await.ok()?;
        rx.await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use voip_shared::mqtt::{ApplianceId, Decision, Disposition, PermissionDecision};

    use super::*;
    use crate::store::StoreConfig;

    fn cdr(n: usize) -> CallRecord {
        let started_at = datetime!(2026-11-21 10:00 UTC);
        CallRecord {
            call_id: format!("c-{n}"),
            legs: Vec::new(),
            caller: "201".into(),
            callee: "202".into(),
            trunk: None,
            started_at,
            answered_at: Some(started_at),
            ended_at: started_at + time::Duration::seconds(1),
            duration_s: 1,
            billable_s: 1,
            disposition: Disposition::Answered,
            sip_cause: 200,
            permission: PermissionDecision {
                decision: Decision::Allowed,
                reason: "permission.class_allowed".into(),
            },
        }
    }

    #[tokio::test]
    async fn records_queued_in_a_burst_are_all_stored_before_a_later_request() {
        let config = StoreConfig::new(ApplianceId::new("pi-test-01").unwrap());
        let thread = StoreThread::spawn(Store::open_in_memory(config).unwrap()).unwrap();
        let sender = thread.sender();
        // More than one batch, queued faster than the thread writes them.
        let n = 3 * BATCH / 2 + 7;
        for i in 0..n {
            sender.record_call(cdr(i)).unwrap();
        }
        sender.record_call(cdr(0)).unwrap(); // a duplicate is stored once
        let backlog = sender.backlog().await.unwrap();
        assert_eq!(backlog.records, n as u64);
        assert_eq!(backlog.next_seq, n as u64 + 1);
        thread.stop().await;
    }
}

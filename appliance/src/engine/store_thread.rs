//! The [`Store`] on its own blocking thread behind a bounded channel (see
//! the store's module documentation: every write waits for an `fsync`).

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

fn serve(mut store: Store, mut rx: mpsc::Receiver<Request>) {
    while let Some(request) = rx.blocking_recv() {
        match request {
            Request::RecordCall(record) => {
                match store.record_call(OffsetDateTime::now_utc(), &record) {
                    Ok(seq) => {
                        tracing::debug!(call_id = %record.call_id, seq, "call record stored");
                    }
                    Err(error) => {
                        tracing::error!(call_id = %record.call_id, %error, "cannot store a call record");
                    }
                }
            }
            Request::QualitySample(sample) => {
                if let Err(error) = store.record_quality_sample(OffsetDateTime::now_utc(), &sample)
                {
                    tracing::error!(call_id = %sample.call_id, %error, "cannot store a quality sample");
                }
            }
            Request::Backlog(reply) => {
                let _ = reply.send(store.backlog());
            }
            Request::Stop => break,
        }
    }
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

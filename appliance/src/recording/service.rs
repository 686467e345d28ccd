//! The recording service: one thread that owns every active [`Recorder`],
//! a connection to the store (the index and the outbox), and the retention
//! and quota job.
//!
//! The media path hands PCM over with [`RecorderHandle::push`], which never
//! blocks: when the bounded queue is full the frame is dropped and counted
//! (the framer fills the hole with silence). Everything else
//! (start, stop, retention) waits for the thread's answer.
//!
//! Before a batch is written the thread checks the quota and the free-space
//! floor (`statvfs`); when the batch would break either, the retention job
//! deletes the oldest finished recordings first, and when that is not
//! enough the recording is stopped (its flushed part is kept) and new
//! recordings are refused (`recording.quota_exceeded`).
//!
//! Wiring into calls (pending the bridge's PCM tap): when
//! [`policy::CallRecording`](super::policy::CallRecording) says `Record`,
//! the call plays the consent prompt if asked
//! ([`consent::ConsentSequencer`](super::consent::ConsentSequencer)), then
//! calls [`ServiceHandle::start_recording`] and pushes each direction's
//! decoded PCM, resampled to the recording's rate, as party A (caller) and
//! B (callee); [`RecorderHandle::stop`] at hang-up.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use voip_shared::site_config::RecordingFormat;

use super::batch::BatchPolicy;
use super::framer::Party;
use super::recorder::{Finished, Recorder, RecorderError, RecorderSettings, hex};
use super::recovery::{self, RecoveryReport};
use super::retention::{self, Candidate, Limits, Plan};
use super::seal::RecordingKey;
use super::space;
use crate::store::{NewRecording, RecordingState, Store, StoreError};

/// Default quota: 4 GiB of recordings (about 190 hours of Ogg/Opus).
pub const DEFAULT_QUOTA_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Default free-space floor: 1 GiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;
/// How often the retention job runs besides the checks before each batch.
pub const DEFAULT_JANITOR_INTERVAL: Duration = Duration::from_mins(10);
/// Frames and commands queued for the recording thread.
pub const DEFAULT_QUEUE: usize = 4096;
/// Margin added to a batch for the Ogg page or sealed-chunk overhead when
/// checking space.
const BATCH_OVERHEAD: u64 = 4096;

/// Measures free bytes on the recordings' file system.
pub type FreeSpaceProbe = fn(&Path) -> io::Result<u64>;

/// Settings of the [`RecordingService`].
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Directory of the recording files.
    pub dir: PathBuf,
    /// Quota and free-space floor.
    pub limits: Limits,
    /// Batching of writes.
    pub batch: BatchPolicy,
    /// Encrypt new recordings with this key (and recover encrypted ones).
    pub key: Option<RecordingKey>,
    /// Period of the retention job.
    pub janitor_interval: Duration,
    /// Free-space measurement; [`space::free_bytes`] outside tests.
    pub free_space: FreeSpaceProbe,
    /// Capacity of the thread's queue.
    pub queue: usize,
}

impl ServiceConfig {
    /// Defaults for recordings in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            limits: Limits {
                quota_bytes: DEFAULT_QUOTA_BYTES,
                min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            },
            batch: BatchPolicy::default(),
            key: None,
            janitor_interval: DEFAULT_JANITOR_INTERVAL,
            free_space: space::free_bytes,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// Why a service request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The recordings directory is unusable.
    #[error("recordings directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The index failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the file failed.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The quota or the free-space floor leaves no room
    /// (`recording.quota_exceeded`).
    #[error("recording quota or free-space floor reached")]
    QuotaExceeded,
    /// No such active recording.
    #[error("no active recording {0}")]
    UnknownRecording(String),
    /// The recording thread has stopped.
    #[error("the recording service has stopped")]
    Stopped,
    /// The thread could not be started.
    #[error("cannot start the recording thread: {0}")]
    Thread(io::Error),
    /// The OS random source failed (ids, nonces).
    #[error("the OS random source failed: {0}")]
    Entropy(String),
}

/// What a new recording is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// The call's id.
    pub call_id: String,
    /// File format (from the policy).
    pub format: RecordingFormat,
    /// Rate of the PCM that will be pushed: 8000, 16000 or 48000.
    pub sample_rate: u32,
    /// Days to keep it (from the policy).
    pub retention_days: u32,
}

/// Mono PCM of one party, at the recording's rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmFrame {
    /// When its first sample was captured (the bridge's tap).
    pub at: Instant,
    /// The samples.
    pub samples: Vec<i16>,
}

enum Msg {
    Start(StartRequest, SyncSender<Result<String, ServiceError>>),
    Push {
        id: Arc<str>,
        party: Party,
        frame: PcmFrame,
    },
    Stop {
        id: Arc<str>,
        reply: Option<SyncSender<Result<Finished, ServiceError>>>,
    },
    Enforce(SyncSender<Result<Plan, ServiceError>>),
    Shutdown,
}

/// The running service. [`RecordingService::shutdown`] finishes every
/// active recording and joins the thread.
#[derive(Debug)]
pub struct RecordingService {
    handle: ServiceHandle,
    thread: JoinHandle<()>,
    recovery: RecoveryReport,
}

/// A cheap, cloneable handle to the service thread.
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    tx: SyncSender<Msg>,
}

/// One active recording. Dropping it stops the recording without waiting for
/// the file to be finished (it waits only while the queue is full).
#[derive(Debug)]
pub struct RecorderHandle {
    id: Arc<str>,
    tx: SyncSender<Msg>,
    dropped: AtomicU64,
    stopped: bool,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Start(..) => "Start",
            Msg::Push { .. } => "Push",
            Msg::Stop { .. } => "Stop",
            Msg::Enforce(_) => "Enforce",
            Msg::Shutdown => "Shutdown",
        })
    }
}

impl RecordingService {
    /// Creates the directory, recovers what a crash left unfinished, and
    /// starts the thread. `store` is the service's own connection to the
    /// appliance database.
    pub fn start(config: ServiceConfig, mut store: Store) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(&config.dir).map_err(|source| ServiceError::Dir {
            path: config.dir.clone(),
            source,
        })?;
        let recovery = recovery::recover_all(
            &mut store,
            &config.dir,
            config.key.as_ref(),
            OffsetDateTime::now_utc(),
        )?;
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        let mut worker = Worker {
            stored_bytes: 0,
            config,
            store,
            active: HashMap::new(),
            next_janitor: Instant::now(),
        };
        worker.refresh_stored_bytes();
        let thread = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || worker.run(&rx))
            .map_err(ServiceError::Thread)?;
        Ok(Self {
            handle: ServiceHandle { tx },
            thread,
            recovery,
        })
    }

    /// What recovery did at start.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// A handle for starting recordings.
    pub fn handle(&self) -> ServiceHandle {
        self.handle.clone()
    }

    /// Finishes every active recording and stops the thread.
    pub fn shutdown(self) {
        let _ = self.handle.tx.send(Msg::Shutdown);
        if self.thread.join().is_err() {
            tracing::error!("the recording thread panicked");
        }
    }
}

impl ServiceHandle {
    /// Starts a recording; fails with [`ServiceError::QuotaExceeded`] when
    /// the quota or free-space floor leaves no room.
    pub fn start_recording(&self, request: StartRequest) -> Result<RecorderHandle, ServiceError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Start(request, reply))
            .map_err(|_| ServiceError::Stopped)?;
        let id: Arc<str> = answer.recv().map_err(|_| ServiceError::Stopped)??.into();
        Ok(RecorderHandle {
            id,
            tx: self.tx.clone(),
            dropped: AtomicU64::new(0),
            stopped: false,
        })
    }

    /// Runs the retention and quota job now; returns its plan (carried
    /// out).
    pub fn enforce_retention(&self) -> Result<Plan, ServiceError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Enforce(reply))
            .map_err(|_| ServiceError::Stopped)?;
        answer.recv().map_err(|_| ServiceError::Stopped)?
    }
}

impl RecorderHandle {
    /// The recording's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Hands one party's PCM to the recording without blocking; `false`
    /// when the queue was full and the frame was dropped.
    pub fn push(&self, party: Party, frame: PcmFrame) -> bool {
        match self.tx.try_send(Msg::Push {
            id: self.id.clone(),
            party,
            frame,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Frames dropped because the queue was full.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops the recording and waits until the file is finished and
    /// indexed.
    pub fn stop(mut self) -> Result<Finished, ServiceError> {
        self.stopped = true;
        let (reply, answer) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Stop {
                id: self.id.clone(),
                reply: Some(reply),
            })
            .map_err(|_| ServiceError::Stopped)?;
        answer.recv().map_err(|_| ServiceError::Stopped)?
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.tx.send(Msg::Stop {
                id: self.id.clone(),
                reply: None,
            });
        }
    }
}

struct Active {
    recorder: Recorder,
    row: NewRecording,
}

struct Worker {
    config: ServiceConfig,
    store: Store,
    active: HashMap<Arc<str>, Active>,
    /// Bytes of the finished recordings in the index.
    stored_bytes: u64,
    next_janitor: Instant,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            let now = Instant::now();
            let deadline = self
                .active
                .values()
                .map(|a| a.recorder.poll_timeout())
                .fold(self.next_janitor, Instant::min);
            match rx.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Frames arrive far more often than anything is due.
            let now = Instant::now();
            if now >= deadline {
                self.tick(now);
            }
        }
        let ids: Vec<Arc<str>> = self.active.keys().cloned().collect();
        for id in ids {
            let _ = self.stop(&id);
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Start(request, reply) => {
                let _ = reply.send(self.start(&request));
            }
            Msg::Push { id, party, frame } => {
                if let Some(active) = self.active.get_mut(&id) {
                    active.recorder.push(party, frame.at, &frame.samples);
                }
            }
            Msg::Stop { id, reply } => {
                let result = self.stop(&id);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Msg::Enforce(reply) => {
                let _ = reply.send(self.enforce());
            }
            Msg::Shutdown => {}
        }
    }

    fn start(&mut self, request: &StartRequest) -> Result<String, ServiceError> {
        // Room for at least the headers within the quota and the floor,
        // after deleting old recordings when needed.
        if !self.room_for(BATCH_OVERHEAD) {
            tracing::warn!(
                code = "recording.quota_exceeded",
                "recording refused: no room"
            );
            return Err(ServiceError::QuotaExceeded);
        }
        let now = OffsetDateTime::now_utc();
        let mut random = [0u8; 4 + 19];
        getrandom::fill(&mut random).map_err(|e| ServiceError::Entropy(e.to_string()))?;
        let id = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            hex(&random[..4])
        );
        let ext = match request.format {
            RecordingFormat::OggOpus => "opus.ogg",
            RecordingFormat::Wav => "wav",
        };
        let encrypted = self.config.key.is_some();
        let file_name = if encrypted {
            format!("{id}.{ext}.enc")
        } else {
            format!("{id}.{ext}")
        };
        let row = NewRecording {
            id: id.clone(),
            call_id: request.call_id.clone(),
            path: file_name.clone(),
            format: request.format,
            sample_rate: request.sample_rate,
            started_at: now,
            retention_days: request.retention_days.max(1),
            encrypted,
        };
        // Index first: a crash never leaves a file the index does not know.
        self.store.insert_recording(&row)?;
        let settings = RecorderSettings {
            format: request.format,
            sample_rate: request.sample_rate,
            batch: self.config.batch,
            key: self.config.key.clone(),
        };
        let mut serial = [0u8; 4];
        serial.copy_from_slice(&random[..4]);
        let mut prefix = [0u8; 19];
        prefix.copy_from_slice(&random[4..]);
        let recorder = match Recorder::create(
            &self.config.dir.join(&file_name),
            &settings,
            u32::from_le_bytes(serial),
            prefix,
            Instant::now(),
        ) {
            Ok(r) => r,
            Err(error) => {
                let _ = self
                    .store
                    .finish_recording(&id, RecordingState::Failed, 0, 0, None, now);
                return Err(error.into());
            }
        };
        tracing::info!(recording = %id, call_id = %request.call_id, format = ext, "recording started");
        self.active
            .insert(id.as_str().into(), Active { recorder, row });
        Ok(id)
    }

    fn stop(&mut self, id: &str) -> Result<Finished, ServiceError> {
        let active = self
            .active
            .get_mut(id)
            .ok_or_else(|| ServiceError::UnknownRecording(id.to_owned()))?;
        let drained = active.recorder.drain();
        let pending = active.recorder.pending_bytes() as u64 + BATCH_OVERHEAD;
        if let Err(error) = drained {
            self.fail(id, &error);
            return Err(error.into());
        }
        // The last write is checked like every batch.
        let room = self.room_for(pending);
        let Some(active) = self.active.remove(id) else {
            return Err(ServiceError::UnknownRecording(id.to_owned()));
        };
        let result = if room {
            active.recorder.finish()
        } else {
            tracing::warn!(
                code = "recording.quota_exceeded",
                recording = %id,
                "recording cut at its last batch: quota or free-space floor reached"
            );
            active.recorder.abort()
        };
        self.close(&active.row, result, RecordingState::Complete)
    }

    fn close(
        &mut self,
        row: &NewRecording,
        result: Result<Finished, RecorderError>,
        state: RecordingState,
    ) -> Result<Finished, ServiceError> {
        let now = OffsetDateTime::now_utc();
        match result {
            Ok(finished) => {
                self.store.finish_recording(
                    &row.id,
                    state,
                    finished.duration_ms,
                    finished.bytes,
                    Some(&finished.sha256),
                    now,
                )?;
                self.stored_bytes += finished.bytes;
                tracing::info!(
                    recording = %row.id,
                    duration_ms = finished.duration_ms,
                    bytes = finished.bytes,
                    "recording finished"
                );
                Ok(finished)
            }
            Err(error) => {
                tracing::error!(code = "recording.failed", recording = %row.id, %error, "recording failed");
                // Leave it to recovery at the next start to salvage.
                Err(error.into())
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        let ids: Vec<Arc<str>> = self.active.keys().cloned().collect();
        for id in ids {
            let Some(active) = self.active.get_mut(&id) else {
                continue;
            };
            let due = match active.recorder.handle_timeout(now) {
                Ok(due) => due,
                Err(error) => {
                    self.fail(&id, &error);
                    continue;
                }
            };
            if !due {
                continue;
            }
            let pending = active.recorder.pending_bytes() as u64 + BATCH_OVERHEAD;
            if !self.room_for(pending) {
                let Some(active) = self.active.remove(&id) else {
                    continue;
                };
                tracing::warn!(
                    code = "recording.quota_exceeded",
                    recording = %id,
                    "recording stopped: quota or free-space floor reached"
                );
                let result = active.recorder.abort();
                let _ = self.close(&active.row, result, RecordingState::Complete);
                continue;
            }
            if let Some(active) = self.active.get_mut(&id)
                && let Err(error) = active.recorder.flush(now)
            {
                self.fail(&id, &error);
            }
        }
        if now >= self.next_janitor {
            if let Err(error) = self.enforce() {
                tracing::error!(%error, "recording retention job failed");
            }
            self.next_janitor = now + self.config.janitor_interval;
        }
    }

    /// Whether `pending` more bytes fit the quota and the floor, after the
    /// retention job when they do not at first.
    fn room_for(&mut self, pending: u64) -> bool {
        let fits = |w: &Worker| {
            let active: u64 = w.active.values().map(|a| a.recorder.bytes()).sum();
            let free = (w.config.free_space)(&w.config.dir).unwrap_or(0);
            w.stored_bytes + active + pending <= w.config.limits.quota_bytes
                && free >= w.config.limits.min_free_bytes.saturating_add(pending)
        };
        if fits(self) {
            return true;
        }
        if let Err(error) = self.enforce_with(pending) {
            tracing::error!(%error, "recording retention job failed");
        }
        fits(self)
    }

    fn fail(&mut self, id: &str, error: &RecorderError) {
        tracing::error!(code = "recording.failed", recording = %id, %error, "recording failed; stopping it");
        if let Some(active) = self.active.remove(id) {
            let result = active.recorder.abort();
            let _ = self.close(&active.row, result, RecordingState::Complete);
        }
    }

    fn refresh_stored_bytes(&mut self) {
        match self.store.recordings() {
            Ok(rows) => {
                self.stored_bytes = rows
                    .iter()
                    .filter(|r| !self.active.contains_key(r.recording.id.as_str()))
                    .map(|r| r.bytes)
                    .sum();
            }
            Err(error) => tracing::error!(%error, "cannot read the recordings index"),
        }
    }

    fn enforce(&mut self) -> Result<Plan, ServiceError> {
        self.enforce_with(0)
    }

    /// The retention job, making room for `extra` more bytes within the
    /// quota and above the floor.
    fn enforce_with(&mut self, extra: u64) -> Result<Plan, ServiceError> {
        let free =
            (self.config.free_space)(&self.config.dir).map_err(|source| ServiceError::Dir {
                path: self.config.dir.clone(),
                source,
            })?;
        let active: HashMap<String, u64> = self
            .active
            .iter()
            .map(|(id, a)| (id.to_string(), a.recorder.bytes()))
            .collect();
        let limits = Limits {
            quota_bytes: self.config.limits.quota_bytes.saturating_sub(extra),
            min_free_bytes: self.config.limits.min_free_bytes.saturating_add(extra),
        };
        let plan = enforce(
            &mut self.store,
            &self.config.dir,
            limits,
            free,
            &active,
            OffsetDateTime::now_utc(),
        );
        self.refresh_stored_bytes();
        Ok(plan?)
    }
}

/// The retention and quota job: plans with [`retention::plan`] and carries
/// the plan out: deletes each file, then its index row together with a
/// `recording_deleted` event in the outbox, and logs each deletion.
/// `active` holds the recordings being written (never deleted) with their
/// current size; `free_bytes` is the measured free space.
pub fn enforce<S: std::hash::BuildHasher>(
    store: &mut Store,
    dir: &Path,
    limits: Limits,
    free_bytes: u64,
    active: &HashMap<String, u64, S>,
    now: OffsetDateTime,
) -> Result<Plan, StoreError> {
    let rows = store.recordings()?;
    let candidates: Vec<Candidate> = rows
        .iter()
        .map(|r| {
            let rec = &r.recording;
            let live = active.get(&rec.id);
            Candidate {
                id: rec.id.clone(),
                started_at: rec.started_at,
                bytes: live.copied().unwrap_or(r.bytes),
                retention: Duration::from_secs(u64::from(rec.retention_days) * 86_400),
                deletable: live.is_none() && r.state != RecordingState::Recording,
            }
        })
        .collect();
    let plan = retention::plan(now, &candidates, free_bytes, limits);
    let paths: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.recording.id.as_str(), r.recording.path.as_str()))
        .collect();
    for deletion in &plan.deletions {
        if let Some(path) = paths.get(deletion.id.as_str()) {
            match std::fs::remove_file(dir.join(path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::error!(recording = %deletion.id, %error, "cannot delete a recording file");
                    continue;
                }
            }
        }
        let seq = store.delete_recording(now, &deletion.id, deletion.reason)?;
        tracing::info!(
            recording = %deletion.id,
            reason = ?deletion.reason,
            bytes = deletion.bytes,
            seq,
            "recording deleted"
        );
    }
    if plan.short {
        tracing::warn!(
            code = "recording.quota_exceeded",
            "recordings still exceed the quota or the free-space floor"
        );
    }
    Ok(plan)
}

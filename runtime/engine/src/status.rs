//! What a job is doing, as the executor records it: lifecycle state, start time, restarts and
//! the last failure, the vertices, and the history of checkpoints and savepoints. The REST API
//! and the Prometheus exporter read snapshots of it; only the executor writes it.

use freshet_core::{CheckpointId, CheckpointKind};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many checkpoints and savepoints the history keeps (newest first).
pub const CHECKPOINT_HISTORY: usize = 100;

/// Lifecycle state of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Accepted, tasks not deployed yet.
    Created,
    /// Tasks are running.
    Running,
    /// A task failed; the job restarts from its latest completed checkpoint.
    Restarting,
    /// Cancellation was requested.
    Cancelling,
    /// Ran to its end, or stopped with a savepoint.
    Finished,
    /// Cancelled.
    Cancelled,
    /// Failed beyond its restart strategy.
    Failed,
}

impl JobState {
    /// Whether the job can no longer change state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Cancelled | Self::Failed)
    }

    /// The upper-case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Restarting => "RESTARTING",
            Self::Cancelling => "CANCELLING",
            Self::Finished => "FINISHED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
}

/// Status of one checkpoint or savepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckpointStatus {
    /// Triggered, not every task has acknowledged.
    InProgress,
    /// Completed: its metadata is written.
    Completed,
    /// Failed (declined, timed out, or its metadata could not be written).
    Failed,
}

/// Checkpoint or savepoint, as the API names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// A periodic (or final) checkpoint.
    Checkpoint,
    /// A user-triggered savepoint.
    Savepoint,
}

impl From<CheckpointKind> for SnapshotKind {
    fn from(kind: CheckpointKind) -> Self {
        match kind {
            CheckpointKind::Checkpoint => Self::Checkpoint,
            CheckpointKind::Savepoint => Self::Savepoint,
        }
    }
}

/// One entry of the checkpoint history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Checkpoint id.
    pub id: u64,
    /// Checkpoint or savepoint.
    pub kind: SnapshotKind,
    /// Its status.
    pub status: CheckpointStatus,
    /// When it was triggered (ms since the epoch).
    pub trigger_time_ms: i64,
    /// How long it took to complete or fail (ms); `None` while in progress.
    pub duration_ms: Option<u64>,
    /// Where it is (completed only).
    pub path: Option<String>,
    /// Size of its keyed state in bytes (completed only).
    pub size_bytes: Option<u64>,
    /// Why it failed (failed only).
    pub failure_reason: Option<String>,
}

/// A vertex (operator) of the job graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VertexInfo {
    /// Stable operator uid.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Parallel subtasks.
    pub parallelism: u32,
}

/// A copy of the recorded status at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusSnapshot {
    /// Job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Lifecycle state.
    pub state: JobState,
    /// When the executor was created (ms since the epoch).
    pub start_time_ms: i64,
    /// When the job reached a terminal state (ms since the epoch).
    pub end_time_ms: Option<i64>,
    /// Restarts so far.
    pub restarts: u32,
    /// The reason of the last failure (a task failure or the job's failure).
    pub last_failure: Option<String>,
    /// What the job waits for, when it waits (e.g. task slots), for humans.
    pub note: Option<String>,
    /// The job graph's vertices.
    pub vertices: Vec<VertexInfo>,
    /// Checkpoints and savepoints, newest first (at most [`CHECKPOINT_HISTORY`]).
    pub checkpoints: Vec<CheckpointRecord>,
    /// Completed checkpoints and savepoints since the start.
    pub completed: u64,
    /// Failed checkpoints and savepoints since the start.
    pub failed: u64,
}

impl StatusSnapshot {
    /// How long the job has run (until now or its end), in ms.
    pub fn duration_ms(&self, now_ms: i64) -> u64 {
        (self.end_time_ms.unwrap_or(now_ms) - self.start_time_ms).max(0) as u64
    }

    /// The newest completed checkpoint or savepoint.
    pub fn latest_completed(&self) -> Option<&CheckpointRecord> {
        self.checkpoints
            .iter()
            .find(|c| c.status == CheckpointStatus::Completed)
    }

    /// How many are in progress.
    pub fn in_progress(&self) -> u64 {
        self.checkpoints
            .iter()
            .filter(|c| c.status == CheckpointStatus::InProgress)
            .count() as u64
    }
}

#[derive(Debug)]
struct Inner {
    name: String,
    state: JobState,
    end_time_ms: Option<i64>,
    restarts: u32,
    last_failure: Option<String>,
    note: Option<String>,
    vertices: Vec<VertexInfo>,
    checkpoints: VecDeque<CheckpointRecord>,
    completed: u64,
    failed: u64,
}

/// The recorded status of one job; cheap to share, written by the executor.
#[derive(Debug)]
pub struct JobStatus {
    id: String,
    start_time_ms: i64,
    inner: Mutex<Inner>,
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A new unique id: 32 hex digits from the time, the process id and a counter.
pub fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:016x}{:08x}{:08x}", std::process::id(), n as u32)
}

impl Default for JobStatus {
    fn default() -> Self {
        Self::new()
    }
}

impl JobStatus {
    /// A job in state CREATED with a new id, started now.
    pub fn new() -> Self {
        Self::with_id(new_id())
    }

    /// A job in state CREATED with the given id (e.g. kept across coordinator failovers),
    /// started now.
    pub fn with_id(id: String) -> Self {
        Self {
            id,
            start_time_ms: now_ms(),
            inner: Mutex::new(Inner {
                name: String::new(),
                state: JobState::Created,
                end_time_ms: None,
                restarts: 0,
                last_failure: None,
                note: None,
                vertices: Vec::new(),
                checkpoints: VecDeque::new(),
                completed: 0,
                failed: 0,
            }),
        }
    }

    /// Sets or clears what the job waits for (shown by the REST API as `status_message`).
    pub fn set_note(&self, note: Option<String>) {
        self.inner.lock().note = note;
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current state.
    pub fn state(&self) -> JobState {
        self.inner.lock().state
    }

    /// Records the job's name and vertices.
    pub fn set_graph(&self, name: &str, vertices: Vec<VertexInfo>) {
        let mut inner = self.inner.lock();
        inner.name = name.to_string();
        inner.vertices = vertices;
    }

    /// Moves to `state` unless the job already ended; a terminal state records the end time.
    pub fn set_state(&self, state: JobState) {
        let mut inner = self.inner.lock();
        if inner.state.is_terminal() {
            return;
        }
        // Cancelling is left only for an end, never back to running.
        if inner.state == JobState::Cancelling && !state.is_terminal() {
            return;
        }
        inner.state = state;
        if state.is_terminal() {
            inner.end_time_ms = Some(now_ms());
        }
    }

    /// Marks the job as cancelling if it is running or restarting; returns the state it found.
    pub fn begin_cancel(&self) -> JobState {
        let mut inner = self.inner.lock();
        let found = inner.state;
        if matches!(found, JobState::Running | JobState::Restarting | JobState::Created) {
            inner.state = JobState::Cancelling;
        }
        found
    }

    /// A failure that leads to a restart.
    pub fn record_restart(&self, reason: &str) {
        let mut inner = self.inner.lock();
        inner.restarts += 1;
        inner.last_failure = Some(reason.to_string());
        if inner.state == JobState::Running {
            inner.state = JobState::Restarting;
        }
    }

    /// The job failed for good.
    pub fn record_failure(&self, reason: &str) {
        self.inner.lock().last_failure = Some(reason.to_string());
        self.set_state(JobState::Failed);
    }

    /// Checkpoint `id` was triggered.
    pub fn checkpoint_triggered(&self, id: CheckpointId, kind: CheckpointKind, trigger_time_ms: i64) {
        let mut inner = self.inner.lock();
        inner.checkpoints.push_front(CheckpointRecord {
            id: id.0,
            kind: kind.into(),
            status: CheckpointStatus::InProgress,
            trigger_time_ms,
            duration_ms: None,
            path: None,
            size_bytes: None,
            failure_reason: None,
        });
        inner.checkpoints.truncate(CHECKPOINT_HISTORY);
    }

    /// Checkpoint `id` completed at `path` with `size_bytes` of state. One never seen
    /// triggered (the final checkpoint of a bounded job) is added.
    pub fn checkpoint_completed(
        &self,
        id: CheckpointId,
        kind: CheckpointKind,
        trigger_time_ms: i64,
        path: String,
        size_bytes: u64,
        now_ms: i64,
    ) {
        let mut inner = self.inner.lock();
        inner.completed += 1;
        let record = match inner.checkpoints.iter_mut().find(|c| c.id == id.0) {
            Some(r) => r,
            None => {
                inner.checkpoints.push_front(CheckpointRecord {
                    id: id.0,
                    kind: kind.into(),
                    status: CheckpointStatus::InProgress,
                    trigger_time_ms,
                    duration_ms: None,
                    path: None,
                    size_bytes: None,
                    failure_reason: None,
                });
                inner.checkpoints.truncate(CHECKPOINT_HISTORY);
                &mut inner.checkpoints[0]
            }
        };
        record.status = CheckpointStatus::Completed;
        record.duration_ms = Some((now_ms - record.trigger_time_ms).max(0) as u64);
        record.path = Some(path);
        record.size_bytes = Some(size_bytes);
    }

    /// Checkpoint `id` failed.
    pub fn checkpoint_failed(&self, id: CheckpointId, reason: &str, now_ms: i64) {
        let mut inner = self.inner.lock();
        let Some(record) = inner
            .checkpoints
            .iter_mut()
            .find(|c| c.id == id.0 && c.status == CheckpointStatus::InProgress)
        else {
            return;
        };
        record.status = CheckpointStatus::Failed;
        record.duration_ms = Some((now_ms - record.trigger_time_ms).max(0) as u64);
        record.failure_reason = Some(reason.to_string());
        inner.failed += 1;
    }

    /// Fails every checkpoint still in progress (the attempt running them ended).
    pub fn abandon_in_progress(&self, reason: &str, now_ms: i64) {
        let mut inner = self.inner.lock();
        let mut n = 0;
        for record in inner
            .checkpoints
            .iter_mut()
            .filter(|c| c.status == CheckpointStatus::InProgress)
        {
            record.status = CheckpointStatus::Failed;
            record.duration_ms = Some((now_ms - record.trigger_time_ms).max(0) as u64);
            record.failure_reason = Some(reason.to_string());
            n += 1;
        }
        inner.failed += n;
    }

    /// A copy of everything recorded.
    pub fn snapshot(&self) -> StatusSnapshot {
        let inner = self.inner.lock();
        StatusSnapshot {
            id: self.id.clone(),
            name: inner.name.clone(),
            state: inner.state,
            start_time_ms: self.start_time_ms,
            end_time_ms: inner.end_time_ms,
            restarts: inner.restarts,
            last_failure: inner.last_failure.clone(),
            note: inner.note.clone(),
            vertices: inner.vertices.clone(),
            checkpoints: inner.checkpoints.iter().cloned().collect(),
            completed: inner.completed,
            failed: inner.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_stick_and_cancelling_only_ends() {
        let s = JobStatus::new();
        assert_eq!(s.state(), JobState::Created);
        s.set_state(JobState::Running);
        assert_eq!(s.begin_cancel(), JobState::Running);
        s.set_state(JobState::Running);
        assert_eq!(s.state(), JobState::Cancelling);
        s.set_state(JobState::Cancelled);
        s.set_state(JobState::Running);
        assert_eq!(s.state(), JobState::Cancelled);
        assert!(s.snapshot().end_time_ms.is_some());
    }

    #[test]
    fn history_records_completion_failure_and_unseen_final_checkpoints() {
        let s = JobStatus::new();
        s.checkpoint_triggered(CheckpointId(1), CheckpointKind::Checkpoint, 1_000);
        s.checkpoint_triggered(CheckpointId(2), CheckpointKind::Savepoint, 2_000);
        s.checkpoint_completed(
            CheckpointId(1),
            CheckpointKind::Checkpoint,
            1_000,
            "file:///c/1".into(),
            42,
            1_250,
        );
        s.checkpoint_failed(CheckpointId(2), "declined", 2_100);
        s.checkpoint_completed(
            CheckpointId(3),
            CheckpointKind::Checkpoint,
            3_000,
            "file:///c/3".into(),
            7,
            3_000,
        );
        let snap = s.snapshot();
        assert_eq!((snap.completed, snap.failed, snap.in_progress()), (2, 1, 0));
        let ids: Vec<u64> = snap.checkpoints.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![3, 2, 1]);
        assert_eq!(snap.latest_completed().map(|c| c.id), Some(3));
        let first = &snap.checkpoints[2];
        assert_eq!((first.duration_ms, first.size_bytes), (Some(250), Some(42)));
        assert_eq!(snap.checkpoints[1].failure_reason.as_deref(), Some("declined"));
    }

    #[test]
    fn history_is_bounded() {
        let s = JobStatus::new();
        for i in 0..(CHECKPOINT_HISTORY as u64 + 10) {
            s.checkpoint_triggered(CheckpointId(i), CheckpointKind::Checkpoint, 0);
        }
        assert_eq!(s.snapshot().checkpoints.len(), CHECKPOINT_HISTORY);
    }
}

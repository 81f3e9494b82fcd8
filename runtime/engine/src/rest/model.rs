//! Request and response bodies of the REST API (JSON). `docs/openapi.yaml` describes the same.

use crate::status::{CheckpointRecord, JobState};
use serde::{Deserialize, Serialize};

/// One job in the job list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Lifecycle state.
    pub state: JobState,
}

/// `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    /// Every job this process knows.
    pub jobs: Vec<JobSummary>,
}

/// One vertex (operator) of a job with its counters summed over subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VertexDetail {
    /// Stable operator uid.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Parallel subtasks.
    pub parallelism: u32,
    /// Records received (since the current attempt started).
    pub records_in: u64,
    /// Records emitted (since the current attempt started).
    pub records_out: u64,
    /// Bytes received (in-memory Arrow size).
    pub bytes_in: u64,
    /// Bytes emitted (in-memory Arrow size).
    pub bytes_out: u64,
    /// Fraction of time its busiest task spent waiting for downstream capacity, in `[0, 1]`.
    pub backpressure_ratio: f64,
    /// Its current input watermark (ms since the epoch, lowest over subtasks), if any.
    pub watermark_ms: Option<i64>,
}

/// `GET /v1/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    /// Job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Lifecycle state.
    pub state: JobState,
    /// When the job started (ms since the epoch).
    pub start_time_ms: i64,
    /// When it ended (ms since the epoch), if it did.
    pub end_time_ms: Option<i64>,
    /// How long it has run (ms).
    pub duration_ms: u64,
    /// Restarts after failures.
    pub restarts: u32,
    /// Reason of the last failure.
    pub last_failure: Option<String>,
    /// What the job waits for, if it waits (e.g. "waiting for 2 more task slots ...").
    pub status_message: Option<String>,
    /// The job graph's vertices.
    pub vertices: Vec<VertexDetail>,
}

/// Checkpoint counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCounts {
    /// Completed checkpoints and savepoints.
    pub completed: u64,
    /// Failed ones.
    pub failed: u64,
    /// In progress.
    pub in_progress: u64,
}

/// `GET /v1/jobs/{id}/checkpoints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointsView {
    /// Counts since the job started.
    pub counts: CheckpointCounts,
    /// The newest completed checkpoint or savepoint.
    pub latest_completed: Option<CheckpointRecord>,
    /// Recent checkpoints and savepoints, newest first.
    pub history: Vec<CheckpointRecord>,
}

/// `POST /v1/jobs/{id}/savepoints` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavepointRequest {
    /// Where the savepoint goes (path or URL); the job's savepoint directory if absent.
    #[serde(default)]
    pub target_directory: Option<String>,
    /// Stop the job once the savepoint completes.
    #[serde(default)]
    pub stop: bool,
}

/// `POST /v1/jobs/{id}/savepoints/dispose` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisposeRequest {
    /// The savepoint's location (what its trigger reported as `location`).
    pub location: String,
}

/// `200` answer to a disposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposeResponse {
    /// The location whose files were deleted.
    pub disposed: String,
}

/// `202` answer to a savepoint trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerResponse {
    /// Poll `GET /v1/jobs/{id}/savepoints/{trigger_id}` with it.
    pub trigger_id: String,
}

/// `GET /v1/jobs/{id}/savepoints/{trigger_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SavepointStatus {
    /// Still running.
    InProgress,
    /// Done.
    Completed {
        /// Where the savepoint is.
        location: String,
    },
    /// Failed.
    Failed {
        /// Why.
        reason: String,
    },
}

/// `202` answer to a cancel request, and the health answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBody {
    /// `CANCELLING`, `ok` or `ready`.
    pub status: String,
}

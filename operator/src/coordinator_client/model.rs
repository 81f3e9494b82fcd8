//! What the coordinator's REST API answers (docs/rest-api.md), as the operator reads it.
//!
//! These are the operator's own types, not the engine's: the operator never links the engine.
//! Fields the operator does not use (vertices, counters) are left out and ignored when decoding;
//! a state or kind this version does not know decodes as `Other`/`Unknown` instead of failing,
//! so a newer coordinator does not blind an older operator.

use serde::{Deserialize, Serialize};

/// A job's lifecycle state as the coordinator reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum JobState {
    /// Accepted, tasks not deployed yet (also while waiting for task slots).
    Created,
    /// Tasks are running.
    Running,
    /// A task failed; the job restarts from its latest completed checkpoint.
    Restarting,
    /// Being cancelled.
    Cancelling,
    /// Ran to its end, or stopped with a savepoint.
    Finished,
    /// Cancelled.
    Cancelled,
    /// Failed beyond its restart strategy.
    Failed,
    /// A state this operator does not know, as sent.
    Other(String),
}

impl JobState {
    /// The state as the API spells it (`RUNNING`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Restarting => "RESTARTING",
            JobState::Cancelling => "CANCELLING",
            JobState::Finished => "FINISHED",
            JobState::Cancelled => "CANCELLED",
            JobState::Failed => "FAILED",
            JobState::Other(s) => s,
        }
    }

    /// Whether the job has ended (`FINISHED`, `CANCELLED`, `FAILED`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobState::Finished | JobState::Cancelled | JobState::Failed)
    }
}

impl From<String> for JobState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "CREATED" => JobState::Created,
            "RUNNING" => JobState::Running,
            "RESTARTING" => JobState::Restarting,
            "CANCELLING" => JobState::Cancelling,
            "FINISHED" => JobState::Finished,
            "CANCELLED" => JobState::Cancelled,
            "FAILED" => JobState::Failed,
            _ => JobState::Other(s),
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job of `GET /v1/jobs`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct JobSummary {
    /// The job id.
    pub id: String,
    /// The job's name (`pipeline.name`, or the script's file name).
    pub name: String,
    /// Its state.
    pub state: JobState,
}

/// `GET /v1/jobs`.
#[derive(Deserialize)]
pub(crate) struct JobList {
    pub(crate) jobs: Vec<JobSummary>,
}

/// `GET /v1/jobs/{id}`, the fields the operator uses.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct JobDetails {
    /// The job id.
    pub id: String,
    /// The job's name.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// Restarts after failures so far.
    #[serde(default)]
    pub restarts: u64,
    /// The reason of the last failure.
    #[serde(default)]
    pub last_failure: Option<String>,
    /// What the job waits for (e.g. task slots), if it waits.
    #[serde(default)]
    pub status_message: Option<String>,
}

/// Checkpoint or savepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    /// A periodic checkpoint (or the final one of a bounded job).
    Checkpoint,
    /// A savepoint.
    Savepoint,
    /// A kind this operator does not know.
    #[serde(other)]
    Unknown,
}

/// Where a checkpoint or savepoint stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckpointStatus {
    /// Triggered, not acknowledged by every task yet.
    InProgress,
    /// Completed: its metadata is written.
    Completed,
    /// Failed (see `failure_reason`).
    Failed,
    /// A status this operator does not know.
    #[serde(other)]
    Unknown,
}

/// One checkpoint or savepoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CheckpointEntry {
    /// The checkpoint id.
    pub id: u64,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
    /// Its status.
    pub status: CheckpointStatus,
    /// When it was triggered, ms since the epoch.
    pub trigger_time_ms: i64,
    /// How long it took (ms), once it completed or failed.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Where it is (completed only; what `--restore` takes).
    #[serde(default)]
    pub path: Option<String>,
    /// Size of its keyed state (completed only).
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Why it failed (failed only).
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// Checkpoint counts since the job started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CheckpointCounts {
    /// Completed checkpoints and savepoints.
    pub completed: u64,
    /// Failed ones.
    pub failed: u64,
    /// In progress.
    pub in_progress: u64,
}

/// `GET /v1/jobs/{id}/checkpoints`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CheckpointsView {
    /// Counts since the job started.
    pub counts: CheckpointCounts,
    /// The newest completed checkpoint or savepoint, if any.
    #[serde(default)]
    pub latest_completed: Option<CheckpointEntry>,
    /// The last checkpoints and savepoints, newest first.
    #[serde(default)]
    pub history: Vec<CheckpointEntry>,
}

/// `POST /v1/jobs/{id}/savepoints` body.
#[derive(Serialize)]
pub(crate) struct SavepointRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target_directory: Option<&'a str>,
    pub(crate) stop: bool,
}

/// `202` answer to a savepoint trigger.
#[derive(Deserialize)]
pub(crate) struct TriggerResponse {
    pub(crate) trigger_id: String,
}

/// `GET /v1/jobs/{id}/savepoints/{trigger_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SavepointStatus {
    /// Still being taken.
    InProgress,
    /// Done.
    Completed {
        /// Where the savepoint is (what `--restore` takes).
        location: String,
    },
    /// Failed.
    Failed {
        /// Why.
        reason: String,
    },
}

/// The `{"error": "..."}` body of every non-2xx answer.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_decode_including_unknown_ones() {
        let states: Vec<JobState> = serde_json::from_str(r#"["RUNNING", "FAILED", "PAUSED"]"#).unwrap();
        assert_eq!(
            states,
            vec![JobState::Running, JobState::Failed, JobState::Other("PAUSED".into())]
        );
        assert!(states[1].is_terminal() && !states[0].is_terminal());
        assert_eq!(states[2].to_string(), "PAUSED");
    }

    #[test]
    fn unknown_checkpoint_kinds_and_statuses_decode() {
        let entry: CheckpointEntry =
            serde_json::from_str(r#"{"id": 1, "kind": "incremental", "status": "ARCHIVED", "trigger_time_ms": 5}"#)
                .unwrap();
        assert_eq!(
            (entry.kind, entry.status, entry.path),
            (CheckpointKind::Unknown, CheckpointStatus::Unknown, None)
        );
    }

    #[test]
    fn savepoint_request_leaves_out_an_absent_directory() {
        let body = serde_json::to_string(&SavepointRequest {
            target_directory: None,
            stop: true,
        })
        .unwrap();
        assert_eq!(body, r#"{"stop":true}"#);
    }
}

//! `StreamJob.status`: what the operator observed and what it is doing. Only the controller
//! writes it.
//!
//! The status is also the operator's write-ahead log: an operation (upgrade, suspend,
//! savepoint, ...) is recorded in [`StreamJobStatus::operation`] before any destructive step,
//! and every step is recorded before it is taken, so an operator restarted in the middle
//! resumes the operation where it stood. Snapshot locations (latest checkpoint, savepoints,
//! the restore point) are mirrored from the coordinator and its HA record, so a lost HA record
//! never forces a manual restore.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of a StreamJob.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamJobStatus {
    /// Coarse lifecycle for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The job as the coordinator reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobInfo>,
    /// The `metadata.generation` the status reflects: the spec of that generation has been
    /// acted on (deployed, or refused as invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the summary), `Reconciling`, `Stalled`, `Degraded`, `Savepointing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Parallelism of the deployed job (the scale subresource's status replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// Label selector of the job's worker pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The latest completed checkpoint of the running job, mirrored from the coordinator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_checkpoint: Option<Snapshot>,
    /// The latest completed savepoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_savepoint: Option<Snapshot>,
    /// Completed savepoints, oldest first, pruned by `spec.savepoints.historyMaxCount` and
    /// `historyMaxAge` (the newest is always kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub savepoint_history: Vec<Snapshot>,
    /// The newest state of the job known to be complete: what a redeployment restores from
    /// when no newer checkpoint is recorded. Absent: the job has no state to restore (it
    /// started empty and completed no checkpoint since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point: Option<Snapshot>,
    /// Savepoints pruned from the history whose files are still to be deleted (through the
    /// coordinator, which holds the storage credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub savepoints_to_dispose: Vec<String>,
    /// The snapshot the current deployment restored from (never disposed while it runs: its
    /// incremental checkpoints may share files with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_from: Option<String>,
    /// The spec (as JSON) of the deployed job, or of the one being deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconciled_spec: Option<String>,
    /// The spec (as JSON) of the last deployment that reached RUNNING: what a rollback goes
    /// back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stable_spec: Option<String>,
    /// The operation in flight, written before any destructive step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// The last error, with a stable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Redeployments after failures since the job last ran stably.
    #[serde(default)]
    pub failed_restarts: i32,
    /// The `savepointTriggerNonce` last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_savepoint_nonce: Option<i64>,
    /// The `restartNonce` last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_nonce: Option<i64>,
    /// When the current deployment was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<String>,
    /// When the last periodic savepoint was started (RFC 3339): the next is due one
    /// `periodicInterval` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_periodic_savepoint: Option<String>,
    /// The spec (its deployable form, as JSON) whose upgrade was rolled back: not deployed
    /// again until the spec changes in a way that needs a redeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_spec: Option<String>,
}

/// Coarse lifecycle phase.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Objects being created, the job not running yet.
    Deploying,
    /// The job runs.
    Running,
    /// A spec change is being rolled out.
    Upgrading,
    /// The job is being stopped for suspension.
    Suspending,
    /// Stopped with its state kept; no pods.
    Suspended,
    /// The job failed and is being redeployed from its latest checkpoint.
    Recovering,
    /// The job failed beyond the restart policy (or cannot be deployed).
    Failed,
    /// An upgrade did not become healthy; the last stable spec is being restored.
    RollingBack,
    /// The job ran to its end (bounded input).
    Finished,
    /// The StreamJob is being deleted.
    Deleting,
}

impl Phase {
    /// Every phase, for metrics.
    pub const ALL: [Phase; 10] = [
        Phase::Deploying,
        Phase::Running,
        Phase::Upgrading,
        Phase::Suspending,
        Phase::Suspended,
        Phase::Recovering,
        Phase::Failed,
        Phase::RollingBack,
        Phase::Finished,
        Phase::Deleting,
    ];

    /// The phase's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Deploying => "Deploying",
            Phase::Running => "Running",
            Phase::Upgrading => "Upgrading",
            Phase::Suspending => "Suspending",
            Phase::Suspended => "Suspended",
            Phase::Recovering => "Recovering",
            Phase::Failed => "Failed",
            Phase::RollingBack => "RollingBack",
            Phase::Finished => "Finished",
            Phase::Deleting => "Deleting",
        }
    }
}

/// The job as its coordinator reports it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// The job id (kept across coordinator failovers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `CREATED`, `RUNNING`, `RESTARTING`, `CANCELLING`, `FINISHED`, `CANCELLED`, `FAILED`, or
    /// `UNKNOWN` when the coordinator cannot be reached.
    pub state: String,
    /// Restarts the coordinator made after task failures.
    #[serde(default)]
    pub restarts: i64,
    /// The reason of the last task failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// What the job waits for (e.g. task slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A completed checkpoint or savepoint.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Where it is (what `--restore` takes).
    pub location: String,
    /// What took it.
    pub kind: SnapshotKind,
    /// When the operator learned that it completed (RFC 3339).
    pub time: String,
    /// The checkpoint id, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<i64>,
}

/// What took a snapshot.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// A periodic checkpoint.
    Checkpoint,
    /// A savepoint asked for by `savepointTriggerNonce`.
    Manual,
    /// A periodic savepoint.
    Periodic,
    /// The savepoint of an upgrade (stop-with-savepoint).
    Upgrade,
    /// The savepoint of a suspension.
    Suspend,
    /// The final savepoint on deletion.
    Deletion,
    /// The `initialSavepointPath` the job first started from.
    Initial,
}

/// Why an operation runs.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The first deployment.
    Deploy,
    /// A spec change.
    Upgrade,
    /// `restartNonce` changed.
    Restart,
    /// `state: suspended`.
    Suspend,
    /// `state: running` after a suspension.
    Resume,
    /// The job failed; redeploy from the latest checkpoint.
    Recover,
    /// An upgrade missed its readiness deadline; back to the last stable spec.
    Rollback,
    /// A savepoint asked for by `savepointTriggerNonce`.
    ManualSavepoint,
    /// A periodic savepoint.
    PeriodicSavepoint,
    /// The StreamJob is being deleted.
    Delete,
}

/// Where an operation stands. Each step is written to the status before it is taken.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Taking a savepoint (the job stops after it if the operation stops the job).
    Savepointing,
    /// Removing the job's pods; the job is stopped once they are gone.
    TearingDown,
    /// Applying the job's objects from the target spec.
    Deploying,
    /// Waiting for the new deployment to report RUNNING.
    AwaitingRunning,
}

/// How the job is stopped by an operation.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StopMode {
    /// Stop-with-savepoint; restore from the savepoint.
    Savepoint,
    /// Tear down; restore from the latest completed checkpoint.
    LastState,
    /// Tear down; start without state.
    Stateless,
}

/// An operation in flight: the write-ahead log of the lifecycle.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Why it runs.
    pub purpose: Purpose,
    /// Where it stands.
    pub step: Step,
    /// How the job is stopped (for operations that stop it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_mode: Option<StopMode>,
    /// When the operation started (RFC 3339).
    pub started_at: String,
    /// When the current step started (RFC 3339).
    pub step_started_at: String,
    /// Savepoint attempts so far in this operation.
    #[serde(default)]
    pub attempts: i32,
    /// The coordinator's id of the savepoint in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    /// The savepoint the operation's deployment starts from; absent: start without state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<Snapshot>,
    /// The spec (as JSON) being deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_spec: Option<String>,
    /// The generation being deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_generation: Option<i64>,
    /// The nonce being acted on (manual savepoint, restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<i64>,
    /// Not before this time (RFC 3339): the backoff of a recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
}

/// An error with a stable reason.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// A stable, CamelCase reason (e.g. `InvalidSpec`, `SavepointFailed`, `JobFailed`).
    pub reason: String,
    /// What happened, for humans.
    pub message: String,
    /// When (RFC 3339).
    pub time: String,
}

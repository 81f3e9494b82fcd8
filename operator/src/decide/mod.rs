//! The decision: a pure function from what the user asked for (spec), what the operator
//! recorded (status) and what it observed (objects, the coordinator's REST status, the HA
//! Lease) to the next step: one [`Action`] and the status to write.
//!
//! The contract with `act`: the returned status is written FIRST, then the action is taken.
//! Every destructive step is therefore recorded before it happens (the status is a
//! write-ahead log), and an operator restarted at any point decides the same step again from
//! the recorded status; every action is safe to repeat.
//!
//! Invariant: no flow starts a job without state when it had state to restore, unless the
//! spec asks for it (`upgradeMode: stateless`, on both the old and the new spec).

mod conditions;
mod flows;
mod mirror;
mod observation;
mod operation;
pub mod reasons;
mod snapshots;
mod spec_diff;
#[cfg(test)]
mod tests;

pub use observation::{JobObservation, JobState, LeaseObservation, Observation, SavepointObservation};
pub use snapshots::prune_history;
pub use spec_diff::{deployable_form, to_json as spec_to_json};

use crate::crd::{StreamJobSpec, StreamJobStatus};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct DecideInput<'a> {
    /// The spec as it is now.
    pub spec: &'a StreamJobSpec,
    /// `metadata.generation`.
    pub generation: i64,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// What [`crate::validate`] found wrong with the spec, if anything.
    pub spec_error: Option<String>,
    /// The status as last written.
    pub status: &'a StreamJobStatus,
    /// What observe saw.
    pub observed: &'a Observation,
    /// The time of this decision.
    pub now: DateTime<Utc>,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing but the status write.
    None,
    /// Apply every object of the job for `spec`, the coordinator restoring from
    /// `restore_from`. With `reset_ha` the job's HA Lease is deleted first (a new run must not
    /// inherit the old run's record); it is only set while no coordinator exists.
    Deploy {
        /// The spec to deploy.
        spec: Box<StreamJobSpec>,
        /// The snapshot location passed as `--restore`.
        restore_from: Option<String>,
        /// Delete the HA Lease before applying.
        reset_ha: bool,
    },
    /// Ask the coordinator for a savepoint; the trigger id goes into
    /// `status.operation.triggerId` once the coordinator answers.
    TriggerSavepoint {
        /// The coordinator's REST base URL.
        rest_url: String,
        /// The job id.
        job_id: String,
        /// Where the savepoint goes.
        directory: Option<String>,
        /// Stop the job once the savepoint completed.
        stop: bool,
    },
    /// Delete the coordinator Deployment and the workers (the job stops).
    TearDown,
    /// Deletion is complete: remove the finalizer (owned objects are garbage-collected).
    ReleaseFinalizer,
}

/// A Kubernetes event to record (only on transitions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    /// `Normal` or `Warning`.
    pub warning: bool,
    /// A stable CamelCase reason.
    pub reason: &'static str,
    /// What happened.
    pub note: String,
}

/// Savepoints whose files go, and the coordinator that deletes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disposal {
    /// The leader's REST base URL.
    pub rest_url: String,
    /// The job id.
    pub job_id: String,
    /// The savepoint locations.
    pub locations: Vec<String>,
}

/// The result of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write before acting.
    pub status: StreamJobStatus,
    /// The step to take after the status is written.
    pub action: Action,
    /// When to look again (at the latest).
    pub requeue: Duration,
    /// Events to record.
    pub events: Vec<EventNote>,
    /// Savepoints to dispose after the action, through the leader at `(rest_url, job_id)`;
    /// act removes each one it disposed from `status.savepointsToDispose`.
    pub dispose: Option<Disposal>,
    /// Outcomes to count in metrics (`savepoint:<kind>:<outcome>`, `upgrade:<mode>:<outcome>`).
    pub outcomes: Vec<String>,
}

/// Decides the next step. Pure: no I/O, no clock but `input.now`.
pub fn decide(input: &DecideInput<'_>) -> Decision {
    let mut d = Decision {
        status: input.status.clone(),
        action: Action::None,
        requeue: flows::STEADY_REQUEUE,
        events: Vec::new(),
        outcomes: Vec::new(),
        dispose: None,
    };
    mirror::mirror_observations(input, &mut d.status);
    flows::next_step(input, &mut d);
    snapshots::prune_in_place(input, &mut d.status);
    d.dispose = snapshots::disposal(input, &d.status);
    d.status.phase = Some(flows::phase_of(input, &d.status));
    d.status.observed_generation = Some(input.generation);
    conditions::update(input, &mut d.status);
    d
}

//! The lifecycle flows. Without an operation in flight, [`start`] picks what to do; with one,
//! the operation's step decides: [`savepointing`], [`teardown`] (then deploy), [`awaiting`]
//! (the new deployment reaching RUNNING). Deletion has its own entry ([`deletion`]).

mod awaiting;
mod deletion;
mod deploy;
mod savepointing;
mod start;
mod teardown;

use super::{spec_diff, DecideInput, Decision, EventNote, JobState};
use crate::crd::{duration, ErrorInfo, Operation, Phase, Purpose, Step, StopMode, StreamJobSpec, StreamJobStatus};
use std::time::Duration;

/// Requeue of a job with nothing in flight.
pub const STEADY_REQUEUE: Duration = Duration::from_secs(30);
/// Requeue while an operation polls the coordinator or waits for pods.
pub const POLL: Duration = Duration::from_secs(2);
/// Default time a savepoint may take.
pub const DEFAULT_SAVEPOINT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default savepoint attempts of one operation.
pub const DEFAULT_SAVEPOINT_ATTEMPTS: i32 = 3;

/// Decides the step for this pass into `d`.
pub fn next_step(input: &DecideInput<'_>, d: &mut Decision) {
    if input.deleting {
        return deletion::next(input, d);
    }
    match d.status.operation.clone() {
        Some(op) => continue_operation(input, d, op),
        None => start::next(input, d),
    }
}

/// Continues the operation in flight from its recorded step.
pub(super) fn continue_operation(input: &DecideInput<'_>, d: &mut Decision, op: Operation) {
    match op.step {
        Step::Savepointing => savepointing::next(input, d, op),
        Step::TearingDown => teardown::next(input, d, op),
        Step::Deploying => deploy::next(input, d, op),
        Step::AwaitingRunning => awaiting::next(input, d, op),
    }
}

/// The lifecycle phase after this decision.
pub fn phase_of(input: &DecideInput<'_>, status: &StreamJobStatus) -> Phase {
    if input.deleting {
        return Phase::Deleting;
    }
    if let Some(op) = &status.operation {
        return match op.purpose {
            Purpose::Deploy | Purpose::Resume => Phase::Deploying,
            Purpose::Upgrade | Purpose::Restart => Phase::Upgrading,
            Purpose::Suspend => Phase::Suspending,
            Purpose::Recover => Phase::Recovering,
            Purpose::Rollback => Phase::RollingBack,
            Purpose::Delete => Phase::Deleting,
            Purpose::ManualSavepoint | Purpose::PeriodicSavepoint => Phase::Running,
        };
    }
    if status.last_reconciled_spec.is_none() {
        return Phase::Failed;
    }
    if status.phase == Some(Phase::Suspended) {
        return Phase::Suspended;
    }
    match input.observed.job_state() {
        Some(JobState::Failed) => Phase::Failed,
        Some(JobState::Finished) | Some(JobState::Cancelled) => Phase::Finished,
        _ => Phase::Running,
    }
}

/// The spec the job should run: the current one, or the last valid one when the current
/// one is invalid.
pub(super) fn effective_spec(input: &DecideInput<'_>, status: &StreamJobStatus) -> Option<StreamJobSpec> {
    if input.spec_error.is_none() {
        return Some(input.spec.clone());
    }
    status.last_reconciled_spec.as_deref().and_then(spec_diff::from_json)
}

/// The spec recorded as deployed.
pub(super) fn deployed_spec(status: &StreamJobStatus) -> Option<StreamJobSpec> {
    status.last_reconciled_spec.as_deref().and_then(spec_diff::from_json)
}

/// Where and which job to ask for a savepoint: the leader's REST URL from the HA Lease and
/// the job id.
pub(super) fn rest_target(input: &DecideInput<'_>, status: &StreamJobStatus) -> Option<(String, String)> {
    let url = input.observed.lease.as_ref()?.rest_url.clone()?;
    let id = match &input.observed.job {
        Some(job) => job.id.clone(),
        None => status.job.as_ref()?.id.clone()?,
    };
    Some((url, id))
}

/// The savepoint timeout of `spec`.
pub(super) fn savepoint_timeout(spec: &StreamJobSpec) -> Duration {
    spec.savepoints
        .as_ref()
        .and_then(|s| s.timeout.as_deref())
        .and_then(duration::parse)
        .unwrap_or(DEFAULT_SAVEPOINT_TIMEOUT)
}

/// Savepoint attempts per operation of `spec`.
pub(super) fn savepoint_attempts(spec: &StreamJobSpec) -> i32 {
    spec.savepoints
        .as_ref()
        .and_then(|s| s.max_attempts)
        .unwrap_or(DEFAULT_SAVEPOINT_ATTEMPTS)
        .max(1)
}

/// Records an error with a stable reason. The same error again keeps its time, so a pass that
/// finds nothing new writes an unchanged status (and does not wake the controller again).
pub(super) fn set_error(input: &DecideInput<'_>, d: &mut Decision, reason: &str, message: String) {
    if d.status
        .error
        .as_ref()
        .is_some_and(|e| e.reason == reason && e.message == message)
    {
        return;
    }
    d.status.error = Some(ErrorInfo {
        reason: reason.to_string(),
        message,
        time: input.now.to_rfc3339(),
    });
}

/// Clears the error if it has one of `reasons`.
pub(super) fn clear_error(d: &mut Decision, reasons: &[&str]) {
    if d.status
        .error
        .as_ref()
        .is_some_and(|e| reasons.contains(&e.reason.as_str()))
    {
        d.status.error = None;
    }
}

/// Records an event.
pub(super) fn event(d: &mut Decision, warning: bool, reason: &'static str, note: impl Into<String>) {
    d.events.push(EventNote {
        warning,
        reason,
        note: note.into(),
    });
}

/// Whether the operation stops the job (as opposed to a savepoint without stop).
pub(super) fn stops_job(purpose: Purpose) -> bool {
    !matches!(purpose, Purpose::ManualSavepoint | Purpose::PeriodicSavepoint)
}

/// The upgrade mode name of a stop mode, for metrics.
pub(super) fn mode_name(mode: Option<StopMode>) -> &'static str {
    match mode {
        Some(StopMode::Savepoint) => "savepoint",
        Some(StopMode::LastState) => "last-state",
        Some(StopMode::Stateless) => "stateless",
        None => "none",
    }
}

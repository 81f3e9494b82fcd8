//! Status conditions, following Kubernetes conventions: `Ready` summarises; `Reconciling`
//! (an operation is in flight), `Stalled` (progress needs a human: invalid spec, a failed job
//! out of restarts, a blocked upgrade), `Degraded` (the job runs but not well: restarting,
//! unreachable, rolled back), `Savepointing` (a savepoint is in flight). Reasons are stable
//! CamelCase words; `lastTransitionTime` changes only when the condition's status does.

use super::{DecideInput, JobState};
use crate::crd::{Phase, Step, StreamJobStatus};
use crate::decide::reasons;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition types, in the order they are written.
pub const TYPES: [&str; 5] = ["Ready", "Reconciling", "Stalled", "Degraded", "Savepointing"];

/// Recomputes every condition into `status`.
pub fn update(input: &DecideInput<'_>, status: &mut StreamJobStatus) {
    let wanted = [
        ready(input, status),
        reconciling(status),
        stalled(status),
        degraded(input, status),
        savepointing(status),
    ];
    let mut next = Vec::with_capacity(wanted.len());
    for (kind, (value, reason, message)) in TYPES.iter().zip(wanted) {
        let value = if value { "True" } else { "False" };
        let previous = status.conditions.iter().find(|c| c.type_ == *kind);
        let since = match previous {
            Some(p) if p.status == value => p.last_transition_time.clone(),
            _ => Time(timestamp(input.now)),
        };
        next.push(Condition {
            type_: kind.to_string(),
            status: value.to_string(),
            reason,
            message,
            observed_generation: Some(input.generation),
            last_transition_time: since,
        });
    }
    status.conditions = next;
}

/// A chrono instant as the Kubernetes API's timestamp.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::from_millisecond(at.timestamp_millis())
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

type Verdict = (bool, String, String);

fn ready(input: &DecideInput<'_>, status: &StreamJobStatus) -> Verdict {
    let running = input.observed.job_state() == Some(JobState::Running);
    let operation = status.operation.as_ref().filter(|op| {
        !matches!(
            op.purpose,
            crate::crd::Purpose::ManualSavepoint | crate::crd::Purpose::PeriodicSavepoint
        )
    });
    match (status.phase, operation) {
        (Some(Phase::Running), None) if running && input.spec_error.is_none() => {
            (true, "JobRunning".into(), "the job runs the current spec".into())
        }
        (Some(Phase::Running), None) if running => (
            false,
            reasons::INVALID_SPEC.into(),
            "the job runs the last valid spec".into(),
        ),
        (Some(Phase::Suspended), None) => (false, "Suspended".into(), "the job is suspended".into()),
        (Some(Phase::Finished), None) => (false, "Finished".into(), "the job ran to its end".into()),
        (_, Some(op)) => (
            false,
            "OperationInProgress".into(),
            format!("{:?} in step {:?}", op.purpose, op.step),
        ),
        (phase, None) => {
            let state = input.observed.job_state().map_or("UNKNOWN", JobState::as_str);
            (
                false,
                "JobNotRunning".into(),
                format!("phase {}, job {state}", phase.map_or("?", Phase::as_str)),
            )
        }
    }
}

fn reconciling(status: &StreamJobStatus) -> Verdict {
    match &status.operation {
        Some(op) => (
            true,
            purpose_reason(op.purpose).into(),
            format!("{:?} in step {:?}", op.purpose, op.step),
        ),
        None => (false, "Idle".into(), "no operation in flight".into()),
    }
}

fn stalled(status: &StreamJobStatus) -> Verdict {
    match &status.error {
        Some(e)
            if matches!(
                e.reason.as_str(),
                reasons::INVALID_SPEC | reasons::UPGRADE_BLOCKED | reasons::UPGRADE_SAVEPOINT_FAILED
            ) || (e.reason == reasons::JOB_FAILED && status.phase == Some(Phase::Failed)) =>
        {
            (true, e.reason.clone(), e.message.clone())
        }
        _ => (false, "Progressing".into(), "nothing blocks progress".into()),
    }
}

fn degraded(input: &DecideInput<'_>, status: &StreamJobStatus) -> Verdict {
    if input.observed.coordinator_exists && input.observed.job.is_none() && status.operation.is_none() {
        if let Some(why) = &input.observed.unreachable {
            return (true, "CoordinatorUnreachable".into(), why.clone());
        }
    }
    if input.observed.job_state() == Some(JobState::Restarting) {
        let why = status
            .job
            .as_ref()
            .and_then(|j| j.last_failure.clone())
            .unwrap_or_default();
        return (true, "JobRestarting".into(), why);
    }
    if let Some(e) = status
        .error
        .as_ref()
        .filter(|e| matches!(e.reason.as_str(), reasons::ROLLED_BACK | reasons::SAVEPOINT_FAILED))
    {
        return (true, e.reason.clone(), e.message.clone());
    }
    (false, "Healthy".into(), "no degradation observed".into())
}

fn savepointing(status: &StreamJobStatus) -> Verdict {
    match &status.operation {
        Some(op) if op.step == Step::Savepointing => (
            true,
            "SavepointInProgress".into(),
            format!("attempt {} for {:?}", op.attempts, op.purpose),
        ),
        _ => match &status.error {
            Some(e) if e.reason == reasons::SAVEPOINT_FAILED || e.reason == reasons::UPGRADE_SAVEPOINT_FAILED => {
                (false, reasons::SAVEPOINT_FAILED.into(), e.message.clone())
            }
            _ => (false, "NoSavepointInProgress".into(), "no savepoint in flight".into()),
        },
    }
}

fn purpose_reason(purpose: crate::crd::Purpose) -> &'static str {
    use crate::crd::Purpose::*;
    match purpose {
        Deploy => "Deploying",
        Upgrade => "Upgrading",
        Restart => "Restarting",
        Suspend => "Suspending",
        Resume => "Resuming",
        Recover => "Recovering",
        Rollback => "RollingBack",
        ManualSavepoint => "ManualSavepoint",
        PeriodicSavepoint => "PeriodicSavepoint",
        Delete => "Deleting",
    }
}

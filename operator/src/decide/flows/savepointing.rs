//! The savepoint step: trigger, poll, and on completion go on (tear down for operations that
//! stop the job). A failed or timed-out savepoint is retried up to the attempts of the spec;
//! then manual and periodic savepoints are reported failed, deletion proceeds without one,
//! and an upgrade falls back to the latest checkpoint if the job is unhealthy and has one, or
//! is given up (the job keeps running the old spec) with the reason reported.

use super::{
    clear_error, deployed_spec, effective_spec, event, rest_target, savepoint_attempts, savepoint_timeout, set_error,
    stops_job, teardown, DecideInput, Decision, POLL,
};
use crate::crd::{Operation, Purpose, SnapshotKind, Step, StopMode};
use crate::decide::operation::{self, savepoint_directory};
use crate::decide::snapshots::{last_state, record_savepoint, snapshot};
use crate::decide::{reasons, Action, JobState, SavepointObservation};
use chrono::{DateTime, Utc};

/// Advances an operation in its savepoint step.
pub fn next(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation) {
    let stop = stops_job(op.purpose);
    if stop {
        if let Some(location) = input.observed.lease.as_ref().and_then(|l| l.stopped_at()) {
            return completed(input, d, op, location.to_string());
        }
    }
    let Some(spec) = effective_spec(input, &d.status) else {
        return;
    };
    if op.trigger_id.is_some() {
        let elapsed = since(&op.step_started_at, input.now);
        let timeout = savepoint_timeout(&spec);
        match &input.observed.savepoint {
            Some(SavepointObservation::Completed(location)) => return completed(input, d, op, location.clone()),
            Some(SavepointObservation::Failed(reason)) => return failed(input, d, op, reason.clone()),
            _ if elapsed >= timeout => {
                let reason = format!("the savepoint did not complete within {}s", timeout.as_secs());
                return failed(input, d, op, reason);
            }
            _ => {
                d.status.operation = Some(op);
                d.requeue = POLL;
                return;
            }
        }
    }
    let attempts = savepoint_attempts(&spec);
    if op.attempts >= attempts {
        return give_up(input, d, op, format!("no savepoint after {attempts} attempts"));
    }
    match input.observed.job_state() {
        Some(JobState::Running) => {}
        Some(state) => return give_up(input, d, op, format!("the job is {} (not RUNNING)", state.as_str())),
        None => {}
    }
    if input.observed.job.is_none() {
        let why = input.observed.unreachable.clone().unwrap_or_else(|| "no answer".into());
        return failed(input, d, op, format!("the coordinator cannot be reached: {why}"));
    }
    let Some((rest_url, job_id)) = rest_target(input, &d.status) else {
        let why = input
            .observed
            .unreachable
            .clone()
            .unwrap_or_else(|| "no coordinator leads the job".into());
        return failed(input, d, op, format!("the coordinator cannot be reached: {why}"));
    };
    op.attempts += 1;
    op.step_started_at = input.now.to_rfc3339();
    let directory = savepoint_directory(&spec, deployed_spec(&d.status).as_ref());
    d.status.operation = Some(op);
    d.action = Action::TriggerSavepoint {
        rest_url,
        job_id,
        directory,
        stop,
    };
    d.requeue = POLL;
}

/// The savepoint completed at `location`.
fn completed(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation, location: String) {
    let kind = match op.purpose {
        Purpose::ManualSavepoint => SnapshotKind::Manual,
        Purpose::PeriodicSavepoint => SnapshotKind::Periodic,
        Purpose::Suspend => SnapshotKind::Suspend,
        Purpose::Delete => SnapshotKind::Deletion,
        _ => SnapshotKind::Upgrade,
    };
    let savepoint = snapshot(&location, kind, None, input.now);
    record_savepoint(&mut d.status, savepoint.clone());
    if stops_job(op.purpose) {
        clear_error(
            d,
            &[
                reasons::SAVEPOINT_FAILED,
                reasons::UPGRADE_SAVEPOINT_FAILED,
                reasons::UPGRADE_BLOCKED,
            ],
        );
    } else {
        clear_error(d, &[reasons::SAVEPOINT_FAILED]);
    }
    d.outcomes.push(format!("savepoint:{}:completed", kind_name(kind)));
    super::event(
        d,
        false,
        "SavepointCompleted",
        format!("savepoint completed at {location}"),
    );
    if !stops_job(op.purpose) {
        if op.purpose == Purpose::ManualSavepoint {
            d.status.last_savepoint_nonce = op.nonce;
        }
        d.status.operation = None;
        return;
    }
    op.restore_from = Some(savepoint);
    operation::advance(&mut op, Step::TearingDown, input.now);
    teardown::next(input, d, op);
}

/// One attempt failed with `reason`: try again, or give up.
fn failed(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation, reason: String) {
    let spec = effective_spec(input, &d.status);
    let attempts = spec.as_ref().map_or(1, savepoint_attempts);
    event(
        d,
        true,
        reasons::SAVEPOINT_FAILED,
        format!(
            "savepoint attempt {} of {attempts} failed: {reason}",
            op.attempts.max(1)
        ),
    );
    if op.trigger_id.is_none() {
        // Not triggered at all (coordinator unreachable): this pass counts as an attempt.
        op.attempts += 1;
    }
    if op.attempts < attempts {
        op.trigger_id = None;
        op.step_started_at = input.now.to_rfc3339();
        d.status.operation = Some(op);
        d.requeue = POLL;
        return;
    }
    give_up(input, d, op, reason);
}

/// No savepoint can be had: what happens depends on why one was wanted.
fn give_up(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation, reason: String) {
    match op.purpose {
        Purpose::ManualSavepoint | Purpose::PeriodicSavepoint => {
            let kind = if op.purpose == Purpose::ManualSavepoint {
                "manual"
            } else {
                "periodic"
            };
            d.outcomes.push(format!("savepoint:{kind}:failed"));
            set_error(
                input,
                d,
                reasons::SAVEPOINT_FAILED,
                format!("the {kind} savepoint failed: {reason}"),
            );
            if op.purpose == Purpose::ManualSavepoint {
                d.status.last_savepoint_nonce = op.nonce;
            }
            d.status.operation = None;
        }
        Purpose::Delete => {
            event(
                d,
                true,
                "DeletingWithoutSavepoint",
                format!("no final savepoint ({reason}); deleting the job"),
            );
            d.outcomes.push("savepoint:deletion:failed".into());
            d.status.operation = None;
            d.action = Action::ReleaseFinalizer;
        }
        _ => {
            let unhealthy = !input.observed.running();
            let restorable = last_state(input.observed, &d.status, input.now);
            let never_had_state = restorable.is_none() && !had_state(d);
            if unhealthy && (restorable.is_some() || never_had_state) {
                event(
                    d,
                    true,
                    "FallbackToLastState",
                    format!("no savepoint ({reason}); the job is unhealthy, stopping it at its latest checkpoint"),
                );
                op.stop_mode = Some(StopMode::LastState);
                operation::advance(&mut op, Step::TearingDown, input.now);
                return teardown::next(input, d, op);
            }
            d.outcomes.push(format!(
                "upgrade:savepoint:{}",
                if unhealthy { "blocked" } else { "aborted" }
            ));
            let (why, code) = if unhealthy {
                ("the job is unhealthy and has no checkpoint to fall back to; set upgradeMode: stateless to redeploy without state", reasons::UPGRADE_BLOCKED)
            } else {
                (
                    "the job keeps running the previous spec; the upgrade is retried after restartPolicy.maxBackoff",
                    reasons::UPGRADE_SAVEPOINT_FAILED,
                )
            };
            event(d, true, "UpgradeAborted", format!("no savepoint ({reason}): {why}"));
            set_error(
                input,
                d,
                code,
                format!("{:?} stopped: no savepoint ({reason}); {why}", op.purpose),
            );
            d.status.operation = None;
        }
    }
}

/// Whether the job could have state that no snapshot holds: it has run (reached RUNNING) with
/// checkpointing on. A job that never ran, or never checkpoints, has nothing to lose.
fn had_state(d: &Decision) -> bool {
    let checkpoints = deployed_spec(&d.status).is_some_and(|s| s.checkpointing.is_some());
    checkpoints && d.status.last_stable_spec.is_some()
}

/// Time since an RFC 3339 instant (zero if unparsable or in the future).
fn since(at: &str, now: DateTime<Utc>) -> std::time::Duration {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .and_then(|t| now.signed_duration_since(t.with_timezone(&Utc)).to_std().ok())
        .unwrap_or_default()
}

fn kind_name(kind: SnapshotKind) -> &'static str {
    match kind {
        SnapshotKind::Checkpoint => "checkpoint",
        SnapshotKind::Manual => "manual",
        SnapshotKind::Periodic => "periodic",
        SnapshotKind::Upgrade => "upgrade",
        SnapshotKind::Suspend => "suspend",
        SnapshotKind::Deletion => "deletion",
        SnapshotKind::Initial => "initial",
    }
}

//! Waiting for a new deployment to report RUNNING. Then the spec becomes the last stable
//! one. A deployment that fails, or misses the rollback deadline, is rolled back to the last
//! stable spec when rollback is on; a spec changed meanwhile supersedes it.

use super::{clear_error, event, mode_name, DecideInput, Decision, POLL};
use crate::crd::{duration, Operation, Purpose, Step, StopMode};
use crate::decide::operation;
use crate::decide::reasons;
use crate::decide::{spec_diff, Action, JobState};
use chrono::{DateTime, Utc};

/// Advances an operation waiting for RUNNING.
pub fn next(input: &DecideInput<'_>, d: &mut Decision, op: Operation) {
    let target = op.target_spec.as_deref().and_then(spec_diff::from_json);
    if !input.observed.coordinator_exists {
        // Recorded, then interrupted before (or while) applying: apply again. The HA record is
        // reset only if it belongs to the previous run (it records that run's end), or the
        // deployment is stateless; otherwise it may already hold this run's checkpoints.
        let lease_ended = input.observed.lease.as_ref().is_some_and(|l| l.job_ended.is_some());
        if let Some(spec) = target {
            d.action = Action::Deploy {
                spec: Box::new(spec),
                restore_from: operation::location(&op.restore_from),
                reset_ha: lease_ended || op.stop_mode == Some(StopMode::Stateless),
            };
        }
        d.status.operation = Some(op);
        d.requeue = POLL;
        return;
    }
    match input.observed.job_state() {
        Some(JobState::Running) => return succeeded(d, op),
        Some(JobState::Failed) if rollback_applies(input, d, &op) => {
            return roll_back(input, d, "the upgraded job failed".into());
        }
        Some(JobState::Failed) => {
            // Recovery (per the restart policy) takes it from here.
            if matches!(op.purpose, Purpose::Upgrade | Purpose::Restart | Purpose::Rollback) {
                d.outcomes.push(format!("upgrade:{}:failed", mode_name(op.stop_mode)));
            }
            d.status.operation = None;
            return super::start::next(input, d);
        }
        _ => {}
    }
    let superseded = input.spec_error.is_none()
        && !matches!(op.purpose, Purpose::Rollback | Purpose::Recover)
        && target
            .as_ref()
            .is_some_and(|t| spec_diff::deployable_form(t) != spec_diff::deployable_form(input.spec));
    if superseded {
        // The job never ran on the target spec, so no savepoint can be had: restore from the
        // newest checkpoint, or what this deployment started from.
        event(
            d,
            false,
            "Upgrading",
            format!("generation {} supersedes the deployment in progress", input.generation),
        );
        let mut next = operation::start(
            Purpose::Upgrade,
            Step::TearingDown,
            Some(StopMode::LastState),
            input.now,
        );
        next.target_generation = Some(input.generation);
        return super::continue_operation(input, d, next);
    }
    if rollback_applies(input, d, &op) && past_deadline(input, d) {
        return roll_back(
            input,
            d,
            "the upgraded job did not reach RUNNING before the readiness deadline".into(),
        );
    }
    d.status.operation = Some(op);
    d.requeue = POLL.max(std::time::Duration::from_secs(5));
}

fn succeeded(d: &mut Decision, op: Operation) {
    d.status.last_stable_spec = d.status.last_reconciled_spec.clone();
    d.status.operation = None;
    clear_error(
        d,
        &[
            reasons::UPGRADE_SAVEPOINT_FAILED,
            reasons::UPGRADE_BLOCKED,
            reasons::JOB_FAILED,
        ],
    );
    if op.purpose != Purpose::Rollback {
        clear_error(d, &[reasons::ROLLED_BACK]);
    }
    if matches!(op.purpose, Purpose::Upgrade | Purpose::Restart) {
        d.outcomes
            .push(format!("upgrade:{}:succeeded", mode_name(op.stop_mode)));
    }
    if op.purpose == Purpose::Rollback {
        d.outcomes.push("upgrade:rollback:succeeded".into());
    }
    if op.purpose != Purpose::Rollback {
        d.status.rolled_back_spec = None;
    }
    if op.purpose == Purpose::Restart {
        d.status.last_restart_nonce = op.nonce;
    }
    event(d, false, "JobRunning", format!("the job runs ({:?} done)", op.purpose));
}

/// Whether a failed or late deployment of `op` is rolled back.
fn rollback_applies(input: &DecideInput<'_>, d: &Decision, op: &Operation) -> bool {
    let enabled = input.spec.rollback.as_ref().is_some_and(|r| r.enabled);
    let upgrade = matches!(op.purpose, Purpose::Upgrade | Purpose::Restart);
    let stable_differs = match (&d.status.last_stable_spec, &op.target_spec) {
        (Some(stable), Some(target)) => match (spec_diff::from_json(stable), spec_diff::from_json(target)) {
            (Some(s), Some(t)) => spec_diff::deployable_form(&s) != spec_diff::deployable_form(&t),
            _ => false,
        },
        _ => false,
    };
    enabled && upgrade && stable_differs
}

fn past_deadline(input: &DecideInput<'_>, d: &Decision) -> bool {
    let deadline = input
        .spec
        .rollback
        .as_ref()
        .and_then(|r| duration::parse(&r.readiness_deadline))
        .unwrap_or(std::time::Duration::from_secs(300));
    let Some(Ok(at)) = d.status.deployed_at.as_deref().map(DateTime::parse_from_rfc3339) else {
        return false;
    };
    input
        .now
        .signed_duration_since(at.with_timezone(&Utc))
        .to_std()
        .is_ok_and(|e| e >= deadline)
}

fn roll_back(input: &DecideInput<'_>, d: &mut Decision, why: String) {
    event(
        d,
        true,
        "RollingBack",
        format!("{why}; rolling back to the last stable spec"),
    );
    super::set_error(
        input,
        d,
        reasons::ROLLED_BACK,
        format!("generation {} was rolled back: {why}", input.generation),
    );
    d.outcomes.push("upgrade:rollback:started".into());
    d.status.rolled_back_spec = Some(spec_diff::deployable_form(input.spec));
    let op = operation::start(
        Purpose::Rollback,
        Step::TearingDown,
        Some(StopMode::LastState),
        input.now,
    );
    super::continue_operation(input, d, op);
}

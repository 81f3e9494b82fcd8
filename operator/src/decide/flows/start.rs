//! With no operation in flight: first deployment, suspend and resume, recovery of a failed
//! job, upgrades, restarts by nonce, manual and periodic savepoints, or nothing.

use super::{
    clear_error, deploy, deployed_spec, event, rest_target, savepointing, set_error, DecideInput, Decision, POLL,
};
use crate::crd::{duration, DesiredState, Phase, Purpose, Snapshot, SnapshotKind, Step, StopMode};
use crate::decide::operation::{self, stop_mode};
use crate::decide::reasons;
use crate::decide::snapshots::snapshot;
use crate::decide::{spec_diff, JobState};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How often a blocked upgrade is looked at again.
const BLOCKED_RETRY: Duration = Duration::from_secs(10);

/// Picks the next operation, if any.
pub fn next(input: &DecideInput<'_>, d: &mut Decision) {
    if let Some(problem) = &input.spec_error {
        let known = d
            .status
            .error
            .as_ref()
            .is_some_and(|e| e.reason == reasons::INVALID_SPEC && &e.message == problem);
        if !known {
            event(
                d,
                true,
                reasons::INVALID_SPEC,
                format!("the spec of generation {} is invalid: {problem}", input.generation),
            );
        }
        set_error(input, d, reasons::INVALID_SPEC, problem.clone());
        if d.status.last_reconciled_spec.is_some() {
            // The last valid spec keeps running; failures and savepoints are still handled.
            continue_with_deployed(input, d);
        }
        return;
    }
    clear_error(d, &[reasons::INVALID_SPEC]);
    if d.status.last_reconciled_spec.is_none() {
        return first_deploy(input, d);
    }
    if d.status.phase == Some(Phase::Suspended) {
        if input.spec.state == DesiredState::Running {
            let mut op = operation::start(Purpose::Resume, Step::Deploying, None, input.now);
            op.restore_from = d.status.restore_point.clone();
            event(d, false, "Resuming", "resuming the job");
            return deploy::next(input, d, op);
        }
        d.status.last_reconciled_spec = Some(spec_diff::to_json(input.spec));
        return;
    }
    if let Some(wait) = backing_off(input, d) {
        d.requeue = wait;
        return continue_with_deployed(input, d);
    }
    if input.spec.state == DesiredState::Suspended {
        event(d, false, "Suspending", "suspending the job");
        return start_stop(input, d, Purpose::Suspend, None);
    }
    let recorded = d.status.last_reconciled_spec.clone().unwrap_or_default();
    if spec_diff::needs_redeploy(input.spec, &recorded) {
        if d.status.rolled_back_spec.as_deref() == Some(spec_diff::deployable_form(input.spec).as_str()) {
            return continue_with_deployed(input, d);
        }
        event(
            d,
            false,
            "Upgrading",
            format!("generation {} changed the job; upgrading", input.generation),
        );
        return start_stop(input, d, Purpose::Upgrade, None);
    }
    if input.spec.restart_nonce.is_some() && input.spec.restart_nonce != d.status.last_restart_nonce {
        event(d, false, "Restarting", "restartNonce changed; restarting the job");
        return start_stop(input, d, Purpose::Restart, input.spec.restart_nonce);
    }
    continue_with_deployed(input, d);
}

/// Failure recovery and savepoints of the deployed spec.
fn continue_with_deployed(input: &DecideInput<'_>, d: &mut Decision) {
    let Some(spec) = deployed_spec(&d.status) else { return };
    if input.observed.job_state() == Some(JobState::Failed) {
        let current = if input.spec_error.is_none() {
            input.spec.clone()
        } else {
            spec
        };
        return recover(input, d, &current);
    }
    if !input.observed.coordinator_exists && input.observed.lease.as_ref().is_none_or(|l| l.job_ended.is_none()) {
        // The coordinator Deployment vanished (deleted by hand): apply the job again. The HA
        // record is kept, so the coordinator restores from the checkpoint it holds.
        event(
            d,
            true,
            "Redeploying",
            "the coordinator Deployment is missing; applying the job again",
        );
        d.action = crate::decide::Action::Deploy {
            spec: Box::new(spec),
            restore_from: d.status.restore_point.as_ref().map(|r| r.location.clone()),
            reset_ha: false,
        };
        d.requeue = POLL;
        return;
    }
    if input.spec_error.is_none() && input.observed.running() {
        let nonce = input.spec.savepoint_trigger_nonce;
        if nonce.is_some() && nonce != d.status.last_savepoint_nonce {
            let mut op = operation::start(Purpose::ManualSavepoint, Step::Savepointing, None, input.now);
            op.nonce = nonce;
            event(
                d,
                false,
                "SavepointRequested",
                "savepointTriggerNonce changed; taking a savepoint",
            );
            return savepointing::next(input, d, op);
        }
        if periodic_due(input, d) {
            d.status.last_periodic_savepoint = Some(input.now.to_rfc3339());
            let op = operation::start(Purpose::PeriodicSavepoint, Step::Savepointing, None, input.now);
            savepointing::next(input, d, op);
        }
    }
}

/// The first deployment (optionally from `initialSavepointPath`).
fn first_deploy(input: &DecideInput<'_>, d: &mut Decision) {
    let initial: Option<Snapshot> = input
        .spec
        .initial_savepoint_path
        .as_deref()
        .map(|p| snapshot(p, SnapshotKind::Initial, None, input.now));
    d.status.last_savepoint_nonce = input.spec.savepoint_trigger_nonce;
    d.status.last_restart_nonce = input.spec.restart_nonce;
    if input.spec.state == DesiredState::Suspended {
        d.status.restore_point = initial;
        d.status.last_reconciled_spec = Some(spec_diff::to_json(input.spec));
        d.status.phase = Some(Phase::Suspended);
        return;
    }
    let mut op = operation::start(Purpose::Deploy, Step::Deploying, None, input.now);
    op.restore_from = initial;
    deploy::next(input, d, op);
}

/// Starts an operation that stops the job (upgrade, restart, suspend, rollback).
pub(super) fn start_stop(input: &DecideInput<'_>, d: &mut Decision, purpose: Purpose, nonce: Option<i64>) {
    let old = deployed_spec(&d.status);
    let mode = stop_mode(old.as_ref(), input.spec);
    let step = if mode == StopMode::Savepoint {
        Step::Savepointing
    } else {
        Step::TearingDown
    };
    let mut op = operation::start(purpose, step, Some(mode), input.now);
    op.nonce = nonce;
    op.target_generation = Some(input.generation);
    super::continue_operation(input, d, op);
}

/// A failed job: redeploy from the latest checkpoint per the restart policy, or stay failed.
fn recover(input: &DecideInput<'_>, d: &mut Decision, spec: &crate::crd::StreamJobSpec) {
    let policy = &spec.restart_policy;
    let reason = d
        .status
        .job
        .as_ref()
        .and_then(|j| j.last_failure.clone())
        .unwrap_or_else(|| "unknown".into());
    if d.status.failed_restarts >= policy.max_restarts {
        let known = d.status.error.as_ref().is_some_and(|e| e.reason == reasons::JOB_FAILED);
        if !known {
            event(
                d,
                true,
                reasons::JOB_FAILED,
                format!("the job failed and the restart policy allows no more restarts: {reason}"),
            );
        }
        set_error(
            input,
            d,
            reasons::JOB_FAILED,
            format!(
                "the job failed after {} operator restarts: {reason}",
                d.status.failed_restarts
            ),
        );
        return;
    }
    let base = duration::parse(&policy.backoff).unwrap_or(Duration::from_secs(10));
    let max = duration::parse(&policy.max_backoff).unwrap_or(Duration::from_secs(300));
    let delay = base
        .saturating_mul(1u32 << d.status.failed_restarts.clamp(0, 16))
        .min(max);
    d.status.failed_restarts += 1;
    set_error(input, d, reasons::JOB_FAILED, format!("the job failed: {reason}"));
    event(
        d,
        true,
        "Recovering",
        format!(
            "the job failed ({reason}); redeploying from its latest checkpoint in {}s",
            delay.as_secs()
        ),
    );
    let mut op = operation::start(
        Purpose::Recover,
        Step::TearingDown,
        Some(StopMode::LastState),
        input.now,
    );
    op.not_before = chrono::Duration::from_std(delay)
        .ok()
        .map(|d| (input.now + d).to_rfc3339());
    super::continue_operation(input, d, op);
}

/// Whether a periodic savepoint is due.
fn periodic_due(input: &DecideInput<'_>, d: &Decision) -> bool {
    let Some(interval) = input
        .spec
        .savepoints
        .as_ref()
        .and_then(|s| s.periodic_interval.as_deref())
        .and_then(duration::parse)
    else {
        return false;
    };
    if rest_target(input, &d.status).is_none() {
        return false;
    }
    let last = d
        .status
        .last_periodic_savepoint
        .as_deref()
        .or(d.status.deployed_at.as_deref());
    match last.map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => {
            let elapsed = input.now.signed_duration_since(t.with_timezone(&Utc));
            elapsed.to_std().is_ok_and(|e| e >= interval)
        }
        _ => true,
    }
}

/// After an upgrade gave up on its savepoint, the next try waits one `maxBackoff`.
fn backing_off(input: &DecideInput<'_>, d: &Decision) -> Option<Duration> {
    let error = d.status.error.as_ref()?;
    if error.reason != reasons::UPGRADE_SAVEPOINT_FAILED && error.reason != reasons::UPGRADE_BLOCKED {
        return None;
    }
    if error.reason == reasons::UPGRADE_BLOCKED {
        // Looked at again every 10 s: it proceeds once the job runs (a savepoint is possible).
        return (!input.observed.running()).then_some(BLOCKED_RETRY);
    }
    let at = DateTime::parse_from_rfc3339(&error.time).ok()?.with_timezone(&Utc);
    let wait = duration::parse(&input.spec.restart_policy.max_backoff).unwrap_or(Duration::from_secs(300));
    let until = at + chrono::Duration::from_std(wait).ok()?;
    (input.now < until).then(|| (until - input.now).to_std().unwrap_or(POLL))
}

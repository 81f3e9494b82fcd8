//! The deploy step: once any backoff has passed, record the target spec and restore point,
//! then apply the job's objects (the HA Lease reset first while no coordinator exists).

use super::{deployed_spec, effective_spec, event, DecideInput, Decision};
use crate::crd::{Operation, Purpose, Step, StopMode};
use crate::decide::operation::{self, due};
use crate::decide::{spec_diff, Action};
use chrono::{DateTime, Utc};

/// Advances an operation in its deploy step.
pub fn next(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation) {
    if !due(&op, input.now) {
        d.requeue = until(op.not_before.as_deref(), input.now);
        d.status.operation = Some(op);
        return;
    }
    let target = if op.purpose == Purpose::Rollback {
        d.status.last_stable_spec.as_deref().and_then(spec_diff::from_json)
    } else if op.purpose == Purpose::Recover {
        deployed_spec(&d.status)
    } else {
        effective_spec(input, &d.status)
    };
    let Some(target) = target else {
        event(d, true, "NothingToDeploy", "no valid spec to deploy");
        d.status.operation = None;
        return;
    };
    let restore_from = operation::location(&op.restore_from);
    op.target_spec = Some(spec_diff::to_json(&target));
    if op.purpose != Purpose::Rollback && op.purpose != Purpose::Recover {
        op.target_generation = Some(input.generation);
    }
    match (&op.restore_from, op.stop_mode) {
        (Some(_), _) => d.status.restore_point = op.restore_from.clone(),
        (None, Some(StopMode::Stateless)) => d.status.restore_point = None,
        (None, _) => {}
    }
    d.status.last_reconciled_spec = Some(spec_diff::to_json(&target));
    d.status.deployed_from = restore_from.clone();
    d.status.deployed_at = Some(input.now.to_rfc3339());
    d.status.parallelism = Some(target.parallelism);
    let from = restore_from
        .as_deref()
        .map_or("without state".to_string(), |l| format!("from {l}"));
    event(
        d,
        false,
        "Deploying",
        format!("deploying parallelism {} {from}", target.parallelism),
    );
    operation::advance(&mut op, Step::AwaitingRunning, input.now);
    d.status.operation = Some(op);
    d.action = Action::Deploy {
        spec: Box::new(target),
        restore_from,
        reset_ha: !input.observed.coordinator_exists,
    };
    d.requeue = super::POLL;
}

fn until(not_before: Option<&str>, now: DateTime<Utc>) -> std::time::Duration {
    not_before
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| (t.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or(super::POLL)
        .max(super::POLL)
}

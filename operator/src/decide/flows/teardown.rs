//! The teardown step: the coordinator and workers are deleted; once no pod of the job is
//! left, the restore point is chosen (for last-state: the newest checkpoint the HA record
//! holds, which no coordinator can advance any more) and the operation goes on.

use super::{deploy, event, DecideInput, Decision, POLL};
use crate::crd::{Operation, Phase, Purpose, Step, StopMode};
use crate::decide::operation;
use crate::decide::snapshots::last_state;
use crate::decide::Action;

/// Advances an operation in its teardown step.
pub fn next(input: &DecideInput<'_>, d: &mut Decision, mut op: Operation) {
    if !input.observed.torn_down() {
        if input.observed.coordinator_exists || input.observed.workers_exist {
            d.action = Action::TearDown;
        }
        d.status.operation = Some(op);
        d.requeue = POLL;
        return;
    }
    match op.stop_mode {
        Some(StopMode::LastState) if op.restore_from.is_none() => {
            op.restore_from = last_state(input.observed, &d.status, input.now);
        }
        Some(StopMode::Stateless) => op.restore_from = None,
        _ => {}
    }
    match op.purpose {
        Purpose::Suspend => {
            d.status.restore_point = op.restore_from.clone();
            d.status.operation = None;
            d.status.phase = Some(Phase::Suspended);
            d.status.parallelism = Some(0);
            let from = op
                .restore_from
                .as_ref()
                .map_or("without state".to_string(), |s| format!("at {}", s.location));
            event(d, false, "Suspended", format!("the job is suspended {from}"));
        }
        Purpose::Delete => {
            d.status.operation = None;
            d.action = Action::ReleaseFinalizer;
        }
        _ => {
            operation::advance(&mut op, Step::Deploying, input.now);
            deploy::next(input, d, op);
        }
    }
}

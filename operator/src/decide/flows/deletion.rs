//! Deletion: with `savepoints.onDeletion` and a running job, a final savepoint first
//! (bounded by its attempts and timeout, so it never blocks deletion forever); then the
//! finalizer goes and the owned objects are garbage-collected.

use super::{event, savepoint_attempts, savepoint_timeout, savepointing, DecideInput, Decision};
use crate::crd::{Purpose, Step, StopMode};
use crate::decide::operation;
use crate::decide::Action;
use chrono::{DateTime, Utc};

/// Decides a pass of a StreamJob being deleted.
pub fn next(input: &DecideInput<'_>, d: &mut Decision) {
    if let Some(op) = d.status.operation.clone().filter(|o| o.purpose == Purpose::Delete) {
        let budget = savepoint_timeout(input.spec).saturating_mul(savepoint_attempts(input.spec) as u32)
            + std::time::Duration::from_secs(60);
        let started = DateTime::parse_from_rfc3339(&op.started_at).map(|t| t.with_timezone(&Utc));
        let elapsed = started
            .ok()
            .and_then(|t| input.now.signed_duration_since(t).to_std().ok());
        if elapsed.is_some_and(|e| e > budget) {
            event(
                d,
                true,
                "DeletingWithoutSavepoint",
                "the final savepoint took too long; deleting the job",
            );
            d.status.operation = None;
            d.action = Action::ReleaseFinalizer;
            return;
        }
        return super::continue_operation(input, d, op);
    }
    let wants = input
        .spec
        .savepoints
        .as_ref()
        .is_some_and(|s| s.on_deletion == Some(true) && s.directory.is_some());
    if wants && input.observed.running() {
        event(d, false, "FinalSavepoint", "taking a final savepoint before deletion");
        let op = operation::start(
            Purpose::Delete,
            Step::Savepointing,
            Some(StopMode::Savepoint),
            input.now,
        );
        return savepointing::next(input, d, op);
    }
    d.status.operation = None;
    d.action = Action::ReleaseFinalizer;
}

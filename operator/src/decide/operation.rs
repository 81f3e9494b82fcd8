//! Building and advancing the operation recorded in the status (the write-ahead log).

use crate::crd::{Operation, Purpose, Snapshot, Step, StopMode, StreamJobSpec, UpgradeMode};
use chrono::{DateTime, Utc};

/// A new operation starting at `step`.
pub fn start(purpose: Purpose, step: Step, stop_mode: Option<StopMode>, now: DateTime<Utc>) -> Operation {
    Operation {
        purpose,
        step,
        stop_mode,
        started_at: now.to_rfc3339(),
        step_started_at: now.to_rfc3339(),
        attempts: 0,
        trigger_id: None,
        restore_from: None,
        target_spec: None,
        target_generation: None,
        nonce: None,
        not_before: None,
    }
}

/// Moves `op` to `step`, now.
pub fn advance(op: &mut Operation, step: Step, now: DateTime<Utc>) {
    op.step = step;
    op.step_started_at = now.to_rfc3339();
    op.trigger_id = None;
}

/// How an operation stops the job, from the upgrade modes of the running spec and of the new
/// one: the stronger wins (savepoint > last-state > stateless), so changing the mode never
/// loses state; state is dropped only when both say `stateless`.
pub fn stop_mode(old: Option<&StreamJobSpec>, new: &StreamJobSpec) -> StopMode {
    let rank = |m: UpgradeMode| match m {
        UpgradeMode::Stateless => 0,
        UpgradeMode::LastState => 1,
        UpgradeMode::Savepoint => 2,
    };
    let strongest = match old {
        Some(old) if rank(old.upgrade_mode) > rank(new.upgrade_mode) => old.upgrade_mode,
        _ => new.upgrade_mode,
    };
    let mode = match strongest {
        UpgradeMode::Stateless => StopMode::Stateless,
        UpgradeMode::LastState => StopMode::LastState,
        UpgradeMode::Savepoint => StopMode::Savepoint,
    };
    // A savepoint needs a directory (its own, or the checkpoint storage's default); a spec
    // without either keeps its state through checkpoints.
    let has_directory = |s: &StreamJobSpec| {
        s.savepoints.as_ref().and_then(|p| p.directory.as_ref()).is_some() || s.checkpointing.is_some()
    };
    if mode == StopMode::Savepoint && !has_directory(new) && !old.is_some_and(has_directory) {
        return StopMode::LastState;
    }
    mode
}

/// The savepoint directory an operation writes to (the new spec's, else the old one's).
pub fn savepoint_directory(spec: &StreamJobSpec, old: Option<&StreamJobSpec>) -> Option<String> {
    let dir = |s: &StreamJobSpec| s.savepoints.as_ref().and_then(|p| p.directory.clone());
    dir(spec).or_else(|| old.and_then(dir))
}

/// Whether `op` may proceed (its backoff has passed).
pub fn due(op: &Operation, now: DateTime<Utc>) -> bool {
    match op.not_before.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => now >= t.with_timezone(&Utc),
        _ => true,
    }
}

/// The restore location of a snapshot, for `--restore`.
pub fn location(snapshot: &Option<Snapshot>) -> Option<String> {
    snapshot.as_ref().map(|s| s.location.clone())
}

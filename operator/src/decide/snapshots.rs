//! Snapshots in the status: recording completed savepoints, pruning their history by count
//! and age (the newest is always kept), and choosing what a redeployment restores from.

use super::{DecideInput, Disposal, Observation};
use crate::crd::{duration, Snapshot, SnapshotKind, StreamJobSpec, StreamJobStatus};
use chrono::{DateTime, Utc};

/// A snapshot completed `now`.
pub fn snapshot(location: &str, kind: SnapshotKind, checkpoint_id: Option<i64>, now: DateTime<Utc>) -> Snapshot {
    Snapshot {
        location: location.to_string(),
        kind,
        time: now.to_rfc3339(),
        checkpoint_id,
    }
}

/// Records a completed savepoint: latest, history, and the restore point (it is the newest
/// state of the job).
pub fn record_savepoint(status: &mut StreamJobStatus, savepoint: Snapshot) {
    status.latest_savepoint = Some(savepoint.clone());
    if !status
        .savepoint_history
        .iter()
        .any(|s| s.location == savepoint.location)
    {
        status.savepoint_history.push(savepoint.clone());
    }
    status.restore_point = Some(savepoint);
}

/// The history after pruning by `historyMaxCount` and `historyMaxAge`; the newest entry is
/// always kept. Entries are oldest first.
pub fn prune_history(history: &[Snapshot], spec: &StreamJobSpec, now: DateTime<Utc>) -> Vec<Snapshot> {
    let Some(savepoints) = &spec.savepoints else {
        return history.to_vec();
    };
    let max_age = savepoints.history_max_age.as_deref().and_then(duration::parse);
    let max_count = savepoints.history_max_count.map(|c| c.max(1) as usize);
    let newest = history.len().saturating_sub(1);
    let mut kept: Vec<Snapshot> = history
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            if *i == newest {
                return true;
            }
            match (max_age, DateTime::parse_from_rfc3339(&s.time)) {
                (Some(age), Ok(t)) => now
                    .signed_duration_since(t.with_timezone(&Utc))
                    .to_std()
                    .map_or(true, |d| d <= age),
                _ => true,
            }
        })
        .map(|(_, s)| s.clone())
        .collect();
    if let Some(count) = max_count {
        if kept.len() > count {
            kept.drain(..kept.len() - count);
        }
    }
    kept
}

/// Prunes the status's history in place; pruned savepoints are queued for disposal unless
/// the job may still need them (the restore point, the latest savepoint, what the current
/// deployment restored from).
pub fn prune_in_place(input: &DecideInput<'_>, status: &mut StreamJobStatus) {
    let kept = prune_history(&status.savepoint_history, input.spec, input.now);
    let pruned: Vec<String> = status
        .savepoint_history
        .iter()
        .filter(|s| !kept.iter().any(|k| k.location == s.location))
        .map(|s| s.location.clone())
        .collect();
    status.savepoint_history = kept;
    for location in pruned {
        if !status.savepoints_to_dispose.contains(&location) {
            status.savepoints_to_dispose.push(location);
        }
    }
    let protected: Vec<String> = [
        status.restore_point.as_ref().map(|s| s.location.clone()),
        status.latest_savepoint.as_ref().map(|s| s.location.clone()),
        status.deployed_from.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    status.savepoints_to_dispose.retain(|l| !protected.contains(l));
}

/// The disposal to do this pass: every queued savepoint, through the running job's leader
/// (none while nothing runs; they wait).
pub fn disposal(input: &DecideInput<'_>, status: &StreamJobStatus) -> Option<Disposal> {
    if status.savepoints_to_dispose.is_empty() || !input.observed.running() {
        return None;
    }
    let rest_url = input.observed.lease.as_ref()?.rest_url.clone()?;
    let job_id = input.observed.job.as_ref()?.id.clone();
    Some(Disposal {
        rest_url,
        job_id,
        locations: status.savepoints_to_dispose.clone(),
    })
}

/// What a last-state redeployment restores from, read once the job is torn down: the newest
/// checkpoint the HA record (or the coordinator) holds, else the recorded restore point (the
/// state the current run started from, or the last one the operator saw). `None` only when
/// the job never had state.
pub fn last_state(observed: &Observation, status: &StreamJobStatus, now: DateTime<Utc>) -> Option<Snapshot> {
    if let Some((id, location)) = observed.latest_checkpoint() {
        if let Some(point) = &status.restore_point {
            if point.location == location {
                return Some(point.clone());
            }
        }
        return Some(snapshot(&location, SnapshotKind::Checkpoint, Some(id), now));
    }
    status.restore_point.clone()
}

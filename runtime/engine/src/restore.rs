//! Mapping a checkpoint onto the subtasks of a (possibly rescaled or changed) job.
//!
//! Keyed state: a new subtask receives the handles of every old subtask whose key-group range
//! overlaps its own, and reads only the groups it owns. Operator state: with the same
//! parallelism each subtask gets its own items back; otherwise all items are dealt round-robin.
//! Operators are matched by uid; state of a uid missing from the job is an error unless
//! `allow_non_restored_state` is set.

use crate::config::RestoreFrom;
use freshet_core::CheckpointKind;
use freshet_core::{Error, KeyGroupRange, Result, SubtaskIndex};
use freshet_state::metadata::{CheckpointMetadata, KeyedStateHandle, METADATA_FILE};
use freshet_state::CheckpointStorage;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The state one new subtask restores.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RestoredSubtask {
    /// Keyed state handles overlapping the subtask's key groups.
    pub keyed: Vec<KeyedStateHandle>,
    /// Operator state items.
    pub operator_state: Vec<serde_json::Value>,
}

/// A checkpoint or savepoint to restore, with the storage its file paths are relative to.
#[derive(Debug, Clone)]
pub struct RestorePoint {
    /// Its metadata.
    pub metadata: CheckpointMetadata,
    /// Root that the handles' paths are relative to.
    pub storage: Arc<CheckpointStorage>,
    /// Where it is (for logs).
    pub location: String,
}

/// Distributes operator `uid`'s snapshot over `parallelism` new subtasks.
pub fn assign(
    metadata: &CheckpointMetadata,
    uid: &str,
    parallelism: u32,
    max_parallelism: u32,
) -> Result<Vec<RestoredSubtask>> {
    let mut out = vec![RestoredSubtask::default(); parallelism as usize];
    let Some(op) = metadata.operators.get(uid) else {
        return Ok(out);
    };
    if op.max_parallelism != max_parallelism {
        return Err(Error::Config(format!(
            "operator '{uid}' was snapshotted with max parallelism {} but the job uses {max_parallelism}; \
             the max parallelism cannot change across a restore",
            op.max_parallelism
        )));
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let range = KeyGroupRange::for_subtask(max_parallelism, parallelism, SubtaskIndex(i as u32));
        slot.keyed = op
            .subtasks
            .iter()
            .filter(|s| !s.key_groups.intersect(&range).is_empty())
            .filter_map(|s| s.keyed.clone())
            .collect();
    }
    if op.parallelism == parallelism && op.subtasks.len() == parallelism as usize {
        for s in &op.subtasks {
            if let Some(slot) = out.get_mut(s.subtask as usize) {
                slot.operator_state = s.operator_state.clone();
            }
        }
    } else {
        let items = op.subtasks.iter().flat_map(|s| s.operator_state.iter().cloned());
        for (k, item) in items.enumerate() {
            out[k % parallelism as usize].operator_state.push(item);
        }
    }
    Ok(out)
}

/// Checks that every operator in the snapshot exists in the job (unless allowed not to).
pub fn check_all_restored(
    metadata: &CheckpointMetadata,
    job_uids: &BTreeSet<String>,
    allow_non_restored: bool,
) -> Result<()> {
    let missing: Vec<&String> = metadata.operators.keys().filter(|u| !job_uids.contains(*u)).collect();
    if missing.is_empty() || allow_non_restored {
        if !missing.is_empty() {
            tracing::warn!(
                ?missing,
                "dropping state of operators that are not in the job (allowNonRestoredState)"
            );
        }
        return Ok(());
    }
    Err(Error::Config(format!(
        "the snapshot holds state for operators {missing:?} that are not in the job; \
         set allowNonRestoredState to drop it"
    )))
}

fn parent_location(location: &str) -> String {
    let trimmed = location.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) if i > 0 => trimmed[..i].to_string(),
        _ => ".".to_string(),
    }
}

/// Opens the checkpoint or savepoint at `location` (a directory holding `_metadata`).
pub async fn open_restore_point(location: &str) -> Result<RestorePoint> {
    let storage = CheckpointStorage::from_url(location)?;
    if !storage.exists(METADATA_FILE).await? {
        return Err(Error::Config(format!(
            "'{location}' is not a completed checkpoint or savepoint (no {METADATA_FILE})"
        )));
    }
    let metadata = storage.read_metadata("").await?;
    let root = match metadata.kind {
        // Checkpoint files are relative to the checkpoint storage root (the parent directory).
        CheckpointKind::Checkpoint => Arc::new(CheckpointStorage::from_url(&parent_location(location))?),
        CheckpointKind::Savepoint => Arc::new(storage),
    };
    Ok(RestorePoint {
        metadata,
        storage: root,
        location: location.to_string(),
    })
}

/// The newest completed checkpoint in `checkpoints` or savepoint in `savepoints`.
pub async fn latest_restore_point(
    checkpoints: &Arc<CheckpointStorage>,
    savepoints: &CheckpointStorage,
) -> Result<Option<RestorePoint>> {
    let mut best: Option<RestorePoint> = None;
    if let Some(id) = checkpoints.completed_checkpoints().await?.last() {
        let dir = CheckpointStorage::checkpoint_dir(*id);
        best = Some(RestorePoint {
            metadata: checkpoints.read_metadata(&dir).await?,
            storage: checkpoints.clone(),
            location: checkpoints.url_of(&dir),
        });
    }
    for dir in savepoints.list_dirs("").await.unwrap_or_default() {
        let Some(id) = dir
            .strip_prefix("savepoint-")
            .and_then(|r| r.split('-').next())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if best.as_ref().is_some_and(|b| b.metadata.id.0 >= id) {
            continue;
        }
        let storage = savepoints.child(&dir);
        if storage.exists(METADATA_FILE).await? {
            best = Some(RestorePoint {
                metadata: storage.read_metadata("").await?,
                location: storage.url().to_string(),
                storage: Arc::new(storage),
            });
        }
    }
    Ok(best)
}

/// Resolves the configured starting point.
pub async fn resolve(
    restore: &RestoreFrom,
    checkpoints: &Arc<CheckpointStorage>,
    savepoints: &CheckpointStorage,
) -> Result<Option<RestorePoint>> {
    match restore {
        RestoreFrom::Nothing => Ok(None),
        RestoreFrom::Latest => latest_restore_point(checkpoints, savepoints).await,
        RestoreFrom::Path(p) => open_restore_point(p).await.map(Some),
    }
}

/// The highest checkpoint id used so far in the storage (complete or not), so new checkpoints
/// never reuse a directory.
pub async fn highest_used_id(checkpoints: &CheckpointStorage, savepoints: &CheckpointStorage) -> Result<u64> {
    let mut max = 0;
    for d in checkpoints.list_dirs("").await? {
        if let Some(n) = d.strip_prefix("chk-").and_then(|n| n.parse::<u64>().ok()) {
            max = max.max(n);
        }
    }
    for d in savepoints.list_dirs("").await.unwrap_or_default() {
        if let Some(n) = d
            .strip_prefix("savepoint-")
            .and_then(|r| r.split('-').next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            max = max.max(n);
        }
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::CheckpointId;
    use freshet_state::metadata::{OperatorSnapshot, StateFile, SubtaskSnapshot};
    use std::collections::BTreeMap;

    fn meta(parallelism: u32) -> CheckpointMetadata {
        let subtasks = (0..parallelism)
            .map(|i| SubtaskSnapshot {
                subtask: i,
                key_groups: KeyGroupRange::for_subtask(128, parallelism, SubtaskIndex(i)),
                keyed: Some(KeyedStateHandle::Full {
                    file: StateFile {
                        path: format!("f{i}"),
                        size: 1,
                    },
                    key_group_offsets: vec![],
                }),
                operator_state: vec![serde_json::json!(i)],
            })
            .collect();
        let mut operators = BTreeMap::new();
        operators.insert(
            "op".to_string(),
            OperatorSnapshot {
                parallelism,
                max_parallelism: 128,
                subtasks,
            },
        );
        CheckpointMetadata {
            version: 1,
            id: CheckpointId(3),
            kind: CheckpointKind::Checkpoint,
            job_name: "j".into(),
            triggered_at_ms: 0,
            completed_at_ms: 0,
            finished: false,
            operators,
        }
    }

    #[test]
    fn same_parallelism_keeps_assignment() {
        let a = assign(&meta(2), "op", 2, 128).unwrap();
        assert_eq!(a[0].operator_state, vec![serde_json::json!(0)]);
        assert_eq!(a[1].keyed.len(), 1);
    }

    #[test]
    fn rescale_overlapping_handles_and_round_robin_items() {
        let a = assign(&meta(2), "op", 3, 128).unwrap();
        // ranges: old [0,64) [64,128); new [0,43) [43,86) [86,128)
        assert_eq!(a[0].keyed.len(), 1);
        assert_eq!(a[1].keyed.len(), 2);
        assert_eq!(a[2].keyed.len(), 1);
        let items: usize = a.iter().map(|s| s.operator_state.len()).sum();
        assert_eq!(items, 2);
    }

    #[test]
    fn max_parallelism_must_match() {
        assert!(assign(&meta(2), "op", 2, 256).is_err());
        assert_eq!(assign(&meta(2), "other", 2, 256).unwrap().len(), 2);
    }

    #[test]
    fn unmatched_state_needs_permission() {
        let uids: BTreeSet<String> = ["x".to_string()].into();
        assert!(check_all_restored(&meta(1), &uids, false).is_err());
        assert!(check_all_restored(&meta(1), &uids, true).is_ok());
    }

    #[test]
    fn parent_of_checkpoint_dir() {
        assert_eq!(parent_location("/tmp/cp/chk-3"), "/tmp/cp");
        assert_eq!(parent_location("s3://b/cp/chk-3/"), "s3://b/cp");
    }
}

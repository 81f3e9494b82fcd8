//! Creating and restoring keyed state backends of either kind.
//!
//! Restore paths:
//! - a [`KeyedStateHandle::Full`] (canonical format) restores into either kind, reading only the
//!   sections of the key groups in the new range;
//! - a [`KeyedStateHandle::Incremental`] (RocksDB files) restores into RocksDB *directly* when it
//!   is the only handle overlapping the new range and its key groups contain the range (the DB is
//!   downloaded and opened as is; groups outside the range are deleted); otherwise — several
//!   handles, or the heap backend — each handle's DB is opened read-only in a temporary directory
//!   and its entries in range are copied over.

use crate::backend::{BackendKind, KeyedStateBackend};
use crate::heap::HeapBackend;
use crate::metadata::KeyedStateHandle;
use crate::rocks::RocksBackend;
use crate::rocks_snapshot::{restore_incremental_by_copy, restore_rocks_directly};
use crate::snapshot_format::restore_full_file;
use crate::storage::CheckpointStorage;
use freshet_core::{KeyGroupRange, Result};
use std::path::Path;

/// A new, empty backend owning `range`. `local_dir` is a private working directory (used by
/// RocksDB; ignored by the heap backend).
pub fn new_keyed_backend(
    kind: BackendKind,
    range: KeyGroupRange,
    local_dir: &Path,
) -> Result<Box<dyn KeyedStateBackend>> {
    Ok(match kind {
        BackendKind::Heap => Box::new(HeapBackend::new(range)),
        BackendKind::Rocksdb => Box::new(RocksBackend::open(range, local_dir)?),
    })
}

/// A backend owning `range`, filled from the given handles (from one or more subtasks of the
/// snapshot, whose key-group ranges may overlap `range` only in part; entries outside `range`
/// are skipped).
pub async fn restore_keyed_backend(
    kind: BackendKind,
    range: KeyGroupRange,
    handles: &[KeyedStateHandle],
    storage: &CheckpointStorage,
    local_dir: &Path,
) -> Result<Box<dyn KeyedStateBackend>> {
    let started = std::time::Instant::now();
    let relevant: Vec<&KeyedStateHandle> = handles.iter().filter(|h| overlaps(h, range)).collect();

    if kind == BackendKind::Rocksdb {
        if let [handle @ KeyedStateHandle::Incremental { key_groups, .. }] = relevant.as_slice() {
            if key_groups.intersect(&range) == range {
                let backend = restore_rocks_directly(handle, range, storage, local_dir).await?;
                tracing::info!(
                    ?range,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "restored keyed state"
                );
                return Ok(Box::new(backend));
            }
        }
    }

    let mut backend = new_keyed_backend(kind, range, local_dir)?;
    let mut entries = 0u64;
    for handle in relevant {
        match handle {
            KeyedStateHandle::Full {
                file,
                key_group_offsets,
            } => {
                entries += restore_full_file(file, key_group_offsets, range, storage, backend.as_mut()).await?;
            }
            KeyedStateHandle::Incremental { .. } => {
                let (restored, copied) =
                    restore_incremental_by_copy(handle, range, storage, local_dir, backend).await?;
                backend = restored;
                entries += copied;
            }
        }
    }
    tracing::info!(
        %kind,
        ?range,
        handles = handles.len(),
        entries,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "restored keyed state"
    );
    Ok(backend)
}

/// Whether a handle may hold entries of `range`.
fn overlaps(handle: &KeyedStateHandle, range: KeyGroupRange) -> bool {
    match handle {
        KeyedStateHandle::Full { key_group_offsets, .. } => key_group_offsets
            .iter()
            .any(|&(kg, _, _)| range.contains(freshet_core::KeyGroup(kg))),
        KeyedStateHandle::Incremental { key_groups, .. } => !key_groups.intersect(&range).is_empty(),
    }
}

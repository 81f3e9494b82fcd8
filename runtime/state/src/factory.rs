//! Creating and restoring keyed state backends of either kind.

use crate::backend::{BackendKind, KeyedStateBackend};
use crate::metadata::KeyedStateHandle;
use crate::storage::CheckpointStorage;
use freshet_core::{KeyGroupRange, Result};
use std::path::Path;

/// A new, empty backend owning `range`. `local_dir` is a private working directory (used by
/// RocksDB; ignored by the heap backend).
pub fn new_keyed_backend(
    _kind: BackendKind,
    _range: KeyGroupRange,
    _local_dir: &Path,
) -> Result<Box<dyn KeyedStateBackend>> {
    Err(freshet_core::Error::Internal("state backends not built yet".into()))
}

/// A backend owning `range`, filled from the given handles (from one or more subtasks of the
/// snapshot, whose key-group ranges may overlap `range` only in part; entries outside `range`
/// are skipped).
pub async fn restore_keyed_backend(
    _kind: BackendKind,
    _range: KeyGroupRange,
    _handles: &[KeyedStateHandle],
    _storage: &CheckpointStorage,
    _local_dir: &Path,
) -> Result<Box<dyn KeyedStateBackend>> {
    Err(freshet_core::Error::Internal("state backends not built yet".into()))
}

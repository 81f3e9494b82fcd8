//! The keyed state backend seam: one trait, two implementations ([`crate::heap`] and
//! [`crate::rocks`]), with identical semantics checked by one shared test suite.
//!
//! Addressing: a state is registered by name and then referred to by its [`StateId`]. Value
//! entries live at (state, key group, key, namespace); map entries add a user key below that.
//! Keys and namespaces are opaque bytes chosen by the caller (keys come from
//! `freshet_core::keys::KeyEncoder`, namespaces are e.g. encoded windows).

use crate::metadata::KeyedStateHandle;
use crate::storage::CheckpointStorage;
use freshet_core::{CheckpointId, CheckpointKind, KeyGroup, KeyGroupRange, OperatorUid, Result, SubtaskIndex};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// A registered state, valid for the backend instance that returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u16);

/// Which backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// In-memory hash maps; fastest; snapshots are full.
    #[default]
    Heap,
    /// RocksDB on local disk; state larger than memory; incremental checkpoints.
    Rocksdb,
}

impl std::str::FromStr for BackendKind {
    type Err = freshet_core::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "heap" | "hashmap" => Ok(BackendKind::Heap),
            "rocksdb" => Ok(BackendKind::Rocksdb),
            other => Err(freshet_core::Error::Config(format!(
                "unknown state backend '{other}'; expected 'heap' or 'rocksdb'"
            ))),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Heap => "heap",
            BackendKind::Rocksdb => "rocksdb",
        })
    }
}

/// Keyed state of one operator subtask.
///
/// Calls that address a key group outside [`key_group_range`](Self::key_group_range) return an
/// error (a routing bug must not silently write state that is then lost on rescale).
pub trait KeyedStateBackend: Send {
    /// The key groups this instance owns.
    fn key_group_range(&self) -> KeyGroupRange;

    /// Registers (or looks up) the state called `name`. Registering the same name twice returns
    /// the same id. Names survive snapshots; ids are per instance.
    fn register_state(&mut self, name: &str) -> Result<StateId>;

    /// Reads a value entry.
    fn get(&self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<Option<Cow<'_, [u8]>>>;

    /// Writes a value entry.
    fn put(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8], value: &[u8]) -> Result<()>;

    /// Deletes a value entry (no error if absent).
    fn delete(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()>;

    /// Visits every value entry `(key, namespace, value)` of `state` in key group `kg`.
    #[allow(clippy::type_complexity)]
    fn scan(
        &self,
        state: StateId,
        kg: KeyGroup,
        visit: &mut dyn FnMut(&[u8], &[u8], &[u8]) -> Result<()>,
    ) -> Result<()>;

    /// Reads a map entry.
    fn map_get(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
    ) -> Result<Option<Cow<'_, [u8]>>>;

    /// Writes a map entry.
    fn map_put(
        &mut self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
        value: &[u8],
    ) -> Result<()>;

    /// Deletes a map entry (no error if absent).
    fn map_delete(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8], user_key: &[u8])
        -> Result<()>;

    /// All entries `(user_key, value)` of one map, ordered by user key bytes.
    fn map_entries(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Removes a whole map.
    fn map_clear(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()>;

    /// Takes the synchronous part of a snapshot: after this returns, further writes do not
    /// change what the snapshot contains. The returned object uploads asynchronously.
    ///
    /// `kind` is [`CheckpointKind::Savepoint`] for a self-contained snapshot in the canonical
    /// format (restorable into either backend); checkpoints of an incremental backend may refer
    /// to files uploaded by earlier checkpoints.
    fn snapshot(&mut self, checkpoint: CheckpointId, kind: CheckpointKind) -> Result<Box<dyn StateSnapshot>>;

    /// Tells the backend a checkpoint completed (an incremental backend may then forget files of
    /// older checkpoints it no longer needs to track).
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }

    /// An estimate of the state's size in bytes (for metrics).
    fn approximate_size_bytes(&self) -> u64;
}

/// Where a subtask's snapshot goes.
///
/// Files are written below `dir` (relative to the storage root). Checkpoints of an incremental
/// backend may also write shared files below `shared_dir` and refer to earlier ones there;
/// savepoints have no `shared_dir` and must be self-contained.
#[derive(Clone, Debug)]
pub struct SnapshotTarget {
    /// The storage to write to.
    pub storage: Arc<CheckpointStorage>,
    /// The checkpoint (or savepoint) being written.
    pub checkpoint: CheckpointId,
    /// Operator uid.
    pub operator: OperatorUid,
    /// Subtask index.
    pub subtask: SubtaskIndex,
    /// This snapshot's private directory, relative to the storage root, e.g. `chk-7/window/0`.
    pub dir: String,
    /// Directory for files shared across checkpoints, e.g. `shared/window`; `None` for savepoints.
    pub shared_dir: Option<String>,
}

/// The asynchronous part of a snapshot: writes files and returns the handle to record in the
/// checkpoint metadata.
pub trait StateSnapshot: Send {
    /// Uploads the snapshot's files.
    fn upload(self: Box<Self>, target: SnapshotTarget) -> BoxFuture<'static, Result<KeyedStateHandle>>;
}

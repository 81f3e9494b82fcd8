//! What a completed checkpoint records: for every operator (by uid) and subtask, the handles of
//! its keyed state and its operator state. Written as JSON to `_metadata`, last.

use freshet_core::{CheckpointId, CheckpointKind, KeyGroupRange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The name of the metadata file inside a checkpoint or savepoint directory.
pub const METADATA_FILE: &str = "_metadata";

/// The metadata of one completed checkpoint or savepoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckpointMetadata {
    /// Format version of this file.
    pub version: u32,
    /// The checkpoint id.
    pub id: CheckpointId,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
    /// The job's name.
    pub job_name: String,
    /// When the checkpoint was triggered (ms since the epoch).
    pub triggered_at_ms: i64,
    /// When it completed (ms since the epoch).
    pub completed_at_ms: i64,
    /// True when this is the final checkpoint of a bounded job that ran to its end: restoring
    /// from it only finishes pending sink commits.
    #[serde(default)]
    pub finished: bool,
    /// State per operator uid.
    pub operators: BTreeMap<String, OperatorSnapshot>,
}

impl CheckpointMetadata {
    /// The current format version.
    pub const VERSION: u32 = 1;

    /// Total bytes of state files referenced by this checkpoint (shared files included).
    pub fn state_size_bytes(&self) -> u64 {
        self.operators
            .values()
            .flat_map(|o| o.subtasks.iter())
            .filter_map(|s| s.keyed.as_ref())
            .map(KeyedStateHandle::size_bytes)
            .sum()
    }
}

/// The state of all subtasks of one operator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OperatorSnapshot {
    /// Parallelism at snapshot time.
    pub parallelism: u32,
    /// Max parallelism (number of key groups) at snapshot time; a restore must use the same.
    pub max_parallelism: u32,
    /// One entry per subtask, in subtask order.
    pub subtasks: Vec<SubtaskSnapshot>,
}

/// The state of one subtask of one operator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SubtaskSnapshot {
    /// The subtask index.
    pub subtask: u32,
    /// The key groups the subtask owned.
    pub key_groups: KeyGroupRange,
    /// Keyed state, if the operator is keyed and had any.
    pub keyed: Option<KeyedStateHandle>,
    /// Operator (non-keyed) state: a list of items redistributed round-robin on rescale
    /// (e.g. source split positions, a sink's pending commits).
    #[serde(default)]
    pub operator_state: Vec<serde_json::Value>,
}

/// A file written for a checkpoint, relative to the checkpoint storage root.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateFile {
    /// Path relative to the storage root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where one subtask's keyed state lives.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum KeyedStateHandle {
    /// Canonical full snapshot: one file holding key-group sections, with the byte offset of each
    /// key group, so a restore reads only the groups it owns. Readable by every backend.
    Full {
        /// The snapshot file.
        file: StateFile,
        /// `(key group, offset, length)` of each non-empty key-group section in the file.
        key_group_offsets: Vec<(u16, u64, u64)>,
    },
    /// RocksDB incremental checkpoint: the DB's files, some shared with earlier checkpoints.
    Incremental {
        /// The key groups the DB holds (it may hold exactly these).
        key_groups: KeyGroupRange,
        /// SST files, possibly uploaded by an earlier checkpoint (content-addressed by name).
        shared: Vec<StateFile>,
        /// Other DB files (MANIFEST, CURRENT, OPTIONS), private to this checkpoint.
        private: Vec<StateFile>,
        /// The state names registered, in id order.
        state_names: Vec<String>,
    },
}

impl KeyedStateHandle {
    /// Bytes referenced by the handle.
    pub fn size_bytes(&self) -> u64 {
        match self {
            KeyedStateHandle::Full { file, .. } => file.size,
            KeyedStateHandle::Incremental { shared, private, .. } => {
                shared.iter().chain(private.iter()).map(|f| f.size).sum()
            }
        }
    }

    /// All files referenced by the handle.
    pub fn files(&self) -> Vec<&StateFile> {
        match self {
            KeyedStateHandle::Full { file, .. } => vec![file],
            KeyedStateHandle::Incremental { shared, private, .. } => shared.iter().chain(private.iter()).collect(),
        }
    }
}

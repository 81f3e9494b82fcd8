//! Newtype identifiers, so a checkpoint id can never be passed where a subtask index belongs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The stable identity of a logical operator, used to match state on restore.
///
/// Uids are chosen by the job author (or derived by the SQL planner from the query structure);
/// a restored savepoint's state is handed to the operator with the same uid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OperatorUid(pub String);

impl OperatorUid {
    /// Creates a uid from anything string-like.
    pub fn new(uid: impl Into<String>) -> Self {
        Self(uid.into())
    }

    /// The uid as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OperatorUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The index of one parallel instance of an operator, `0..parallelism`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubtaskIndex(pub u32);

impl SubtaskIndex {
    /// The index as a `usize`, for indexing vectors.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SubtaskIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A checkpoint (or savepoint) number. Checkpoint ids only grow within a job, across restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CheckpointId(pub u64);

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One of the `max_parallelism` buckets that keys hash into; the unit of state redistribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyGroup(pub u16);

impl KeyGroup {
    /// The key group as a `usize`.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for KeyGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

//! How an edge distributes records among the downstream subtasks.
//!
//! The contract every partitioning keeps: each record goes to exactly one downstream subtask
//! (broadcast: to every one), and control events go to all of them.

use serde::{Deserialize, Serialize};

/// The distribution of records over an edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Partitioning {
    /// Subtask `i` sends to subtask `i` (same parallelism); chained when possible.
    Forward,
    /// Records are routed by the key group of the named key columns.
    Hash {
        /// Names of the key columns.
        key_columns: Vec<String>,
    },
    /// Batches are dealt round-robin to balance load.
    Rebalance,
    /// Every record goes to every downstream subtask.
    Broadcast,
}

impl Partitioning {
    /// Hash partitioning by the given columns.
    pub fn hash<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Partitioning::Hash {
            key_columns: columns.into_iter().map(Into::into).collect(),
        }
    }
}

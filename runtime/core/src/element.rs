//! The closed set of things that travel on a channel between subtasks.
//!
//! Control events travel in-band, in order with the data: a watermark promises that no record
//! with a smaller event time follows on that channel; a barrier separates the records that belong
//! to checkpoint N from those after it; end-of-input says the channel is drained.

use crate::ids::CheckpointId;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

/// Whether a barrier belongs to a periodic checkpoint or to a user-triggered savepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointKind {
    /// A periodic checkpoint: may share files with earlier ones, retained by count.
    Checkpoint,
    /// A savepoint: self-contained, never deleted automatically.
    Savepoint,
}

/// A checkpoint barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Barrier {
    /// The checkpoint this barrier opens.
    pub id: CheckpointId,
    /// Wall-clock time (ms since the epoch) at which the coordinator triggered it.
    pub triggered_at_ms: i64,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
}

/// One element on a channel.
#[derive(Clone, Debug)]
pub enum StreamElement {
    /// A batch of records.
    Batch(RecordBatch),
    /// Event time on this channel has advanced to the given watermark (ms).
    Watermark(i64),
    /// The channel became idle (`true`) or active again (`false`); an idle channel does not hold
    /// back the combined watermark.
    Idle(bool),
    /// A checkpoint barrier.
    Barrier(Barrier),
    /// No more elements will follow on this channel.
    EndOfInput,
}

impl StreamElement {
    /// The number of records this element carries (zero for control events).
    pub fn num_rows(&self) -> usize {
        match self {
            StreamElement::Batch(b) => b.num_rows(),
            _ => 0,
        }
    }
}

//! The contract of a source.
//!
//! A source subtask reads one or more splits (partitions, file ranges, generator ranges). The
//! engine polls it for batches, tags each with its split so that watermarks are generated per
//! split, injects barriers between polls, and asks for the source's position at each barrier.

use crate::context::TaskInfo;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Clock, Result};
use std::sync::Arc;

/// What a poll of a source produced.
#[derive(Debug)]
pub enum SourcePoll {
    /// Records read from `split`.
    Batch {
        /// The split they came from.
        split: u32,
        /// The records.
        batch: RecordBatch,
    },
    /// Nothing available now; poll again shortly.
    Pending,
    /// A split is exhausted (a bounded split ended).
    SplitFinished(u32),
    /// Every split is exhausted: the source is done.
    Finished,
}

/// What a source sees at open.
pub struct SourceContext {
    /// Who this subtask is.
    pub info: TaskInfo,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Restored positions: the operator-state items of the checkpoint, redistributed to this
    /// subtask (empty on a fresh start).
    pub restored: Vec<serde_json::Value>,
    /// The batch size the job asks for (rows).
    pub batch_size: usize,
}

/// A source of record batches.
pub trait Source: Send {
    /// The schema of every batch it produces.
    fn schema(&self) -> SchemaRef;

    /// Prepares reading and returns the split ids this subtask reads (each registered for
    /// watermark generation).
    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>>;

    /// Produces the next batch, or says why there is none.
    fn poll_batch(&mut self) -> Result<SourcePoll>;

    /// The position to resume from, as operator-state items (one per split is typical, so they
    /// can be redistributed on rescale).
    fn snapshot(&mut self, checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>>;

    /// A checkpoint completed (e.g. to commit offsets for monitoring).
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId) -> Result<()> {
        Ok(())
    }
}

//! A connector source whose batches are completed by the table's computed columns (and
//! narrowed to the columns the query reads) before watermarks are generated, so that a
//! `WATERMARK FOR` a computed column works like one on a physical column.

use super::calc::CalcProgram;
use arrow::datatypes::SchemaRef;
use freshet_core::{CheckpointId, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};

/// Wraps a source and applies a [`CalcProgram`] to each of its batches.
pub struct ComputedSource {
    inner: Box<dyn Source>,
    program: CalcProgram,
}

impl ComputedSource {
    /// `inner`'s batches, transformed by `program`.
    pub fn new(inner: Box<dyn Source>, program: CalcProgram) -> Self {
        Self { inner, program }
    }
}

impl Source for ComputedSource {
    fn schema(&self) -> SchemaRef {
        self.program.output_schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        self.inner.open(ctx)
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        loop {
            return Ok(match self.inner.poll_batch()? {
                SourcePoll::Batch { split, batch } => match self.program.apply(&batch)? {
                    Some(batch) => SourcePoll::Batch { split, batch },
                    // Everything filtered out: nothing to hand on from this poll.
                    None => continue,
                },
                other => other,
            });
        }
    }

    fn snapshot(&mut self, checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        self.inner.snapshot(checkpoint)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId) -> Result<()> {
        self.inner.notify_checkpoint_complete(checkpoint)
    }
}

//! The contract of a dataflow operator (including sinks, which are operators without output).
//!
//! Only [`Operator::process_batch`] is required. The engine drives the rest:
//! 1. `open` once, after state is restored;
//! 2. `process_batch` for every batch, in channel order;
//! 3. on a watermark: due event-time timers fire through `on_timer` (in time order), then
//!    `on_watermark`; the engine forwards the watermark afterwards;
//! 4. at a barrier: `snapshot` returns the operator (non-keyed) state; keyed state and timers are
//!    snapshotted by the engine;
//! 5. `notify_checkpoint_complete` once the checkpoint is durable (sinks commit here);
//! 6. at end of input: the final watermark fires every timer, then `end_of_input`.

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::timers::Timer;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Result};

/// A dataflow operator.
pub trait Operator: Send {
    /// Called once before any input, after state has been restored.
    fn open(&mut self, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }

    /// Processes one batch from input `input` (0 for single-input operators).
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()>;

    /// A timer registered through the context fired.
    fn on_timer(&mut self, _timer: Timer, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        Ok(())
    }

    /// The input watermark advanced to `watermark` (after due event-time timers fired).
    fn on_watermark(&mut self, _watermark: i64, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        Ok(())
    }

    /// Returns the operator's non-keyed state for checkpoint `checkpoint`.
    fn snapshot(&mut self, _checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        Ok(Vec::new())
    }

    /// Checkpoint `checkpoint` (and every earlier one) is complete and durable.
    fn notify_checkpoint_complete(&mut self, _checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }

    /// All inputs ended and the final watermark has been processed.
    fn end_of_input(&mut self, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        Ok(())
    }
}

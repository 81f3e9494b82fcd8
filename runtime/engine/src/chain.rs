//! Running a chain of fused operators: a batch entering operator `i` flows through `i+1..` as
//! function calls; what leaves the tail (and every side output) is handed back for routing.
//! Watermarks and end-of-input pass the chain in order, so an operator always receives the
//! records its predecessor emitted for a watermark before the watermark itself.

use crate::metrics::OperatorMetrics;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, CheckpointKind, OperatorUid, Result};
use freshet_dataflow::{driver, Collector, NodeId, Operator, OperatorContext};
use freshet_state::StateSnapshot;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One operator of a chain with its context.
pub struct ChainedOperator {
    /// The graph node.
    pub node: NodeId,
    /// Stable uid.
    pub uid: OperatorUid,
    /// Display name.
    pub name: String,
    /// The operator.
    pub operator: Box<dyn Operator>,
    /// Its context (state, timers, clock).
    pub ctx: OperatorContext,
    /// Its counters.
    pub metrics: Arc<OperatorMetrics>,
}

/// A batch leaving the chain: from which node, on which output (`None` = main).
pub type Emitted = (NodeId, Option<String>, RecordBatch);

/// The synchronous part of one operator's snapshot.
pub struct OperatorSnapshotPart {
    /// Operator uid.
    pub uid: OperatorUid,
    /// Keyed state snapshot still to upload, if keyed.
    pub keyed: Option<Box<dyn StateSnapshot>>,
    /// Operator state items.
    pub operator_state: Vec<serde_json::Value>,
}

/// Fused operators of one task.
pub struct Chain {
    ops: Vec<ChainedOperator>,
    subtask: u32,
}

impl Chain {
    /// A chain of the given operators (head first).
    pub fn new(ops: Vec<ChainedOperator>, subtask: u32) -> Self {
        Self { ops, subtask }
    }

    /// Number of operators.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the chain has no operators (a source-only task).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Opens every operator.
    pub fn open(&mut self) -> Result<()> {
        let subtask = self.subtask;
        for op in &mut self.ops {
            op.operator
                .open(&mut op.ctx)
                .map_err(|e| e.in_operator(&op.name, subtask))?;
        }
        Ok(())
    }

    fn route(&mut self, from: usize, mut collector: Collector, out: &mut Vec<Emitted>) -> Result<()> {
        let node = self.ops[from].node;
        let metrics = self.ops[from].metrics.clone();
        for (tag, batch) in collector.take_side() {
            metrics.count_out(batch.num_rows(), crate::metrics::batch_bytes(&batch));
            out.push((node, Some(tag), batch));
        }
        for batch in collector.take_main() {
            metrics.count_out(batch.num_rows(), crate::metrics::batch_bytes(&batch));
            if from + 1 < self.ops.len() {
                self.push(from + 1, 0, batch, out)?;
            } else {
                out.push((node, None, batch));
            }
        }
        Ok(())
    }

    /// Feeds `batch` into operator `index` (input `input`) and everything downstream of it.
    pub fn push(&mut self, index: usize, input: usize, batch: RecordBatch, out: &mut Vec<Emitted>) -> Result<()> {
        let mut collector = Collector::new();
        {
            let op = &mut self.ops[index];
            op.metrics
                .count_in(batch.num_rows(), crate::metrics::batch_bytes(&batch));
            op.operator
                .process_batch(input, batch, &mut op.ctx, &mut collector)
                .map_err(|e| e.in_operator(&op.name, self.subtask))?;
        }
        self.route(index, collector, out)
    }

    /// Advances event time through the whole chain.
    pub fn watermark(&mut self, watermark: i64, out: &mut Vec<Emitted>) -> Result<()> {
        for i in 0..self.ops.len() {
            let mut collector = Collector::new();
            {
                let op = &mut self.ops[i];
                op.metrics.watermark.store(watermark, Ordering::Relaxed);
                driver::advance_watermark(op.operator.as_mut(), &mut op.ctx, watermark, &mut collector)
                    .map_err(|e| e.in_operator(&op.name, self.subtask))?;
            }
            self.route(i, collector, out)?;
        }
        Ok(())
    }

    /// Fires processing-time timers due at `now_ms` in every operator.
    pub fn processing_time(&mut self, now_ms: i64, out: &mut Vec<Emitted>) -> Result<()> {
        for i in 0..self.ops.len() {
            if self.ops[i].ctx.next_processing_timer().is_none_or(|t| t > now_ms) {
                continue;
            }
            let mut collector = Collector::new();
            {
                let op = &mut self.ops[i];
                driver::advance_processing_time(op.operator.as_mut(), &mut op.ctx, now_ms, &mut collector)
                    .map_err(|e| e.in_operator(&op.name, self.subtask))?;
            }
            self.route(i, collector, out)?;
        }
        Ok(())
    }

    /// Ends the input of every operator, in order.
    pub fn finish(&mut self, out: &mut Vec<Emitted>) -> Result<()> {
        for i in 0..self.ops.len() {
            let mut collector = Collector::new();
            {
                let op = &mut self.ops[i];
                op.metrics.watermark.store(i64::MAX, Ordering::Relaxed);
                driver::finish_input(op.operator.as_mut(), &mut op.ctx, &mut collector)
                    .map_err(|e| e.in_operator(&op.name, self.subtask))?;
            }
            self.route(i, collector, out)?;
        }
        Ok(())
    }

    /// Takes the synchronous part of every operator's snapshot.
    pub fn snapshot(&mut self, checkpoint: CheckpointId, kind: CheckpointKind) -> Result<Vec<OperatorSnapshotPart>> {
        let subtask = self.subtask;
        let mut parts = Vec::with_capacity(self.ops.len());
        for op in &mut self.ops {
            let operator_state = op
                .operator
                .snapshot(checkpoint, &mut op.ctx)
                .map_err(|e| e.in_operator(&op.name, subtask))?;
            let keyed = op
                .ctx
                .snapshot_keyed_state(checkpoint, kind)
                .map_err(|e| e.in_operator(&op.name, subtask))?;
            parts.push(OperatorSnapshotPart {
                uid: op.uid.clone(),
                keyed,
                operator_state,
            });
        }
        Ok(parts)
    }

    /// Tells every operator (and backend) that `checkpoint` completed.
    pub fn notify_complete(&mut self, checkpoint: CheckpointId) -> Result<()> {
        let subtask = self.subtask;
        for op in &mut self.ops {
            if let Some(backend) = op.ctx.backend_mut() {
                backend
                    .notify_checkpoint_complete(checkpoint)
                    .map_err(|e| e.in_operator(&op.name, subtask))?;
            }
            op.operator
                .notify_checkpoint_complete(checkpoint, &mut op.ctx)
                .map_err(|e| e.in_operator(&op.name, subtask))?;
        }
        Ok(())
    }

    /// The earliest processing-time timer of any operator.
    pub fn next_processing_timer(&self) -> Option<i64> {
        self.ops.iter().filter_map(|o| o.ctx.next_processing_timer()).min()
    }

    /// Uids of the operators, in order.
    pub fn uids(&self) -> Vec<OperatorUid> {
        self.ops.iter().map(|o| o.uid.clone()).collect()
    }
}

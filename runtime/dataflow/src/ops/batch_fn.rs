//! A columnar function over whole batches: the fast path for projections and filters written
//! against Arrow arrays (and what the SQL layer compiles expressions into).

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use arrow::record_batch::RecordBatch;
use freshet_core::Result;
use std::sync::Arc;

/// A function from a batch to an optional batch (`None` or empty drops it).
pub type BatchFn = Arc<dyn Fn(RecordBatch) -> Result<Option<RecordBatch>> + Send + Sync>;

/// Applies a [`BatchFn`] to every batch.
pub struct BatchFnOperator {
    f: BatchFn,
}

impl BatchFnOperator {
    /// An operator applying `f`.
    pub fn new(f: BatchFn) -> Self {
        Self { f }
    }
}

impl Operator for BatchFnOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(result) = (self.f)(batch)? {
            out.emit(result);
        }
        Ok(())
    }
}

//! A sink that discards every row, counting rows, batches and bytes (the Nexmark suite's
//! `blackhole` sink). The counters are shared through an `Arc`: give every subtask the same
//! [`BlackholeCounters`] with [`BlackholeSink::with_counters`] and read the job-wide totals
//! while the job runs or after it ends (`freshet bench` does this).

use crate::options::OptionReader;
use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use freshet_core::Result;
use freshet_dataflow::{Collector, Operator, OperatorContext};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a blackhole has swallowed: running totals, updated with relaxed atomics (exact once the
/// job has ended; a consistent-enough snapshot while it runs).
#[derive(Debug, Default)]
pub struct BlackholeCounters {
    /// Rows.
    pub rows: AtomicU64,
    /// Batches.
    pub batches: AtomicU64,
    /// Bytes of the rows' data (the arrays' buffers as sliced, not their capacity).
    pub bytes: AtomicU64,
}

impl BlackholeCounters {
    /// Rows so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Batches so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Configuration of the blackhole sink (it has no options).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackholeConfig {}

impl BlackholeConfig {
    /// Accepts no option but `connector`.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        OptionReader::new("blackhole", options, &[], |_| false)?;
        Ok(Self {})
    }
}

/// The blackhole sink.
#[derive(Debug, Default)]
pub struct BlackholeSink {
    counters: Arc<BlackholeCounters>,
}

impl BlackholeSink {
    /// A sink with fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink adding to `counters`. Share one set between all subtasks of a sink to count the
    /// whole job:
    ///
    /// ```
    /// use freshet_connectors::{BlackholeCounters, BlackholeSink};
    /// use freshet_dataflow::{Operator, OperatorFactory, TaskInfo};
    /// use std::sync::Arc;
    ///
    /// let counters = Arc::new(BlackholeCounters::default());
    /// let shared = counters.clone();
    /// let factory: Arc<dyn OperatorFactory> =
    ///     Arc::new(move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
    ///         Ok(Box::new(BlackholeSink::with_counters(shared.clone())))
    ///     });
    /// // ... `stream.add_sink("blackhole", factory)`, run the job, then:
    /// assert_eq!(counters.rows(), 0);
    /// # drop(factory);
    /// ```
    pub fn with_counters(counters: Arc<BlackholeCounters>) -> Self {
        Self { counters }
    }

    /// Its counters.
    pub fn counters(&self) -> Arc<BlackholeCounters> {
        self.counters.clone()
    }
}

/// Bytes of `batch`'s data as sliced.
pub fn batch_bytes(batch: &RecordBatch) -> u64 {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size()) as u64
        })
        .sum()
}

impl Operator for BlackholeSink {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        self.counters.rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(batch_bytes(&batch), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{op_ctx, task_info};
    use arrow::array::Int64Array;

    #[test]
    fn counts_rows_and_bytes() {
        let batch =
            RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as _)]).expect("batch");
        let mut sink = BlackholeSink::new();
        let counters = sink.counters();
        let mut ctx = op_ctx(task_info(0, 1, "r"));
        let mut out = Collector::new();
        sink.process_batch(0, batch.clone(), &mut ctx, &mut out)
            .expect("process");
        sink.process_batch(0, batch.slice(1, 2), &mut ctx, &mut out)
            .expect("process");
        assert_eq!(counters.rows(), 6);
        assert_eq!(counters.bytes(), 48);
        assert_eq!(counters.batches(), 2);
        assert!(out.is_empty());
        assert!(BlackholeConfig::from_options(&[("x".to_string(), "1".to_string())].into()).is_err());
    }
}

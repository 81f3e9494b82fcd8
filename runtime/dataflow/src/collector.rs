//! Where an operator's output goes. A chained successor and a network edge look the same to the
//! operator: it emits batches to the main output or to a named side output.

use arrow::record_batch::RecordBatch;

/// Output of one call into an operator.
#[derive(Debug, Default)]
pub struct Collector {
    main: Vec<RecordBatch>,
    side: Vec<(String, RecordBatch)>,
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Emits a batch on the main output (empty batches are dropped).
    pub fn emit(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.main.push(batch);
        }
    }

    /// Emits a batch on the side output named `tag` (e.g. late records).
    pub fn emit_side(&mut self, tag: &str, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.side.push((tag.to_string(), batch));
        }
    }

    /// Takes the main-output batches.
    pub fn take_main(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.main)
    }

    /// Takes the side-output batches with their tags.
    pub fn take_side(&mut self) -> Vec<(String, RecordBatch)> {
        std::mem::take(&mut self.side)
    }

    /// Whether nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.main.is_empty() && self.side.is_empty()
    }
}

//! Window results waiting to be emitted: rows are buffered as they fire (one per timer, late
//! update or count window) and turned into one record batch per flush.

use super::accumulator::{Acc, Aggregates, ResultColumn};
use arrow::array::{ArrayRef, TimestampMillisecondBuilder};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::keys::KeyEncoder;
use freshet_core::Result;
use std::sync::Arc;

/// Buffered result rows of a window operator.
pub(crate) struct WindowRows {
    key_bytes: Vec<u8>,
    key_ends: Vec<usize>,
    starts: TimestampMillisecondBuilder,
    ends: TimestampMillisecondBuilder,
    columns: Vec<ResultColumn>,
}

impl WindowRows {
    /// An empty buffer for `aggs`.
    pub(crate) fn new(aggs: &Aggregates) -> Self {
        Self {
            key_bytes: Vec::new(),
            key_ends: Vec::new(),
            starts: TimestampMillisecondBuilder::new(),
            ends: TimestampMillisecondBuilder::new(),
            columns: aggs.new_result_columns(0),
        }
    }

    /// Number of buffered rows.
    pub(crate) fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Whether no row is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// Buffers the row of `key` and window `[start, end)` (or the bounds of a count window, null
    /// when unknown) with the results of `accs`.
    pub(crate) fn push(
        &mut self,
        aggs: &Aggregates,
        key: &[u8],
        start: Option<i64>,
        end: Option<i64>,
        accs: &[Acc],
    ) -> Result<()> {
        aggs.append_results(accs, &mut self.columns)?;
        self.key_bytes.extend_from_slice(key);
        self.key_ends.push(self.key_bytes.len());
        self.starts.append_option(start);
        self.ends.append_option(end);
        Ok(())
    }

    /// Turns the buffered rows into one batch of `schema` (keys decoded by `encoder`); `None` if
    /// nothing is buffered. The buffer is empty afterwards.
    pub(crate) fn take_batch(&mut self, encoder: &KeyEncoder, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut begin = 0;
        let keys: Vec<&[u8]> = self
            .key_ends
            .iter()
            .map(|&end| {
                let k = &self.key_bytes[begin..end];
                begin = end;
                k
            })
            .collect();
        let mut columns: Vec<ArrayRef> = encoder.decode(keys)?;
        columns.push(Arc::new(self.starts.finish()));
        columns.push(Arc::new(self.ends.finish()));
        for c in &mut self.columns {
            columns.push(c.finish()?);
        }
        self.key_bytes.clear();
        self.key_ends.clear();
        Ok(Some(RecordBatch::try_new(schema.clone(), columns)?))
    }
}

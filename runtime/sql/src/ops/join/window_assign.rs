//! [`WindowAssignOperator`]: gives each row of a window table function its windows before a
//! window join, one output row per window (`TUMBLE` gives one, `HOP` and `CUMULATE` several).

use arrow::array::{Array, ArrayRef, Int64Array, TimestampMillisecondArray, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use freshet_core::{Error, Result};
use freshet_dataflow::window::{TimeWindow, WindowAssigner};
use freshet_dataflow::{Collector, Operator, OperatorContext};

/// Where the window columns go.
#[derive(Clone, Debug)]
pub struct WindowAssignSpec {
    /// The windows.
    pub assigner: WindowAssigner,
    /// The column holding each row's time (milliseconds or a millisecond timestamp).
    pub time_column: usize,
    /// Replaced by the window's start.
    pub start: Option<usize>,
    /// Replaced by the window's end.
    pub end: Option<usize>,
    /// Replaced by the window's last millisecond.
    pub time: Option<usize>,
    /// The output (the input's schema).
    pub output_schema: SchemaRef,
}

/// The operator applying a [`WindowAssignSpec`] to every batch.
pub struct WindowAssignOperator {
    spec: WindowAssignSpec,
}

impl WindowAssignOperator {
    /// An operator applying `spec`.
    pub fn new(spec: WindowAssignSpec) -> Self {
        Self { spec }
    }

    /// Each row of `batch` once per window, with the window columns filled in.
    pub fn assign(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let times = cast(batch.column(self.spec.time_column).as_ref(), &DataType::Int64)?;
        let times = times
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| Error::Internal("a window time column is not an integer".into()))?;
        let mut rows = Vec::new();
        let mut windows: Vec<TimeWindow> = Vec::new();
        let mut assigned = Vec::new();
        for i in 0..batch.num_rows() {
            if times.is_null(i) {
                continue;
            }
            assigned.clear();
            self.spec.assigner.assign_into(times.value(i), &mut assigned);
            for w in &assigned {
                rows.push(i as u32);
                windows.push(*w);
            }
        }
        let indices = UInt32Array::from(rows);
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (i, column) in batch.columns().iter().enumerate() {
            let value = |f: fn(&TimeWindow) -> i64| -> Result<ArrayRef> {
                let millis = TimestampMillisecondArray::from(windows.iter().map(f).collect::<Vec<_>>());
                Ok(cast(&millis, self.spec.output_schema.field(i).data_type())?)
            };
            columns.push(if Some(i) == self.spec.start {
                value(|w| w.start)?
            } else if Some(i) == self.spec.end {
                value(|w| w.end)?
            } else if Some(i) == self.spec.time {
                value(|w| w.end - 1)?
            } else {
                take(column.as_ref(), &indices, None)?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
        Ok(RecordBatch::try_new_with_options(
            self.spec.output_schema.clone(),
            columns,
            &options,
        )?)
    }
}

impl Operator for WindowAssignOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let assigned = self.assign(&batch)?;
        if assigned.num_rows() > 0 {
            out.emit(assigned);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use freshet_dataflow::window::SlidingWindows;
    use std::sync::Arc;

    #[test]
    fn hop_windows_repeat_each_row_once_per_window() {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("window_start", ts.clone(), true),
            Field::new("window_end", ts.clone(), true),
        ]));
        let placeholder = TimestampMillisecondArray::from(vec![Some(2_500), None]);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![7, 8])),
                Arc::new(placeholder.clone()),
                Arc::new(placeholder),
            ],
        )
        .expect("batch");
        let op = WindowAssignOperator::new(WindowAssignSpec {
            assigner: WindowAssigner::Sliding(SlidingWindows::new(3_000, 1_000)),
            time_column: 1,
            start: Some(1),
            end: Some(2),
            time: None,
            output_schema: schema,
        });
        let out = op.assign(&batch).expect("assign");
        let column = |i: usize| {
            let c = cast(out.column(i), &DataType::Int64).expect("cast");
            c.as_any().downcast_ref::<Int64Array>().expect("ints").values().to_vec()
        };
        assert_eq!(column(0), vec![7, 7, 7]);
        let mut windows: Vec<(i64, i64)> = column(1).into_iter().zip(column(2)).collect();
        windows.sort();
        assert_eq!(windows, vec![(0, 3_000), (1_000, 4_000), (2_000, 5_000)]);
    }
}

//! OVER aggregations: `AGG(x) OVER (PARTITION BY ... ORDER BY ... ROWS|RANGE ... PRECEDING
//! AND CURRENT ROW)`, which add to every input row the aggregates over its frame.
//!
//! Two operators, both keyed by the partition columns:
//! - [`AppendOverOperator`]: an append-only input ordered by a time attribute. In event time,
//!   rows wait in state until the watermark passes their timestamp and are then processed in
//!   timestamp order (rows of equal timestamp are peers, processed in the order of their
//!   encoded row, so results do not depend on arrival order); late rows are dropped and
//!   counted. In processing time, rows are processed on arrival. The state holds only what
//!   the frame needs: the last `n` rows, the rows of the last interval, or running
//!   accumulators for unbounded frames (bounded by the state TTL). The output is append-only.
//! - [`UpdatingOverOperator`]: a changelog input, or an order that is not a time attribute.
//!   Each partition keeps its current rows sorted by the ORDER BY columns (ties broken by the
//!   whole row) with the result last emitted for each; after each batch it recomputes the
//!   frames and emits `+I`/`-D` for added/removed rows and `-U`/`+U` for rows whose result
//!   changed, so the materialized output always equals the batch answer over the current rows.
//!
//! Aggregate arguments arrive in canonical types (`Int64`, `Float64`, `Utf8`), cast by the
//! planner, which also casts the results back to the types of the plan.

mod aggregate;
mod append;
mod codec;
mod frame;
mod updating;

pub use aggregate::{OverAggKind, OverAggSpec};
pub use append::AppendOverOperator;
pub use frame::Frame;
pub use updating::UpdatingOverOperator;

use aggregate::Results;
use arrow::array::{ArrayRef, Int8Array};
use arrow::compute::SortOptions;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use codec::RowCodec;
use freshet_core::Result;
use freshet_state::ttl::TtlConfig;
use std::sync::Arc;

/// How rows are ordered within a partition.
#[derive(Clone, Debug)]
pub enum OverOrder {
    /// `ORDER BY` an event-time attribute: the input column holding it in milliseconds
    /// (`Int64`).
    EventTime(usize),
    /// `ORDER BY` a processing-time attribute: rows are processed on arrival.
    ProcessingTime,
    /// Any other order (or a changelog input): the updating operator.
    Updating {
        /// The ORDER BY columns of the input.
        columns: Vec<usize>,
        /// Their directions and null orders.
        options: Vec<SortOptions>,
        /// For `RANGE x PRECEDING`: the ascending `Int64` order value the interval is
        /// subtracted from.
        range_value: Option<usize>,
    },
}

/// What an OVER operator is built from.
#[derive(Clone, Debug)]
pub struct OverConfig {
    /// The partition key columns of the input.
    pub key_columns: Vec<String>,
    /// The aggregates, in output order.
    pub aggregates: Vec<OverAggSpec>,
    /// The frame, shared by every aggregate.
    pub frame: Frame,
    /// The order.
    pub order: OverOrder,
    /// Whether the input is a changelog (its last column is the row kind).
    pub input_changelog: bool,
    /// The input schema (with the row-kind column of a changelog).
    pub input_schema: SchemaRef,
    /// The output schema: the input columns (without the row kind), the aggregates, and the
    /// row kind for the updating operator.
    pub output_schema: SchemaRef,
    /// Time-to-live of a partition's state (`table.exec.state.ttl`).
    pub ttl: Option<TtlConfig>,
}

impl OverConfig {
    /// The number of input columns that are data (all but a changelog's row kind).
    fn data_columns(&self) -> usize {
        self.input_schema.fields().len() - usize::from(self.input_changelog)
    }

    /// The codec of whole input rows.
    fn row_codec(&self) -> Result<RowCodec> {
        RowCodec::new(&self.input_schema, (0..self.data_columns()).collect(), &[])
    }
}

/// An output batch: the decoded rows, their results, and the row kinds if any.
fn output_batch(
    config: &OverConfig,
    codec: &RowCodec,
    rows: &[(Vec<u8>, Results)],
    kinds: Option<&[i8]>,
) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = codec.decode(rows.iter().map(|(r, _)| r.as_slice()))?;
    let results: Vec<&Results> = rows.iter().map(|(_, r)| r).collect();
    columns.extend(aggregate::result_columns(&config.aggregates, &results));
    if let Some(kinds) = kinds {
        columns.push(Arc::new(Int8Array::from(kinds.to_vec())));
    }
    Ok(RecordBatch::try_new(config.output_schema.clone(), columns)?)
}

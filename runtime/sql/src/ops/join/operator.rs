//! [`JoinOperator`]: the keyed two-input join (see the module docs of [`super`]).

use super::rows::RowCodec;
use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, UInt32Array};
use arrow::compute::{cast, filter_record_batch, take};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_expr::PhysicalExpr;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, MapState};
use freshet_dataflow::{Collector, Operator, OperatorContext, TimeDomain, Timer};
use freshet_state::ttl::TtlConfig;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// When a join drops the rows it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Never: every row of both sides is kept.
    Regular,
    /// When the watermark passes the last millisecond of the row's window; the columns hold
    /// each side's `window_end` (the window columns are among the keys).
    Window {
        /// `window_end` in the left input.
        left_end: usize,
        /// `window_end` in the right input.
        right_end: usize,
    },
    /// `lower <= right.time - left.time <= upper` (milliseconds) holds for every joined pair.
    Interval {
        /// The left input's time column.
        left_time: usize,
        /// The right input's time column.
        right_time: usize,
        /// Smallest `right.time - left.time`.
        lower: i64,
        /// Largest `right.time - left.time`.
        upper: i64,
    },
}

/// What a join does: both inputs' schemas and keys, its output and its residual condition.
#[derive(Clone)]
pub struct JoinSpec {
    /// The left input's batches.
    pub left_schema: SchemaRef,
    /// The right input's batches.
    pub right_schema: SchemaRef,
    /// The left input's key columns (hash-partitioned by them).
    pub left_keys: Vec<String>,
    /// The right input's key columns, of the same types as the left's.
    pub right_keys: Vec<String>,
    /// How many leading columns of the left input are output (the rest are computed keys).
    pub left_output: usize,
    /// How many leading columns of the right input are output.
    pub right_output: usize,
    /// Applied to the joined rows (over the output schema).
    pub residual: Option<Arc<dyn PhysicalExpr>>,
    /// Left's output columns, then right's.
    pub output_schema: SchemaRef,
    /// When state is dropped.
    pub kind: JoinKind,
    /// For a regular join: how long a stored row lives after it arrived (processing time).
    pub ttl: Option<TtlConfig>,
}

impl fmt::Debug for JoinSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSpec")
            .field("left_keys", &self.left_keys)
            .field("right_keys", &self.right_keys)
            .field("residual", &self.residual.as_ref().map(|e| e.to_string()))
            .field("kind", &self.kind)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A stored row: its time (0 unless an interval join) and its bytes, with its multiplicity.
type SideState = MapState<(i64, Vec<u8>), u64>;

struct Side {
    keys: KeyEncoder,
    codec: RowCodec,
    state: SideState,
}

/// The join operator.
pub struct JoinOperator {
    spec: JoinSpec,
    sides: Vec<Side>,
}

impl JoinOperator {
    /// A join doing `spec`.
    pub fn new(spec: JoinSpec) -> Self {
        Self {
            spec,
            sides: Vec::new(),
        }
    }

    /// The time column of input `side` that state expiry reads, if any.
    fn time_column(&self, side: usize) -> Option<usize> {
        match self.spec.kind {
            JoinKind::Regular => None,
            JoinKind::Window { left_end, right_end } => Some(if side == 0 { left_end } else { right_end }),
            JoinKind::Interval {
                left_time, right_time, ..
            } => Some(if side == 0 { left_time } else { right_time }),
        }
    }

    /// When a row of input `side` with time `time` may be dropped (a timer's time).
    fn expiry(&self, side: usize, time: i64) -> Option<i64> {
        match self.spec.kind {
            JoinKind::Regular => None,
            // Every row of the window is in once the watermark passes its last millisecond.
            JoinKind::Window { .. } => Some(time),
            JoinKind::Interval { lower, upper, .. } => Some(if side == 0 {
                time.saturating_add(upper).saturating_add(1)
            } else {
                time.saturating_sub(lower).saturating_add(1)
            }),
        }
    }

    /// Joins the rows of `batch` (from input `side`) with the other side's stored rows, then
    /// stores them.
    fn join_batch(
        &mut self,
        side: usize,
        batch: &RecordBatch,
        ctx: &mut OperatorContext,
    ) -> Result<Option<RecordBatch>> {
        if side > 1 || self.sides.len() != 2 {
            return Err(Error::Internal(format!(
                "join input {side} out of range or join not opened"
            )));
        }
        let other = 1 - side;
        let own = &self.sides[side];
        let theirs = &self.sides[other];
        let keys = own.keys.encode(batch)?;
        let rows = own.codec.encode(batch)?;
        let times = match self.time_column(side) {
            Some(c) => Some(i64_column(batch.column(c))?),
            None => None,
        };
        let key_columns: Vec<&ArrayRef> = own.keys.key_indices().iter().map(|&i| batch.column(i)).collect();
        let interval = matches!(self.spec.kind, JoinKind::Interval { .. });
        // The batch's rows by key (first appearance first): each key's stored rows are read
        // once per batch. Rows of one side never join each other, so their order is free.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<&[u8], usize> = HashMap::new();
        for i in 0..batch.num_rows() {
            if key_columns.iter().any(|c| c.is_null(i)) || times.as_ref().is_some_and(|t| t.is_null(i)) {
                continue;
            }
            let next = groups.len();
            let group = *group_of.entry(keys.rows.row(i).data()).or_insert(next);
            if group == next {
                groups.push(Vec::new());
            }
            groups[group].push(i);
        }
        let mut matched_own: Vec<u32> = Vec::new();
        let mut matched_other: Vec<usize> = Vec::new();
        let mut other_rows: Vec<Vec<u8>> = Vec::new();
        for group in &groups {
            let first = group[0];
            let key = keys.rows.row(first);
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: key.as_ref(),
                namespace: &[],
            };
            let base = other_rows.len();
            let mut counts = Vec::new();
            for ((_, bytes), count) in theirs.state.entries(ctx, scope)? {
                other_rows.push(bytes);
                counts.push(count);
            }
            for &i in group {
                for (offset, &count) in counts.iter().enumerate() {
                    for _ in 0..count {
                        matched_own.push(i as u32);
                        matched_other.push(base + offset);
                    }
                }
            }
            // Store the group's rows (with their multiplicities) and their expiry timers.
            let mut stored: BTreeMap<(i64, &[u8]), u64> = BTreeMap::new();
            let mut expiries = BTreeSet::new();
            for &i in group {
                let time = times.as_ref().map(|t| t.value(i));
                *stored
                    .entry((if interval { time.unwrap_or(0) } else { 0 }, rows.row(i).data()))
                    .or_default() += 1;
                if let Some(expiry) = time.and_then(|t| self.expiry(side, t)) {
                    expiries.insert(expiry);
                }
            }
            for ((time, bytes), added) in stored {
                let entry = (time, bytes.to_vec());
                let count = own.state.get(ctx, scope, &entry)?.unwrap_or(0);
                own.state.put(ctx, scope, &entry, &(count + added))?;
            }
            for at in expiries {
                ctx.register_timer(TimeDomain::EventTime, at, keys.key_groups[first], key.as_ref(), &[])?;
            }
        }
        if matched_own.is_empty() {
            return Ok(None);
        }
        let own_n = if side == 0 {
            self.spec.left_output
        } else {
            self.spec.right_output
        };
        let other_n = if side == 0 {
            self.spec.right_output
        } else {
            self.spec.left_output
        };
        let indices = UInt32Array::from(matched_own);
        let own_columns = batch.columns()[..own_n.min(batch.num_columns())]
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut other_columns = theirs
            .codec
            .decode(matched_other.iter().map(|&r| other_rows[r].as_slice()))?;
        other_columns.truncate(other_n);
        let columns: Vec<ArrayRef> = if side == 0 {
            own_columns.into_iter().chain(other_columns).collect()
        } else {
            other_columns.into_iter().chain(own_columns).collect()
        };
        let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
        let joined = RecordBatch::try_new_with_options(self.spec.output_schema.clone(), columns, &options)?;
        self.filter(joined)
    }

    /// The joined rows that satisfy the residual condition.
    fn filter(&self, joined: RecordBatch) -> Result<Option<RecordBatch>> {
        let Some(residual) = &self.spec.residual else {
            return Ok(Some(joined));
        };
        let mask = residual
            .evaluate(&joined)
            .and_then(|v| v.into_array(joined.num_rows()))
            .map_err(|e| Error::UserFunction(format!("evaluating a join condition: {e}")))?;
        let mask = mask
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| Error::Internal("a join condition did not evaluate to booleans".into()))?;
        if mask.true_count() == 0 {
            return Ok(None);
        }
        Ok(Some(filter_record_batch(&joined, mask)?))
    }
}

/// A timestamp or integer column as milliseconds.
fn i64_column(column: &ArrayRef) -> Result<Int64Array> {
    let cast = cast(column.as_ref(), &DataType::Int64)?;
    cast.as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| Error::Internal("a join time column is not an integer".into()))
}

impl Operator for JoinOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let max_parallelism = ctx.info().max_parallelism;
        let ttl = match self.spec.kind {
            JoinKind::Regular => self.spec.ttl,
            JoinKind::Window { .. } | JoinKind::Interval { .. } => None,
        };
        let mut sides = Vec::with_capacity(2);
        for (name, schema, keys) in [
            ("join-left", &self.spec.left_schema, &self.spec.left_keys),
            ("join-right", &self.spec.right_schema, &self.spec.right_keys),
        ] {
            sides.push(Side {
                keys: KeyEncoder::new(schema, keys, max_parallelism)?,
                codec: RowCodec::new(schema)?,
                state: MapState::register(ctx, name, ttl)?,
            });
        }
        self.sides = sides;
        Ok(())
    }

    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(joined) = self.join_batch(input, &batch, ctx)? {
            out.emit(joined);
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        let scope = KeyScope {
            key_group: timer.key_group,
            key: &timer.key,
            namespace: &timer.namespace,
        };
        match self.spec.kind {
            JoinKind::Regular => {}
            JoinKind::Window { .. } => {
                for side in &self.sides {
                    side.state.clear(ctx, scope)?;
                }
            }
            JoinKind::Interval { lower, upper, .. } => {
                let watermark = ctx.current_watermark();
                for (index, side) in self.sides.iter().enumerate() {
                    let bound = if index == 0 { upper } else { lower.saturating_neg() };
                    for (stored, _) in side.state.entries(ctx, scope)? {
                        if stored.0.saturating_add(bound) < watermark {
                            side.state.remove(ctx, scope, &stored)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

//! `AccumulateAggregate`: a non-windowed (updating) aggregation, `GROUP BY k` without a window,
//! for any DataFusion aggregate function, built-in or a user's `AggregateUDF`, through its
//! [`Accumulator`].
//!
//! The operator is keyed by the group columns and keeps, per group, its row count, every
//! aggregate's accumulator `state()` and the last emitted results (see [`encoding`]). For each
//! input batch and group it rebuilds the accumulators from state (`merge_batch`), applies the
//! group's rows (`update_batch`; `retract_batch` for the `-U`/`-D` rows of a changelog input,
//! in runs of the batch's order), evaluates, stores the new state and emits the changelog as
//! [`crate::ops::group_aggregate`] does:
//! - `+I` when a group gets its first row;
//! - `-U` (the previous result) then `+U` (the new one) when a group's result changed — nothing
//!   when it did not;
//! - `-D` (the previous result) when a group's row count returns to 0, and its state is cleared.
//!
//! With a state TTL (`table.exec.state.ttl`), a group not written for that long expires and its
//! next row starts it afresh (`+I`).
//!
//! The planner only routes a changelog input here when every aggregate can retract
//! ([`Accumulator::supports_retract_batch`] on its sliding accumulator) regardless of order;
//! `MIN`/`MAX` then use [`extreme`], which retracts by value.

mod encoding;
pub mod extreme;
pub mod window;

use crate::ops::changelog::RowKind;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int8Array, UInt32Array};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::PhysicalExpr;
use freshet_core::keys::{EncodedKeys, KeyEncoder};
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, ValueState};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use freshet_state::ttl::TtlConfig;
use std::collections::HashMap;
use std::sync::Arc;

use encoding::StoredGroup;

/// One aggregate: the DataFusion aggregate expression and its `FILTER (WHERE ...)`, both
/// over the operator's input.
#[derive(Clone, Debug)]
pub struct AccumulateSpec {
    /// The aggregate (function, arguments, `DISTINCT`, `ORDER BY`, `IGNORE NULLS`).
    pub function: Arc<AggregateFunctionExpr>,
    /// The filter: rows where it is not true are skipped by this aggregate.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// Whether to create sliding (retracting) accumulators: for a changelog input.
    pub retracting: bool,
    /// For `MIN`/`MAX` over a changelog: the accumulator that retracts by value, used instead
    /// of DataFusion's (see [`extreme`]).
    pub extreme: Option<extreme::Extreme>,
}

impl AccumulateSpec {
    /// A fresh accumulator.
    pub fn accumulator(&self) -> datafusion::error::Result<Box<dyn Accumulator>> {
        if let Some(e) = self.extreme {
            Ok(extreme::extreme_accumulator(e, self.function.field().data_type()))
        } else if self.retracting {
            self.function.create_sliding_accumulator()
        } else {
            self.function.create_accumulator()
        }
    }

    /// What `update_batch` takes: the arguments, then the `ORDER BY` expressions (as
    /// DataFusion's own aggregation passes them).
    fn inputs(&self) -> Vec<Arc<dyn PhysicalExpr>> {
        let mut inputs = self.function.expressions();
        inputs.extend(self.function.order_bys().iter().map(|s| s.expr.clone()));
        inputs
    }
}

/// What the operator is built from.
#[derive(Clone, Debug)]
pub struct AccumulateConfig {
    /// The group key columns of the input.
    pub key_columns: Vec<String>,
    /// The aggregates, in output order.
    pub aggregates: Vec<AccumulateSpec>,
    /// Whether the input is a changelog (its last column is the row kind).
    pub input_changelog: bool,
    /// The input schema (with the row-kind column of a changelog).
    pub input_schema: SchemaRef,
    /// The output schema: the key columns, the aggregates, the row kind.
    pub output_schema: SchemaRef,
    /// Time-to-live of a group's state (`table.exec.state.ttl`).
    pub ttl: Option<TtlConfig>,
}

/// One output row: the first input row of its group (for the key), the values, the kind.
type OutRow = (usize, Vec<ScalarValue>, RowKind);

/// The accumulator aggregation operator.
pub struct AccumulateOperator {
    config: Arc<AccumulateConfig>,
    encoder: Option<KeyEncoder>,
    groups: Option<ValueState<StoredGroup>>,
}

fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::UserFunction(format!("aggregate: {e}"))
}

/// The evaluated inputs of one aggregate over a batch.
struct Inputs {
    values: Vec<ArrayRef>,
    filter: Option<BooleanArray>,
}

impl AccumulateOperator {
    /// An operator for `config`.
    pub fn new(config: Arc<AccumulateConfig>) -> Self {
        Self {
            config,
            encoder: None,
            groups: None,
        }
    }

    fn accumulators(&self) -> Result<Vec<Box<dyn Accumulator>>> {
        self.config
            .aggregates
            .iter()
            .map(|a| a.accumulator().map_err(df))
            .collect()
    }

    fn inputs(&self, batch: &RecordBatch) -> Result<Vec<Inputs>> {
        let rows = batch.num_rows();
        self.config
            .aggregates
            .iter()
            .map(|spec| {
                let values = spec
                    .inputs()
                    .iter()
                    .map(|e| e.evaluate(batch).and_then(|v| v.into_array(rows)).map_err(df))
                    .collect::<Result<Vec<_>>>()?;
                let filter = match &spec.filter {
                    Some(f) => {
                        let array = f.evaluate(batch).and_then(|v| v.into_array(rows)).map_err(df)?;
                        let filter = array
                            .as_boolean_opt()
                            .ok_or_else(|| Error::Internal("aggregate filter is not boolean".into()))?;
                        Some(filter.clone())
                    }
                    None => None,
                };
                Ok(Inputs { values, filter })
            })
            .collect()
    }

    /// Applies `rows` (with their signs: +1 adds, -1 retracts) to `acc`, in runs of equal sign.
    fn apply(acc: &mut dyn Accumulator, inputs: &Inputs, rows: &[(usize, i64)]) -> Result<()> {
        let mut run: Vec<u32> = Vec::new();
        let mut run_sign = 0;
        let flush = |acc: &mut dyn Accumulator, run: &mut Vec<u32>, sign: i64| -> Result<()> {
            if run.is_empty() {
                return Ok(());
            }
            let indices = UInt32Array::from(std::mem::take(run));
            let values = inputs
                .values
                .iter()
                .map(|a| arrow::compute::take(a.as_ref(), &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if sign > 0 {
                acc.update_batch(&values).map_err(df)
            } else if acc.supports_retract_batch() {
                acc.retract_batch(&values).map_err(df)
            } else {
                Err(Error::Internal(
                    "a retraction reached an aggregate that cannot retract".into(),
                ))
            }
        };
        for &(row, sign) in rows {
            if let Some(filter) = &inputs.filter {
                if !filter.is_valid(row) || !filter.value(row) {
                    continue;
                }
            }
            if sign != run_sign {
                flush(acc, &mut run, run_sign)?;
                run_sign = sign;
            }
            run.push(row as u32);
        }
        flush(acc, &mut run, run_sign)
    }

    fn output(&self, keys: &EncodedKeys, rows: Vec<OutRow>) -> Result<RecordBatch> {
        let encoder = self
            .encoder
            .as_ref()
            .ok_or_else(|| Error::Internal("accumulate aggregate used before open".into()))?;
        let mut columns: Vec<ArrayRef> = encoder.decode(rows.iter().map(|(r, _, _)| keys.rows.row(*r).data()))?;
        let key_count = self.config.key_columns.len();
        for i in 0..self.config.aggregates.len() {
            let field = self.config.output_schema.field(key_count + i);
            let values = rows
                .iter()
                .map(|(_, v, _)| {
                    let value = v[i].clone();
                    if value.data_type() == *field.data_type() {
                        Ok(value)
                    } else {
                        value.cast_to(field.data_type()).map_err(df)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            columns.push(ScalarValue::iter_to_array(values).map_err(df)?);
        }
        columns.push(Arc::new(Int8Array::from_iter_values(
            rows.iter().map(|(_, _, kind)| *kind as i8),
        )));
        Ok(RecordBatch::try_new(self.config.output_schema.clone(), columns)?)
    }
}

impl Operator for AccumulateOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.encoder = Some(KeyEncoder::new(
            &self.config.input_schema,
            &self.config.key_columns,
            ctx.info().max_parallelism,
        )?);
        self.groups = Some(ValueState::register(ctx, "accumulate-aggregate", self.config.ttl)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let (Some(encoder), Some(groups)) = (&self.encoder, self.groups.clone()) else {
            return Err(Error::Internal("accumulate aggregate used before open".into()));
        };
        let keys = encoder.encode(&batch)?;
        let kinds = if self.config.input_changelog {
            let last = batch.num_columns().saturating_sub(1);
            Some(
                batch
                    .column(last)
                    .as_any()
                    .downcast_ref::<Int8Array>()
                    .ok_or_else(|| Error::Internal("accumulate aggregate: the row kind is not Int8".into()))?
                    .clone(),
            )
        } else {
            None
        };
        let inputs = self.inputs(&batch)?;
        // The rows of each group with their signs, groups in order of first appearance.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut grouped: Vec<Vec<(usize, i64)>> = Vec::new();
        for row in 0..batch.num_rows() {
            let sign = match &kinds {
                Some(k) => match RowKind::from_i8(k.value(row)) {
                    Some(kind) if kind.is_addition() => 1,
                    Some(_) => -1,
                    None => return Err(Error::Internal(format!("unknown row kind {}", k.value(row)))),
                },
                None => 1,
            };
            let key = keys.rows.row(row).data();
            let g = *index.entry(key).or_insert_with(|| {
                grouped.push(Vec::new());
                grouped.len() - 1
            });
            grouped[g].push((row, sign));
        }
        let mut emitted: Vec<OutRow> = Vec::new();
        for rows in grouped {
            let first = rows[0].0;
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let mut accumulators = self.accumulators()?;
            let (before, mut count) = match groups.get(ctx, scope)?.filter(|g| g.rows > 0) {
                Some(stored) => {
                    let values = encoding::decode(&stored)?;
                    for (acc, state) in accumulators.iter_mut().zip(&values.states) {
                        acc.merge_batch(state).map_err(df)?;
                    }
                    (Some(values.results), stored.rows)
                }
                None => (None, 0),
            };
            count += rows.iter().map(|(_, sign)| sign).sum::<i64>();
            for (acc, inputs) in accumulators.iter_mut().zip(&inputs) {
                Self::apply(acc.as_mut(), inputs, &rows)?;
            }
            let after = if count > 0 {
                // Evaluate before taking the state: some accumulators move their values out
                // in `state()`.
                let results = accumulators
                    .iter_mut()
                    .map(|a| a.evaluate().map_err(df))
                    .collect::<Result<Vec<_>>>()?;
                let states = accumulators
                    .iter_mut()
                    .map(|a| a.state().map_err(df))
                    .collect::<Result<Vec<_>>>()?;
                groups.set(ctx, scope, &encoding::encode(count, &states, &results)?)?;
                Some(results)
            } else {
                groups.clear(ctx, scope)?;
                None
            };
            match (before, after) {
                (None, Some(new)) => emitted.push((first, new, RowKind::Insert)),
                (Some(old), None) => emitted.push((first, old, RowKind::Delete)),
                (Some(old), Some(new)) if old != new => {
                    emitted.push((first, old, RowKind::UpdateBefore));
                    emitted.push((first, new, RowKind::UpdateAfter));
                }
                _ => {}
            }
        }
        if !emitted.is_empty() {
            out.emit(self.output(&keys, emitted)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

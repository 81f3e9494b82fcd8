//! `GroupAggregate`: a non-windowed (updating) aggregation, `GROUP BY k` without a window.
//!
//! The operator is keyed by the group columns and keeps, per group, the number of rows and one
//! accumulator per aggregate (a [`ValueState`]); values whose retraction must be undone exactly
//! (`COUNT(DISTINCT x)`, and `MIN`/`MAX` over a changelog input) are counted per value in a
//! [`MapState`]. It emits a changelog (see [`crate::ops::changelog`]):
//! - `+I` when a group gets its first row;
//! - `-U` (the previous result) then `+U` (the new one) when a group's result changed — nothing
//!   when it did not;
//! - `-D` (the previous result) when a group's row count returns to 0, and its state is cleared.
//!
//! With a state TTL (`table.exec.state.ttl`), a group not written for that long expires: its
//! next row starts it afresh (`+I`), and a processing-time timer frees its value counts.
//!
//! Input may be append-only (every row adds) or a changelog (`-U`/`-D` rows retract). The rows
//! of one batch are applied per group before the group's result is compared and emitted (as
//! Flink's mini-batch aggregation does), so a batch yields at most one change per group.
//!
//! Arguments arrive in canonical types, cast by the planner's pre-projection: `Int64` (every
//! integer, boolean and temporal type), `Float64` or `Utf8`. `AVG` over integers truncates
//! toward zero, as Flink's `AVG(BIGINT)`.

use crate::ops::changelog::RowKind;
use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Float64Builder, Int64Array, Int64Builder, Int8Array, StringArray,
    StringBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, MapState, ValueState};
use freshet_dataflow::{Collector, Operator, OperatorContext, TimeDomain, Timer};
use freshet_state::ttl::TtlConfig;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// An aggregate function of a group aggregation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupAggKind {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT(x)`: non-null values.
    Count,
    /// `COUNT(DISTINCT x)`.
    CountDistinct,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)`.
    Avg,
}

/// The canonical type an argument is cast to before the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `Int64`.
    Int,
    /// `Float64`.
    Float,
    /// `Utf8`.
    Str,
}

impl ValueType {
    /// The Arrow type of the canonical column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::Int => DataType::Int64,
            Self::Float => DataType::Float64,
            Self::Str => DataType::Utf8,
        }
    }
}

/// One aggregate: its function, its argument column and its `FILTER (WHERE ...)` column.
#[derive(Clone, Debug)]
pub struct GroupAggSpec {
    /// The function.
    pub kind: GroupAggKind,
    /// The input column of the argument (none for `COUNT(*)`).
    pub arg: Option<usize>,
    /// The argument's canonical type.
    pub arg_type: ValueType,
    /// The input column of the filter (a boolean: rows where it is not true are skipped).
    pub filter: Option<usize>,
}

impl GroupAggSpec {
    /// The type of the aggregate's output column.
    pub fn output_type(&self) -> DataType {
        match self.kind {
            GroupAggKind::CountStar | GroupAggKind::Count | GroupAggKind::CountDistinct => DataType::Int64,
            GroupAggKind::Avg => DataType::Float64,
            GroupAggKind::Sum | GroupAggKind::Min | GroupAggKind::Max => self.arg_type.data_type(),
        }
    }
}

/// What the operator is built from.
#[derive(Clone, Debug)]
pub struct GroupAggregateConfig {
    /// The group key columns of the input.
    pub key_columns: Vec<String>,
    /// The aggregates, in output order.
    pub aggregates: Vec<GroupAggSpec>,
    /// Whether the input is a changelog (its last column is the row kind).
    pub input_changelog: bool,
    /// The input schema (with the row-kind column of a changelog).
    pub input_schema: SchemaRef,
    /// The output schema: the key columns, the aggregates, the row kind.
    pub output_schema: SchemaRef,
    /// Time-to-live of a group's state (`table.exec.state.ttl`).
    pub ttl: Option<TtlConfig>,
}

/// A canonical value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl Value {
    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a.cmp(b),
            (Self::Float(a), Self::Float(b)) => a.total_cmp(b),
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            (Self::Int(_), _) => Ordering::Less,
            (Self::Float(_), Self::Int(_)) => Ordering::Greater,
            (Self::Float(_), Self::Str(_)) => Ordering::Less,
            (Self::Str(_), _) => Ordering::Greater,
        }
    }
}

/// The accumulator of one aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Acc {
    Count(i64),
    Distinct(i64),
    Sum { int: i64, float: f64, n: i64 },
    Extreme { current: Option<Value>, n: i64 },
}

/// The state of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct GroupState {
    rows: i64,
    accs: Vec<Acc>,
}

/// One output row: the first input row of its group (for the key), the values, the kind.
type OutRow = (usize, Vec<Option<Value>>, RowKind);

/// The group aggregation operator.
pub struct GroupAggregateOperator {
    config: Arc<GroupAggregateConfig>,
    encoder: Option<KeyEncoder>,
    groups: Option<ValueState<GroupState>>,
    values: Option<MapState<(u32, Value), i64>>,
}

impl GroupAggregateOperator {
    /// An operator for `config`.
    pub fn new(config: Arc<GroupAggregateConfig>) -> Self {
        Self {
            config,
            encoder: None,
            groups: None,
            values: None,
        }
    }

    fn new_group(&self) -> GroupState {
        GroupState {
            rows: 0,
            accs: self
                .config
                .aggregates
                .iter()
                .map(|a| match a.kind {
                    GroupAggKind::CountStar | GroupAggKind::Count => Acc::Count(0),
                    GroupAggKind::CountDistinct => Acc::Distinct(0),
                    GroupAggKind::Sum | GroupAggKind::Avg => Acc::Sum {
                        int: 0,
                        float: 0.0,
                        n: 0,
                    },
                    GroupAggKind::Min | GroupAggKind::Max => Acc::Extreme { current: None, n: 0 },
                })
                .collect(),
        }
    }

    fn results(&self, group: &GroupState) -> Vec<Option<Value>> {
        self.config
            .aggregates
            .iter()
            .zip(&group.accs)
            .map(|(spec, acc)| match acc {
                Acc::Count(c) | Acc::Distinct(c) => Some(Value::Int(*c)),
                Acc::Sum { n, .. } if *n <= 0 => None,
                Acc::Sum { int, float, n } => Some(match (spec.kind, spec.arg_type) {
                    (GroupAggKind::Avg, ValueType::Int) => Value::Float(int.wrapping_div(*n) as f64),
                    (GroupAggKind::Avg, _) => Value::Float(float / *n as f64),
                    (_, ValueType::Int) => Value::Int(*int),
                    _ => Value::Float(*float),
                }),
                Acc::Extreme { current, n } => current.clone().filter(|_| *n > 0),
            })
            .collect()
    }

    /// Applies one row (`sign` +1 adds, -1 retracts) to `group`.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        group: &mut GroupState,
        row: usize,
        sign: i64,
        columns: &[ArgColumn<'_>],
        filters: &[Option<&BooleanArray>],
        ctx: &mut OperatorContext,
        scope: KeyScope<'_>,
    ) -> Result<()> {
        group.rows += sign;
        for (i, spec) in self.config.aggregates.iter().enumerate() {
            if let Some(filter) = filters[i] {
                if !filter.is_valid(row) || !filter.value(row) {
                    continue;
                }
            }
            let value = columns[i].value(row);
            let acc = &mut group.accs[i];
            match (acc, spec.kind) {
                (Acc::Count(c), GroupAggKind::CountStar) => *c += sign,
                (Acc::Count(c), _) => {
                    if value.is_some() {
                        *c += sign
                    }
                }
                (Acc::Distinct(d), _) => {
                    let Some(value) = value else { continue };
                    let before = self.value_count(ctx, scope, i, &value)?;
                    let after = (before + sign).max(0);
                    self.set_value_count(ctx, scope, i, value, after)?;
                    if before == 0 && after > 0 {
                        *d += 1;
                    } else if before > 0 && after == 0 {
                        *d -= 1;
                    }
                }
                (Acc::Sum { int, float, n }, _) => match value {
                    Some(Value::Int(v)) => {
                        *int = int.wrapping_add(sign.wrapping_mul(v));
                        *n += sign;
                    }
                    Some(Value::Float(v)) => {
                        *float += sign as f64 * v;
                        *n += sign;
                    }
                    Some(Value::Str(_)) => {
                        return Err(Error::Internal("SUM/AVG over a string column".into()));
                    }
                    None => {}
                },
                (Acc::Extreme { current, n }, kind) => {
                    let Some(value) = value else { continue };
                    let better = |candidate: &Value, than: &Value| match kind {
                        GroupAggKind::Min => candidate.compare(than) == Ordering::Less,
                        _ => candidate.compare(than) == Ordering::Greater,
                    };
                    *n += sign;
                    let retractable = self.config.input_changelog;
                    if sign > 0 {
                        if retractable {
                            let before = self.value_count(ctx, scope, i, &value)?;
                            self.set_value_count(ctx, scope, i, value.clone(), before + 1)?;
                        }
                        if current.as_ref().is_none_or(|c| better(&value, c)) {
                            *current = Some(value);
                        }
                    } else if retractable {
                        let before = self.value_count(ctx, scope, i, &value)?;
                        let after = (before - 1).max(0);
                        self.set_value_count(ctx, scope, i, value.clone(), after)?;
                        if after == 0 && current.as_ref() == Some(&value) {
                            // The extreme left: find the next one among the values still counted.
                            let mut next: Option<Value> = None;
                            if let Some(values) = &self.values {
                                for ((agg, v), count) in values.entries(ctx, scope)? {
                                    if agg as usize == i && count > 0 && next.as_ref().is_none_or(|c| better(&v, c)) {
                                        next = Some(v);
                                    }
                                }
                            }
                            *current = next;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn value_count(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>, agg: usize, value: &Value) -> Result<i64> {
        let values = self.values_state()?;
        Ok(values.get(ctx, scope, &(agg as u32, value.clone()))?.unwrap_or(0))
    }

    fn set_value_count(
        &self,
        ctx: &mut OperatorContext,
        scope: KeyScope<'_>,
        agg: usize,
        value: Value,
        count: i64,
    ) -> Result<()> {
        let values = self.values_state()?;
        let key = (agg as u32, value);
        if count > 0 {
            values.put(ctx, scope, &key, &count)
        } else {
            values.remove(ctx, scope, &key)
        }
    }

    /// With a TTL, a processing-time timer after the group's expiry clears its value counts
    /// if the group has expired by then. Times are rounded up to half the TTL, so a group
    /// written often holds at most a few timers.
    fn schedule_cleanup(&self, ctx: &mut OperatorContext, scope: KeyScope<'_>) -> Result<()> {
        let Some(ttl) = self.config.ttl else { return Ok(()) };
        if !self.uses_value_counts() {
            return Ok(());
        }
        let step = (ttl.ttl_ms / 2).max(1);
        let expiry = ctx.now_ms().saturating_add(ttl.ttl_ms);
        let at = expiry.div_euclid(step).saturating_mul(step).saturating_add(step);
        ctx.register_timer(
            TimeDomain::ProcessingTime,
            at,
            scope.key_group,
            scope.key,
            scope.namespace,
        )
    }

    /// Whether some aggregate counts its values in map state.
    fn uses_value_counts(&self) -> bool {
        self.config.aggregates.iter().any(|a| match a.kind {
            GroupAggKind::CountDistinct => true,
            GroupAggKind::Min | GroupAggKind::Max => self.config.input_changelog,
            _ => false,
        })
    }

    fn values_state(&self) -> Result<&MapState<(u32, Value), i64>> {
        self.values
            .as_ref()
            .ok_or_else(|| Error::Internal("group aggregate used before open".into()))
    }

    fn output(&self, keys: &freshet_core::keys::EncodedKeys, rows: Vec<OutRow>) -> Result<RecordBatch> {
        let encoder = self
            .encoder
            .as_ref()
            .ok_or_else(|| Error::Internal("group aggregate used before open".into()))?;
        let mut columns: Vec<ArrayRef> = encoder.decode(rows.iter().map(|(r, _, _)| keys.rows.row(*r).data()))?;
        for (i, spec) in self.config.aggregates.iter().enumerate() {
            let values = rows.iter().map(|(_, v, _)| v[i].as_ref());
            columns.push(match spec.output_type() {
                DataType::Int64 => {
                    let mut b = Int64Builder::with_capacity(rows.len());
                    for v in values {
                        b.append_option(match v {
                            Some(Value::Int(x)) => Some(*x),
                            _ => None,
                        });
                    }
                    Arc::new(b.finish())
                }
                DataType::Float64 => {
                    let mut b = Float64Builder::with_capacity(rows.len());
                    for v in values {
                        b.append_option(match v {
                            Some(Value::Float(x)) => Some(*x),
                            _ => None,
                        });
                    }
                    Arc::new(b.finish())
                }
                _ => {
                    let mut b = StringBuilder::new();
                    for v in values {
                        b.append_option(match v {
                            Some(Value::Str(x)) => Some(x.as_str()),
                            _ => None,
                        });
                    }
                    Arc::new(b.finish())
                }
            });
        }
        columns.push(Arc::new(Int8Array::from_iter_values(
            rows.iter().map(|(_, _, kind)| *kind as i8),
        )));
        Ok(RecordBatch::try_new(self.config.output_schema.clone(), columns)?)
    }
}

/// An argument column in its canonical type.
enum ArgColumn<'a> {
    None,
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Str(&'a StringArray),
}

impl ArgColumn<'_> {
    fn value(&self, row: usize) -> Option<Value> {
        match self {
            Self::None => None,
            Self::Int(a) => a.is_valid(row).then(|| Value::Int(a.value(row))),
            Self::Float(a) => a.is_valid(row).then(|| Value::Float(a.value(row))),
            Self::Str(a) => a.is_valid(row).then(|| Value::Str(a.value(row).to_string())),
        }
    }
}

fn downcast<'a, T: 'static>(batch: &'a RecordBatch, index: usize, what: &str) -> Result<&'a T> {
    batch
        .columns()
        .get(index)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::Internal(format!("group aggregate: column {index} is not {what}")))
}

impl Operator for GroupAggregateOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.encoder = Some(KeyEncoder::new(
            &self.config.input_schema,
            &self.config.key_columns,
            ctx.info().max_parallelism,
        )?);
        self.groups = Some(ValueState::register(ctx, "group-aggregate", self.config.ttl)?);
        // Value counts live exactly as long as their group: no TTL of their own (an entry not
        // touched for a while must not expire while its group lives), cleared with the group.
        self.values = Some(MapState::register(ctx, "group-aggregate-values", None)?);
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        let Some(groups) = self.groups.clone() else {
            return Ok(());
        };
        let scope = KeyScope {
            key_group: timer.key_group,
            key: &timer.key,
            namespace: &timer.namespace,
        };
        if timer.domain == TimeDomain::ProcessingTime && groups.get(ctx, scope)?.is_none() {
            self.values_state()?.clear(ctx, scope)?;
        }
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
            return Err(Error::Internal("group aggregate used before open".into()));
        };
        let keys = encoder.encode(&batch)?;
        let kinds = if self.config.input_changelog {
            Some(downcast::<Int8Array>(
                &batch,
                batch.num_columns().saturating_sub(1),
                "Int8",
            )?)
        } else {
            None
        };
        let mut columns = Vec::with_capacity(self.config.aggregates.len());
        let mut filters = Vec::with_capacity(self.config.aggregates.len());
        for spec in &self.config.aggregates {
            columns.push(match (spec.arg, spec.arg_type) {
                (None, _) => ArgColumn::None,
                (Some(i), ValueType::Int) => ArgColumn::Int(downcast(&batch, i, "Int64")?),
                (Some(i), ValueType::Float) => ArgColumn::Float(downcast(&batch, i, "Float64")?),
                (Some(i), ValueType::Str) => ArgColumn::Str(downcast(&batch, i, "Utf8")?),
            });
            filters.push(
                spec.filter
                    .map(|i| downcast::<BooleanArray>(&batch, i, "Boolean"))
                    .transpose()?,
            );
        }
        // The rows of each group, groups in order of first appearance.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut grouped: Vec<Vec<usize>> = Vec::new();
        for row in 0..batch.num_rows() {
            let key = keys.rows.row(row).data();
            let g = *index.entry(key).or_insert_with(|| {
                grouped.push(Vec::new());
                grouped.len() - 1
            });
            grouped[g].push(row);
        }
        let mut emitted: Vec<OutRow> = Vec::new();
        for rows in grouped {
            let first = rows[0];
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let stored = groups.get(ctx, scope)?.filter(|g| g.rows > 0);
            if stored.is_none() && self.uses_value_counts() {
                // Value counts may outlive an expired group: start them afresh with it.
                self.values_state()?.clear(ctx, scope)?;
            }
            let before = stored.as_ref().map(|g| self.results(g));
            let mut group = stored.unwrap_or_else(|| self.new_group());
            for &row in &rows {
                let sign = match kinds {
                    Some(k) => match RowKind::from_i8(k.value(row)) {
                        Some(kind) if kind.is_addition() => 1,
                        Some(_) => -1,
                        None => return Err(Error::Internal(format!("unknown row kind {}", k.value(row)))),
                    },
                    None => 1,
                };
                self.apply(&mut group, row, sign, &columns, &filters, ctx, scope)?;
            }
            let after = (group.rows > 0).then(|| self.results(&group));
            match (before, after) {
                (None, Some(new)) => emitted.push((first, new, RowKind::Insert)),
                (Some(old), None) => emitted.push((first, old, RowKind::Delete)),
                (Some(old), Some(new)) if old != new => {
                    emitted.push((first, old, RowKind::UpdateBefore));
                    emitted.push((first, new, RowKind::UpdateAfter));
                }
                _ => {}
            }
            if group.rows > 0 {
                groups.set(ctx, scope, &group)?;
                self.schedule_cleanup(ctx, scope)?;
            } else {
                groups.clear(ctx, scope)?;
                if self.uses_value_counts() {
                    self.values_state()?.clear(ctx, scope)?;
                }
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

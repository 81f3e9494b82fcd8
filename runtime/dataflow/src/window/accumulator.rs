//! Accumulators of a window's aggregates: their in-memory form, vectorized batch updates, merging
//! and result columns. Their state encoding is in [`super::acc_encoding`].
//!
//! A built-in accumulator is `(value, n)`: how many (non-null) inputs it covers and their
//! sum/min/max (`value` unused by counts). Adding a value `x` equals merging the accumulator
//! `(x, 1)`.

use super::aggregate::{Aggregate, AggregateSpec};
use super::udaf::DynAggregateFunction;
use arrow::array::{make_builder, Array, ArrayBuilder, ArrayRef, AsArray, Float64Builder, Int64Builder};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::any::Any;
use std::sync::Arc;

/// How a numeric aggregate combines values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NumOp {
    Sum,
    Min,
    Max,
    Avg,
}

/// A resolved aggregate: what it computes and over which value type.
#[derive(Clone)]
pub(super) enum Kind {
    CountAll,
    CountNonNull,
    Int(NumOp),
    Float(NumOp),
    Udaf(Arc<dyn DynAggregateFunction>),
}

/// The accumulator of one aggregate for one (key, window).
pub(crate) enum Acc {
    /// Counts (`v` unused) and integer sum/min/max/avg.
    Int { v: i64, n: i64 },
    /// Floating-point sum/min/max/avg.
    Float { v: f64, n: i64 },
    /// A user-defined accumulator.
    Udaf(Box<dyn Any + Send>),
}

pub(super) struct Resolved {
    pub(super) kind: Kind,
    column: Option<usize>,
    field: Field,
}

/// The aggregates of one window operator, resolved against its input schema.
pub(crate) struct Aggregates {
    pub(super) list: Vec<Resolved>,
}

pub(super) fn mismatch() -> Error {
    Error::Internal("window accumulator does not match its aggregate".into())
}

fn is_int_like(dt: &DataType) -> bool {
    matches!(dt, DataType::Int64 | DataType::Timestamp(_, _))
}

/// The values and validity of an Int64 or Timestamp column.
fn int_values(array: &dyn Array) -> Option<&[i64]> {
    Some(match array.data_type() {
        DataType::Int64 => array.as_primitive_opt::<Int64Type>()?.values(),
        DataType::Timestamp(TimeUnit::Second, _) => array.as_primitive_opt::<TimestampSecondType>()?.values(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array.as_primitive_opt::<TimestampMillisecondType>()?.values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array.as_primitive_opt::<TimestampMicrosecondType>()?.values(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => array.as_primitive_opt::<TimestampNanosecondType>()?.values(),
        _ => return None,
    })
}

#[inline]
fn valid(nulls: Option<&NullBuffer>, row: usize) -> bool {
    nulls.is_none_or(|n| n.is_valid(row))
}

#[inline]
pub(super) fn combine_int(op: NumOp, v: i64, x: i64) -> i64 {
    match op {
        NumOp::Sum | NumOp::Avg => v.wrapping_add(x),
        NumOp::Min => v.min(x),
        NumOp::Max => v.max(x),
    }
}

#[inline]
pub(super) fn combine_float(op: NumOp, v: f64, x: f64) -> f64 {
    match op {
        NumOp::Sum | NumOp::Avg => v + x,
        NumOp::Min => {
            if x.total_cmp(&v).is_lt() {
                x
            } else {
                v
            }
        }
        NumOp::Max => {
            if x.total_cmp(&v).is_gt() {
                x
            } else {
                v
            }
        }
    }
}

impl Aggregates {
    /// Resolves `specs` against the input schema; errors name the aggregate and column.
    pub(crate) fn resolve(specs: &[AggregateSpec], schema: &Schema) -> Result<Self> {
        let mut list = Vec::with_capacity(specs.len());
        for spec in specs {
            let f = &spec.function;
            let column = match f.column() {
                Some(c) => Some(schema.index_of(c).map_err(|_| {
                    Error::Config(format!(
                        "window aggregate '{}': input column '{c}' not found in the input schema",
                        spec.name
                    ))
                })?),
                None => None,
            };
            let input_type = column.map(|i| schema.field(i).data_type().clone());
            let bad_type = |expected: &str| {
                Error::Config(format!(
                    "window aggregate '{}': {}({}) needs {expected} input, got {}",
                    spec.name,
                    f.function_name(),
                    f.column().unwrap_or_default(),
                    input_type.as_ref().map(|t| t.to_string()).unwrap_or_default()
                ))
            };
            let numeric = |op: NumOp| -> Result<(Kind, DataType, bool)> {
                match &input_type {
                    Some(t) if is_int_like(t) => {
                        let out = match op {
                            NumOp::Avg => DataType::Float64,
                            NumOp::Sum => DataType::Int64,
                            NumOp::Min | NumOp::Max => t.clone(),
                        };
                        Ok((Kind::Int(op), out, true))
                    }
                    Some(DataType::Float64) => Ok((Kind::Float(op), DataType::Float64, true)),
                    _ => Err(bad_type("Int64, Float64 or Timestamp")),
                }
            };
            let (kind, data_type, nullable) = match f {
                Aggregate::Count => (Kind::CountAll, DataType::Int64, false),
                Aggregate::CountNonNull(_) => (Kind::CountNonNull, DataType::Int64, false),
                Aggregate::Sum(_) => numeric(NumOp::Sum)?,
                Aggregate::Min(_) => numeric(NumOp::Min)?,
                Aggregate::Max(_) => numeric(NumOp::Max)?,
                Aggregate::Avg(_) => numeric(NumOp::Avg)?,
                Aggregate::Udaf(call) => {
                    let accepted = input_type.as_ref().is_some_and(|t| call.function.accepts(t));
                    if !accepted {
                        return Err(bad_type("a type accepted by the UDAF as"));
                    }
                    let fun = call.function.clone();
                    let (dt, nullable) = (fun.output_type(), fun.output_nullable());
                    (Kind::Udaf(fun), dt, nullable)
                }
            };
            list.push(Resolved {
                kind,
                column,
                field: Field::new(&spec.name, data_type, nullable),
            });
        }
        Ok(Self { list })
    }

    /// Number of aggregates (the stride of accumulator slices).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The output fields, in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &Field> {
        self.list.iter().map(|r| &r.field)
    }

    /// Appends one fresh accumulator per aggregate to `out`.
    pub(crate) fn push_new(&self, out: &mut Vec<Acc>) {
        for r in &self.list {
            out.push(match &r.kind {
                Kind::CountAll | Kind::CountNonNull | Kind::Int(_) => Acc::Int { v: 0, n: 0 },
                Kind::Float(_) => Acc::Float { v: 0.0, n: 0 },
                Kind::Udaf(f) => Acc::Udaf(f.create()),
            });
        }
    }

    /// Fresh accumulators for one (key, window).
    pub(crate) fn new_accs(&self) -> Vec<Acc> {
        let mut out = Vec::with_capacity(self.list.len());
        self.push_new(&mut out);
        out
    }

    /// Adds the rows of `batch` to groups: `accs` holds `len()` accumulators per group and each
    /// pair is `(row, group)`. One pass per aggregate over typed column values.
    pub(crate) fn update_batch(&self, accs: &mut [Acc], batch: &RecordBatch, pairs: &[(u32, u32)]) -> Result<()> {
        let stride = self.list.len();
        for (a, r) in self.list.iter().enumerate() {
            let slot = |g: u32| g as usize * stride + a;
            let column = r.column.map(|c| batch.column(c).as_ref());
            match (&r.kind, column) {
                (Kind::CountAll, _) => {
                    for &(_, g) in pairs {
                        match accs.get_mut(slot(g)) {
                            Some(Acc::Int { n, .. }) => *n += 1,
                            _ => return Err(mismatch()),
                        }
                    }
                }
                (Kind::CountNonNull, Some(col)) => {
                    for &(row, g) in pairs {
                        if col.is_valid(row as usize) {
                            match accs.get_mut(slot(g)) {
                                Some(Acc::Int { n, .. }) => *n += 1,
                                _ => return Err(mismatch()),
                            }
                        }
                    }
                }
                (Kind::Int(op), Some(col)) => {
                    let values = int_values(col).ok_or_else(mismatch)?;
                    let nulls = col.logical_nulls();
                    for &(row, g) in pairs {
                        let row = row as usize;
                        if !valid(nulls.as_ref(), row) {
                            continue;
                        }
                        let x = *values.get(row).ok_or_else(mismatch)?;
                        match accs.get_mut(slot(g)) {
                            Some(Acc::Int { v, n }) => {
                                *v = if *n == 0 { x } else { combine_int(*op, *v, x) };
                                *n += 1;
                            }
                            _ => return Err(mismatch()),
                        }
                    }
                }
                (Kind::Float(op), Some(col)) => {
                    let values = col.as_primitive_opt::<Float64Type>().ok_or_else(mismatch)?.values();
                    let nulls = col.logical_nulls();
                    for &(row, g) in pairs {
                        let row = row as usize;
                        if !valid(nulls.as_ref(), row) {
                            continue;
                        }
                        let x = *values.get(row).ok_or_else(mismatch)?;
                        match accs.get_mut(slot(g)) {
                            Some(Acc::Float { v, n }) => {
                                *v = if *n == 0 { x } else { combine_float(*op, *v, x) };
                                *n += 1;
                            }
                            _ => return Err(mismatch()),
                        }
                    }
                }
                (Kind::Udaf(f), Some(col)) => {
                    for &(row, g) in pairs {
                        match accs.get_mut(slot(g)) {
                            Some(Acc::Udaf(acc)) => f.add(acc.as_mut(), col, row as usize)?,
                            _ => return Err(mismatch()),
                        }
                    }
                }
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }

    /// Adds row `row` of `batch` to the accumulators of one (key, window).
    pub(crate) fn add_row(&self, accs: &mut [Acc], batch: &RecordBatch, row: usize) -> Result<()> {
        self.update_batch(accs, batch, &[(row as u32, 0)])
    }

    /// Merges `from` into `into` (both one (key, window)): `into := into ⊕ from`.
    pub(crate) fn merge(&self, into: &mut [Acc], from: Vec<Acc>) -> Result<()> {
        if into.len() != self.list.len() || from.len() != self.list.len() {
            return Err(mismatch());
        }
        for ((r, acc), other) in self.list.iter().zip(into.iter_mut()).zip(from) {
            match (&r.kind, acc, other) {
                (Kind::CountAll | Kind::CountNonNull, Acc::Int { n, .. }, Acc::Int { n: n2, .. }) => *n += n2,
                (Kind::Int(op), Acc::Int { v, n }, Acc::Int { v: v2, n: n2 }) => {
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_int(*op, *v, v2) };
                        *n += n2;
                    }
                }
                (Kind::Float(op), Acc::Float { v, n }, Acc::Float { v: v2, n: n2 }) => {
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_float(*op, *v, v2) };
                        *n += n2;
                    }
                }
                (Kind::Udaf(f), Acc::Udaf(acc), Acc::Udaf(other)) => f.merge(acc.as_mut(), other)?,
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }

    /// Empty output columns, one per aggregate.
    pub(crate) fn new_result_columns(&self, capacity: usize) -> Vec<ResultColumn> {
        self.list
            .iter()
            .map(|r| match (&r.kind, r.field.data_type()) {
                (Kind::Udaf(f), _) => ResultColumn::Any(make_builder(&f.output_type(), capacity)),
                (_, DataType::Float64) => ResultColumn::Float(Float64Builder::with_capacity(capacity)),
                (_, dt) => ResultColumn::Int(Int64Builder::with_capacity(capacity), dt.clone()),
            })
            .collect()
    }

    /// Appends the results of one (key, window) to the output columns.
    pub(crate) fn append_results(&self, accs: &[Acc], columns: &mut [ResultColumn]) -> Result<()> {
        if accs.len() != self.list.len() || columns.len() != self.list.len() {
            return Err(mismatch());
        }
        for ((r, acc), col) in self.list.iter().zip(accs).zip(columns.iter_mut()) {
            match (&r.kind, acc, col) {
                (Kind::CountAll | Kind::CountNonNull, Acc::Int { n, .. }, ResultColumn::Int(b, _)) => {
                    b.append_value(*n)
                }
                (Kind::Int(NumOp::Avg), Acc::Int { v, n }, ResultColumn::Float(b)) => {
                    b.append_option((*n > 0).then(|| *v as f64 / *n as f64))
                }
                (Kind::Int(_), Acc::Int { v, n }, ResultColumn::Int(b, _)) => b.append_option((*n > 0).then_some(*v)),
                (Kind::Float(NumOp::Avg), Acc::Float { v, n }, ResultColumn::Float(b)) => {
                    b.append_option((*n > 0).then(|| *v / *n as f64))
                }
                (Kind::Float(_), Acc::Float { v, n }, ResultColumn::Float(b)) => {
                    b.append_option((*n > 0).then_some(*v))
                }
                (Kind::Udaf(f), Acc::Udaf(acc), ResultColumn::Any(b)) => f.append_result(acc.as_ref(), b.as_mut())?,
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }
}

/// An output column being built.
pub(crate) enum ResultColumn {
    /// Int64 values, cast to the given type (Int64 or a Timestamp) when finished.
    Int(Int64Builder, DataType),
    /// Float64 values.
    Float(Float64Builder),
    /// A UDAF's column.
    Any(Box<dyn ArrayBuilder>),
}

impl ResultColumn {
    /// The finished column; the builder is reset.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ResultColumn::Int(b, dt) => {
                let values: ArrayRef = Arc::new(b.finish());
                if dt == &DataType::Int64 {
                    values
                } else {
                    arrow::compute::cast(&values, dt)?
                }
            }
            ResultColumn::Float(b) => Arc::new(b.finish()),
            ResultColumn::Any(b) => b.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, TimestampMillisecondArray};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(5), None, Some(-2), Some(9)])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(-3.0), None, Some(2.0)])),
                Arc::new(TimestampMillisecondArray::from(vec![10, 40, 20, 30])),
            ],
        )
        .unwrap()
    }

    fn specs() -> Vec<AggregateSpec> {
        vec![
            AggregateSpec::count("n"),
            AggregateSpec::new(Aggregate::CountNonNull("i".into()), "ni"),
            AggregateSpec::sum("i", "si"),
            AggregateSpec::min("i", "mi"),
            AggregateSpec::max("f", "xf"),
            AggregateSpec::avg("i", "ai"),
            AggregateSpec::avg("f", "af"),
            AggregateSpec::max("t", "xt"),
        ]
    }

    fn results(aggs: &Aggregates, accs: &[Acc]) -> Vec<ArrayRef> {
        let mut cols = aggs.new_result_columns(1);
        aggs.append_results(accs, &mut cols).unwrap();
        cols.iter_mut().map(|c| c.finish().unwrap()).collect()
    }

    #[test]
    fn batch_update_equals_split_and_merge() {
        let b = batch();
        let aggs = Aggregates::resolve(&specs(), &b.schema()).unwrap();
        let mut whole = aggs.new_accs();
        aggs.update_batch(&mut whole, &b, &[(0, 0), (1, 0), (2, 0), (3, 0)])
            .unwrap();
        // Two groups, merged through the state encoding.
        let mut parts = Vec::new();
        aggs.push_new(&mut parts);
        aggs.push_new(&mut parts);
        aggs.update_batch(&mut parts, &b, &[(0, 1), (1, 0), (2, 1), (3, 0)])
            .unwrap();
        let second: Vec<Acc> = parts.drain(aggs.len()..).collect();
        let mut bytes = Vec::new();
        aggs.encode(&second, &mut bytes).unwrap();
        aggs.merge_encoded(&mut parts, &bytes).unwrap();
        let (x, y) = (results(&aggs, &whole), results(&aggs, &parts));
        assert_eq!(x, y);
        let i = |k: usize| x[k].as_primitive::<Int64Type>().value(0);
        assert_eq!((i(0), i(1), i(2), i(3)), (4, 3, 12, -2));
        assert_eq!(x[4].as_primitive::<Float64Type>().value(0), 2.0);
        assert_eq!(x[5].as_primitive::<Float64Type>().value(0), 4.0);
        assert_eq!(x[6].as_primitive::<Float64Type>().value(0), 0.5 / 3.0);
        assert_eq!(x[7].data_type(), &DataType::Timestamp(TimeUnit::Millisecond, None));
        assert_eq!(x[7].as_primitive::<TimestampMillisecondType>().value(0), 40);
    }

    #[test]
    fn empty_window_results_are_null_and_encoding_is_compact() {
        let b = batch();
        let aggs = Aggregates::resolve(&specs()[..3], &b.schema()).unwrap();
        let accs = aggs.new_accs();
        let r = results(&aggs, &accs);
        assert_eq!(r[0].as_primitive::<Int64Type>().value(0), 0);
        assert!(r[2].is_null(0));
        let mut bytes = Vec::new();
        aggs.encode(&accs, &mut bytes).unwrap();
        assert_eq!(bytes.len(), 8 + 8 + 16);
        assert!(aggs.decode(&bytes[..5]).is_err());
    }

    #[test]
    fn bad_input_types_name_the_aggregate() {
        let b = batch();
        let err = Aggregates::resolve(&[AggregateSpec::sum("nope", "s")], &b.schema())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("'s'") && err.to_string().contains("'nope'"),
            "{err}"
        );
        let schema = Schema::new(vec![Field::new("s", DataType::Utf8, true)]);
        let err = Aggregates::resolve(&[AggregateSpec::avg("s", "a")], &schema)
            .err()
            .unwrap();
        assert!(err.to_string().contains("avg(s)"), "{err}");
    }
}

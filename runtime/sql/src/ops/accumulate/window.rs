//! A DataFusion aggregate as a window operator UDAF ([`DynAggregateFunction`]), so that window
//! aggregations (`GROUP BY window_start, window_end, ...`) run any DataFusion aggregate.
//!
//! The planner packs the aggregate's inputs (its arguments, then its `ORDER BY` expressions) into
//! one struct column, NULL where the aggregate's `FILTER (WHERE ...)` is not true; each non-null
//! row is applied with `update_batch`. Panes and sessions merge with `merge_batch`; accumulators
//! are stored as their `state()` in Arrow IPC (see [`super::encoding`]).

use super::encoding;
use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, BooleanBuilder, Decimal128Builder, LargeStringBuilder, PrimitiveBuilder,
    StringBuilder,
};
use arrow::datatypes::*;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use freshet_core::{Error, Result};
use freshet_dataflow::window::DynAggregateFunction;
use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

/// A DataFusion aggregate driven by the window operator.
pub struct WindowAccumulate {
    /// The aggregate; its accumulators take the fields of the input struct column in order.
    pub function: Arc<AggregateFunctionExpr>,
    /// The type of the input struct column.
    pub input_type: DataType,
}

/// The accumulator of one (key, window): DataFusion's `Accumulator` methods take `&mut self`
/// where the window operator lends `&`.
struct Acc(Mutex<Box<dyn Accumulator>>);

fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::UserFunction(format!("aggregate: {e}"))
}

impl Acc {
    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn Accumulator>>> {
        self.0
            .lock()
            .map_err(|_| Error::Internal("a window accumulator lock is poisoned".into()))
    }
}

/// Whether the window operator can output results of `data_type` (see [`append_scalar`]).
pub fn window_output_supported(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Utf8
            | LargeUtf8
            | Decimal128(..)
            | Date32
            | Timestamp(..)
    )
}

macro_rules! append_primitive {
    ($builder:expr, $array:expr, $t:ty) => {{
        let b = $builder
            .as_any_mut()
            .downcast_mut::<PrimitiveBuilder<$t>>()
            .ok_or_else(wrong_builder)?;
        let a = $array.as_primitive::<$t>();
        b.append_option(a.is_valid(0).then(|| a.value(0)));
    }};
}

fn wrong_builder() -> Error {
    Error::Internal("window aggregate: unexpected output builder".into())
}

/// Appends `value` (of the builder's type) to `builder`.
fn append_scalar(builder: &mut dyn ArrayBuilder, value: &ScalarValue) -> Result<()> {
    let array: ArrayRef = value.to_array().map_err(df)?;
    match array.data_type() {
        DataType::Boolean => {
            let b = builder
                .as_any_mut()
                .downcast_mut::<BooleanBuilder>()
                .ok_or_else(wrong_builder)?;
            let a = array.as_boolean();
            b.append_option(a.is_valid(0).then(|| a.value(0)));
        }
        DataType::Int8 => append_primitive!(builder, array, Int8Type),
        DataType::Int16 => append_primitive!(builder, array, Int16Type),
        DataType::Int32 => append_primitive!(builder, array, Int32Type),
        DataType::Int64 => append_primitive!(builder, array, Int64Type),
        DataType::UInt8 => append_primitive!(builder, array, UInt8Type),
        DataType::UInt16 => append_primitive!(builder, array, UInt16Type),
        DataType::UInt32 => append_primitive!(builder, array, UInt32Type),
        DataType::UInt64 => append_primitive!(builder, array, UInt64Type),
        DataType::Float32 => append_primitive!(builder, array, Float32Type),
        DataType::Float64 => append_primitive!(builder, array, Float64Type),
        DataType::Date32 => append_primitive!(builder, array, Date32Type),
        DataType::Timestamp(TimeUnit::Second, _) => append_primitive!(builder, array, TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => append_primitive!(builder, array, TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => append_primitive!(builder, array, TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => append_primitive!(builder, array, TimestampNanosecondType),
        DataType::Decimal128(..) => {
            let b = builder
                .as_any_mut()
                .downcast_mut::<Decimal128Builder>()
                .ok_or_else(wrong_builder)?;
            let a = array.as_primitive::<Decimal128Type>();
            b.append_option(a.is_valid(0).then(|| a.value(0)));
        }
        DataType::Utf8 => {
            let b = builder
                .as_any_mut()
                .downcast_mut::<StringBuilder>()
                .ok_or_else(wrong_builder)?;
            let a = array.as_string::<i32>();
            b.append_option(a.is_valid(0).then(|| a.value(0)));
        }
        DataType::LargeUtf8 => {
            let b = builder
                .as_any_mut()
                .downcast_mut::<LargeStringBuilder>()
                .ok_or_else(wrong_builder)?;
            let a = array.as_string::<i64>();
            b.append_option(a.is_valid(0).then(|| a.value(0)));
        }
        other => {
            return Err(Error::Internal(format!(
                "window aggregate: results of type {other} cannot be written"
            )))
        }
    }
    Ok(())
}

impl WindowAccumulate {
    fn new_accumulator(&self) -> Result<Box<dyn Accumulator>> {
        self.function.create_accumulator().map_err(df)
    }

    fn acc<'a>(&self, acc: &'a (dyn Any + Send)) -> Result<&'a Acc> {
        acc.downcast_ref::<Acc>()
            .ok_or_else(|| Error::Internal(format!("aggregate '{}' got a foreign accumulator", self.name())))
    }

    /// The state of `acc` as one-row arrays; `acc` is rebuilt from it, as `state()` may move
    /// values out of an accumulator.
    fn take_state(&self, acc: &mut Box<dyn Accumulator>) -> Result<Vec<ScalarValue>> {
        let state = acc.state().map_err(df)?;
        let arrays = state
            .iter()
            .map(|v| v.to_array().map_err(df))
            .collect::<Result<Vec<_>>>()?;
        let mut fresh = self.new_accumulator()?;
        fresh.merge_batch(&arrays).map_err(df)?;
        *acc = fresh;
        Ok(state)
    }
}

impl DynAggregateFunction for WindowAccumulate {
    fn name(&self) -> &str {
        self.function.fun().name()
    }

    fn accepts(&self, data_type: &DataType) -> bool {
        match (data_type, &self.input_type) {
            (DataType::Struct(a), DataType::Struct(b)) => a.len() == b.len(),
            _ => false,
        }
    }

    fn output_type(&self) -> DataType {
        self.function.field().data_type().clone()
    }

    fn output_nullable(&self) -> bool {
        true
    }

    fn create(&self) -> Box<dyn Any + Send> {
        // An accumulator that cannot be created fails at the first row instead.
        match self.new_accumulator() {
            Ok(acc) => Box::new(Acc(Mutex::new(acc))),
            Err(e) => Box::new(e),
        }
    }

    fn add(&self, acc: &mut (dyn Any + Send), input: &dyn Array, row: usize) -> Result<()> {
        if let Some(e) = acc.downcast_ref::<Error>() {
            return Err(Error::UserFunction(e.to_string()));
        }
        let inputs = input
            .as_struct_opt()
            .ok_or_else(|| Error::Internal("window aggregate input is not a struct".into()))?;
        if inputs.is_null(row) {
            return Ok(());
        }
        let values: Vec<ArrayRef> = inputs.columns().iter().map(|c| c.slice(row, 1)).collect();
        self.acc(acc)?.lock()?.update_batch(&values).map_err(df)
    }

    fn merge(&self, acc: &mut (dyn Any + Send), other: Box<dyn Any + Send>) -> Result<()> {
        let other = other
            .downcast::<Acc>()
            .map_err(|_| Error::Internal(format!("aggregate '{}' got a foreign accumulator", self.name())))?;
        let mut other = other
            .0
            .into_inner()
            .map_err(|_| Error::Internal("a window accumulator lock is poisoned".into()))?;
        let state = other
            .state()
            .map_err(df)?
            .iter()
            .map(|v| v.to_array().map_err(df))
            .collect::<Result<Vec<_>>>()?;
        self.acc(acc)?.lock()?.merge_batch(&state).map_err(df)
    }

    fn encode(&self, acc: &(dyn Any + Send), out: &mut Vec<u8>) -> Result<()> {
        let acc = self.acc(acc)?;
        let mut guard = acc.lock()?;
        let state = self.take_state(&mut guard)?;
        encoding::encode_state(&state, out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Any + Send>> {
        let mut acc = self.new_accumulator()?;
        acc.merge_batch(&encoding::decode_state(bytes)?).map_err(df)?;
        Ok(Box::new(Acc(Mutex::new(acc))))
    }

    fn append_result(&self, acc: &(dyn Any + Send), builder: &mut dyn ArrayBuilder) -> Result<()> {
        let value = self.acc(acc)?.lock()?.evaluate().map_err(df)?;
        let output = self.output_type();
        let value = if value.data_type() == output {
            value
        } else {
            value.cast_to(&output).map_err(df)?
        };
        append_scalar(builder, &value)
    }
}

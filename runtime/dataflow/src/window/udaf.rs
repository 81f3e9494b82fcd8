//! User-defined aggregate functions.
//!
//! A user implements the typed [`AggregateFunction`] with plain Rust types (the input value, a
//! serde-serializable accumulator and the output value) and wraps it with [`udaf`]; the window
//! operator drives it through the object-safe [`DynAggregateFunction`]. Accumulators are stored
//! in keyed state in serde's compact `postcard` encoding.
//!
//! ```
//! use freshet_dataflow::window::{udaf, AggregateFunction};
//!
//! /// The longest string of a window.
//! struct Longest;
//! impl AggregateFunction for Longest {
//!     type In = String;
//!     type Acc = String;
//!     type Out = String;
//!     fn add(&self, acc: &mut String, value: String) {
//!         if value.len() > acc.len() {
//!             *acc = value;
//!         }
//!     }
//!     fn merge(&self, acc: &mut String, other: String) {
//!         self.add(acc, other)
//!     }
//!     fn result(&self, acc: &String) -> String {
//!         acc.clone()
//!     }
//! }
//! let f = udaf("longest", Longest);
//! assert_eq!(f.name(), "longest");
//! ```

use arrow::array::{Array, ArrayBuilder, AsArray, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use freshet_core::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::sync::Arc;

/// A Rust value readable from one row of an Arrow column (the input of a UDAF).
pub trait FromArrowValue: Sized + 'static {
    /// Whether a column of `data_type` can be read as this type.
    fn accepts(data_type: &DataType) -> bool;
    /// Reads row `row` of `array`; `Ok(None)` if it is null (the row is then not added).
    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>>;
}

/// A Rust value appendable to an Arrow builder (the output of a UDAF).
pub trait ToArrowValue: Sized + 'static {
    /// The Arrow type of the output column.
    fn data_type() -> DataType;
    /// Whether the output column may hold nulls.
    fn nullable() -> bool {
        false
    }
    /// Appends the value to `builder` (made by `arrow::array::make_builder(&Self::data_type())`).
    fn append(self, builder: &mut dyn ArrayBuilder) -> Result<()>;
    /// Appends a null to `builder`.
    fn append_null(builder: &mut dyn ArrayBuilder) -> Result<()>;
}

fn wrong_builder(ty: &str) -> Error {
    Error::Internal(format!("UDAF output builder is not a {ty} builder"))
}

fn unreadable(ty: &str, array: &dyn Array) -> Error {
    Error::Internal(format!(
        "cannot read a {ty} from a column of type {}",
        array.data_type()
    ))
}

impl FromArrowValue for i64 {
    fn accepts(data_type: &DataType) -> bool {
        matches!(data_type, DataType::Int64 | DataType::Int32 | DataType::Timestamp(_, _))
    }

    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>> {
        if array.is_null(row) {
            return Ok(None);
        }
        let v = match array.data_type() {
            DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
            DataType::Int32 => i64::from(array.as_primitive::<Int32Type>().value(row)),
            DataType::Timestamp(TimeUnit::Second, _) => array.as_primitive::<TimestampSecondType>().value(row),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                array.as_primitive::<TimestampMillisecondType>().value(row)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                array.as_primitive::<TimestampMicrosecondType>().value(row)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => array.as_primitive::<TimestampNanosecondType>().value(row),
            _ => return Err(unreadable("i64", array)),
        };
        Ok(Some(v))
    }
}

impl FromArrowValue for f64 {
    fn accepts(data_type: &DataType) -> bool {
        matches!(
            data_type,
            DataType::Float64 | DataType::Float32 | DataType::Int64 | DataType::Int32
        )
    }

    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>> {
        if array.is_null(row) {
            return Ok(None);
        }
        let v = match array.data_type() {
            DataType::Float64 => array.as_primitive::<Float64Type>().value(row),
            DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(row)),
            DataType::Int64 => array.as_primitive::<Int64Type>().value(row) as f64,
            DataType::Int32 => f64::from(array.as_primitive::<Int32Type>().value(row)),
            _ => return Err(unreadable("f64", array)),
        };
        Ok(Some(v))
    }
}

impl FromArrowValue for String {
    fn accepts(data_type: &DataType) -> bool {
        matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
    }

    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>> {
        if array.is_null(row) {
            return Ok(None);
        }
        let v = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(row),
            DataType::LargeUtf8 => array.as_string::<i64>().value(row),
            DataType::Utf8View => array.as_string_view().value(row),
            _ => return Err(unreadable("String", array)),
        };
        Ok(Some(v.to_string()))
    }
}

impl FromArrowValue for bool {
    fn accepts(data_type: &DataType) -> bool {
        matches!(data_type, DataType::Boolean)
    }

    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>> {
        if array.is_null(row) {
            return Ok(None);
        }
        match array.as_boolean_opt() {
            Some(a) => Ok(Some(a.value(row))),
            None => Err(unreadable("bool", array)),
        }
    }
}

/// `Option<T>` sees nulls as `None` instead of skipping them.
impl<T: FromArrowValue> FromArrowValue for Option<T> {
    fn accepts(data_type: &DataType) -> bool {
        T::accepts(data_type)
    }

    fn read(array: &dyn Array, row: usize) -> Result<Option<Self>> {
        Ok(Some(T::read(array, row)?))
    }
}

macro_rules! to_arrow_value {
    ($ty:ty, $dt:expr, $builder:ty, $name:literal, |$v:ident| $conv:expr) => {
        impl ToArrowValue for $ty {
            fn data_type() -> DataType {
                $dt
            }

            fn append(self, builder: &mut dyn ArrayBuilder) -> Result<()> {
                let b = builder
                    .as_any_mut()
                    .downcast_mut::<$builder>()
                    .ok_or_else(|| wrong_builder($name))?;
                let $v = self;
                b.append_value($conv);
                Ok(())
            }

            fn append_null(builder: &mut dyn ArrayBuilder) -> Result<()> {
                let b = builder
                    .as_any_mut()
                    .downcast_mut::<$builder>()
                    .ok_or_else(|| wrong_builder($name))?;
                b.append_null();
                Ok(())
            }
        }
    };
}

to_arrow_value!(i64, DataType::Int64, Int64Builder, "Int64", |v| v);
to_arrow_value!(f64, DataType::Float64, Float64Builder, "Float64", |v| v);
to_arrow_value!(bool, DataType::Boolean, BooleanBuilder, "Boolean", |v| v);
to_arrow_value!(String, DataType::Utf8, StringBuilder, "Utf8", |v| v);

/// `None` becomes a null.
impl<T: ToArrowValue> ToArrowValue for Option<T> {
    fn data_type() -> DataType {
        T::data_type()
    }

    fn nullable() -> bool {
        true
    }

    fn append(self, builder: &mut dyn ArrayBuilder) -> Result<()> {
        match self {
            Some(v) => v.append(builder),
            None => T::append_null(builder),
        }
    }

    fn append_null(builder: &mut dyn ArrayBuilder) -> Result<()> {
        T::append_null(builder)
    }
}

/// A user-defined aggregate over one input column, written with Rust types.
///
/// The accumulator starts as [`create`](Self::create) (by default `Acc::default()`); `add` folds
/// in one non-null input value; `merge` folds in another accumulator of the same window (partial
/// results of a batch, merged sessions, or the records of a sliding count window) and must be
/// consistent with `add`; `result` reads the output.
pub trait AggregateFunction: Send + Sync + 'static {
    /// The input value type.
    type In: FromArrowValue;
    /// The accumulator, stored in keyed state (serialized with serde).
    type Acc: Serialize + DeserializeOwned + Default + Send + 'static;
    /// The output value type.
    type Out: ToArrowValue;

    /// A new, empty accumulator.
    fn create(&self) -> Self::Acc {
        Self::Acc::default()
    }

    /// Adds one input value.
    fn add(&self, acc: &mut Self::Acc, value: Self::In);

    /// Merges `other` into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);

    /// The window's result.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// The object-safe form of a user-defined aggregate that the window operator calls; made from an
/// [`AggregateFunction`] by [`udaf`]. Accumulators are type-erased boxes.
pub trait DynAggregateFunction: Send + Sync {
    /// The function's name (for errors and plans).
    fn name(&self) -> &str;
    /// Whether an input column of `data_type` is accepted.
    fn accepts(&self, data_type: &DataType) -> bool;
    /// The output column type.
    fn output_type(&self) -> DataType;
    /// Whether the output column may hold nulls.
    fn output_nullable(&self) -> bool;
    /// A new accumulator.
    fn create(&self) -> Box<dyn Any + Send>;
    /// Adds row `row` of `input` (skipping nulls unless the input type is an `Option`).
    fn add(&self, acc: &mut (dyn Any + Send), input: &dyn Array, row: usize) -> Result<()>;
    /// Merges `other` into `acc`.
    fn merge(&self, acc: &mut (dyn Any + Send), other: Box<dyn Any + Send>) -> Result<()>;
    /// Serializes an accumulator, appending to `out`.
    fn encode(&self, acc: &(dyn Any + Send), out: &mut Vec<u8>) -> Result<()>;
    /// Deserializes an accumulator written by [`encode`](Self::encode).
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Any + Send>>;
    /// Appends the result of `acc` to `builder` (made by `make_builder(&self.output_type())`).
    fn append_result(&self, acc: &(dyn Any + Send), builder: &mut dyn ArrayBuilder) -> Result<()>;
}

/// Wraps a typed [`AggregateFunction`] as a [`DynAggregateFunction`] for a window config.
pub fn udaf<F: AggregateFunction>(name: impl Into<String>, function: F) -> Arc<dyn DynAggregateFunction> {
    Arc::new(TypedAggregate {
        name: name.into(),
        function,
    })
}

/// The [`DynAggregateFunction`] of a typed [`AggregateFunction`].
struct TypedAggregate<F> {
    name: String,
    function: F,
}

impl<F: AggregateFunction> TypedAggregate<F> {
    fn acc_mut<'a>(&self, acc: &'a mut (dyn Any + Send)) -> Result<&'a mut F::Acc> {
        acc.downcast_mut::<F::Acc>()
            .ok_or_else(|| Error::Internal(format!("UDAF '{}' got a foreign accumulator", self.name)))
    }

    fn acc_ref<'a>(&self, acc: &'a (dyn Any + Send)) -> Result<&'a F::Acc> {
        acc.downcast_ref::<F::Acc>()
            .ok_or_else(|| Error::Internal(format!("UDAF '{}' got a foreign accumulator", self.name)))
    }
}

impl<F: AggregateFunction> DynAggregateFunction for TypedAggregate<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn accepts(&self, data_type: &DataType) -> bool {
        F::In::accepts(data_type)
    }

    fn output_type(&self) -> DataType {
        F::Out::data_type()
    }

    fn output_nullable(&self) -> bool {
        F::Out::nullable()
    }

    fn create(&self) -> Box<dyn Any + Send> {
        Box::new(self.function.create())
    }

    fn add(&self, acc: &mut (dyn Any + Send), input: &dyn Array, row: usize) -> Result<()> {
        if let Some(value) = F::In::read(input, row)? {
            let acc = self.acc_mut(acc)?;
            self.function.add(acc, value);
        }
        Ok(())
    }

    fn merge(&self, acc: &mut (dyn Any + Send), other: Box<dyn Any + Send>) -> Result<()> {
        let other = other
            .downcast::<F::Acc>()
            .map_err(|_| Error::Internal(format!("UDAF '{}' got a foreign accumulator", self.name)))?;
        let acc = self.acc_mut(acc)?;
        self.function.merge(acc, *other);
        Ok(())
    }

    fn encode(&self, acc: &(dyn Any + Send), out: &mut Vec<u8>) -> Result<()> {
        let acc = self.acc_ref(acc)?;
        let bytes = postcard::to_extend(acc, std::mem::take(out))
            .map_err(|e| Error::Serde(format!("UDAF '{}' accumulator: {e}", self.name)))?;
        *out = bytes;
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Any + Send>> {
        let acc: F::Acc =
            postcard::from_bytes(bytes).map_err(|e| Error::Serde(format!("UDAF '{}' accumulator: {e}", self.name)))?;
        Ok(Box::new(acc))
    }

    fn append_result(&self, acc: &(dyn Any + Send), builder: &mut dyn ArrayBuilder) -> Result<()> {
        let acc = self.acc_ref(acc)?;
        self.function.result(acc).append(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{make_builder, Int64Array, StringArray};

    struct MeanOfSquares;
    impl AggregateFunction for MeanOfSquares {
        type In = i64;
        type Acc = (i64, i64);
        type Out = Option<f64>;
        fn add(&self, acc: &mut (i64, i64), v: i64) {
            acc.0 += v * v;
            acc.1 += 1;
        }
        fn merge(&self, acc: &mut (i64, i64), other: (i64, i64)) {
            acc.0 += other.0;
            acc.1 += other.1;
        }
        fn result(&self, acc: &(i64, i64)) -> Option<f64> {
            (acc.1 > 0).then(|| acc.0 as f64 / acc.1 as f64)
        }
    }

    #[test]
    fn typed_udaf_through_dyn() {
        let f = udaf("msq", MeanOfSquares);
        assert!(f.accepts(&DataType::Int64) && !f.accepts(&DataType::Utf8));
        assert_eq!(f.output_type(), DataType::Float64);
        assert!(f.output_nullable());
        let input = Int64Array::from(vec![Some(1), None, Some(3)]);
        let mut a = f.create();
        for row in 0..3 {
            f.add(a.as_mut(), &input, row).unwrap();
        }
        let mut bytes = Vec::new();
        f.encode(a.as_ref(), &mut bytes).unwrap();
        let mut b = f.decode(&bytes).unwrap();
        f.merge(b.as_mut(), a).unwrap();
        let mut builder = make_builder(&f.output_type(), 2);
        f.append_result(b.as_ref(), builder.as_mut()).unwrap();
        f.append_result(f.create().as_ref(), builder.as_mut()).unwrap();
        let out = builder.finish();
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 5.0);
        assert!(out.is_null(1));
        assert!(f.decode(b"").is_err());
    }

    #[test]
    fn reads_values() {
        let s = StringArray::from(vec![Some("a"), None]);
        assert_eq!(String::read(&s, 0).unwrap(), Some("a".to_string()));
        assert_eq!(String::read(&s, 1).unwrap(), None);
        assert_eq!(Option::<String>::read(&s, 1).unwrap(), Some(None));
        assert!(i64::read(&s, 0).is_err());
    }
}

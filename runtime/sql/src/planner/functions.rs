//! Functions Freshet adds to DataFusion's: `PROCTIME()` and Nexmark's `count_char`.

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{exec_err, Result as DfResult, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers Freshet's scalar functions in `ctx`.
pub fn register_builtin_functions(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(Proctime::new()));
    ctx.register_udf(ScalarUDF::from(CountChar::new()));
}

/// `PROCTIME()`: the processing time (wall clock, UTC) as `TIMESTAMP_LTZ(3)`. Declared as a
/// computed column (`proc AS PROCTIME()`) it marks a processing-time attribute, which window
/// functions accept as their time column.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Proctime {
    signature: Signature,
}

impl Proctime {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Volatile),
        }
    }
}

impl Default for Proctime {
    fn default() -> Self {
        Self::new()
    }
}

fn proctime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

impl ScalarUDFImpl for Proctime {
    fn name(&self) -> &str {
        "proctime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(proctime_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let now = chrono::Utc::now().timestamp_millis();
        let values: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![now; args.number_rows]).with_timezone("UTC"));
        Ok(ColumnarValue::Array(values))
    }
}

/// `count_char(text, c)`: how many bytes of `text` equal the single-byte string `c` (0 for
/// NULL text); Nexmark q14's user function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CountChar {
    signature: Signature,
}

impl CountChar {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl Default for CountChar {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for CountChar {
    fn name(&self) -> &str {
        "count_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [text, needle] = args.args.as_slice() else {
            return exec_err!("count_char takes two arguments");
        };
        let needle = match needle {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) if s.len() == 1 => s.as_bytes()[0],
            _ => return exec_err!("count_char: the second argument must be a one-character constant"),
        };
        let text = text.to_array(args.number_rows)?;
        let Some(text) = text.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("count_char: the first argument must be a string");
        };
        let counts: Int64Array = (0..text.len())
            .map(|i| {
                Some(if text.is_null(i) {
                    0
                } else {
                    text.value(i).bytes().filter(|b| *b == needle).count() as i64
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(counts)))
    }
}

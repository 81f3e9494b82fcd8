//! `MIN` / `MAX` that retract by value: DataFusion's sliding `MIN`/`MAX` retract the oldest rows
//! (as a window frame does), which a changelog's retractions are not. This accumulator counts
//! each value, so a retracted extreme gives way to the next one still counted.

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Accumulator;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Which extreme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extreme {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
}

/// A value ordered as `ScalarValue::partial_cmp` orders values of one type.
#[derive(Clone, Debug, PartialEq)]
struct Ordered(ScalarValue);

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// The accumulator: every non-null value with its count.
#[derive(Debug)]
pub struct ExtremeAccumulator {
    extreme: Extreme,
    data_type: DataType,
    counts: BTreeMap<Ordered, i64>,
}

impl ExtremeAccumulator {
    /// An empty accumulator of values of `data_type`.
    pub fn new(extreme: Extreme, data_type: DataType) -> Self {
        Self {
            extreme,
            data_type,
            counts: BTreeMap::new(),
        }
    }

    fn add(&mut self, values: &ArrayRef, counts: Option<&Int64Array>) -> Result<()> {
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let by = counts.map_or(1, |c| c.value(row));
            let key = Ordered(ScalarValue::try_from_array(values, row)?);
            let count = self.counts.entry(key.clone()).or_insert(0);
            *count += by;
            if *count <= 0 {
                self.counts.remove(&key);
            }
        }
        Ok(())
    }
}

impl Accumulator for ExtremeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], None)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let minus = Int64Array::from(vec![-1; values[0].len()]);
        self.add(&values[0], Some(&minus))
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    /// Two lists: the values and their counts.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self.counts.keys().map(|k| k.0.clone()).collect();
        let counts: Vec<ScalarValue> = self.counts.values().map(|c| ScalarValue::Int64(Some(*c))).collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int64)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let bad = || DataFusionError::Internal("MIN/MAX state is not two lists".into());
        let values = states.first().and_then(|a| a.as_list_opt::<i32>()).ok_or_else(bad)?;
        let counts = states.get(1).and_then(|a| a.as_list_opt::<i32>()).ok_or_else(bad)?;
        for row in 0..values.len() {
            if values.is_null(row) || counts.is_null(row) {
                continue;
            }
            let row_counts = counts.value(row);
            let row_counts = row_counts.as_primitive_opt::<Int64Type>().ok_or_else(bad)?;
            self.add(&values.value(row), Some(row_counts))?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let extreme = match self.extreme {
            Extreme::Min => self.counts.keys().next(),
            Extreme::Max => self.counts.keys().next_back(),
        };
        match extreme {
            Some(v) => Ok(v.0.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * std::mem::size_of::<(Ordered, i64)>()
    }
}

/// A fresh accumulator of `extreme` over values of `data_type`.
pub fn extreme_accumulator(extreme: Extreme, data_type: &DataType) -> Box<dyn Accumulator> {
    Box::new(ExtremeAccumulator::new(extreme, data_type.clone()))
}

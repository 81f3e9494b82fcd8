//! The aggregate functions of OVER windows: add-only accumulators, evaluated over a frame's
//! rows or kept running for unbounded frames.

use crate::ops::group_aggregate::{Value, ValueType};
use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, StringArray, StringBuilder,
};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::sync::Arc;

/// An aggregate function of an OVER window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverAggKind {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT(x)`: non-null values.
    Count,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)` (truncated toward zero over integers, as Flink's `AVG(BIGINT)`).
    Avg,
}

/// One aggregate: its function and its argument column (in a canonical type).
#[derive(Clone, Debug)]
pub struct OverAggSpec {
    /// The function.
    pub kind: OverAggKind,
    /// The input column of the argument (none for `COUNT(*)`).
    pub arg: Option<usize>,
    /// The argument's canonical type.
    pub arg_type: ValueType,
}

impl OverAggSpec {
    /// The type of the aggregate's output column.
    pub fn output_type(&self) -> DataType {
        match self.kind {
            OverAggKind::CountStar | OverAggKind::Count => DataType::Int64,
            OverAggKind::Avg => DataType::Float64,
            OverAggKind::Sum | OverAggKind::Min | OverAggKind::Max => self.arg_type.data_type(),
        }
    }
}

/// The arguments of one row, one per aggregate (`None` for NULL and for `COUNT(*)`).
pub type Args = Vec<Option<Value>>;

/// The results of the aggregates for one row.
pub type Results = Vec<Option<Value>>;

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
        (Value::Str(a), Value::Str(b)) => a.cmp(b),
        (Value::Int(_), _) => Ordering::Less,
        (Value::Float(_), Value::Int(_)) => Ordering::Greater,
        (Value::Float(_), Value::Str(_)) => Ordering::Less,
        (Value::Str(_), _) => Ordering::Greater,
    }
}

/// An add-only accumulator of one aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Acc {
    /// `COUNT`.
    Count(i64),
    /// `SUM` and `AVG`.
    Sum {
        /// The integer sum.
        int: i64,
        /// The float sum.
        float: f64,
        /// The number of values.
        n: i64,
    },
    /// `MIN` and `MAX`.
    Extreme(Option<Value>),
}

impl Acc {
    /// The empty accumulator for `kind`.
    pub fn new(kind: OverAggKind) -> Self {
        match kind {
            OverAggKind::CountStar | OverAggKind::Count => Self::Count(0),
            OverAggKind::Sum | OverAggKind::Avg => Self::Sum {
                int: 0,
                float: 0.0,
                n: 0,
            },
            OverAggKind::Min | OverAggKind::Max => Self::Extreme(None),
        }
    }

    /// Adds one row's argument.
    pub fn add(&mut self, kind: OverAggKind, value: Option<&Value>) {
        match self {
            Self::Count(c) => {
                if kind == OverAggKind::CountStar || value.is_some() {
                    *c += 1;
                }
            }
            Self::Sum { int, float, n } => match value {
                Some(Value::Int(v)) => {
                    *int = int.wrapping_add(*v);
                    *n += 1;
                }
                Some(Value::Float(v)) => {
                    *float += v;
                    *n += 1;
                }
                Some(Value::Str(_)) | None => {}
            },
            Self::Extreme(current) => {
                let Some(value) = value else { return };
                let wanted = if kind == OverAggKind::Min {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                if current.as_ref().is_none_or(|c| compare(value, c) == wanted) {
                    *current = Some(value.clone());
                }
            }
        }
    }

    /// The aggregate's value.
    pub fn result(&self, spec: &OverAggSpec) -> Option<Value> {
        match self {
            Self::Count(c) => Some(Value::Int(*c)),
            Self::Sum { n, .. } if *n <= 0 => None,
            Self::Sum { int, float, n } => Some(match (spec.kind, spec.arg_type) {
                (OverAggKind::Avg, ValueType::Int) => Value::Float(int.wrapping_div(*n) as f64),
                (OverAggKind::Avg, _) => Value::Float(float / *n as f64),
                (_, ValueType::Int) => Value::Int(*int),
                _ => Value::Float(*float),
            }),
            Self::Extreme(current) => current.clone(),
        }
    }
}

/// Running accumulators, one per aggregate.
pub fn new_accs(specs: &[OverAggSpec]) -> Vec<Acc> {
    specs.iter().map(|s| Acc::new(s.kind)).collect()
}

/// Adds one row to running accumulators.
pub fn add_row(specs: &[OverAggSpec], accs: &mut [Acc], args: &Args) {
    for (i, (spec, acc)) in specs.iter().zip(accs.iter_mut()).enumerate() {
        acc.add(spec.kind, args.get(i).and_then(Option::as_ref));
    }
}

/// The results of running accumulators.
pub fn results(specs: &[OverAggSpec], accs: &[Acc]) -> Results {
    specs.iter().zip(accs).map(|(s, a)| a.result(s)).collect()
}

/// The results over the rows `frame` of `rows`.
pub fn evaluate<'a>(specs: &[OverAggSpec], frame: impl IntoIterator<Item = &'a Args>) -> Results {
    let mut accs = new_accs(specs);
    for args in frame {
        add_row(specs, &mut accs, args);
    }
    results(specs, &accs)
}

/// The results of every row of a sorted partition given each row's frame bounds; unbounded
/// frames (all starting at 0 with ascending ends) accumulate in one pass.
pub fn evaluate_frames(specs: &[OverAggSpec], rows: &[&Args], bounds: &[(usize, usize)]) -> Vec<Results> {
    let running = bounds.iter().all(|(s, _)| *s == 0) && bounds.windows(2).all(|w| w[0].1 <= w[1].1);
    if running {
        let mut accs = new_accs(specs);
        let mut added = 0;
        return bounds
            .iter()
            .map(|&(_, end)| {
                while added < end.min(rows.len()) {
                    add_row(specs, &mut accs, rows[added]);
                    added += 1;
                }
                results(specs, &accs)
            })
            .collect();
    }
    bounds
        .iter()
        .map(|&(start, end)| evaluate(specs, rows[start.min(rows.len())..end.min(rows.len())].iter().copied()))
        .collect()
}

/// The arguments of row `row` of `batch`.
pub fn row_args(specs: &[OverAggSpec], batch: &RecordBatch, row: usize) -> Result<Args> {
    specs
        .iter()
        .map(|spec| {
            let Some(index) = spec.arg else { return Ok(None) };
            let column = batch
                .columns()
                .get(index)
                .ok_or_else(|| Error::Internal(format!("over aggregate: no column {index}")))?;
            if !column.is_valid(row) {
                return Ok(None);
            }
            let any = column.as_any();
            let value = match spec.arg_type {
                ValueType::Int => any.downcast_ref::<Int64Array>().map(|a| Value::Int(a.value(row))),
                ValueType::Float => any.downcast_ref::<Float64Array>().map(|a| Value::Float(a.value(row))),
                ValueType::Str => any
                    .downcast_ref::<StringArray>()
                    .map(|a| Value::Str(a.value(row).to_string())),
            };
            value
                .map(Some)
                .ok_or_else(|| Error::Internal(format!("over aggregate: column {index} is not {:?}", spec.arg_type)))
        })
        .collect()
}

/// The output columns of the aggregates for `rows`.
pub fn result_columns(specs: &[OverAggSpec], rows: &[&Results]) -> Vec<ArrayRef> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let values = rows.iter().map(|r| r.get(i).and_then(Option::as_ref));
            let column: ArrayRef = match spec.output_type() {
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
            };
            column
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: OverAggKind) -> OverAggSpec {
        OverAggSpec {
            kind,
            arg: Some(0),
            arg_type: ValueType::Int,
        }
    }

    #[test]
    fn frames_evaluate_like_a_scan_and_running_totals_agree() {
        let specs = [
            spec(OverAggKind::Count),
            spec(OverAggKind::Sum),
            spec(OverAggKind::Min),
            spec(OverAggKind::Max),
            spec(OverAggKind::Avg),
        ];
        let rows: Vec<Args> = [Some(3), None, Some(-7), Some(4)]
            .iter()
            .map(|v| vec![v.map(Value::Int); 5])
            .collect();
        let refs: Vec<&Args> = rows.iter().collect();
        let running = evaluate_frames(&specs, &refs, &[(0, 1), (0, 2), (0, 3), (0, 4)]);
        let last = vec![
            Some(Value::Int(3)),
            Some(Value::Int(0)),
            Some(Value::Int(-7)),
            Some(Value::Int(4)),
            Some(Value::Float(0.0)),
        ];
        assert_eq!(running[3], last);
        assert_eq!(running[1][2], Some(Value::Int(3)));
        let sliding = evaluate_frames(&specs, &refs, &[(0, 1), (0, 2), (1, 3), (2, 4)]);
        assert_eq!(sliding[3][1], Some(Value::Int(-3)));
        assert_eq!(sliding[3][4], Some(Value::Float(-1.0)), "AVG over integers truncates");
        let only_null = evaluate_frames(&specs, &refs, &[(1, 2)]);
        assert_eq!(only_null[0], vec![Some(Value::Int(0)), None, None, None, None]);
    }
}

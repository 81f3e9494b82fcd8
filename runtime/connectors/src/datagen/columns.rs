//! Per-column value generators of the datagen source and the building of a batch from row
//! indexes: row `r` draws its random columns, in schema order, from its own SplitMix64 seeded
//! with (`seed`, `r`).

use super::{DatagenConfig, FieldKind};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, Int8Builder,
    StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::sync::Arc;

/// A column's resolved generator.
#[derive(Clone, Debug)]
pub(super) enum Column {
    Sequence { start: i64 },
    Int { min: i64, span: u64 },
    Float { min: f64, width: f64 },
    Bool,
    Text { length: usize },
    Now,
    EventTime { start: i64, step: i64 },
}

/// SplitMix64: a tiny, fast, well-mixed generator; one per row.
pub(super) struct RowRandom(u64);

impl RowRandom {
    pub(super) fn new(seed: u64, row: u64) -> Self {
        Self(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        freshet_core::key_group::fmix64(self.0)
    }

    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Resolves each column of `schema` to its generator, and the number of rows the stream has
/// (the bound and every sequence's end), checking that every configured field exists and fits.
pub(super) fn resolve(schema: &Schema, config: &DatagenConfig) -> Result<(Vec<Column>, Option<u64>)> {
    for name in config.fields.keys() {
        if schema.field_with_name(name).is_err() {
            return Err(Error::Config(format!(
                "datagen: option 'fields.{name}' names no column of the schema"
            )));
        }
    }
    let mut total_rows = config.number_of_rows;
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let spec = config
            .fields
            .get(field.name())
            .cloned()
            .unwrap_or(match field.data_type() {
                DataType::Timestamp(_, _) => FieldKind::Now,
                _ => FieldKind::Random {
                    min: None,
                    max: None,
                    length: None,
                },
            });
        let bad = |why: &str| {
            Error::Config(format!(
                "datagen: field '{}' ({}): {why}",
                field.name(),
                field.data_type()
            ))
        };
        let int_bounds = |dt: &DataType| -> Option<(i64, i64)> {
            Some(match dt {
                DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
                DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
                DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
                DataType::Int64 => (i64::MIN, i64::MAX),
                _ => return None,
            })
        };
        let column = match (&spec, field.data_type()) {
            (FieldKind::Sequence { start, end }, dt) if int_bounds(dt).is_some() => {
                let (lo, hi) = int_bounds(dt).unwrap_or((i64::MIN, i64::MAX));
                if end < start || *start < lo || *end > hi {
                    return Err(bad("sequence needs start <= end within the column's type"));
                }
                let rows = (*end as i128 - *start as i128 + 1).min(u64::MAX as i128) as u64;
                total_rows = Some(total_rows.map_or(rows, |t| t.min(rows)));
                Column::Sequence { start: *start }
            }
            (FieldKind::Random { min, max, .. }, dt) if int_bounds(dt).is_some() => {
                let (lo, hi) = int_bounds(dt).unwrap_or((i64::MIN, i64::MAX));
                let min = min.map_or(lo, |v| v as i64);
                let max = max.map_or(hi, |v| v as i64);
                if min > max || min < lo || max > hi {
                    return Err(bad("random needs min <= max within the column's type"));
                }
                Column::Int {
                    min,
                    span: (max as i128 - min as i128) as u64,
                }
            }
            (FieldKind::Random { min, max, .. }, DataType::Float32 | DataType::Float64) => {
                let (min, max) = (min.unwrap_or(0.0), max.unwrap_or(1.0));
                if min > max || !min.is_finite() || !max.is_finite() {
                    return Err(bad("random needs finite min <= max"));
                }
                Column::Float { min, width: max - min }
            }
            (FieldKind::Random { .. }, DataType::Boolean) => Column::Bool,
            (FieldKind::Random { length, .. }, DataType::Utf8) => Column::Text {
                length: length.unwrap_or(10),
            },
            (FieldKind::Now, DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64) => Column::Now,
            (FieldKind::EventTime { start, step }, DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64) => {
                Column::EventTime {
                    start: *start,
                    step: *step,
                }
            }
            (kind, _) => return Err(bad(&format!("generator {kind:?} does not fit this type"))),
        };
        columns.push(column);
    }
    Ok((columns, total_rows))
}

/// Builds the batch of the rows with global indexes `rows`.
pub(super) fn build(schema: &SchemaRef, columns: &[Column], seed: u64, now: i64, rows: &[u64]) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut randoms: Vec<RowRandom> = rows.iter().map(|r| RowRandom::new(seed, *r)).collect();
    for (field, column) in schema.fields().iter().zip(columns) {
        let n = rows.len();
        let ints = |f: &mut dyn FnMut(usize) -> i64| -> Vec<i64> { (0..n).map(f).collect() };
        let values: Vec<i64> = match column {
            Column::Sequence { start } => ints(&mut |i| start.wrapping_add(rows[i] as i64)),
            Column::Int { min, span } => ints(&mut |i| {
                let v = match span.checked_add(1) {
                    Some(m) => randoms[i].next() % m,
                    None => randoms[i].next(),
                };
                min.wrapping_add(v as i64)
            }),
            Column::Now => vec![now; n],
            Column::EventTime { start, step } => ints(&mut |i| start.wrapping_add(step.wrapping_mul(rows[i] as i64))),
            Column::Float { min, width } => {
                let vals: Vec<f64> = randoms.iter_mut().map(|r| min + r.unit() * width).collect();
                arrays.push(match field.data_type() {
                    DataType::Float32 => {
                        let mut b = Float32Builder::with_capacity(n);
                        vals.iter().for_each(|v| b.append_value(*v as f32));
                        Arc::new(b.finish())
                    }
                    _ => {
                        let mut b = Float64Builder::with_capacity(n);
                        b.append_slice(&vals);
                        Arc::new(b.finish())
                    }
                });
                continue;
            }
            Column::Bool => {
                let mut b = BooleanBuilder::with_capacity(n);
                randoms.iter_mut().for_each(|r| b.append_value(r.next() & 1 == 1));
                arrays.push(Arc::new(b.finish()));
                continue;
            }
            Column::Text { length } => {
                const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                let mut b = StringBuilder::with_capacity(n, n * length);
                let mut s = String::with_capacity(*length);
                for r in randoms.iter_mut() {
                    s.clear();
                    (0..*length).for_each(|_| s.push(ALPHABET[(r.next() % 36) as usize] as char));
                    b.append_value(&s);
                }
                arrays.push(Arc::new(b.finish()));
                continue;
            }
        };
        arrays.push(int_array(field.data_type(), &values)?);
    }
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

fn int_array(dt: &DataType, values: &[i64]) -> Result<ArrayRef> {
    macro_rules! build {
        ($b:ty, $t:ty) => {{
            let mut b = <$b>::with_capacity(values.len());
            values.iter().for_each(|v| b.append_value(*v as $t));
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match dt {
        DataType::Int8 => build!(Int8Builder, i8),
        DataType::Int16 => build!(Int16Builder, i16),
        DataType::Int32 => build!(Int32Builder, i32),
        DataType::Int64 => build!(Int64Builder, i64),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => {
            let mut b = TimestampMillisecondBuilder::with_capacity(values.len()).with_timezone_opt(tz.clone());
            b.append_slice(values);
            Arc::new(b.finish())
        }
        other => return Err(Error::Internal(format!("datagen: no integer column of type {other}"))),
    })
}

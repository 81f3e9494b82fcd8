//! [`AvroEncoder`]: rows of Arrow record batches into Avro datums.

use std::collections::HashMap;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, LargeBinaryArray, LargeStringArray, ListArray, MapArray,
    PrimitiveArray, StringArray, StructArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, Date32Type, Decimal128Type, DecimalType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, SchemaRef, Time32MillisecondType, Time64MicrosecondType, TimestampMicrosecondType,
    TimestampMillisecondType,
};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};

use super::plan::{record_puts, FieldPut, Put, PutKind};
use super::reader::fail;
use super::schema::AvroSchema;

/// Encodes rows of Arrow record batches as raw Avro datums (binary encoding, no container or
/// prefix) of a writer schema.
pub struct AvroEncoder {
    writer: AvroSchema,
    columns: usize,
    fields: Vec<FieldPut>,
}

impl AvroEncoder {
    /// An encoder for rows of `schema` into the writer schema [`AvroSchema::for_arrow`] derives
    /// from it (so columns map to record fields by position).
    pub fn new(schema: SchemaRef) -> Result<AvroEncoder> {
        let writer = AvroSchema::for_arrow(&schema)?;
        AvroEncoder::with_writer_schema(schema, &writer)
    }

    /// An encoder for rows of `schema` into the given writer schema, a record whose fields are
    /// matched to columns by name.
    ///
    /// Each writer field needs a column of a type it can hold (the decoder's rules in reverse;
    /// `T` fields also take nullable columns, failing on an actual null), unless the field is a
    /// union with `null`, which is then always null. Columns without a field are not written.
    /// Mismatches are [`Error::Config`].
    pub fn with_writer_schema(schema: SchemaRef, writer: &AvroSchema) -> Result<AvroEncoder> {
        let AvroSchema::Record(record) = writer else {
            return Err(Error::Config(format!(
                "avro: the writer schema must be a record, found {}",
                writer.describe()
            )));
        };
        let fields = record_puts(record, schema.fields(), "")?;
        Ok(AvroEncoder {
            writer: writer.clone(),
            columns: schema.fields().len(),
            fields,
        })
    }

    /// The writer schema datums are encoded with.
    pub fn schema(&self) -> &AvroSchema {
        &self.writer
    }

    /// Appends the datum of row `row` of `batch` (of the encoder's Arrow schema) to `out`.
    ///
    /// A value the writer schema cannot take (a null for a non-null type, an unknown enum
    /// symbol, a decimal too large, ...) is an [`Error::Serde`]; `out` is then left as it was.
    pub fn encode(&self, batch: &RecordBatch, row: usize, out: &mut Vec<u8>) -> Result<()> {
        if row >= batch.num_rows() || batch.num_columns() != self.columns {
            return Err(Error::Internal(format!(
                "avro: row {row} of a batch of {} rows and {} columns, for an encoder of {} columns",
                batch.num_rows(),
                batch.num_columns(),
                self.columns
            )));
        }
        let start = out.len();
        let result = put_fields(&self.fields, batch.columns(), row, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Writes a `long` (or `int`): zig-zag, then a varint.
#[inline]
pub(crate) fn put_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

/// `array` as its concrete type.
#[inline]
fn typed<'a, T: 'static>(array: &'a dyn Array, path: &str) -> Result<&'a T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        Error::Internal(format!(
            "avro: column '{path}' has type {}, not the encoder's",
            array.data_type()
        ))
    })
}

#[inline]
fn prim<T: ArrowPrimitiveType>(array: &dyn Array, i: usize, path: &str) -> Result<T::Native> {
    Ok(typed::<PrimitiveArray<T>>(array, path)?.value(i))
}

fn put_fields(fields: &[FieldPut], columns: &[ArrayRef], row: usize, out: &mut Vec<u8>) -> Result<()> {
    for field in fields {
        match field {
            FieldPut::Column(i, put) => {
                let column = columns
                    .get(*i)
                    .ok_or_else(|| Error::Internal(format!("avro: no column {i} for field '{}'", put.path)))?;
                put_value(put, column.as_ref(), row, out)?;
            }
            FieldPut::Null(branch) => put_long(out, *branch),
        }
    }
    Ok(())
}

fn put_value(put: &Put, array: &dyn Array, i: usize, out: &mut Vec<u8>) -> Result<()> {
    let path = &*put.path;
    if array.is_null(i) {
        return match put.union {
            Some((Some(null), _)) => {
                put_long(out, null);
                Ok(())
            }
            _ => Err(fail(path, "null value, but the Avro type is not nullable".into())),
        };
    }
    if let Some((_, branch)) = put.union {
        put_long(out, branch);
    }
    match &put.kind {
        PutKind::Bool => out.push(u8::from(typed::<BooleanArray>(array, path)?.value(i))),
        PutKind::I8 => put_long(out, i64::from(prim::<Int8Type>(array, i, path)?)),
        PutKind::I16 => put_long(out, i64::from(prim::<Int16Type>(array, i, path)?)),
        PutKind::I32 => put_long(out, i64::from(prim::<Int32Type>(array, i, path)?)),
        PutKind::Date32 => put_long(out, i64::from(prim::<Date32Type>(array, i, path)?)),
        PutKind::Time32Ms => put_long(out, i64::from(prim::<Time32MillisecondType>(array, i, path)?)),
        PutKind::I64 => put_long(out, prim::<Int64Type>(array, i, path)?),
        PutKind::TimestampMs => put_long(out, prim::<TimestampMillisecondType>(array, i, path)?),
        PutKind::TimestampUs => put_long(out, prim::<TimestampMicrosecondType>(array, i, path)?),
        PutKind::Time64Us => put_long(out, prim::<Time64MicrosecondType>(array, i, path)?),
        PutKind::FloatToFloat => out.extend_from_slice(&prim::<Float32Type>(array, i, path)?.to_le_bytes()),
        PutKind::FloatToDouble => out.extend_from_slice(&f64::from(prim::<Float32Type>(array, i, path)?).to_le_bytes()),
        PutKind::Double => out.extend_from_slice(&prim::<Float64Type>(array, i, path)?.to_le_bytes()),
        PutKind::Utf8 => put_bytes(out, typed::<StringArray>(array, path)?.value(i).as_bytes()),
        PutKind::LargeUtf8 => put_bytes(out, typed::<LargeStringArray>(array, path)?.value(i).as_bytes()),
        PutKind::Binary => put_bytes(out, typed::<BinaryArray>(array, path)?.value(i)),
        PutKind::LargeBinary => put_bytes(out, typed::<LargeBinaryArray>(array, path)?.value(i)),
        PutKind::Enum(symbols) => put_symbol(out, symbols, typed::<StringArray>(array, path)?.value(i), path)?,
        PutKind::LargeEnum(symbols) => {
            put_symbol(out, symbols, typed::<LargeStringArray>(array, path)?.value(i), path)?
        }
        PutKind::Fixed(size) => put_fixed(out, *size, typed::<BinaryArray>(array, path)?.value(i), path)?,
        PutKind::LargeFixed(size) => put_fixed(out, *size, typed::<LargeBinaryArray>(array, path)?.value(i), path)?,
        PutKind::Decimal(precision, fixed) => {
            put_decimal(out, prim::<Decimal128Type>(array, i, path)?, *precision, *fixed, path)?
        }
        PutKind::List(item) => {
            let list = typed::<ListArray>(array, path)?;
            let offsets = list.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end > start {
                put_long(out, (end - start) as i64);
                for j in start..end {
                    put_value(item, list.values().as_ref(), j, out)?;
                }
            }
            out.push(0);
        }
        PutKind::Map(values) => {
            let map = typed::<MapArray>(array, path)?;
            let keys = typed::<StringArray>(map.keys().as_ref(), path)?;
            let offsets = map.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end > start {
                put_long(out, (end - start) as i64);
                for j in start..end {
                    put_bytes(out, keys.value(j).as_bytes());
                    put_value(values, map.values().as_ref(), j, out)?;
                }
            }
            out.push(0);
        }
        PutKind::Struct(fields) => put_fields(fields, typed::<StructArray>(array, path)?.columns(), i, out)?,
    }
    Ok(())
}

fn put_symbol(out: &mut Vec<u8>, symbols: &HashMap<String, i64>, value: &str, path: &str) -> Result<()> {
    let index = symbols
        .get(value)
        .ok_or_else(|| fail(path, format!("'{value}' is not a symbol of the Avro enum")))?;
    put_long(out, *index);
    Ok(())
}

fn put_fixed(out: &mut Vec<u8>, size: usize, value: &[u8], path: &str) -> Result<()> {
    if value.len() != size {
        return Err(fail(
            path,
            format!("{} bytes for an Avro fixed of size {size}", value.len()),
        ));
    }
    out.extend_from_slice(value);
    Ok(())
}

/// Writes an unscaled decimal as minimal big-endian two's complement (bytes) or sign-extended
/// to `fixed` bytes.
fn put_decimal(out: &mut Vec<u8>, value: i128, precision: u8, fixed: Option<usize>, path: &str) -> Result<()> {
    if !Decimal128Type::is_valid_decimal_precision(value, precision) {
        return Err(fail(
            path,
            format!("decimal {value} (unscaled) has more than {precision} digits"),
        ));
    }
    let bytes = value.to_be_bytes();
    let fill = if value < 0 { 0xff } else { 0 };
    let mut start = 0;
    while start < 15 && bytes[start] == fill && (bytes[start + 1] & 0x80) == (fill & 0x80) {
        start += 1;
    }
    let minimal = &bytes[start..];
    match fixed {
        None => put_bytes(out, minimal),
        Some(size) if minimal.len() <= size => {
            out.resize(out.len() + (size - minimal.len()), fill);
            out.extend_from_slice(minimal);
        }
        Some(size) => {
            return Err(fail(
                path,
                format!("decimal {value} (unscaled) does not fit in {size} bytes"),
            ));
        }
    }
    Ok(())
}

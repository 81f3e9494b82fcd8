//! [`AvroDecoder`]: Avro datums of a writer schema into Arrow record batches.

use arrow::array::ArrayRef;
use arrow::datatypes::{Decimal128Type, DecimalType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use freshet_core::{Error, Result};

use super::builder::{offset, ByteCol, Col, Kind};
use super::plan::{record_plan, RecordPlan, Src, Step};
use super::reader::{fail, Reader};
use super::schema::AvroSchema;

/// Decodes raw Avro datums (binary encoding, no container or prefix) written with one writer
/// schema into rows of an Arrow schema, and hands them out as record batches.
///
/// Target columns are matched to writer record fields by name; writer fields without a column
/// are read and skipped. Each [`append`](Self::append) adds one row or, on error, nothing.
pub struct AvroDecoder {
    target: SchemaRef,
    plan: RecordPlan,
    cols: Vec<Col>,
    rows: usize,
}

impl AvroDecoder {
    /// A decoder of datums written with `writer` (a record) into rows of `target`.
    ///
    /// Each column needs a writer field of the same name whose type it can hold (see the module
    /// documentation), except nullable columns, which are null when the field is missing.
    /// Mismatches are [`Error::Config`] naming the column, its Arrow type and the Avro type.
    pub fn new(writer: &AvroSchema, target: SchemaRef) -> Result<AvroDecoder> {
        let AvroSchema::Record(record) = writer else {
            return Err(Error::Config(format!(
                "avro: the writer schema must be a record, found {}",
                writer.describe()
            )));
        };
        let plan = record_plan(record, target.fields(), "")?;
        let cols = target
            .fields()
            .iter()
            .map(|f| Col::new(f, f.name().clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(AvroDecoder {
            target,
            plan,
            cols,
            rows: 0,
        })
    }

    /// The schema of the batches [`flush`](Self::flush) returns.
    pub fn schema(&self) -> &SchemaRef {
        &self.target
    }

    /// Decodes one datum into a pending row.
    ///
    /// All or nothing: on error ([`Error::Serde`] naming the field and what was wrong:
    /// truncated input, a bad union or enum index, invalid UTF-8, a null for a non-nullable
    /// column, bytes left after the record, ...) the decoder is as before the call.
    pub fn append(&mut self, datum: &[u8]) -> Result<()> {
        let mut reader = Reader::new(datum);
        let mut result = read_record(&self.plan, &mut self.cols, &mut reader);
        if result.is_ok() && reader.remaining() > 0 {
            result = Err(Error::Serde(format!(
                "avro: {} trailing bytes after the record (datum of {} bytes)",
                reader.remaining(),
                datum.len()
            )));
        }
        match result {
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(e) => {
                for col in &mut self.cols {
                    col.truncate(self.rows);
                }
                Err(e)
            }
        }
    }

    /// Pending rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no pending rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Takes the pending rows as a batch of the target schema (possibly of 0 rows).
    pub fn flush(&mut self) -> Result<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        let columns = match self.cols.iter_mut().map(Col::finish).collect::<Result<Vec<ArrayRef>>>() {
            Ok(columns) => columns,
            Err(e) => {
                self.cols.iter_mut().for_each(|c| c.truncate(0));
                return Err(e);
            }
        };
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.target.clone(),
            columns,
            &options,
        )?)
    }
}

/// Reads one writer record into `cols`.
#[inline]
fn read_record(plan: &RecordPlan, cols: &mut [Col], r: &mut Reader<'_>) -> Result<()> {
    for step in &plan.steps {
        match step {
            Step::Read(i, src) => read(src, &mut cols[*i], r)?,
            Step::Skip(schema, path) => r.skip(schema, path)?,
        }
    }
    for &i in &plan.missing {
        cols[i].push_null();
    }
    Ok(())
}

/// Reads one value into `col`.
fn read(src: &Src, col: &mut Col, r: &mut Reader<'_>) -> Result<()> {
    match src {
        Src::Union(branches) => {
            let i = r.index(branches.len(), &col.path, "union branch")?;
            return read(&branches[i], col, r);
        }
        Src::Null => return col.null(),
        Src::Mismatch(writer) => {
            return Err(fail(
                &col.path,
                format!("a value of union branch {writer} can't be read into this column"),
            ))
        }
        _ => {}
    }
    let path: &str = &col.path;
    match (src, &mut col.kind) {
        (Src::Boolean, Kind::Bool(v)) => v.push(r.boolean(path)?),
        (Src::Int, Kind::I8(v)) => {
            let x = r.int(path)?;
            v.push(i8::try_from(x).map_err(|_| fail(path, format!("{x} is out of range for Int8")))?);
        }
        (Src::Int, Kind::I16(v)) => {
            let x = r.int(path)?;
            v.push(i16::try_from(x).map_err(|_| fail(path, format!("{x} is out of range for Int16")))?);
        }
        (Src::Int, Kind::I32(v, _)) => v.push(r.int(path)?),
        (Src::Int, Kind::I64(v, _)) => v.push(i64::from(r.int(path)?)),
        (Src::Long, Kind::I64(v, _)) => v.push(r.long(path)?),
        (Src::Int, Kind::F32(v)) => v.push(r.int(path)? as f32),
        (Src::Long, Kind::F32(v)) => v.push(r.long(path)? as f32),
        (Src::Float, Kind::F32(v)) => v.push(r.float(path)?),
        (Src::Int, Kind::F64(v)) => v.push(f64::from(r.int(path)?)),
        (Src::Long, Kind::F64(v)) => v.push(r.long(path)? as f64),
        (Src::Float, Kind::F64(v)) => v.push(f64::from(r.float(path)?)),
        (Src::Double, Kind::F64(v)) => v.push(r.double(path)?),
        (Src::Str | Src::Bytes | Src::Fixed(_) | Src::Enum(_), Kind::Bytes(b)) => read_bytes(src, b, r, path)?,
        (Src::Str | Src::Bytes | Src::Fixed(_) | Src::Enum(_), Kind::LargeBytes(b)) => read_bytes(src, b, r, path)?,
        (Src::Bytes, Kind::Decimal(v, precision, _)) => v.push(decimal(r.bytes(path)?, *precision, path)?),
        (Src::Fixed(n), Kind::Decimal(v, precision, _)) => v.push(decimal(r.fixed(*n, path)?, *precision, path)?),
        (Src::Array(item, item_may_be_empty), Kind::List(list)) => {
            loop {
                let n = r.block(path, *item_may_be_empty)?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    read(item, &mut list.child, r)?;
                }
            }
            list.offsets.push(offset(list.child.len(), path)?);
        }
        (Src::Map(values), Kind::Map(map)) => {
            loop {
                let n = r.block(path, false)?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    let key = r.str(path)?;
                    map.keys.push(key.as_bytes(), path)?;
                    read(values, &mut map.values, r)?;
                }
            }
            map.offsets.push(offset(map.values.len(), path)?);
        }
        (Src::Record(plan), Kind::Struct(children, _)) => read_record(plan, children, r)?,
        _ => {
            return Err(Error::Internal(format!(
                "avro: decoding plan does not fit column '{path}'"
            )))
        }
    }
    col.nulls.append_non_null();
    Ok(())
}

/// Reads a string, bytes, fixed or enum symbol into a binary or string column.
#[inline]
fn read_bytes<O: arrow::array::OffsetSizeTrait>(
    src: &Src,
    col: &mut ByteCol<O>,
    r: &mut Reader<'_>,
    path: &str,
) -> Result<()> {
    let bytes = match src {
        Src::Enum(symbols) => symbols[r.index(symbols.len(), path, "enum symbol")?].as_bytes(),
        Src::Fixed(n) => r.fixed(*n, path)?,
        _ => r.bytes(path)?,
    };
    if col.utf8 {
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(r.bad_utf8(path, bytes.len(), e));
        }
    }
    col.push(bytes, path)
}

/// An unscaled decimal from big-endian two's-complement bytes, checked against `precision`.
fn decimal(bytes: &[u8], precision: u8, path: &str) -> Result<i128> {
    let Some(&first) = bytes.first() else {
        return Ok(0);
    };
    let fill = if first & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 16];
    let significant = if bytes.len() > 16 {
        let (head, tail) = bytes.split_at(bytes.len() - 16);
        let sign = if tail[0] & 0x80 != 0 { 0xff } else { 0 };
        if head.iter().any(|b| *b != sign) {
            return Err(fail(
                path,
                format!("decimal of {} bytes does not fit in 128 bits", bytes.len()),
            ));
        }
        tail
    } else {
        bytes
    };
    buf[16 - significant.len()..].copy_from_slice(significant);
    let value = i128::from_be_bytes(buf);
    if !Decimal128Type::is_valid_decimal_precision(value, precision) {
        return Err(fail(
            path,
            format!("decimal {value} (unscaled) has more than {precision} digits"),
        ));
    }
    Ok(value)
}

//! Column builders the decoder appends to, which can be cut back to an earlier row count.
//!
//! Arrow's own builders cannot be truncated, which the decoder needs to drop a half-decoded
//! row; these keep plain vectors, so a cut is a few `Vec::truncate`s.

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    make_array, ArrayData, ArrayRef, BooleanArray, GenericBinaryArray, GenericStringArray, ListArray, MapArray,
    OffsetSizeTrait, StructArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, DataType, Field, FieldRef, Fields, TimeUnit};
use freshet_core::{Error, Result};

use super::reader::fail;

/// One column (or nested child) being built.
pub(crate) struct Col {
    /// The column path for error messages (`a.b`, `tags[]`).
    pub(crate) path: Box<str>,
    /// Whether the Arrow field takes nulls.
    pub(crate) nullable: bool,
    /// Validity; also the row count.
    pub(crate) nulls: NullBufferBuilder,
    /// The values.
    pub(crate) kind: Kind,
}

/// The values of a [`Col`], by physical Arrow layout.
pub(crate) enum Kind {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    /// Int32, Date32, Time32(ms).
    I32(Vec<i32>, DataType),
    /// Int64, Timestamp, Time64(us).
    I64(Vec<i64>, DataType),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Decimal(Vec<i128>, u8, i8),
    Bytes(ByteCol<i32>),
    LargeBytes(ByteCol<i64>),
    List(Box<ListCol>),
    Map(Box<MapCol>),
    Struct(Vec<Col>, Fields),
}

/// Variable-length binary or UTF-8 values.
pub(crate) struct ByteCol<O> {
    pub(crate) offsets: Vec<O>,
    pub(crate) data: Vec<u8>,
    /// Whether values must be (and are checked to be) UTF-8.
    pub(crate) utf8: bool,
}

/// A list column: offsets into one child column.
pub(crate) struct ListCol {
    pub(crate) field: FieldRef,
    pub(crate) offsets: Vec<i32>,
    pub(crate) child: Col,
}

/// A map column: offsets into key and value columns.
pub(crate) struct MapCol {
    pub(crate) entries: FieldRef,
    pub(crate) sorted: bool,
    pub(crate) offsets: Vec<i32>,
    pub(crate) keys: ByteCol<i32>,
    pub(crate) values: Col,
}

impl<O: OffsetSizeTrait> ByteCol<O> {
    fn new(utf8: bool) -> Self {
        ByteCol {
            offsets: vec![O::usize_as(0)],
            data: Vec::new(),
            utf8,
        }
    }

    /// Appends a value (already checked to be UTF-8 if `utf8`).
    #[inline]
    pub(crate) fn push(&mut self, value: &[u8], path: &str) -> Result<()> {
        let end = O::from_usize(self.data.len() + value.len()).ok_or_else(|| {
            fail(
                path,
                "too much string data for one batch; flush more often or use a Large type".into(),
            )
        })?;
        self.data.extend_from_slice(value);
        self.offsets.push(end);
        Ok(())
    }

    fn push_empty(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(O::usize_as(0));
        self.offsets.push(end);
    }

    fn truncate(&mut self, rows: usize) {
        self.offsets.truncate(rows + 1);
        let end = self.offsets.last().map_or(0, |o| o.as_usize());
        self.data.truncate(end);
    }

    fn finish(&mut self, nulls: Option<arrow::buffer::NullBuffer>) -> Result<ArrayRef> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(
            &mut self.offsets,
            vec![O::usize_as(0)],
        )));
        let data = Buffer::from_vec(std::mem::take(&mut self.data));
        Ok(if self.utf8 {
            Arc::new(GenericStringArray::<O>::try_new(offsets, data, nulls)?)
        } else {
            Arc::new(GenericBinaryArray::<O>::try_new(offsets, data, nulls)?)
        })
    }
}

/// The last offset as a child length.
fn end_of(offsets: &[i32]) -> usize {
    offsets.last().map_or(0, |o| *o as usize)
}

/// The next offset for a child now `len` long.
#[inline]
pub(crate) fn offset(len: usize, path: &str) -> Result<i32> {
    i32::try_from(len).map_err(|_| fail(path, "more than 2^31 items in one batch; flush more often".into()))
}

impl Col {
    /// A builder for `field` at `path`; [`Error::Config`] for Arrow types the decoder cannot build.
    pub(crate) fn new(field: &Field, path: String) -> Result<Col> {
        let unsupported = || {
            Error::Config(format!(
                "avro: column '{path}' has Arrow type {}, which the avro format does not support",
                field.data_type()
            ))
        };
        let kind = match field.data_type() {
            DataType::Boolean => Kind::Bool(Vec::new()),
            DataType::Int8 => Kind::I8(Vec::new()),
            DataType::Int16 => Kind::I16(Vec::new()),
            dt @ (DataType::Int32 | DataType::Date32 | DataType::Time32(TimeUnit::Millisecond)) => {
                Kind::I32(Vec::new(), dt.clone())
            }
            dt @ (DataType::Int64
            | DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond, _)
            | DataType::Time64(TimeUnit::Microsecond)) => Kind::I64(Vec::new(), dt.clone()),
            DataType::Float32 => Kind::F32(Vec::new()),
            DataType::Float64 => Kind::F64(Vec::new()),
            DataType::Decimal128(p, s) => Kind::Decimal(Vec::new(), *p, *s),
            DataType::Utf8 => Kind::Bytes(ByteCol::new(true)),
            DataType::Binary => Kind::Bytes(ByteCol::new(false)),
            DataType::LargeUtf8 => Kind::LargeBytes(ByteCol::new(true)),
            DataType::LargeBinary => Kind::LargeBytes(ByteCol::new(false)),
            DataType::List(item) => Kind::List(Box::new(ListCol {
                field: item.clone(),
                offsets: vec![0],
                child: Col::new(item, format!("{path}[]"))?,
            })),
            DataType::Map(entries, sorted) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &DataType::Utf8 => {
                    Kind::Map(Box::new(MapCol {
                        entries: entries.clone(),
                        sorted: *sorted,
                        offsets: vec![0],
                        keys: ByteCol::new(true),
                        values: Col::new(&kv[1], format!("{path}[]"))?,
                    }))
                }
                _ => return Err(unsupported()),
            },
            DataType::Struct(fields) => {
                let children = fields
                    .iter()
                    .map(|f| Col::new(f, format!("{path}.{}", f.name())))
                    .collect::<Result<Vec<_>>>()?;
                Kind::Struct(children, fields.clone())
            }
            _ => return Err(unsupported()),
        };
        Ok(Col {
            path: path.into(),
            nullable: field.is_nullable(),
            nulls: NullBufferBuilder::new(0),
            kind,
        })
    }

    /// Rows so far.
    pub(crate) fn len(&self) -> usize {
        self.nulls.len()
    }

    /// Appends a null for a null value read from the datum: an error if the column is not
    /// nullable.
    pub(crate) fn null(&mut self) -> Result<()> {
        if !self.nullable {
            return Err(fail(&self.path, "null for a non-nullable column".into()));
        }
        self.push_null();
        Ok(())
    }

    /// Appends a null (and a placeholder value), nullable or not: also used under a null
    /// parent, where Arrow allows it.
    pub(crate) fn push_null(&mut self) {
        self.nulls.append_null();
        match &mut self.kind {
            Kind::Bool(v) => v.push(false),
            Kind::I8(v) => v.push(0),
            Kind::I16(v) => v.push(0),
            Kind::I32(v, _) => v.push(0),
            Kind::I64(v, _) => v.push(0),
            Kind::F32(v) => v.push(0.0),
            Kind::F64(v) => v.push(0.0),
            Kind::Decimal(v, _, _) => v.push(0),
            Kind::Bytes(b) => b.push_empty(),
            Kind::LargeBytes(b) => b.push_empty(),
            Kind::List(l) => l.offsets.push(l.offsets.last().copied().unwrap_or(0)),
            Kind::Map(m) => m.offsets.push(m.offsets.last().copied().unwrap_or(0)),
            Kind::Struct(children, _) => children.iter_mut().for_each(Col::push_null),
        }
    }

    /// Cuts the column back to `rows` rows (no-op if it has no more).
    pub(crate) fn truncate(&mut self, rows: usize) {
        if self.nulls.len() > rows {
            self.nulls.truncate(rows);
        }
        match &mut self.kind {
            Kind::Bool(v) => v.truncate(rows),
            Kind::I8(v) => v.truncate(rows),
            Kind::I16(v) => v.truncate(rows),
            Kind::I32(v, _) => v.truncate(rows),
            Kind::I64(v, _) => v.truncate(rows),
            Kind::F32(v) => v.truncate(rows),
            Kind::F64(v) => v.truncate(rows),
            Kind::Decimal(v, _, _) => v.truncate(rows),
            Kind::Bytes(b) => b.truncate(rows),
            Kind::LargeBytes(b) => b.truncate(rows),
            Kind::List(l) => {
                l.offsets.truncate(rows + 1);
                l.child.truncate(end_of(&l.offsets));
            }
            Kind::Map(m) => {
                m.offsets.truncate(rows + 1);
                let end = end_of(&m.offsets);
                m.keys.truncate(end);
                m.values.truncate(end);
            }
            Kind::Struct(children, _) => children.iter_mut().for_each(|c| c.truncate(rows)),
        }
    }

    /// Takes the rows built so far as an Arrow array and starts over.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef> {
        let len = self.nulls.len();
        let nulls = self.nulls.finish();
        Ok(match &mut self.kind {
            Kind::Bool(v) => {
                let values = BooleanBuffer::from(std::mem::take(v));
                Arc::new(BooleanArray::new(values, nulls))
            }
            Kind::I8(v) => primitive(DataType::Int8, std::mem::take(v), nulls)?,
            Kind::I16(v) => primitive(DataType::Int16, std::mem::take(v), nulls)?,
            Kind::I32(v, dt) => primitive(dt.clone(), std::mem::take(v), nulls)?,
            Kind::I64(v, dt) => primitive(dt.clone(), std::mem::take(v), nulls)?,
            Kind::F32(v) => primitive(DataType::Float32, std::mem::take(v), nulls)?,
            Kind::F64(v) => primitive(DataType::Float64, std::mem::take(v), nulls)?,
            Kind::Decimal(v, p, s) => primitive(DataType::Decimal128(*p, *s), std::mem::take(v), nulls)?,
            Kind::Bytes(b) => b.finish(nulls)?,
            Kind::LargeBytes(b) => b.finish(nulls)?,
            Kind::List(l) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(&mut l.offsets, vec![0])));
                let values = l.child.finish()?;
                Arc::new(ListArray::try_new(l.field.clone(), offsets, values, nulls)?)
            }
            Kind::Map(m) => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(&mut m.offsets, vec![0])));
                let keys = m.keys.finish(None)?;
                let values = m.values.finish()?;
                let DataType::Struct(fields) = m.entries.data_type() else {
                    return Err(Error::Internal("avro: map entries are not a struct".into()));
                };
                let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
                Arc::new(MapArray::try_new(m.entries.clone(), offsets, entries, nulls, m.sorted)?)
            }
            Kind::Struct(children, fields) => {
                let arrays = children.iter_mut().map(Col::finish).collect::<Result<Vec<_>>>()?;
                Arc::new(StructArray::try_new_with_length(fields.clone(), arrays, nulls, len)?)
            }
        })
    }
}

/// A primitive array of type `data_type` over `values`, validated by Arrow.
fn primitive<T: ArrowNativeType>(
    data_type: DataType,
    values: Vec<T>,
    nulls: Option<arrow::buffer::NullBuffer>,
) -> Result<ArrayRef> {
    let len = values.len();
    let data = ArrayData::builder(data_type)
        .len(len)
        .add_buffer(Buffer::from_vec(values))
        .nulls(nulls)
        .build()?;
    Ok(make_array(data))
}

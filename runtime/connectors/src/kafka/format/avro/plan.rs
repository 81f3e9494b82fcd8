//! Matching writer schemas and Arrow columns: how to read each writer field into a column
//! (decoding) and how to write each column as a writer field (encoding). The compatibility
//! rules of the module documentation live here; mismatches are [`Error::Config`].

use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use freshet_core::{Error, Result};

use super::reader::may_be_empty;
use super::schema::{AvroSchema, Decimal, RecordSchema};

/// How to read one writer record into a set of columns.
pub(super) struct RecordPlan {
    /// One step per writer field, in writer order.
    pub(super) steps: Vec<Step>,
    /// Nullable columns the writer record lacks: null in every row.
    pub(super) missing: Vec<usize>,
}

/// What to do with one writer record field.
pub(super) enum Step {
    /// Read the field into the column at this index.
    Read(usize, Src),
    /// Skip the field (no such column), path for errors.
    Skip(AvroSchema, Box<str>),
}

/// The writer's encoding of a value, resolved against the column it is read into.
pub(super) enum Src {
    /// Always null (a `null` type or union branch).
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    Str,
    Enum(Vec<String>),
    Fixed(usize),
    /// Items, and whether an item may take zero bytes.
    Array(Box<Src>, bool),
    Map(Box<Src>),
    Record(RecordPlan),
    Union(Vec<Src>),
    /// A union branch the column cannot hold: an error if a datum selects it.
    Mismatch(String),
}

/// How to write one writer record field.
pub(super) enum FieldPut {
    /// From the column (or struct child) at this index.
    Column(usize, Put),
    /// No column: always the null branch with this index.
    Null(i64),
}

/// How to write the values of one column as one Avro type.
pub(super) struct Put {
    pub(super) path: Box<str>,
    /// For a union: the null branch's index, if any, and the value branch's.
    pub(super) union: Option<(Option<i64>, i64)>,
    pub(super) kind: PutKind,
}

/// The Arrow array type read and the Avro encoding written, for a non-null value.
pub(super) enum PutKind {
    Bool,
    I8,
    I16,
    I32,
    Date32,
    Time32Ms,
    I64,
    TimestampMs,
    TimestampUs,
    Time64Us,
    FloatToFloat,
    FloatToDouble,
    Double,
    Utf8,
    LargeUtf8,
    Binary,
    LargeBinary,
    Enum(HashMap<String, i64>),
    LargeEnum(HashMap<String, i64>),
    Fixed(usize),
    LargeFixed(usize),
    /// Writer precision, and the fixed size (None for bytes).
    Decimal(u8, Option<usize>),
    List(Box<Put>),
    Map(Box<Put>),
    Struct(Vec<FieldPut>),
}

fn read_mismatch(path: &str, data_type: &DataType, writer: &AvroSchema) -> Error {
    Error::Config(format!(
        "avro: column '{path}' of Arrow type {data_type} can't be read from Avro type {}",
        writer.describe()
    ))
}

/// Matches the writer `record` to the columns `fields` at `prefix`.
pub(super) fn record_plan(record: &RecordSchema, fields: &Fields, prefix: &str) -> Result<RecordPlan> {
    let path_of = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let mut steps = Vec::with_capacity(record.fields.len());
    for wf in &record.fields {
        let path = path_of(&wf.name);
        steps.push(match fields.iter().position(|f| f.name() == &wf.name) {
            Some(i) => Step::Read(i, source(&wf.schema, &fields[i], &path)?),
            None => Step::Skip(wf.schema.clone(), path.into()),
        });
    }
    let mut missing = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let path = path_of(field.name());
        if fields.iter().take(i).any(|f| f.name() == field.name()) {
            return Err(Error::Config(format!("avro: column '{path}' appears twice")));
        }
        if record.fields.iter().any(|wf| &wf.name == field.name()) {
            continue;
        }
        if !field.is_nullable() {
            return Err(Error::Config(format!(
                "avro: column '{path}' ({}, not nullable) has no field in the Avro record '{}'",
                field.data_type(),
                record.name
            )));
        }
        missing.push(i);
    }
    Ok(RecordPlan { steps, missing })
}

/// How to read values of `writer` into the column `field` at `path`.
fn source(writer: &AvroSchema, field: &Field, path: &str) -> Result<Src> {
    match writer {
        AvroSchema::Union(branches) => {
            let mut first_error = None;
            let mut readable = false;
            let mut out = Vec::with_capacity(branches.len());
            for branch in branches {
                if matches!(branch, AvroSchema::Null) {
                    // Fails at run time for a non-nullable column, if a datum is null.
                    out.push(Src::Null);
                    continue;
                }
                out.push(match source(branch, field, path) {
                    Ok(src) => {
                        readable = true;
                        src
                    }
                    Err(Error::Config(message)) => {
                        first_error.get_or_insert(message);
                        Src::Mismatch(branch.describe())
                    }
                    Err(other) => return Err(other),
                });
            }
            match first_error {
                Some(message) if !readable => Err(Error::Config(message)),
                _ if !readable && !field.is_nullable() => Err(read_mismatch(path, field.data_type(), writer)),
                _ => Ok(Src::Union(out)),
            }
        }
        AvroSchema::Null if field.is_nullable() => Ok(Src::Null),
        _ => leaf(writer, field, path),
    }
}

fn leaf(writer: &AvroSchema, field: &Field, path: &str) -> Result<Src> {
    use AvroSchema as A;
    use DataType as D;
    let data_type = field.data_type();
    let decimal_fits = |precision: u32, scale: u32| match data_type {
        D::Decimal128(p, s) => i64::from(*s) == i64::from(scale) && precision <= u32::from(*p),
        _ => false,
    };
    Ok(match (writer, data_type) {
        (A::Boolean, D::Boolean) => Src::Boolean,
        (A::Int, D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::Float32 | D::Float64)
        | (A::Date | A::TimeMillis, D::Int32 | D::Int64)
        | (A::Date, D::Date32)
        | (A::TimeMillis, D::Time32(TimeUnit::Millisecond)) => Src::Int,
        (A::Long, D::Int64 | D::Float32 | D::Float64)
        | (
            A::TimeMicros | A::TimestampMillis | A::TimestampMicros | A::LocalTimestampMillis | A::LocalTimestampMicros,
            D::Int64,
        )
        | (A::TimeMicros, D::Time64(TimeUnit::Microsecond))
        | (A::TimestampMillis | A::LocalTimestampMillis, D::Timestamp(TimeUnit::Millisecond, _))
        | (A::TimestampMicros | A::LocalTimestampMicros, D::Timestamp(TimeUnit::Microsecond, _)) => Src::Long,
        (A::Float, D::Float32 | D::Float64) => Src::Float,
        (A::Double, D::Float64) => Src::Double,
        (A::String, D::Utf8 | D::LargeUtf8 | D::Binary | D::LargeBinary) => Src::Str,
        (A::Bytes, D::Utf8 | D::LargeUtf8 | D::Binary | D::LargeBinary)
        | (A::Decimal(_), D::Binary | D::LargeBinary) => Src::Bytes,
        (A::Decimal(d), D::Decimal128(..)) if decimal_fits(d.precision, d.scale) => Src::Bytes,
        (A::Enum(e), D::Utf8 | D::LargeUtf8) => Src::Enum(e.symbols.clone()),
        (A::Fixed(f), D::Binary | D::LargeBinary) => Src::Fixed(f.size),
        (A::Fixed(f), D::Decimal128(..)) if f.decimal.is_some_and(|d| decimal_fits(d.precision, d.scale)) => {
            Src::Fixed(f.size)
        }
        (A::Array(item), D::List(item_field)) => Src::Array(
            Box::new(source(item, item_field, &format!("{path}[]"))?),
            may_be_empty(item),
        ),
        (A::Map(values), D::Map(entries, _)) => match entries.data_type() {
            D::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &D::Utf8 => {
                Src::Map(Box::new(source(values, &kv[1], &format!("{path}[]"))?))
            }
            _ => return Err(read_mismatch(path, data_type, writer)),
        },
        (A::Record(record), D::Struct(fields)) => Src::Record(record_plan(record, fields, path)?),
        _ => return Err(read_mismatch(path, data_type, writer)),
    })
}

fn write_mismatch(path: &str, data_type: &DataType, writer: &AvroSchema) -> Error {
    Error::Config(format!(
        "avro: column '{path}' of Arrow type {data_type} can't be written as Avro type {}",
        writer.describe()
    ))
}

/// Matches the writer `record`'s fields to the columns `fields` at `prefix`.
pub(super) fn record_puts(record: &RecordSchema, fields: &Fields, prefix: &str) -> Result<Vec<FieldPut>> {
    let mut out = Vec::with_capacity(record.fields.len());
    for wf in &record.fields {
        let path = if prefix.is_empty() {
            wf.name.clone()
        } else {
            format!("{prefix}.{}", wf.name)
        };
        let null_branch = match &wf.schema {
            AvroSchema::Union(branches) => branches.iter().position(|b| matches!(b, AvroSchema::Null)),
            _ => None,
        };
        out.push(match (fields.iter().position(|f| f.name() == &wf.name), null_branch) {
            (Some(i), _) => FieldPut::Column(i, put(&wf.schema, &fields[i], &path)?),
            (None, Some(null)) => FieldPut::Null(null as i64),
            (None, None) => {
                return Err(Error::Config(format!(
                    "avro: field '{path}' of Avro type {} has no column and is not nullable",
                    wf.schema.describe()
                )))
            }
        });
    }
    Ok(out)
}

/// How to write the column `field` at `path` as `writer`.
fn put(writer: &AvroSchema, field: &Field, path: &str) -> Result<Put> {
    let (union, kind) = match writer {
        AvroSchema::Union(branches) => {
            let null = branches
                .iter()
                .position(|b| matches!(b, AvroSchema::Null))
                .map(|i| i as i64);
            let mut first_error = None;
            let mut chosen = None;
            for (i, branch) in branches.iter().enumerate() {
                if matches!(branch, AvroSchema::Null) {
                    continue;
                }
                match put_kind(branch, field, path) {
                    Ok(kind) => {
                        chosen = Some((i as i64, kind));
                        break;
                    }
                    Err(Error::Config(message)) => {
                        first_error.get_or_insert(message);
                    }
                    Err(other) => return Err(other),
                }
            }
            match chosen {
                Some((value, kind)) => (Some((null, value)), kind),
                None => {
                    return Err(
                        first_error.map_or_else(|| write_mismatch(path, field.data_type(), writer), Error::Config)
                    )
                }
            }
        }
        _ => (None, put_kind(writer, field, path)?),
    };
    Ok(Put {
        path: path.into(),
        union,
        kind,
    })
}

fn put_kind(writer: &AvroSchema, field: &Field, path: &str) -> Result<PutKind> {
    use AvroSchema as A;
    use DataType as D;
    let data_type = field.data_type();
    let symbols = |s: &[String]| s.iter().enumerate().map(|(i, s)| (s.clone(), i as i64)).collect();
    let decimal_holds = |d: Decimal| match data_type {
        D::Decimal128(p, s) => i64::from(*s) == i64::from(d.scale) && u32::from(*p) <= d.precision,
        _ => false,
    };
    Ok(match (data_type, writer) {
        (D::Boolean, A::Boolean) => PutKind::Bool,
        (D::Int8, A::Int | A::Long) => PutKind::I8,
        (D::Int16, A::Int | A::Long) => PutKind::I16,
        (D::Int32, A::Int | A::Long) => PutKind::I32,
        (D::Int64, A::Long) => PutKind::I64,
        (D::Date32, A::Date) => PutKind::Date32,
        (D::Time32(TimeUnit::Millisecond), A::TimeMillis) => PutKind::Time32Ms,
        (D::Time64(TimeUnit::Microsecond), A::TimeMicros) => PutKind::Time64Us,
        (D::Timestamp(TimeUnit::Millisecond, _), A::TimestampMillis | A::LocalTimestampMillis) => PutKind::TimestampMs,
        (D::Timestamp(TimeUnit::Microsecond, _), A::TimestampMicros | A::LocalTimestampMicros) => PutKind::TimestampUs,
        (D::Float32, A::Float) => PutKind::FloatToFloat,
        (D::Float32, A::Double) => PutKind::FloatToDouble,
        (D::Float64, A::Double) => PutKind::Double,
        (D::Utf8, A::String | A::Bytes) => PutKind::Utf8,
        (D::LargeUtf8, A::String | A::Bytes) => PutKind::LargeUtf8,
        (D::Binary, A::Bytes) => PutKind::Binary,
        (D::LargeBinary, A::Bytes) => PutKind::LargeBinary,
        (D::Utf8, A::Enum(e)) => PutKind::Enum(symbols(&e.symbols)),
        (D::LargeUtf8, A::Enum(e)) => PutKind::LargeEnum(symbols(&e.symbols)),
        (D::Binary, A::Fixed(f)) => PutKind::Fixed(f.size),
        (D::LargeBinary, A::Fixed(f)) => PutKind::LargeFixed(f.size),
        (D::Decimal128(..), A::Decimal(d)) if decimal_holds(*d) => PutKind::Decimal(precision(d.precision), None),
        (D::Decimal128(..), A::Fixed(f)) if f.decimal.is_some_and(decimal_holds) => {
            PutKind::Decimal(f.decimal.map_or(38, |d| precision(d.precision)), Some(f.size))
        }
        (D::List(item), A::Array(items)) => PutKind::List(Box::new(put(items, item, &format!("{path}[]"))?)),
        (D::Map(entries, _), A::Map(values)) => match entries.data_type() {
            D::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &D::Utf8 => {
                PutKind::Map(Box::new(put(values, &kv[1], &format!("{path}[]"))?))
            }
            _ => return Err(write_mismatch(path, data_type, writer)),
        },
        (D::Struct(fields), A::Record(record)) => PutKind::Struct(record_puts(record, fields, path)?),
        _ => return Err(write_mismatch(path, data_type, writer)),
    })
}

/// An Avro decimal precision as an Arrow one, saturating at Decimal128's 38 digits.
fn precision(p: u32) -> u8 {
    p.min(38) as u8
}

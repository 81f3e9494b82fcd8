//! The [`AvroSchema`] tree.

use freshet_core::Error;
use serde_json::Value;

/// The `decimal` logical type: an unscaled two's-complement big-endian integer of `precision`
/// decimal digits, `scale` of them after the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// Total number of decimal digits (at least 1).
    pub precision: u32,
    /// Digits after the decimal point (at most `precision`).
    pub scale: u32,
}

/// An Avro `enum`: a named set of symbols, encoded as the symbol's index.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumSchema {
    /// Full name (`namespace.name`, or just `name` in the null namespace).
    pub name: String,
    /// The symbols, in index order.
    pub symbols: Vec<String>,
}

/// An Avro `fixed`: a named byte string of a fixed size, optionally a `decimal`.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedSchema {
    /// Full name (`namespace.name`, or just `name` in the null namespace).
    pub name: String,
    /// Size in bytes.
    pub size: usize,
    /// Set when the fixed carries the `decimal` logical type.
    pub decimal: Option<Decimal>,
}

/// An Avro `record`: a named sequence of fields, encoded one after the other.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSchema {
    /// Full name (`namespace.name`, or just `name` in the null namespace).
    pub name: String,
    /// The fields, in encoding order.
    pub fields: Vec<RecordField>,
}

/// One field of a [`RecordSchema`].
#[derive(Clone, Debug, PartialEq)]
pub struct RecordField {
    /// Field name.
    pub name: String,
    /// Field type.
    pub schema: AvroSchema,
    /// The JSON default value, if the schema gives one (kept as written, not validated).
    pub default: Option<Value>,
}

/// A parsed Avro schema.
///
/// Logical types are variants of their own; each notes the Avro type it annotates. Named types
/// (record, enum, fixed) carry their full name; a later reference to a name is resolved to a
/// copy of the definition, so the tree has no references left (recursive types are rejected).
#[derive(Clone, Debug, PartialEq)]
pub enum AvroSchema {
    /// `null`: no bytes.
    Null,
    /// `boolean`: one byte, 0 or 1.
    Boolean,
    /// `int`: 32-bit zig-zag varint.
    Int,
    /// `long`: 64-bit zig-zag varint.
    Long,
    /// `float`: 4 bytes, IEEE 754 little-endian.
    Float,
    /// `double`: 8 bytes, IEEE 754 little-endian.
    Double,
    /// `bytes`: a long length, then the bytes.
    Bytes,
    /// `string`: like bytes, holding UTF-8.
    String,
    /// `int` with logical type `date`: days since 1970-01-01.
    Date,
    /// `int` with logical type `time-millis`: milliseconds after midnight.
    TimeMillis,
    /// `long` with logical type `time-micros`: microseconds after midnight.
    TimeMicros,
    /// `long` with logical type `timestamp-millis`: milliseconds since the epoch, UTC.
    TimestampMillis,
    /// `long` with logical type `timestamp-micros`: microseconds since the epoch, UTC.
    TimestampMicros,
    /// `long` with logical type `local-timestamp-millis`: milliseconds, local time.
    LocalTimestampMillis,
    /// `long` with logical type `local-timestamp-micros`: microseconds, local time.
    LocalTimestampMicros,
    /// `bytes` with logical type `decimal`.
    Decimal(Decimal),
    /// `enum`.
    Enum(EnumSchema),
    /// `fixed` (possibly a decimal).
    Fixed(FixedSchema),
    /// `array` of the item type, encoded in blocks.
    Array(Box<AvroSchema>),
    /// `map` from string to the value type, encoded in blocks.
    Map(Box<AvroSchema>),
    /// `record`.
    Record(RecordSchema),
    /// A union: a long branch index, then the value of that branch.
    Union(Vec<AvroSchema>),
}

impl AvroSchema {
    /// The Avro type name of this schema's encoding: the name of the annotated type for
    /// logical types, the full name for named types. Used to find duplicate union branches.
    pub(super) fn union_key(&self) -> &str {
        match self {
            AvroSchema::Null => "null",
            AvroSchema::Boolean => "boolean",
            AvroSchema::Int | AvroSchema::Date | AvroSchema::TimeMillis => "int",
            AvroSchema::Long
            | AvroSchema::TimeMicros
            | AvroSchema::TimestampMillis
            | AvroSchema::TimestampMicros
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros => "long",
            AvroSchema::Float => "float",
            AvroSchema::Double => "double",
            AvroSchema::Bytes | AvroSchema::Decimal(_) => "bytes",
            AvroSchema::String => "string",
            AvroSchema::Array(_) => "array",
            AvroSchema::Map(_) => "map",
            AvroSchema::Union(_) => "union",
            AvroSchema::Enum(e) => &e.name,
            AvroSchema::Fixed(f) => &f.name,
            AvroSchema::Record(r) => &r.name,
        }
    }

    /// A short human-readable description for error messages, e.g. `long(timestamp-millis)`,
    /// `record 'x'`, `union [null, string]`.
    pub(crate) fn describe(&self) -> String {
        match self {
            AvroSchema::Date => "int(date)".into(),
            AvroSchema::TimeMillis => "int(time-millis)".into(),
            AvroSchema::TimeMicros => "long(time-micros)".into(),
            AvroSchema::TimestampMillis => "long(timestamp-millis)".into(),
            AvroSchema::TimestampMicros => "long(timestamp-micros)".into(),
            AvroSchema::LocalTimestampMillis => "long(local-timestamp-millis)".into(),
            AvroSchema::LocalTimestampMicros => "long(local-timestamp-micros)".into(),
            AvroSchema::Decimal(d) => format!("bytes(decimal({}, {}))", d.precision, d.scale),
            AvroSchema::Enum(e) => format!("enum '{}'", e.name),
            AvroSchema::Fixed(f) => match f.decimal {
                Some(d) => format!("fixed '{}'({}, decimal({}, {}))", f.name, f.size, d.precision, d.scale),
                None => format!("fixed '{}'({})", f.name, f.size),
            },
            AvroSchema::Array(item) => format!("array<{}>", item.describe()),
            AvroSchema::Map(values) => format!("map<{}>", values.describe()),
            AvroSchema::Record(r) => format!("record '{}'", r.name),
            AvroSchema::Union(branches) => {
                let names: Vec<String> = branches.iter().map(AvroSchema::describe).collect();
                format!("union [{}]", names.join(", "))
            }
            other => other.union_key().to_string(),
        }
    }
}

/// Adds `context: ` in front of a configuration error's message.
pub(crate) fn prefix(error: Error, context: &str) -> Error {
    match error {
        Error::Config(message) => Error::Config(format!("{context}: {message}")),
        other => other,
    }
}

/// Whether `name` is a valid simple Avro name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

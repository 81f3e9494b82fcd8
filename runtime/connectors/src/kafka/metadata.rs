//! Record metadata as columns (`METADATA FROM 'key'` in SQL): what each key is, its type,
//! whether a sink can write it, and how a table's columns map to key, value and metadata.

use super::format::FormatSpec;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use freshet_core::{Error, Result};
use std::sync::Arc;

/// A metadata field of a Kafka record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataKey {
    /// The topic (STRING, read-only).
    Topic,
    /// The partition (INT; a sink writes the record to it when not NULL).
    Partition,
    /// The offset (BIGINT, read-only).
    Offset,
    /// The record timestamp (TIMESTAMP_LTZ(3); a sink sets it when not NULL).
    Timestamp,
    /// `CreateTime`, `LogAppendTime` or `NoTimestampType` (STRING, read-only).
    TimestampType,
    /// The raw key bytes (BYTES; a sink writes them as the key when no key format is set).
    Key,
    /// The headers (MAP<STRING, BYTES>; a sink writes them).
    Headers,
}

/// Every key with its name, for messages.
const KEYS: &[(&str, MetadataKey)] = &[
    ("topic", MetadataKey::Topic),
    ("partition", MetadataKey::Partition),
    ("offset", MetadataKey::Offset),
    ("timestamp", MetadataKey::Timestamp),
    ("timestamp-type", MetadataKey::TimestampType),
    ("key", MetadataKey::Key),
    ("headers", MetadataKey::Headers),
];

impl MetadataKey {
    /// Parses a metadata key as written in `METADATA FROM '...'`.
    pub fn parse(name: &str) -> Result<Self> {
        KEYS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k).ok_or_else(|| {
            Error::Config(format!(
                "kafka: unknown metadata key '{name}'; supported: {}",
                KEYS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The key's name.
    pub fn name(self) -> &'static str {
        KEYS.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }

    /// The SQL type a column of this key must have, as text for messages.
    pub fn sql_type(self) -> &'static str {
        match self {
            Self::Topic | Self::TimestampType => "STRING",
            Self::Partition => "INT",
            Self::Offset => "BIGINT",
            Self::Timestamp => "TIMESTAMP_LTZ(3)",
            Self::Key => "BYTES",
            Self::Headers => "MAP<STRING, BYTES>",
        }
    }

    /// Whether a column of `data_type` can hold this key.
    pub fn accepts(self, data_type: &DataType) -> bool {
        match self {
            Self::Topic | Self::TimestampType => data_type == &DataType::Utf8,
            Self::Partition => data_type == &DataType::Int32,
            Self::Offset => data_type == &DataType::Int64,
            Self::Timestamp => matches!(data_type, DataType::Timestamp(TimeUnit::Millisecond, _)),
            Self::Key => data_type == &DataType::Binary,
            Self::Headers => data_type == &headers_type(),
        }
    }

    /// Whether a sink writes this key.
    pub fn writable(self) -> bool {
        matches!(self, Self::Partition | Self::Timestamp | Self::Key | Self::Headers)
    }
}

/// `MAP<STRING, BYTES>` as the SQL layer types it.
pub fn headers_type() -> DataType {
    let entries = arrow::datatypes::Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ]);
    DataType::Map(Arc::new(Field::new("entries", DataType::Struct(entries), false)), false)
}

/// Where a table column's values come from (go to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnOrigin {
    /// Column `i` of the value schema.
    Value(usize),
    /// Column `i` of the key schema (and, with `value.fields-include` = `ALL`, also of the
    /// value).
    Key(usize),
    /// A metadata field.
    Metadata(MetadataKey),
}

/// How a table's columns map to Kafka records.
#[derive(Clone, Debug)]
pub struct RecordLayout {
    /// The table's columns, in order.
    pub schema: SchemaRef,
    /// The origin of each column.
    pub origins: Vec<ColumnOrigin>,
    /// The columns in the value, in order.
    pub value_schema: SchemaRef,
    /// The index in `schema` of each value column.
    pub value_columns: Vec<usize>,
    /// The columns in the key, in `key.fields` order (empty without a key format).
    pub key_schema: SchemaRef,
    /// The index in `schema` of each key column.
    pub key_columns: Vec<usize>,
}

impl RecordLayout {
    /// Lays out `schema`, whose columns named in `metadata` (column, key) are metadata and
    /// the others physical.
    pub fn new(schema: SchemaRef, metadata: &[(String, String)], format: &FormatSpec, connector: &str) -> Result<Self> {
        let mut origins = Vec::with_capacity(schema.fields().len());
        let mut value_columns = Vec::new();
        let mut key_columns = vec![usize::MAX; format.key_fields.len()];
        for (i, field) in schema.fields().iter().enumerate() {
            if let Some((_, key)) = metadata.iter().find(|(c, _)| c == field.name()) {
                let key = MetadataKey::parse(key).map_err(|e| Error::Config(format!("{connector}: {e}")))?;
                if !key.accepts(field.data_type()) {
                    return Err(Error::Config(format!(
                        "{connector}: metadata column '{}' is declared {} but metadata '{}' is {}",
                        field.name(),
                        field.data_type(),
                        key.name(),
                        key.sql_type()
                    )));
                }
                origins.push(ColumnOrigin::Metadata(key));
                continue;
            }
            match format.key_fields.iter().position(|k| k == field.name()) {
                Some(k) => {
                    key_columns[k] = i;
                    origins.push(ColumnOrigin::Key(k));
                    if format.value_includes_key {
                        value_columns.push(i);
                    }
                }
                None => {
                    origins.push(ColumnOrigin::Value(value_columns.len()));
                    value_columns.push(i);
                }
            }
        }
        if let Some(missing) = format
            .key_fields
            .iter()
            .zip(&key_columns)
            .find(|(_, &i)| i == usize::MAX)
        {
            return Err(Error::Config(format!(
                "{connector}: option 'key.fields' names '{}', which is not a physical column",
                missing.0
            )));
        }
        // With the key in the value too, a key column's origin is its value position.
        if format.value_includes_key {
            for (i, origin) in origins.iter_mut().enumerate() {
                if let ColumnOrigin::Key(_) = origin {
                    if let Some(v) = value_columns.iter().position(|&c| c == i) {
                        *origin = ColumnOrigin::Value(v);
                    }
                }
            }
        }
        let project = |columns: &[usize]| -> SchemaRef {
            Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|&i| schema.field(i).as_ref().clone())
                    .collect::<Vec<_>>(),
            ))
        };
        Ok(Self {
            value_schema: project(&value_columns),
            key_schema: project(&key_columns),
            schema: schema.clone(),
            origins,
            value_columns,
            key_columns,
        })
    }

    /// The metadata column of `key`, if the table has one.
    pub fn metadata_column(&self, key: MetadataKey) -> Option<usize> {
        self.origins.iter().position(|o| *o == ColumnOrigin::Metadata(key))
    }
}

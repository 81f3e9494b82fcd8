//! Deriving an Avro writer schema from Arrow columns, the way Flink's `avro` format does.

use std::collections::HashSet;

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use freshet_core::{Error, Result};
use serde_json::Value;

use super::schema::{is_valid_name, AvroSchema, Decimal, RecordField, RecordSchema};

impl AvroSchema {
    /// Derives the writer schema for rows of `schema`: a record named `record` with one field per
    /// column, in column order.
    ///
    /// Nested structs become records named after their path (`record_<column>`,
    /// `record_<column>_<field>`, ...); nullable columns, fields, list items and map values
    /// become `["null", T]` (fields with default `null`). See the module documentation for the
    /// type mapping; any other Arrow type, a column name that is not a valid Avro name or a
    /// repeated name is an [`Error::Config`].
    pub fn for_arrow(schema: &Schema) -> Result<AvroSchema> {
        let mut names = HashSet::new();
        names.insert("record".to_string());
        Ok(AvroSchema::Record(record("record", schema.fields(), "", &mut names)?))
    }
}

/// The record `name` for the struct fields `fields` at column path `path`.
fn record(name: &str, fields: &Fields, path: &str, names: &mut HashSet<String>) -> Result<RecordSchema> {
    let mut out: Vec<RecordField> = Vec::with_capacity(fields.len());
    for field in fields {
        let column = if path.is_empty() {
            field.name().clone()
        } else {
            format!("{path}.{}", field.name())
        };
        if !is_valid_name(field.name()) {
            return Err(Error::Config(format!(
                "avro: column '{column}': '{}' is not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*)",
                field.name()
            )));
        }
        if out.iter().any(|f| &f.name == field.name()) {
            return Err(Error::Config(format!("avro: column '{column}' appears twice")));
        }
        let type_name = format!("{name}_{}", field.name());
        let schema = value(field, &type_name, &column, names)?;
        out.push(RecordField {
            name: field.name().clone(),
            schema,
            default: field.is_nullable().then_some(Value::Null),
        });
    }
    Ok(RecordSchema {
        name: name.to_string(),
        fields: out,
    })
}

/// The Avro type of `field`, a union with null if it is nullable.
fn value(field: &Field, type_name: &str, column: &str, names: &mut HashSet<String>) -> Result<AvroSchema> {
    let schema = data_type(field.data_type(), type_name, column, names)?;
    Ok(if field.is_nullable() {
        AvroSchema::Union(vec![AvroSchema::Null, schema])
    } else {
        schema
    })
}

fn unsupported(column: &str, data_type: &DataType) -> Error {
    Error::Config(format!(
        "avro: column '{column}' has Arrow type {data_type}, which the avro format does not support"
    ))
}

fn data_type(data_type: &DataType, type_name: &str, column: &str, names: &mut HashSet<String>) -> Result<AvroSchema> {
    Ok(match data_type {
        DataType::Boolean => AvroSchema::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => AvroSchema::Int,
        DataType::Int64 => AvroSchema::Long,
        DataType::Float32 => AvroSchema::Float,
        DataType::Float64 => AvroSchema::Double,
        DataType::Utf8 | DataType::LargeUtf8 => AvroSchema::String,
        DataType::Binary | DataType::LargeBinary => AvroSchema::Bytes,
        DataType::Date32 => AvroSchema::Date,
        DataType::Time32(TimeUnit::Millisecond) => AvroSchema::TimeMillis,
        DataType::Timestamp(TimeUnit::Millisecond, _) => AvroSchema::TimestampMillis,
        DataType::Timestamp(TimeUnit::Microsecond, _) => AvroSchema::TimestampMicros,
        DataType::Decimal128(precision, scale) if *precision > 0 && *scale >= 0 && *scale as u8 <= *precision => {
            AvroSchema::Decimal(Decimal {
                precision: u32::from(*precision),
                scale: *scale as u32,
            })
        }
        DataType::List(item) => AvroSchema::Array(Box::new(value(item, type_name, column, names)?)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &DataType::Utf8 => {
                AvroSchema::Map(Box::new(value(&kv[1], type_name, column, names)?))
            }
            _ => return Err(unsupported(column, data_type)),
        },
        DataType::Struct(fields) => {
            if !names.insert(type_name.to_string()) {
                return Err(Error::Config(format!(
                    "avro: column '{column}': the derived record name '{type_name}' is already taken by another struct"
                )));
            }
            AvroSchema::Record(record(type_name, fields, column, names)?)
        }
        other => return Err(unsupported(column, other)),
    })
}

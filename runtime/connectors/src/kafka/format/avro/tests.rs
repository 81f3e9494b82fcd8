//! Tests of the avro format: schemas here; fixtures, round trips, compatibility and malformed
//! datums in the submodules.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};

use super::*;

mod compat;
mod fixtures;
mod malformed;
mod roundtrip;

/// Parses a schema that must be valid.
fn parse(json: &str) -> AvroSchema {
    match AvroSchema::parse(json) {
        Ok(schema) => schema,
        Err(e) => panic!("schema {json} does not parse: {e}"),
    }
}

/// The message of an expected [`Error::Config`].
fn config_error<T>(result: Result<T>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("expected a configuration error, got success"),
    }
}

/// The message of an expected [`Error::Serde`].
fn serde_error<T>(result: Result<T>) -> String {
    match result {
        Err(Error::Serde(message)) => message,
        Err(other) => panic!("expected a serialization error, got {other}"),
        Ok(_) => panic!("expected a serialization error, got success"),
    }
}

fn schema_of(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

/// Decodes `datums` (all must be valid) into one batch of `target`.
fn decode_all(writer: &AvroSchema, target: SchemaRef, datums: &[&[u8]]) -> RecordBatch {
    let mut decoder = AvroDecoder::new(writer, target).expect("decoder");
    for datum in datums {
        if let Err(e) = decoder.append(datum) {
            panic!("datum {datum:02x?} does not decode: {e}");
        }
    }
    assert_eq!(decoder.len(), datums.len());
    decoder.flush().expect("flush")
}

#[test]
fn parses_primitives_and_logical_types() {
    assert_eq!(parse(r#""long""#), AvroSchema::Long);
    assert_eq!(parse(r#"{"type": "string"}"#), AvroSchema::String);
    let cases = [
        (r#"{"type":"int","logicalType":"date"}"#, AvroSchema::Date),
        (r#"{"type":"int","logicalType":"time-millis"}"#, AvroSchema::TimeMillis),
        (r#"{"type":"long","logicalType":"time-micros"}"#, AvroSchema::TimeMicros),
        (
            r#"{"type":"long","logicalType":"timestamp-millis"}"#,
            AvroSchema::TimestampMillis,
        ),
        (
            r#"{"type":"long","logicalType":"timestamp-micros"}"#,
            AvroSchema::TimestampMicros,
        ),
        (
            r#"{"type":"long","logicalType":"local-timestamp-millis"}"#,
            AvroSchema::LocalTimestampMillis,
        ),
        (
            r#"{"type":"long","logicalType":"local-timestamp-micros"}"#,
            AvroSchema::LocalTimestampMicros,
        ),
        // Unknown, misplaced or invalid logical types fall back to the annotated type.
        (r#"{"type":"string","logicalType":"uuid"}"#, AvroSchema::String),
        (r#"{"type":"long","logicalType":"date"}"#, AvroSchema::Long),
        (
            r#"{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}"#,
            AvroSchema::Bytes,
        ),
        (r#"{"type":"bytes","logicalType":"decimal"}"#, AvroSchema::Bytes),
    ];
    for (json, expected) in cases {
        assert_eq!(parse(json), expected, "{json}");
    }
    assert_eq!(
        parse(r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#),
        AvroSchema::Decimal(Decimal {
            precision: 10,
            scale: 2
        })
    );
    assert_eq!(
        parse(r#"{"type":"bytes","logicalType":"decimal","precision":5}"#),
        AvroSchema::Decimal(Decimal { precision: 5, scale: 0 })
    );
    // 4 bytes hold 9 digits, not 10.
    let fixed = |precision| {
        format!(r#"{{"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":{precision}}}"#)
    };
    let AvroSchema::Fixed(ok) = parse(&fixed(9)) else {
        panic!("not a fixed")
    };
    assert_eq!(ok.decimal, Some(Decimal { precision: 9, scale: 0 }));
    let AvroSchema::Fixed(too_big) = parse(&fixed(10)) else {
        panic!("not a fixed")
    };
    assert_eq!((too_big.size, too_big.decimal), (4, None));
}

const ORDER: &str = r#"{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "billing", "type": {"type": "record", "name": "Address",
      "fields": [{"name": "city", "type": "string"}]}},
    {"name": "shipping", "type": ["null", "Address"], "default": null},
    {"name": "status", "type": {"type": "enum", "name": "Status", "namespace": "codes", "symbols": ["NEW", "PAID"]}},
    {"name": "previous", "type": "codes.Status"},
    {"name": "hash", "type": {"type": "fixed", "name": "Md5", "size": 16}},
    {"name": "hashes", "type": {"type": "array", "items": "shop.Md5"}},
    {"name": "tags", "type": {"type": "map", "values": ["null", "string"]}, "default": {}}
  ]
}"#;

#[test]
fn parses_records_and_named_type_references() {
    let AvroSchema::Record(order) = parse(ORDER) else {
        panic!("not a record")
    };
    assert_eq!(order.name, "shop.Order");
    let names: Vec<&str> = order.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["id", "billing", "shipping", "status", "previous", "hash", "hashes", "tags"]
    );
    let address = AvroSchema::Record(RecordSchema {
        name: "shop.Address".into(),
        fields: vec![RecordField {
            name: "city".into(),
            schema: AvroSchema::String,
            default: None,
        }],
    });
    assert_eq!(order.fields[1].schema, address);
    assert_eq!(
        order.fields[2].schema,
        AvroSchema::Union(vec![AvroSchema::Null, address])
    );
    assert_eq!(order.fields[2].default, Some(serde_json::Value::Null));
    let status = AvroSchema::Enum(EnumSchema {
        name: "codes.Status".into(),
        symbols: vec!["NEW".into(), "PAID".into()],
    });
    assert_eq!(order.fields[3].schema, status);
    assert_eq!(order.fields[4].schema, status);
    let md5 = AvroSchema::Fixed(FixedSchema {
        name: "shop.Md5".into(),
        size: 16,
        decimal: None,
    });
    assert_eq!(order.fields[5].schema, md5);
    assert_eq!(order.fields[6].schema, AvroSchema::Array(Box::new(md5)));
    assert_eq!(order.fields[7].default, Some(serde_json::json!({})));
}

#[test]
fn to_json_round_trips_and_defines_names_once() {
    let schema = parse(ORDER);
    let json = schema.to_json();
    assert_eq!(parse(&json), schema, "{json}");
    assert_eq!(json.matches(r#""name":"shop.Address""#).count(), 1, "{json}");
    assert_eq!(
        json.matches(r#""shop.Address""#).count(),
        2,
        "defined once, referenced once: {json}"
    );
    let decimal = r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#;
    assert_eq!(parse(decimal).to_json(), decimal);
    assert_eq!(parse(r#"["null","long"]"#).to_json(), r#"["null","long"]"#);
    // A null-namespace type inside a namespaced record keeps its namespace.
    let nested = r#"{"type":"record","name":"a.R","fields":[
        {"name":"e","type":{"type":"enum","name":"E","namespace":"","symbols":["X"]}}]}"#;
    let schema = parse(nested);
    let AvroSchema::Record(r) = &schema else {
        panic!("not a record")
    };
    assert!(matches!(&r.fields[0].schema, AvroSchema::Enum(e) if e.name == "E"));
    assert_eq!(parse(&schema.to_json()), schema);
}

#[test]
fn schema_errors_say_what_and_where() {
    let cases = [
        ("{not json", "invalid JSON"),
        (r#""Foo""#, "unknown type 'Foo'"),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Foo"}]}"#,
            "record 'R' field 'a': unknown type 'Foo'",
        ),
        (r#"{"type":"record","name":"R"}"#, "record 'R' without a 'fields' array"),
        (r#"{"type":"record","fields":[]}"#, "record without a string 'name'"),
        (
            r#"{"type":"record","name":"1R","fields":[]}"#,
            "'1R' is not a valid record name",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
            "field 'a' appears twice",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a"}]}"#,
            "record 'R' field 'a': missing 'type'",
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"next","type":["null","R"]}]}"#,
            "recursive reference to 'R'",
        ),
        (r#"["int","int"]"#, "two branches of type 'int'"),
        (
            r#"["int",{"type":"int","logicalType":"date"}]"#,
            "two branches of type 'int'",
        ),
        (r#"["null",["int"]]"#, "unions may not contain unions"),
        ("[]", "at least one branch"),
        (
            r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
            "symbol 'A' appears twice",
        ),
        (
            r#"{"type":"enum","name":"E","symbols":["a-b"]}"#,
            "'a-b' is not a valid symbol",
        ),
        (
            r#"{"type":"fixed","name":"F","size":-1}"#,
            "non-negative integer 'size'",
        ),
        (r#"{"type":"array"}"#, "array without 'items'"),
        (r#"{"type":"map","values":"Nope"}"#, "map values: unknown type 'Nope'"),
        (r#"{"items":"int"}"#, "missing 'type'"),
        ("42", "expected a type name"),
        (
            r#"{"type":"record","name":"int","fields":[]}"#,
            "may not be named 'int'",
        ),
        (
            r#"["null",{"type":"fixed","name":"F","size":1},{"type":"enum","name":"F","symbols":["A"]}]"#,
            "type 'F' is defined twice",
        ),
    ];
    for (json, expected) in cases {
        let message = config_error(AvroSchema::parse(json));
        assert!(message.starts_with("avro schema: "), "{json}: {message}");
        assert!(message.contains(expected), "{json}: '{message}' lacks '{expected}'");
    }
}

#[test]
fn derives_flink_style_writer_schemas() {
    let address = Fields::from(vec![
        Field::new("city", DataType::Utf8, false),
        Field::new(
            "geo",
            DataType::Struct(Fields::from(vec![Field::new("lat", DataType::Float64, false)])),
            true,
        ),
    ]);
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("price", DataType::Decimal128(10, 2), false),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("address", DataType::Struct(address), true),
    ]);
    let expected = concat!(
        r#"{"type":"record","name":"record","fields":["#,
        r#"{"name":"id","type":"long"},"#,
        r#"{"name":"name","type":["null","string"],"default":null},"#,
        r#"{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},"#,
        r#"{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},"#,
        r#"{"name":"tags","type":{"type":"array","items":["null","string"]}},"#,
        r#"{"name":"address","type":["null",{"type":"record","name":"record_address","fields":["#,
        r#"{"name":"city","type":"string"},"#,
        r#"{"name":"geo","type":["null",{"type":"record","name":"record_address_geo","fields":["#,
        r#"{"name":"lat","type":"double"}]}],"default":null}]}],"default":null}]}"#
    );
    let derived = AvroSchema::for_arrow(&schema).expect("derives");
    assert_eq!(derived.to_json(), expected);
    assert_eq!(parse(expected), derived);
}

#[test]
fn derivation_rejects_what_avro_cannot_hold() {
    let one = |name: &str, data_type: DataType| Schema::new(vec![Field::new(name, data_type, true)]);
    let message = config_error(AvroSchema::for_arrow(&one("n", DataType::UInt32)));
    assert!(
        message.contains("column 'n'") && message.contains("UInt32"),
        "{message}"
    );
    let message = config_error(AvroSchema::for_arrow(&one("t", DataType::Time64(TimeUnit::Nanosecond))));
    assert!(
        message.contains("column 't'") && message.contains("Time64"),
        "{message}"
    );
    let nested = DataType::Struct(Fields::from(vec![Field::new("x", DataType::Float16, false)]));
    let message = config_error(AvroSchema::for_arrow(&one("s", nested)));
    assert!(
        message.contains("column 's.x'") && message.contains("Float16"),
        "{message}"
    );
    let message = config_error(AvroSchema::for_arrow(&one("my col", DataType::Int32)));
    assert!(message.contains("'my col' is not a valid Avro name"), "{message}");
    let twice = Schema::new(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("a", DataType::Int64, true),
    ]);
    assert!(config_error(AvroSchema::for_arrow(&twice)).contains("column 'a' appears twice"));
}

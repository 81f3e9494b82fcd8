//! Matching writer schemas to target columns (decoder) and columns to writer schemas (encoder).

use std::sync::Arc;

use arrow::array::{Array, BinaryArray, Float64Array, Int32Array, Int64Array, StringArray, StructArray};
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::{config_error, decode_all, parse, schema_of, serde_error};
use super::{AvroDecoder, AvroEncoder};

fn struct_of(fields: Vec<Field>) -> DataType {
    DataType::Struct(Fields::from(fields))
}

#[test]
fn promotions_and_unions_read_into_wider_columns() {
    let writer = parse(
        r#"{"type":"record","name":"R","fields":[
          {"name":"i","type":"int"}, {"name":"f","type":"float"},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
          {"name":"s","type":"string"}, {"name":"l","type":"long"}, {"name":"n","type":["null","long"]},
          {"name":"multi","type":["null","int","long"]}]}"#,
    );
    let target = schema_of(vec![
        Field::new("i", DataType::Int64, false),
        Field::new("f", DataType::Float64, false),
        Field::new("e", DataType::Utf8, false),
        Field::new("s", DataType::Binary, false),
        Field::new("l", DataType::Float64, false),
        Field::new("n", DataType::Int64, true),
        Field::new("multi", DataType::Int64, true),
    ]);
    let first: &[u8] = &[
        0x01, 0x00, 0x00, 0x80, 0x3f, 0x02, 0x04, b'h', b'i', 0x06, 0x00, 0x02, 0x08,
    ];
    let second: &[u8] = &[
        0x02, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x01, 0x02, 0x0a, 0x04, 0x80, 0x01,
    ];
    let batch = decode_all(&writer, target, &[first, second]);
    let col = |i: usize| batch.column(i).clone();
    assert_eq!(col(0).as_ref(), &Int64Array::from(vec![-1, 1]) as &dyn Array);
    assert_eq!(col(1).as_ref(), &Float64Array::from(vec![1.0, 2.0]) as &dyn Array);
    assert_eq!(col(2).as_ref(), &StringArray::from(vec!["B", "A"]) as &dyn Array);
    assert_eq!(col(3).as_ref(), &BinaryArray::from(vec![&b"hi"[..], b""]) as &dyn Array);
    assert_eq!(col(4).as_ref(), &Float64Array::from(vec![3.0, -1.0]) as &dyn Array);
    assert_eq!(col(5).as_ref(), &Int64Array::from(vec![None, Some(5)]) as &dyn Array);
    assert_eq!(
        col(6).as_ref(),
        &Int64Array::from(vec![Some(4), Some(64)]) as &dyn Array
    );
}

#[test]
fn writer_fields_without_a_column_are_skipped() {
    let writer = parse(
        r#"{"type":"record","name":"R","fields":[
          {"name":"a","type":{"type":"array","items":
            {"type":"record","name":"P","fields":[{"name":"x","type":"string"}]}}},
          {"name":"keep","type":"long"},
          {"name":"m","type":{"type":"map","values":["null","bytes"]}},
          {"name":"u","type":["null",{"type":"fixed","name":"F","size":2}]},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
          {"name":"d","type":"double"}, {"name":"b","type":"boolean"}, {"name":"p","type":"P"},
          {"name":"keep2","type":"string"}]}"#,
    );
    let target = schema_of(vec![
        Field::new("keep2", DataType::Utf8, false),
        Field::new("keep", DataType::Int64, false),
    ]);
    let mut datum = vec![0x01, 0x04, 0x02, b'z', 0x02, 0x02, b'y', 0x00]; // a: sized block [z], block [y]
    datum.push(0x54); // keep = 42
    datum.extend([0x02, 0x02, b'k', 0x02, 0x02, 0xff, 0x00]); // m = {k: b"\xff"}
    datum.extend([0x02, 0x01, 0x02]); // u = F(01 02)
    datum.push(0x02); // e = B
    datum.extend([0; 8]); // d = 0.0
    datum.push(0x01); // b = true
    datum.extend([0x02, b'w']); // p = {x: "w"}
    datum.extend([0x02, b'!']); // keep2 = "!"
    let batch = decode_all(&writer, target, &[&datum]);
    assert_eq!(batch.column(0).as_ref(), &StringArray::from(vec!["!"]) as &dyn Array);
    assert_eq!(batch.column(1).as_ref(), &Int64Array::from(vec![42]) as &dyn Array);
}

#[test]
fn named_types_are_read_where_referenced() {
    let writer = parse(
        r#"{"type":"record","name":"R","fields":[
          {"name":"a","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}},
          {"name":"b","type":["null","Address"]}]}"#,
    );
    let address = struct_of(vec![Field::new("city", DataType::Utf8, false)]);
    let target = schema_of(vec![
        Field::new("a", address.clone(), false),
        Field::new("b", address, true),
    ]);
    let batch = decode_all(&writer, target, &[&[0x02, b'x', 0x02, 0x02, b'y'], &[0x02, b'z', 0x00]]);
    let city = |column: usize| {
        let s = batch
            .column(column)
            .as_any()
            .downcast_ref::<StructArray>()
            .expect("struct")
            .clone();
        (
            s.column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("city")
                .clone(),
            s,
        )
    };
    assert_eq!((city(0).0.value(0), city(0).0.value(1)), ("x", "z"));
    assert_eq!((city(1).0.value(0), city(1).1.is_null(1)), ("y", true));
}

#[test]
fn missing_columns_are_null_if_nullable() {
    let writer = parse(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    let nested = struct_of(vec![Field::new("x", DataType::Int32, true)]);
    let target = schema_of(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("gone", DataType::Utf8, true),
        Field::new("st", nested, true),
    ]);
    let batch = decode_all(&writer, target, &[&[0x02], &[0x04]]);
    assert_eq!(batch.column(1).null_count(), 2);
    assert_eq!(batch.column(2).null_count(), 2);
    let strict = schema_of(vec![Field::new("gone", DataType::Utf8, false)]);
    let message = config_error(AvroDecoder::new(&writer, strict));
    assert!(
        message.contains("column 'gone' (Utf8, not nullable) has no field in the Avro record 'R'"),
        "{message}"
    );
}

#[test]
fn mismatches_name_the_column_and_both_types() {
    let writer = parse(
        r#"{"type":"record","name":"R","fields":[{"name":"price","type":"string"},
          {"name":"address","type":{"type":"record","name":"A","fields":[{"name":"zip","type":"long"}]}},
          {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
          {"name":"opt","type":["null","string"]}, {"name":"ts","type":"long"}]}"#,
    );
    let one = |field: Field| config_error(AvroDecoder::new(&writer, schema_of(vec![field])));
    let message = one(Field::new("price", DataType::Int64, false));
    assert_eq!(
        message,
        "avro: column 'price' of Arrow type Int64 can't be read from Avro type string"
    );
    let address = struct_of(vec![Field::new("zip", DataType::Int32, false)]);
    let message = one(Field::new("address", address, false));
    assert!(
        message.contains("column 'address.zip' of Arrow type Int32 can't be read from Avro type long"),
        "{message}"
    );
    let message = one(Field::new("amount", DataType::Decimal128(10, 3), false));
    assert!(
        message.contains("Decimal128(10, 3)") && message.contains("bytes(decimal(10, 2))"),
        "{message}"
    );
    let message = one(Field::new("opt", DataType::Int64, true));
    assert!(
        message.contains("column 'opt'") && message.contains("string"),
        "{message}"
    );
    let message = one(Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Millisecond, None),
        false,
    ));
    assert!(message.contains("can't be read from Avro type long"), "{message}");
    let message = one(Field::new("price", DataType::UInt8, false));
    assert!(message.contains("UInt8"), "{message}");
    let message = config_error(AvroDecoder::new(&parse(r#""long""#), schema_of(vec![])));
    assert!(message.contains("must be a record, found long"), "{message}");
}

#[test]
fn a_union_branch_the_column_cannot_hold_fails_only_when_used() {
    let writer = parse(r#"{"type":"record","name":"R","fields":[{"name":"v","type":["long","string"]}]}"#);
    let target = schema_of(vec![Field::new("v", DataType::Int64, false)]);
    let mut decoder = AvroDecoder::new(&writer, target).expect("a long branch fits");
    decoder.append(&[0x00, 0x02]).expect("long branch");
    let message = serde_error(decoder.append(&[0x02, 0x02, b'a']));
    assert!(
        message.contains("field 'v'") && message.contains("union branch string"),
        "{message}"
    );
    assert_eq!(decoder.flush().expect("flush").num_rows(), 1);
}

#[test]
fn encoding_into_a_given_writer_schema_matches_by_name() {
    let writer = parse(
        r#"{"type":"record","name":"Out","fields":[
          {"name":"b","type":"string"}, {"name":"a","type":["null","long"]},
          {"name":"missing","type":["null","string"],"default":null},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["LOW","HIGH"]}}]}"#,
    );
    let schema = schema_of(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, false),
        Field::new("extra", DataType::Float64, false),
        Field::new("e", DataType::Utf8, false),
    ]);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![Some(-2), None])),
            Arc::new(StringArray::from(vec!["x", "y"])),
            Arc::new(Float64Array::from(vec![1.0, 2.0])),
            Arc::new(StringArray::from(vec!["HIGH", "MEDIUM"])),
        ],
    )
    .expect("batch");
    let encoder = AvroEncoder::with_writer_schema(schema.clone(), &writer).expect("encoder");
    assert_eq!(encoder.schema(), &writer);
    let mut out = Vec::new();
    encoder.encode(&batch, 0, &mut out).expect("encodes");
    assert_eq!(out, [0x02, b'x', 0x02, 0x03, 0x00, 0x02]);
    let message = serde_error(encoder.encode(&batch, 1, &mut out));
    assert!(message.contains("field 'e': 'MEDIUM' is not a symbol"), "{message}");
    assert_eq!(
        out,
        [0x02, b'x', 0x02, 0x03, 0x00, 0x02],
        "a failed row leaves the buffer as it was"
    );

    let strict = parse(r#"{"type":"record","name":"S","fields":[{"name":"a","type":"long"}]}"#);
    let encoder = AvroEncoder::with_writer_schema(schema.clone(), &strict).expect("encoder");
    let message = serde_error(encoder.encode(&batch, 1, &mut Vec::new()));
    assert!(message.contains("field 'a': null value"), "{message}");

    let no_column = parse(r#"{"type":"record","name":"S","fields":[{"name":"z","type":"long"}]}"#);
    let message = config_error(AvroEncoder::with_writer_schema(schema.clone(), &no_column));
    assert!(
        message.contains("field 'z' of Avro type long has no column"),
        "{message}"
    );
    let wrong = parse(r#"{"type":"record","name":"S","fields":[{"name":"extra","type":"float"}]}"#);
    let message = config_error(AvroEncoder::with_writer_schema(schema.clone(), &wrong));
    assert_eq!(
        message,
        "avro: column 'extra' of Arrow type Float64 can't be written as Avro type float"
    );
    let message = config_error(AvroEncoder::with_writer_schema(schema, &parse(r#"["null","long"]"#)));
    assert!(message.contains("must be a record"), "{message}");
}

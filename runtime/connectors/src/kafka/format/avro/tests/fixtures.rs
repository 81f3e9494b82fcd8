//! Hand-written encodings from the Avro spec, checked in both directions: the encoder must
//! produce exactly these bytes and the decoder must read them back.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array,
    Int64Builder, ListArray, MapBuilder, StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, TimeUnit};

use super::{decode_all, parse, schema_of};
use super::{AvroDecoder, AvroEncoder, AvroSchema};

/// A record `R` with one field `v` of the given Avro type (JSON).
fn one_field(avro_type: &str) -> AvroSchema {
    parse(&format!(
        r#"{{"type":"record","name":"R","fields":[{{"name":"v","type":{avro_type}}}]}}"#
    ))
}

/// Checks that the rows of `array` (column `v`) encode to `expected` as `avro_type`, and that
/// `expected` decodes back to `array`.
fn check(avro_type: &str, array: ArrayRef, expected: &[&[u8]]) {
    let writer = one_field(avro_type);
    let target = schema_of(vec![Field::new("v", array.data_type().clone(), array.null_count() > 0)]);
    let batch = arrow::record_batch::RecordBatch::try_new(target.clone(), vec![array.clone()]).expect("batch");
    let encoder = AvroEncoder::with_writer_schema(target.clone(), &writer).expect("encoder");
    for (row, bytes) in expected.iter().enumerate() {
        let mut out = vec![0xAA];
        encoder.encode(&batch, row, &mut out).expect("encodes");
        assert_eq!(&out[1..], *bytes, "{avro_type} row {row}");
    }
    let decoded = decode_all(&writer, target, expected);
    assert_eq!(decoded.column(0).as_ref(), array.as_ref(), "{avro_type}");
}

#[test]
fn longs_are_zigzag_varints() {
    let values = [0, 1, -1, 2, 64, -64, -65, 300, i64::MAX, i64::MIN];
    let expected: [&[u8]; 10] = [
        &[0x00],
        &[0x02],
        &[0x01],
        &[0x04],
        &[0x80, 0x01],
        &[0x7f],
        &[0x81, 0x01],
        &[0xd8, 0x04],
        &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ];
    check(r#""long""#, Arc::new(Int64Array::from(values.to_vec())), &expected);
    let millis = TimestampMillisecondArray::from(values.to_vec()).with_timezone("UTC");
    check(
        r#"{"type":"long","logicalType":"timestamp-millis"}"#,
        Arc::new(millis),
        &expected,
    );
}

#[test]
fn ints_are_zigzag_varints() {
    let values = [1, -1, 64, i32::MAX, i32::MIN];
    let expected: [&[u8]; 5] = [
        &[0x02],
        &[0x01],
        &[0x80, 0x01],
        &[0xfe, 0xff, 0xff, 0xff, 0x0f],
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
    ];
    check(r#""int""#, Arc::new(Int32Array::from(values.to_vec())), &expected);
    check(
        r#"{"type":"int","logicalType":"date"}"#,
        Arc::new(Date32Array::from(values.to_vec())),
        &expected,
    );
}

#[test]
fn strings_booleans_and_floats() {
    let strings = StringArray::from(vec!["foo", "", "é"]);
    check(
        r#""string""#,
        Arc::new(strings),
        &[b"\x06foo", &[0x00], &[0x04, 0xc3, 0xa9]],
    );
    check(
        r#""boolean""#,
        Arc::new(BooleanArray::from(vec![true, false])),
        &[&[0x01], &[0x00]],
    );
    check(
        r#""float""#,
        Arc::new(Float32Array::from(vec![1.0])),
        &[&[0x00, 0x00, 0x80, 0x3f]],
    );
    let minus_two_and_a_half: &[u8] = &[0, 0, 0, 0, 0, 0, 0x04, 0xc0];
    check(
        r#""double""#,
        Arc::new(Float64Array::from(vec![-2.5])),
        &[minus_two_and_a_half],
    );
}

#[test]
fn the_spec_record_example() {
    // From the specification: {"a": 27, "b": "foo"} of record {a: long, b: string}.
    let writer =
        parse(r#"{"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}"#);
    let target = schema_of(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Utf8, false),
    ]);
    let datum: &[u8] = &[0x36, 0x06, 0x66, 0x6f, 0x6f];
    let batch = decode_all(&writer, target.clone(), &[datum]);
    assert_eq!(batch.column(0).as_ref(), &Int64Array::from(vec![27]) as &dyn Array);
    assert_eq!(batch.column(1).as_ref(), &StringArray::from(vec!["foo"]) as &dyn Array);
    let mut out = Vec::new();
    AvroEncoder::new(target)
        .expect("encoder")
        .encode(&batch, 0, &mut out)
        .expect("encodes");
    assert_eq!(out, datum);
}

#[test]
fn unions_write_the_branch_index_first() {
    let values = StringArray::from(vec![None, Some("a")]);
    check(
        r#"["null","string"]"#,
        Arc::new(values.clone()),
        &[&[0x00], &[0x02, 0x02, b'a']],
    );
    check(
        r#"["string","null"]"#,
        Arc::new(values),
        &[&[0x02], &[0x00, 0x02, b'a']],
    );
    // The first branch the column fits is written: here long, index 1.
    check(
        r#"["null","long","string"]"#,
        Arc::new(Int64Array::from(vec![Some(3), None])),
        &[&[0x02, 0x06], &[0x00]],
    );
}

#[test]
fn arrays_and_maps_are_blocks() {
    let item = Arc::new(Field::new("item", DataType::Int64, false));
    let values = Arc::new(Int64Array::from(vec![1, 2]));
    let lists = ListArray::new(item, OffsetBuffer::from_lengths([2, 0]), values, None);
    check(
        r#"{"type":"array","items":"long"}"#,
        Arc::new(lists),
        &[&[0x04, 0x02, 0x04, 0x00], &[0x00]],
    );

    // Other writers may split items into several blocks, or use the sized (negative count) form.
    let writer = one_field(r#"{"type":"array","items":"long"}"#);
    let item = Arc::new(Field::new("item", DataType::Int64, false));
    let target = schema_of(vec![Field::new("v", DataType::List(item), false)]);
    let split: &[u8] = &[0x02, 0x02, 0x02, 0x04, 0x00];
    let sized: &[u8] = &[0x03, 0x04, 0x02, 0x04, 0x00];
    let batch = decode_all(&writer, target, &[split, sized]);
    let lists = batch.column(0).as_any().downcast_ref::<ListArray>().expect("list");
    for row in 0..2 {
        assert_eq!(lists.value(row).as_ref(), &Int64Array::from(vec![1, 2]) as &dyn Array);
    }

    let mut map = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    map.keys().append_value("a");
    map.values().append_value(1);
    map.append(true).expect("map row");
    map.append(true).expect("map row");
    check(
        r#"{"type":"map","values":"long"}"#,
        Arc::new(map.finish()),
        &[&[0x02, 0x02, b'a', 0x02, 0x00], &[0x00]],
    );
}

#[test]
fn decimals_are_minimal_twos_complement() {
    let decimals = Decimal128Array::from(vec![123, -1, 128, -129, 0, -128])
        .with_precision_and_scale(10, 2)
        .expect("decimal");
    let expected: [&[u8]; 6] = [
        &[0x02, 0x7b],
        &[0x02, 0xff],
        &[0x04, 0x00, 0x80],
        &[0x04, 0xff, 0x7f],
        &[0x02, 0x00],
        &[0x02, 0x80],
    ];
    check(
        r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#,
        Arc::new(decimals),
        &expected,
    );
    let fixed = r#"{"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":9,"scale":2}"#;
    let decimals = Decimal128Array::from(vec![-1, 258])
        .with_precision_and_scale(9, 2)
        .expect("decimal");
    check(
        fixed,
        Arc::new(decimals),
        &[&[0xff, 0xff, 0xff, 0xff], &[0x00, 0x00, 0x01, 0x02]],
    );
}

#[test]
fn enums_are_symbol_indexes() {
    let symbols = StringArray::from(vec!["B", "A", "C"]);
    check(
        r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#,
        Arc::new(symbols),
        &[&[0x02], &[0x00], &[0x04]],
    );
}

#[test]
fn time_and_micros_logical_types() {
    let writer = one_field(r#"{"type":"long","logicalType":"timestamp-micros"}"#);
    let target = schema_of(vec![Field::new(
        "v",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    )]);
    let batch = decode_all(&writer, target.clone(), &[&[0x80, 0x01]]);
    let micros = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
        .expect("micros");
    assert_eq!(micros.value(0), 64);
    let writer = one_field(r#"{"type":"int","logicalType":"time-millis"}"#);
    let target = schema_of(vec![Field::new("v", DataType::Time32(TimeUnit::Millisecond), false)]);
    let batch = decode_all(&writer, target, &[&[0x02]]);
    let millis = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Time32MillisecondArray>()
        .expect("time");
    assert_eq!(millis.value(0), 1);
    let decoder = AvroDecoder::new(&writer, schema_of(vec![Field::new("v", DataType::Int32, false)]));
    assert!(decoder.is_ok(), "a logical type may be read as its annotated type");
}

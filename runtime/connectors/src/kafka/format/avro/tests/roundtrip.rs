//! Round trips of every supported Arrow type through the encoder and the decoder.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int32Builder, Int64Array, Int8Array, LargeBinaryArray, LargeStringArray, ListArray, MapArray,
    MapBuilder, StringArray, StringBuilder, StructArray, Time32MillisecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use arrow::record_batch::RecordBatch;

use super::{parse, schema_of};
use super::{AvroDecoder, AvroEncoder};

fn column(name: &str, array: ArrayRef) -> (Field, ArrayRef) {
    (
        Field::new(name, array.data_type().clone(), array.null_count() > 0),
        array,
    )
}

/// Three rows of every supported type, with nulls.
fn every_type() -> RecordBatch {
    let big = 10i128.pow(38) - 1;
    let list_item = Arc::new(Field::new("item", DataType::Int64, true));
    let lists = ListArray::new(
        list_item,
        OffsetBuffer::from_lengths([3, 0, 0]),
        Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
        Some(NullBuffer::from(vec![true, false, true])),
    );
    let point_fields = Fields::from(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("b", DataType::Utf8, true),
    ]);
    let points = StructArray::new(
        point_fields.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec![Some("p"), None, Some("r")])),
        ],
        None,
    );
    let point_item = Arc::new(Field::new("item", DataType::Struct(point_fields), false));
    let point_lists = ListArray::new(
        point_item,
        OffsetBuffer::from_lengths([2, 0, 1]),
        Arc::new(points),
        None,
    );
    let mut maps = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    maps.keys().append_value("x");
    maps.values().append_value(1);
    maps.keys().append_value("y");
    maps.values().append_null();
    maps.append(true).expect("map row");
    maps.append(false).expect("map row");
    maps.append(true).expect("map row");
    let inner_fields = Fields::from(vec![Field::new("s", DataType::Utf8, true)]);
    let inner = StructArray::new(
        inner_fields.clone(),
        vec![Arc::new(StringArray::from(vec![Some("q"), None, None]))],
        Some(NullBuffer::from(vec![true, false, false])),
    );
    let outer = StructArray::new(
        Fields::from(vec![
            Field::new("x", DataType::Int32, false),
            Field::new("inner", DataType::Struct(inner_fields), true),
        ]),
        vec![Arc::new(Int32Array::from(vec![1, 0, 3])), Arc::new(inner)],
        Some(NullBuffer::from(vec![true, false, true])),
    );
    let columns = vec![
        column("b", Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)]))),
        column("i8", Arc::new(Int8Array::from(vec![i8::MIN, 0, i8::MAX]))),
        column(
            "i16",
            Arc::new(Int16Array::from(vec![Some(-300), None, Some(i16::MAX)])),
        ),
        column("i32", Arc::new(Int32Array::from(vec![i32::MIN, 7, i32::MAX]))),
        column(
            "i64",
            Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])),
        ),
        column("f32", Arc::new(Float32Array::from(vec![1.5, -0.0, f32::INFINITY]))),
        column(
            "f64",
            Arc::new(Float64Array::from(vec![Some(f64::MIN_POSITIVE), None, Some(-1e300)])),
        ),
        column("s", Arc::new(StringArray::from(vec![Some("héllo"), None, Some("")]))),
        column("ls", Arc::new(LargeStringArray::from(vec!["a", "bb", "ccc"]))),
        column(
            "bin",
            Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None, Some(&b""[..])])),
        ),
        column("lbin", Arc::new(LargeBinaryArray::from(vec![&b"x"[..], b"", b"\x80"]))),
        column("d", Arc::new(Date32Array::from(vec![Some(19_000), None, Some(-1)]))),
        column(
            "t",
            Arc::new(Time32MillisecondArray::from(vec![0, 43_200_000, 86_399_999])),
        ),
        column(
            "ts_ms",
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_700_000_000_000), None, Some(-5)]).with_timezone("+02:00"),
            ),
        ),
        column(
            "ts_us",
            Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_000_000, 0, -1])),
        ),
        column(
            "dec",
            Arc::new(
                Decimal128Array::from(vec![Some(big), None, Some(-big)])
                    .with_precision_and_scale(38, 10)
                    .expect("dec"),
            ),
        ),
        column(
            "small_dec",
            Arc::new(
                Decimal128Array::from(vec![0, -1, 12345])
                    .with_precision_and_scale(5, 2)
                    .expect("dec"),
            ),
        ),
        column("list", Arc::new(lists)),
        column("points", Arc::new(point_lists)),
        column("map", Arc::new(maps.finish())),
        column("st", Arc::new(outer)),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

#[test]
fn every_type_round_trips_with_nulls() {
    let batch = every_type();
    let encoder = AvroEncoder::new(batch.schema()).expect("encoder");
    let mut datums = Vec::new();
    for row in 0..batch.num_rows() {
        let mut out = Vec::new();
        encoder.encode(&batch, row, &mut out).expect("encodes");
        datums.push(out);
    }
    // Through the schema object and through its JSON form, as a reader elsewhere would.
    let writers = [encoder.schema().clone(), parse(&encoder.schema().to_json())];
    for writer in &writers {
        let mut decoder = AvroDecoder::new(writer, batch.schema()).expect("decoder");
        for datum in &datums {
            decoder.append(datum).expect("decodes");
        }
        assert_eq!(decoder.len(), 3);
        let decoded = decoder.flush().expect("flush");
        assert_eq!(decoded, batch);
        assert!(decoder.is_empty());
    }
}

#[test]
fn decoded_values_are_the_encoded_ones() {
    let batch = every_type();
    let encoder = AvroEncoder::new(batch.schema()).expect("encoder");
    let mut decoder = AvroDecoder::new(encoder.schema(), batch.schema()).expect("decoder");
    let mut out = Vec::new();
    for row in 0..batch.num_rows() {
        out.clear();
        encoder.encode(&batch, row, &mut out).expect("encodes");
        decoder.append(&out).expect("decodes");
    }
    let decoded = decoder.flush().expect("flush");
    let get = |name: &str| decoded.column_by_name(name).expect("column").clone();
    let dec = get("dec");
    let dec = dec.as_any().downcast_ref::<Decimal128Array>().expect("dec");
    assert_eq!(
        (dec.value(0), dec.is_null(1), dec.value(2)),
        (10i128.pow(38) - 1, true, 1 - 10i128.pow(38))
    );
    assert_eq!(dec.value_as_string(2), "-9999999999999999999999999999.9999999999");
    let map = get("map");
    let map = map.as_any().downcast_ref::<MapArray>().expect("map");
    assert!(map.is_null(1));
    let entries = map.value(0);
    let keys = entries.column(0).as_any().downcast_ref::<StringArray>().expect("keys");
    let values = entries.column(1).as_any().downcast_ref::<Int32Array>().expect("values");
    assert_eq!((keys.value(0), keys.value(1)), ("x", "y"));
    assert_eq!((values.value(0), values.is_null(1)), (1, true));
    let st = get("st");
    let st = st.as_any().downcast_ref::<StructArray>().expect("struct");
    assert!(st.is_null(1) && st.is_valid(2));
    let inner = st.column(1).as_any().downcast_ref::<StructArray>().expect("inner");
    let s = inner.column(0).as_any().downcast_ref::<StringArray>().expect("s");
    assert_eq!((s.value(0), inner.is_null(2)), ("q", true));
    let list = get("list");
    let list = list.as_any().downcast_ref::<ListArray>().expect("list");
    assert_eq!(
        list.value(0).as_ref(),
        &Int64Array::from(vec![Some(1), None, Some(3)]) as &dyn Array
    );
    assert!(list.is_null(1) && list.is_valid(2) && list.value(2).is_empty());
    let ts = get("ts_ms");
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("+02:00".into()))
    );
}

#[test]
fn flush_resets_and_an_empty_flush_has_the_schema() {
    let writer = parse(r#"{"type":"record","name":"R","fields":[{"name":"v","type":"long"}]}"#);
    let target = schema_of(vec![Field::new("v", DataType::Int64, false)]);
    let mut decoder = AvroDecoder::new(&writer, target.clone()).expect("decoder");
    assert!(decoder.is_empty());
    let empty = decoder.flush().expect("flush");
    assert_eq!((empty.num_rows(), empty.schema()), (0, target.clone()));
    decoder.append(&[0x02]).expect("decodes");
    decoder.append(&[0x04]).expect("decodes");
    let first = decoder.flush().expect("flush");
    decoder.append(&[0x06]).expect("decodes");
    let second = decoder.flush().expect("flush");
    assert_eq!(first.column(0).as_ref(), &Int64Array::from(vec![1, 2]) as &dyn Array);
    assert_eq!(second.column(0).as_ref(), &Int64Array::from(vec![3]) as &dyn Array);
    // A target with no columns still counts rows.
    let mut nothing = AvroDecoder::new(&writer, schema_of(vec![])).expect("decoder");
    nothing.append(&[0x02]).expect("decodes");
    assert_eq!(nothing.flush().expect("flush").num_rows(), 1);
}

#[test]
fn sliced_batches_encode_their_own_rows() {
    let batch = every_type();
    let encoder = AvroEncoder::new(batch.schema()).expect("encoder");
    let (mut whole, mut sliced) = (Vec::new(), Vec::new());
    encoder.encode(&batch, 2, &mut whole).expect("encodes");
    encoder.encode(&batch.slice(1, 2), 1, &mut sliced).expect("encodes");
    assert_eq!(whole, sliced);
    let mut out = vec![1, 2, 3];
    assert!(encoder.encode(&batch, 3, &mut out).is_err(), "row out of range");
    assert_eq!(out, [1, 2, 3]);
}

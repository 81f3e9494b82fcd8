//! The file source on S3 (a moto server): bounded reads of JSON, CSV and Parquet objects,
//! restores mid-object, continuous discovery, and ranged reads across range boundaries.

use super::*;
use crate::blocking_store::BlockingStore;
use crate::s3_testkit::s3;
use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock, Drained};
use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use freshet_core::ManualClock;
use std::io::{BufRead, Read};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn config(url: &str, format: FileFormat) -> FileSourceConfig {
    FileSourceConfig {
        path: Location::parse(url).expect("url"),
        format,
        csv_header: format == FileFormat::Csv,
        ..FileSourceConfig::default()
    }
}

fn rows(d: &Drained) -> Vec<String> {
    d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)).collect()
}

/// Subtask `i` of `p` opened with `restored`, drained of at most `max_batches` batches of
/// `batch` rows; returns its rows, its snapshot and whether it finished.
fn read(
    cfg: &FileSourceConfig,
    i: u32,
    p: u32,
    restored: Vec<serde_json::Value>,
    batch: usize,
    max_batches: usize,
) -> (Vec<String>, Vec<serde_json::Value>, bool) {
    let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
    src.open(&mut source_ctx(i, p, restored, batch)).expect("open");
    let d = drain(&mut src, max_batches, 3).expect("drain");
    (rows(&d), src.snapshot(CheckpointId(1)).expect("snapshot"), d.finished)
}

fn parquet_bytes(ids: std::ops::Range<i64>) -> Vec<u8> {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.clone().collect::<Vec<_>>())),
            Arc::new(StringArray::from(ids.map(|i| format!("p{i}")).collect::<Vec<_>>())),
        ],
    )
    .expect("batch");
    let mut out = Vec::new();
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(2)).build();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    out
}

#[test]
fn bounded_reads_of_json_csv_and_parquet_objects_skip_hidden_ones() {
    let bucket = s3().bucket("source-formats");
    let s3 = s3();
    s3.put(&bucket, "json/a.json", b"{\"id\": 1, \"name\": \"one\"}\n{\"id\": 2}\n");
    s3.put(&bucket, "json/b.json", b"{\"id\": 3, \"name\": \"three\"}\n");
    s3.put(&bucket, "json/.b.json.inprogress", b"not json\n");
    s3.put(&bucket, "json/_SUCCESS", b"");
    s3.put(&bucket, "json/sub/c.json", b"{\"id\": 99}\n");
    s3.put(&bucket, "csv/a.csv", b"id,name\n4,four\n\n5,five");
    s3.put(&bucket, "csv/b.csv", b"id,name\n6,six\n");
    s3.put(&bucket, "parquet/a.parquet", &parquet_bytes(0..3));
    s3.put(&bucket, "parquet/b.parquet", &parquet_bytes(3..5));

    let (json, snap, finished) = read(
        &config("s3://source-formats/json", FileFormat::Json),
        0,
        1,
        vec![],
        10,
        100,
    );
    assert!(finished);
    assert_eq!(json, vec!["1|one", "2|null", "3|three"]);
    let paths: Vec<&str> = snap.iter().filter_map(|p| p["path"].as_str()).collect();
    assert_eq!(
        paths,
        vec!["s3://source-formats/json/a.json", "s3://source-formats/json/b.json"]
    );

    let (csv, _, finished) = read(
        &config("s3://source-formats/csv/", FileFormat::Csv),
        0,
        1,
        vec![],
        10,
        100,
    );
    assert!(finished);
    assert_eq!(csv, vec!["4|four", "5|five", "6|six"]);

    let (parquet, _, finished) = read(
        &config("s3://source-formats/parquet", FileFormat::Parquet),
        0,
        1,
        vec![],
        10,
        100,
    );
    assert!(finished);
    assert_eq!(parquet, vec!["0|p0", "1|p1", "2|p2", "3|p3", "4|p4"]);

    // A URL naming one object reads that object.
    let (one, _, _) = read(
        &config("s3://source-formats/csv/b.csv", FileFormat::Csv),
        0,
        1,
        vec![],
        10,
        100,
    );
    assert_eq!(one, vec!["6|six"]);
}

#[test]
fn a_restore_resumes_mid_object_without_duplicates() {
    let bucket = s3().bucket("source-restore");
    let lines: String = (0..5)
        .map(|i| format!("{{\"id\": {i}, \"name\": \"n{i}\"}}\n"))
        .collect();
    s3().put(&bucket, "in/a.json", lines.as_bytes());
    s3().put(&bucket, "in/b.parquet", &parquet_bytes(10..15));
    let expected = |ids: &[i64]| ids.iter().map(|i| format!("{i}|n{i}")).collect::<Vec<_>>();

    let json = config("s3://source-restore/in/a.json", FileFormat::Json);
    let (first, snap, finished) = read(&json, 0, 1, vec![], 1, 2);
    assert!(!finished);
    assert_eq!(first, expected(&[0, 1]));
    assert_eq!(snap[0]["path"], "s3://source-restore/in/a.json");
    assert_eq!(snap[0]["offset"], 48, "{snap:?}");
    let (rest, snap, finished) = read(&json, 0, 1, snap, 2, 100);
    assert!(finished);
    assert_eq!(rest, expected(&[2, 3, 4]));
    assert_eq!(snap[0]["done"], true);

    let parquet = config("s3://source-restore/in/b.parquet", FileFormat::Parquet);
    let (first, snap, _) = read(&parquet, 0, 1, vec![], 2, 1);
    assert_eq!(first, vec!["10|p10", "11|p11"]);
    let (rest, _, finished) = read(&parquet, 0, 1, snap, 2, 100);
    assert!(finished);
    assert_eq!(rest, vec!["12|p12", "13|p13", "14|p14"]);
}

#[test]
fn continuous_mode_adopts_new_objects() {
    let bucket = s3().bucket("source-watch");
    s3().put(&bucket, "in/1.json", b"{\"id\": 1}\n");
    let cfg = FileSourceConfig {
        monitor_interval_ms: Some(1000),
        ..config("s3://source-watch/in", FileFormat::Json)
    };
    let clock = ManualClock::new(0);
    let mut src = FileSource::new(schema(), cfg).expect("source");
    src.open(&mut source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 10))
        .expect("open");
    assert_eq!(rows(&drain(&mut src, 10, 3).expect("drain")), vec!["1|null"]);
    s3().put(&bucket, "in/2.json", b"{\"id\": 2}\n");
    clock.advance(1000);
    assert_eq!(rows(&drain(&mut src, 10, 3).expect("drain")), vec!["2|null"]);
}

#[test]
fn ranged_reads_cross_range_boundaries_from_any_offset() {
    let bucket = s3().bucket("source-ranges");
    let text: String = (0..50).map(|i| format!("line {i}\n")).collect();
    s3().put(&bucket, "in/t.txt", text.as_bytes());
    let store = BlockingStore::open("s3://source-ranges/in").expect("store");
    let path = store.path_of_url("s3://source-ranges/in/t.txt").expect("path");
    let size = text.len() as u64;
    for offset in [0, 3, 100] {
        let mut reader = ranged::RangedReader::new(store.clone(), path.clone(), size, offset, 7);
        let mut back = String::new();
        reader.read_to_string(&mut back).expect("read");
        assert_eq!(back, text[offset as usize..]);
    }
    let reader = ranged::RangedReader::new(store.clone(), path, size, 0, 5);
    let lines: Vec<String> = reader.lines().map(|l| l.expect("line")).collect();
    assert_eq!(lines.len(), 50);
    assert_eq!(lines[49], "line 49");
}

#[test]
fn errors_name_the_url() {
    // The server runs (and the environment points at it), so the error is the bucket's.
    let _ = s3();
    let cfg = config("s3://no-such-bucket/in", FileFormat::Json);
    let mut src = FileSource::new(schema(), cfg).expect("source");
    let e = src
        .open(&mut source_ctx(0, 1, vec![], 10))
        .expect_err("no bucket")
        .to_string();
    assert!(e.contains("s3://no-such-bucket/in"), "{e}");
}

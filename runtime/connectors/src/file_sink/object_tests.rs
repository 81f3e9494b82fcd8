//! The file sink on S3 (a moto server): commits on checkpoint completion, multipart uploads of
//! large files, and the recovery of a crashed run's uploads on restore, checked in the bucket
//! itself (objects, markers, and ListMultipartUploads).

use super::*;
use crate::s3_testkit::s3;
use crate::testkit::{op_ctx, task_info};
use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

fn ctx(run: &str, restored: Option<u64>) -> OperatorContext {
    let mut info = task_info(0, 1, run);
    info.restored_checkpoint = restored.map(CheckpointId);
    op_ctx(info)
}

fn batch(values: impl IntoIterator<Item = i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    let values: Vec<i64> = values.into_iter().collect();
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values))]).expect("batch")
}

fn json_lines(values: impl IntoIterator<Item = i64>) -> String {
    values.into_iter().map(|v| format!("{{\"v\":{v}}}\n")).collect()
}

/// A sink into `s3://{bucket}/out`, opened as `run` after a restore from `restored`.
fn open_sink(config: FileSinkConfig, run: &str, restored: Option<u64>) -> (FileSink, OperatorContext) {
    let mut c = ctx(run, restored);
    let mut sink = FileSink::new(config).expect("sink");
    sink.open(&mut c).expect("open");
    (sink, c)
}

fn config(bucket: &str) -> FileSinkConfig {
    FileSinkConfig::new(Location::parse(&format!("s3://{bucket}/out")).expect("url"))
}

fn write(sink: &mut FileSink, c: &mut OperatorContext, values: impl IntoIterator<Item = i64>) {
    sink.process_batch(0, batch(values), c, &mut Collector::new())
        .expect("write");
}

/// The committed objects below `out/`: (name, content).
fn visible(bucket: &str) -> Vec<(String, String)> {
    s3().keys(bucket, "out/")
        .into_iter()
        .filter(|k| !k.starts_with("out/."))
        .map(|k| {
            let content = String::from_utf8_lossy(&s3().get(bucket, &k)).into_owned();
            (k, content)
        })
        .collect()
}

fn markers(bucket: &str) -> Vec<String> {
    s3().keys(bucket, "out/.")
}

#[test]
fn objects_appear_with_their_exact_content_once_the_checkpoint_completes() {
    let bucket = s3().bucket("sink-commit");
    let (mut sink, mut c) = open_sink(config(&bucket), "r1", None);
    write(&mut sink, &mut c, [1, 2]);
    sink.snapshot(CheckpointId(1), &mut c).expect("snapshot");
    write(&mut sink, &mut c, [3]);
    assert!(
        visible(&bucket).is_empty(),
        "nothing is visible before the checkpoint completes"
    );
    assert_eq!(
        markers(&bucket),
        vec!["out/.part-r1-0-0.upload", "out/.part-r1-0-1.upload"]
    );
    sink.notify_checkpoint_complete(CheckpointId(1), &mut c)
        .expect("commit");
    assert_eq!(
        visible(&bucket),
        vec![("out/part-r1-0-0.jsonl".to_string(), json_lines([1, 2]))]
    );
    sink.end_of_input(&mut c, &mut Collector::new()).expect("end");
    sink.notify_checkpoint_complete(CheckpointId(2), &mut c)
        .expect("commit");
    assert_eq!(
        visible(&bucket),
        vec![
            ("out/part-r1-0-0.jsonl".to_string(), json_lines([1, 2])),
            ("out/part-r1-0-1.jsonl".to_string(), json_lines([3])),
        ]
    );
    assert!(markers(&bucket).is_empty(), "{:?}", markers(&bucket));
    assert!(s3().uploads(&bucket).is_empty());
}

#[test]
fn a_file_larger_than_the_part_size_goes_up_in_parts_and_comes_back_whole() {
    let bucket = s3().bucket("sink-parts");
    let mut cfg = config(&bucket);
    cfg.part_bytes = MIN_PART_BYTES;
    let (mut sink, mut c) = open_sink(cfg, "r1", None);
    // About 12.4 MB of JSON lines: two parts of 5 MiB and a last one.
    let rows = 0..1_000_000i64;
    for chunk in 0..10 {
        write(&mut sink, &mut c, rows.clone().skip(chunk * 100_000).take(100_000));
    }
    // Full parts went up while writing: the upload exists, nothing is visible yet.
    assert_eq!(s3().uploads(&bucket), vec!["out/part-r1-0-0.jsonl"]);
    sink.snapshot(CheckpointId(1), &mut c).expect("snapshot");
    sink.notify_checkpoint_complete(CheckpointId(1), &mut c)
        .expect("commit");
    let objects = s3().objects(&bucket, "out/");
    assert_eq!(objects.len(), 1, "{objects:?}");
    let (key, etag) = &objects[0];
    // S3 gives an object assembled from parts an ETag ending in `-{parts}`.
    assert!(etag.ends_with("-3"), "{etag}");
    let expected = json_lines(rows);
    assert!(expected.len() > 2 * MIN_PART_BYTES as usize, "{} bytes", expected.len());
    assert!(
        s3().get(&bucket, key) == expected.as_bytes(),
        "the object differs from what was written"
    );
    assert!(s3().uploads(&bucket).is_empty());
}

#[test]
fn a_restore_completes_the_crashed_runs_covered_upload_and_aborts_its_open_one() {
    let bucket = s3().bucket("sink-crash");
    {
        let (mut sink, mut c) = open_sink(config(&bucket), "r1", None);
        write(&mut sink, &mut c, [1, 2]);
        sink.snapshot(CheckpointId(1), &mut c).expect("snapshot"); // completes, unnotified
        write(&mut sink, &mut c, [3]); // in progress at the crash
    } // the crash: dropped without another call
    assert!(visible(&bucket).is_empty());
    assert_eq!(s3().uploads(&bucket).len(), 2, "one pending, one in progress");
    let (_sink, _c) = open_sink(config(&bucket), "r2", Some(1));
    assert_eq!(
        visible(&bucket),
        vec![("out/part-r1-0-0.jsonl".to_string(), json_lines([1, 2]))]
    );
    assert!(s3().uploads(&bucket).is_empty(), "{:?}", s3().uploads(&bucket));
    assert!(markers(&bucket).is_empty(), "{:?}", markers(&bucket));
}

#[test]
fn a_restore_from_an_earlier_checkpoint_aborts_the_later_pending_upload() {
    let bucket = s3().bucket("sink-earlier");
    {
        let (mut sink, mut c) = open_sink(config(&bucket), "r1", None);
        write(&mut sink, &mut c, [1]);
        sink.snapshot(CheckpointId(1), &mut c).expect("snapshot");
        sink.notify_checkpoint_complete(CheckpointId(1), &mut c)
            .expect("commit");
        write(&mut sink, &mut c, [2]);
        sink.snapshot(CheckpointId(2), &mut c).expect("snapshot"); // never completes
        write(&mut sink, &mut c, [3]);
        sink.end_of_input(&mut c, &mut Collector::new()).expect("end"); // pending on 3
    }
    assert_eq!(s3().uploads(&bucket).len(), 2);
    let (_sink, _c) = open_sink(config(&bucket), "r2", Some(1));
    assert_eq!(
        visible(&bucket),
        vec![("out/part-r1-0-0.jsonl".to_string(), json_lines([1]))]
    );
    assert!(s3().uploads(&bucket).is_empty(), "{:?}", s3().uploads(&bucket));
    assert!(markers(&bucket).is_empty(), "{:?}", markers(&bucket));
}

#[test]
fn recovery_accepts_an_upload_completed_before_the_crash() {
    let bucket = s3().bucket("sink-idempotent");
    let (mut sink, mut c) = open_sink(config(&bucket), "r1", None);
    write(&mut sink, &mut c, [7]);
    sink.snapshot(CheckpointId(1), &mut c).expect("snapshot");
    let marker = s3().get(&bucket, "out/.part-r1-0-0.upload");
    sink.notify_checkpoint_complete(CheckpointId(1), &mut c)
        .expect("commit");
    drop(sink);
    // A crash between completing the upload and deleting its marker leaves the marker.
    s3().put(&bucket, "out/.part-r1-0-0.upload", &marker);
    let (_sink, _c) = open_sink(config(&bucket), "r2", Some(1));
    assert_eq!(
        visible(&bucket),
        vec![("out/part-r1-0-0.jsonl".to_string(), json_lines([7]))]
    );
    assert!(markers(&bucket).is_empty(), "{:?}", markers(&bucket));
}

#[test]
fn a_lost_upload_fails_the_restore_naming_the_object_and_marker() {
    let bucket = s3().bucket("sink-lost");
    let marker = r#"{"object":"part-r1-0-0.jsonl","upload_id":"gone","state":"pending","checkpoint":1,"parts":["x"]}"#;
    s3().put(&bucket, "out/.part-r1-0-0.upload", marker.as_bytes());
    let mut sink = FileSink::new(config(&bucket)).expect("sink");
    let e = sink.open(&mut ctx("r2", Some(1))).expect_err("lost data").to_string();
    assert!(
        e.contains("s3://sink-lost/out/part-r1-0-0.jsonl") && e.contains("s3://sink-lost/out/.part-r1-0-0.upload"),
        "{e}"
    );
}

#[test]
fn parquet_objects_are_complete_once_committed() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bucket = s3().bucket("sink-parquet");
    let mut cfg = config(&bucket);
    cfg.format = FileFormat::Parquet;
    let (mut sink, mut c) = open_sink(cfg, "r1", None);
    write(&mut sink, &mut c, [1, 2, 3]);
    write(&mut sink, &mut c, [4]);
    sink.snapshot(CheckpointId(1), &mut c).expect("snapshot");
    sink.notify_checkpoint_complete(CheckpointId(1), &mut c)
        .expect("commit");
    let data = bytes::Bytes::from(s3().get(&bucket, "out/part-r1-0-0.parquet"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .expect("a Parquet file")
        .build()
        .expect("reader");
    let mut values = Vec::new();
    for b in reader {
        let b = b.expect("batch");
        let column = b.column(0).as_any().downcast_ref::<Int64Array>().expect("int64");
        values.extend(column.values().iter().copied());
    }
    assert_eq!(values, vec![1, 2, 3, 4]);
}

#[test]
fn part_size_is_an_option_within_s3_limits() {
    let options = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let c =
        FileSinkConfig::from_options(&options(&[("path", "s3://b/out"), ("sink.part-size", "8mb")])).expect("options");
    assert_eq!(c.part_bytes, 8 << 20);
    assert_eq!(c.path, Location::Url("s3://b/out".into()));
    let e = FileSinkConfig::from_options(&options(&[("path", "s3://b/out"), ("sink.part-size", "1mb")]))
        .expect_err("too small")
        .to_string();
    assert!(e.contains("5 MiB"), "{e}");
    let e = FileSinkConfig::from_options(&options(&[
        ("path", "s3://b/out"),
        ("sink.part-size", "5mb"),
        ("sink.rolling-policy.file-size", "100000000000"),
    ]))
    .expect_err("too many parts")
    .to_string();
    assert!(e.contains("10000 parts"), "{e}");
    let e = FileSinkConfig::from_options(&options(&[("path", "ftp://b/out")]))
        .expect_err("scheme")
        .to_string();
    assert!(e.contains("ftp"), "{e}");
}

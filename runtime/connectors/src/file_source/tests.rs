//! Tests of the file sources: formats, ownership, restore mid-file, continuous discovery and
//! error messages.

use super::*;
use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock, Drained};
use arrow::datatypes::{DataType, Field, Schema};
use freshet_core::ManualClock;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
}

/// Writes `name` and sets its modification time to `mtime`.
fn write_with_mtime(dir: &Path, name: &str, text: &str, mtime: SystemTime) {
    write(dir, name, text);
    std::fs::File::options()
        .write(true)
        .open(dir.join(name))
        .and_then(|f| f.set_modified(mtime))
        .unwrap_or_else(|e| panic!("set mtime of {name}: {e}"));
}

/// Every row a drain produced, in order.
fn rows(d: &Drained) -> Vec<String> {
    d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)).collect()
}

fn csv_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.csv", "id,name\n1,one\n2,two\n3,three\n");
    write(dir.path(), "b.csv", "id,name\n4,four\n\n5,five");
    write(dir.path(), "c.csv", "id,name\n6,six\n");
    write(dir.path(), ".hidden.csv", "id,name\nbad,row\n");
    write(dir.path(), "_tmp.csv", "id,name\nbad,row\n");
    dir
}

fn csv_config(dir: &Path) -> FileSourceConfig {
    FileSourceConfig {
        path: dir.into(),
        format: FileFormat::Csv,
        csv_header: true,
        ..FileSourceConfig::default()
    }
}

fn continuous_config(dir: &Path, interval_ms: u64) -> FileSourceConfig {
    FileSourceConfig {
        path: dir.into(),
        monitor_interval_ms: Some(interval_ms),
        ..FileSourceConfig::default()
    }
}

/// Subtask `i` of `p` of a source on `clock`, opened with `restored` items and batches of
/// `batch` rows.
fn open_on_clock(
    config: &FileSourceConfig,
    i: u32,
    p: u32,
    clock: &ManualClock,
    restored: Vec<serde_json::Value>,
    batch: usize,
) -> FileSource {
    let mut src = FileSource::new(schema(), config.clone()).expect("source");
    let mut ctx = source_ctx_with_clock(i, p, Arc::new(clock.clone()), batch);
    ctx.restored = restored;
    src.open(&mut ctx).expect("open");
    src
}

/// Deals snapshot items round-robin over `p` subtasks, as the engine does when a restore
/// changes the parallelism.
fn deal(items: &[serde_json::Value], p: usize) -> Vec<Vec<serde_json::Value>> {
    (0..p)
        .map(|i| items.iter().skip(i).step_by(p).cloned().collect())
        .collect()
}

/// One run of a continuous source: subtask `i` opens with `shares[i]`, reads at most
/// `max_batches` batches of one row, and snapshots. Returns the rows read and each subtask's
/// items.
fn continuous_run(
    config: &FileSourceConfig,
    clock: &ManualClock,
    shares: Vec<Vec<serde_json::Value>>,
    max_batches: usize,
) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
    let p = shares.len() as u32;
    let mut seen = Vec::new();
    let mut items = Vec::new();
    for (i, share) in shares.into_iter().enumerate() {
        let mut src = open_on_clock(config, i as u32, p, clock, share, 1);
        let d = drain(&mut src, max_batches, 5).expect("drain");
        assert!(!d.finished, "a continuous source never finishes");
        seen.extend(rows(&d));
        items.push(src.snapshot(CheckpointId(1)).expect("snapshot"));
    }
    (seen, items)
}

/// Writes `f{i}.json` for each `i`, two JSON lines each (ids `i` and `i + 100`); returns the
/// rows they hold.
fn two_line_files(dir: &Path, names: impl IntoIterator<Item = u32>) -> Vec<String> {
    let mut expected = Vec::new();
    for i in names {
        write(
            dir,
            &format!("f{i}.json"),
            &format!("{{\"id\": {i}}}\n{{\"id\": {}}}\n", i + 100),
        );
        expected.extend([format!("{i}|null"), format!("{}|null", i + 100)]);
    }
    expected
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

fn read_all(
    config: &FileSourceConfig,
    i: u32,
    p: u32,
    restored: Vec<serde_json::Value>,
    batch: usize,
) -> (Vec<String>, Vec<serde_json::Value>) {
    let mut src = FileSource::new(schema(), config.clone()).expect("source");
    src.open(&mut source_ctx(i, p, restored, batch)).expect("open");
    let d = drain(&mut src, usize::MAX, 3).expect("drain");
    assert!(d.finished);
    (rows(&d), src.snapshot(CheckpointId(9)).expect("snapshot"))
}

fn all_rows() -> Vec<String> {
    ["1|one", "2|two", "3|three", "4|four", "5|five", "6|six"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn bounded_csv_directory_with_headers() {
    let dir = csv_dir();
    let mut src = FileSource::new(schema(), csv_config(dir.path())).expect("source");
    assert_eq!(
        src.open(&mut source_ctx(0, 1, Vec::new(), 2)).expect("open"),
        vec![0, 1, 2]
    );
    let d = drain(&mut src, usize::MAX, 3).expect("drain");
    assert!(d.finished);
    assert_eq!(d.finished_splits, vec![0, 1, 2]);
    assert_eq!(rows(&d), all_rows());
    assert_eq!(d.batches.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![0, 0, 1, 2]);
}

#[test]
fn files_are_dealt_by_index() {
    let dir = csv_dir();
    let (r0, _) = read_all(&csv_config(dir.path()), 0, 2, Vec::new(), 10);
    let (r1, _) = read_all(&csv_config(dir.path()), 1, 2, Vec::new(), 10);
    assert_eq!(r0, vec!["1|one", "2|two", "3|three", "6|six"]);
    assert_eq!(r1, vec!["4|four", "5|five"]);
}

#[test]
fn single_json_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "x.jsonl", "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2}\n");
    let cfg = FileSourceConfig {
        path: dir.path().join("x.jsonl").into(),
        ..FileSourceConfig::default()
    };
    let (rows, snap) = read_all(&cfg, 0, 1, Vec::new(), 10);
    assert_eq!(rows, vec!["1|a", "2|null"]);
    assert_eq!(snap[0]["done"], true);
    assert_eq!(snap[0]["offset"], 33);
}

#[test]
fn restore_mid_file_without_duplicates_even_rescaled() {
    let dir = csv_dir();
    let cfg = csv_config(dir.path());
    for new_p in [1u32, 2, 3] {
        let mut seen = Vec::new();
        let mut items = Vec::new();
        for i in 0..2 {
            let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
            src.open(&mut source_ctx(i, 2, Vec::new(), 2)).expect("open");
            let d = drain(&mut src, 1, 3).expect("drain");
            seen.extend(rows(&d));
            items.extend(src.snapshot(CheckpointId(1)).expect("snapshot"));
        }
        assert_eq!(items[0]["offset"], 20, "{items:?}");
        assert_eq!(items[0]["line"], 3);
        for (i, mine) in deal(&items, new_p as usize).into_iter().enumerate() {
            seen.extend(read_all(&cfg, i as u32, new_p, mine, 2).0);
        }
        seen.sort();
        assert_eq!(seen, all_rows(), "into parallelism {new_p}");
    }
}

#[test]
fn malformed_lines_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "bad.csv", "id,name\n1,one\n2,two\nthree,3\n");
    let mut src = FileSource::new(schema(), csv_config(dir.path())).expect("source");
    src.open(&mut source_ctx(0, 1, Vec::new(), 100)).expect("open");
    let err = drain(&mut src, 10, 3).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("bad.csv") && err.contains("line 4"), "{err}");

    write(dir.path(), "bad.json", "{\"id\": 1}\n{\"id\": 2}\n{\"id\": \n");
    let cfg = FileSourceConfig {
        path: dir.path().join("bad.json").into(),
        ..FileSourceConfig::default()
    };
    let mut src = FileSource::new(schema(), cfg).expect("source");
    src.open(&mut source_ctx(0, 1, Vec::new(), 2)).expect("open");
    let err = drain(&mut src, 10, 3).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("bad.json") && err.contains("line 3"), "{err}");
}

#[test]
fn continuous_discovers_new_files_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = continuous_config(dir.path(), 1000);
    write(dir.path(), "1.json", "{\"id\": 1}\n{\"id\": 2}\n");
    let clock = ManualClock::new(0);
    let mut src = open_on_clock(&cfg, 0, 1, &clock, Vec::new(), 10);
    let d = drain(&mut src, 100, 5).expect("drain");
    assert!(!d.finished);
    assert_eq!(rows(&d), vec!["1|null", "2|null"]);
    write(dir.path(), "2.json", "{\"id\": 3}\n");
    assert!(
        drain(&mut src, 100, 5).expect("drain").batches.is_empty(),
        "not before the interval"
    );
    clock.advance(1000);
    assert_eq!(rows(&drain(&mut src, 100, 5).expect("drain")), vec!["3|null"]);
    let items = src.snapshot(CheckpointId(3)).expect("snapshot");

    // A restored run reads only what is new.
    write(dir.path(), "3.json", "{\"id\": 4}\n");
    let mut src = open_on_clock(&cfg, 0, 1, &clock, items, 10);
    assert_eq!(rows(&drain(&mut src, 100, 5).expect("drain")), vec!["4|null"]);
}

#[test]
fn options() {
    let o = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let c = FileSourceConfig::from_options(&o(&[
        ("connector", "filesystem"),
        ("path", "/data"),
        ("format", "csv"),
        ("csv.header", "true"),
        ("csv.field-delimiter", ";"),
        ("source.monitor-interval", "10s"),
    ]))
    .expect("options");
    assert_eq!(
        (c.format, c.csv_header, c.csv_delimiter, c.monitor_interval_ms),
        (FileFormat::Csv, true, ';', Some(10_000))
    );
    let err = |pairs: &[(&str, &str)]| {
        FileSourceConfig::from_options(&o(pairs))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(&[("format", "csv")]).contains("'path'"));
    assert!(err(&[("path", "/x"), ("format", "avro")]).contains("'format'"));
    assert_eq!(
        FileSourceConfig::from_options(&o(&[("path", "/x"), ("format", "parquet")]))
            .expect("parquet")
            .format,
        FileFormat::Parquet
    );
    assert!(err(&[("path", "/x"), ("poll", "1")]).contains("source.monitor-interval"));
}

#[test]
fn continuous_restore_into_another_parallelism_reads_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = continuous_config(dir.path(), 10);
    let clock = ManualClock::new(0);
    let mut expected = two_line_files(dir.path(), 0..8);
    // Read a few rows: some files done, one mid-file, some not started.
    let (mut seen, items) = continuous_run(&cfg, &clock, vec![Vec::new(); 2], 3);
    // A file arriving after the checkpoint, newer than anything listed before.
    write_with_mtime(
        dir.path(),
        "late.json",
        "{\"id\": 999}\n",
        SystemTime::now() + Duration::from_secs(10),
    );
    expected.push("999|null".into());
    let (rest, _) = continuous_run(&cfg, &clock, deal(&items.concat(), 3), 100);
    seen.extend(rest);
    assert_eq!(sorted(seen), sorted(expected));
}

/// Files moved in with their old modification time (`mv` keeps it) after a restore into
/// another parallelism are still new: whichever subtask now discovers them knows exactly which
/// files the old run had taken, whatever their times.
#[test]
fn continuous_rescale_reads_files_with_old_mtimes_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = continuous_config(dir.path(), 10);
    let clock = ManualClock::new(0);
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let mut expected = two_line_files(dir.path(), 0..6);
    let (mut seen, items) = continuous_run(&cfg, &clock, vec![Vec::new(); 2], 4);

    // 2 -> 3 subtasks; meanwhile old files arrive (and one with a recent time).
    for i in 10..16 {
        let name = format!("old{i}.json");
        write_with_mtime(dir.path(), &name, &format!("{{\"id\": {i}}}\n"), long_ago);
        expected.push(format!("{i}|null"));
    }
    write(dir.path(), "recent.json", "{\"id\": 50}\n");
    expected.push("50|null".into());
    let (rows3, items) = continuous_run(&cfg, &clock, deal(&items.concat(), 3), 5);
    seen.extend(rows3);

    // 3 -> 1 subtask, with another old file; the single subtask then reads everything left.
    write_with_mtime(dir.path(), "old99.json", "{\"id\": 99}\n", long_ago);
    expected.push("99|null".into());
    let (rows1, items) = continuous_run(&cfg, &clock, deal(&items.concat(), 1), 1000);
    seen.extend(rows1);
    assert_eq!(sorted(seen.clone()), sorted(expected.clone()), "each file exactly once");

    // And back to the same parallelism: nothing is read again.
    let (again, _) = continuous_run(&cfg, &clock, items, 1000);
    assert!(again.is_empty(), "{again:?}");
}

/// Writes a Parquet file whose columns differ from [`schema`] in order, case and types: an
/// extra column, `NAME` before `id`, and `id` as a 32-bit integer; rows `first..first + n`
/// in row groups of 3.
fn write_parquet(dir: &Path, name: &str, first: i32, n: i32) {
    use arrow::array::{Float64Array, Int32Array, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let file_schema = Arc::new(Schema::new(vec![
        Field::new("extra", DataType::Float64, false),
        Field::new("NAME", DataType::Utf8, true),
        Field::new("id", DataType::Int32, false),
    ]));
    let ids: Vec<i32> = (first..first + n).collect();
    let batch = arrow::record_batch::RecordBatch::try_new(
        file_schema.clone(),
        vec![
            Arc::new(Float64Array::from(ids.iter().map(|&i| i as f64).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                ids.iter()
                    .map(|i| (i % 2 == 0).then(|| format!("n{i}")))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int32Array::from(ids)),
        ],
    )
    .expect("batch");
    let file = std::fs::File::create(dir.join(name)).expect("create parquet");
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(3)).build();
    let mut writer = ArrowWriter::try_new(file, file_schema, Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

fn parquet_rows(ids: std::ops::Range<i32>) -> Vec<String> {
    ids.map(|i| {
        if i % 2 == 0 {
            format!("{i}|n{i}")
        } else {
            format!("{i}|null")
        }
    })
    .collect()
}

#[test]
fn parquet_columns_are_matched_by_name_and_cast() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_parquet(dir.path(), "a.parquet", 0, 7);
    let cfg = FileSourceConfig {
        path: dir.path().join("a.parquet").into(),
        format: FileFormat::Parquet,
        ..FileSourceConfig::default()
    };
    let (rows, snap) = read_all(&cfg, 0, 1, Vec::new(), 2);
    assert_eq!(rows, parquet_rows(0..7));
    assert_eq!(
        (snap[0]["offset"].clone(), snap[0]["done"].clone()),
        (7.into(), true.into())
    );
}

#[test]
fn parquet_restores_mid_file_without_duplicates_even_rescaled() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_parquet(dir.path(), "a.parquet", 0, 8);
    write_parquet(dir.path(), "b.parquet", 8, 5);
    let cfg = FileSourceConfig {
        path: dir.path().to_path_buf().into(),
        format: FileFormat::Parquet,
        ..FileSourceConfig::default()
    };
    for new_p in [1u32, 3] {
        let mut seen = Vec::new();
        let mut items = Vec::new();
        for i in 0..2 {
            let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
            src.open(&mut source_ctx(i, 2, Vec::new(), 2)).expect("open");
            // Two batches of two rows: mid-file, across a row-group boundary next.
            let d = drain(&mut src, 2, 3).expect("drain");
            seen.extend(rows(&d));
            items.extend(src.snapshot(CheckpointId(1)).expect("snapshot"));
        }
        assert_eq!(items[0]["offset"], 4, "{items:?}");
        for (i, mine) in deal(&items, new_p as usize).into_iter().enumerate() {
            seen.extend(read_all(&cfg, i as u32, new_p, mine, 2).0);
        }
        assert_eq!(sorted(seen), sorted(parquet_rows(0..13)), "into parallelism {new_p}");
    }
}

#[test]
fn parquet_errors_name_the_file_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_parquet(dir.path(), "a.parquet", 0, 2);
    write(dir.path(), "b.parquet", "not parquet");
    let open = |name: &str, schema: SchemaRef| {
        let cfg = FileSourceConfig {
            path: dir.path().join(name).into(),
            format: FileFormat::Parquet,
            ..FileSourceConfig::default()
        };
        let mut src = FileSource::new(schema, cfg).expect("source");
        src.open(&mut source_ctx(0, 1, Vec::new(), 2)).expect("open");
        drain(&mut src, usize::MAX, 3)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let missing = Arc::new(Schema::new(vec![Field::new("price", DataType::Int64, false)]));
    let e = open("a.parquet", missing);
    assert!(
        e.contains("a.parquet") && e.contains("no column 'price'") && e.contains("extra, NAME, id"),
        "{e}"
    );
    let e = open("b.parquet", schema());
    assert!(e.contains("b.parquet") && e.contains("unreadable Parquet"), "{e}");
}

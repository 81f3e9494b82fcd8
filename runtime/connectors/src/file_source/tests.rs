//! Tests of the file sources: formats, ownership, restore mid-file, continuous discovery and
//! error messages.

use super::*;
use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock};
use arrow::datatypes::{DataType, Field, Schema};
use freshet_core::ManualClock;
use std::path::Path;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
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
        path: dir.to_path_buf(),
        format: FileFormat::Csv,
        csv_header: true,
        ..FileSourceConfig::default()
    }
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
    let rows = d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)).collect();
    (rows, src.snapshot(CheckpointId(9)).expect("snapshot"))
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
    let rows: Vec<String> = d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)).collect();
    assert_eq!(rows, all_rows());
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
        path: dir.path().join("x.jsonl"),
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
            seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
            items.extend(src.snapshot(CheckpointId(1)).expect("snapshot"));
        }
        assert_eq!(items[0]["offset"], 20, "{items:?}");
        assert_eq!(items[0]["line"], 3);
        for i in 0..new_p as usize {
            let mine: Vec<_> = items.iter().skip(i).step_by(new_p as usize).cloned().collect();
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
        path: dir.path().join("bad.json"),
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
    let cfg = FileSourceConfig {
        path: dir.path().to_path_buf(),
        monitor_interval_ms: Some(1000),
        ..FileSourceConfig::default()
    };
    write(dir.path(), "1.json", "{\"id\": 1}\n{\"id\": 2}\n");
    let clock = ManualClock::new(0);
    let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
    assert!(src
        .open(&mut source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 10))
        .expect("open")
        .is_empty());
    let d = drain(&mut src, 100, 5).expect("drain");
    assert!(!d.finished);
    assert_eq!(
        d.batches
            .iter()
            .flat_map(|(_, b)| rows_as_strings(b))
            .collect::<Vec<_>>(),
        vec!["1|null", "2|null"]
    );
    write(dir.path(), "2.json", "{\"id\": 3}\n");
    assert!(
        drain(&mut src, 100, 5).expect("drain").batches.is_empty(),
        "not before the interval"
    );
    clock.advance(1000);
    let d = drain(&mut src, 100, 5).expect("drain");
    assert_eq!(
        d.batches
            .iter()
            .flat_map(|(_, b)| rows_as_strings(b))
            .collect::<Vec<_>>(),
        vec!["3|null"]
    );
    let items = src.snapshot(CheckpointId(3)).expect("snapshot");
    assert_eq!(items.len(), 2);

    // A restored run reads only what is new.
    write(dir.path(), "3.json", "{\"id\": 4}\n");
    let mut src = FileSource::new(schema(), cfg).expect("source");
    let mut ctx = source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 10);
    ctx.restored = items;
    src.open(&mut ctx).expect("open");
    let d = drain(&mut src, 100, 5).expect("drain");
    assert_eq!(
        d.batches
            .iter()
            .flat_map(|(_, b)| rows_as_strings(b))
            .collect::<Vec<_>>(),
        vec!["4|null"]
    );
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
    assert!(err(&[("path", "/x"), ("format", "parquet")]).contains("'format'"));
    assert!(err(&[("path", "/x"), ("poll", "1")]).contains("source.monitor-interval"));
}

#[test]
fn continuous_restore_into_another_parallelism_reads_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = FileSourceConfig {
        path: dir.path().to_path_buf(),
        monitor_interval_ms: Some(10),
        ..FileSourceConfig::default()
    };
    for i in 0..8 {
        write(
            dir.path(),
            &format!("f{i}.json"),
            &format!("{{\"id\": {i}}}\n{{\"id\": {}}}\n", i + 100),
        );
    }
    let clock = ManualClock::new(0);
    let mut seen = Vec::new();
    let mut items = Vec::new();
    for i in 0..2 {
        let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
        src.open(&mut source_ctx_with_clock(i, 2, Arc::new(clock.clone()), 1))
            .expect("open");
        // Read a few rows: some files done, one mid-file, some not started.
        let d = drain(&mut src, 3, 5).expect("drain");
        seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
        items.extend(src.snapshot(CheckpointId(1)).expect("snapshot"));
    }
    // A file arriving after the checkpoint, newer than anything listed before.
    write(dir.path(), "late.json", "{\"id\": 999}\n");
    let late = std::fs::File::options()
        .write(true)
        .open(dir.path().join("late.json"))
        .expect("open");
    late.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .expect("mtime");
    for i in 0..3usize {
        let mine: Vec<_> = items.iter().skip(i).step_by(3).cloned().collect();
        let mut src = FileSource::new(schema(), cfg.clone()).expect("source");
        let mut ctx = source_ctx_with_clock(i as u32, 3, Arc::new(clock.clone()), 10);
        ctx.restored = mine;
        src.open(&mut ctx).expect("open");
        let d = drain(&mut src, 100, 5).expect("drain");
        assert!(!d.finished);
        seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
    }
    seen.sort();
    let mut expected: Vec<String> = (0..8)
        .flat_map(|i| [format!("{i}|null"), format!("{}|null", i + 100)])
        .collect();
    expected.push("999|null".into());
    expected.sort();
    assert_eq!(seen, expected);
}

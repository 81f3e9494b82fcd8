use super::*;
use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use freshet_core::{KeyGroupRange, ManualClock, OperatorUid, SubtaskIndex};
use freshet_dataflow::TaskInfo;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn ctx(dir: &Path, run: &str, restored: Option<u64>) -> OperatorContext {
    let info = TaskInfo {
        job_name: "t".into(),
        operator_uid: OperatorUid::new("sink"),
        operator_name: "sink".into(),
        subtask: SubtaskIndex(0),
        parallelism: 1,
        max_parallelism: 128,
        key_groups: KeyGroupRange::all(128),
        run_id: run.into(),
        restored_checkpoint: restored.map(CheckpointId),
        restored_finished: false,
    };
    OperatorContext::new(info, None, Arc::new(ManualClock::new(0)), dir.join("local"), vec![]).unwrap()
}

fn batch(values: &[i64]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
}

fn visible(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().is_file() {
            lines.extend(std::fs::read_to_string(e.path()).unwrap().lines().map(str::to_string));
        }
    }
    lines.sort();
    lines
}

fn hidden_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

fn sink(dir: &Path) -> FileSink {
    FileSink::new(FileSinkConfig::new(dir.to_path_buf())).unwrap()
}

#[test]
fn data_is_visible_only_after_its_checkpoint_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut c = ctx(tmp.path(), "r1", None);
    let mut s = sink(&out);
    let mut col = Collector::new();
    s.open(&mut c).unwrap();
    s.process_batch(0, batch(&[1, 2]), &mut c, &mut col).unwrap();
    s.snapshot(CheckpointId(1), &mut c).unwrap();
    s.process_batch(0, batch(&[3]), &mut c, &mut col).unwrap();
    assert!(visible(&out).is_empty());
    s.notify_checkpoint_complete(CheckpointId(1), &mut c).unwrap();
    assert_eq!(visible(&out), vec![r#"{"v":1}"#, r#"{"v":2}"#]);
    s.end_of_input(&mut c, &mut col).unwrap();
    s.notify_checkpoint_complete(CheckpointId(2), &mut c).unwrap();
    assert_eq!(visible(&out).len(), 3);
    assert_eq!(hidden_count(&out), 0);
}

#[test]
fn restore_commits_covered_pending_files_and_deletes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut col = Collector::new();
    {
        let mut c = ctx(tmp.path(), "r1", None);
        let mut s = sink(&out);
        s.open(&mut c).unwrap();
        s.process_batch(0, batch(&[1]), &mut c, &mut col).unwrap();
        s.snapshot(CheckpointId(1), &mut c).unwrap(); // completed, but the notification is lost
        s.process_batch(0, batch(&[2]), &mut c, &mut col).unwrap();
        s.snapshot(CheckpointId(2), &mut c).unwrap(); // never completes
        s.process_batch(0, batch(&[3]), &mut c, &mut col).unwrap(); // in progress at the crash
        s.end_of_input(&mut c, &mut col).unwrap(); // pending-3: no checkpoint 3 completed
    }
    assert!(visible(&out).is_empty());
    let mut c = ctx(tmp.path(), "r2", Some(1));
    let mut s = sink(&out);
    s.open(&mut c).unwrap();
    assert_eq!(visible(&out), vec![r#"{"v":1}"#]);
    assert_eq!(hidden_count(&out), 0, "uncovered files of the crashed run are gone");
}

#[test]
fn fresh_start_deletes_leftovers_and_options_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(".part-old-0-0.pending-4"), "x").unwrap();
    let mut c = ctx(tmp.path(), "r9", None);
    sink(&out).open(&mut c).unwrap();
    assert_eq!(hidden_count(&out), 0);
    let mut opts = BTreeMap::new();
    opts.insert("path".to_string(), "/tmp/x".to_string());
    opts.insert("colour".to_string(), "red".to_string());
    let err = FileSinkConfig::from_options(&opts).unwrap_err().to_string();
    assert!(err.contains("colour") && err.contains("path"), "{err}");
}

#[test]
fn parquet_files_are_complete_and_readable_once_committed() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut c = ctx(tmp.path(), "r1", None);
    let mut config = FileSinkConfig::new(out.clone());
    config.format = FileFormat::Parquet;
    let mut s = FileSink::new(config).unwrap();
    let mut col = Collector::new();
    s.open(&mut c).unwrap();
    s.process_batch(0, batch(&[1, 2, 3]), &mut c, &mut col).unwrap();
    s.process_batch(0, batch(&[4]), &mut c, &mut col).unwrap();
    s.snapshot(CheckpointId(1), &mut c).unwrap();
    s.process_batch(0, batch(&[5]), &mut c, &mut col).unwrap();
    s.notify_checkpoint_complete(CheckpointId(1), &mut c).unwrap();
    let committed: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(committed.len(), 1, "only checkpoint 1's file is visible");
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&committed[0]).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut values = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        values.extend(column.values().iter().copied());
    }
    assert_eq!(values, vec![1, 2, 3, 4]);
}

#[test]
fn parquet_is_a_format_option() {
    let mut options = BTreeMap::new();
    options.insert("path".to_string(), "/tmp/x".to_string());
    options.insert("format".to_string(), "parquet".to_string());
    assert_eq!(
        FileSinkConfig::from_options(&options).unwrap().format,
        FileFormat::Parquet
    );
    options.insert("format".to_string(), "orc".to_string());
    let e = FileSinkConfig::from_options(&options).unwrap_err().to_string();
    assert!(e.contains("json, csv or parquet"), "{e}");
}

#[test]
fn the_connector_key_is_accepted_like_everywhere() {
    let mut options = BTreeMap::new();
    options.insert("connector".to_string(), "filesystem".to_string());
    options.insert("path".to_string(), "/tmp/x".to_string());
    assert!(FileSinkConfig::from_options(&options).is_ok());
    options.insert("pth".to_string(), "/tmp/x".to_string());
    assert!(FileSinkConfig::from_options(&options).is_err());
}

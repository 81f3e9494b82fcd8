//! File tables beyond CSV and JSON lines: upsert files for tables with a primary key, and
//! Parquet sources.

use super::*;
use std::collections::BTreeSet;

/// The committed upsert rows of the CSV files under `dir`, replayed in the order they were
/// written (file modification time, then name), as the final table: key (first column) ->
/// the row without its `__deleted` flag. Also returns how many rows were deletions.
fn replay_upserts(dir: &Path) -> (BTreeMap<String, String>, usize) {
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(dir)
        .expect("sink directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !name.starts_with('.') && name.ends_with(".csv")
        })
        .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).expect("mtime"), p))
        .collect();
    files.sort();
    let mut table = BTreeMap::new();
    let mut deletions = 0;
    for (_, path) in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines = text.lines();
        assert_eq!(lines.next().map(|h| h.ends_with(",__deleted")), Some(true), "{text}");
        for line in lines {
            let (row, deleted) = line.rsplit_once(',').expect("a __deleted column");
            let key = row.split(',').next().expect("key").to_string();
            match deleted {
                "false" => {
                    table.insert(key, row.to_string());
                }
                "true" => {
                    deletions += 1;
                    assert!(table.remove(&key).is_some(), "deletion of an absent key: {line}");
                }
                other => panic!("__deleted is {other}"),
            }
        }
    }
    (table, deletions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changelog_into_a_table_with_a_primary_key_writes_upserts_and_deletions() {
    let input = events(3_000);
    let mut counts: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for &(k, v, _) in &input {
        let c = counts.entry(k).or_default();
        c.0 += 1;
        c.1 += v;
    }
    // Groups at or above the threshold are deleted once they reach it; the others stay.
    let (low, high) = (
        counts.values().map(|c| c.0).min().expect("groups"),
        counts.values().map(|c| c.0).max().expect("groups"),
    );
    let threshold = (low + high) / 2 + 1;
    let expected: BTreeMap<String, String> = counts
        .iter()
        .filter(|(_, c)| c.0 < threshold)
        .map(|(k, c)| (k.to_string(), format!("{k},{},{}", c.0, c.1)))
        .collect();
    assert!(!expected.is_empty() && expected.len() < counts.len(), "{counts:?}");
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        write_events(&dir.path().join("in"), &input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE totals (k BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED)
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
            INSERT INTO totals SELECT k, COUNT(*), SUM(v) FROM events GROUP BY k HAVING COUNT(*) < {threshold};"
        );
        plan_and_run(Planner::new(), &sql, dir.path(), parallelism, backend, 64).await;
        let (table, deletions) = replay_upserts(&dir.path().join("out"));
        assert_eq!(table, expected, "parallelism {parallelism}, {backend:?}");
        assert_eq!(
            deletions,
            counts.len() - expected.len(),
            "one deletion per group that grew too big"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_only_rows_into_a_table_with_a_primary_key_are_upserts() {
    let input = events(500);
    let dir = tempfile::tempdir().expect("tempdir");
    write_events(&dir.path().join("in"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE latest (k BIGINT, v BIGINT, PRIMARY KEY (k) NOT ENFORCED)
        WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
        INSERT INTO latest SELECT k, v FROM events;"
    );
    run_sql(&sql, dir.path(), 2, BackendKind::Heap).await;
    // Every row is an upsert: the table keeps, per key, the last row of that key's file order.
    let (table, deletions) = replay_upserts(&dir.path().join("out"));
    assert_eq!(deletions, 0);
    let keys: BTreeSet<String> = input.iter().map(|(k, _, _)| k.to_string()).collect();
    assert_eq!(table.keys().cloned().collect::<BTreeSet<_>>(), keys);
    let last: BTreeMap<String, String> = input
        .iter()
        .map(|(k, v, _)| (k.to_string(), format!("{k},{v}")))
        .collect();
    assert_eq!(table, last, "rows of one key keep their order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_files_are_a_source() {
    use arrow::array::{Int32Array, TimestampNanosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let input = events(2_000);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    // Two files, with narrower types and nanosecond times, columns in another order.
    for (i, part) in input.chunks(1_200).enumerate() {
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
            Field::new("v", DataType::Int32, false),
            Field::new("k", DataType::Int32, false),
        ]));
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(TimestampNanosecondArray::from(
                    part.iter().map(|e| e.2 * 1_000_000).collect::<Vec<_>>(),
                )),
                std::sync::Arc::new(Int32Array::from(part.iter().map(|e| e.1 as i32).collect::<Vec<_>>())),
                std::sync::Arc::new(Int32Array::from(part.iter().map(|e| e.0 as i32).collect::<Vec<_>>())),
            ],
        )
        .expect("batch");
        let file = std::fs::File::create(dir.path().join(format!("in/part-{i}.parquet"))).expect("create");
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
    let sql = "
        CREATE TABLE events (
            k BIGINT, v BIGINT, ts TIMESTAMP(3),
            WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '{dir}/in', 'format' = 'parquet');
        CREATE TABLE out (k BIGINT, total BIGINT, window_start TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{dir}/out', 'format' = 'csv');
        INSERT INTO out
        SELECT k, SUM(v), window_start
        FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
        GROUP BY k, window_start, window_end;";
    let mut totals: BTreeMap<(u64, i64), i64> = BTreeMap::new();
    for &(k, v, t) in &input {
        *totals.entry((k, t - t.rem_euclid(10_000))).or_default() += v;
    }
    let mut expected: Vec<String> = totals
        .iter()
        .map(|((k, start), total)| format!("{k},{total},{}", ts(*start)))
        .collect();
    expected.sort();
    for parallelism in [1, 2] {
        let dir_out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&dir_out);
        let _ = std::fs::remove_dir_all(dir.path().join("checkpoints"));
        run_sql(sql, dir.path(), parallelism, BackendKind::Heap).await;
        assert_eq!(csv_rows(&dir_out), expected, "parallelism {parallelism}");
    }
}

//! SQL scripts planned and run on the local engine, checked against brute-force results.

use collect::{apply_changelog, materialize, register_collect_sink};
use freshet_engine::{JobConfig, LocalExecutor};
use freshet_sql::{PlanOptions, Planner, SqlError};
use freshet_state::BackendKind;
use std::collections::BTreeMap;
use std::path::Path;

#[path = "../common/collect.rs"]
mod collect;
mod files;
mod join;
mod over;
mod rank;
mod udaf;

/// Plans `sql` (with `{dir}` replaced by `dir`) with `planner` and runs it to its end in
/// batches of `batch_size` rows.
async fn plan_and_run(
    planner: Planner,
    sql: &str,
    dir: &Path,
    parallelism: u32,
    backend: BackendKind,
    batch_size: usize,
) {
    let sql = sql.replace("{dir}", &dir.display().to_string());
    let job = planner
        .plan_script(
            &sql,
            &PlanOptions {
                parallelism: Some(parallelism),
                default_name: Some("test".into()),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("planning failed: {e}"));
    let config = JobConfig {
        state_backend: backend,
        local_dir: dir.join("local"),
        checkpoint: freshet_engine::CheckpointConfig {
            storage: dir.join("checkpoints").display().to_string(),
            ..Default::default()
        },
        batch_size,
        ..JobConfig::default()
    };
    LocalExecutor::new(config).run(&job.graph).await.expect("job failed");
}

/// Plans `sql` (with `{dir}` replaced by `dir`) and runs it to its end.
async fn run_sql(sql: &str, dir: &Path, parallelism: u32, backend: BackendKind) {
    plan_and_run(
        Planner::new(),
        sql,
        dir,
        parallelism,
        backend,
        JobConfig::default().batch_size,
    )
    .await;
}

async fn plan_error(sql: &str) -> SqlError {
    match Planner::new().plan_script(sql, &PlanOptions::default()).await {
        Ok(_) => panic!("planning should fail:\n{sql}"),
        Err(e) => e,
    }
}

/// The data lines of every committed CSV file under `dir`, sorted.
fn csv_rows(dir: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).expect("sink directory") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') || !name.ends_with(".csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        rows.extend(text.lines().skip(1).map(str::to_string));
    }
    rows.sort();
    rows
}

/// Deterministic test events: (key, value, time in ms), times out of order within 3 s.
fn events(n: u64) -> Vec<(u64, i64, i64)> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 7;
            let value = (x >> 8) as i64 % 1000 - 100;
            let time = (i as i64) * 37 + (x >> 20) as i64 % 3000;
            (key, value, time)
        })
        .collect()
}

fn write_events(path: &Path, events: &[(u64, i64, i64)]) {
    let mut text = String::from("k,v,ts\n");
    for (k, v, t) in events {
        let time = chrono::DateTime::from_timestamp_millis(*t).expect("time").naive_utc();
        text.push_str(&format!("{k},{v},{}\n", time.format("%Y-%m-%dT%H:%M:%S%.3f")));
    }
    std::fs::write(path, text).expect("write events");
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.f")
        .to_string()
}

const EVENTS_TABLE: &str = "
CREATE TABLE events (
    k BIGINT,
    v BIGINT,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{dir}/in', 'format' = 'csv', 'csv.header' = 'true');
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tumbling_aggregates_equal_a_brute_force_computation_on_both_backends() {
    let input = events(3_000);
    // Brute force: per (key, 5 s window) count, sum, min, max of v where v > 0.
    let mut expected: BTreeMap<(u64, i64), (i64, i64, i64, i64)> = BTreeMap::new();
    for &(k, v, t) in &input {
        if v <= 0 {
            continue;
        }
        let start = t.div_euclid(5_000) * 5_000;
        let e = expected.entry((k, start)).or_insert((0, 0, i64::MAX, i64::MIN));
        e.0 += 1;
        e.1 += v;
        e.2 = e.2.min(v);
        e.3 = e.3.max(v);
    }
    let mut expected: Vec<String> = expected
        .iter()
        .map(|((k, start), (c, s, mn, mx))| format!("{k},{},{},{c},{s},{mn},{mx}", ts(*start), ts(start + 5_000)))
        .collect();
    expected.sort();

    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
                              n BIGINT, total BIGINT, lo BIGINT, hi BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
            INSERT INTO out
            SELECT k, window_start, window_end, COUNT(*), SUM(v), MIN(v), MAX(v)
            FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECOND))
            WHERE v > 0
            GROUP BY k, window_start, window_end;"
        );
        run_sql(&sql, dir.path(), parallelism, backend).await;
        assert_eq!(
            csv_rows(&dir.path().join("out")),
            expected,
            "p={parallelism} {backend:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_and_session_windows_and_expressions_equal_a_brute_force_computation() {
    let input = events(2_000);
    // HOP(slide 2 s, size 6 s): count per window over all keys (a global window), and
    // SESSION(gap 500 ms) per key: count and sum of v * 2.
    let mut hops: BTreeMap<i64, i64> = BTreeMap::new();
    for &(_, _, t) in &input {
        let last = t.div_euclid(2_000) * 2_000;
        let mut start = last;
        while start > t - 6_000 {
            *hops.entry(start).or_default() += 1;
            start -= 2_000;
        }
    }
    let mut expected_hops: Vec<String> = hops
        .iter()
        .map(|(s, c)| format!("{},{},{c}", ts(*s), ts(s + 6_000)))
        .collect();
    expected_hops.sort();

    let mut per_key: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
    for &(k, v, t) in &input {
        per_key.entry(k).or_default().push((t, v));
    }
    let mut expected_sessions = Vec::new();
    for (k, mut rows) in per_key {
        rows.sort();
        let mut i = 0;
        while i < rows.len() {
            let (start, mut end, mut count, mut sum) = (rows[i].0, rows[i].0 + 500, 0i64, 0i64);
            // Sessions that touch merge, as in Flink ([a, b) and [b, c) are one session).
            while i < rows.len() && rows[i].0 <= end {
                end = end.max(rows[i].0 + 500);
                count += 1;
                sum += rows[i].1 * 2;
                i += 1;
            }
            expected_sessions.push(format!("{k},{},{},{count},{sum}", ts(start), ts(end)));
        }
    }
    expected_sessions.sort();

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE hops (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{{dir}}/hops', 'format' = 'csv');
        CREATE TABLE sessions (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, doubled BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{{dir}}/sessions', 'format' = 'csv');
        INSERT INTO hops
        SELECT window_start, window_end, COUNT(*)
        FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND))
        GROUP BY window_start, window_end;
        INSERT INTO sessions
        SELECT k, window_start, window_end, COUNT(v), SUM(v * 2)
        FROM TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND))
        GROUP BY k, window_start, window_end;"
    );
    run_sql(&sql, dir.path(), 2, BackendKind::Heap).await;
    assert_eq!(csv_rows(&dir.path().join("hops")), expected_hops);
    assert_eq!(csv_rows(&dir.path().join("sessions")), expected_sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_filters_case_and_union_all() {
    let input = events(500);
    let mut expected: Vec<String> = input
        .iter()
        .filter(|(_, v, _)| v % 3 == 0)
        .map(|(k, v, _)| format!("{k},{},{}", if *v >= 0 { "pos" } else { "neg" }, v.abs()))
        .chain(
            input
                .iter()
                .filter(|(k, _, _)| *k == 6)
                .map(|(k, v, _)| format!("{k},six,{v}")),
        )
        .collect();
    expected.sort();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (k BIGINT, label STRING, amount BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
        INSERT INTO out
        SELECT k, CASE WHEN v >= 0 THEN 'pos' ELSE 'neg' END, abs(v) FROM events WHERE v % 3 = 0
        UNION ALL
        SELECT k, 'six', v FROM events WHERE k = 6;"
    );
    run_sql(&sql, dir.path(), 2, BackendKind::Heap).await;
    assert_eq!(csv_rows(&dir.path().join("out")), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_window_counts_do_not_depend_on_parallelism_or_backend() {
    let sql = "
        SET 'parallelism.default' = '1';
        CREATE TABLE bid (
            auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
            date_time TIMESTAMP(3), extra STRING,
            WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
        ) WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '60000');
        CREATE VIEW cheap AS SELECT auction, price, date_time FROM bid WHERE price < 1000000;
        CREATE TABLE out (auction BIGINT, n BIGINT, top BIGINT, window_end TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{dir}/out', 'format' = 'csv');
        INSERT INTO out
        SELECT auction, COUNT(*), MAX(price), window_end
        FROM TABLE(HOP(TABLE cheap, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end;";
    let mut outputs = Vec::new();
    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        run_sql(sql, dir.path(), parallelism, backend).await;
        outputs.push(csv_rows(&dir.path().join("out")));
    }
    assert!(outputs[0].len() > 1_000, "{} rows", outputs[0].len());
    assert_eq!(outputs[0], outputs[1]);
}

#[tokio::test]
async fn errors_name_line_and_column() {
    let table = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
CREATE TABLE out (auction BIGINT) WITH ('connector' = 'blackhole');
";
    // An unknown column.
    let e = plan_error(&format!("{table}INSERT INTO out\nSELECT auctio FROM bid;")).await;
    assert_eq!((e.line, e.column), (6, 8), "{e}");
    assert!(e.message.contains("auctio"), "{e}");
    // An unknown connector option, at the option.
    let e = plan_error(
        "CREATE TABLE t (a BIGINT) WITH ('connector' = 'nexmark',\n  'evnts.num' = '5');\nCREATE TABLE o (a BIGINT) WITH ('connector' = 'print');\nINSERT INTO o SELECT a FROM t;",
    )
    .await;
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    assert!(e.message.contains("evnts.num"), "{e}");
    // A type that does not fit the sink.
    let e = plan_error(&format!(
        "{table}INSERT INTO out SELECT CAST(date_time AS STRING) FROM bid;"
    ))
    .await;
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("cannot be written"), "{e}");
    // An unknown SET key.
    let e = plan_error(&format!(
        "SET 'parallelism.defualt' = '2';\n{table}INSERT INTO out SELECT auction FROM bid;"
    ))
    .await;
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    // A window on a column that is not a time attribute.
    let e = plan_error(&format!(
        "{table}INSERT INTO out SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(price), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;"
    ))
    .await;
    assert!(e.message.contains("not a time attribute"), "{e}");
    assert_eq!(e.line, 5, "{e}");
    // A connector that cannot be written.
    let e = plan_error(&format!(
        "{table}CREATE TABLE o2 (a BIGINT) WITH ('connector' = 'nexmark');\nINSERT INTO o2 SELECT auction FROM bid;"
    ))
    .await;
    assert_eq!(e.line, 5, "{e}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or_default()
            .contains("print, blackhole, filesystem"),
        "{e}"
    );
}

// ---- Non-windowed (updating) aggregation: changelogs ----

/// Plans `sql` with a `'connector' = 'collect'` sink and runs it; returns what it received.
async fn run_collecting(sql: &str, dir: &Path, parallelism: u32, backend: BackendKind) -> Vec<(String, String)> {
    run_collecting_with(Planner::new(), sql, dir, parallelism, backend).await
}

/// [`run_collecting`] with a planner prepared by the caller (with UDFs, say).
async fn run_collecting_with(
    mut planner: Planner,
    sql: &str,
    dir: &Path,
    parallelism: u32,
    backend: BackendKind,
) -> Vec<(String, String)> {
    let collected = register_collect_sink(&mut planner);
    // Small batches, so that groups change many times.
    plan_and_run(planner, sql, dir, parallelism, backend, 64).await;
    let rows = collected.lock().expect("collected rows").clone();
    rows
}

const COMBINATIONS: [(u32, BackendKind); 4] = [
    (1, BackendKind::Heap),
    (3, BackendKind::Heap),
    (1, BackendKind::Rocksdb),
    (3, BackendKind::Rocksdb),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_aggregates_as_a_changelog_equal_a_brute_force_computation() {
    let input = events(3_000);
    // Per k % 4 (a key expression): COUNT(*), COUNT(v) where v is NULL-free, SUM, MIN, MAX,
    // AVG (truncated), COUNT(DISTINCT v % 10), COUNT(*) FILTER (v > 0), SUM(v) FILTER (v > 500).
    let mut groups: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for &(k, v, _) in &input {
        groups.entry(k % 4).or_default().push(v);
    }
    let expected: Vec<String> = groups
        .iter()
        .map(|(g, vs)| {
            let n = vs.len() as i64;
            let sum: i64 = vs.iter().sum();
            let distinct: std::collections::BTreeSet<i64> = vs.iter().map(|v| v % 10).collect();
            let positive = vs.iter().filter(|v| **v > 0).count();
            let big: Vec<i64> = vs.iter().copied().filter(|v| *v > 500).collect();
            let big_sum = if big.is_empty() {
                "null".to_string()
            } else {
                big.iter().sum::<i64>().to_string()
            };
            format!(
                "{g},{n},{n},{sum},{},{},{},{},{positive},{big_sum}",
                vs.iter().min().expect("min"),
                vs.iter().max().expect("max"),
                sum / n,
                distinct.len()
            )
        })
        .collect();
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (g BIGINT, n BIGINT, nv BIGINT, total BIGINT, lo BIGINT, hi BIGINT, mean BIGINT,
                              digits BIGINT, positive BIGINT, big BIGINT)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k % 4, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), CAST(AVG(v) AS BIGINT),
                   COUNT(DISTINCT v % 10), COUNT(*) FILTER (WHERE v > 0), SUM(v) FILTER (WHERE v > 500)
            FROM events
            GROUP BY k % 4;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "updates expected");
        assert_eq!(apply_changelog(&rows, &[0]), expected, "p={parallelism} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_aggregation_consumes_retractions() {
    let input = events(2_000);
    // Inner: per (k, bucket = v % 5) the MAX(v) (the q4 shape, without the join); outer: per
    // bucket AVG, COUNT, MIN, MAX and SUM of those maxima, and a filtered count.
    let mut inner: BTreeMap<(u64, i64), i64> = BTreeMap::new();
    for &(k, v, _) in &input {
        let m = inner.entry((k, v % 5)).or_insert(i64::MIN);
        *m = (*m).max(v);
    }
    let mut outer: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (&(_, b), &m) in &inner {
        outer.entry(b).or_default().push(m);
    }
    let mut expected: Vec<String> = outer
        .iter()
        .map(|(b, ms)| {
            let n = ms.len() as i64;
            let sum: i64 = ms.iter().sum();
            format!(
                "{b},{},{n},{},{},{sum},{}",
                sum / n,
                ms.iter().min().expect("min"),
                ms.iter().max().expect("max"),
                ms.iter().filter(|m| **m > 800).count()
            )
        })
        .collect();
    expected.sort();
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE VIEW maxima AS SELECT k, v % 5 AS b, MAX(v) AS m FROM events GROUP BY k, v % 5;
            CREATE TABLE out (b BIGINT, mean BIGINT, n BIGINT, lo BIGINT, hi BIGINT, total BIGINT, high BIGINT)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT b, CAST(AVG(m) AS BIGINT), COUNT(*), MIN(m), MAX(m), SUM(m), COUNT(*) FILTER (WHERE m > 800)
            FROM maxima
            GROUP BY b;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "retractions expected");
        assert_eq!(apply_changelog(&rows, &[0]), expected, "p={parallelism} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_union_all_pass_changelogs_through() {
    let input = events(1_000);
    // Groups per k with their count; a filter on the count (a changelog filter) and a union
    // with an append-only query (its rows become +I).
    let mut counts: BTreeMap<u64, i64> = BTreeMap::new();
    for &(k, _, _) in &input {
        *counts.entry(k).or_default() += 1;
    }
    let mut expected: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 100)
        .map(|(k, n)| format!("{k},{n}"))
        .chain(
            input
                .iter()
                .filter(|(_, v, _)| *v > 895)
                .map(|(k, v, _)| format!("{},{v}", k + 100)),
        )
        .collect();
    expected.sort();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'collect');
        INSERT INTO out
        SELECT k, n FROM (SELECT k, COUNT(*) AS n FROM events GROUP BY k) WHERE n > 100
        UNION ALL
        SELECT k + 100, v FROM events WHERE v > 895;"
    );
    let rows = run_collecting(&sql, dir.path(), 2, BackendKind::Heap).await;
    // Keys >= 100 are the append-only rows (all +I, keys repeat); the others are the filtered
    // changelog, where a filter may drop a -U whose +U passes (an upsert, as in Flink).
    let (appended, changes): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|(_, row)| row.split(',').next().and_then(|k| k.parse::<u64>().ok()) >= Some(100));
    assert!(appended.iter().all(|(kind, _)| kind == "+I"));
    let mut table: BTreeMap<String, String> = BTreeMap::new();
    for (kind, row) in &changes {
        let key = row.split(',').next().unwrap_or_default().to_string();
        match kind.as_str() {
            "+I" | "+U" => {
                table.insert(key, row.clone());
            }
            _ => {
                if let Some(present) = table.remove(&key) {
                    assert_eq!(&present, row);
                }
            }
        }
    }
    let mut actual: Vec<String> = table
        .into_values()
        .chain(appended.into_iter().map(|(_, r)| r))
        .collect();
    actual.sort();
    assert_eq!(actual, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_distinct_emits_each_row_once() {
    let input = events(1_000);
    let expected: std::collections::BTreeSet<String> =
        input.iter().map(|(k, v, _)| format!("{},{}", k % 3, *v > 0)).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (g BIGINT, positive BOOLEAN) WITH ('connector' = 'collect');
        INSERT INTO out SELECT DISTINCT k % 3, v > 0 FROM events;"
    );
    let rows = run_collecting(&sql, dir.path(), 3, BackendKind::Rocksdb).await;
    assert!(rows.iter().all(|(kind, _)| kind == "+I"), "{rows:?}");
    let actual: Vec<String> = rows.into_iter().map(|(_, r)| r).collect();
    assert_eq!(actual.len(), expected.len(), "{actual:?}");
    assert_eq!(actual.into_iter().collect::<std::collections::BTreeSet<_>>(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_aggregation_and_having_update_one_row() {
    let input = events(1_000);
    let sum: i64 = input.iter().map(|e| e.1).sum();
    let mut counts: BTreeMap<u64, i64> = BTreeMap::new();
    for &(k, _, _) in &input {
        *counts.entry(k).or_default() += 1;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (n BIGINT, total BIGINT) WITH ('connector' = 'collect');
        INSERT INTO out SELECT COUNT(*), SUM(v) FROM events;"
    );
    let rows = run_collecting(&sql, dir.path(), 2, BackendKind::Heap).await;
    assert_eq!(apply_changelog(&rows, &[]), [format!("{},{sum}", input.len())]);
    // HAVING filters each change: the rows left are the groups above the bound.
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'collect');
        INSERT INTO out SELECT k, COUNT(*) FROM events GROUP BY k HAVING COUNT(*) > 140;"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let rows = run_collecting(&sql, dir.path(), 2, BackendKind::Heap).await;
    let mut table: BTreeMap<String, String> = BTreeMap::new();
    for (kind, row) in rows {
        let key = row.split(',').next().unwrap_or_default().to_string();
        if kind == "+I" || kind == "+U" {
            table.insert(key, row);
        } else {
            table.remove(&key);
        }
    }
    let expected: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 140)
        .map(|(k, n)| format!("{k},{n}"))
        .collect();
    assert_eq!(table.into_values().collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn changelogs_into_append_only_sinks_are_planning_errors() {
    let table = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
";
    let e = plan_error(&format!(
        "{table}CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '/tmp/x', 'format' = 'csv');\n  INSERT INTO out SELECT auction, COUNT(*) FROM bid GROUP BY auction;"
    ))
    .await;
    assert_eq!((e.line, e.column), (5, 3), "{e}");
    assert!(
        e.message
            .contains("the sink 'out' is append-only but the query produces updates"),
        "{e}"
    );
    assert!(e.hint.as_deref().unwrap_or_default().contains("PRIMARY KEY"), "{e}");
    // With a primary key, the file sink takes the changelog as upserts.
    let job = Planner::new()
        .plan_script(
            &format!(
                "{table}CREATE TABLE out (auction BIGINT, n BIGINT, PRIMARY KEY (auction) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = '/tmp/x', 'format' = 'csv');\nINSERT INTO out SELECT auction, COUNT(*) FROM bid GROUP BY auction;"
            ),
            &PlanOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        job.graph
            .nodes
            .iter()
            .any(|n| n.name == "UpsertEncode" && n.keyed && n.description == "upserts keyed by (auction)"),
        "{:?}",
        job.graph.nodes.iter().map(|n| &n.description).collect::<Vec<_>>()
    );
    // A window over a changelog.
    let e = plan_error(&format!(
        "{table}CREATE TABLE out (n BIGINT) WITH ('connector' = 'blackhole');
CREATE VIEW counts AS SELECT auction, COUNT(*) AS n, MAX(date_time) AS date_time FROM bid GROUP BY auction;
INSERT INTO out SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE counts, DESCRIPTOR(date_time), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;"
    ))
    .await;
    assert!(e.line >= 5, "{e}");
    // The state TTL reaches the operator.
    let job = Planner::new()
        .plan_script(
            &format!(
                "SET 'table.exec.state.ttl' = '1 h';\n{table}CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT auction, COUNT(*) FROM bid GROUP BY auction;"
            ),
            &PlanOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        job.graph
            .nodes
            .iter()
            .any(|n| n.name == "GroupAggregate" && n.keyed && n.description.contains("state ttl 3600s")),
        "{:?}",
        job.graph.nodes.iter().map(|n| &n.description).collect::<Vec<_>>()
    );
    // Print and blackhole take changelogs.
    for connector in ["print", "blackhole"] {
        Planner::new()
            .plan_script(
                &format!(
                    "{table}CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = '{connector}');
INSERT INTO out SELECT auction, COUNT(*) FROM bid GROUP BY auction;"
                ),
                &PlanOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("{connector}: {e}"));
    }
}

#[test]
fn print_shows_row_kinds() {
    use arrow::array::{Int64Array, Int8Array};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("__row_kind", DataType::Int8, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(Int64Array::from(vec![Some(1), Some(1), Some(2), None])),
            std::sync::Arc::new(Int8Array::from(vec![0, 1, 2, 3])),
        ],
    )
    .expect("batch");
    let sink = freshet_sql::ops::ChangelogPrintSink::new(Default::default());
    let text = String::from_utf8(sink.render(&batch).expect("render")).expect("utf8");
    assert_eq!(text, "+I[1]\n-U[1]\n+U[2]\n-D[null]\n");
}

/// Deterministic events for a second table: (key in 0..14, value, time in ms), out of order
/// within 3 s.
fn other_events(n: u64) -> Vec<(u64, i64, i64)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 14;
            let value = (x >> 9) as i64 % 500;
            let time = (i as i64) * 41 + (x >> 21) as i64 % 3000;
            (key, value, time)
        })
        .collect()
}

const JOIN_TABLES: &str = "
CREATE TABLE a (
    k BIGINT, v BIGINT, ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{dir}/a', 'format' = 'csv', 'csv.header' = 'true');
CREATE TABLE b (
    k BIGINT, v BIGINT, ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{dir}/b', 'format' = 'csv', 'csv.header' = 'true');
";

fn join_inputs(dir: &Path, a: &[(u64, i64, i64)], b: &[(u64, i64, i64)]) {
    std::fs::create_dir(dir.join("a")).expect("mkdir");
    std::fs::create_dir(dir.join("b")).expect("mkdir");
    write_events(&dir.join("a/a.csv"), a);
    write_events(&dir.join("b/b.csv"), b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regular_and_interval_joins_equal_a_brute_force_computation() {
    let a = events(400);
    let b = other_events(400);
    // Regular join on a computed key with a residual condition.
    let mut expected_regular = Vec::new();
    // Interval join: b.ts within [a.ts, a.ts + 2 s].
    let mut expected_interval = Vec::new();
    for &(ak, av, at) in &a {
        for &(bk, bv, bt) in &b {
            if ak == bk / 2 && av + bv > 400 {
                expected_regular.push(format!("{ak},{av},{bk},{bv}"));
            }
            if ak == bk && bt >= at && bt <= at + 2_000 {
                expected_interval.push(format!("{ak},{av},{bv},{}", ts(bt)));
            }
        }
    }
    expected_regular.sort();
    expected_interval.sort();
    assert!(expected_regular.len() > 100 && expected_interval.len() > 50);

    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        join_inputs(dir.path(), &a, &b);
        let sql = format!(
            "{JOIN_TABLES}
            CREATE TABLE regular (k BIGINT, av BIGINT, bk BIGINT, bv BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/regular', 'format' = 'csv');
            CREATE TABLE timed (k BIGINT, av BIGINT, bv BIGINT, bts TIMESTAMP(3))
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/timed', 'format' = 'csv');
            INSERT INTO regular
            SELECT a.k, a.v, b.k, b.v FROM a JOIN b ON a.k = b.k / 2 WHERE a.v + b.v > 400;
            INSERT INTO timed
            SELECT a.k, a.v, b.v, b.ts FROM a JOIN b
            ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '2' SECOND;"
        );
        run_sql(&sql, dir.path(), parallelism, backend).await;
        let label = format!("p={parallelism} {backend:?}");
        assert_eq!(csv_rows(&dir.path().join("regular")), expected_regular, "{label}");
        assert_eq!(csv_rows(&dir.path().join("timed")), expected_interval, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_join_of_two_tumbling_aggregations_equals_a_brute_force_computation() {
    let a = events(1_000);
    let b: Vec<(u64, i64, i64)> = other_events(1_000).into_iter().map(|(k, v, t)| (k % 7, v, t)).collect();
    let counts = |rows: &[(u64, i64, i64)]| {
        let mut m: BTreeMap<(u64, i64), i64> = BTreeMap::new();
        for &(k, _, t) in rows {
            *m.entry((k, t.div_euclid(5_000) * 5_000)).or_default() += 1;
        }
        m
    };
    let (ca, cb) = (counts(&a), counts(&b));
    let mut expected: Vec<String> = ca
        .iter()
        .filter_map(|((k, start), na)| {
            let nb = cb.get(&(*k, *start))?;
            (na + nb > 10).then(|| format!("{k},{},{},{na},{nb}", ts(*start), ts(start + 5_000)))
        })
        .collect();
    expected.sort();
    assert!(expected.len() > 5, "{}", expected.len());

    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        join_inputs(dir.path(), &a, &b);
        let sql = format!(
            "{JOIN_TABLES}
            CREATE TABLE out (k BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), na BIGINT, nb BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
            INSERT INTO out
            SELECT L.k, L.s, L.e, L.n, R.n
            FROM (SELECT k, window_start AS s, window_end AS e, COUNT(*) AS n
                  FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '5' SECOND))
                  GROUP BY k, window_start, window_end) AS L
            JOIN (SELECT k, window_start, window_end, COUNT(*) AS n
                  FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '5' SECOND))
                  GROUP BY k, window_start, window_end) AS R
            ON L.k = R.k AND L.s = R.window_start AND L.e = R.window_end AND L.n + R.n > 10;"
        );
        run_sql(&sql, dir.path(), parallelism, backend).await;
        assert_eq!(
            csv_rows(&dir.path().join("out")),
            expected,
            "p={parallelism} {backend:?}"
        );
    }
}

#[tokio::test]
async fn outer_joins_and_joins_of_changelogs_plan_as_updating_joins() {
    let sql = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
CREATE TABLE auction (id BIGINT, seller BIGINT) WITH ('connector' = 'nexmark', 'table' = 'auction');
CREATE TABLE out (auction BIGINT, seller BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT b.auction, a.seller FROM bid b LEFT JOIN auction a ON b.auction = a.id;";
    // An updating input (a GROUP BY without a window is a changelog).
    let updating = sql.replace(
        "FROM bid b LEFT JOIN auction a",
        "FROM (SELECT auction, COUNT(*) AS n FROM bid GROUP BY auction) b JOIN auction a",
    );
    for sql in [sql, updating.as_str()] {
        let job = Planner::new()
            .plan_script(sql, &PlanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(job.graph.nodes.iter().any(|n| n.name == "UpdatingJoin"), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_joins_of_tumble_and_hop_functions_and_windows_after_an_interval_join() {
    let a = events(600);
    let b: Vec<(u64, i64, i64)> = other_events(600).into_iter().map(|(k, v, t)| (k % 7, v, t)).collect();
    // TUMBLE(2 s) window join with a residual condition.
    let mut expected_window = Vec::new();
    // Per 5 s window of a.ts, the number of interval-join pairs (b.ts within [a.ts - 1 s, a.ts]):
    // a.ts stays a time attribute, as b.ts is never after it.
    let mut pairs: BTreeMap<i64, i64> = BTreeMap::new();
    for &(ak, av, at) in &a {
        for &(bk, bv, bt) in &b {
            let start = at.div_euclid(2_000) * 2_000;
            if ak == bk && start == bt.div_euclid(2_000) * 2_000 && av > bv {
                expected_window.push(format!("{ak},{av},{bv},{},{}", ts(start), ts(start + 2_000)));
            }
            if ak == bk && bt >= at - 1_000 && bt <= at {
                *pairs.entry(at.div_euclid(5_000) * 5_000).or_default() += 1;
            }
        }
    }
    expected_window.sort();
    // HOP(slide 1 s, size 2 s) window join: pairs in the same hop window.
    let mut expected_hop = Vec::new();
    for &(ak, av, at) in &a {
        for &(bk, bv, bt) in &b {
            let mut start = at.min(bt).div_euclid(1_000) * 1_000;
            while start > at.max(bt) - 2_000 {
                if ak == bk && av > bv + 300 && start <= at.min(bt) {
                    expected_hop.push(format!("{ak},{av},{bv},{}", ts(start)));
                }
                start -= 1_000;
            }
        }
    }
    expected_hop.sort();
    let mut expected_counts: Vec<String> = pairs.iter().map(|(s, n)| format!("{},{n}", ts(*s))).collect();
    expected_counts.sort();
    assert!(expected_window.len() > 20 && expected_hop.len() > 20 && expected_counts.len() > 3);

    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        join_inputs(dir.path(), &a, &b);
        let sql = format!(
            "{JOIN_TABLES}
            CREATE TABLE windowed (k BIGINT, av BIGINT, bv BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3))
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/windowed', 'format' = 'csv');
            CREATE TABLE counts (ws TIMESTAMP(3), n BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/counts', 'format' = 'csv');
            CREATE TABLE hopped (k BIGINT, av BIGINT, bv BIGINT, ws TIMESTAMP(3))
            WITH ('connector' = 'filesystem', 'path' = '{{dir}}/hopped', 'format' = 'csv');
            INSERT INTO hopped
            SELECT L.k, L.v, R.v, L.window_start
            FROM TABLE(HOP(TABLE a, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) AS L
            JOIN TABLE(HOP(TABLE b, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) AS R
            ON L.k = R.k AND L.window_start = R.window_start AND L.window_end = R.window_end
            WHERE L.v > R.v + 300;
            INSERT INTO windowed
            SELECT L.k, L.v, R.v, L.window_start, R.window_end
            FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '2' SECOND)) AS L
            JOIN TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '2' SECOND)) AS R
            ON L.k = R.k AND L.window_start = R.window_start AND L.window_end = R.window_end
            WHERE L.v > R.v;
            CREATE VIEW matched AS
            SELECT a.k, a.ts FROM a JOIN b
            ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts;
            INSERT INTO counts
            SELECT window_start, COUNT(*)
            FROM TABLE(TUMBLE(TABLE matched, DESCRIPTOR(ts), INTERVAL '5' SECOND))
            GROUP BY window_start, window_end;"
        );
        run_sql(&sql, dir.path(), parallelism, backend).await;
        let label = format!("p={parallelism} {backend:?}");
        assert_eq!(csv_rows(&dir.path().join("windowed")), expected_window, "{label}");
        assert_eq!(csv_rows(&dir.path().join("hopped")), expected_hop, "{label}");
        assert_eq!(csv_rows(&dir.path().join("counts")), expected_counts, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_scalar_udfs_registered_through_the_planner_run_in_sql() {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};

    // triple(x) = 3 * x, written in Rust.
    let triple = create_udf(
        "triple",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        std::sync::Arc::new(|args: &[ColumnarValue]| {
            let values = ColumnarValue::values_to_arrays(args)?;
            let input = values[0]
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| datafusion::error::DataFusionError::Execution("triple takes BIGINT".into()))?;
            let out: Int64Array = input.iter().map(|v| v.map(|v| v * 3)).collect();
            Ok(ColumnarValue::Array(std::sync::Arc::new(out) as ArrayRef))
        }),
    );
    let input = events(300);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), &input);
    let sql = format!(
        "{EVENTS_TABLE}
        CREATE TABLE out (k BIGINT, t BIGINT) WITH ('connector' = 'filesystem', 'path' = '{{dir}}/out', 'format' = 'csv');
        INSERT INTO out SELECT k, triple(v) FROM events WHERE triple(k) > 6;"
    );
    let planner = Planner::new();
    planner.session().register_udf(triple);
    plan_and_run(
        planner,
        &sql,
        dir.path(),
        1,
        BackendKind::Heap,
        JobConfig::default().batch_size,
    )
    .await;
    let mut expected: Vec<String> = input
        .iter()
        .filter(|(k, _, _)| 3 * k > 6)
        .map(|(k, v, _)| format!("{k},{}", 3 * v))
        .collect();
    expected.sort();
    assert_eq!(csv_rows(&dir.path().join("out")), expected);
}

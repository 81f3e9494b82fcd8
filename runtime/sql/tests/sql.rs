//! SQL scripts planned and run on the local engine, checked against brute-force results.

use freshet_engine::{JobConfig, LocalExecutor};
use freshet_sql::{PlanOptions, Planner, SqlError};
use freshet_state::BackendKind;
use std::collections::BTreeMap;
use std::path::Path;

/// Plans `sql` (with `{dir}` replaced by `dir`) and runs it to its end.
async fn run_sql(sql: &str, dir: &Path, parallelism: u32, backend: BackendKind) {
    let sql = sql.replace("{dir}", &dir.display().to_string());
    let job = Planner::new()
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
        ..JobConfig::default()
    };
    LocalExecutor::new(config).run(&job.graph).await.expect("job failed");
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

#[tokio::test]
async fn nexmark_queries_without_joins_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../queries/nexmark");
    for q in [0, 1, 2, 10, 11, 12, 14, 21, 22] {
        let sql = std::fs::read_to_string(root.join(format!("q{q}.sql"))).expect("query file");
        let job = Planner::new()
            .plan_script(&sql, &PlanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("q{q}: {e}"));
        assert!(job.graph.nodes.len() >= 3, "q{q}");
    }
}

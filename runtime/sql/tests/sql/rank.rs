//! Deduplication and Top-N (`ROW_NUMBER()` filters), checked against brute-force results on
//! both state backends at parallelism 1 and 3.
//!
//! The test events come from one CSV file read by one source subtask, so rows of one key
//! arrive in file order at any parallelism: ties ranked by arrival are deterministic.

use super::*;

/// The events of each key (in arrival order) as (value, time, arrival index).
fn by_key(input: &[(u64, i64, i64)]) -> BTreeMap<u64, Vec<(i64, i64, usize)>> {
    let mut keys: BTreeMap<u64, Vec<(i64, i64, usize)>> = BTreeMap::new();
    for (i, &(k, v, t)) in input.iter().enumerate() {
        keys.entry(k).or_default().push((v, t, i));
    }
    keys
}

/// Runs `query` (an `INSERT INTO out ...` with `out_columns`) over `input` on every
/// combination; returns the changelog of each run.
async fn run_all(input: &[(u64, i64, i64)], out_columns: &str, query: &str) -> Vec<Vec<(String, String)>> {
    let mut runs = Vec::new();
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out ({out_columns}) WITH ('connector' = 'collect');
            {query}"
        );
        runs.push(run_collecting(&sql, dir.path(), parallelism, backend).await);
    }
    runs
}

/// The Top-3 of every key by value descending (ties: earlier arrival first), with ranks.
fn top3(input: &[(u64, i64, i64)]) -> Vec<(u64, i64, i64, usize)> {
    let mut out = Vec::new();
    for (k, mut rows) in by_key(input) {
        rows.sort_by_key(|&(v, _, i)| (std::cmp::Reverse(v), i));
        for (r, (v, t, _)) in rows.into_iter().take(3).enumerate() {
            out.push((k, v, t, r + 1));
        }
    }
    out
}

const TOP3: &str = "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM events)
                    WHERE rn <= 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_n_with_the_row_number_updates_shifted_ranks() {
    let input = events(2_000);
    let mut expected: Vec<String> = top3(&input)
        .into_iter()
        .map(|(k, v, t, r)| format!("{k},{v},{},{r}", ts(t)))
        .collect();
    expected.sort();
    let query = format!("INSERT INTO out SELECT k, v, ts, rn FROM ({TOP3});");
    for (run, (p, backend)) in run_all(&input, "k BIGINT, v BIGINT, ts TIMESTAMP(3), rn BIGINT", &query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert!(run.iter().any(|(kind, _)| kind == "-U"), "rank shifts expected");
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_ranges_keep_ranks_m_to_n() {
    let input = events(2_000);
    let mut expected: Vec<String> = top3(&input)
        .into_iter()
        .filter(|&(_, _, _, r)| r >= 2)
        .map(|(k, v, t, r)| format!("{k},{v},{},{r}", ts(t)))
        .collect();
    expected.sort();
    let query = "INSERT INTO out SELECT k, v, ts, rn FROM (
                     SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM events)
                 WHERE rn BETWEEN 2 AND 3;";
    for (run, (p, backend)) in run_all(&input, "k BIGINT, v BIGINT, ts TIMESTAMP(3), rn BIGINT", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
    // rn = 2 without the row number: the runner-up of each key.
    let mut expected: Vec<String> = top3(&input)
        .into_iter()
        .filter(|&(_, _, _, r)| r == 2)
        .map(|(k, v, _, _)| format!("{k},{v}"))
        .collect();
    expected.sort();
    let query = "INSERT INTO out SELECT k, v FROM (
                     SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM events)
                 WHERE rn = 2;";
    for (run, (p, backend)) in run_all(&input, "k BIGINT, v BIGINT", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert!(run.iter().all(|(kind, _)| kind == "+I" || kind == "-D"), "{run:?}");
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_n_without_the_row_number_only_inserts_and_deletes() {
    let input = events(2_000);
    let mut expected: Vec<String> = top3(&input)
        .into_iter()
        .map(|(k, v, t, _)| format!("{k},{v},{}", ts(t)))
        .collect();
    expected.sort();
    // `rn < 4` is `rn <= 3`.
    let query = "INSERT INTO out SELECT k, v, ts FROM (
                     SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM events)
                 WHERE rn < 4;";
    for (run, (p, backend)) in run_all(&input, "k BIGINT, v BIGINT, ts TIMESTAMP(3)", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert!(run.iter().all(|(kind, _)| kind == "+I" || kind == "-D"), "{run:?}");
        assert!(run.iter().any(|(kind, _)| kind == "-D"), "rows leaving expected");
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplication_keeps_the_first_or_last_row() {
    let input = events(1_500);
    let keys = by_key(&input);
    // Keep first on processing time: the first arrival of each key, append-only.
    let first: Vec<String> = keys.iter().map(|(k, rows)| format!("{k},{}", rows[0].0)).collect();
    let arrived_last: Vec<String> = keys
        .iter()
        .map(|(k, rows)| format!("{k},{}", rows[rows.len() - 1].0))
        .collect();
    // Keep last on event time: the latest time, the later arrival on equal times.
    let last: Vec<String> = keys
        .iter()
        .map(|(k, rows)| {
            let best = rows.iter().max_by_key(|&&(_, t, i)| (t, i)).expect("a row");
            format!("{k},{},{}", best.0, ts(best.1))
        })
        .collect();
    // Keep first on event time: the earliest time, the earlier arrival on equal times.
    let earliest: Vec<String> = keys
        .iter()
        .map(|(k, rows)| {
            let best = rows.iter().min_by_key(|&&(_, t, i)| (t, i)).expect("a row");
            format!("{k},{},{}", best.0, ts(best.1))
        })
        .collect();
    let table = EVENTS_TABLE.replace("ts TIMESTAMP(3),", "ts TIMESTAMP(3), pt AS PROCTIME(),");
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = format!(
            "{table}
            CREATE TABLE out (k BIGINT, v BIGINT) WITH ('connector' = 'collect');
            INSERT INTO out SELECT k, v FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY pt ASC) AS rn FROM events)
            WHERE rn = 1;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().all(|(kind, _)| kind == "+I"), "append-only: {rows:?}");
        assert_eq!(materialize(&rows), first, "keep first p={parallelism} {backend:?}");

        // Keep last on processing time: the last arrival of each key, each replacing the one
        // before (-U/+U).
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = sql.replace("ORDER BY pt ASC", "ORDER BY pt DESC");
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(kind, _)| kind == "-U"), "updates expected: {rows:?}");
        assert!(rows.iter().all(|(kind, _)| kind != "-D"), "{rows:?}");
        assert_eq!(
            materialize(&rows),
            arrived_last,
            "keep last p={parallelism} {backend:?}"
        );

        for (order, expected) in [("DESC", &last), ("ASC", &earliest)] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir(dir.path().join("in")).expect("mkdir");
            write_events(&dir.path().join("in/events.csv"), &input);
            let sql = format!(
                "{EVENTS_TABLE}
                CREATE TABLE out (k BIGINT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'collect');
                INSERT INTO out SELECT k, v, ts FROM (
                    SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts {order}) AS rn FROM events)
                WHERE rn <= 1;"
            );
            let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
            // Keep last on event time replaces rows as later bids arrive.
            if order == "DESC" {
                assert!(rows.iter().any(|(kind, _)| kind == "-U"), "updates expected: {rows:?}");
            }
            assert_eq!(&materialize(&rows), expected, "ts {order} p={parallelism} {backend:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_top_n_emits_each_window_once() {
    let input = events(3_000);
    // Brute force: SUM(v) per (1 s tumbling window, k), the 2 largest per window. Two keys can
    // have equal sums, and which of them arrives first depends on parallelism: compare
    // (window_start, rank, total), which ties do not change.
    let mut sums: BTreeMap<(i64, u64), i64> = BTreeMap::new();
    for &(k, v, t) in &input {
        *sums.entry((t.div_euclid(1_000) * 1_000, k)).or_default() += v;
    }
    let mut windows: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (&(start, _), &total) in &sums {
        windows.entry(start).or_default().push(total);
    }
    let mut expected = Vec::new();
    for (start, mut totals) in windows {
        totals.sort_by_key(|&t| std::cmp::Reverse(t));
        for (r, total) in totals.into_iter().take(2).enumerate() {
            expected.push(format!("{},{},{total}", ts(start), r + 1));
        }
    }
    expected.sort();
    let query = "INSERT INTO out SELECT window_start, rn, total FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn
            FROM (SELECT window_start, window_end, k, SUM(v) AS total
                  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
                  GROUP BY window_start, window_end, k))
        WHERE rn <= 2;";
    for (run, (p, backend)) in run_all(&input, "window_start TIMESTAMP(3), rn BIGINT, total BIGINT", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert!(run.iter().all(|(kind, _)| kind == "+I"), "append-only: {run:?}");
        let mut rows: Vec<String> = run.iter().map(|(_, row)| row.clone()).collect();
        rows.sort();
        assert_eq!(rows, expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_top_n_directly_over_a_tumble_function() {
    let input = events(3_000);
    // The 3 largest values per 1 s window (ties: earlier arrival first; rows of one window
    // arrive in file order), emitted once per window.
    let mut windows: BTreeMap<i64, Vec<(i64, usize, u64, i64)>> = BTreeMap::new();
    for (i, &(k, v, t)) in input.iter().enumerate() {
        windows
            .entry(t.div_euclid(1_000) * 1_000)
            .or_default()
            .push((v, i, k, t));
    }
    let mut expected = Vec::new();
    for (start, mut rows) in windows {
        rows.sort_by_key(|&(v, i, _, _)| (std::cmp::Reverse(v), i));
        for (r, (v, _, k, t)) in rows.into_iter().take(3).enumerate() {
            expected.push(format!(
                "{},{},{k},{v},{},{}",
                ts(start),
                ts(start + 1_000),
                ts(t),
                r + 1
            ));
        }
    }
    expected.sort();
    let query = "INSERT INTO out SELECT window_start, window_end, k, v, ts, rn FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rn
            FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)))
        WHERE rn <= 3;";
    let columns = "window_start TIMESTAMP(3), window_end TIMESTAMP(3), k BIGINT, v BIGINT, ts TIMESTAMP(3), rn BIGINT";
    for (run, (p, backend)) in run_all(&input, columns, query).await.iter().zip(COMBINATIONS) {
        assert!(run.iter().all(|(kind, _)| kind == "+I"), "append-only: {run:?}");
        let mut rows: Vec<String> = run.iter().map(|(_, row)| row.clone()).collect();
        rows.sort();
        assert_eq!(rows, expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_top_n_ranks_every_row() {
    let input = events(2_000);
    let mut rows: Vec<(i64, usize, u64)> = input.iter().enumerate().map(|(i, &(k, v, _))| (v, i, k)).collect();
    rows.sort_by_key(|&(v, i, _)| (std::cmp::Reverse(v), i));
    let mut expected: Vec<String> = rows
        .iter()
        .take(5)
        .enumerate()
        .map(|(r, (v, _, k))| format!("{k},{v},{}", r + 1))
        .collect();
    expected.sort();
    let query = "INSERT INTO out SELECT k, v, rn FROM (
            SELECT *, ROW_NUMBER() OVER (ORDER BY v DESC) AS rn FROM events)
        WHERE rn <= 5;";
    for (run, (p, backend)) in run_all(&input, "k BIGINT, v BIGINT, rn BIGINT", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_n_over_a_group_aggregation_consumes_retractions() {
    let input = events(2_000);
    // SUM(v) per k, then the 2 largest sums per k % 2 (sums of distinct keys differ here).
    let mut sums: BTreeMap<u64, i64> = BTreeMap::new();
    for &(k, v, _) in &input {
        *sums.entry(k).or_default() += v;
    }
    let mut expected = Vec::new();
    for parity in 0..2 {
        let mut totals: Vec<(i64, u64)> = sums
            .iter()
            .filter(|(k, _)| *k % 2 == parity)
            .map(|(k, s)| (*s, *k))
            .collect();
        totals.sort_by_key(|&(s, _)| std::cmp::Reverse(s));
        for (r, (s, k)) in totals.into_iter().take(2).enumerate() {
            expected.push(format!("{parity},{k},{s},{}", r + 1));
        }
    }
    expected.sort();
    let query = "INSERT INTO out SELECT p, k, total, rn FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY p ORDER BY total DESC) AS rn
            FROM (SELECT k % 2 AS p, k, SUM(v) AS total FROM events GROUP BY k % 2, k))
        WHERE rn <= 2;";
    for (run, (p, backend)) in run_all(&input, "p BIGINT, k BIGINT, total BIGINT, rn BIGINT", query)
        .await
        .iter()
        .zip(COMBINATIONS)
    {
        assert_eq!(materialize(run), expected, "p={p} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_rank_filters_are_planning_errors_with_a_hint() {
    let table = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
CREATE TABLE out (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
";
    for (filter, over, message) in [
        (
            "rn > 3",
            "ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price)",
            "on ROW_NUMBER()",
        ),
        (
            "rn <= 3 AND price > 10",
            "ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price)",
            "on ROW_NUMBER()",
        ),
        (
            "rn >= 2",
            "ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price)",
            "on ROW_NUMBER()",
        ),
        (
            "rn < 1",
            "ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price)",
            "keeps no row",
        ),
        ("rn <= 3", "RANK() OVER (PARTITION BY auction ORDER BY price)", "RANK"),
    ] {
        let e = plan_error(&format!(
            "{table}INSERT INTO out\nSELECT auction, price FROM (SELECT *, {over} AS rn FROM bid) WHERE {filter};"
        ))
        .await;
        // The error points at the ranking window itself, not at the statement.
        assert_eq!((e.line, e.column), (6, 39), "{e}");
        assert!(e.message.contains(message), "{filter}: {e}");
        assert!(e.hint.is_some(), "{e}");
    }
    let e = plan_error(&format!(
        "{table}INSERT INTO out\nSELECT auction, price FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price) AS rn
            FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND, INTERVAL '2' SECOND)))
        WHERE rn <= 3;"
    ))
    .await;
    assert_eq!((e.line, e.column), (7, 23), "the ROW_NUMBER() window: {e}");
    assert!(e.message.contains("HOP"), "{e}");
    assert!(
        e.hint.as_deref().is_some_and(|h| h.contains("GROUP BY window_start")),
        "{e}"
    );
    // Window Top-N follows event time.
    let e = plan_error(&format!(
        "{}INSERT INTO out\nSELECT auction, n FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rn
            FROM (SELECT window_start, window_end, auction, COUNT(*) AS n
                  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(pt), INTERVAL '1' SECOND))
                  GROUP BY window_start, window_end, auction))
        WHERE rn <= 3;",
        table.replace("date_time TIMESTAMP(3),", "date_time TIMESTAMP(3), pt AS PROCTIME(),")
    ))
    .await;
    assert_eq!((e.line, e.column), (7, 23), "the ROW_NUMBER() window: {e}");
    assert!(e.message.contains("processing-time"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_plans_describe_their_mode_and_state_ttl_and_append_only_ones_feed_file_sinks() {
    let table = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
";
    let top3 = "SELECT auction, price FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) WHERE rn <= 3";
    let job = Planner::new()
        .plan_script(
            &format!(
                "SET 'table.exec.state.ttl' = '1 h';\n{table}
                CREATE TABLE out (auction BIGINT, price BIGINT) WITH ('connector' = 'print');
                INSERT INTO out {top3};"
            ),
            &PlanOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let descriptions: Vec<&String> = job.graph.nodes.iter().map(|n| &n.description).collect();
    assert!(
        job.graph.nodes.iter().any(|n| n.name == "Rank"
            && n.keyed
            && n.description.starts_with("Top-N keyed by (auction)")
            && n.description.contains("keep rank <= 3")
            && n.description.contains("state ttl 3600s")),
        "{descriptions:?}"
    );
    // An updating Top-N cannot feed an append-only file sink; a window Top-N can.
    let file_sink = "CREATE TABLE out (auction BIGINT, price BIGINT)
        WITH ('connector' = 'filesystem', 'path' = '/tmp/unused', 'format' = 'csv');";
    let e = plan_error(&format!("{table}{file_sink}\nINSERT INTO out {top3};")).await;
    assert!(e.message.contains("changelog") || e.message.contains("update"), "{e}");
    Planner::new()
        .plan_script(
            &format!(
                "{table}{file_sink}
                INSERT INTO out SELECT auction, price FROM (
                    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
                    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)))
                WHERE rn <= 3;"
            ),
            &PlanOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("a window Top-N is append-only: {e}"));
}

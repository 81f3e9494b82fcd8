//! OVER aggregations: append-only in event and processing time, and updating over a
//! changelog, checked against brute-force computations.

use super::*;

/// A frame of the brute force.
#[derive(Clone, Copy, Debug)]
enum Frame {
    Rows(usize),
    RowsUnbounded,
    Range(i64),
    RangeUnbounded,
}

/// Rows of one partition sorted by (order, tie-break); the aggregates over each row's frame:
/// COUNT(*), SUM, MIN, MAX, AVG truncated (of `value`), keyed by the row's `label`.
fn frames_of(sorted: &[(i64, i64, String)], frame: Frame) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (order, _, label)) in sorted.iter().enumerate() {
        let in_frame: Vec<i64> = sorted
            .iter()
            .enumerate()
            .filter(|(j, (o, _, _))| match frame {
                Frame::Rows(n) => *j <= i && j + n >= i,
                Frame::RowsUnbounded => *j <= i,
                Frame::Range(x) => o <= order && *o >= order - x,
                Frame::RangeUnbounded => o <= order,
            })
            .map(|(_, (_, v, _))| *v)
            .collect();
        let n = in_frame.len() as i64;
        let sum: i64 = in_frame.iter().sum();
        out.push(format!(
            "{label},{n},{sum},{},{},{}",
            in_frame.iter().min().expect("frame has the row"),
            in_frame.iter().max().expect("frame has the row"),
            sum / n
        ));
    }
    out
}

/// Events in timestamp order within 3 s, plus rows long behind the watermark (late).
fn events_with_late_rows(n: u64) -> (Vec<(u64, i64, i64)>, usize) {
    let mut input = events(n);
    let late: Vec<(u64, i64, i64)> = (0..20)
        .map(|i| (i % 7, 5_000 + i as i64, 1_000 + i as i64 * 13))
        .collect();
    let at = input.len() * 2 / 3;
    input.splice(at..at, late.iter().copied());
    (input, late.len())
}

/// The brute-force result of the append-only query below for `frame`, without late rows.
fn append_expected(input: &[(u64, i64, i64)], late: &[(u64, i64, i64)], frame: Frame) -> Vec<String> {
    let mut partitions: BTreeMap<u64, Vec<(i64, i64, String)>> = BTreeMap::new();
    let mut late = late.to_vec();
    for &(k, v, t) in input {
        if let Some(p) = late.iter().position(|l| *l == (k, v, t)) {
            late.remove(p);
            continue;
        }
        partitions
            .entry(k)
            .or_default()
            .push((t, v, format!("{k},{v},{}", ts(t))));
    }
    let mut expected = Vec::new();
    for rows in partitions.values_mut() {
        // Peers are processed in the order of their encoded rows: by v.
        rows.sort_by_key(|(t, v, _)| (*t, *v));
        expected.extend(frames_of(rows, frame));
    }
    expected.sort();
    expected
}

const APPEND_QUERY: &str = "
CREATE TABLE out (k BIGINT, v BIGINT, ts TIMESTAMP(3), n BIGINT, total BIGINT, lo BIGINT, hi BIGINT,
                  mean BIGINT) WITH ('connector' = 'collect');
INSERT INTO out
SELECT k, v, ts,
       COUNT(*) OVER (PARTITION BY k ORDER BY ts {frame}),
       SUM(v) OVER (PARTITION BY k ORDER BY ts {frame}),
       MIN(v) OVER (PARTITION BY k ORDER BY ts {frame}),
       MAX(v) OVER (PARTITION BY k ORDER BY ts {frame}),
       CAST(AVG(v) OVER (PARTITION BY k ORDER BY ts {frame}) AS BIGINT)
FROM events;";

async fn check_append(frame_sql: &str, frame: Frame) {
    let (input, late_count) = events_with_late_rows(900);
    let late: Vec<(u64, i64, i64)> = input
        .iter()
        .copied()
        .filter(|&(_, v, t)| (5_000..5_020).contains(&v) && t < 1_300)
        .collect();
    assert_eq!(late.len(), late_count);
    let expected = append_expected(&input, &late, frame);
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = format!("{EVENTS_TABLE}{}", APPEND_QUERY.replace("{frame}", frame_sql));
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().all(|(kind, _)| kind == "+I"), "append-only output");
        let mut got: Vec<String> = rows.into_iter().map(|(_, row)| row).collect();
        got.sort();
        assert_eq!(got.len(), expected.len(), "{frame_sql} p={parallelism} {backend:?}");
        assert_eq!(got, expected, "{frame_sql} p={parallelism} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_time_rows_frames_equal_a_brute_force_computation() {
    check_append("ROWS BETWEEN 3 PRECEDING AND CURRENT ROW", Frame::Rows(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_time_range_frames_equal_a_brute_force_computation() {
    check_append(
        "RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW",
        Frame::Range(2_000),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_time_unbounded_frames_equal_a_brute_force_computation() {
    check_append("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", Frame::RowsUnbounded).await;
    // The default frame with an ORDER BY: RANGE UNBOUNDED PRECEDING.
    check_append("", Frame::RangeUnbounded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_rows_count_every_row_once() {
    let input = events(500);
    let mut expected: Vec<String> = Vec::new();
    let mut per_key: BTreeMap<u64, i64> = BTreeMap::new();
    for &(k, _, _) in &input {
        *per_key.entry(k).or_default() += 1;
    }
    for (k, n) in &per_key {
        expected.extend((1..=*n).map(|i| format!("{k},{i}")));
    }
    expected.sort();
    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let sql = "
            CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP(3), pt AS PROCTIME())
            WITH ('connector' = 'filesystem', 'path' = '{dir}/in', 'format' = 'csv', 'csv.header' = 'true');
            CREATE TABLE out (k BIGINT, n BIGINT) WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            FROM events;";
        let rows = run_collecting(sql, dir.path(), parallelism, backend).await;
        let mut got: Vec<String> = rows.into_iter().map(|(_, row)| row).collect();
        got.sort();
        assert_eq!(got, expected, "p={parallelism} {backend:?}");
    }
}

/// The brute force of the updating query: per (k, d) the final MAX(v) and MAX(ts), then per k
/// ordered by (t, d) the aggregates of `m` over `frame`.
fn updating_expected(input: &[(u64, i64, i64)], frame: Frame) -> Vec<String> {
    let mut groups: BTreeMap<(u64, i64), (i64, i64)> = BTreeMap::new();
    for &(k, v, t) in input {
        let g = groups.entry((k, v % 10)).or_insert((i64::MIN, i64::MIN));
        g.0 = g.0.max(v);
        g.1 = g.1.max(t);
    }
    let mut partitions: BTreeMap<u64, Vec<(i64, i64, i64, String)>> = BTreeMap::new();
    for (&(k, d), &(m, t)) in &groups {
        partitions
            .entry(k)
            .or_default()
            .push((t, d, m, format!("{k},{d},{m},{}", ts(t))));
    }
    let mut expected = Vec::new();
    for rows in partitions.values_mut() {
        rows.sort_by_key(|(t, d, _, _)| (*t, *d));
        let sorted: Vec<(i64, i64, String)> = rows.iter().map(|(t, _, m, l)| (*t, *m, l.clone())).collect();
        expected.extend(frames_of(&sorted, frame));
    }
    expected.sort();
    expected
}

async fn check_updating(frame_sql: &str, frame: Frame) {
    let input = events(1_500);
    let expected = updating_expected(&input, frame);
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let over = format!("OVER (PARTITION BY k ORDER BY t {frame_sql})");
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (k BIGINT, d BIGINT, m BIGINT, t TIMESTAMP(3), n BIGINT, total BIGINT,
                              lo BIGINT, hi BIGINT, mean BIGINT) WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k, d, m, t, COUNT(*) {over}, SUM(m) {over}, MIN(m) {over}, MAX(m) {over},
                   CAST(AVG(m) {over} AS BIGINT)
            FROM (SELECT k, v % 10 AS d, MAX(v) AS m, MAX(ts) AS t FROM events GROUP BY k, v % 10);"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "updates expected");
        assert_eq!(materialize(&rows), expected, "{frame_sql} p={parallelism} {backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_rows_frames_over_a_changelog_equal_a_brute_force_computation() {
    check_updating("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW", Frame::Rows(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_range_frames_over_a_changelog_equal_a_brute_force_computation() {
    check_updating(
        "RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW",
        Frame::Range(5_000),
    )
    .await;
    check_updating(
        "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
        Frame::RangeUnbounded,
    )
    .await;
}

#[tokio::test]
async fn unsupported_over_windows_are_planning_errors_with_hints() {
    let table = "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
CREATE TABLE out (auction BIGINT, x BIGINT) WITH ('connector' = 'blackhole');
";
    let cases = [
        (
            "SUM(price) OVER (PARTITION BY auction ORDER BY date_time ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)",
            "FOLLOWING",
        ),
        ("ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price)", "ROW_NUMBER"),
        ("LAG(price) OVER (PARTITION BY auction ORDER BY date_time)", "LAG"),
        ("SUM(price) OVER (PARTITION BY auction)", "without ORDER BY"),
        ("MEDIAN(price) OVER (ORDER BY date_time)", "MEDIAN"),
    ];
    for (expr, what) in cases {
        let e = plan_error(&format!("{table}INSERT INTO out\nSELECT auction, {expr} FROM bid;")).await;
        // The error points at the OVER window itself, not at the statement.
        assert_eq!((e.line, e.column), (6, 17), "{e}");
        assert!(e.message.contains(what), "{what}: {e}");
        assert!(e.hint.is_some(), "{e}");
    }
    let e = plan_error(&format!(
        "{table}INSERT INTO out\nSELECT COUNT(*) OVER (ORDER BY date_time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
         COUNT(*) OVER (ORDER BY date_time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM bid;"
    ))
    .await;
    assert!(e.message.contains("different frames"), "{e}");
}

#[tokio::test]
async fn over_operators_describe_themselves_with_stable_uids() {
    let script = "SET 'table.exec.state.ttl' = '1 h';
CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'nexmark', 'table' = 'bid');
CREATE TABLE winners (auction BIGINT, avg_price BIGINT) WITH ('connector' = 'print');
CREATE TABLE moving (auction BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO winners
SELECT auction, CAST(AVG(final) OVER (PARTITION BY auction % 10 ORDER BY t
                                      ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS BIGINT)
FROM (SELECT auction, MAX(price) AS final, MAX(date_time) AS t FROM bid GROUP BY auction);
INSERT INTO moving
SELECT auction, COUNT(*) OVER (PARTITION BY auction ORDER BY date_time
                               RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW)
FROM bid;";
    let plan = || async {
        Planner::new()
            .plan_script(script, &PlanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let job = plan().await;
    let over: Vec<_> = job.graph.nodes.iter().filter(|n| n.name == "OverAggregate").collect();
    assert_eq!(over.len(), 2);
    let descriptions: Vec<&str> = over.iter().map(|n| n.description.as_str()).collect();
    assert!(
        descriptions
            .iter()
            .any(|d| d.contains("ROWS BETWEEN 10 PRECEDING AND CURRENT ROW")
                && d.contains("updating")
                && d.contains("state ttl 3600s")),
        "{descriptions:?}"
    );
    assert!(
        descriptions
            .iter()
            .any(|d| d.contains("RANGE BETWEEN INTERVAL '10000' MILLISECOND")
                && d.contains("COUNT(*)")
                && d.contains("event time, append-only")),
        "{descriptions:?}"
    );
    assert!(over.iter().all(|n| n.keyed));
    let uids =
        |job: &freshet_sql::SqlJob| -> Vec<String> { job.graph.nodes.iter().map(|n| n.uid.to_string()).collect() };
    assert_eq!(uids(&job), uids(&plan().await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_is_not_time_makes_an_append_only_input_updating() {
    let input = events(600);
    // Per k ordered by v (ties by the whole row: ts), ROWS 1 PRECEDING.
    let mut partitions: BTreeMap<u64, Vec<(i64, i64, String)>> = BTreeMap::new();
    for &(k, v, t) in &input {
        partitions
            .entry(k)
            .or_default()
            .push((v, t, format!("{k},{v},{}", ts(t))));
    }
    let mut expected = Vec::new();
    for rows in partitions.values_mut() {
        rows.sort_by_key(|(v, t, _)| (*v, *t));
        let sorted: Vec<(i64, i64, String)> = rows.iter().map(|(v, _, l)| (*v, *v, l.clone())).collect();
        expected.extend(frames_of(&sorted, Frame::Rows(1)));
    }
    expected.sort();
    for (parallelism, backend) in COMBINATIONS {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        write_events(&dir.path().join("in/events.csv"), &input);
        let over = "OVER (PARTITION BY k ORDER BY v ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)";
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (k BIGINT, v BIGINT, ts TIMESTAMP(3), n BIGINT, total BIGINT, lo BIGINT, hi BIGINT,
                              mean BIGINT) WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k, v, ts, COUNT(*) {over}, SUM(v) {over}, MIN(v) {over}, MAX(v) {over},
                   CAST(AVG(v) {over} AS BIGINT)
            FROM events;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "updates expected");
        assert_eq!(materialize(&rows), expected, "p={parallelism} {backend:?}");
    }
}

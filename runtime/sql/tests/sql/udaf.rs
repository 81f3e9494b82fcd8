//! Aggregates beyond the native ones in a non-windowed `GROUP BY`: DataFusion built-ins and
//! Rust UDAFs registered through `Planner::session()`, run on their accumulators.

use super::{apply_changelog, events, write_events, COMBINATIONS, EVENTS_TABLE};
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{create_udaf, Accumulator, AggregateUDF, Volatility};
use freshet_sql::{PlanOptions, Planner};
use freshet_state::BackendKind;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

type DfResult<T> = datafusion::error::Result<T>;

fn int64(array: &ArrayRef) -> DfResult<&Int64Array> {
    array
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| datafusion::error::DataFusionError::Execution("expected BIGINT".into()))
}

/// `spread(x)`: MAX(x) - MIN(x). It cannot retract.
#[derive(Debug, Default)]
struct Spread {
    min: Option<i64>,
    max: Option<i64>,
}

impl Spread {
    fn add(&mut self, values: &Int64Array) {
        for v in values.iter().flatten() {
            self.min = Some(self.min.map_or(v, |m| m.min(v)));
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }
}

impl Accumulator for Spread {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.add(int64(&values[0])?);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.add(int64(&states[0])?);
        self.add(int64(&states[1])?);
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(self.min), ScalarValue::Int64(self.max)])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Int64(self.max.zip(self.min).map(|(a, b)| a - b)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// `sum_sq(x)`: the sum of the squares. It retracts.
#[derive(Debug, Default)]
struct SumSquares(i64);

impl Accumulator for SumSquares {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.0 += int64(&values[0])?.iter().flatten().map(|v| v * v).sum::<i64>();
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.0 -= int64(&values[0])?.iter().flatten().map(|v| v * v).sum::<i64>();
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.0 += int64(&states[0])?.iter().flatten().sum::<i64>();
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

fn udafs() -> [AggregateUDF; 2] {
    [
        create_udaf(
            "spread",
            vec![DataType::Int64],
            Arc::new(DataType::Int64),
            Volatility::Immutable,
            Arc::new(|_| Ok(Box::new(Spread::default()))),
            Arc::new(vec![DataType::Int64, DataType::Int64]),
        ),
        create_udaf(
            "sum_sq",
            vec![DataType::Int64],
            Arc::new(DataType::Int64),
            Volatility::Immutable,
            Arc::new(|_| Ok(Box::new(SumSquares::default()))),
            Arc::new(vec![DataType::Int64]),
        ),
    ]
}

/// A planner with the UDAFs registered.
fn planner() -> Planner {
    let planner = Planner::new();
    for udaf in udafs() {
        planner.session().register_udaf(udaf);
    }
    planner
}

/// Plans `sql` with the UDAFs and a `'connector' = 'collect'` sink, runs it in batches of 64 rows
/// and returns what the sink received.
async fn run_collecting(sql: &str, dir: &Path, parallelism: u32, backend: BackendKind) -> Vec<(String, String)> {
    super::run_collecting_with(planner(), sql, dir, parallelism, backend).await
}

/// Whether two result rows are equal, floating-point fields within a relative 1e-9.
fn same_row(actual: &str, expected: &str) -> bool {
    let a: Vec<&str> = actual.split(',').collect();
    let e: Vec<&str> = expected.split(',').collect();
    a.len() == e.len()
        && a.iter().zip(&e).all(|(a, e)| {
            a == e
                || match (a.parse::<f64>(), e.parse::<f64>()) {
                    (Ok(a), Ok(e)) => (a - e).abs() <= 1e-9 * e.abs().max(1.0),
                    _ => false,
                }
        })
}

fn assert_rows(actual: &[String], expected: &[String], label: &str) {
    assert_eq!(actual.len(), expected.len(), "{label}: {actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(same_row(a, e), "{label}: {a} vs {e}");
    }
}

/// Population variance and sample variance of `xs`.
fn variances(xs: &[i64]) -> (f64, Option<f64>) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<i64>() as f64 / n;
    let m2: f64 = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum();
    (m2 / n, (xs.len() > 1).then(|| m2 / (n - 1.0)))
}

fn dir_with_events(input: &[(u64, i64, i64)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("in")).expect("mkdir");
    write_events(&dir.path().join("in/events.csv"), input);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_udafs_and_built_in_aggregates_run_in_a_group_by() {
    let input = events(3_000);
    let mut groups: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for &(k, v, _) in &input {
        groups.entry(k % 4).or_default().push(v);
    }
    let spread = |vs: &[i64]| match (vs.iter().max(), vs.iter().min()) {
        (Some(a), Some(b)) => (a - b).to_string(),
        _ => "null".to_string(),
    };
    let expected: Vec<String> = groups
        .iter()
        .map(|(g, vs)| {
            let positive: Vec<i64> = vs.iter().copied().filter(|v| *v > 0).collect();
            let (var_pop, var_samp) = variances(vs);
            format!(
                "{g},{},{},{},{},{},{},{},{}",
                vs.len(),
                spread(vs),
                spread(&positive),
                vs.iter().map(|v| v * v).sum::<i64>(),
                var_pop.sqrt(),
                vs.iter().all(|v| *v > -100),
                vs.iter().any(|v| *v > 890),
                var_samp.expect("groups have many rows"),
            )
        })
        .collect();
    for (parallelism, backend) in COMBINATIONS {
        let dir = dir_with_events(&input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (g BIGINT, n BIGINT, spread BIGINT, spread_pos BIGINT, sq BIGINT, sd DOUBLE,
                              none_low BOOLEAN, some_high BOOLEAN, var DOUBLE)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k % 4, COUNT(*), spread(v), spread(v) FILTER (WHERE v > 0), sum_sq(v), STDDEV_POP(v),
                   BOOL_AND(v > -100), BOOL_OR(v > 890), VAR_SAMP(v)
            FROM events
            GROUP BY k % 4;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "updates expected");
        let label = format!("p={parallelism} {backend:?}");
        assert_rows(&apply_changelog(&rows, &[0]), &expected, &label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retracting_aggregates_consume_a_changelog() {
    let input = events(2_000);
    // Inner: per (k, v % 5) the MAX(v); outer: per bucket statistics of those maxima.
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
            let (var_pop, var_samp) = variances(ms);
            let mut sorted = ms.clone();
            sorted.sort();
            let half = sorted.len() / 2;
            let median = if sorted.len() % 2 == 1 {
                sorted[half]
            } else {
                (sorted[half - 1] + sorted[half]) / 2
            };
            format!(
                "{b},{},{},{},{},{median},{},{}",
                ms.len(),
                ms.iter().map(|m| m * m).sum::<i64>(),
                var_pop.sqrt(),
                var_samp.map_or("null".to_string(), |v| v.to_string()),
                sorted[0],
                sorted[sorted.len() - 1],
            )
        })
        .collect();
    expected.sort();
    for (parallelism, backend) in COMBINATIONS {
        let dir = dir_with_events(&input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE VIEW maxima AS SELECT k, v % 5 AS b, MAX(v) AS m FROM events GROUP BY k, v % 5;
            CREATE TABLE out (b BIGINT, n BIGINT, sq BIGINT, sd DOUBLE, var DOUBLE, med BIGINT, lo BIGINT, hi BIGINT)
            WITH ('connector' = 'collect');
            INSERT INTO out SELECT b, COUNT(*), sum_sq(m), STDDEV_POP(m), VAR_SAMP(m), MEDIAN(m), MIN(m), MAX(m)
            FROM maxima GROUP BY b;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().any(|(k, _)| k == "-U"), "retractions expected");
        let label = format!("p={parallelism} {backend:?}");
        assert_rows(&apply_changelog(&rows, &[0]), &expected, &label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_that_cannot_retract_over_a_changelog_are_planning_errors() {
    for (aggregate, columns, function) in [
        ("spread(m)", "x BIGINT", "spread"),
        ("FIRST_VALUE(m)", "x BIGINT", "first_value"),
        // COUNT(DISTINCT) retracts natively, not next to an aggregate that needs the accumulators.
        ("COUNT(DISTINCT m), STDDEV_POP(m)", "x BIGINT, y DOUBLE", "distinct"),
        ("SUM(DISTINCT m)", "x BIGINT", "distinct"),
    ] {
        let sql = format!(
            "{}
            CREATE VIEW maxima AS SELECT k, MAX(v) AS m FROM events GROUP BY k;
            CREATE TABLE out ({columns}) WITH ('connector' = 'blackhole');
            INSERT INTO out SELECT {aggregate} FROM maxima;",
            EVENTS_TABLE.replace("{dir}", "/nonexistent")
        );
        let e = match planner().plan_script(&sql, &PlanOptions::default()).await {
            Ok(_) => panic!("planning should fail: {aggregate}"),
            Err(e) => e,
        };
        assert!(e.message.contains("cannot consume the retractions"), "{e}");
        assert!(e.message.to_lowercase().contains(function), "{e}");
        assert!(e.hint.as_deref().unwrap_or_default().contains("retract_batch"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udaf_plans_describe_the_operator_and_its_state_ttl() {
    let sql = format!(
        "SET 'table.exec.state.ttl' = '1 h';
        {}
        CREATE TABLE out (k BIGINT, s BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
        INSERT INTO out SELECT k, spread(v), COUNT(*) FROM events GROUP BY k;",
        EVENTS_TABLE.replace("{dir}", "/nonexistent")
    );
    let job = planner()
        .plan_script(&sql, &PlanOptions::default())
        .await
        .unwrap_or_else(|e| panic!("planning failed: {e}"));
    let descriptions: Vec<&String> = job.graph.nodes.iter().map(|n| &n.description).collect();
    assert!(
        job.graph.nodes.iter().any(|n| n.name == "AccumulateAggregate"
            && n.keyed
            && n.description.contains("spread(events.v)")
            && n.description.contains("state ttl 3600s")),
        "{descriptions:?}"
    );
    assert!(
        !job.graph.nodes.iter().any(|n| n.name == "GroupAggregate"),
        "{descriptions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_distinct_and_decimal_aggregates_keep_datafusion_semantics() {
    let input = events(1_500);
    let mut groups: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for &(k, v, _) in &input {
        groups.entry(k % 3).or_default().push(v);
    }
    let expected: Vec<String> = groups
        .iter()
        .map(|(g, vs)| {
            let digits: std::collections::BTreeSet<i64> = vs.iter().map(|v| v.rem_euclid(10)).collect();
            let mut threes: Vec<i64> = vs.iter().map(|v| v.rem_euclid(3)).collect();
            threes.sort();
            let threes: Vec<String> = threes.iter().map(|t| t.to_string()).collect();
            let total: i64 = vs.iter().sum();
            assert!(total > 0);
            // DECIMAL(12, 2) / 4 has DataFusion's scale 6.
            format!(
                "{g},{},{},{},{}.{:06},{}",
                digits.iter().sum::<i64>(),
                digits.len(),
                digits.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("|"),
                total / 4,
                (total % 4) * 250_000,
                threes.join(""),
            )
        })
        .collect();
    for (parallelism, backend) in COMBINATIONS {
        let dir = dir_with_events(&input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (g BIGINT, digit_sum BIGINT, digits BIGINT, listed STRING, quarter STRING,
                              threes STRING)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k % 3,
                   SUM(DISTINCT (v % 10 + 10) % 10),
                   APPROX_DISTINCT((v % 10 + 10) % 10),
                   array_to_string(ARRAY_AGG(DISTINCT (v % 10 + 10) % 10 ORDER BY (v % 10 + 10) % 10), '|'),
                   CAST(SUM(CAST(v AS DECIMAL(12, 2)) / 4) AS STRING),
                   STRING_AGG(CAST((v % 3 + 3) % 3 AS STRING), '' ORDER BY (v % 3 + 3) % 3)
            FROM events
            GROUP BY k % 3;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        let label = format!("p={parallelism} {backend:?}");
        assert_eq!(apply_changelog(&rows, &[0]), expected, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udafs_and_built_in_aggregates_run_in_hopping_windows() {
    let input = events(3_000);
    // Per (k, 4 s window sliding by 2 s): the values.
    let mut windows: BTreeMap<(u64, i64), Vec<i64>> = BTreeMap::new();
    for &(k, v, t) in &input {
        let last = t.div_euclid(2_000) * 2_000;
        for start in [last - 2_000, last] {
            windows.entry((k, start)).or_default().push(v);
        }
    }
    let spread = |vs: &[i64]| match (vs.iter().max(), vs.iter().min()) {
        (Some(a), Some(b)) => (a - b).to_string(),
        _ => "null".to_string(),
    };
    let expected: Vec<String> = windows
        .iter()
        .map(|((k, start), vs)| {
            let positive: Vec<i64> = vs.iter().copied().filter(|v| *v > 0).collect();
            let sevens: std::collections::BTreeSet<i64> = vs.iter().map(|v| v % 7).collect();
            format!(
                "{k},{start},{},{},{},{},{},{},{},{}",
                vs.len(),
                spread(vs),
                spread(&positive),
                variances(vs).0.sqrt(),
                vs.iter().any(|v| *v > 850),
                sevens.iter().sum::<i64>(),
                positive.len(),
                sevens.len(),
            )
        })
        .collect();
    for (parallelism, backend) in COMBINATIONS {
        let dir = dir_with_events(&input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (k BIGINT, ws BIGINT, n BIGINT, spread BIGINT, spread_pos BIGINT, sd DOUBLE,
                              some_high BOOLEAN, sevens BIGINT, positive BIGINT, distinct_sevens BIGINT)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k, CAST(window_start AS BIGINT), COUNT(*), spread(v), spread(v) FILTER (WHERE v > 0),
                   STDDEV_POP(v), BOOL_OR(v > 850), SUM(DISTINCT v % 7), COUNT(*) FILTER (WHERE v > 0),
                   COUNT(DISTINCT v % 7)
            FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '4' SECOND))
            GROUP BY k, window_start, window_end;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        assert!(rows.iter().all(|(k, _)| k == "+I"), "an append-only result");
        let mut actual: Vec<String> = rows.into_iter().map(|(_, r)| r).collect();
        actual.sort();
        let mut expected = expected.clone();
        expected.sort();
        let label = format!("p={parallelism} {backend:?}");
        assert_rows(&actual, &expected, &label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_aggregates_with_list_results_are_planning_errors() {
    let sql = format!(
        "{}
        CREATE TABLE out (k BIGINT, vs STRING) WITH ('connector' = 'blackhole');
        INSERT INTO out
        SELECT k, array_to_string(ARRAY_AGG(v), ',')
        FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECOND))
        GROUP BY k, window_start, window_end;",
        EVENTS_TABLE.replace("{dir}", "/nonexistent")
    );
    let e = match planner().plan_script(&sql, &PlanOptions::default()).await {
        Ok(_) => panic!("planning should fail"),
        Err(e) => e,
    };
    assert!(
        e.message.contains("array_agg") && e.message.contains("window aggregation"),
        "{e}"
    );
    assert!(e.hint.as_deref().unwrap_or_default().contains("scalar result"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udafs_run_in_session_windows_whose_accumulators_merge() {
    let input = events(2_000);
    // SESSION(gap 500 ms) per key: spread(v), STDDEV_POP(v), the session's sum of squares.
    let mut per_key: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
    for &(k, v, t) in &input {
        per_key.entry(k).or_default().push((t, v));
    }
    let mut expected = Vec::new();
    for (k, mut rows) in per_key {
        rows.sort();
        let mut i = 0;
        while i < rows.len() {
            let (start, mut end) = (rows[i].0, rows[i].0 + 500);
            let mut vs = Vec::new();
            // Sessions that touch merge, as in Flink ([a, b) and [b, c) are one session).
            while i < rows.len() && rows[i].0 <= end {
                end = end.max(rows[i].0 + 500);
                vs.push(rows[i].1);
                i += 1;
            }
            let spread = vs.iter().max().copied().unwrap_or(0) - vs.iter().min().copied().unwrap_or(0);
            expected.push(format!(
                "{k},{start},{end},{spread},{},{}",
                variances(&vs).0.sqrt(),
                vs.iter().map(|v| v * v).sum::<i64>()
            ));
        }
    }
    expected.sort();
    for (parallelism, backend) in [(1, BackendKind::Heap), (3, BackendKind::Rocksdb)] {
        let dir = dir_with_events(&input);
        let sql = format!(
            "{EVENTS_TABLE}
            CREATE TABLE out (k BIGINT, ws BIGINT, we BIGINT, spread BIGINT, sd DOUBLE, sq BIGINT)
            WITH ('connector' = 'collect');
            INSERT INTO out
            SELECT k, CAST(window_start AS BIGINT), CAST(window_end AS BIGINT), spread(v), STDDEV_POP(v), sum_sq(v)
            FROM TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND))
            GROUP BY k, window_start, window_end;"
        );
        let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
        let mut actual: Vec<String> = rows.into_iter().map(|(_, r)| r).collect();
        actual.sort();
        assert_rows(&actual, &expected, &format!("p={parallelism} {backend:?}"));
    }
}

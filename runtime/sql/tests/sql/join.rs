//! Outer joins, joins of changelogs and lookup joins, materialized and compared with brute force.

use super::*;

/// The rows of `a` and `b` as text, NULL-padded as the collect sink prints them.
fn row(a: Option<(u64, i64)>, b: Option<(u64, i64)>) -> String {
    let text = |side: Option<(u64, i64)>| match side {
        Some((k, v)) => format!("{k},{v}"),
        None => "null,null".to_string(),
    };
    format!("{},{}", text(a), text(b))
}

/// LEFT, RIGHT or FULL join of `a` and `b` on `a.k = b.k / 2 AND a.v + b.v > 400 AND b.v < 450`.
fn brute_force_outer_join(a: &[(u64, i64, i64)], b: &[(u64, i64, i64)], left: bool, right: bool) -> Vec<String> {
    let on = |(ak, av, _): &(u64, i64, i64), (bk, bv, _): &(u64, i64, i64)| *ak == bk / 2 && av + bv > 400 && *bv < 450;
    let mut out = Vec::new();
    for x in a {
        let mut matched = false;
        for y in b.iter().filter(|y| on(x, y)) {
            matched = true;
            out.push(row(Some((x.0, x.1)), Some((y.0, y.1))));
        }
        if left && !matched {
            out.push(row(Some((x.0, x.1)), None));
        }
    }
    if right {
        for y in b.iter().filter(|y| !a.iter().any(|x| on(x, y))) {
            out.push(row(None, Some((y.0, y.1))));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn left_right_and_full_joins_with_residual_conditions_equal_a_brute_force_computation() {
    let a = events(300);
    let b = other_events(300);
    for (join, left, right) in [("LEFT", true, false), ("RIGHT", false, true), ("FULL", true, true)] {
        let expected = brute_force_outer_join(&a, &b, left, right);
        let padded = expected.iter().filter(|r| r.contains("null")).count();
        assert!(
            padded > 5 && expected.len() - padded > 100,
            "{join}: {padded} of {}",
            expected.len()
        );
        for (parallelism, backend) in COMBINATIONS {
            let dir = tempfile::tempdir().expect("tempdir");
            join_inputs(dir.path(), &a, &b);
            let sql = format!(
                "{JOIN_TABLES}
                CREATE TABLE out (ak BIGINT, av BIGINT, bk BIGINT, bv BIGINT) WITH ('connector' = 'collect');
                INSERT INTO out
                SELECT a.k, a.v, b.k, b.v FROM a {join} JOIN b
                ON a.k = b.k / 2 AND a.v + b.v > 400 AND b.v < 450;"
            );
            let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
            let label = format!("{join} p={parallelism} {backend:?}");
            assert_eq!(materialize(&rows), expected, "{label}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_of_two_group_by_changelogs_equal_a_brute_force_computation() {
    let a = events(600);
    let b = other_events(600);
    // L: per k, COUNT and SUM; R: per k / 3, MAX and COUNT.
    let mut l: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for &(k, v, _) in &a {
        let e = l.entry(k).or_default();
        e.0 += 1;
        e.1 += v;
    }
    let mut r: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for &(k, v, _) in &b {
        let e = r.entry(k / 3).or_insert((i64::MIN, 0));
        e.0 = e.0.max(v);
        e.1 += 1;
    }
    let mut inner = Vec::new();
    let mut left = Vec::new();
    for (k, (n, s)) in &l {
        match r.get(k).filter(|(m, _)| s / n > m / 2) {
            Some((m, c)) => {
                inner.push(format!("{k},{n},{s},{m},{c}"));
                left.push(format!("{k},{n},{s},{m},{c}"));
            }
            None => left.push(format!("{k},{n},{s},null,null")),
        }
    }
    inner.sort();
    left.sort();
    assert!(inner.len() >= 2 && left.len() > inner.len(), "{inner:?} {left:?}");
    for (join, expected) in [("JOIN", &inner), ("LEFT JOIN", &left)] {
        for (parallelism, backend) in COMBINATIONS {
            let dir = tempfile::tempdir().expect("tempdir");
            join_inputs(dir.path(), &a, &b);
            let sql = format!(
                "{JOIN_TABLES}
                CREATE TABLE out (k BIGINT, n BIGINT, s BIGINT, m BIGINT, c BIGINT) WITH ('connector' = 'collect');
                INSERT INTO out
                SELECT L.k, L.n, L.s, R.m, R.c
                FROM (SELECT k, COUNT(*) AS n, SUM(v) AS s FROM a GROUP BY k) AS L
                {join} (SELECT k / 3 AS k, MAX(v) AS m, COUNT(*) AS c FROM b GROUP BY k / 3) AS R
                ON L.k = R.k AND L.s / L.n > R.m / 2;"
            );
            let rows = run_collecting(&sql, dir.path(), parallelism, backend).await;
            let label = format!("{join} p={parallelism} {backend:?}");
            assert!(
                rows.iter().any(|(k, _)| k == "-D"),
                "{label}: joined rows are retracted"
            );
            assert_eq!(&materialize(&rows), expected, "{label}");
        }
    }
}

#[tokio::test]
async fn outer_window_joins_are_planning_errors_with_a_hint() {
    let sql = format!(
        "{JOIN_TABLES}
        CREATE TABLE out (k BIGINT, av BIGINT, bv BIGINT) WITH ('connector' = 'blackhole');
        INSERT INTO out SELECT a.k, a.v, b.v FROM a LEFT JOIN b
        ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '2' SECOND;"
    );
    let e = plan_error(&sql).await;
    assert!(e.message.contains("LEFT interval join"), "{e}");
    assert!(e.hint.is_some(), "{e}");
}

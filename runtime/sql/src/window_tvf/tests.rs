use super::*;
use crate::statement::{parse_script, Statement};
use datafusion::sql::sqlparser::ast::SetExpr;

fn decode(from: &str) -> Result<Option<WindowTvf>> {
    let sql = format!("SELECT * FROM {from}");
    let statements = parse_script(&sql)?;
    let Some(Statement::Select { query, .. }) = statements.first() else {
        panic!("not a select");
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        panic!("not a plain select");
    };
    WindowTvf::from_table_factor(&select.from[0].relation)
}

fn window(from: &str) -> WindowTvf {
    match decode(from) {
        Ok(Some(w)) => w,
        other => panic!("{from}: {other:?}"),
    }
}

fn error(from: &str) -> String {
    match decode(from) {
        Ok(w) => format!("decoded: {w:?}"),
        Err(e) => e.to_string(),
    }
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn tumble() {
    let w = window("TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) AS w");
    assert_eq!(
        w.window,
        WindowKind::Tumble {
            size: S(10),
            offset: S(0)
        }
    );
    assert_eq!(w.table.to_string(), "bid");
    assert_eq!(w.time_column.value, "date_time");
    assert!(w.partition_by.is_empty());
    assert_eq!(w.alias.map(|a| a.to_string()), Some("AS w".to_string()));
    // sqlparser's span of a call ends with its last argument's; an interval's covers its value.
    assert_eq!((w.span.start.column, w.span.end.column), (21, 75));
    let w = window("TABLE(tumble(TABLE s.bid, DESCRIPTOR(`dateTime`), INTERVAL '1' MINUTE, INTERVAL '-10' SECOND))");
    assert_eq!(
        w.window,
        WindowKind::Tumble {
            size: S(60),
            offset: S(50)
        }
    );
    assert_eq!(w.table.to_string(), "s.bid");
    assert_eq!(w.time_column.value, "dateTime");
}

#[test]
fn hop_cumulate_session() {
    let w = window("TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))");
    assert_eq!(
        w.window,
        WindowKind::Hop {
            slide: S(2),
            size: S(10),
            offset: S(0)
        }
    );
    let w = window("TABLE(CUMULATE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' MINUTE, INTERVAL '1' HOUR))");
    assert_eq!(
        w.window,
        WindowKind::Cumulate {
            step: S(60),
            size: S(3600),
            offset: S(0)
        }
    );
    let w = window("TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(date_time), INTERVAL '10' SECOND))");
    assert_eq!(w.window, WindowKind::Session { gap: S(10) });
    let keys: Vec<String> = w.partition_by.iter().map(ToString::to_string).collect();
    assert_eq!(keys, ["bidder"]);
    let w =
        window("TABLE(SESSION(TABLE bid PARTITION BY (bidder, auction), DESCRIPTOR(date_time), INTERVAL '1' SECOND))");
    assert_eq!(w.partition_by.len(), 2);
    let w = window("TABLE(SESSION(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND))");
    assert!(w.partition_by.is_empty());
}

#[test]
fn named_arguments() {
    let w = window("TABLE(TUMBLE(DATA => TABLE bid, TIMECOL => DESCRIPTOR(date_time), SIZE => INTERVAL '10' MINUTES))");
    assert_eq!(
        w.window,
        WindowKind::Tumble {
            size: S(600),
            offset: S(0)
        }
    );
    let w = window(
        "TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), size => INTERVAL '4' SECOND, slide => INTERVAL '2' SECOND))",
    );
    assert_eq!(
        w.window,
        WindowKind::Hop {
            slide: S(2),
            size: S(4),
            offset: S(0)
        }
    );
}

#[test]
fn other_relations_are_not_windows() {
    assert_eq!(decode("bid"), Ok(None));
    assert_eq!(decode("(SELECT 1) AS x"), Ok(None));
    assert_eq!(decode("TABLE(my_function(1))"), Ok(None));
}

/// Errors about an interval point at its value: sqlparser's span of an interval covers only that.
#[test]
fn bad_window_arguments() {
    let cases = [
        (
            "TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '3' SECOND, INTERVAL '10' SECOND))",
            "line 1, column 89: HOP SIZE must be a multiple of SLIDE",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time)))",
            "line 1, column 21: TUMBLE is missing SIZE (TUMBLE(DATA, TIMECOL, SIZE, OFFSET))",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '0' SECOND))",
            "line 1, column 71: TUMBLE SIZE must be positive",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' MONTH))",
            "line 1, column 71: interval unit MONTH is not supported",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), SIZ => INTERVAL '1' SECOND))",
            "line 1, column 62: TUMBLE has no parameter SIZ (TUMBLE(DATA, TIMECOL, SIZE, OFFSET))",
        ),
        (
            "TABLE(TUMBLE(bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND))",
            "line 1, column 28: the first argument of TUMBLE must be TABLE <name>",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, date_time, INTERVAL '1' SECOND))",
            "line 1, column 39: the time attribute must be DESCRIPTOR(<column>) (e.g. DESCRIPTOR(date_time))",
        ),
        (
            "TABLE(TUMBLE(TABLE bid PARTITION BY bidder, DESCRIPTOR(date_time), INTERVAL '1' SECOND))",
            "line 1, column 28: TUMBLE does not take PARTITION BY (only SESSION windows are partitioned)",
        ),
        (
            "TABLE(SESSION(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND, INTERVAL '1' SECOND))",
            "line 1, column 93: too many arguments for SESSION",
        ),
        (
            "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '1' SECOND, OFFSET => INTERVAL '1' SECOND, \
             OFFSET => INTERVAL '2' SECOND))",
            "line 1, column 114: TUMBLE OFFSET is given twice",
        ),
    ];
    for (from, expected) in cases {
        let actual = error(from);
        assert!(
            actual.starts_with(expected),
            "{from}\n  got:  {actual}\n  want: {expected}"
        );
    }
}

use super::*;

fn parsed(sql: &str) -> Statement {
    match parse_script(sql).map(|mut s| s.pop()) {
        Ok(Some(s)) => s,
        other => panic!("{sql}: {other:?}"),
    }
}

fn error(sql: &str) -> String {
    match parse_script(sql) {
        Ok(s) => format!("parsed: {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn set(sql: &str) -> (String, String) {
    match parsed(sql) {
        Statement::Set { key, value, .. } => (key, value),
        other => panic!("{other:?}"),
    }
}

#[test]
fn set_quoted_and_unquoted() {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(set("SET 'parallelism.default' = '4'"), kv("parallelism.default", "4"));
    assert_eq!(set("SET 'a;b' = 'it''s'"), kv("a;b", "it's"));
    assert_eq!(set("SET parallelism.default = 4"), kv("parallelism.default", "4"));
    assert_eq!(
        set("set table.exec.mini-batch.allow-latency = 2 s"),
        kv("table.exec.mini-batch.allow-latency", "2 s")
    );
    assert_eq!(set("SET `state.backend` = \"rocksdb\""), kv("state.backend", "rocksdb"));
    assert_eq!(set("SET x=y -- a comment"), kv("x", "y"));
}

#[test]
fn set_errors() {
    assert_eq!(
        error("SET 'k'"),
        "line 1, column 8: expected '=', found end of statement (write SET 'key' = 'value')"
    );
    assert_eq!(
        error("SET = 'v'"),
        "line 1, column 5: expected a key or value (write SET 'key' = 'value')"
    );
    assert_eq!(
        error("SET 'k' = \n"),
        "line 1, column 10: expected a key or value (write SET 'key' = 'value')"
    );
    assert_eq!(
        error("SET 'k' = 'v' 'w'"),
        "line 1, column 15: unexpected 'w' after a quoted key or value (write SET 'key' = 'value')"
    );
    assert_eq!(
        error("RESET 'a' b"),
        "line 1, column 11: unexpected 'b' after a quoted key or value"
    );
}

#[test]
fn reset() {
    assert!(matches!(parsed("RESET"), Statement::Reset { key: None, .. }));
    assert!(matches!(parsed("RESET 'a.b'"), Statement::Reset { key: Some(k), .. } if k == "a.b"));
    assert!(matches!(parsed("reset a.b-c"), Statement::Reset { key: Some(k), .. } if k == "a.b-c"));
}

#[test]
fn insert_forms() {
    let Statement::Insert {
        table,
        columns,
        query,
        span,
    } = parsed("INSERT INTO db.sink\nSELECT auction, price FROM bid WHERE MOD(auction, 123) = 0")
    else {
        panic!("not an insert");
    };
    assert_eq!(table.to_string(), "db.sink");
    assert!(columns.is_empty());
    assert_eq!(
        query.to_string(),
        "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0"
    );
    assert_eq!(
        (span.start.line, span.start.column, span.end.line, span.end.column),
        (1, 1, 2, 59)
    );
    let Statement::Insert { columns, .. } = parsed("INSERT INTO s (a, `b`) VALUES (1, 2)") else {
        panic!("not an insert");
    };
    let columns: Vec<&str> = columns.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(columns, ["a", "b"]);
    let Statement::Insert { columns, query, .. } = parsed("INSERT INTO s (SELECT 1)") else {
        panic!("not an insert");
    };
    assert!(columns.is_empty());
    assert_eq!(query.to_string(), "(SELECT 1)");
}

#[test]
fn insert_errors() {
    assert_eq!(
        error("INSERT OVERWRITE s SELECT 1"),
        "line 1, column 8: INSERT OVERWRITE is not supported in streaming jobs (use INSERT INTO)"
    );
    assert_eq!(error("INSERT s SELECT 1"), "line 1, column 8: expected INTO, found 's'");
    assert!(error("INSERT INTO s PARTITION (dt = '1') SELECT 1")
        .starts_with("line 1, column 15: static partitions (INSERT ... PARTITION) are not supported"));
    assert_eq!(
        error("INSERT INTO s\nSELECT a,, b FROM t"),
        "line 2, column 10: expected an expression, found ','"
    );
}

#[test]
fn create_view() {
    let Statement::CreateView {
        name,
        temporary,
        if_not_exists,
        columns,
        comment,
        query,
        ..
    } = parsed("CREATE TEMPORARY VIEW IF NOT EXISTS v (x, y) COMMENT 'two' AS SELECT a, b FROM t")
    else {
        panic!("not a view");
    };
    assert_eq!(name.to_string(), "v");
    assert!(temporary && if_not_exists);
    assert_eq!(columns.len(), 2);
    assert_eq!(comment.as_deref(), Some("two"));
    assert_eq!(query.to_string(), "SELECT a, b FROM t");
    assert!(matches!(
        parsed("CREATE VIEW v AS WITH c AS (SELECT 1) SELECT * FROM c"),
        Statement::CreateView { temporary: false, .. }
    ));
    assert_eq!(
        error("CREATE VIEW v SELECT 1"),
        "line 1, column 15: expected AS, found 'SELECT'"
    );
}

#[test]
fn explain_and_select() {
    let Statement::Explain { statement, span } = parsed("EXPLAIN PLAN FOR INSERT INTO s SELECT 1") else {
        panic!("not an explain");
    };
    assert!(matches!(*statement, Statement::Insert { span: inner, .. } if inner.start.column == 18));
    assert_eq!(span.start.column, 1);
    assert!(matches!(parsed("explain select 1"), Statement::Explain { .. }));
    assert_eq!(
        error("EXPLAIN CREATE TABLE t (a INT) WITH ('connector' = 'print')"),
        "line 1, column 9: EXPLAIN explains an INSERT or a query"
    );
    assert!(error("EXPLAIN CHANGELOG_MODE SELECT 1")
        .starts_with("line 1, column 9: EXPLAIN CHANGELOG_MODE is not supported"));
    assert!(matches!(
        parsed("WITH c AS (SELECT 1) SELECT * FROM c"),
        Statement::Select { .. }
    ));
    assert!(matches!(parsed("VALUES (1), (2)"), Statement::Select { .. }));
    assert!(matches!(
        parsed("(SELECT 1) UNION ALL (SELECT 2)"),
        Statement::Select { .. }
    ));
    assert_eq!(
        error("SELECT 1 2"),
        "line 1, column 10: unexpected '2' after the end of the statement"
    );
}

#[test]
fn unsupported_statements() {
    assert_eq!(
        error("SELECT 1;\n  DROP TABLE t"),
        format!("line 2, column 3: unsupported statement DROP ({SUPPORTED_STATEMENTS})")
    );
    assert_eq!(
        error("CREATE FUNCTION count_char AS 'x'"),
        "line 1, column 8: unsupported statement CREATE FUNCTION \
         (user functions are registered through Freshet's Rust API)"
    );
    assert!(error("BEGIN STATEMENT SET").starts_with("line 1, column 1: statement sets are not needed"));
    assert!(error("'oops'").starts_with("line 1, column 1: expected a statement, found 'oops'"));
    assert!(error("EXPLAIN").starts_with("line 1, column 8: expected a statement, found end of statement"));
}

#[test]
fn a_script_of_many_statements() {
    let sql = "-- job\nSET 'parallelism.default' = '2';\nCREATE TABLE t (a INT) WITH ('connector' = 'datagen');\n\
               CREATE TABLE s (a INT) WITH ('connector' = 'print');\nINSERT INTO s SELECT a FROM t;\n";
    let statements = parse_script(sql).unwrap_or_default();
    let lines: Vec<u64> = statements.iter().map(|s| s.span().start.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
}

#[test]
fn window_tvf_in_an_insert() {
    let sql = "INSERT INTO out
        SELECT auction, window_start, window_end, COUNT(*) AS num
        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end";
    let Statement::Insert { query, .. } = parsed(sql) else {
        panic!("not an insert");
    };
    assert!(query
        .to_string()
        .contains("FROM TABLE(HOP(TABLE(bid), DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))"));
}

use super::*;
use crate::statement::{parse_script, Statement};
use datafusion::arrow::datatypes::TimeUnit;

fn table(sql: &str) -> TableDdl {
    match parse_script(sql).map(|mut s| s.pop()) {
        Ok(Some(Statement::CreateTable(t))) => t,
        other => panic!("not a table: {other:?}"),
    }
}

fn error(sql: &str) -> String {
    match parse_script(sql) {
        Ok(s) => format!("parsed: {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn names(idents: &[Ident]) -> Vec<&str> {
    idents.iter().map(|i| i.value.as_str()).collect()
}

fn physical(data_type: DataType, nullable: bool) -> ColumnKind {
    ColumnKind::Physical { data_type, nullable }
}

const BID: &str = "CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel STRING,
    url STRING,
    date_time TIMESTAMP(3),
    extra STRING,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid'
)";

#[test]
fn nexmark_bid_table() {
    let t = table(BID);
    assert_eq!(t.name.to_string(), "bid");
    assert!(!t.temporary && !t.if_not_exists);
    let columns: Vec<&str> = t.columns.iter().map(|c| c.name.value.as_str()).collect();
    assert_eq!(
        columns,
        ["auction", "bidder", "price", "channel", "url", "date_time", "extra"]
    );
    assert_eq!(t.columns[0].kind, physical(DataType::Int64, true));
    assert_eq!(
        t.columns[5].kind,
        physical(DataType::Timestamp(TimeUnit::Millisecond, None), true)
    );
    let watermark = t
        .watermark
        .as_ref()
        .map(|w| (w.column.value.as_str(), w.expr.to_string()));
    assert_eq!(
        watermark,
        Some(("date_time", "date_time - INTERVAL '4' SECOND".to_string()))
    );
    assert_eq!(
        t.watermark.as_ref().and_then(WatermarkDdl::bounded_delay),
        Some(Duration::from_secs(4))
    );
    assert_eq!(t.connector(), "nexmark");
    assert_eq!(t.options.get("table").map(String::as_str), Some("bid"));
    assert_eq!(t.physical_schema().fields().len(), 7);
    assert_eq!((t.span.start.line, t.span.start.column), (1, 1));
    assert_eq!((t.span.end.line, t.span.end.column), (13, 2));
    // Column spans cover the definition.
    let span = t.columns[5].span;
    assert_eq!(
        (span.start.line, span.start.column, span.end.line, span.end.column),
        (7, 5, 7, 27)
    );
    let e = t.option_error("table", "bad table");
    assert_eq!((e.line, e.column), (12, 5));
}

#[test]
fn every_element_form() {
    let t = table(
        "CREATE TEMPORARY TABLE IF NOT EXISTS cat.db.`Orders` (
            `id` BIGINT NOT NULL COMMENT 'the id',
            s STRING,
            ts AS TO_TIMESTAMP(s) COMMENT 'parsed',
            proc AS PROCTIME(),
            kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
            `partition` INT METADATA VIRTUAL,
            headers MAP<STRING, BYTES> METADATA,
            region STRING,
            WATERMARK FOR ts AS ts,
            CONSTRAINT pk PRIMARY KEY (id, region) NOT ENFORCED
        ) COMMENT 'orders table'
        PARTITIONED BY (region)
        WITH ('connector' = 'filesystem', 'path' = '/tmp/orders', 'format' = 'parquet')",
    );
    assert_eq!(t.name.to_string(), "cat.db.`Orders`");
    assert!(t.temporary && t.if_not_exists);
    assert_eq!(t.columns[0].kind, physical(DataType::Int64, false));
    assert_eq!(t.columns[0].comment.as_deref(), Some("the id"));
    assert!(matches!(&t.columns[2].kind, ColumnKind::Computed { expr } if expr.to_string() == "TO_TIMESTAMP(s)"));
    assert_eq!(t.columns[2].comment.as_deref(), Some("parsed"));
    assert!(matches!(&t.columns[3].kind, ColumnKind::Computed { expr } if expr.to_string() == "PROCTIME()"));
    assert_eq!(
        t.columns[4].kind,
        ColumnKind::Metadata {
            data_type: DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            nullable: true,
            key: Some("timestamp".into()),
            is_virtual: true
        }
    );
    assert!(matches!(
        &t.columns[5].kind,
        ColumnKind::Metadata {
            key: None,
            is_virtual: true,
            data_type: DataType::Int32,
            ..
        }
    ));
    assert!(matches!(
        &t.columns[6].kind,
        ColumnKind::Metadata {
            key: None,
            is_virtual: false,
            data_type: DataType::Map(..),
            ..
        }
    ));
    // Primary-key columns become NOT NULL.
    assert_eq!(t.columns[7].kind, physical(DataType::Utf8, false));
    assert_eq!(names(&t.primary_key), ["id", "region"]);
    assert_eq!(names(&t.partitioned_by), ["region"]);
    assert_eq!(t.comment.as_deref(), Some("orders table"));
    assert_eq!(
        t.watermark.as_ref().and_then(WatermarkDdl::bounded_delay),
        Some(Duration::ZERO)
    );
    assert_eq!(t.options.len(), 3);
    let schema = t.physical_schema();
    let physical: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(physical, ["id", "s", "region"]);
}

#[test]
fn column_primary_key_and_other_watermarks() {
    let t = table(
        "create table t (k INT primary key not enforced, v STRING, ts TIMESTAMP_LTZ(3),
         watermark for ts as ts - interval '0.5' second) with ('connector' = 'print')",
    );
    assert_eq!(names(&t.primary_key), ["k"]);
    assert_eq!(t.columns[0].kind, physical(DataType::Int32, false));
    assert_eq!(
        t.watermark.as_ref().and_then(WatermarkDdl::bounded_delay),
        Some(Duration::from_millis(500))
    );
    let t = table(
        "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE - INTERVAL '1' SECOND)
         WITH ('connector' = 'print')",
    );
    // Not a plain bounded delay: left to the planner.
    assert_eq!(t.watermark.as_ref().and_then(WatermarkDdl::bounded_delay), None);
}

#[test]
fn nested_column_types() {
    let t = table(
        "CREATE TABLE t (
            tags ARRAY<STRING NOT NULL>,
            attrs MAP<STRING, ARRAY<ROW<k STRING, v DOUBLE>>>,
            person ROW(id BIGINT NOT NULL, name STRING) NOT NULL
        ) WITH ('connector' = 'datagen')",
    );
    assert!(matches!(&t.columns[0].kind,
        ColumnKind::Physical { data_type: DataType::List(item), nullable: true } if !item.is_nullable()));
    assert!(matches!(
        &t.columns[1].kind,
        ColumnKind::Physical {
            data_type: DataType::Map(..),
            ..
        }
    ));
    assert!(matches!(&t.columns[2].kind,
        ColumnKind::Physical { data_type: DataType::Struct(fields), nullable: false } if fields.len() == 2));
}

#[test]
fn errors_with_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "CREATE TABLE t (\n  a INT,\n  b STRNG\n) WITH ('connector' = 'print')",
            "line 3, column 5: unknown data type 'STRNG'",
        ),
        (
            "CREATE TABLE t (\n  a INT,\n  a STRING\n) WITH ('connector' = 'print')",
            "line 3, column 3: column 'a' is declared twice (first declared at line 2, column 3)",
        ),
        (
            "CREATE TABLE t (a INT, ts TIMESTAMP(3),\n  WATERMARK FOR tss AS tss) WITH ('connector' = 'print')",
            "line 2, column 17: watermark column 'tss' is not a column of 't' (columns of 't': a, ts)",
        ),
        (
            "CREATE TABLE t (a INT, WATERMARK FOR a AS a) WITH ('connector' = 'print')",
            "line 1, column 38: watermark column 'a' must be a TIMESTAMP or TIMESTAMP_LTZ, not Int32",
        ),
        (
            "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts,\n WATERMARK FOR ts AS ts) WITH ('connector' = 'print')",
            "line 2, column 2: a table can have only one WATERMARK (the first is at line 1, column 34)",
        ),
        (
            "CREATE TABLE t (a INT, PRIMARY KEY (b) NOT ENFORCED) WITH ('connector' = 'print')",
            "line 1, column 37: primary key column 'b' is not a column of 't' (columns of 't': a)",
        ),
        (
            "CREATE TABLE t (a INT, b AS a + 1, PRIMARY KEY (b) NOT ENFORCED) WITH ('connector' = 'print')",
            "line 1, column 49: primary key column 'b' must be a physical column, not a computed or metadata one",
        ),
        (
            "CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'print')",
            "line 1, column 49: a table can have only one PRIMARY KEY",
        ),
        (
            "CREATE TABLE t (a INT, PRIMARY KEY (a, a) NOT ENFORCED) WITH ('connector' = 'print')",
            "line 1, column 40: column 'a' is listed twice",
        ),
        (
            "CREATE TABLE t (a INT) PARTITIONED BY (dt) WITH ('connector' = 'print')",
            "line 1, column 40: partition column 'dt' is not a column of 't' (columns of 't': a)",
        ),
        (
            "CREATE TABLE t (a INT) WITH (\n  'connector' = 'print',\n  'connector' = 'blackhole')",
            "line 3, column 3: option 'connector' is set twice (first set at line 2, column 3)",
        ),
        (
            "CREATE TABLE t (a INT)\nWITH ('format' = 'csv')",
            "line 2, column 1: table 't' has no 'connector' option \
             (e.g. WITH ('connector' = 'nexmark'); connectors: nexmark, datagen, filesystem, print, blackhole)",
        ),
        (
            "CREATE TABLE t (a INT)",
            "line 1, column 23: table 't' has no WITH clause; tables need a connector \
             (e.g. WITH ('connector' = 'nexmark'); connectors: nexmark, datagen, filesystem, print, blackhole)",
        ),
        (
            "CREATE TABLE t (a INT) WITH (connector = 'print')",
            "line 1, column 30: expected an option key string, found 'connector' \
             (options are quoted strings: 'connector' = 'nexmark')",
        ),
        (
            "CREATE TABLE t (a INT) WITH ('events.num' = 10)",
            "line 1, column 45: expected an option value string, found '10' (quote option values: 'events.num' = '...')",
        ),
        (
            "CREATE TABLE t (a INT b INT) WITH ('connector' = 'print')",
            "line 1, column 23: expected ',' or ')' after a column definition, found 'b'",
        ),
        (
            "CREATE TABLE t (a INT",
            "line 1, column 22: expected ',' or ')' after a column definition, found end of statement",
        ),
        (
            "CREATE TABLE t (\n  ts AS TO_TIMESTAMP(s,\n) WITH ('connector' = 'print')",
            "line 3, column 1: expected an expression, found ')'",
        ),
        (
            "CREATE TABLE t AS SELECT 1",
            "line 1, column 16: CREATE TABLE ... AS/LIKE is not supported \
             (declare the columns: CREATE TABLE t (column TYPE, ...) WITH (...))",
        ),
        (
            "CREATE TABLE t (a INT, UNIQUE (a)) WITH ('connector' = 'print')",
            "line 1, column 24: UNIQUE constraints are not supported \
             (supported: write PRIMARY KEY (column, ...) NOT ENFORCED)",
        ),
        (
            "CREATE TABLE t (a INT) WITH ('connector' = 'print') LIKE other",
            "line 1, column 53: CREATE TABLE ... 'LIKE' is not supported",
        ),
        (
            "CREATE TABLE t (a INT) WITH ('connector' = 'blackhole',)",
            "line 1, column 56: expected an option key string, found ')'",
        ),
        (
            "CREATE TABLE t (a INT METADATA FROM key) WITH ('connector' = 'kafka')",
            "line 1, column 37: expected a metadata key string, found 'key'",
        ),
    ];
    for (sql, expected) in cases {
        let actual = error(sql);
        assert!(
            actual.starts_with(expected),
            "{sql}\n  got:  {actual}\n  want: {expected}"
        );
    }
}

#[test]
fn primary_key_requires_not_enforced() {
    let hint = "(write PRIMARY KEY (column, ...) NOT ENFORCED)";
    let message = "PRIMARY KEY must be declared NOT ENFORCED: Freshet, like Flink, does not check key \
                   constraints; the key only tells sinks and the planner how to apply updates";
    assert_eq!(
        error("CREATE TABLE t (\n  a INT,\n  PRIMARY KEY (a)\n) WITH ('connector' = 'print')"),
        format!("line 3, column 3: {message} {hint}")
    );
    assert_eq!(
        error("CREATE TABLE t (a INT, CONSTRAINT pk PRIMARY KEY (a) ENFORCED) WITH ('connector' = 'print')"),
        format!("line 1, column 38: {message} {hint}")
    );
    assert_eq!(
        error("CREATE TABLE t (a INT PRIMARY KEY, b INT) WITH ('connector' = 'print')"),
        format!("line 1, column 23: {message} {hint}")
    );
}

#[test]
fn errors_in_later_statements_use_script_lines() {
    let sql = format!("{BID};\n\nCREATE TABLE sink (\n  auction BIGINT,\n  price BIGINT NOT NULLL\n) WITH ('connector' = 'blackhole');");
    assert_eq!(error(&sql), "line 17, column 20: expected NULL, found 'NULLL'");
}

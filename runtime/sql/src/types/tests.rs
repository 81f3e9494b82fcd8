use super::*;

fn parsed(text: &str) -> Result<(DataType, bool)> {
    parse_sql_type(text).map(|t| (t.data_type, t.nullable))
}

fn arrow(text: &str) -> DataType {
    match parse_sql_type(text) {
        Ok(t) => t.data_type,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn error(text: &str) -> String {
    match parse_sql_type(text) {
        Ok(t) => format!("parsed: {t:?}"),
        Err(e) => e.to_string(),
    }
}

fn ts(unit: TimeUnit, tz: Option<&str>) -> DataType {
    DataType::Timestamp(unit, tz.map(Into::into))
}

#[test]
fn scalar_types() {
    let cases = [
        ("STRING", DataType::Utf8),
        ("string", DataType::Utf8),
        ("VARCHAR", DataType::Utf8),
        ("VARCHAR(255)", DataType::Utf8),
        ("CHAR", DataType::Utf8),
        ("CHAR(3)", DataType::Utf8),
        ("CHARACTER VARYING(3)", DataType::Utf8),
        ("BOOLEAN", DataType::Boolean),
        ("TINYINT", DataType::Int8),
        ("SMALLINT", DataType::Int16),
        ("INT", DataType::Int32),
        ("INTEGER", DataType::Int32),
        ("BIGINT", DataType::Int64),
        ("FLOAT", DataType::Float32),
        ("DOUBLE", DataType::Float64),
        ("DOUBLE PRECISION", DataType::Float64),
        ("DECIMAL", DataType::Decimal128(10, 0)),
        ("DECIMAL(5)", DataType::Decimal128(5, 0)),
        ("DECIMAL(23, 3)", DataType::Decimal128(23, 3)),
        ("NUMERIC(38, 38)", DataType::Decimal128(38, 38)),
        ("DEC(4, 2)", DataType::Decimal128(4, 2)),
        ("DATE", DataType::Date32),
        ("BYTES", DataType::Binary),
        ("VARBINARY", DataType::Binary),
        ("VARBINARY(16)", DataType::Binary),
        ("BINARY(16)", DataType::Binary),
    ];
    for (text, expected) in cases {
        assert_eq!(arrow(text), expected, "{text}");
    }
}

#[test]
fn time_and_timestamp_precisions() {
    let cases = [
        ("TIME", DataType::Time32(TimeUnit::Second)),
        ("TIME(0)", DataType::Time32(TimeUnit::Second)),
        ("TIME(3)", DataType::Time32(TimeUnit::Millisecond)),
        ("TIME(6)", DataType::Time64(TimeUnit::Microsecond)),
        ("TIME(9) WITHOUT TIME ZONE", DataType::Time64(TimeUnit::Nanosecond)),
        ("TIMESTAMP", ts(TimeUnit::Microsecond, None)),
        ("TIMESTAMP(0)", ts(TimeUnit::Second, None)),
        ("TIMESTAMP(1)", ts(TimeUnit::Millisecond, None)),
        ("TIMESTAMP(3)", ts(TimeUnit::Millisecond, None)),
        ("TIMESTAMP(4)", ts(TimeUnit::Microsecond, None)),
        ("TIMESTAMP(6) WITHOUT TIME ZONE", ts(TimeUnit::Microsecond, None)),
        ("TIMESTAMP(7)", ts(TimeUnit::Nanosecond, None)),
        ("TIMESTAMP(9)", ts(TimeUnit::Nanosecond, None)),
        ("TIMESTAMP_LTZ", ts(TimeUnit::Microsecond, Some("UTC"))),
        ("TIMESTAMP_LTZ(3)", ts(TimeUnit::Millisecond, Some("UTC"))),
        (
            "TIMESTAMP(3) WITH LOCAL TIME ZONE",
            ts(TimeUnit::Millisecond, Some("UTC")),
        ),
        ("TIMESTAMP WITH LOCAL TIME ZONE", ts(TimeUnit::Microsecond, Some("UTC"))),
    ];
    for (text, expected) in cases {
        assert_eq!(arrow(text), expected, "{text}");
    }
}

#[test]
fn nullability() {
    assert_eq!(parsed("INT"), Ok((DataType::Int32, true)));
    assert_eq!(parsed("INT NULL"), Ok((DataType::Int32, true)));
    assert_eq!(parsed("INT NOT NULL"), Ok((DataType::Int32, false)));
    assert_eq!(
        parsed("timestamp(3) not null"),
        Ok((ts(TimeUnit::Millisecond, None), false))
    );
}

#[test]
fn nested_types() {
    let item = |t: DataType, nullable: bool| Arc::new(Field::new("item", t, nullable));
    assert_eq!(arrow("ARRAY<INT>"), DataType::List(item(DataType::Int32, true)));
    assert_eq!(
        arrow("ARRAY<INT NOT NULL>"),
        DataType::List(item(DataType::Int32, false))
    );
    assert_eq!(
        arrow("INT NOT NULL ARRAY"),
        DataType::List(item(DataType::Int32, false))
    );
    assert_eq!(
        parsed("STRING ARRAY NOT NULL"),
        Ok((DataType::List(item(DataType::Utf8, true)), false))
    );
    // `>>` closes two brackets.
    assert_eq!(
        arrow("ARRAY<ARRAY<BIGINT>>"),
        DataType::List(item(DataType::List(item(DataType::Int64, true)), true))
    );
    let entries = |k: DataType, v: DataType, v_nullable: bool| {
        let fields = Fields::from(vec![Field::new("key", k, false), Field::new("value", v, v_nullable)]);
        DataType::Map(Arc::new(Field::new("entries", DataType::Struct(fields), false)), false)
    };
    assert_eq!(
        arrow("MAP<STRING, BIGINT>"),
        entries(DataType::Utf8, DataType::Int64, true)
    );
    assert_eq!(
        arrow("MAP<STRING, ARRAY<INT NOT NULL> NOT NULL>"),
        entries(DataType::Utf8, DataType::List(item(DataType::Int32, false)), false)
    );
    let row = DataType::Struct(Fields::from(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("b", DataType::Utf8, true),
        Field::new("c", ts(TimeUnit::Millisecond, None), true),
    ]));
    assert_eq!(
        arrow("ROW<a INT NOT NULL, b STRING 'a description', c TIMESTAMP(3)>"),
        row
    );
    assert_eq!(arrow("ROW(a INT NOT NULL, b STRING, c TIMESTAMP(3))"), row);
    assert_eq!(
        arrow("ARRAY<ROW<`dateTime` TIMESTAMP(3), tags MAP<STRING, ARRAY<STRING>>>>"),
        DataType::List(item(
            DataType::Struct(Fields::from(vec![
                Field::new("dateTime", ts(TimeUnit::Millisecond, None), true),
                Field::new(
                    "tags",
                    entries(DataType::Utf8, DataType::List(item(DataType::Utf8, true)), true),
                    true
                ),
            ])),
            true
        ))
    );
    assert_eq!(
        parsed("ROW<x ARRAY<INT>> NOT NULL").map(|(_, nullable)| nullable),
        Ok(false)
    );
}

#[test]
fn errors_are_located() {
    assert_eq!(
        error("STRNG"),
        format!("line 1, column 1: unknown data type 'STRNG' (supported: {SUPPORTED_TYPES})")
    );
    assert_eq!(
        error("ROW<a INT,\n  b STRNG>"),
        format!("line 2, column 5: unknown data type 'STRNG' (supported: {SUPPORTED_TYPES})")
    );
    assert_eq!(
        error("TIMESTAMP(12)"),
        "line 1, column 11: precision 12 is out of range (0 to 9)"
    );
    assert_eq!(
        error("DECIMAL(40, 2)"),
        "line 1, column 9: DECIMAL precision 40 is out of range (1 to 38)"
    );
    assert_eq!(
        error("DECIMAL(4, 5)"),
        "line 1, column 12: DECIMAL scale 5 is larger than the precision 4"
    );
    assert_eq!(error("VARCHAR(0)"), "line 1, column 9: length must be at least 1");
    assert_eq!(
        error("TIMESTAMP(3) WITH TIME ZONE"),
        "line 1, column 14: TIMESTAMP WITH TIME ZONE is not supported (as in Flink) \
         (use TIMESTAMP_LTZ(p) or TIMESTAMP(p) WITH LOCAL TIME ZONE)"
    );
    assert_eq!(
        error("ARRAY<INT"),
        "line 1, column 10: expected '>', found end of statement"
    );
    assert_eq!(error("ARRAY<INT>>"), "line 1, column 12: unexpected '>'");
    assert_eq!(error("MAP<STRING>"), "line 1, column 11: expected ',', found '>'");
    assert_eq!(
        error("ROW<a INT, a STRING>"),
        "line 1, column 12: duplicate field 'a' in ROW"
    );
    assert_eq!(
        error("ROW[a INT]"),
        "line 1, column 4: expected '<' or '(' after ROW, found '['"
    );
    assert!(error("MULTISET<INT>").starts_with("line 1, column 1: data type MULTISET is not supported"));
    assert!(error("INT MULTISET").starts_with("line 1, column 5: data type MULTISET is not supported"));
    assert_eq!(
        error("INT extra"),
        "line 1, column 5: unexpected 'extra' after the end of the statement"
    );
    assert!(error("'x'").starts_with("line 1, column 1: expected a data type, found 'x'"));
}

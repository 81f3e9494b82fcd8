//! The `CREATE TABLE` parser and its checks (grammar in the parent module).

use super::{ColumnDdl, ColumnKind, TableDdl, WatermarkDdl, CONNECTOR_OPTION};
use crate::cursor::Cursor;
use crate::error::{Result, SqlError};
use crate::types::parse_type;
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Span, Token};
use std::collections::BTreeMap;

const NOT_ENFORCED_HINT: &str = "write PRIMARY KEY (column, ...) NOT ENFORCED";

/// Parses a whole `CREATE [TEMPORARY] TABLE` statement.
pub(crate) fn parse_create_table(cursor: &mut Cursor<'_>) -> Result<TableDdl> {
    cursor.expect_words(&["CREATE"])?;
    let temporary = cursor.parse_word("TEMPORARY");
    cursor.expect_words(&["TABLE"])?;
    let if_not_exists = cursor.parse_words(&["IF", "NOT", "EXISTS"]);
    let name = cursor.run(|p| p.parse_object_name(false))?;
    if cursor.peek_word("AS") || cursor.peek_word("LIKE") {
        return Err(
            SqlError::at(cursor.location(), "CREATE TABLE ... AS/LIKE is not supported")
                .with_hint("declare the columns: CREATE TABLE t (column TYPE, ...) WITH (...)"),
        );
    }
    let mut table = TableDdl {
        name,
        temporary,
        if_not_exists,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        partitioned_by: Vec::new(),
        options: BTreeMap::new(),
        option_spans: BTreeMap::new(),
        comment: None,
        span: cursor.source().span,
    };
    cursor.expect(&Token::LParen)?;
    loop {
        parse_element(cursor, &mut table)?;
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    if !cursor.consume(&Token::RParen) {
        return Err(cursor.expected("',' or ')' after a column definition"));
    }
    if cursor.parse_word("COMMENT") {
        table.comment = Some(cursor.expect_string("a comment string")?.0);
    }
    if cursor.parse_words(&["PARTITIONED", "BY"]) {
        table.partitioned_by = parse_column_list(cursor)?;
    }
    let with = cursor.location();
    let has_with = cursor.parse_word("WITH");
    if has_with {
        parse_options(cursor, &mut table)?;
    }
    if cursor.peek_word("LIKE") || cursor.peek_word("DISTRIBUTED") {
        return Err(SqlError::at(
            cursor.location(),
            format!("CREATE TABLE ... {} is not supported", cursor.describe_next()),
        ));
    }
    cursor.expect_end()?;
    validate(&mut table, with, has_with)?;
    Ok(table)
}

/// One element of the column list.
fn parse_element(cursor: &mut Cursor<'_>, table: &mut TableDdl) -> Result<()> {
    let start = cursor.location();
    if cursor.parse_word("WATERMARK") {
        if let Some(first) = &table.watermark {
            return Err(
                SqlError::at(start, "a table can have only one WATERMARK").with_hint(format!(
                    "the first is at line {}, column {}",
                    first.span.start.line, first.span.start.column
                )),
            );
        }
        cursor.expect_words(&["FOR"])?;
        let column = cursor.expect_ident("the event-time column")?;
        cursor.expect_words(&["AS"])?;
        let expr = cursor.run(Parser::parse_expr)?;
        let span = Span::new(start, cursor.previous_end());
        table.watermark = Some(WatermarkDdl { column, expr, span });
        return Ok(());
    }
    if cursor.peek_word("PRIMARY") || cursor.peek_word("CONSTRAINT") {
        if cursor.parse_word("CONSTRAINT") {
            cursor.expect_ident("a constraint name")?;
        }
        let primary = cursor.location();
        cursor.expect_words(&["PRIMARY", "KEY"])?;
        let columns = parse_column_list(cursor)?;
        expect_not_enforced(cursor, primary)?;
        return set_primary_key(table, columns, start);
    }
    for unsupported in ["UNIQUE", "FOREIGN", "CHECK"] {
        if cursor.peek_word(unsupported) {
            return Err(
                SqlError::at(start, format!("{unsupported} constraints are not supported"))
                    .with_hint(format!("supported: {NOT_ENFORCED_HINT}")),
            );
        }
    }
    parse_column(cursor, table, start)
}

fn parse_column(cursor: &mut Cursor<'_>, table: &mut TableDdl, start: Location) -> Result<()> {
    let name = cursor.expect_ident("a column name, WATERMARK or PRIMARY KEY")?;
    let kind = if cursor.parse_word("AS") {
        ColumnKind::Computed {
            expr: cursor.run(Parser::parse_expr)?,
        }
    } else {
        let sql_type = parse_type(cursor)?;
        cursor.expect_no_pending_angle()?;
        if cursor.parse_word("METADATA") {
            let key = match cursor.parse_word("FROM") {
                true => Some(cursor.expect_string("a metadata key string")?.0),
                false => None,
            };
            ColumnKind::Metadata {
                data_type: sql_type.data_type,
                nullable: sql_type.nullable,
                key,
                is_virtual: cursor.parse_word("VIRTUAL"),
            }
        } else {
            let primary = cursor.location();
            if cursor.parse_words(&["PRIMARY", "KEY"]) {
                expect_not_enforced(cursor, primary)?;
                set_primary_key(table, vec![name.clone()], primary)?;
            }
            ColumnKind::Physical {
                data_type: sql_type.data_type,
                nullable: sql_type.nullable,
            }
        }
    };
    let comment = match cursor.parse_word("COMMENT") {
        true => Some(cursor.expect_string("a comment string")?.0),
        false => None,
    };
    if !matches!(cursor.peek().token, Token::Comma | Token::RParen) {
        return Err(cursor.expected("',' or ')' after a column definition"));
    }
    let span = Span::new(start, cursor.previous_end());
    table.columns.push(ColumnDdl {
        name,
        kind,
        comment,
        span,
    });
    Ok(())
}

fn expect_not_enforced(cursor: &mut Cursor<'_>, primary: Location) -> Result<()> {
    if cursor.parse_words(&["NOT", "ENFORCED"]) {
        return Ok(());
    }
    Err(SqlError::at(
        primary,
        "PRIMARY KEY must be declared NOT ENFORCED: Freshet, like Flink, does not check key \
         constraints; the key only tells sinks and the planner how to apply updates",
    )
    .with_hint(NOT_ENFORCED_HINT))
}

fn set_primary_key(table: &mut TableDdl, columns: Vec<Ident>, at: Location) -> Result<()> {
    if !table.primary_key.is_empty() {
        return Err(SqlError::at(at, "a table can have only one PRIMARY KEY"));
    }
    table.primary_key = columns;
    Ok(())
}

/// `(column, ...)` without duplicates.
fn parse_column_list(cursor: &mut Cursor<'_>) -> Result<Vec<Ident>> {
    cursor.expect(&Token::LParen)?;
    let mut columns: Vec<Ident> = Vec::new();
    loop {
        let column = cursor.expect_ident("a column name")?;
        if columns.iter().any(|c| c.value == column.value) {
            return Err(SqlError::at(
                column.span.start,
                format!("column '{}' is listed twice", column.value),
            ));
        }
        columns.push(column);
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    cursor.expect(&Token::RParen)?;
    Ok(columns)
}

/// `('key' = 'value', ...)` after `WITH`.
fn parse_options(cursor: &mut Cursor<'_>, table: &mut TableDdl) -> Result<()> {
    cursor.expect(&Token::LParen)?;
    if cursor.consume(&Token::RParen) {
        return Ok(());
    }
    loop {
        let start = cursor.location();
        let (key, key_span) = cursor
            .expect_string("an option key string")
            .map_err(|e| e.with_hint("options are quoted strings: 'connector' = 'nexmark'"))?;
        cursor.expect(&Token::Eq)?;
        let (value, _) = cursor
            .expect_string("an option value string")
            .map_err(|e| e.with_hint(format!("quote option values: '{key}' = '...'")))?;
        if let Some(first) = table.option_spans.get(&key) {
            return Err(
                SqlError::at(key_span.start, format!("option '{key}' is set twice")).with_hint(format!(
                    "first set at line {}, column {}",
                    first.start.line, first.start.column
                )),
            );
        }
        table
            .option_spans
            .insert(key.clone(), Span::new(start, cursor.previous_end()));
        table.options.insert(key, value);
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    if !cursor.consume(&Token::RParen) {
        return Err(cursor.expected("',' or ')' after an option"));
    }
    Ok(())
}

/// The checks that need the whole statement. `with` is where the `WITH` clause starts (or
/// would start, if `has_with` is false).
fn validate(table: &mut TableDdl, with: Location, has_with: bool) -> Result<()> {
    let table_name = table.name.to_string();
    for (i, column) in table.columns.iter().enumerate() {
        if let Some(first) = table.columns[..i].iter().find(|c| c.name.value == column.name.value) {
            return Err(SqlError::at(
                column.name.span.start,
                format!("column '{}' is declared twice", column.name.value),
            )
            .with_hint(format!(
                "first declared at line {}, column {}",
                first.span.start.line, first.span.start.column
            )));
        }
    }
    let column_names = || {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.value.as_str()).collect();
        format!("columns of '{table_name}': {}", names.join(", "))
    };
    let find = |ident: &Ident, role: &str| {
        table.column(&ident.value).ok_or_else(|| {
            SqlError::at(
                ident.span.start,
                format!("{role} '{}' is not a column of '{table_name}'", ident.value),
            )
            .with_hint(column_names())
        })
    };
    if let Some(watermark) = &table.watermark {
        let column = find(&watermark.column, "watermark column")?;
        if let ColumnKind::Physical { data_type, .. } | ColumnKind::Metadata { data_type, .. } = &column.kind {
            if !matches!(data_type, DataType::Timestamp(..)) {
                return Err(SqlError::at(
                    watermark.column.span.start,
                    format!(
                        "watermark column '{}' must be a TIMESTAMP or TIMESTAMP_LTZ, not {data_type}",
                        watermark.column.value
                    ),
                ));
            }
        }
    }
    let mut primary_key_positions = Vec::new();
    for key in &table.primary_key {
        let column = find(key, "primary key column")?;
        if !matches!(column.kind, ColumnKind::Physical { .. }) {
            return Err(SqlError::at(
                key.span.start,
                format!(
                    "primary key column '{}' must be a physical column, not a computed or metadata one",
                    key.value
                ),
            ));
        }
        primary_key_positions.extend(table.columns.iter().position(|c| c.name.value == key.value));
    }
    for key in &table.partitioned_by {
        find(key, "partition column")?;
    }
    for position in primary_key_positions {
        if let ColumnKind::Physical { nullable, .. } = &mut table.columns[position].kind {
            *nullable = false;
        }
    }
    if !table.options.contains_key(CONNECTOR_OPTION) {
        let message = match has_with {
            true => format!("table '{table_name}' has no 'connector' option"),
            false => format!("table '{table_name}' has no WITH clause; tables need a connector"),
        };
        return Err(SqlError::at(with, message).with_hint(
            "e.g. WITH ('connector' = 'nexmark'); connectors: nexmark, datagen, filesystem, print, blackhole",
        ));
    }
    Ok(())
}

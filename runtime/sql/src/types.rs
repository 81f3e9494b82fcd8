//! Flink SQL data types and their Arrow types.
//!
//! | Flink                                               | Arrow                                      |
//! |-----------------------------------------------------|--------------------------------------------|
//! | `STRING`, `VARCHAR[(n)]`, `CHAR[(n)]`               | `Utf8` (lengths are accepted, not enforced) |
//! | `BOOLEAN`                                           | `Boolean`                                  |
//! | `TINYINT`, `SMALLINT`, `INT`/`INTEGER`, `BIGINT`    | `Int8`, `Int16`, `Int32`, `Int64`          |
//! | `FLOAT`, `DOUBLE [PRECISION]`                       | `Float32`, `Float64`                       |
//! | `DECIMAL`/`DEC`/`NUMERIC` `[(p[, s])]`              | `Decimal128(p, s)`, default (10, 0), p ≤ 38 |
//! | `DATE`                                              | `Date32`                                   |
//! | `TIME[(p)]`, default p = 0                          | `Time32`/`Time64` of the unit for p        |
//! | `TIMESTAMP[(p)] [WITHOUT TIME ZONE]`, default p = 6 | `Timestamp(unit for p, None)`              |
//! | `TIMESTAMP_LTZ[(p)]`, `TIMESTAMP[(p)] WITH LOCAL TIME ZONE` | `Timestamp(unit for p, Some("UTC"))` |
//! | `BYTES`, `VARBINARY[(n)]`, `BINARY[(n)]`            | `Binary`                                   |
//! | `ARRAY<T>`, `T ARRAY`                               | `List` of an `item` field                  |
//! | `MAP<K, V>`                                         | `Map` of `entries: {key, value}` (keys never null) |
//! | `ROW<name T ['description'], ...>`, `ROW(name T, ...)` | `Struct`                                |
//!
//! The unit for a precision p is: 0 → second, 1–3 → millisecond, 4–6 → microsecond, 7–9 →
//! nanosecond. Defaults follow Flink (`TIMESTAMP` is `TIMESTAMP(6)`); Nexmark declares
//! `TIMESTAMP(3)`. Any type may be followed by `NOT NULL` (or `NULL`), also inside `ARRAY`,
//! `MAP` and `ROW`; the nullability of nested types becomes the nullability of their Arrow
//! fields.

use crate::cursor::Cursor;
use crate::error::{Result, SqlError};
use crate::script::split_script;
use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::sql::sqlparser::tokenizer::{Location, Token};
use std::sync::Arc;

/// The types [`parse_sql_type`] accepts, as error hints list them.
pub const SUPPORTED_TYPES: &str = "STRING, VARCHAR(n), CHAR(n), BOOLEAN, TINYINT, SMALLINT, INT, INTEGER, BIGINT, \
     FLOAT, DOUBLE, DECIMAL(p, s), DATE, TIME(p), TIMESTAMP(p), TIMESTAMP_LTZ(p), TIMESTAMP(p) WITH LOCAL TIME ZONE, \
     BYTES, VARBINARY(n), BINARY(n), ARRAY<T>, MAP<K, V>, ROW<name T, ...>";

/// A SQL type: the Arrow type and whether values may be null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlType {
    /// The Arrow type values have.
    pub data_type: DataType,
    /// False when declared `NOT NULL`.
    pub nullable: bool,
}

impl SqlType {
    fn into_field(self, name: &str) -> Field {
        Field::new(name, self.data_type, self.nullable)
    }
}

/// Parses a Flink type on its own, e.g. `"ARRAY<ROW<a INT NOT NULL, b STRING>>"`.
pub fn parse_sql_type(text: &str) -> Result<SqlType> {
    let statements = split_script(text)?;
    let Some(source) = statements.first() else {
        return Err(SqlError::at(Location::new(1, 1), "expected a data type").with_hint(supported()));
    };
    let mut cursor = Cursor::new(source);
    let parsed = parse_type(&mut cursor)?;
    cursor.expect_no_pending_angle()?;
    cursor.expect_end()?;
    match statements.get(1) {
        Some(extra) => Err(SqlError::at(extra.span.start, "unexpected text after the data type")),
        None => Ok(parsed),
    }
}

fn supported() -> String {
    format!("supported: {SUPPORTED_TYPES}")
}

/// Parses a type with its optional `NOT NULL` and postfix `ARRAY`s.
pub(crate) fn parse_type(cursor: &mut Cursor<'_>) -> Result<SqlType> {
    let mut parsed = SqlType {
        data_type: parse_base_type(cursor)?,
        nullable: parse_nullability(cursor)?,
    };
    loop {
        if cursor.parse_word("ARRAY") {
            parsed = SqlType {
                data_type: DataType::List(Arc::new(parsed.into_field("item"))),
                nullable: parse_nullability(cursor)?,
            };
        } else if cursor.peek_word("MULTISET") {
            return Err(unsupported(cursor, "MULTISET"));
        } else {
            return Ok(parsed);
        }
    }
}

/// `NOT NULL` → false, `NULL` or nothing → true.
fn parse_nullability(cursor: &mut Cursor<'_>) -> Result<bool> {
    if cursor.parse_word("NOT") {
        cursor.expect_words(&["NULL"])?;
        return Ok(false);
    }
    cursor.parse_word("NULL");
    Ok(true)
}

fn unsupported(cursor: &Cursor<'_>, what: &str) -> SqlError {
    SqlError::at(cursor.location(), format!("data type {what} is not supported")).with_hint(supported())
}

fn parse_base_type(cursor: &mut Cursor<'_>) -> Result<DataType> {
    let token = cursor.peek().clone();
    let name = match &token.token {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => return Err(cursor.expected("a data type").with_hint(supported())),
    };
    let at = token.span.start;
    if matches!(name.as_str(), "MULTISET" | "INTERVAL" | "RAW" | "NULL" | "STRUCTURED") {
        return Err(unsupported(cursor, &name));
    }
    cursor.next();
    Ok(match name.as_str() {
        "STRING" => DataType::Utf8,
        "VARCHAR" | "CHAR" => {
            parse_length(cursor)?;
            DataType::Utf8
        }
        "CHARACTER" => {
            cursor.parse_word("VARYING");
            parse_length(cursor)?;
            DataType::Utf8
        }
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INT" | "INTEGER" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        "FLOAT" => DataType::Float32,
        "DOUBLE" => {
            cursor.parse_word("PRECISION");
            DataType::Float64
        }
        "DECIMAL" | "DEC" | "NUMERIC" => parse_decimal(cursor)?,
        "DATE" => DataType::Date32,
        "TIME" => {
            let precision = parse_precision(cursor, 0)?;
            cursor.parse_words(&["WITHOUT", "TIME", "ZONE"]);
            match time_unit(precision) {
                unit @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(unit),
                unit => DataType::Time64(unit),
            }
        }
        "TIMESTAMP" => {
            let precision = parse_precision(cursor, 6)?;
            if cursor.parse_words(&["WITH", "LOCAL", "TIME", "ZONE"]) {
                DataType::Timestamp(time_unit(precision), Some("UTC".into()))
            } else if cursor.peek_word("WITH") {
                return Err(SqlError::at(
                    cursor.location(),
                    "TIMESTAMP WITH TIME ZONE is not supported (as in Flink)",
                )
                .with_hint("use TIMESTAMP_LTZ(p) or TIMESTAMP(p) WITH LOCAL TIME ZONE"));
            } else {
                cursor.parse_words(&["WITHOUT", "TIME", "ZONE"]);
                DataType::Timestamp(time_unit(precision), None)
            }
        }
        "TIMESTAMP_LTZ" => DataType::Timestamp(time_unit(parse_precision(cursor, 6)?), Some("UTC".into())),
        "BYTES" => DataType::Binary,
        "BINARY" | "VARBINARY" => {
            parse_length(cursor)?;
            DataType::Binary
        }
        "ARRAY" => {
            cursor.expect(&Token::Lt)?;
            let element = parse_type(cursor)?;
            cursor.expect_closing_angle()?;
            DataType::List(Arc::new(element.into_field("item")))
        }
        "MAP" => {
            cursor.expect(&Token::Lt)?;
            let key = parse_type(cursor)?;
            cursor.expect(&Token::Comma)?;
            let value = parse_type(cursor)?;
            cursor.expect_closing_angle()?;
            let entries = Fields::from(vec![Field::new("key", key.data_type, false), value.into_field("value")]);
            DataType::Map(Arc::new(Field::new("entries", DataType::Struct(entries), false)), false)
        }
        "ROW" => parse_row(cursor)?,
        _ => {
            return Err(SqlError::at(at, format!("unknown data type '{}'", token.token)).with_hint(supported()));
        }
    })
}

/// `ROW<name T ['description'], ...>` or `ROW(name T, ...)`.
fn parse_row(cursor: &mut Cursor<'_>) -> Result<DataType> {
    let angle = match cursor.peek().token {
        Token::Lt => true,
        Token::LParen => false,
        _ => return Err(cursor.expected("'<' or '(' after ROW")),
    };
    cursor.next();
    let mut fields: Vec<Field> = Vec::new();
    loop {
        let name = cursor.expect_ident("a field name")?;
        if fields.iter().any(|f| f.name() == &name.value) {
            return Err(SqlError::at(
                name.span.start,
                format!("duplicate field '{}' in ROW", name.value),
            ));
        }
        let field_type = parse_type(cursor)?;
        if matches!(cursor.peek().token, Token::SingleQuotedString(_)) {
            cursor.expect_string("a field description")?;
        }
        fields.push(field_type.into_field(&name.value));
        if !cursor.consume(&Token::Comma) {
            break;
        }
    }
    if angle {
        cursor.expect_closing_angle()?;
    } else {
        cursor.expect(&Token::RParen)?;
    }
    Ok(DataType::Struct(Fields::from(fields)))
}

/// An optional `(n)`, n ≥ 1 (character and binary lengths, which Arrow does not bound).
fn parse_length(cursor: &mut Cursor<'_>) -> Result<()> {
    if cursor.consume(&Token::LParen) {
        let at = cursor.location();
        if parse_number(cursor)? == 0 {
            return Err(SqlError::at(at, "length must be at least 1"));
        }
        cursor.expect(&Token::RParen)?;
    }
    Ok(())
}

/// An optional `(p)` with 0 ≤ p ≤ 9, or `default`.
fn parse_precision(cursor: &mut Cursor<'_>, default: u64) -> Result<u64> {
    if !cursor.consume(&Token::LParen) {
        return Ok(default);
    }
    let at = cursor.location();
    let precision = parse_number(cursor)?;
    if precision > 9 {
        return Err(SqlError::at(
            at,
            format!("precision {precision} is out of range (0 to 9)"),
        ));
    }
    cursor.expect(&Token::RParen)?;
    Ok(precision)
}

/// `[(p[, s])]` with 1 ≤ p ≤ 38 and 0 ≤ s ≤ p; Flink's default is (10, 0).
fn parse_decimal(cursor: &mut Cursor<'_>) -> Result<DataType> {
    let (mut precision, mut scale) = (10, 0);
    if cursor.consume(&Token::LParen) {
        let at = cursor.location();
        precision = parse_number(cursor)?;
        if !(1..=38).contains(&precision) {
            return Err(SqlError::at(
                at,
                format!("DECIMAL precision {precision} is out of range (1 to 38)"),
            ));
        }
        if cursor.consume(&Token::Comma) {
            let at = cursor.location();
            scale = parse_number(cursor)?;
            if scale > precision {
                return Err(SqlError::at(
                    at,
                    format!("DECIMAL scale {scale} is larger than the precision {precision}"),
                ));
            }
        }
        cursor.expect(&Token::RParen)?;
    }
    // Both fit: precision ≤ 38, scale ≤ precision.
    Ok(DataType::Decimal128(precision as u8, scale as i8))
}

fn parse_number(cursor: &mut Cursor<'_>) -> Result<u64> {
    if let Token::Number(text, _) = &cursor.peek().token {
        if let Ok(n) = text.parse::<u64>() {
            cursor.next();
            return Ok(n);
        }
    }
    Err(cursor.expected("a non-negative integer"))
}

/// The Arrow unit of a fractional-seconds precision 0..=9.
fn time_unit(precision: u64) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

#[cfg(test)]
mod tests;

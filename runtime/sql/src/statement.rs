//! Typed statements of a Freshet SQL script.
//!
//! `CREATE TABLE`, `CREATE VIEW`, `SET`, `RESET`, `INSERT` and `EXPLAIN` are recognized by
//! their leading words and parsed here (sqlparser's versions of them know other dialects'
//! clauses, not Flink's: `SET 'key' = 'value'`, `CREATE VIEW v COMMENT '...' AS`); queries,
//! wherever they appear, are parsed by sqlparser's `parse_query`, so the planner receives
//! sqlparser `Query` ASTs.
//!
//! [`parse_script`] is [`split_script`] followed by [`parse_statement`] on each statement; call
//! those two directly to keep each statement's source text next to it.

use crate::cursor::{describe, is_word, Cursor};
use crate::ddl::{parse_create_table, TableDdl};
use crate::error::{Result, SqlError};
use crate::script::{split_script, StatementSource};
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Query};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan};

const SUPPORTED_STATEMENTS: &str =
    "supported: CREATE [TEMPORARY] TABLE, CREATE [TEMPORARY] VIEW, SET, RESET, INSERT INTO, EXPLAIN, SELECT";

/// One statement of a script.
// Statements are parsed once per script and a script has a handful of them: the size of the
// largest variant does not matter, and unboxed variants read better in the planner's matches.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `CREATE [TEMPORARY] TABLE ...`.
    CreateTable(TableDdl),
    /// `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(column, ...)] [COMMENT '...'] AS query`.
    CreateView {
        /// The view name.
        name: ObjectName,
        /// `TEMPORARY`.
        temporary: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Names given to the query's columns (empty: the query's own names).
        columns: Vec<Ident>,
        /// The view comment.
        comment: Option<String>,
        /// The defining query.
        query: Box<Query>,
        /// The whole statement.
        span: Span,
    },
    /// `SET 'key' = 'value'` or `SET key = value`: job configuration.
    Set {
        /// The key, unquoted.
        key: String,
        /// The value, unquoted (unquoted values are taken verbatim, e.g. `10 s`).
        value: String,
        /// The whole statement.
        span: Span,
    },
    /// `RESET ['key']`: back to the default (all keys without a key).
    Reset {
        /// The key, unquoted; `None` resets every key.
        key: Option<String>,
        /// The whole statement.
        span: Span,
    },
    /// `INSERT INTO table [(column, ...)] query`.
    Insert {
        /// The target table.
        table: ObjectName,
        /// The target columns (empty: all, in order).
        columns: Vec<Ident>,
        /// The rows to insert.
        query: Box<Query>,
        /// The whole statement.
        span: Span,
    },
    /// `EXPLAIN [PLAN FOR] statement`, where the statement is an `INSERT` or a query.
    Explain {
        /// The explained statement.
        statement: Box<Statement>,
        /// The whole statement, `EXPLAIN` included.
        span: Span,
    },
    /// A query on its own (`SELECT`, `WITH`, `VALUES`): its rows are the job's output.
    Select {
        /// The query.
        query: Box<Query>,
        /// The whole statement.
        span: Span,
    },
}

impl Statement {
    /// Where the statement is in the script.
    pub fn span(&self) -> Span {
        match self {
            Statement::CreateTable(table) => table.span,
            Statement::CreateView { span, .. }
            | Statement::Set { span, .. }
            | Statement::Reset { span, .. }
            | Statement::Insert { span, .. }
            | Statement::Explain { span, .. }
            | Statement::Select { span, .. } => *span,
        }
    }
}

/// Parses a whole script; the first error stops parsing.
pub fn parse_script(sql: &str) -> Result<Vec<Statement>> {
    split_script(sql)?.iter().map(parse_statement).collect()
}

/// Parses one statement of a script.
pub fn parse_statement(source: &StatementSource<'_>) -> Result<Statement> {
    let mut cursor = Cursor::new(source);
    let statement = parse_next(&mut cursor)?;
    cursor.expect_end()?;
    Ok(statement)
}

/// Parses the statement starting at the cursor and running to the end of the source.
fn parse_next(cursor: &mut Cursor<'_>) -> Result<Statement> {
    let start = cursor.location();
    let span = Span::new(start, cursor.end());
    let first = cursor.peek().token.clone();
    let word = match &first {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        Token::LParen => "(".to_string(),
        _ => String::new(),
    };
    match word.as_str() {
        "CREATE" => parse_create(cursor, span),
        "SET" => parse_set(cursor, span),
        "RESET" => parse_reset(cursor, span),
        "INSERT" => parse_insert(cursor, span),
        "EXPLAIN" => parse_explain(cursor, span),
        "SELECT" | "WITH" | "VALUES" | "(" => Ok(Statement::Select {
            query: cursor.run(Parser::parse_query)?,
            span,
        }),
        "BEGIN" | "END" | "EXECUTE" => Err(SqlError::at(start, "statement sets are not needed")
            .with_hint("all INSERT statements of a script already run as one job")),
        "" => Err(
            SqlError::at(start, format!("expected a statement, found {}", describe(&first)))
                .with_hint(SUPPORTED_STATEMENTS),
        ),
        _ => Err(SqlError::at(start, format!("unsupported statement {word}")).with_hint(SUPPORTED_STATEMENTS)),
    }
}

fn parse_create(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    let kind = if cursor.peek_nth_word(1, "TEMPORARY") { 2 } else { 1 };
    if cursor.peek_nth_word(kind, "TABLE") {
        return parse_create_table(cursor).map(Statement::CreateTable);
    }
    if cursor.peek_nth_word(kind, "VIEW") {
        return parse_create_view(cursor, span);
    }
    let at = cursor.peek_nth(kind).span.start;
    let what = match &cursor.peek_nth(kind).token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        other => other.to_string(),
    };
    let error = SqlError::at(at, format!("unsupported statement CREATE {what}"));
    Err(match what.as_str() {
        "FUNCTION" | "SYSTEM" => error.with_hint("user functions are registered through Freshet's Rust API"),
        "OR" => error.with_hint("CREATE OR REPLACE is not supported; use CREATE TABLE or CREATE VIEW"),
        _ => error.with_hint(SUPPORTED_STATEMENTS),
    })
}

fn parse_create_view(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    cursor.expect_words(&["CREATE"])?;
    let temporary = cursor.parse_word("TEMPORARY");
    cursor.expect_words(&["VIEW"])?;
    let if_not_exists = cursor.parse_words(&["IF", "NOT", "EXISTS"]);
    let name = cursor.run(|p| p.parse_object_name(false))?;
    let mut columns = Vec::new();
    if cursor.consume(&Token::LParen) {
        loop {
            columns.push(cursor.expect_ident("a column name")?);
            if !cursor.consume(&Token::Comma) {
                break;
            }
        }
        cursor.expect(&Token::RParen)?;
    }
    let comment = match cursor.parse_word("COMMENT") {
        true => Some(cursor.expect_string("a comment string")?.0),
        false => None,
    };
    cursor.expect_words(&["AS"])?;
    let query = cursor.run(Parser::parse_query)?;
    Ok(Statement::CreateView {
        name,
        temporary,
        if_not_exists,
        columns,
        comment,
        query,
        span,
    })
}

fn parse_set(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    cursor.expect_words(&["SET"])?;
    let hint = "write SET 'key' = 'value'";
    let key_start = cursor.location();
    while !matches!(cursor.peek().token, Token::Eq | Token::EOF) {
        cursor.next();
    }
    let key_end = cursor.previous_end();
    if cursor.peek().token == Token::EOF {
        return Err(cursor.expected("'='").with_hint(hint));
    }
    let key = setting_text(cursor.source(), key_start, key_end).map_err(|e| e.with_hint(hint))?;
    cursor.expect(&Token::Eq)?;
    let value_start = cursor.location();
    while cursor.peek().token != Token::EOF {
        cursor.next();
    }
    let value = setting_text(cursor.source(), value_start, cursor.end()).map_err(|e| e.with_hint(hint))?;
    Ok(Statement::Set { key, value, span })
}

fn parse_reset(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    cursor.expect_words(&["RESET"])?;
    if cursor.peek().token == Token::EOF {
        return Ok(Statement::Reset { key: None, span });
    }
    let start = cursor.location();
    while cursor.peek().token != Token::EOF {
        cursor.next();
    }
    let key = setting_text(cursor.source(), start, cursor.end())?;
    Ok(Statement::Reset { key: Some(key), span })
}

/// A key or value of `SET`/`RESET` between two locations: a quoted string or identifier is
/// unquoted; anything else is taken verbatim (`execution.checkpointing.interval`, `10 s`).
fn setting_text(source: &StatementSource<'_>, from: Location, to: Location) -> Result<String> {
    let tokens: Vec<&TokenWithSpan> = source
        .significant_tokens()
        .filter(|t| t.span.start >= from && t.span.end <= to)
        .collect();
    let quoted = |token: &Token| match token {
        Token::SingleQuotedString(s) => Some(s.clone()),
        Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
        _ => None,
    };
    match tokens.as_slice() {
        [] => Err(SqlError::at(from, "expected a key or value")),
        [only] => Ok(quoted(&only.token).unwrap_or_else(|| source.slice(from, to).trim().to_string())),
        [first, second, ..] if quoted(&first.token).is_some() => Err(SqlError::at(
            second.span.start,
            format!("unexpected {} after a quoted key or value", describe(&second.token)),
        )),
        _ => Ok(source.slice(from, to).trim().to_string()),
    }
}

fn parse_insert(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    cursor.expect_words(&["INSERT"])?;
    if cursor.peek_word("OVERWRITE") {
        return Err(
            SqlError::at(cursor.location(), "INSERT OVERWRITE is not supported in streaming jobs")
                .with_hint("use INSERT INTO"),
        );
    }
    cursor.expect_words(&["INTO"])?;
    let table = cursor.run(|p| p.parse_object_name(false))?;
    if cursor.peek_word("PARTITION") {
        return Err(SqlError::at(
            cursor.location(),
            "static partitions (INSERT ... PARTITION) are not supported",
        )
        .with_hint("partition columns are written from the query's columns"));
    }
    let mut columns = Vec::new();
    let starts_query = |token: &Token| ["SELECT", "WITH", "VALUES"].iter().any(|w| is_word(token, w));
    if cursor.peek().token == Token::LParen && !starts_query(&cursor.peek_nth(1).token) {
        cursor.next();
        loop {
            columns.push(cursor.expect_ident("a column name")?);
            if !cursor.consume(&Token::Comma) {
                break;
            }
        }
        cursor.expect(&Token::RParen)?;
    }
    let query = cursor.run(Parser::parse_query)?;
    Ok(Statement::Insert {
        table,
        columns,
        query,
        span,
    })
}

fn parse_explain(cursor: &mut Cursor<'_>, span: Span) -> Result<Statement> {
    cursor.expect_words(&["EXPLAIN"])?;
    for detail in ["ESTIMATED_COST", "CHANGELOG_MODE", "JSON_EXECUTION_PLAN", "PLAN_ADVICE"] {
        if cursor.peek_word(detail) {
            return Err(
                SqlError::at(cursor.location(), format!("EXPLAIN {detail} is not supported"))
                    .with_hint("EXPLAIN [PLAN FOR] prints the streaming plan"),
            );
        }
    }
    cursor.parse_words(&["PLAN", "FOR"]);
    let at = cursor.location();
    let statement = parse_next(cursor)?;
    if !matches!(statement, Statement::Insert { .. } | Statement::Select { .. }) {
        return Err(SqlError::at(at, "EXPLAIN explains an INSERT or a query"));
    }
    Ok(Statement::Explain {
        statement: Box::new(statement),
        span,
    })
}

#[cfg(test)]
mod tests;

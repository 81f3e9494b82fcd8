//! [`FreshetDialect`]: sqlparser's `GenericDialect` plus the table argument of Flink's window
//! table functions.
//!
//! What `GenericDialect` already accepts, and Freshet keeps: `` `backtick` `` and `"double"`
//! quoted identifiers (Flink writes `` `dateTime` ``), `--` and nested `/* */` comments,
//! `name => value` named function arguments, `INTERVAL '10' SECOND`, `FROM TABLE(<expr>)` (as
//! `TableFactor::TableFunction`) and `DESCRIPTOR(col)` (as an ordinary function call).
//!
//! Beyond `GenericDialect`, table versioning is on, for Flink's lookup joins
//! (`JOIN side FOR SYSTEM_TIME AS OF b.p_time`). DataFusion's SQL planner ignores a table's
//! version, so a Freshet planner must look for it itself (`TableFactor::Table { version:
//! Some(TableVersion::ForSystemTimeAsOf(_)), .. }`), or the lookup join is planned as a
//! regular join.
//!
//! What `GenericDialect` cannot parse is the window functions' table argument: in
//! `FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))` the argument
//! `TABLE bid` is not an expression, and `GenericDialect` stops with
//! `Expected: ), found: bid`. [`FreshetDialect`] hooks expression parsing (`parse_prefix`) so
//! that an unquoted `TABLE` followed by a name parses as a pseudo function call:
//!
//! | SQL                                  | AST                                                  |
//! |--------------------------------------|------------------------------------------------------|
//! | `TABLE bid`                          | `Expr::Function` `TABLE(bid)`                        |
//! | `TABLE s.bid`                        | `TABLE(s.bid)` (a compound identifier argument)      |
//! | `TABLE bid PARTITION BY bidder`      | `TABLE(bid) OVER (PARTITION BY bidder)`              |
//! | `TABLE bid PARTITION BY (a, b)`      | `TABLE(bid) OVER (PARTITION BY a, b)`                |
//!
//! The partition keys of Flink's `SESSION` table argument are carried in the `OVER` clause
//! because sqlparser's function call has no other place for them. Planners should not read this
//! encoding themselves but use [`crate::WindowTvf::from_table_factor`]. `TABLE` is a reserved
//! word in Flink, so reading it as this pseudo call wherever an expression starts cannot change
//! the meaning of a valid Flink statement; a column named `table` must be quoted.
//!
//! To keep every `GenericDialect` behaviour (including the parser's internal
//! `dialect_of!(self is GenericDialect)` checks) the dialect reports `GenericDialect`'s type id
//! and forwards every method `GenericDialect` overrides. When sqlparser is upgraded, compare
//! this list with `sqlparser/src/dialect/generic.rs`.

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, WindowSpec, WindowType,
};
use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;
use std::any::TypeId;

/// The name of the pseudo function a `TABLE <name>` argument parses into.
pub const TABLE_ARGUMENT_FUNCTION: &str = "TABLE";

/// Freshet's SQL dialect: Flink-shaped SQL on top of sqlparser's `GenericDialect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreshetDialect;

macro_rules! forward_to_generic {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method(&self) -> bool {
                GenericDialect.$method()
            }
        )*
    };
}

impl Dialect for FreshetDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_delimited_identifier_start(ch)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect.is_identifier_part(ch)
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let starts_table_argument = matches!(&parser.peek_token_ref().token,
            Token::Word(w) if w.keyword == Keyword::TABLE && w.quote_style.is_none())
            && matches!(parser.peek_nth_token_ref(1).token, Token::Word(_));
        starts_table_argument.then(|| parse_table_argument(parser))
    }

    /// Flink's temporal (lookup) join `JOIN side FOR SYSTEM_TIME AS OF b.p_time AS s`, parsed
    /// into `TableFactor::Table { version: Some(TableVersion::ForSystemTimeAsOf(..)) }`.
    fn supports_table_versioning(&self) -> bool {
        true
    }

    forward_to_generic!(
        supports_unicode_string_literal,
        supports_partition_by_after_order_by,
        supports_array_join_syntax,
        supports_group_by_expr,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
        supports_connect_by,
        supports_match_recognize,
        supports_pipe_operator,
        supports_start_transaction_modifier,
        supports_window_function_null_treatment_arg,
        supports_dictionary_syntax,
        supports_window_clause_named_window_reference,
        supports_parenthesized_set_variables,
        supports_select_wildcard_except,
        support_map_literal_syntax,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_extract_comma_syntax,
        supports_create_view_comment_syntax,
        supports_parens_around_table_factor,
        supports_values_as_table_factor,
        supports_create_index_with_clause,
        supports_explain_with_utility_options,
        supports_limit_comma,
        supports_update_order_by,
        supports_from_first_select,
        supports_projection_trailing_commas,
        supports_asc_desc_in_column_definition,
        supports_try_convert,
        supports_bitwise_shift_operators,
        supports_comment_on,
        supports_load_extension,
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_empty_projections,
        supports_nested_comments,
        supports_multiline_comment_hints,
        supports_user_host_grantee,
        supports_string_escape_constant,
        supports_array_typedef_with_brackets,
        supports_match_against,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_filter_during_aggregation,
        supports_select_wildcard_exclude,
        supports_data_type_signed_suffix,
        supports_interval_options,
        supports_quote_delimited_string,
        supports_select_wildcard_replace,
        supports_select_wildcard_ilike,
        supports_select_wildcard_rename,
        supports_optimize_table,
        supports_install,
        supports_detach,
        supports_prewhere,
        supports_with_fill,
        supports_limit_by,
        supports_interpolate,
        supports_settings,
        supports_select_format,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
        supports_comma_separated_trim,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
        supports_xml_expressions,
    );
}

/// Parses `TABLE name [PARTITION BY key | PARTITION BY (key, ...)]` into the pseudo call
/// described in the module docs.
fn parse_table_argument(parser: &mut Parser) -> Result<Expr, ParserError> {
    let table_token = parser.next_token();
    let name = parser.parse_object_name(false)?;
    let mut parts: Vec<Ident> = name.0.iter().filter_map(ObjectNamePart::as_ident).cloned().collect();
    let table = match parts.len() {
        1 => Expr::Identifier(parts.remove(0)),
        _ => Expr::CompoundIdentifier(parts),
    };
    let over = if parser.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
        let keys = if parser.consume_token(&Token::LParen) {
            let keys = parser.parse_comma_separated(Parser::parse_expr)?;
            parser.expect_token(&Token::RParen)?;
            keys
        } else {
            vec![parser.parse_expr()?]
        };
        Some(WindowType::WindowSpec(WindowSpec {
            window_name: None,
            partition_by: keys,
            order_by: vec![],
            window_frame: None,
        }))
    } else {
        None
    };
    Ok(Expr::Function(Function {
        name: ObjectName::from(vec![Ident::with_span(table_token.span, TABLE_ARGUMENT_FUNCTION)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(table))],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over,
        within_group: vec![],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::{SetExpr, Statement, TableFactor};

    const TVF: &str = "SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))";

    fn first_relation(sql: &str, dialect: &dyn Dialect) -> Result<TableFactor, ParserError> {
        let mut statements = Parser::parse_sql(dialect, sql)?;
        let Some(Statement::Query(query)) = statements.pop() else {
            return Err(ParserError::ParserError("not a query".into()));
        };
        let SetExpr::Select(select) = *query.body else {
            return Err(ParserError::ParserError("not a select".into()));
        };
        Ok(select.from[0].relation.clone())
    }

    #[test]
    fn generic_dialect_cannot_parse_the_table_argument() {
        let e = first_relation(TVF, &GenericDialect)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("sql parser error: Expected: ), found: bid at Line: 1, Column: 34".to_string())
        );
    }

    #[test]
    fn freshet_dialect_parses_the_table_argument_into_a_pseudo_call() {
        let relation = first_relation(TVF, &FreshetDialect).map(|r| r.to_string());
        assert_eq!(
            relation,
            Ok("TABLE(TUMBLE(TABLE(bid), DESCRIPTOR(date_time), INTERVAL '10' SECOND))".to_string())
        );
        let sql = "SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY (bidder, auction), \
                   DESCRIPTOR(date_time), INTERVAL '10' SECOND)) AS s";
        let relation = first_relation(sql, &FreshetDialect).map(|r| r.to_string());
        assert_eq!(
            relation,
            Ok(
                "TABLE(SESSION(TABLE(bid) OVER (PARTITION BY bidder, auction), DESCRIPTOR(date_time), \
                INTERVAL '10' SECOND)) AS s"
                    .to_string()
            )
        );
    }

    #[test]
    fn lookup_join_parses_for_system_time_as_of() {
        let sql = "SELECT * FROM b JOIN side FOR SYSTEM_TIME AS OF b.p_time AS s ON b.k = s.k";
        let statements = Parser::parse_sql(&FreshetDialect, sql).map(|s| s[0].to_string());
        // sqlparser prints the alias before the version.
        assert_eq!(
            statements,
            Ok("SELECT * FROM b JOIN side AS s FOR SYSTEM_TIME AS OF b.p_time ON b.k = s.k".to_string())
        );
        assert!(Parser::parse_sql(&GenericDialect, sql).is_err());
    }

    #[test]
    fn identifiers_in_backticks_and_double_quotes() {
        let statements = Parser::parse_sql(&FreshetDialect, "SELECT `dateTime`, \"Price\" FROM `bid`");
        assert_eq!(
            statements.map(|s| s[0].to_string()),
            Ok("SELECT `dateTime`, \"Price\" FROM `bid`".to_string())
        );
    }
}

//! The one error of the SQL front end: a message at a 1-based line and column of the script.
//!
//! Positions are always script positions, never statement-relative ones: the whole script is
//! tokenized once, so every token (and every AST node sqlparser builds from it) already carries
//! its script location. sqlparser's own errors embed their location in the message text
//! (`"... at Line: 3, Column: 14"`); [`SqlError::from_parser`] lifts it out again.

use datafusion::sql::sqlparser::ast::Spanned;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Location, TokenizerError};
use freshet_core::ErrorClass;

/// A `Result` whose error is a [`SqlError`].
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// A user error in a SQL script, with where it is and, when useful, what is supported instead.
///
/// Displays as `line 3, column 14: unknown data type 'STRNG' (supported: STRING, ...)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}{}", hint_suffix(.hint.as_deref()))]
pub struct SqlError {
    /// What is wrong.
    pub message: String,
    /// 1-based line in the script.
    pub line: u64,
    /// 1-based column (in characters) in the script.
    pub column: u64,
    /// What would be accepted instead, e.g. `supported: STRING, VARCHAR, ...`.
    pub hint: Option<String>,
}

fn hint_suffix(hint: Option<&str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

impl SqlError {
    /// An error at `location` (a script location; an empty location becomes line 1, column 1).
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line: location.line.max(1),
            column: location.column.max(1),
            hint: None,
        }
    }

    /// An error at the start of `node` (an AST node or a span), or at `fallback` when the node
    /// has no location (sqlparser leaves some synthesized nodes without one).
    pub fn at_node(node: &impl Spanned, fallback: Location, message: impl Into<String>) -> Self {
        let start = node.span().start;
        Self::at(if start.line == 0 { fallback } else { start }, message)
    }

    /// Adds what is supported instead.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whose fault the error is: always the user's (the script is wrong).
    pub fn class(&self) -> ErrorClass {
        ErrorClass::User
    }

    /// The location of the error.
    pub fn location(&self) -> Location {
        Location::new(self.line, self.column)
    }

    /// Converts a tokenizer error (its location is already a script location).
    pub fn from_tokenizer(error: TokenizerError) -> Self {
        Self::at(error.location, lowercase_first(&error.message))
    }

    /// Converts a sqlparser error. Its location, when it has one, is taken out of the message;
    /// errors at the end of the tokens (no location) are placed at `end`, the end of the
    /// statement being parsed.
    pub fn from_parser(error: ParserError, end: Location) -> Self {
        let text = match error {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
            ParserError::RecursionLimitExceeded => {
                return Self::at(end, "statement is nested too deeply");
            }
        };
        let (message, location) = split_location(&text);
        let message = match message.rsplit_once(", found: ") {
            Some((expected, "EOF")) => format!("{expected}, found end of statement"),
            Some((expected, found)) => format!("{expected}, found '{found}'"),
            None => message.to_string(),
        };
        let message = message.replace("Expected: ", "expected ");
        Self::at(location.unwrap_or(end), lowercase_first(&message))
    }
}

/// Splits sqlparser's `"<message> at Line: L, Column: C"` into the message and the location.
fn split_location(text: &str) -> (&str, Option<Location>) {
    let Some(at) = text.rfind(" at Line: ") else {
        return (text, None);
    };
    let rest = &text[at + " at Line: ".len()..];
    let parsed = rest.split_once(", Column: ").and_then(|(line, column)| {
        let line = line.trim().parse::<u64>().ok()?;
        let column = column.trim().parse::<u64>().ok()?;
        Some(Location::new(line, column))
    });
    match parsed {
        Some(location) => (&text[..at], Some(location)),
        None => (text, None),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if chars.clone().next().is_some_and(|c| c.is_lowercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_hint() {
        let e = SqlError::at(Location::new(3, 14), "unknown data type 'STRNG'").with_hint("supported: STRING, INT");
        assert_eq!(
            e.to_string(),
            "line 3, column 14: unknown data type 'STRNG' (supported: STRING, INT)"
        );
        let e = SqlError::at(Location::empty(), "boom");
        assert_eq!(e.to_string(), "line 1, column 1: boom");
    }

    #[test]
    fn parser_error_locations_are_lifted_out() {
        let e = SqlError::from_parser(
            ParserError::ParserError("Expected: ), found: bid at Line: 2, Column: 7".into()),
            Location::new(9, 9),
        );
        assert_eq!((e.line, e.column), (2, 7));
        assert_eq!(e.message, "expected ), found 'bid'");
        let e = SqlError::from_parser(
            ParserError::ParserError("Expected: an expression, found: EOF".into()),
            Location::new(4, 20),
        );
        assert_eq!((e.line, e.column), (4, 20));
        assert_eq!(e.message, "expected an expression, found end of statement");
    }
}

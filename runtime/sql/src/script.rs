//! Splitting a script into statements.
//!
//! The whole script is tokenized once with [`FreshetDialect`], so `--` and `/* */` comments and
//! `;` inside 'strings', "identifiers" and `backticks` never split a statement, and every token
//! keeps its script location. Statements are the token runs between top-level `;` tokens; runs
//! holding only whitespace and comments are dropped. The last statement needs no `;`.

use crate::dialect::FreshetDialect;
use crate::error::{Result, SqlError};
use datafusion::sql::sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer};

/// One statement of a script: its text, its tokens and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementSource<'a> {
    /// The statement's text, from its first to its last token (no `;`, no surrounding
    /// comments).
    pub text: &'a str,
    /// The statement's tokens with their script spans, including whitespace and comments
    /// between them (sqlparser's `Parser` skips those), without the terminating `;`.
    pub tokens: Vec<TokenWithSpan>,
    /// From the start of the first token to the end (exclusive) of the last one.
    pub span: Span,
}

impl<'a> StatementSource<'a> {
    /// The tokens that are neither whitespace nor comments.
    pub fn significant_tokens(&self) -> impl Iterator<Item = &TokenWithSpan> {
        self.tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_)))
    }

    /// The statement text between two locations inside it (clamped to the statement).
    pub fn slice(&self, from: Location, to: Location) -> &'a str {
        let start = offset_from(self.text, self.span.start, from);
        let end = offset_from(self.text, self.span.start, to).max(start);
        &self.text[start..end]
    }
}

/// Splits `sql` into its statements.
pub fn split_script(sql: &str) -> Result<Vec<StatementSource<'_>>> {
    let tokens = Tokenizer::new(&FreshetDialect, sql)
        .tokenize_with_location()
        .map_err(SqlError::from_tokenizer)?;
    let lines = LineIndex::new(sql);
    let mut statements = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            statements.extend(finish(sql, &lines, std::mem::take(&mut current)));
        } else {
            current.push(token);
        }
    }
    statements.extend(finish(sql, &lines, current));
    Ok(statements)
}

fn finish<'a>(sql: &'a str, lines: &LineIndex, tokens: Vec<TokenWithSpan>) -> Option<StatementSource<'a>> {
    let mut significant = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let first = significant.next()?.span;
    let last = significant.next_back().map_or(first, |t| t.span);
    let span = Span::new(first.start, last.end);
    let text = &sql[lines.offset(sql, span.start)..lines.offset(sql, span.end)];
    Some(StatementSource { text, tokens, span })
}

/// Byte offsets of line starts, to turn tokenizer locations (1-based line, 1-based column in
/// characters) into byte offsets.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(sql: &str) -> Self {
        let starts = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1));
        Self(starts.collect())
    }

    fn offset(&self, sql: &str, location: Location) -> usize {
        let line = (location.line.max(1) - 1) as usize;
        let Some(&start) = self.0.get(line) else {
            return sql.len();
        };
        let origin = Location::new(location.line, 1);
        start + offset_from(&sql[start..], origin, location)
    }
}

/// The byte offset in `text` (which starts at `origin`) of `target`.
fn offset_from(text: &str, origin: Location, target: Location) -> usize {
    let (mut line, mut column) = (origin.line, origin.column);
    for (i, ch) in text.char_indices() {
        if (line, column) >= (target.line, target.column) {
            return i;
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        match split_script(sql) {
            Ok(s) => s.iter().map(|s| s.text.to_string()).collect(),
            Err(e) => vec![format!("error: {e}")],
        }
    }

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let sql = "-- a comment; not a split\nSET 'a;b' = 'c;d';\n/* block; comment */ SELECT `x;y`, \"p;q\" FROM t;\n\
                   INSERT INTO s SELECT 1 -- trailing; comment\n";
        assert_eq!(
            texts(sql),
            vec![
                "SET 'a;b' = 'c;d'",
                "SELECT `x;y`, \"p;q\" FROM t",
                "INSERT INTO s SELECT 1"
            ]
        );
    }

    #[test]
    fn drops_empty_statements_and_comment_only_tails() {
        assert_eq!(texts(";;  SELECT 1 ;; -- done\n/* end */"), vec!["SELECT 1"]);
        assert!(texts("  -- nothing\n").is_empty());
    }

    #[test]
    fn spans_are_script_positions() {
        let sql = "SELECT 1;\n\n  SELECT\n    2;";
        let statements = split_script(sql).unwrap_or_default();
        let spans: Vec<_> = statements.iter().map(|s| (s.span.start, s.span.end)).collect();
        assert_eq!(
            spans,
            vec![
                (Location::new(1, 1), Location::new(1, 9)),
                (Location::new(3, 3), Location::new(4, 6)),
            ]
        );
        assert_eq!(statements[1].text, "SELECT\n    2");
        assert_eq!(statements[1].slice(Location::new(4, 5), Location::new(4, 6)), "2");
    }

    #[test]
    fn multibyte_text_keeps_character_columns() {
        let sql = "SELECT 'äöü';  SELECT 'ß'";
        assert_eq!(texts(sql), vec!["SELECT 'äöü'", "SELECT 'ß'"]);
        let statements = split_script(sql).unwrap_or_default();
        assert_eq!(statements[1].span.start, Location::new(1, 16));
    }

    #[test]
    fn unterminated_string_is_located() {
        assert_eq!(
            texts("SELECT 1;\nSELECT 'abc"),
            vec!["error: line 2, column 8: unterminated string literal"]
        );
    }
}

//! [`Cursor`]: sqlparser's `Parser` over one statement's tokens, with the small vocabulary the
//! hand-written parts (CREATE TABLE, types, SET, EXPLAIN) need and errors already converted to
//! [`SqlError`]s at script positions.
//!
//! Flink words such as `WATERMARK`, `METADATA` or `STRING` are matched by their unquoted text,
//! not by sqlparser's `Keyword` enum, which does not know all of them.

use crate::dialect::FreshetDialect;
use crate::error::{Result, SqlError};
use crate::script::StatementSource;
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan};

/// A parser positioned in one statement.
pub(crate) struct Cursor<'a> {
    parser: Parser<'static>,
    source: &'a StatementSource<'a>,
    /// A `>` still owed after a `>>` token closed two type brackets at once
    /// (`ARRAY<ARRAY<INT>>`).
    pending_gt: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(source: &'a StatementSource<'a>) -> Self {
        let parser = Parser::new(&FreshetDialect).with_tokens_with_locations(source.tokens.clone());
        Self {
            parser,
            source,
            pending_gt: false,
        }
    }

    /// The statement being parsed.
    pub(crate) fn source(&self) -> &'a StatementSource<'a> {
        self.source
    }

    /// The end of the statement: where "found end of statement" errors point.
    pub(crate) fn end(&self) -> Location {
        self.source.span.end
    }

    /// The next significant token (EOF at the end).
    pub(crate) fn peek(&self) -> &TokenWithSpan {
        self.parser.peek_token_ref()
    }

    /// The `n`-th next significant token (0 is [`Self::peek`]).
    pub(crate) fn peek_nth(&self, n: usize) -> &TokenWithSpan {
        self.parser.peek_nth_token_ref(n)
    }

    /// Consumes and returns the next significant token.
    pub(crate) fn next(&mut self) -> TokenWithSpan {
        self.parser.next_token()
    }

    /// Where the next token starts (the statement end at EOF).
    pub(crate) fn location(&self) -> Location {
        token_start(self.peek(), self.end())
    }

    /// Whether the `n`-th next token is the unquoted word `word` (case-insensitive).
    pub(crate) fn peek_nth_word(&self, n: usize, word: &str) -> bool {
        !self.pending_gt && is_word(&self.peek_nth(n).token, word)
    }

    /// Whether the next token is the unquoted word `word`.
    pub(crate) fn peek_word(&self, word: &str) -> bool {
        self.peek_nth_word(0, word)
    }

    /// Consumes the words `words` if they all come next; consumes nothing otherwise.
    pub(crate) fn parse_words(&mut self, words: &[&str]) -> bool {
        let all = words.iter().enumerate().all(|(i, w)| self.peek_nth_word(i, w));
        if all {
            for _ in words {
                self.next();
            }
        }
        all
    }

    /// Consumes `word` if it comes next.
    pub(crate) fn parse_word(&mut self, word: &str) -> bool {
        self.parse_words(&[word])
    }

    /// Consumes the words `words` or fails at the first that is missing.
    pub(crate) fn expect_words(&mut self, words: &[&str]) -> Result<Span> {
        let start = self.location();
        for word in words {
            if !self.parse_word(word) {
                return Err(self.expected(word));
            }
        }
        Ok(Span::new(start, self.previous_end()))
    }

    /// Consumes `token` if it comes next.
    pub(crate) fn consume(&mut self, token: &Token) -> bool {
        !self.pending_gt && self.parser.consume_token(token)
    }

    /// Consumes `token` or fails.
    pub(crate) fn expect(&mut self, token: &Token) -> Result<Span> {
        if self.pending_gt || self.peek().token != *token {
            return Err(self.expected(&format!("'{token}'")));
        }
        Ok(self.next().span)
    }

    /// Consumes a `>` closing a type bracket; a `>>` token closes this one and the next.
    pub(crate) fn expect_closing_angle(&mut self) -> Result<()> {
        if std::mem::take(&mut self.pending_gt) {
            return Ok(());
        }
        match self.peek().token {
            Token::Gt => {
                self.next();
                Ok(())
            }
            Token::ShiftRight => {
                self.next();
                self.pending_gt = true;
                Ok(())
            }
            _ => Err(self.expected("'>'")),
        }
    }

    /// Fails if a `>` of a `>>` is still owed (a `>>` closed more brackets than were open).
    pub(crate) fn expect_no_pending_angle(&self) -> Result<()> {
        match self.pending_gt {
            true => Err(SqlError::at(self.previous_end(), "unexpected '>'")),
            false => Ok(()),
        }
    }

    /// Consumes a single-quoted string literal.
    pub(crate) fn expect_string(&mut self, what: &str) -> Result<(String, Span)> {
        if !self.pending_gt {
            if let Token::SingleQuotedString(s) = &self.peek().token {
                let value = s.clone();
                return Ok((value, self.next().span));
            }
        }
        Err(self.expected(what))
    }

    /// Consumes an identifier (quoted or not; unquoted keywords are accepted as names).
    pub(crate) fn expect_ident(&mut self, what: &str) -> Result<Ident> {
        match (&self.peek().token, self.pending_gt) {
            (Token::Word(_), false) => self.run(Parser::parse_identifier),
            _ => Err(self.expected(what)),
        }
    }

    /// Fails unless the statement has no more tokens.
    pub(crate) fn expect_end(&self) -> Result<()> {
        match (&self.peek().token, self.pending_gt) {
            (Token::EOF, false) => Ok(()),
            _ => Err(SqlError::at(
                self.location(),
                format!("unexpected {} after the end of the statement", self.describe_next()),
            )),
        }
    }

    /// Runs one of sqlparser's parse functions, converting its error.
    pub(crate) fn run<T>(&mut self, f: impl FnOnce(&mut Parser<'static>) -> Result<T, ParserError>) -> Result<T> {
        let end = self.end();
        f(&mut self.parser).map_err(|e| SqlError::from_parser(e, end))
    }

    /// "expected `what`, found <next token>" at the next token.
    pub(crate) fn expected(&self, what: &str) -> SqlError {
        SqlError::at(
            self.location(),
            format!("expected {what}, found {}", self.describe_next()),
        )
    }

    /// The next token as error messages name it.
    pub(crate) fn describe_next(&self) -> String {
        if self.pending_gt {
            return "'>'".into();
        }
        describe(&self.peek().token)
    }

    /// The end of the last consumed token.
    pub(crate) fn previous_end(&self) -> Location {
        let index = self.parser.index().min(self.source.tokens.len());
        let consumed = &self.source.tokens[..index];
        consumed
            .iter()
            .rev()
            .find(|t| !matches!(t.token, Token::Whitespace(_)))
            .map_or(self.source.span.start, |t| t.span.end)
    }
}

/// Whether `token` is the unquoted word `word` (case-insensitive).
pub(crate) fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The start of `token`, or `end` for the EOF token (which has no location).
pub(crate) fn token_start(token: &TokenWithSpan, end: Location) -> Location {
    match token.token {
        Token::EOF => end,
        _ => token.span.start,
    }
}

/// A token as error messages name it.
pub(crate) fn describe(token: &Token) -> String {
    match token {
        Token::EOF => "end of statement".into(),
        Token::SingleQuotedString(_) => token.to_string(),
        other => format!("'{other}'"),
    }
}

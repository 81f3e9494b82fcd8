//! Rewrites a query's window table functions into references to generated tables, which
//! DataFusion can plan: `FROM TABLE(TUMBLE(TABLE bid, ...)) AS w` becomes
//! `FROM __window_tvf_1 AS w`, and the planner registers `__window_tvf_1` as a
//! [`WindowTvfTable`](super::catalog::WindowTvfTable) before planning the statement.

use crate::error::{Result, SqlError};
use crate::window_tvf::WindowTvf;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Query, TableFactor, VisitMut, VisitorMut};
use std::ops::ControlFlow;

/// The prefix of generated window-function table names.
pub const WINDOW_TVF_PREFIX: &str = "__window_tvf_";

struct TvfRewriter<'a> {
    next_id: &'a mut usize,
    found: Vec<(String, WindowTvf)>,
}

impl VisitorMut for TvfRewriter<'_> {
    type Break = SqlError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<SqlError> {
        let tvf = match WindowTvf::from_table_factor(factor) {
            Ok(Some(tvf)) => tvf,
            Ok(None) => return ControlFlow::Continue(()),
            Err(e) => return ControlFlow::Break(e),
        };
        *self.next_id += 1;
        let name = format!("{WINDOW_TVF_PREFIX}{}", self.next_id);
        *factor = TableFactor::Table {
            name: ObjectName::from(vec![Ident::new(name.clone())]),
            alias: tvf.alias.clone(),
            args: None,
            with_hints: Vec::new(),
            version: None,
            with_ordinality: false,
            partitions: Vec::new(),
            json_path: None,
            sample: None,
            index_hints: Vec::new(),
        };
        self.found.push((name, tvf));
        ControlFlow::Continue(())
    }
}

/// Replaces every window table function in `query` by a generated table name (numbered from
/// `*next_id + 1`, so names stay unique across a script) and returns the names with the
/// functions they stand for.
pub fn rewrite_window_tvfs(query: &mut Query, next_id: &mut usize) -> Result<Vec<(String, WindowTvf)>> {
    let mut rewriter = TvfRewriter {
        next_id,
        found: Vec::new(),
    };
    match query.visit(&mut rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(rewriter.found),
    }
}

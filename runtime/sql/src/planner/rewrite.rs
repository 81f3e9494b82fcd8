//! Rewrites a query's window table functions into references to generated tables, which
//! DataFusion can plan: `FROM TABLE(TUMBLE(TABLE bid, ...)) AS w` becomes
//! `FROM __window_tvf_1 AS w`, and the planner registers `__window_tvf_1` as a
//! [`WindowTvfTable`](super::catalog::WindowTvfTable) before planning the statement.
//!
//! Likewise a lookup join's `JOIN dim FOR SYSTEM_TIME AS OF p.proc_time AS d` becomes
//! `JOIN __lookup_2 AS d`, registered as a [`LookupTable`](super::catalog::LookupTable).

use crate::error::{Result, SqlError};
use crate::window_tvf::WindowTvf;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectName, Query, Spanned, TableAlias, TableFactor, TableVersion, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::tokenizer::Location;
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

/// The prefix of generated lookup-table names.
pub const LOOKUP_PREFIX: &str = "__lookup_";

/// A table read `FOR SYSTEM_TIME AS OF` a probe-side time.
#[derive(Clone, Debug)]
pub struct LookupRef {
    /// The table as written.
    pub table: ObjectName,
    /// The `AS OF` expression.
    pub as_of: Expr,
    /// Where the table reference starts.
    pub at: Location,
}

struct LookupRewriter<'a> {
    next_id: &'a mut usize,
    found: Vec<(String, LookupRef)>,
}

impl VisitorMut for LookupRewriter<'_> {
    type Break = SqlError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<SqlError> {
        let TableFactor::Table {
            name, version, alias, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(TableVersion::ForSystemTimeAsOf(as_of)) = version.as_ref() else {
            if let Some(other) = version.as_ref() {
                return ControlFlow::Break(
                    SqlError::at(
                        name.span().start,
                        format!("the table version '{other}' is not supported"),
                    )
                    .with_hint("read a lookup table with FOR SYSTEM_TIME AS OF probe.proc_time"),
                );
            }
            return ControlFlow::Continue(());
        };
        *self.next_id += 1;
        let generated = format!("{LOOKUP_PREFIX}{}", self.next_id);
        let found = LookupRef {
            table: name.clone(),
            as_of: as_of.clone(),
            at: name.span().start,
        };
        if alias.is_none() {
            // Columns stay qualified by the table's own name.
            let own = name.0.last().and_then(|p| p.as_ident()).cloned();
            *alias = own.map(|name| TableAlias {
                explicit: true,
                name,
                columns: Vec::new(),
                at: None,
            });
        }
        *name = ObjectName::from(vec![Ident::new(generated.clone())]);
        *version = None;
        self.found.push((generated, found));
        ControlFlow::Continue(())
    }
}

/// Replaces every table read `FOR SYSTEM_TIME AS OF` in `query` by a generated table name
/// (numbered from `*next_id + 1`) and returns the names with the tables they stand for.
pub fn rewrite_lookup_tables(query: &mut Query, next_id: &mut usize) -> Result<Vec<(String, LookupRef)>> {
    let mut rewriter = LookupRewriter {
        next_id,
        found: Vec::new(),
    };
    match query.visit(&mut rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(rewriter.found),
    }
}

//! Where the constructs of a query are in the script, so that an error about one (an `OVER`
//! window, a join, `ORDER BY`) points at it rather than at the start of its statement.
//!
//! DataFusion's logical plans keep no source positions for most nodes; the query's AST does.
//! Before planning, [`Constructs::of`] records the first location of each kind of construct.

use datafusion::sql::sqlparser::ast::{Expr, Query, Select, Spanned, Visit, Visitor};
use datafusion::sql::sqlparser::tokenizer::Location;
use std::collections::HashMap;
use std::ops::ControlFlow;

/// A kind of construct errors can point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Construct {
    /// `ORDER BY` of a query (not inside `OVER`).
    OrderBy,
    /// `LIMIT` / `OFFSET` / `FETCH`.
    Limit,
    /// A function call with an `OVER` clause.
    Over,
    /// A joined table (the relation after `JOIN`).
    Join,
    /// `SELECT DISTINCT`.
    Distinct,
    /// `GROUP BY`.
    GroupBy,
}

/// The location of each construct written exactly once in one query (a construct written
/// several times is ambiguous: errors about it stay at the statement).
#[derive(Clone, Debug, Default)]
pub struct Constructs(HashMap<Construct, (Location, usize)>);

impl Constructs {
    /// The constructs of `query` (and its subqueries).
    pub fn of(query: &Query) -> Self {
        let mut found = Finder(Self::default());
        let _ = query.visit(&mut found);
        found.0
    }

    /// Where `construct` is, if the query has it once (with a known location).
    pub fn get(&self, construct: Construct) -> Option<Location> {
        self.0
            .get(&construct)
            .filter(|(_, count)| *count == 1)
            .map(|(at, _)| *at)
    }

    fn note(&mut self, construct: Construct, at: Location) {
        if at.line > 0 {
            self.0.entry(construct).or_insert((at, 0)).1 += 1;
        }
    }
}

struct Finder(Constructs);

impl Visitor for Finder {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(order_by) = &query.order_by {
            self.0.note(Construct::OrderBy, order_by.span().start);
        }
        if let Some(limit) = &query.limit_clause {
            self.0.note(Construct::Limit, limit.span().start);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if select.distinct.is_some() {
            self.0.note(Construct::Distinct, select.span().start);
        }
        let group_by = select.group_by.span().start;
        self.0.note(Construct::GroupBy, group_by);
        for table in &select.from {
            for join in &table.joins {
                self.0.note(Construct::Join, join.relation.span().start);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            if function.over.is_some() {
                self.0.note(Construct::Over, expr.span().start);
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn constructs(sql: &str) -> Constructs {
        let statements = Parser::parse_sql(&GenericDialect {}, sql).expect("parses");
        let datafusion::sql::sqlparser::ast::Statement::Query(query) = &statements[0] else {
            panic!("a query");
        };
        Constructs::of(query)
    }

    #[test]
    fn finds_each_construct_written_once() {
        let c = constructs(
            "SELECT a,\n  ROW_NUMBER() OVER (ORDER BY b) AS rn\nFROM t\nLEFT JOIN u ON t.a = u.a\nGROUP BY a\nORDER BY a LIMIT 3",
        );
        assert_eq!(c.get(Construct::Over), Some(Location::new(2, 3)));
        assert_eq!(c.get(Construct::Join), Some(Location::new(4, 11)));
        assert_eq!(c.get(Construct::GroupBy).map(|l| l.line), Some(5));
        assert_eq!(c.get(Construct::OrderBy).map(|l| l.line), Some(6));
        assert_eq!(c.get(Construct::Limit).map(|l| l.line), Some(6));
        assert_eq!(c.get(Construct::Distinct), None);
    }

    #[test]
    fn a_construct_written_twice_has_no_single_place() {
        let c = constructs("SELECT COUNT(*) OVER (ORDER BY b), MAX(a) OVER (ORDER BY b) FROM t JOIN u ON t.a = u.a");
        assert_eq!(c.get(Construct::Over), None);
        assert_eq!(c.get(Construct::Join), Some(Location::new(1, 73)));
    }
}

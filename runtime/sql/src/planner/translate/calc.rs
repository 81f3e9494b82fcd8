//! Projections and filters.

use super::*;

impl Translator<'_> {
    pub(super) fn projection(&mut self, p: &Projection) -> Result<Stream> {
        // A filter right below a projection runs in the same operator.
        let (input_plan, filter) = match p.input.as_ref() {
            LogicalPlan::Filter(f) if !super::rank::is_rank_filter(f) => (f.input.as_ref(), Some(&f.predicate)),
            other => (other, None),
        };
        let input = match input_plan {
            // Whether the row number is selected decides whether rank shifts are emitted.
            LogicalPlan::Filter(f) if super::rank::is_rank_filter(f) => {
                self.rank_selecting(f, input_plan, super::rank::projection_uses_rank(p, f))?
            }
            other => self.plan(other)?,
        };
        self.check_window_columns(&input, filter.into_iter().chain(p.expr.iter()))?;
        let basis = format!("{}", LogicalPlan::Projection(p.clone()).display_indent());
        self.calc(&input, filter, &p.expr, p.schema.clone(), &basis)
    }

    pub(super) fn filter(&mut self, f: &Filter, plan: &LogicalPlan) -> Result<Stream> {
        let input = self.plan(&f.input)?;
        self.check_window_columns(&input, std::iter::once(&f.predicate))?;
        let exprs: Vec<Expr> = (0..input.schema.fields().len())
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        let schema = input.schema.clone();
        self.calc(
            &input,
            Some(&f.predicate),
            &exprs,
            schema,
            &format!("{}", plan.display_indent()),
        )
    }

    /// Window columns are placeholders until the aggregation: only plain references to them
    /// may pass.
    pub(super) fn check_window_columns<'e>(&self, input: &Stream, exprs: impl Iterator<Item = &'e Expr>) -> Result<()> {
        let Some(w) = &input.window else {
            return Ok(());
        };
        let placeholders: Vec<usize> = [w.start, w.end, w.time].into_iter().flatten().collect();
        for expr in exprs {
            if column_index(expr, &input.schema).is_some() {
                continue;
            }
            for column in expr.column_refs() {
                if let Ok(i) = input.schema.index_of_column(column) {
                    if placeholders.contains(&i) {
                        return Err(unsupported(
                            self.location,
                            &format!("computing with '{}' before the window aggregation", column.name),
                            "GROUP BY window_start, window_end first, then compute with them in an outer query",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

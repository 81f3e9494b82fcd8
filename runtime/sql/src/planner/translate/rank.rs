//! Deduplication and Top-N: a filter on `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`.

use super::*;

/// Whether `filter` keeps rows by a `ROW_NUMBER()` computed below it (through projections and
/// aliases): a deduplication or Top-N.
pub(super) fn is_rank_filter(filter: &Filter) -> bool {
    let mut plan = filter.input.as_ref();
    loop {
        match plan {
            LogicalPlan::Projection(p) => plan = p.input.as_ref(),
            LogicalPlan::SubqueryAlias(a) => plan = a.input.as_ref(),
            LogicalPlan::Window(w) => {
                return w
                    .window_expr
                    .iter()
                    .any(|e| e.to_string().to_ascii_lowercase().contains("row_number"))
            }
            _ => return false,
        }
    }
}

impl Translator<'_> {
    pub(super) fn rank(&mut self, _filter: &Filter, _plan: &LogicalPlan) -> Result<Stream> {
        Err(unsupported(
            self.location,
            "deduplication and Top-N (ROW_NUMBER())",
            "window aggregations with TUMBLE, HOP, CUMULATE and SESSION work",
        ))
    }
}

//! Joins.

use super::*;
use datafusion::logical_expr::Join;

impl Translator<'_> {
    pub(super) fn join(&mut self, _join: &Join, _plan: &LogicalPlan) -> Result<Stream> {
        Err(unsupported(
            self.location,
            "JOIN",
            "window aggregations, projections, filters and UNION ALL work",
        ))
    }
}

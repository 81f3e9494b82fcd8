//! `OVER` aggregations: `AGG(x) OVER (PARTITION BY ... ORDER BY ... ROWS|RANGE ...)`.

use super::*;
use datafusion::logical_expr::Window;

impl Translator<'_> {
    pub(super) fn over(&mut self, _window: &Window, _plan: &LogicalPlan) -> Result<Stream> {
        Err(unsupported(
            self.location,
            "an OVER window",
            "window aggregations with TUMBLE, HOP, CUMULATE and SESSION work",
        ))
    }
}

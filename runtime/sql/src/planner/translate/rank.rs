//! Deduplication and Top-N: a filter on `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`.
//!
//! The plan is `Filter(rn <= N)` over projections and aliases over a `Window` computing the row
//! number. The window's input is keyed by the partition columns into one
//! [`RankOperator`], which computes the row number column itself and applies the filter; the
//! projections between the filter and the window then run as usual. The mode follows the query,
//! as in Flink:
//! - `ORDER BY` a processing-time attribute, `N = 1`: deduplication (keep first row: ASC,
//!   append-only; keep last row: DESC, a changelog);
//! - `ORDER BY` the event-time attribute, `N = 1`: deduplication by event time (a changelog;
//!   on equal times the first arrival is kept by ASC, the last by DESC);
//! - `PARTITION BY` `window_start` and `window_end` of a window aggregation's result, or of a
//!   `TUMBLE` table function on event time (whose window columns are computed first): window
//!   Top-N, append-only, emitted when the watermark passes the window's end;
//! - otherwise Top-N, a changelog (ties ranked by arrival); without `PARTITION BY`, one
//!   partition (a constant key) ranks every row.
//!
//! Over a changelog input (e.g. a `GROUP BY` result) the operator keeps every row of a
//! partition, so that retracting a top row promotes the next one.

use super::*;
use crate::ops::rank::ranking::TieBreak;
use crate::ops::{RankConfig, RankEmit, RankOperator};
use arrow::compute::SortOptions;
use datafusion::common::Column;
use datafusion::logical_expr::{BinaryExpr, Operator as BinaryOp, Window};
use freshet_state::ttl::TtlConfig;

/// The constant key column of a Top-N without PARTITION BY.
const GLOBAL_KEY: &str = "__rank_global";

const PREDICATE_HINT: &str = "bound the row number by constants (WHERE rn <= 10, rn = 1 or rn BETWEEN 2 AND 10) and \
                              filter other columns in an outer query";

/// Whether `filter` keeps rows by a `ROW_NUMBER()` (or another ranking function, to be
/// reported) computed below it through projections and aliases: a deduplication or Top-N.
pub(super) fn is_rank_filter(filter: &Filter) -> bool {
    window_below(filter).is_some_and(|(_, w)| {
        w.window_expr.iter().any(|e| {
            let inner = match e {
                Expr::Alias(a) => a.expr.as_ref(),
                other => other,
            };
            matches!(inner, Expr::WindowFunction(f)
                if ["row_number", "rank", "dense_rank"].contains(&f.fun.name().to_ascii_lowercase().as_str()))
        })
    })
}

/// The projections and aliases between `filter` and its window (top first), and the window.
fn window_below(filter: &Filter) -> Option<(Vec<&LogicalPlan>, &Window)> {
    let mut chain = Vec::new();
    let mut plan = filter.input.as_ref();
    loop {
        match plan {
            LogicalPlan::Projection(p) => {
                chain.push(plan);
                plan = p.input.as_ref();
            }
            LogicalPlan::SubqueryAlias(a) => {
                chain.push(plan);
                plan = a.input.as_ref();
            }
            LogicalPlan::Window(w) => return Some((chain, w)),
            _ => return None,
        }
    }
}

/// A cast's operand, or `e` itself.
fn strip(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Cast(c) => Some(c.expr.as_ref()),
        Expr::TryCast(c) => Some(c.expr.as_ref()),
        other => Some(other),
    }
}

/// The row-number column the filter compares, and the bound it sets, as written.
fn bound(predicate: &Expr) -> Option<(&Column, BinaryOp, &ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = predicate else {
        return None;
    };
    match (strip(left)?, strip(right)?) {
        (Expr::Column(c), Expr::Literal(v, _)) => Some((c, *op, v)),
        (Expr::Literal(v, _), Expr::Column(c)) => Some((c, op.swap()?, v)),
        _ => None,
    }
}

/// The ranks `predicate` keeps, `first..=last` (1-based; `last` if bounded), and the row-number
/// column it bounds: a conjunction of comparisons of one column with constants.
fn rank_range(predicate: &Expr) -> Option<(&Column, i64, Option<i64>)> {
    let mut column: Option<&Column> = None;
    let (mut first, mut last) = (1i64, None::<i64>);
    let mut bounds = Vec::new();
    for conjunct in datafusion::logical_expr::utils::split_conjunction(predicate) {
        match conjunct {
            Expr::Between(b) if !b.negated => {
                let (Expr::Column(c), Expr::Literal(low, _), Expr::Literal(high, _)) =
                    (strip(&b.expr)?, strip(&b.low)?, strip(&b.high)?)
                else {
                    return None;
                };
                bounds.push((c, BinaryOp::GtEq, low));
                bounds.push((c, BinaryOp::LtEq, high));
            }
            other => bounds.push(bound(other)?),
        }
    }
    for (c, op, value) in bounds {
        if column.is_some_and(|known| known != c) {
            return None;
        }
        column = Some(c);
        let ScalarValue::Int64(Some(n)) = value.cast_to(&DataType::Int64).ok()? else {
            return None;
        };
        let (low, high) = match op {
            BinaryOp::LtEq => (None, Some(n)),
            BinaryOp::Lt => (None, Some(n.saturating_sub(1))),
            BinaryOp::GtEq => (Some(n), None),
            BinaryOp::Gt => (Some(n.saturating_add(1)), None),
            BinaryOp::Eq => (Some(n), Some(n)),
            _ => return None,
        };
        first = first.max(low.unwrap_or(1));
        last = match (last, high) {
            (Some(l), Some(h)) => Some(l.min(h)),
            (l, h) => l.or(h),
        };
    }
    Some((column?, first, last))
}

/// Whether projection `p` right above rank filter `f` selects the row number.
pub(super) fn projection_uses_rank(p: &Projection, f: &Filter) -> bool {
    match rank_range(&f.predicate) {
        Some((column, _, _)) => p.expr.iter().any(|e| e.column_refs().contains(column)),
        None => true,
    }
}

/// Follows input column `index` of the filter down the chain to the window's schema.
fn trace(chain: &[&LogicalPlan], mut index: usize) -> Option<usize> {
    for plan in chain {
        match plan {
            LogicalPlan::Projection(p) => index = column_index(p.expr.get(index)?, p.input.schema())?,
            LogicalPlan::SubqueryAlias(_) => {}
            _ => return None,
        }
    }
    Some(index)
}

/// Calls `visit` with the table provider of every scan below `plan`, through views and window
/// table functions.
fn visit_tables(plan: &LogicalPlan, visit: &mut dyn FnMut(&dyn std::any::Any)) {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Ok(provider) = source_as_provider(&scan.source) {
                let any: &dyn std::any::Any = provider.as_ref();
                visit(any);
                if let Some(tvf) = any.downcast_ref::<WindowTvfTable>() {
                    visit_tables(&tvf.input, visit);
                } else if let Some(view) = provider.get_logical_plan() {
                    visit_tables(&view, visit);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

/// Whether a window table function below `plan` windows on a processing-time attribute (a
/// `PROCTIME()` column of a table below it).
fn windows_on_processing_time(plan: &LogicalPlan) -> bool {
    let mut times = Vec::new();
    visit_tables(plan, &mut |any| {
        if let Some(tvf) = any.downcast_ref::<WindowTvfTable>() {
            times.push(tvf.tvf.time_column.value.clone());
        }
    });
    let mut found = false;
    visit_tables(plan, &mut |any| {
        if let Some(table) = any.downcast_ref::<StreamTable>() {
            found |= crate::planner::proctime_column(&table.ddl).is_some_and(|c| times.contains(&c));
        }
    });
    found
}

impl Translator<'_> {
    pub(super) fn rank(&mut self, filter: &Filter, plan: &LogicalPlan) -> Result<Stream> {
        self.rank_selecting(filter, plan, true)
    }

    /// Translates rank filter `filter`; `number_selected` says whether the row number is part
    /// of the result (if not, rank shifts are not emitted).
    pub(super) fn rank_selecting(
        &mut self,
        filter: &Filter,
        plan: &LogicalPlan,
        number_selected: bool,
    ) -> Result<Stream> {
        let at = self.at(Construct::Over);
        let (chain, window) = window_below(filter)
            .ok_or_else(|| SqlError::at(at, "internal: a ROW_NUMBER() filter without its window"))?;
        let [window_expr] = window.window_expr.as_slice() else {
            return Err(unsupported(
                at,
                "several window functions next to ROW_NUMBER()",
                "compute ROW_NUMBER() alone in its subquery",
            ));
        };
        let inner = match window_expr {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::WindowFunction(function) = inner else {
            return Err(SqlError::at(
                at,
                format!("internal: unexpected window expression {window_expr}"),
            ));
        };
        if !function.fun.name().eq_ignore_ascii_case("row_number") {
            return Err(unsupported(
                at,
                &format!("filtering on {}() OVER (...)", function.fun.name().to_uppercase()),
                "use ROW_NUMBER() for deduplication and Top-N",
            ));
        }
        let input_columns = window.input.schema().fields().len();
        let predicate_error = || {
            unsupported(
                at,
                "a filter on ROW_NUMBER() other than an upper bound ('rn <= N', 'rn < N', 'rn = N', optionally \
                 with a lower bound: 'rn BETWEEN M AND N'), alone in its WHERE",
                PREDICATE_HINT,
            )
        };
        let (column, first, last) = rank_range(&filter.predicate).ok_or_else(predicate_error)?;
        let traced = filter
            .input
            .schema()
            .index_of_column(column)
            .ok()
            .and_then(|i| trace(&chain, i));
        if traced != Some(input_columns) {
            return Err(predicate_error());
        }
        let last = last.ok_or_else(predicate_error)?;
        if last < first {
            return Err(SqlError::at(at, "a filter on ROW_NUMBER() that keeps no row")
                .with_hint("ROW_NUMBER() starts at 1; keep ranks M to N with rn BETWEEN M AND N"));
        }
        let (first, limit) = (first as usize, last);
        let params = &function.params;
        let input = self.plan(&window.input)?;
        let input = self.window_bounds(input)?;
        // Without PARTITION BY, one partition: every row gets the same key (a trailing column
        // the operator does not output).
        let global = params.partition_by.is_empty();
        let input = if global { self.with_global_key(input)? } else { input };
        let physical = stream_schema(&input.schema, input.changelog);
        let mut keys = Vec::new();
        for e in &params.partition_by {
            let i = column_index(e, &input.schema).ok_or_else(|| {
                unsupported(
                    at,
                    &format!("PARTITION BY the expression {e}"),
                    "compute it as a column in a subquery and partition by that column",
                )
            })?;
            keys.push(i);
        }
        let mut order = Vec::new();
        for s in &params.order_by {
            let i = column_index(&s.expr, &input.schema).ok_or_else(|| {
                unsupported(
                    at,
                    &format!("ORDER BY the expression {} in ROW_NUMBER()", s.expr),
                    "compute it as a column in a subquery and order by that column",
                )
            })?;
            order.push((
                i,
                SortOptions {
                    descending: !s.asc,
                    nulls_first: s.nulls_first,
                },
            ));
        }
        let limit = limit as usize;

        // The mode.
        let name = |i: usize| physical.field(i).name().clone();
        let window_end = keys.iter().copied().find(|&i| name(i) == "window_end");
        let per_window = window_end.filter(|_| keys.iter().any(|&i| name(i) == "window_start"));
        if per_window.is_some() && !input.changelog && windows_on_processing_time(&window.input) {
            return Err(unsupported(
                at,
                "a window Top-N over processing-time windows",
                "window on an event-time attribute (WATERMARK FOR ...)",
            ));
        }
        // (whether by processing time, descending) of a deduplication on a time attribute.
        let time_order = match order.as_slice() {
            [(i, options)] if limit == 1 && Some(*i) == input.proctime => Some((true, options.descending)),
            [(i, options)] if limit == 1 && Some(*i) == input.rowtime => Some((false, options.descending)),
            _ => None,
        };
        let (emit, tie, kind) = match (per_window, time_order) {
            (Some(end), _) if !input.changelog => (
                RankEmit::PerWindow { window_end: end },
                TieBreak::EarlierFirst,
                "window Top-N",
            ),
            (_, Some((true, false))) if !input.changelog => {
                order.clear();
                (
                    RankEmit::AppendOnly,
                    TieBreak::EarlierFirst,
                    "deduplication keeping the first row",
                )
            }
            (_, Some((true, true))) => {
                order.clear();
                (
                    RankEmit::Updating,
                    TieBreak::LaterFirst,
                    "deduplication keeping the last row",
                )
            }
            (_, Some((false, true))) => (
                RankEmit::Updating,
                TieBreak::LaterFirst,
                "deduplication keeping the last row",
            ),
            (_, Some((false, false))) => (
                RankEmit::Updating,
                TieBreak::EarlierFirst,
                "deduplication keeping the first row",
            ),
            _ => (RankEmit::Updating, TieBreak::EarlierFirst, "Top-N"),
        };
        if input.changelog && emit != RankEmit::Updating {
            return Err(SqlError::at(at, "internal: an append-only rank over a changelog"));
        }

        // The operator.
        let updating = emit == RankEmit::Updating;
        let output_schema = stream_schema(&window.schema, updating);
        let key_columns: Vec<String> = if global {
            vec![GLOBAL_KEY.to_string()]
        } else {
            keys.iter().map(|&i| name(i)).collect()
        };
        let config = Arc::new(RankConfig {
            key_columns: key_columns.clone(),
            order,
            tie,
            first,
            limit,
            number_selected,
            emit,
            input_changelog: input.changelog,
            input_schema: physical,
            input_columns,
            output_schema: output_schema.clone(),
            ttl: self.settings.state_ttl.map(|d| TtlConfig::after_write(ms(d))),
        });
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(RankOperator::new(config.clone())))
        };
        let uid_basis = format!("{}", plan.display_indent());
        let uid = self.uids.allocate("rank", &uid_basis);
        let description = format!(
            "{kind} keyed by ({}) order by [{}] keep {}{}{}{}",
            key_columns.join(", "),
            params
                .order_by
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if first > 1 {
                format!("ranks {first} to {limit}")
            } else {
                format!("rank <= {limit}")
            },
            if number_selected { " with row number" } else { "" },
            if input.changelog {
                " over a changelog (keeps every row)"
            } else {
                ""
            },
            match self.settings.state_ttl {
                Some(ttl) if !matches!(emit, RankEmit::PerWindow { .. }) => format!(" state ttl {ttl:?}"),
                _ => String::new(),
            }
        );
        let ds = input
            .ds
            .key_by(key_columns)
            .transform(
                "Rank",
                output_schema,
                Vec::new(),
                Arc::new(factory),
                description.clone(),
            )
            .uid(&uid);
        self.env.describe(ds.node(), description);
        let appending = !updating;
        let mut stream = Stream {
            ds,
            schema: window.schema.clone(),
            rowtime: input.rowtime.filter(|_| appending),
            proctime: input.proctime.filter(|_| appending),
            window: None,
            changelog: updating,
        };

        // The projections between the window and the filter.
        for plan in chain.iter().rev() {
            match plan {
                LogicalPlan::Projection(p) => {
                    let basis = format!("{}", plan.display_indent());
                    stream = self.calc(&stream, None, &p.expr, p.schema.clone(), &basis)?;
                }
                LogicalPlan::SubqueryAlias(a) => stream.schema = a.schema.clone(),
                _ => {}
            }
        }
        Ok(stream)
    }

    /// The rows of a window table function with their window columns computed (they are
    /// placeholders holding the row's time until a window aggregation): only `TUMBLE` on event
    /// time, where each row has exactly one window.
    fn window_bounds(&mut self, input: Stream) -> Result<Stream> {
        let Some(w) = input.window.clone() else {
            return Ok(input);
        };
        let at = self.at(Construct::Over);
        let aggregate_first = "aggregate the window first (GROUP BY window_start, window_end, ...) and rank the \
                               result in an outer query with PARTITION BY window_start, window_end";
        let WindowKind::Tumble { size, offset } = w.tvf.window else {
            return Err(unsupported(
                at,
                "ROW_NUMBER() directly over a HOP, CUMULATE or SESSION window",
                aggregate_first,
            ));
        };
        if !w.event_time {
            return Err(unsupported(
                at,
                "ROW_NUMBER() directly over a processing-time window",
                "window on an event-time attribute (WATERMARK FOR ...)",
            ));
        }
        let int = |v: i64| Expr::Literal(ScalarValue::Int64(Some(v)), None);
        let millis = DataType::Timestamp(TimeUnit::Millisecond, None);
        let (size, offset) = (ms(size).max(1), ms(offset));
        let fields = input.schema.fields();
        let exprs: Vec<Expr> = (0..fields.len())
            .map(|i| {
                let column = Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i)));
                let shift = if Some(i) == w.start {
                    0
                } else if Some(i) == w.end {
                    size
                } else if Some(i) == w.time {
                    size - 1
                } else {
                    return column;
                };
                // The placeholder holds the row's time t: start = t - (t - offset) mod size.
                let t = cast_to(cast_to(column, &millis), &DataType::Int64);
                let rem = ((t.clone() - int(offset)) % int(size) + int(size)) % int(size);
                let bound = cast_to(t - rem + int(shift), &millis);
                cast_to(bound, fields[i].data_type()).alias(fields[i].name())
            })
            .collect();
        let schema = input.schema.clone();
        let mut out = self.calc(&input, None, &exprs, schema, &format!("window bounds {:?}", w.tvf))?;
        out.window = None;
        Ok(out)
    }

    /// `input` with a trailing constant key column, [`GLOBAL_KEY`].
    fn with_global_key(&mut self, input: Stream) -> Result<Stream> {
        let mut exprs: Vec<Expr> = (0..input.schema.fields().len())
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        exprs.push(Expr::Literal(ScalarValue::Int32(Some(0)), None).alias(GLOBAL_KEY));
        let mut fields: Vec<(Option<datafusion::common::TableReference>, Arc<Field>)> = input
            .schema
            .iter()
            .map(|(qualifier, field)| (qualifier.cloned(), field.clone()))
            .collect();
        fields.push((None, Arc::new(Field::new(GLOBAL_KEY, DataType::Int32, false))));
        let schema = Arc::new(DFSchema::new_with_metadata(fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        self.calc(&input, None, &exprs, schema, "global rank key")
    }
}

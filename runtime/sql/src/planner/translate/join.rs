//! Equi-joins, keyed by the equi-join keys (see [`crate::ops::join`]). Inner joins of
//! append-only inputs are window, interval or regular joins run by the append-only
//! [`JoinOperator`]; LEFT, RIGHT and FULL joins and joins of a changelog input are regular joins
//! emitting a changelog ([`updating`]); outer window and interval joins are planning errors.
//! A join reading a `FOR SYSTEM_TIME AS OF` table is a lookup join ([`lookup`]).
//!
//! - A **window join** has both inputs' `window_start` and `window_end` among its equalities,
//!   each coming from a window aggregation (traced through the plan, so aliases such as
//!   `window_start AS starttime` count) or straight from a `TUMBLE`, `HOP` or `CUMULATE` table
//!   function (whose rows get their windows here, a row once per window); its state is dropped
//!   when the window is complete, and its output keeps a window time as rowtime when an input
//!   has one. SESSION table functions must be aggregated before a join.
//! - An **interval join** bounds one input's rowtime by the other's on both sides
//!   (`b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND`); its state is dropped as the
//!   watermark passes the bounds. Its output keeps the rowtime of the side whose time is never
//!   behind the watermark at emission (`right` if `right.ts >= left.ts` always holds, `left` if
//!   `right.ts <= left.ts`), else it has none.
//! - Any other inner equi-join is a **regular join** keeping both inputs forever, or for the
//!   state TTL (`SET 'table.exec.state.ttl' = '...'`, processing time after a row arrived).
//!
//! Key expressions that are not plain columns (or whose types differ between the sides) are
//! computed by a pre-projection appending `__join_key_n` columns to the input.

mod lookup;
mod updating;
mod window_rollup;

use super::*;
use crate::ops::join::{JoinKind, JoinOperator, JoinSpec, WindowAssignOperator, WindowAssignSpec};
use datafusion::common::{JoinType, NullEquality};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Between, BinaryExpr, Join, Operator as BinaryOp};

/// A window column of a window aggregation's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowBound {
    Start,
    End,
}

/// One join input after its pre-projection.
struct JoinSide {
    stream: Stream,
    keys: Vec<String>,
    /// The columns of the input before the pre-projection (the join's output columns).
    width: usize,
}

impl Translator<'_> {
    pub(super) fn join(&mut self, join: &Join, plan: &LogicalPlan) -> Result<Stream> {
        let (left_outer, right_outer) = match join.join_type {
            JoinType::Inner => (false, false),
            JoinType::Left => (true, false),
            JoinType::Right => (false, true),
            JoinType::Full => (true, true),
            other => {
                return Err(unsupported(
                    self.at(Construct::Join),
                    &format!("a {} join", other.to_string().to_uppercase()),
                    "inner, LEFT, RIGHT and FULL OUTER equi-joins work; write IN / EXISTS subqueries as joins",
                ))
            }
        };
        if join.null_equality == NullEquality::NullEqualsNull || join.null_aware {
            return Err(unsupported(
                self.at(Construct::Join),
                "a join condition matching NULLs (IS NOT DISTINCT FROM)",
                "join on '=' of the key columns",
            ));
        }
        if join.on.is_empty() {
            return Err(unsupported(
                self.at(Construct::Join),
                "a join without an equality between the two inputs (a cross or theta join)",
                "join ON left.key = right.key (plus any other condition)",
            ));
        }
        if let Some(table) = lookup::find_lookup(&join.right) {
            if right_outer {
                return Err(unsupported(
                    self.at(Construct::Join),
                    &format!(
                        "a {} JOIN of a FOR SYSTEM_TIME AS OF table",
                        join.join_type.to_string().to_uppercase()
                    ),
                    "a lookup join is an inner or LEFT join with the looked-up table on the right",
                ));
            }
            return self.lookup_join(join, plan, table, left_outer);
        }
        if lookup::find_lookup(&join.left).is_some() {
            return Err(unsupported(
                self.at(Construct::Join),
                "a FOR SYSTEM_TIME AS OF table on the left of a join",
                "put the looked-up table on the right: FROM probe JOIN dim FOR SYSTEM_TIME AS OF probe.proc_time",
            ));
        }
        let left = self.plan(&join.left)?;
        let right = self.plan(&join.right)?;
        let (left_tvf, left) = self.assign_windows(left)?;
        let (right_tvf, right) = self.assign_windows(right)?;
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // Which equalities pair the inputs' window columns.
        let (mut same_start, mut same_end) = (None, None);
        for (l, r) in &join.on {
            let (Some(li), Some(ri)) = (column_index(l, &left.schema), column_index(r, &right.schema)) else {
                continue;
            };
            let bound = |tvf: &Option<WindowColumns>, plan: &LogicalPlan, i: usize| match tvf {
                Some(w) if w.start == Some(i) => Some(WindowBound::Start),
                Some(w) if w.end == Some(i) => Some(WindowBound::End),
                Some(_) => None,
                None => window_column(plan, i, false),
            };
            match (bound(&left_tvf, &join.left, li), bound(&right_tvf, &join.right, ri)) {
                (Some(WindowBound::Start), Some(WindowBound::Start)) => same_start = Some((li, ri)),
                (Some(WindowBound::End), Some(WindowBound::End)) => same_end = Some((li, ri)),
                _ => {}
            }
        }

        let (left_side, right_side) = self.join_keys(join, &left, &right, &uid_basis)?;
        let left_width = left_side.width;
        let (kind, rowtime) = match (same_start, same_end) {
            // Window times (the only rowtimes of window aggregation results) are never behind
            // the watermark while their window is joined.
            (Some(_), Some((left_end, right_end))) => (
                JoinKind::Window { left_end, right_end },
                left.rowtime.or(right.rowtime.map(|r| left_width + r)),
            ),
            _ => match self.interval_bounds(join, &left, &right) {
                Some((lower, upper, left_time, right_time)) => {
                    let rowtime = if lower >= 0 {
                        Some(left_width + right_time)
                    } else if upper <= 0 {
                        Some(left_time)
                    } else {
                        None
                    };
                    (
                        JoinKind::Interval {
                            left_time,
                            right_time,
                            lower,
                            upper,
                        },
                        rowtime,
                    )
                }
                None => (JoinKind::Regular, None),
            },
        };

        if left_outer || right_outer || left.changelog || right.changelog {
            if kind != JoinKind::Regular {
                return Err(unsupported(
                    self.at(Construct::Join),
                    &format!(
                        "a {} {} join",
                        join.join_type.to_string().to_uppercase(),
                        if matches!(kind, JoinKind::Window { .. }) { "window" } else { "interval" }
                    ),
                    "window and interval joins are inner joins; an outer join without time bounds is a regular join that keeps its state (bound it with 'table.exec.state.ttl')",
                ));
            }
            let sides = updating::JoinSides {
                left: left_side,
                right: right_side,
                left_changelog: left.changelog,
                right_changelog: right.changelog,
                left_outer,
                right_outer,
            };
            return self.updating_join(join, sides, &uid_basis);
        }
        let output_schema = physical_schema(&join.schema);
        let residual = join
            .filter
            .as_ref()
            .map(|f| self.physical(f, &join.schema))
            .transpose()?;
        let spec = JoinSpec {
            left_schema: left_side.stream.ds.schema().clone(),
            right_schema: right_side.stream.ds.schema().clone(),
            left_keys: left_side.keys.clone(),
            right_keys: right_side.keys.clone(),
            left_output: left_side.width,
            right_output: right_side.width,
            residual,
            output_schema: output_schema.clone(),
            kind,
            ttl: self
                .settings
                .state_ttl
                .map(|d| freshet_state::ttl::TtlConfig::after_write(ms(d))),
        };
        let description = format!(
            "{} join on ({}) = ({}){}{}",
            match kind {
                JoinKind::Regular => "regular".to_string(),
                JoinKind::Window { .. } => "window".to_string(),
                JoinKind::Interval { lower, upper, .. } => format!("interval [{lower} ms, {upper} ms]"),
            },
            left_side.keys.join(", "),
            right_side.keys.join(", "),
            join.filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default(),
            match (kind, spec.ttl) {
                (JoinKind::Regular, Some(ttl)) => format!(" state ttl {} ms", ttl.ttl_ms),
                _ => String::new(),
            }
        );
        let factory = {
            let spec = spec.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(JoinOperator::new(spec.clone())))
            }
        };
        let inputs = [
            (left_side.stream.ds.key_by(left_side.keys.clone()).stream().clone(), 0),
            (right_side.stream.ds.key_by(right_side.keys.clone()).stream().clone(), 1),
        ];
        let uid = self.uids.allocate("join", &uid_basis);
        let ds = self
            .env
            .add_multi_input("Join", &inputs, output_schema, Arc::new(factory), true, description)
            .uid(&uid);
        Ok(Stream {
            ds,
            schema: join.schema.clone(),
            rowtime,
            proctime: None,
            window: None,
            changelog: false,
        })
    }

    /// A window table function's input with its windows assigned (a row once per window), and
    /// the window columns; other inputs unchanged.
    fn assign_windows(&mut self, input: Stream) -> Result<(Option<WindowColumns>, Stream)> {
        let Some(window) = input.window.clone() else {
            return Ok((None, input));
        };
        // Until assigned, each window column holds the row's time.
        let time_source = window.start.or(window.end).or(window.time).or(input.rowtime);
        let assigner = match window.tvf.window {
            WindowKind::Tumble { size, offset } => {
                WindowAssigner::Tumbling(TumblingWindows::new(ms(size)).with_offset(ms(offset)))
            }
            WindowKind::Hop { slide, size, offset } => {
                WindowAssigner::Sliding(SlidingWindows::new(ms(size), ms(slide)).with_offset(ms(offset)))
            }
            WindowKind::Cumulate { step, size, offset } => {
                WindowAssigner::Cumulate(CumulateWindows::new(ms(step), ms(size)).with_offset(ms(offset)))
            }
            WindowKind::Session { .. } => {
                return Err(unsupported(
                    window.tvf.span.start,
                    "joining a SESSION window table function before its aggregation",
                    "aggregate the sessions with GROUP BY ..., window_start, window_end first",
                ))
            }
        };
        let (true, Some(time_column)) = (window.event_time, time_source) else {
            return Err(unsupported(
                window.tvf.span.start,
                "a window join on processing time",
                "window the inputs on an event-time attribute (a column with a WATERMARK)",
            ));
        };
        assigner
            .validate()
            .map_err(|e| SqlError::at(window.tvf.span.start, e.to_string()))?;
        let spec = WindowAssignSpec {
            assigner,
            time_column,
            start: window.start,
            end: window.end,
            time: window.time,
            output_schema: physical_schema(&input.schema),
        };
        let factory = {
            let spec = spec.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(WindowAssignOperator::new(spec.clone())))
            }
        };
        let uid = self
            .uids
            .allocate("window-assign", &format!("window columns {:?}", window.tvf));
        let ds = input
            .ds
            .transform("WindowAssign", spec.output_schema.clone(), Arc::new(factory))
            .uid(&uid);
        self.env
            .describe(ds.node(), format!("assign windows {:?}", window.tvf.window));
        // A row's window time is never behind the watermark while its window is joined.
        let stream = Stream {
            ds,
            rowtime: window.time,
            proctime: None,
            window: None,
            ..input
        };
        Ok((Some(window), stream))
    }

    /// Both inputs with their key columns (pre-projected where the keys are expressions or
    /// their types differ).
    fn join_keys(&mut self, join: &Join, left: &Stream, right: &Stream, basis: &str) -> Result<(JoinSide, JoinSide)> {
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        for (l, r) in &join.on {
            let lt = l.get_type(left.schema.as_ref()).map_err(|e| self.df_error(e))?;
            let rt = r.get_type(right.schema.as_ref()).map_err(|e| self.df_error(e))?;
            left_keys.push(l.clone());
            right_keys.push(if lt == rt { r.clone() } else { cast_to(r.clone(), &lt) });
        }
        let left_side = self.key_projection(left, &left_keys, &format!("{basis} left keys"))?;
        let right_side = self.key_projection(right, &right_keys, &format!("{basis} right keys"))?;
        Ok((left_side, right_side))
    }

    fn key_projection(&mut self, input: &Stream, keys: &[Expr], basis: &str) -> Result<JoinSide> {
        let n = input.schema.fields().len();
        let physical = physical_schema(&input.schema);
        let mut exprs: Vec<Expr> = (0..n)
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        let mut fields: Vec<(Option<datafusion::common::TableReference>, Arc<Field>)> = (0..n)
            .map(|i| {
                let (q, f) = input.schema.qualified_field(i);
                (q.cloned(), f.clone())
            })
            .collect();
        let mut names = Vec::new();
        for key in keys {
            if let Some(i) = column_index(key, &input.schema) {
                names.push(physical.field(i).name().clone());
                continue;
            }
            let name = format!("__join_key_{}", exprs.len() - n);
            let data_type = key.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?;
            exprs.push(key.clone().alias(&name));
            fields.push((None, Arc::new(Field::new(&name, data_type, true))));
            names.push(name);
        }
        let stream = if exprs.len() == n {
            input.clone()
        } else {
            let schema = Arc::new(DFSchema::new_with_metadata(fields, HashMap::new()).map_err(|e| self.df_error(e))?);
            self.calc(input, None, &exprs, schema, basis)?
        };
        Ok(JoinSide {
            stream,
            keys: names,
            width: n,
        })
    }

    /// `(lower, upper, left time column, right time column)` when the join's condition bounds
    /// `right.rowtime - left.rowtime` on both sides.
    fn interval_bounds(&self, join: &Join, left: &Stream, right: &Stream) -> Option<(i64, i64, usize, usize)> {
        let (left_time, right_time) = (left.rowtime?, right.rowtime?);
        let filter = join.filter.as_ref()?;
        let n = left.schema.fields().len();
        let times = TimeColumns {
            left: left_time,
            right: n + right_time,
            schema: &join.schema,
        };
        let (mut lower, mut upper) = (None::<i64>, None::<i64>);
        let mut bound = |op: BinaryOp, a: &Expr, b: &Expr| {
            if let Some((is_lower, value)) = times.bound(op, a, b) {
                if is_lower {
                    lower = Some(lower.map_or(value, |l| l.max(value)));
                } else {
                    upper = Some(upper.map_or(value, |u| u.min(value)));
                }
            }
        };
        for conjunct in split_conjunction(filter) {
            match conjunct {
                Expr::BinaryExpr(BinaryExpr { left: a, op, right: b }) => bound(*op, a, b),
                Expr::Between(Between {
                    expr,
                    negated: false,
                    low,
                    high,
                }) => {
                    bound(BinaryOp::GtEq, expr, low);
                    bound(BinaryOp::LtEq, expr, high);
                }
                _ => {}
            }
        }
        match (lower, upper) {
            (Some(l), Some(u)) if l <= u => Some((l, u, left_time, right_time)),
            _ => None,
        }
    }
}

/// The two rowtime columns of a join, by index in the join's schema.
struct TimeColumns<'a> {
    left: usize,
    right: usize,
    schema: &'a DFSchema,
}

impl TimeColumns<'_> {
    /// `expr` as `time column + constant`: `(true if right's, constant in ms)`.
    fn linear(&self, expr: &Expr) -> Option<(bool, i64)> {
        if let Some(i) = column_index(expr, self.schema) {
            return if i == self.left {
                Some((false, 0))
            } else if i == self.right {
                Some((true, 0))
            } else {
                None
            };
        }
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (side, base) = self.linear(left)?;
                let constant = interval_ms(right)?;
                match op {
                    BinaryOp::Plus => Some((side, base.checked_add(constant)?)),
                    BinaryOp::Minus => Some((side, base.checked_sub(constant)?)),
                    _ => None,
                }
            }
            Expr::Cast(c) => self.linear(&c.expr),
            _ => None,
        }
    }

    /// The bound `a op b` puts on `right.time - left.time`: `(true if lower, value)`.
    fn bound(&self, op: BinaryOp, a: &Expr, b: &Expr) -> Option<(bool, i64)> {
        let (a_right, a_c) = self.linear(a)?;
        let (b_right, b_c) = self.linear(b)?;
        if a_right == b_right {
            return None;
        }
        // right + x op left + y, i.e. right - left op y - x (flipped when a is the left side).
        let (op, value) = if a_right {
            (op, b_c.checked_sub(a_c)?)
        } else {
            let flipped = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                _ => return None,
            };
            (flipped, a_c.checked_sub(b_c)?)
        };
        match op {
            BinaryOp::GtEq => Some((true, value)),
            BinaryOp::Gt => Some((true, value.checked_add(1)?)),
            BinaryOp::LtEq => Some((false, value)),
            BinaryOp::Lt => Some((false, value.checked_sub(1)?)),
            _ => None,
        }
    }
}

/// A constant interval or duration in milliseconds.
fn interval_ms(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(value, _) => match value {
            ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => (v.days as i64)
                .checked_mul(86_400_000)?
                .checked_add(v.nanoseconds / 1_000_000),
            ScalarValue::IntervalDayTime(Some(v)) => (v.days as i64)
                .checked_mul(86_400_000)?
                .checked_add(v.milliseconds as i64),
            ScalarValue::DurationMillisecond(Some(v)) => Some(*v),
            ScalarValue::DurationSecond(Some(v)) => v.checked_mul(1_000),
            ScalarValue::DurationMicrosecond(Some(v)) => Some(v / 1_000),
            ScalarValue::DurationNanosecond(Some(v)) => Some(v / 1_000_000),
            _ => None,
        },
        Expr::Cast(c) => interval_ms(&c.expr),
        _ => None,
    }
}

/// Whether column `index` of `plan` is the `window_start` or `window_end` of a window
/// aggregation (`aggregated` once the trace has passed through one).
fn window_column(plan: &LogicalPlan, index: usize, aggregated: bool) -> Option<WindowBound> {
    match plan {
        LogicalPlan::Projection(p) => {
            let j = column_index(p.expr.get(index)?, p.input.schema())?;
            window_column(&p.input, j, aggregated)
        }
        LogicalPlan::Filter(f) => window_column(&f.input, index, aggregated),
        LogicalPlan::SubqueryAlias(a) => window_column(&a.input, index, aggregated),
        LogicalPlan::Aggregate(a) => {
            let j = column_index(a.group_expr.get(index)?, a.input.schema())?;
            window_column(&a.input, j, true)
        }
        LogicalPlan::TableScan(scan) => {
            let index = match &scan.projection {
                Some(p) => *p.get(index)?,
                None => index,
            };
            let provider = source_as_provider(&scan.source).ok()?;
            let any: &dyn std::any::Any = provider.as_ref();
            if let Some(tvf) = any.downcast_ref::<WindowTvfTable>() {
                let n = tvf.input.schema().fields().len();
                return match index.checked_sub(n) {
                    Some(0) if aggregated => Some(WindowBound::Start),
                    Some(1) if aggregated => Some(WindowBound::End),
                    Some(_) => None,
                    None => window_column(&tvf.input, index, aggregated),
                };
            }
            let view = provider.get_logical_plan()?.into_owned();
            window_column(&view, index, aggregated)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::IntervalMonthDayNano;
    use datafusion::prelude::{col, lit};

    fn seconds(n: i64) -> Expr {
        lit(ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
            0,
            0,
            n * 1_000_000_000,
        ))))
    }

    #[test]
    fn time_conditions_become_bounds_on_right_minus_left() {
        let ts = |q: &str| {
            DFSchema::try_from_qualified_schema(
                q,
                &Schema::new(vec![Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    false,
                )]),
            )
            .expect("schema")
        };
        let mut schema = ts("a");
        schema.merge(&ts("b"));
        let times = TimeColumns {
            left: 0,
            right: 1,
            schema: &schema,
        };
        let (a, b) = (col("a.ts"), col("b.ts"));
        assert_eq!(times.bound(BinaryOp::GtEq, &b, &a), Some((true, 0)));
        assert_eq!(
            times.bound(BinaryOp::LtEq, &b, &(a.clone() + seconds(10))),
            Some((false, 10_000))
        );
        // a < b - 2 s: b - a > 2 s.
        assert_eq!(
            times.bound(BinaryOp::Lt, &a, &(b.clone() - seconds(2))),
            Some((true, 2_001))
        );
        // a >= b: b - a <= 0.
        assert_eq!(times.bound(BinaryOp::GtEq, &a, &b), Some((false, 0)));
        // Not a bound between the two sides.
        assert_eq!(times.bound(BinaryOp::GtEq, &a, &(a.clone() - seconds(1))), None);
        assert_eq!(times.bound(BinaryOp::Eq, &a, &b), None);
        // Months have no fixed length.
        let month = lit(ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
            1, 0, 0,
        ))));
        assert_eq!(times.bound(BinaryOp::LtEq, &b, &(a + month)), None);
    }
}

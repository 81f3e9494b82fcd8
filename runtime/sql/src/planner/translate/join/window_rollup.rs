//! A window aggregation over a window aggregation's result: `GROUP BY starttime, endtime, ...`
//! where both columns are the `window_start` and `window_end` of an inner window aggregation
//! (Nexmark q5's `MaxBids`). Like Flink's window aggregate with attached windows, it groups by
//! the window columns and the keys and emits each group once its window is complete.
//!
//! Every row of window `[s, e)` has the time `e - 1`, so the window operator runs 1 ms tumbling
//! windows over that time, keyed by all group columns: the window `[e - 1, e)` fires when the
//! watermark reaches `e - 1`, after the inner aggregation emitted the whole window.

use super::super::*;
use super::{window_column, WindowBound};

const ROW_TIME: &str = "__window_row_time";

impl Translator<'_> {
    /// The aggregation `a` over `input` if its group columns include the `window_start` and
    /// `window_end` of a window aggregation below; `None` if they do not.
    pub(in crate::planner::translate) fn window_rollup(
        &mut self,
        a: &Aggregate,
        plan: &LogicalPlan,
        input: &Stream,
    ) -> Result<Option<Stream>> {
        if input.changelog || input.window.is_some() {
            return Ok(None);
        }
        let mut group_indices = Vec::new();
        for g in &a.group_expr {
            match column_index(g, &input.schema) {
                Some(i) => group_indices.push(i),
                None => return Ok(None),
            }
        }
        let bound = |b: WindowBound| {
            group_indices
                .iter()
                .copied()
                .find(|&i| window_column(&a.input, i, false) == Some(b))
        };
        let Some(end) = bound(WindowBound::End) else {
            return Ok(None);
        };
        if bound(WindowBound::Start).is_none() {
            return Ok(None);
        }
        let at = self.location;
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // 1. Pre-projection: the input, the aggregates' arguments and each row's time.
        let n = input.schema.fields().len();
        let mut pre_exprs: Vec<Expr> = (0..n)
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        let mut pre_fields: Vec<(Option<datafusion::common::TableReference>, Arc<Field>)> = (0..n)
            .map(|i| {
                let (q, f) = input.schema.qualified_field(i);
                (q.cloned(), f.clone())
            })
            .collect();
        let mut specs = Vec::new();
        for (i, expr) in a.aggr_expr.iter().enumerate() {
            let function = self.window_aggregate(expr, input, &mut pre_exprs, &mut pre_fields, at)?;
            specs.push(AggregateSpec::new(function, format!("__agg_{i}")));
        }
        let end_column = Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(end)));
        let time_type = DataType::Timestamp(TimeUnit::Millisecond, None);
        pre_exprs.push(
            cast_to(
                cast_to(end_column, &time_type) - Expr::Literal(ScalarValue::DurationMillisecond(Some(1)), None),
                &time_type,
            )
            .alias(ROW_TIME),
        );
        pre_fields.push((None, Arc::new(Field::new(ROW_TIME, time_type, true))));
        let pre_schema =
            Arc::new(DFSchema::new_with_metadata(pre_fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        let pre = self.calc(
            input,
            None,
            &pre_exprs,
            pre_schema,
            &format!("{uid_basis} rollup arguments"),
        )?;
        let pre_physical = physical_schema(&pre.schema);
        let key_columns: Vec<String> = group_indices
            .iter()
            .map(|&i| pre_physical.field(i).name().clone())
            .collect();

        // 2. The window operator: 1 ms windows at each row's window end.
        let config = WindowConfig {
            key_columns: key_columns.clone(),
            time: WindowTime::EventTime {
                timestamp_column: ROW_TIME.to_string(),
            },
            assigner: WindowAssigner::Tumbling(TumblingWindows::new(1)),
            aggregates: specs,
            allowed_lateness_ms: 0,
            late_output: None,
        };
        let uid = self.uids.allocate("window-agg", &uid_basis);
        let windowed = pre
            .ds
            .key_by(key_columns.clone())
            .window(config)
            .map_err(|e| SqlError::at(at, e.to_string()))?
            .uid(&uid);
        self.env.describe(
            windowed.node(),
            format!(
                "window rollup keyed by ({}) aggregates [{}]",
                key_columns.join(", "),
                a.aggr_expr.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
            ),
        );

        // 3. Back to the aggregate's schema: group columns (the keys, in order), then aggregates.
        let window_schema = windowed.schema().clone();
        let col = |name: &str| Expr::Column(datafusion::common::Column::from_name(name));
        let mut post = Vec::new();
        for (position, field) in a.schema.fields().iter().enumerate() {
            let source = if position < group_indices.len() {
                window_schema.field(position).name().clone()
            } else {
                format!("__agg_{}", position - group_indices.len())
            };
            post.push(cast_to(col(&source), field.data_type()).alias(field.name()));
        }
        let out = self.window_output(windowed, &post, a.schema.clone(), &uid_basis)?;
        Ok(Some(out))
    }
}

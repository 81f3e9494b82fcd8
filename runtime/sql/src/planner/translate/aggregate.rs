//! Window aggregations: `GROUP BY window_start, window_end, ...` over a window table function.

use super::accumulate;
use super::*;

impl Translator<'_> {
    pub(super) fn aggregate(&mut self, a: &Aggregate, plan: &LogicalPlan) -> Result<Stream> {
        let input = self.plan(&a.input)?;
        let Some(window) = input.window.clone() else {
            // A window aggregation over a window aggregation's result (see join/window_rollup.rs).
            if let Some(rollup) = self.window_rollup(a, plan, &input)? {
                return Ok(rollup);
            }
            return self.group_aggregate(a, plan, input);
        };
        if input.changelog {
            return Err(unsupported(
                window.tvf.span.start,
                "a window aggregation over an updating input (a changelog)",
                "apply the window to an append-only table, or aggregate without a window",
            ));
        }
        let at = window.tvf.span.start;
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // 1. Group keys: the window's columns, and the key columns.
        enum Group {
            Start,
            End,
            Time,
            Key(usize),
        }
        let mut groups = Vec::new();
        for g in &a.group_expr {
            let index = column_index(g, &input.schema).ok_or_else(|| {
                unsupported(
                    at,
                    &format!("grouping by the expression {g}"),
                    "group by columns; compute them in a subquery first",
                )
            })?;
            groups.push(if Some(index) == window.start {
                Group::Start
            } else if Some(index) == window.end {
                Group::End
            } else if Some(index) == window.time {
                Group::Time
            } else {
                Group::Key(index)
            });
        }
        if !groups.iter().any(|g| matches!(g, Group::Start)) || !groups.iter().any(|g| matches!(g, Group::End)) {
            return Err(
                SqlError::at(at, "a window aggregation must GROUP BY window_start and window_end")
                    .with_hint("add window_start, window_end to the GROUP BY clause"),
            );
        }
        let key_indices: Vec<usize> = groups
            .iter()
            .filter_map(|g| match g {
                Group::Key(i) => Some(*i),
                _ => None,
            })
            .collect();

        // 2. The aggregates, over columns of a pre-projection (the input's columns, the
        //    aggregates' argument expressions, and a constant key for a global window).
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
            let out_name = format!("__agg_{i}");
            let function = self.window_aggregate(expr, &input, &mut pre_exprs, &mut pre_fields, at)?;
            specs.push(AggregateSpec::new(function, out_name));
        }
        let global_key = key_indices.is_empty();
        if global_key {
            pre_exprs.push(Expr::Literal(ScalarValue::Int32(Some(0)), None).alias("__global_key"));
            pre_fields.push((None, Arc::new(Field::new("__global_key", DataType::Int32, false))));
        }
        let pre_schema =
            Arc::new(DFSchema::new_with_metadata(pre_fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        let pre = if pre_exprs.len() == n {
            input.clone()
        } else {
            self.calc(&input, None, &pre_exprs, pre_schema, &format!("{uid_basis} arguments"))?
        };
        let pre_physical = physical_schema(&pre.schema);
        let key_columns: Vec<String> = if global_key {
            vec!["__global_key".to_string()]
        } else {
            key_indices
                .iter()
                .map(|&i| pre_physical.field(i).name().clone())
                .collect()
        };

        // 3. The window operator, reading each row's time from its window_start placeholder.
        let time = match (window.event_time, window.start) {
            (true, Some(start)) => WindowTime::EventTime {
                timestamp_column: pre_physical.field(start).name().clone(),
            },
            (true, None) => return Err(SqlError::at(at, "internal: a window aggregation without window_start")),
            (false, _) => WindowTime::ProcessingTime,
        };
        let assigner = assigner_for(&window.tvf, &key_indices, &input.schema, at)?;
        let config = WindowConfig {
            key_columns: key_columns.clone(),
            time,
            assigner,
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
                "{} keyed by ({}) aggregates [{}]",
                describe_window(&window.tvf.window),
                key_columns.join(", "),
                a.aggr_expr.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
            ),
        );

        // 4. Back to the aggregate's schema: group columns in order, then aggregates.
        let window_schema = windowed.schema().clone();
        let col = |name: &str| Expr::Column(datafusion::common::Column::from_name(name));
        let key_out = |i: usize| -> String {
            let position = key_indices.iter().position(|&k| k == i).unwrap_or(0);
            window_schema.field(position).name().clone()
        };
        let mut post = Vec::new();
        for (g, field) in groups.iter().zip(a.schema.fields().iter()) {
            let expr = match g {
                Group::Start => col(freshet_dataflow::window::WINDOW_START),
                Group::End => col(freshet_dataflow::window::WINDOW_END),
                Group::Time => {
                    col(freshet_dataflow::window::WINDOW_END)
                        - Expr::Literal(ScalarValue::DurationMillisecond(Some(1)), None)
                }
                Group::Key(i) => col(&key_out(*i)),
            };
            post.push(cast_to(expr, field.data_type()).alias(field.name()));
        }
        for (i, field) in a.schema.fields().iter().skip(groups.len()).enumerate() {
            post.push(cast_to(col(&format!("__agg_{i}")), field.data_type()).alias(field.name()));
        }
        let mut out = self.window_output(windowed, &post, a.schema.clone(), &uid_basis)?;
        out.rowtime = groups.iter().position(|g| matches!(g, Group::Time));
        Ok(out)
    }

    /// The window operator's aggregate for one SQL aggregate; argument expressions that are
    /// not plain columns are added to the pre-projection.
    pub(super) fn window_aggregate(
        &self,
        expr: &Expr,
        input: &Stream,
        pre_exprs: &mut Vec<Expr>,
        pre_fields: &mut Vec<(Option<datafusion::common::TableReference>, Arc<Field>)>,
        at: Location,
    ) -> Result<WindowAggregate> {
        if !accumulate::native_window(expr, &input.schema) {
            return self.window_accumulate(expr, input, pre_exprs, pre_fields, at);
        }
        let inner = match expr {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
            return Err(unsupported(
                at,
                &format!("the aggregate expression {expr}"),
                "COUNT, SUM, MIN, MAX, AVG",
            ));
        };
        let name = func.name().to_ascii_lowercase();
        if params.filter.is_some() {
            return Err(unsupported(
                at,
                "FILTER (WHERE ...) in a window aggregation",
                "a CASE expression inside the aggregate",
            ));
        }
        if params.distinct && !matches!(name.as_str(), "min" | "max") {
            return Err(unsupported(
                at,
                &format!("{}(DISTINCT ...) in a window aggregation", name.to_uppercase()),
                "COUNT, SUM, MIN, MAX, AVG without DISTINCT",
            ));
        }
        // The pre-projection column holding the argument.
        let mut argument = |arg: &Expr| -> Result<String> {
            let physical = physical_schema(&input.schema);
            if let Some(i) = column_index(arg, &input.schema) {
                return Ok(physical.field(i).name().clone());
            }
            let name = format!("__arg_{}", pre_exprs.len());
            let data_type = arg.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?;
            pre_exprs.push(arg.clone().alias(&name));
            pre_fields.push((None, Arc::new(Field::new(&name, data_type, true))));
            Ok(name)
        };
        let args = &params.args;
        Ok(match (name.as_str(), args.as_slice()) {
            ("count", []) => WindowAggregate::Count,
            ("count", [Expr::Literal(v, _)]) if !v.is_null() => WindowAggregate::Count,
            ("count", [arg]) => WindowAggregate::CountNonNull(argument(arg)?),
            ("sum", [arg]) => WindowAggregate::Sum(argument(arg)?),
            ("min", [arg]) => WindowAggregate::Min(argument(arg)?),
            ("max", [arg]) => WindowAggregate::Max(argument(arg)?),
            ("avg", [arg]) => WindowAggregate::Avg(argument(arg)?),
            _ => {
                return Err(unsupported(
                    at,
                    &format!("the aggregate {} in a window aggregation", name.to_uppercase()),
                    "COUNT, SUM, MIN, MAX, AVG",
                ))
            }
        })
    }
}

fn assigner_for(tvf: &WindowTvf, keys: &[usize], schema: &DFSchema, at: Location) -> Result<WindowAssigner> {
    Ok(match tvf.window {
        WindowKind::Tumble { size, offset } => {
            WindowAssigner::Tumbling(TumblingWindows::new(ms(size)).with_offset(ms(offset)))
        }
        WindowKind::Hop { slide, size, offset } => {
            WindowAssigner::Sliding(SlidingWindows::new(ms(size), ms(slide)).with_offset(ms(offset)))
        }
        WindowKind::Cumulate { step, size, offset } => {
            WindowAssigner::Cumulate(CumulateWindows::new(ms(step), ms(size)).with_offset(ms(offset)))
        }
        WindowKind::Session { gap } => {
            // Sessions are tracked per group key, so the keys must be the session's partition.
            let partition: Vec<String> = tvf.partition_by.iter().map(|e| e.to_string()).collect();
            let mut grouped: Vec<String> = keys.iter().map(|&i| schema.field(i).name().clone()).collect();
            let mut expected = partition.clone();
            grouped.sort();
            expected.sort();
            if grouped != expected {
                return Err(SqlError::at(
                    at,
                    format!(
                        "a SESSION window partitioned by ({}) must be grouped by exactly those keys plus window_start, window_end; grouped by ({})",
                        partition.join(", "),
                        grouped.join(", ")
                    ),
                )
                .with_hint("SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), gap) ... GROUP BY k, window_start, window_end"));
            }
            WindowAssigner::Session(SessionWindows::new(ms(gap)))
        }
    })
}

fn describe_window(kind: &WindowKind) -> String {
    match kind {
        WindowKind::Tumble { size, .. } => format!("TUMBLE({size:?})"),
        WindowKind::Hop { slide, size, .. } => format!("HOP(slide {slide:?}, size {size:?})"),
        WindowKind::Cumulate { step, size, .. } => format!("CUMULATE(step {step:?}, size {size:?})"),
        WindowKind::Session { gap } => format!("SESSION(gap {gap:?})"),
    }
}

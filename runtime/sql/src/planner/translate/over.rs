//! `OVER` aggregations: `AGG(x) OVER (PARTITION BY ... ORDER BY ... ROWS|RANGE ... PRECEDING
//! AND CURRENT ROW)`.
//!
//! A pre-projection passes the input columns through and adds the partition keys, the ORDER
//! BY values, the order's time in milliseconds and the arguments in canonical types; the keyed
//! OVER operator (append-only on a time order, else updating, see [`crate::ops::over`]) adds
//! the aggregates; a projection casts them to the plan's types.

use super::*;
use crate::ops::over::{
    AppendOverOperator, Frame, OverAggKind, OverAggSpec, OverConfig, OverOrder, UpdatingOverOperator,
};
use crate::ops::ValueType;
use arrow::compute::SortOptions;
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{Window, WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition};
use freshet_state::ttl::TtlConfig;

/// The aggregates of an OVER node: function and argument.
type Functions<'w> = Vec<(OverAggKind, Option<&'w Expr>)>;

type QualifiedField = (Option<datafusion::common::TableReference>, Arc<Field>);

const SUPPORTED: &str = "OVER windows support COUNT, SUM, MIN, MAX and AVG over \
     ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW; ROW_NUMBER() works as a Top-N \
     (WHERE rownum <= N in an outer query)";

/// A frame's offset: unbounded, milliseconds of an interval, or a number (of rows, or of the
/// order's unit).
enum Offset {
    Unbounded,
    Millis(i64),
    Number(i64),
}

fn offset(value: &ScalarValue) -> Option<Offset> {
    use ScalarValue::*;
    if value.is_null() {
        return Some(Offset::Unbounded);
    }
    Some(match value {
        UInt8(Some(v)) => Offset::Number(i64::from(*v)),
        UInt16(Some(v)) => Offset::Number(i64::from(*v)),
        UInt32(Some(v)) => Offset::Number(i64::from(*v)),
        UInt64(Some(v)) => Offset::Number(i64::try_from(*v).ok()?),
        Int8(Some(v)) => Offset::Number(i64::from(*v)),
        Int16(Some(v)) => Offset::Number(i64::from(*v)),
        Int32(Some(v)) => Offset::Number(i64::from(*v)),
        Int64(Some(v)) => Offset::Number(*v),
        IntervalDayTime(Some(v)) => Offset::Millis(i64::from(v.days) * 86_400_000 + i64::from(v.milliseconds)),
        IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Offset::Millis(i64::from(v.days) * 86_400_000 + v.nanoseconds / 1_000_000)
        }
        DurationSecond(Some(v)) => Offset::Millis(v.checked_mul(1000)?),
        DurationMillisecond(Some(v)) => Offset::Millis(*v),
        DurationMicrosecond(Some(v)) => Offset::Millis(v / 1000),
        DurationNanosecond(Some(v)) => Offset::Millis(v / 1_000_000),
        _ => return None,
    })
}

impl Translator<'_> {
    pub(super) fn over(&mut self, w: &Window, plan: &LogicalPlan) -> Result<Stream> {
        let at = self.at(Construct::Over);
        // 1. The window functions: one window shared by every aggregate.
        let (functions, window) = self.over_functions(w)?;
        let input = self.plan(&w.input)?;
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // 2. The order: a time attribute of an append-only input, else updating.
        let time_order = match window.order_by.as_slice() {
            [sort] if sort.asc && !input.changelog => match column_index(&sort.expr, &input.schema) {
                Some(i) if input.rowtime == Some(i) => Some(true),
                Some(i) if input.proctime == Some(i) => Some(false),
                _ => None,
            },
            _ => None,
        };
        let frame = self.over_frame(&window.window_frame, time_order.is_some())?;
        // Whether RANGE offsets are milliseconds (of a time order), for the description.
        let mut range_in_ms = time_order.is_some();

        // 3. The pre-projection.
        let physical = physical_schema(&input.schema);
        let mut pre_exprs: Vec<Expr> = Vec::new();
        let mut pre_fields: Vec<QualifiedField> = Vec::new();
        let mut push = |expr: Expr, field: Field| -> usize {
            pre_exprs.push(expr.alias(field.name()));
            pre_fields.push((None, Arc::new(field)));
            pre_fields.len() - 1
        };
        for (i, field) in physical.fields().iter().enumerate() {
            let column = Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i)));
            push(column, field.as_ref().clone());
        }
        let data_type = |e: &Expr| {
            e.get_type(input.schema.as_ref())
                .map_err(|e| super::super::df_error(e, at))
        };
        let mut key_columns = Vec::new();
        for (i, key) in window.partition_by.iter().enumerate() {
            let name = format!("__over_key_{i}");
            push(key.clone(), Field::new(&name, data_type(key)?, true));
            key_columns.push(name);
        }
        if key_columns.is_empty() {
            push(
                Expr::Literal(ScalarValue::Int32(Some(0)), None),
                Field::new("__over_key_0", DataType::Int32, false),
            );
            key_columns.push("__over_key_0".into());
        }
        let millis = |e: &Expr| {
            cast_to(
                cast_to(e.clone(), &DataType::Timestamp(TimeUnit::Millisecond, None)),
                &DataType::Int64,
            )
        };
        let order = match time_order {
            Some(true) => OverOrder::EventTime(push(
                millis(&window.order_by[0].expr),
                Field::new("__over_time", DataType::Int64, true),
            )),
            Some(false) => OverOrder::ProcessingTime,
            None => {
                let mut columns = Vec::new();
                let mut options = Vec::new();
                for (i, sort) in window.order_by.iter().enumerate() {
                    columns.push(push(
                        sort.expr.clone(),
                        Field::new(format!("__over_order_{i}"), data_type(&sort.expr)?, true),
                    ));
                    options.push(SortOptions {
                        descending: !sort.asc,
                        nulls_first: sort.nulls_first,
                    });
                }
                let range_value = match frame {
                    Frame::Range(_) => {
                        let sort = &window.order_by[0];
                        let order_type = data_type(&sort.expr)?;
                        let value = match order_type {
                            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
                                range_in_ms = true;
                                millis(&sort.expr)
                            }
                            t if t.is_integer() => cast_to(sort.expr.clone(), &DataType::Int64),
                            other => {
                                return Err(unsupported(
                                    at,
                                    &format!("RANGE ... PRECEDING over an ORDER BY of type {other}"),
                                    "order by one timestamp or integer column, or use a ROWS frame",
                                ))
                            }
                        };
                        Some(push(value, Field::new("__over_range", DataType::Int64, true)))
                    }
                    _ => None,
                };
                if range_value.is_some() && (window.order_by.len() != 1 || !window.order_by[0].asc) {
                    return Err(unsupported(
                        at,
                        "RANGE ... PRECEDING with several or descending ORDER BY columns",
                        "order by one ascending column, or use a ROWS frame",
                    ));
                }
                OverOrder::Updating {
                    columns,
                    options,
                    range_value,
                }
            }
        };
        let mut specs = Vec::new();
        for (i, (kind, arg)) in functions.iter().enumerate() {
            let (arg, arg_type) = match arg {
                None => (None, ValueType::Int),
                Some(arg) => {
                    let arg_data_type = data_type(arg)?;
                    let value_type = canonical(&arg_data_type)
                        .filter(|t| !matches!(kind, OverAggKind::Sum | OverAggKind::Avg) || *t != ValueType::Str)
                        .ok_or_else(|| {
                            unsupported(
                                at,
                                &format!("an OVER aggregate over {arg_data_type}"),
                                "integers, floating-point numbers, strings and times; CAST a DECIMAL to DOUBLE",
                            )
                        })?;
                    let column = push(
                        cast_to((*arg).clone(), &value_type.data_type()),
                        Field::new(format!("__over_arg_{i}"), value_type.data_type(), true),
                    );
                    (Some(column), value_type)
                }
            };
            specs.push(OverAggSpec {
                kind: *kind,
                arg,
                arg_type,
            });
        }
        let pre_schema =
            Arc::new(DFSchema::new_with_metadata(pre_fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        let pre = self.calc(&input, None, &pre_exprs, pre_schema, &format!("{uid_basis} arguments"))?;

        // 4. The keyed operator.
        let pre_physical = stream_schema(&pre.schema, pre.changelog);
        let updating = matches!(order, OverOrder::Updating { .. });
        let mut out_fields: Vec<Field> = physical_schema(&pre.schema)
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (i, spec) in specs.iter().enumerate() {
            out_fields.push(Field::new(format!("__over_agg_{i}"), spec.output_type(), true));
        }
        let out_df = Arc::new(DFSchema::try_from(Schema::new(out_fields.clone())).map_err(|e| self.df_error(e))?);
        if updating {
            out_fields.push(Field::new(ROW_KIND_COLUMN, DataType::Int8, false));
        }
        let output_schema = Arc::new(Schema::new(out_fields));
        let description = describe_over(window, &functions, frame, range_in_ms, &order, self.settings.state_ttl);
        let config = Arc::new(OverConfig {
            key_columns: key_columns.clone(),
            aggregates: specs.clone(),
            frame,
            order,
            input_changelog: pre.changelog,
            input_schema: pre_physical,
            output_schema: output_schema.clone(),
            ttl: self.settings.state_ttl.map(|d| TtlConfig::after_write(ms(d))),
        });
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(if updating {
                Box::new(UpdatingOverOperator::new(config.clone()))
            } else {
                Box::new(AppendOverOperator::new(config.clone()))
            })
        };
        let uid = self.uids.allocate("over", &uid_basis);
        let ds = pre
            .ds
            .key_by(key_columns)
            .transform(
                "OverAggregate",
                output_schema,
                Vec::new(),
                Arc::new(factory),
                description.clone(),
            )
            .uid(&uid);
        self.env.describe(ds.node(), description);

        // 5. Back to the window's schema: the input columns, the aggregates in its types.
        let col = |name: &str| Expr::Column(datafusion::common::Column::from_name(name));
        let input_count = physical.fields().len();
        let mut post: Vec<Expr> = physical.fields().iter().map(|f| col(f.name())).collect();
        for (i, field) in w.schema.fields().iter().enumerate().skip(input_count) {
            let agg = format!("__over_agg_{}", i - input_count);
            post.push(cast_to(col(&agg), field.data_type()).alias(field.name()));
        }
        let aggregated = Stream {
            ds,
            schema: out_df,
            rowtime: pre.rowtime.filter(|_| !updating),
            proctime: pre.proctime.filter(|_| !updating),
            window: None,
            changelog: updating,
        };
        let mut out = self.calc(
            &aggregated,
            None,
            &post,
            w.schema.clone(),
            &format!("{uid_basis} output"),
        )?;
        out.window = None;
        Ok(out)
    }

    /// The aggregates of an OVER node and the one window they share (which has an ORDER BY).
    fn over_functions<'w>(&self, w: &'w Window) -> Result<(Functions<'w>, &'w WindowFunctionParams)> {
        let at = self.at(Construct::Over);
        let mut window: Option<&WindowFunctionParams> = None;
        let mut functions: Vec<(OverAggKind, Option<&Expr>)> = Vec::new();
        for expr in &w.window_expr {
            let inner = match expr {
                Expr::Alias(alias) => alias.expr.as_ref(),
                other => other,
            };
            let Expr::WindowFunction(function) = inner else {
                return Err(unsupported(at, &format!("the window expression {expr}"), SUPPORTED));
            };
            let WindowFunction { fun, params } = function.as_ref();
            let name = match fun {
                WindowFunctionDefinition::AggregateUDF(udf) => udf.name().to_ascii_lowercase(),
                WindowFunctionDefinition::WindowUDF(udf) => {
                    return Err(unsupported(
                        at,
                        &format!(
                            "the window function {}() without a Top-N filter",
                            udf.name().to_uppercase()
                        ),
                        SUPPORTED,
                    ))
                }
            };
            if params.distinct || params.filter.is_some() {
                return Err(unsupported(
                    at,
                    "DISTINCT or FILTER (WHERE ...) in an OVER aggregate",
                    SUPPORTED,
                ));
            }
            let function = match (name.as_str(), params.args.as_slice()) {
                ("count", []) => (OverAggKind::CountStar, None),
                ("count", [Expr::Literal(v, _)]) if !v.is_null() => (OverAggKind::CountStar, None),
                ("count", [arg]) => (OverAggKind::Count, Some(arg)),
                ("sum", [arg]) => (OverAggKind::Sum, Some(arg)),
                ("min", [arg]) => (OverAggKind::Min, Some(arg)),
                ("max", [arg]) => (OverAggKind::Max, Some(arg)),
                ("avg", [arg]) => (OverAggKind::Avg, Some(arg)),
                _ => {
                    return Err(unsupported(
                        at,
                        &format!("the aggregate {} in an OVER window", name.to_uppercase()),
                        SUPPORTED,
                    ))
                }
            };
            functions.push(function);
            match window {
                None => window = Some(params),
                Some(first)
                    if first.partition_by == params.partition_by
                        && first.order_by == params.order_by
                        && first.window_frame == params.window_frame => {}
                Some(_) => {
                    return Err(unsupported(
                        at,
                        "OVER windows with different frames in one SELECT",
                        "use one frame for every aggregate of a SELECT, and join or nest queries for others",
                    ))
                }
            }
        }
        let Some(window) = window else {
            return Err(unsupported(at, "an OVER window without functions", SUPPORTED));
        };
        if window.order_by.is_empty() {
            return Err(unsupported(
                at,
                "an OVER window without ORDER BY",
                "order the window by a time attribute: OVER (PARTITION BY ... ORDER BY rowtime ...)",
            ));
        }

        Ok((functions, window))
    }

    /// The frame of an OVER window; `time_order` tells whether RANGE offsets are intervals.
    fn over_frame(&self, frame: &WindowFrame, time_order: bool) -> Result<Frame> {
        let at = self.at(Construct::Over);
        if frame.end_bound != WindowFrameBound::CurrentRow {
            return Err(unsupported(
                at,
                &format!("the OVER frame '{frame}' (FOLLOWING rows)"),
                "frames end at the current row: ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW",
            ));
        }
        let start = match &frame.start_bound {
            WindowFrameBound::CurrentRow => Some(Offset::Number(0)),
            WindowFrameBound::Preceding(value) => offset(value),
            WindowFrameBound::Following(_) => None,
        };
        let bad = || {
            unsupported(
                at,
                &format!("the OVER frame '{frame}'"),
                "ROWS BETWEEN n|UNBOUNDED PRECEDING AND CURRENT ROW, or RANGE BETWEEN \
                 INTERVAL '..' unit|UNBOUNDED PRECEDING AND CURRENT ROW",
            )
        };
        Ok(match (frame.units, start) {
            (WindowFrameUnits::Rows, Some(Offset::Unbounded)) => Frame::RowsUnbounded,
            (WindowFrameUnits::Rows, Some(Offset::Number(n))) if n >= 0 => Frame::Rows(n.unsigned_abs()),
            (WindowFrameUnits::Range, Some(Offset::Unbounded)) => Frame::RangeUnbounded,
            (WindowFrameUnits::Range, Some(Offset::Millis(x))) if x >= 0 => Frame::Range(x),
            (WindowFrameUnits::Range, Some(Offset::Number(0))) => Frame::Range(0),
            (WindowFrameUnits::Range, Some(Offset::Number(x))) if x >= 0 && !time_order => Frame::Range(x),
            _ => return Err(bad()),
        })
    }
}

/// The operator's one-line description, for `explain`.
fn describe_over(
    window: &WindowFunctionParams,
    functions: &Functions<'_>,
    frame: Frame,
    range_in_ms: bool,
    order: &OverOrder,
    state_ttl: Option<std::time::Duration>,
) -> String {
    format!(
        "over aggregate partitioned by ({}) ordered by ({}) {} aggregates [{}] {}{}",
        window
            .partition_by
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        window
            .order_by
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        describe_frame(frame, range_in_ms),
        functions
            .iter()
            .map(|(kind, arg)| format!(
                "{}({})",
                function_name(*kind),
                arg.map(|a| a.to_string()).unwrap_or_else(|| "*".into())
            ))
            .collect::<Vec<_>>()
            .join(", "),
        match order {
            OverOrder::EventTime(_) => "event time, append-only",
            OverOrder::ProcessingTime => "processing time, append-only",
            OverOrder::Updating { .. } => "updating",
        },
        match state_ttl {
            Some(ttl) => format!(" state ttl {ttl:?}"),
            None => String::new(),
        }
    )
}

/// The SQL name of an aggregate.
fn function_name(kind: OverAggKind) -> &'static str {
    match kind {
        OverAggKind::CountStar | OverAggKind::Count => "COUNT",
        OverAggKind::Sum => "SUM",
        OverAggKind::Min => "MIN",
        OverAggKind::Max => "MAX",
        OverAggKind::Avg => "AVG",
    }
}

/// The frame as SQL, for `explain`.
fn describe_frame(frame: Frame, range_in_ms: bool) -> String {
    let start = match frame {
        Frame::Rows(n) => format!("ROWS BETWEEN {n}"),
        Frame::RowsUnbounded => "ROWS BETWEEN UNBOUNDED".into(),
        Frame::Range(x) if range_in_ms => format!("RANGE BETWEEN INTERVAL '{x}' MILLISECOND"),
        Frame::Range(x) => format!("RANGE BETWEEN {x}"),
        Frame::RangeUnbounded => "RANGE BETWEEN UNBOUNDED".into(),
    };
    format!("{start} PRECEDING AND CURRENT ROW")
}

/// The canonical type of an argument of `data_type`, if the operator supports it.
fn canonical(data_type: &DataType) -> Option<ValueType> {
    use DataType::*;
    Some(match data_type {
        Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Timestamp(..) | Date32 | Date64
        | Time32(_) | Time64(_) | Duration(_) => ValueType::Int,
        Float16 | Float32 | Float64 => ValueType::Float,
        Utf8 | LargeUtf8 | Utf8View => ValueType::Str,
        Null => ValueType::Int,
        _ => return None,
    })
}

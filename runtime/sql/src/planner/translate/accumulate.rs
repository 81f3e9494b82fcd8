//! Non-windowed aggregations over any DataFusion aggregate function (built-in or a Rust
//! `AggregateUDF` registered on the planner's session): a pre-projection computing the group
//! keys ahead of the input's columns; the keyed [`AccumulateOperator`] running DataFusion's own
//! accumulators; a projection back to the aggregate's schema. The result is a changelog.
//!
//! [`Translator::group_aggregate`] routes here the `GROUP BY`s that the native operator does not
//! support.

use super::*;
use crate::ops::accumulate::extreme::Extreme;
use crate::ops::{window_output_supported, AccumulateConfig, AccumulateOperator, AccumulateSpec, WindowAccumulate};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::physical_expr::aggregate::LoweredAggregateBuilder;
use freshet_state::ttl::TtlConfig;

/// Aggregates whose retraction depends on the order rows arrived in (their sliding accumulators
/// retract the oldest rows, as a window frame does): they cannot consume a changelog.
/// (`MIN` and `MAX` are among them, but run on [`Extreme`] accumulators over a changelog.)
const ORDER_DEPENDENT: [&str; 4] = ["first_value", "last_value", "nth_value", "array_agg"];

const RETRACT_HINT: &str =
    "over a changelog input (an updating query), use aggregates that retract by value: COUNT, SUM, \
     AVG, MIN, MAX, STDDEV, VAR_SAMP/VAR_POP, COVAR, CORR, REGR_*, BIT_XOR, MEDIAN, or a Rust UDAF implementing \
     retract_batch; COUNT(DISTINCT x) retracts only in a GROUP BY whose aggregates are all COUNT, SUM, MIN, MAX \
     or AVG (compute the others in a separate query); or aggregate an append-only input";

impl Translator<'_> {
    /// A non-windowed `GROUP BY` run by [`AccumulateOperator`].
    pub(super) fn accumulate_aggregate(&mut self, a: &Aggregate, plan: &LogicalPlan, input: Stream) -> Result<Stream> {
        let at = self.at(Construct::GroupBy);
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // 1. The pre-projection: the keys, then the input's columns unchanged.
        let mut pre_exprs: Vec<Expr> = Vec::new();
        let mut pre_fields: Vec<(Option<datafusion::common::TableReference>, Arc<Field>)> = Vec::new();
        let mut key_columns = Vec::new();
        let keys: Vec<(Expr, DataType)> = if a.group_expr.is_empty() {
            vec![(Expr::Literal(ScalarValue::Int32(Some(0)), None), DataType::Int32)]
        } else {
            a.group_expr
                .iter()
                .map(|g| {
                    Ok((
                        g.clone(),
                        g.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?,
                    ))
                })
                .collect::<Result<_>>()?
        };
        for (i, (expr, data_type)) in keys.into_iter().enumerate() {
            let name = format!("__key_{i}");
            pre_exprs.push(expr.alias(&name));
            pre_fields.push((None, Arc::new(Field::new(&name, data_type, true))));
            key_columns.push(name);
        }
        for (qualifier, field) in input.schema.iter() {
            pre_exprs.push(Expr::Column(datafusion::common::Column::from((qualifier, field))));
            pre_fields.push((qualifier.cloned(), field.clone()));
        }
        let pre_schema =
            Arc::new(DFSchema::new_with_metadata(pre_fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        let pre_arrow = physical_schema(&pre_schema);

        // 2. The aggregates, lowered as DataFusion lowers them.
        let planning = PhysicalPlanningContext::default();
        let mut specs = Vec::new();
        for expr in &a.aggr_expr {
            let lowered =
                LoweredAggregateBuilder::new(expr, &pre_schema, &pre_arrow, self.state.execution_props(), &planning)
                    .build()
                    .map_err(|e| self.df_error(e))?;
            let function = lowered.aggregate;
            let name = function.fun().name().to_ascii_lowercase();
            let extreme = match name.as_str() {
                "min" if input.changelog => Some(Extreme::Min),
                "max" if input.changelog => Some(Extreme::Max),
                _ => None,
            };
            if input.changelog && extreme.is_none() {
                let why = if function.is_distinct() {
                    Some("DISTINCT".to_string())
                } else if ORDER_DEPENDENT.contains(&name.as_str()) {
                    Some(format!("{}() retracts in arrival order only", name.to_uppercase()))
                } else {
                    match function.create_sliding_accumulator() {
                        Ok(acc) if acc.supports_retract_batch() => None,
                        _ => Some(format!("{}() cannot retract", name.to_uppercase())),
                    }
                };
                if let Some(why) = why {
                    return Err(SqlError::at(
                        at,
                        format!("the aggregate {expr} cannot consume the retractions of a changelog input: {why}"),
                    )
                    .with_hint(RETRACT_HINT.to_string()));
                }
            }
            specs.push(AccumulateSpec {
                function,
                filter: lowered.filter,
                retracting: input.changelog,
                extreme,
            });
        }
        let pre = self.calc(&input, None, &pre_exprs, pre_schema, &format!("{uid_basis} keys"))?;

        // 3. The keyed operator.
        let pre_physical = stream_schema(&pre.schema, pre.changelog);
        let mut out_fields: Vec<Field> = key_columns
            .iter()
            .filter_map(|k| pre_physical.field_with_name(k).ok())
            .map(|f| f.clone().with_nullable(true))
            .collect();
        for (i, spec) in specs.iter().enumerate() {
            let field = spec.function.field();
            out_fields.push(Field::new(format!("__agg_{i}"), field.data_type().clone(), true));
        }
        let out_df = Arc::new(DFSchema::try_from(Schema::new(out_fields.clone())).map_err(|e| self.df_error(e))?);
        out_fields.push(Field::new(ROW_KIND_COLUMN, DataType::Int8, false));
        let output_schema = Arc::new(Schema::new(out_fields));
        let config = Arc::new(AccumulateConfig {
            key_columns: key_columns.clone(),
            aggregates: specs,
            input_changelog: pre.changelog,
            input_schema: pre_physical,
            output_schema: output_schema.clone(),
            ttl: self.settings.state_ttl.map(|d| TtlConfig::after_write(ms(d))),
        });
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(AccumulateOperator::new(config.clone())))
        };
        let uid = self.uids.allocate("accumulate-agg", &uid_basis);
        let description = format!(
            "accumulator aggregate keyed by ({}) aggregates [{}]{}{}",
            a.group_expr
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            a.aggr_expr.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "),
            if pre.changelog { " retracting" } else { "" },
            match self.settings.state_ttl {
                Some(ttl) => format!(" state ttl {ttl:?}"),
                None => String::new(),
            }
        );
        let ds = pre
            .ds
            .key_by(key_columns.clone())
            .transform(
                "AccumulateAggregate",
                output_schema,
                Vec::new(),
                Arc::new(factory),
                description.clone(),
            )
            .uid(&uid);
        self.env.describe(ds.node(), description);

        // 4. Back to the aggregate's schema.
        let col = |name: &str| Expr::Column(datafusion::common::Column::from_name(name));
        let group_count = a.group_expr.len();
        let post: Vec<Expr> = a
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let source = if i < group_count {
                    format!("__key_{i}")
                } else {
                    format!("__agg_{}", i - group_count)
                };
                cast_to(col(&source), field.data_type()).alias(field.name())
            })
            .collect();
        let aggregated = Stream {
            ds,
            schema: out_df,
            rowtime: None,
            proctime: None,
            window: None,
            changelog: true,
        };
        let mut out = self.calc(
            &aggregated,
            None,
            &post,
            a.schema.clone(),
            &format!("{uid_basis} output"),
        )?;
        out.rowtime = None;
        out.proctime = None;
        out.window = None;
        Ok(out)
    }
}

/// Whether the window operator's own aggregates support the aggregate `expr` over `input`.
pub(super) fn native_window(expr: &Expr, input: &DFSchema) -> bool {
    let inner = match expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
        return false;
    };
    if params.filter.is_some() || !params.order_by.is_empty() {
        return false;
    }
    let numeric = |arg: &Expr| {
        matches!(
            arg.get_type(input),
            Ok(DataType::Int64 | DataType::Float64 | DataType::Timestamp(..))
        )
    };
    match (
        func.name().to_ascii_lowercase().as_str(),
        params.args.as_slice(),
        params.distinct,
    ) {
        ("count", [], false) | ("count", [Expr::Literal(..)], false) | ("count", [_], false) => true,
        ("sum", [arg], false) | ("avg", [arg], false) | ("min", [arg], _) | ("max", [arg], _) => numeric(arg),
        _ => false,
    }
}

impl Translator<'_> {
    /// A window aggregation's aggregate run on DataFusion's accumulator ([`WindowAccumulate`]):
    /// its inputs (arguments, then `ORDER BY` expressions) packed into one struct column of the
    /// pre-projection, NULL where its `FILTER` is not true.
    pub(super) fn window_accumulate(
        &self,
        expr: &Expr,
        input: &Stream,
        pre_exprs: &mut Vec<Expr>,
        pre_fields: &mut Vec<(Option<datafusion::common::TableReference>, Arc<Field>)>,
        at: Location,
    ) -> Result<WindowAggregate> {
        let inner = match expr {
            Expr::Alias(alias) => alias.expr.as_ref(),
            other => other,
        };
        let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
            return Err(unsupported(
                at,
                &format!("the aggregate expression {expr}"),
                "aggregate functions",
            ));
        };
        let inputs: Vec<&Expr> = params
            .args
            .iter()
            .chain(params.order_by.iter().map(|s| &s.expr))
            .collect();
        if inputs.is_empty() {
            return Err(unsupported(
                at,
                &format!(
                    "the aggregate {} without arguments in a window aggregation",
                    func.name()
                ),
                "COUNT(*), or aggregate without a window",
            ));
        }
        let planning = PhysicalPlanningContext::default();
        let function = LoweredAggregateBuilder::new(
            expr,
            &input.schema,
            &physical_schema(&input.schema),
            self.state.execution_props(),
            &planning,
        )
        .build()
        .map_err(|e| self.df_error(e))?
        .aggregate;
        function.create_accumulator().map_err(|e| self.df_error(e))?;
        let output = function.field().data_type().clone();
        if !window_output_supported(&output) {
            return Err(unsupported(
                at,
                &format!("the aggregate {expr} (of type {output}) in a window aggregation"),
                "aggregates with a scalar result; or aggregate without a window",
            ));
        }
        let mut struct_args = Vec::new();
        for (i, e) in inputs.into_iter().enumerate() {
            struct_args.push(Expr::Literal(ScalarValue::Utf8(Some(format!("a{i}"))), None));
            struct_args.push(e.clone());
        }
        let mut packed = datafusion::functions::core::expr_fn::named_struct(struct_args);
        if let Some(filter) = &params.filter {
            packed = Expr::Case(datafusion::logical_expr::Case::new(
                None,
                vec![(filter.clone(), Box::new(packed))],
                None,
            ));
        }
        let input_type = packed.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?;
        let name = format!("__arg_{}", pre_exprs.len());
        pre_exprs.push(packed.alias(&name));
        pre_fields.push((None, Arc::new(Field::new(&name, input_type.clone(), true))));
        Ok(WindowAggregate::Udaf(freshet_dataflow::window::UdafCall {
            column: name,
            function: Arc::new(WindowAccumulate { function, input_type }),
        }))
    }
}

//! Non-windowed aggregations (`GROUP BY k` without a window, `SELECT DISTINCT`): a
//! pre-projection computing the group keys, the arguments in canonical types and the `FILTER`
//! conditions; the keyed [`GroupAggregateOperator`]; a projection back to the aggregate's
//! schema. The result is a changelog.
//!
//! A `GROUP BY` with an aggregate the native operator does not support (any other built-in or
//! a Rust UDAF, `DISTINCT` other than `COUNT(DISTINCT x)`, arguments of other types) runs on
//! DataFusion's accumulators instead (see [`super::accumulate`]).

use super::*;
use crate::ops::{GroupAggKind, GroupAggSpec, GroupAggregateConfig, GroupAggregateOperator, ValueType};
use freshet_state::ttl::TtlConfig;

type QualifiedField = (Option<datafusion::common::TableReference>, Arc<Field>);

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

/// Whether the native operator supports the aggregate `expr` over `input`.
fn native(expr: &Expr, input: &DFSchema) -> bool {
    let inner = match expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
        return false;
    };
    if !params.order_by.is_empty() {
        return false;
    }
    let name = func.name().to_ascii_lowercase();
    let (numeric, arg) = match (name.as_str(), params.args.as_slice(), params.distinct) {
        ("count", [], false) => return true,
        ("count", [Expr::Literal(v, _)], false) if !v.is_null() => return true,
        ("count", [arg], _) | ("min", [arg], _) | ("max", [arg], _) => (false, arg),
        ("sum", [arg], false) | ("avg", [arg], false) => (true, arg),
        _ => return false,
    };
    match arg.get_type(input).ok().as_ref().and_then(canonical) {
        Some(ValueType::Str) => !numeric,
        Some(_) => true,
        None => false,
    }
}

impl Translator<'_> {
    pub(super) fn group_aggregate(&mut self, a: &Aggregate, plan: &LogicalPlan, input: Stream) -> Result<Stream> {
        let at = self.at(Construct::GroupBy);
        if a.group_expr.iter().any(|g| matches!(g, Expr::GroupingSet(_))) {
            return Err(unsupported(
                at,
                "GROUPING SETS, CUBE and ROLLUP",
                "one GROUP BY per query; UNION ALL several queries",
            ));
        }
        if !a.aggr_expr.iter().all(|e| native(e, input.schema.as_ref())) {
            return self.accumulate_aggregate(a, plan, input);
        }
        let uid_basis = self.uids.stable_text(&format!("{}", plan.display_indent()));

        // 1. The pre-projection: keys, then per aggregate its argument and filter.
        let mut pre_exprs: Vec<Expr> = Vec::new();
        let mut pre_fields: Vec<QualifiedField> = Vec::new();
        let mut push = |expr: Expr, name: String, data_type: DataType| -> usize {
            pre_exprs.push(expr.alias(&name));
            pre_fields.push((None, Arc::new(Field::new(name, data_type, true))));
            pre_fields.len() - 1
        };
        let mut key_columns = Vec::new();
        for (i, g) in a.group_expr.iter().enumerate() {
            let name = format!("__key_{i}");
            let data_type = g.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?;
            push(g.clone(), name.clone(), data_type);
            key_columns.push(name);
        }
        let global = a.group_expr.is_empty();
        if global {
            push(
                Expr::Literal(ScalarValue::Int32(Some(0)), None),
                "__key_0".into(),
                DataType::Int32,
            );
            key_columns.push("__key_0".into());
        }
        let mut specs = Vec::new();
        for (i, expr) in a.aggr_expr.iter().enumerate() {
            let inner = match expr {
                Expr::Alias(alias) => alias.expr.as_ref(),
                other => other,
            };
            let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
                return Err(unsupported(
                    at,
                    &format!("the aggregate expression {expr}"),
                    "COUNT, COUNT(DISTINCT), SUM, MIN, MAX, AVG",
                ));
            };
            let name = func.name().to_ascii_lowercase();
            let supported = "COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM, MIN, MAX, AVG (with FILTER (WHERE ...))";
            let (kind, arg) = match (name.as_str(), params.args.as_slice(), params.distinct) {
                ("count", [], false) => (GroupAggKind::CountStar, None),
                ("count", [Expr::Literal(v, _)], false) if !v.is_null() => (GroupAggKind::CountStar, None),
                ("count", [arg], true) => (GroupAggKind::CountDistinct, Some(arg)),
                ("count", [arg], false) => (GroupAggKind::Count, Some(arg)),
                ("sum", [arg], false) => (GroupAggKind::Sum, Some(arg)),
                ("avg", [arg], false) => (GroupAggKind::Avg, Some(arg)),
                ("min", [arg], _) => (GroupAggKind::Min, Some(arg)),
                ("max", [arg], _) => (GroupAggKind::Max, Some(arg)),
                _ => {
                    let distinct = if params.distinct { "(DISTINCT ...)" } else { "" };
                    return Err(unsupported(
                        at,
                        &format!(
                            "the aggregate {}{distinct} in a GROUP BY without a window",
                            name.to_uppercase()
                        ),
                        supported,
                    ));
                }
            };
            let (arg, arg_type) = match arg {
                None => (None, ValueType::Int),
                Some(arg) => {
                    let data_type = arg.get_type(input.schema.as_ref()).map_err(|e| self.df_error(e))?;
                    let value_type = canonical(&data_type)
                        .filter(|t| !matches!(kind, GroupAggKind::Sum | GroupAggKind::Avg) || *t != ValueType::Str)
                        .ok_or_else(|| {
                            unsupported(
                                at,
                                &format!(
                                    "{}() over {data_type} in a GROUP BY without a window",
                                    name.to_uppercase()
                                ),
                                "integers, floating-point numbers, strings and times; CAST a DECIMAL to DOUBLE",
                            )
                        })?;
                    let expr = cast_to(arg.clone(), &value_type.data_type());
                    (
                        Some(push(expr, format!("__arg_{i}"), value_type.data_type())),
                        value_type,
                    )
                }
            };
            let filter = params
                .filter
                .as_ref()
                .map(|f| push(f.as_ref().clone(), format!("__filter_{i}"), DataType::Boolean));
            specs.push(GroupAggSpec {
                kind,
                arg,
                arg_type,
                filter,
            });
        }
        let pre_schema =
            Arc::new(DFSchema::new_with_metadata(pre_fields, HashMap::new()).map_err(|e| self.df_error(e))?);
        let pre = self.calc(&input, None, &pre_exprs, pre_schema, &format!("{uid_basis} arguments"))?;

        // 2. The keyed operator.
        let pre_physical = stream_schema(&pre.schema, pre.changelog);
        let mut out_fields: Vec<Field> = key_columns
            .iter()
            .filter_map(|k| pre_physical.field_with_name(k).ok())
            .map(|f| f.clone().with_nullable(true))
            .collect();
        for (i, spec) in specs.iter().enumerate() {
            out_fields.push(Field::new(format!("__agg_{i}"), spec.output_type(), true));
        }
        let out_df = Arc::new(DFSchema::try_from(Schema::new(out_fields.clone())).map_err(|e| self.df_error(e))?);
        out_fields.push(Field::new(ROW_KIND_COLUMN, DataType::Int8, false));
        let output_schema = Arc::new(Schema::new(out_fields));
        let config = Arc::new(GroupAggregateConfig {
            key_columns: key_columns.clone(),
            aggregates: specs,
            input_changelog: pre.changelog,
            input_schema: pre_physical,
            output_schema: output_schema.clone(),
            ttl: self.settings.state_ttl.map(|d| TtlConfig::after_write(ms(d))),
        });
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(GroupAggregateOperator::new(config.clone())))
        };
        let uid = self.uids.allocate("group-agg", &uid_basis);
        let description = format!(
            "group aggregate keyed by ({}) aggregates [{}]{}",
            a.group_expr
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            a.aggr_expr.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "),
            match self.settings.state_ttl {
                Some(ttl) => format!(" state ttl {ttl:?}"),
                None => String::new(),
            }
        );
        let ds = pre
            .ds
            .key_by(key_columns.clone())
            .transform(
                "GroupAggregate",
                output_schema,
                Vec::new(),
                Arc::new(factory),
                description.clone(),
            )
            .uid(&uid);
        self.env.describe(ds.node(), description);

        // 3. Back to the aggregate's schema.
        let col = |name: &str| Expr::Column(datafusion::common::Column::from_name(name));
        let mut post = Vec::new();
        let group_count = a.group_expr.len();
        for (i, field) in a.schema.fields().iter().enumerate() {
            let source = if i < group_count {
                format!("__key_{i}")
            } else {
                format!("__agg_{}", i - group_count)
            };
            post.push(cast_to(col(&source), field.data_type()).alias(field.name()));
        }
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

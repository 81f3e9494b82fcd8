//! From an optimized DataFusion `LogicalPlan` to dataflow nodes.
//!
//! Every plan node becomes a [`Stream`]: a [`DataStream`] whose batches have the node's columns
//! in order, plus what the planner knows about them: which column is the event-time attribute
//! (`rowtime`, carried by watermarks), which is a processing-time attribute, and, between a
//! window table function and its aggregation, which columns are the window's.
//!
//! Physical column names are the plan's unqualified names, made unique with a `#n` suffix
//! (`auction`, `auction#2` after a self-join): partitioning and window operators address
//! columns by name, expressions by position.

use super::catalog::{StreamTable, WindowTvfTable};
use super::connectors;
use super::settings::JobSettings;
use super::uid::UidAllocator;
use crate::error::{Result, SqlError};
use crate::ops::{CalcOperator, CalcProgram, ComputedSource, UnionOperator};
use crate::window_tvf::{WindowKind, WindowTvf};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DFSchema, DFSchemaRef, ScalarValue};
use datafusion::datasource::source_as_provider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Cast, Expr, ExprSchemable, Filter, LogicalPlan, Projection, TableScan, Union,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::sqlparser::tokenizer::Location;
use freshet_core::watermark::WatermarkStrategy;
use freshet_dataflow::api::{DataStream, StreamEnv};
use freshet_dataflow::graph::EventTimeSpec;
use freshet_dataflow::window::{
    Aggregate as WindowAggregate, AggregateSpec, CumulateWindows, SessionWindows, SlidingWindows, TumblingWindows,
    WindowAssigner, WindowConfig, WindowTime,
};
use freshet_dataflow::{Operator, Source, TaskInfo};
use std::collections::HashMap;
use std::sync::Arc;

/// The columns a window table function added, by index in the current stream.
#[derive(Clone, Debug)]
pub(crate) struct WindowColumns {
    pub tvf: WindowTvf,
    pub start: Option<usize>,
    pub end: Option<usize>,
    pub time: Option<usize>,
    /// Whether the `DESCRIPTOR` column is an event-time attribute (else processing time).
    pub event_time: bool,
}

/// A translated plan node.
#[derive(Clone)]
pub(crate) struct Stream {
    pub ds: DataStream,
    pub schema: DFSchemaRef,
    pub rowtime: Option<usize>,
    pub proctime: Option<usize>,
    pub window: Option<WindowColumns>,
}

/// The unique physical column names for a plan schema.
pub(crate) fn physical_schema(schema: &DFSchema) -> SchemaRef {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let n = seen.entry(f.name().clone()).or_insert(0);
            *n += 1;
            let name = if *n == 1 {
                f.name().clone()
            } else {
                format!("{}#{}", f.name(), n)
            };
            f.as_ref().clone().with_name(name)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Translates plans of one job into one [`StreamEnv`].
pub(crate) struct Translator<'a> {
    pub env: StreamEnv,
    pub state: &'a SessionState,
    pub settings: &'a JobSettings,
    /// Where errors without a better place are reported: the statement being planned.
    pub location: Location,
    pub uids: &'a mut UidAllocator,
    /// One source per table, shared by every scan of it.
    pub sources: HashMap<String, Stream>,
}

fn unsupported(location: Location, what: &str, hint: &str) -> SqlError {
    SqlError::at(location, format!("{what} is not supported in streaming jobs yet")).with_hint(hint.to_string())
}

/// The index of `expr` in `schema` if it is (an alias of) a plain column reference.
fn column_index(expr: &Expr, schema: &DFSchema) -> Option<usize> {
    match expr {
        Expr::Alias(a) => column_index(&a.expr, schema),
        Expr::Column(c) => schema.index_of_column(c).ok(),
        _ => None,
    }
}

fn ms(d: std::time::Duration) -> i64 {
    d.as_millis() as i64
}

impl Translator<'_> {
    fn df_error(&self, e: datafusion::error::DataFusionError) -> SqlError {
        super::df_error(e, self.location)
    }

    fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        self.state
            .create_physical_expr(expr.clone(), schema)
            .map_err(|e| self.df_error(e))
    }

    /// Adds a Calc node; `exprs` are over `input.schema` and produce `output`.
    fn calc(
        &mut self,
        input: &Stream,
        filter: Option<&Expr>,
        exprs: &[Expr],
        output: DFSchemaRef,
        plan_for_uid: &str,
    ) -> Result<Stream> {
        let program = CalcProgram {
            filter: filter.map(|f| self.physical(f, &input.schema)).transpose()?,
            projections: exprs
                .iter()
                .map(|e| self.physical(e, &input.schema))
                .collect::<Result<_>>()?,
            output_schema: physical_schema(&output),
        };
        let description = describe_calc(filter, exprs);
        let factory = {
            let program = program.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(CalcOperator::new(program.clone())))
            }
        };
        let uid = self.uids.allocate("calc", plan_for_uid);
        let ds = input
            .ds
            .transform("Calc", program.output_schema.clone(), Arc::new(factory))
            .uid(&uid);
        self.env.describe(ds.node(), description);
        // Attributes survive when their column is passed through unchanged.
        let map = |index: Option<usize>| {
            let index = index?;
            exprs.iter().position(|e| column_index(e, &input.schema) == Some(index))
        };
        let window = input.window.as_ref().map(|w| WindowColumns {
            tvf: w.tvf.clone(),
            start: map(w.start),
            end: map(w.end),
            time: map(w.time),
            event_time: w.event_time,
        });
        Ok(Stream {
            ds,
            schema: output,
            rowtime: map(input.rowtime),
            proctime: map(input.proctime),
            window,
        })
    }

    /// Translates `plan`.
    pub fn plan(&mut self, plan: &LogicalPlan) -> Result<Stream> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(p) => self.projection(p),
            LogicalPlan::Filter(f) => self.filter(f, plan),
            LogicalPlan::SubqueryAlias(a) => {
                let mut stream = self.plan(&a.input)?;
                stream.schema = a.schema.clone();
                Ok(stream)
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a, plan),
            LogicalPlan::Union(u) => self.union(u, plan),
            LogicalPlan::Join(_) => Err(unsupported(
                self.location,
                "JOIN",
                "joins come with the changelog operators; window aggregations, projections, filters and UNION ALL work",
            )),
            LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => Err(unsupported(
                self.location,
                "ORDER BY / LIMIT on an unbounded stream",
                "use a window Top-N: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...) <= N",
            )),
            LogicalPlan::Window(_) => Err(unsupported(
                self.location,
                "an OVER window",
                "window aggregations with TUMBLE, HOP, CUMULATE and SESSION work",
            )),
            LogicalPlan::Distinct(_) => Err(unsupported(self.location, "DISTINCT", "GROUP BY over a window")),
            LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => Err(unsupported(
                self.location,
                "a query without a source table",
                "read from a table declared with CREATE TABLE",
            )),
            other => Err(unsupported(
                self.location,
                &format!("the plan node '{}'", other.display()),
                "projections, filters, UNION ALL and window aggregations",
            )),
        }
    }

    fn scan(&mut self, scan: &TableScan) -> Result<Stream> {
        if !scan.filters.is_empty() || scan.fetch.is_some() {
            return Err(SqlError::at(
                self.location,
                "internal: a scan with pushed-down filters or limit",
            ));
        }
        let provider = source_as_provider(&scan.source).map_err(|e| self.df_error(e))?;
        let table_name = scan.table_name.table().to_string();
        let any: &dyn std::any::Any = provider.as_ref();
        let full = if let Some(table) = any.downcast_ref::<StreamTable>() {
            self.table_source(&table_name, table)?
        } else if let Some(tvf) = any.downcast_ref::<WindowTvfTable>() {
            self.window_tvf(tvf)?
        } else if let Some(view) = provider.get_logical_plan() {
            let view = view.into_owned();
            self.plan(&view)?
        } else {
            return Err(SqlError::at(
                self.location,
                format!("'{table_name}' is not a streaming table"),
            ));
        };
        // Narrow to the scan's columns, under the scan's qualifiers.
        let indices: Vec<usize> = match &scan.projection {
            Some(p) => p.clone(),
            None => (0..full.schema.fields().len()).collect(),
        };
        let identity = indices.len() == full.schema.fields().len() && indices.iter().enumerate().all(|(i, j)| i == *j);
        if identity {
            return Ok(Stream {
                schema: scan.projected_schema.clone(),
                ..full
            });
        }
        let exprs: Vec<Expr> = indices
            .iter()
            .map(|&i| Expr::Column(datafusion::common::Column::from(full.schema.qualified_field(i))))
            .collect();
        let uid_basis = format!("scan {table_name} {indices:?}");
        let mut stream = self.calc(&full, None, &exprs, scan.projected_schema.clone(), &uid_basis)?;
        stream.schema = scan.projected_schema.clone();
        Ok(stream)
    }

    /// The source of a `CREATE TABLE` table, with its computed columns and watermarks.
    fn table_source(&mut self, name: &str, table: &StreamTable) -> Result<Stream> {
        if let Some(stream) = self.sources.get(name) {
            return Ok(stream.clone());
        }
        let ddl = &table.ddl;
        let schema = DFSchema::try_from_qualified_schema(name, &table.schema).map_err(|e| self.df_error(e))?;
        let physical_input =
            DFSchema::try_from_qualified_schema(table.physical_qualifier.as_str(), &ddl.physical_schema())
                .map_err(|e| self.df_error(e))?;
        let computed = &table.columns;
        let program = CalcProgram {
            filter: None,
            projections: computed
                .iter()
                .map(|e| self.physical(e, &physical_input))
                .collect::<Result<_>>()?,
            output_schema: physical_schema(&schema),
        };
        let physical_schema_ref: SchemaRef = Arc::new(ddl.physical_schema());
        let factory_connector = connectors::source_factory(ddl, physical_schema_ref)?;
        let factory = {
            let program = program.clone();
            move |info: &TaskInfo| -> freshet_core::Result<Box<dyn Source>> {
                let inner = factory_connector(info)?;
                Ok(Box::new(ComputedSource::new(inner, program.clone())))
            }
        };
        let rowtime =
            match &ddl.watermark {
                Some(w) => Some(table.schema.index_of(&w.column.value).map_err(|_| {
                    SqlError::at(w.span.start, format!("unknown watermark column '{}'", w.column.value))
                })?),
                None => None,
            };
        let event_time = match (&ddl.watermark, rowtime) {
            (Some(w), Some(index)) => {
                let field = table.schema.field(index);
                if !matches!(
                    field.data_type(),
                    DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64
                ) {
                    return Err(SqlError::at(
                        w.span.start,
                        format!(
                            "the watermark column '{}' has type {}; event time needs TIMESTAMP(3) or TIMESTAMP_LTZ(3)",
                            field.name(),
                            field.data_type()
                        ),
                    )
                    .with_hint(
                        "declare the column as TIMESTAMP(3), or add a computed column with CAST(... AS TIMESTAMP(3))",
                    ));
                }
                let delay = w.bounded_delay().ok_or_else(|| {
                    SqlError::at(w.span.start, "unsupported watermark expression")
                        .with_hint(format!("supported: `{0}` or `{0} - INTERVAL 'n' unit`", w.column.value))
                })?;
                let mut strategy = WatermarkStrategy::bounded(ms(delay));
                if let Some(idle) = self.settings.idle_timeout {
                    strategy = strategy.with_idleness(ms(idle));
                }
                Some(EventTimeSpec {
                    timestamp_column: program.output_schema.field(index).name().clone(),
                    strategy,
                })
            }
            _ => None,
        };
        let proctime = super::proctime_column(ddl).and_then(|c| table.schema.index_of(&c).ok());
        let ds = self
            .env
            .add_source(
                &format!("Source: {name}"),
                program.output_schema.clone(),
                Arc::new(factory),
                event_time,
            )
            .uid(&self.uids.allocate_exact(&format!("source-{name}")));
        self.env.describe(
            ds.node(),
            format!(
                "connector={} columns=[{}]{}",
                ddl.connector(),
                program
                    .output_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                ddl.watermark
                    .as_ref()
                    .map(|w| format!(
                        " watermark={} - {:?}",
                        w.column.value,
                        w.bounded_delay().unwrap_or_default()
                    ))
                    .unwrap_or_default()
            ),
        );
        let stream = Stream {
            ds,
            schema: Arc::new(schema),
            rowtime,
            proctime,
            window: None,
        };
        self.sources.insert(name.to_string(), stream.clone());
        Ok(stream)
    }

    /// A window table function: its input with placeholder window columns, which only a
    /// window aggregation above it may read.
    fn window_tvf(&mut self, tvf: &WindowTvfTable) -> Result<Stream> {
        let input = self.plan(&tvf.input)?;
        let time_index = input
            .schema
            .fields()
            .iter()
            .position(|f| f.name() == &tvf.tvf.time_column.value)
            .ok_or_else(|| {
                SqlError::at(
                    tvf.tvf.time_column.span.start,
                    format!(
                        "DESCRIPTOR column '{}' is not a column of the windowed table",
                        tvf.tvf.time_column.value
                    ),
                )
            })?;
        if input.rowtime != Some(time_index) && input.proctime != Some(time_index) {
            return Err(SqlError::at(
                tvf.tvf.time_column.span.start,
                format!(
                    "DESCRIPTOR column '{}' is not a time attribute",
                    tvf.tvf.time_column.value
                ),
            )
            .with_hint("declare `WATERMARK FOR column AS ...` on the table, or a `column AS PROCTIME()` column"));
        }
        // Until the aggregation, each window column holds the row's time: the aggregation's
        // window operator assigns the windows from it (and nothing may compute with it before).
        let n = input.schema.fields().len();
        let time = Expr::Column(datafusion::common::Column::from(
            input.schema.qualified_field(time_index),
        ));
        let mut exprs: Vec<Expr> = (0..n)
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        for field in &tvf.schema.fields()[n..] {
            exprs.push(cast_to(time.clone(), field.data_type()).alias(field.name()));
        }
        let output = DFSchema::try_from(tvf.schema.as_ref().clone()).map_err(|e| self.df_error(e))?;
        let mut stream = self.calc(
            &input,
            None,
            &exprs,
            Arc::new(output),
            &format!("window columns {:?}", tvf.tvf),
        )?;
        stream.window = Some(WindowColumns {
            tvf: tvf.tvf.clone(),
            start: Some(n),
            end: Some(n + 1),
            time: Some(n + 2),
            event_time: input.rowtime == Some(time_index),
        });
        Ok(stream)
    }

    fn projection(&mut self, p: &Projection) -> Result<Stream> {
        // A filter right below a projection runs in the same operator.
        let (input_plan, filter) = match p.input.as_ref() {
            LogicalPlan::Filter(f) => (f.input.as_ref(), Some(&f.predicate)),
            other => (other, None),
        };
        let input = self.plan(input_plan)?;
        self.check_window_columns(&input, filter.into_iter().chain(p.expr.iter()))?;
        let basis = format!("{}", LogicalPlan::Projection(p.clone()).display_indent());
        self.calc(&input, filter, &p.expr, p.schema.clone(), &basis)
    }

    fn filter(&mut self, f: &Filter, plan: &LogicalPlan) -> Result<Stream> {
        let input = self.plan(&f.input)?;
        self.check_window_columns(&input, std::iter::once(&f.predicate))?;
        let exprs: Vec<Expr> = (0..input.schema.fields().len())
            .map(|i| Expr::Column(datafusion::common::Column::from(input.schema.qualified_field(i))))
            .collect();
        let schema = input.schema.clone();
        self.calc(
            &input,
            Some(&f.predicate),
            &exprs,
            schema,
            &format!("{}", plan.display_indent()),
        )
    }

    /// Window columns are placeholders until the aggregation: only plain references to them
    /// may pass.
    fn check_window_columns<'e>(&self, input: &Stream, exprs: impl Iterator<Item = &'e Expr>) -> Result<()> {
        let Some(w) = &input.window else {
            return Ok(());
        };
        let placeholders: Vec<usize> = [w.start, w.end, w.time].into_iter().flatten().collect();
        for expr in exprs {
            if column_index(expr, &input.schema).is_some() {
                continue;
            }
            for column in expr.column_refs() {
                if let Ok(i) = input.schema.index_of_column(column) {
                    if placeholders.contains(&i) {
                        return Err(unsupported(
                            self.location,
                            &format!("computing with '{}' before the window aggregation", column.name),
                            "GROUP BY window_start, window_end first, then compute with them in an outer query",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn union(&mut self, u: &Union, plan: &LogicalPlan) -> Result<Stream> {
        let inputs = u.inputs.iter().map(|i| self.plan(i)).collect::<Result<Vec<_>>>()?;
        let schema = physical_schema(&u.schema);
        for input in &inputs {
            let types: Vec<&DataType> = input.schema.fields().iter().map(|f| f.data_type()).collect();
            let expected: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
            if types != expected {
                return Err(SqlError::at(
                    self.location,
                    "UNION ALL inputs have different column types",
                ));
            }
        }
        let factory = {
            let schema = schema.clone();
            move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(UnionOperator::new(schema.clone())))
            }
        };
        let connections: Vec<(DataStream, usize)> = inputs.iter().map(|s| (s.ds.clone(), 0)).collect();
        let uid = self.uids.allocate("union", &format!("{}", plan.display_indent()));
        let ds = self
            .env
            .add_multi_input(
                "Union",
                &connections,
                schema,
                Arc::new(factory),
                false,
                format!("{} inputs", inputs.len()),
            )
            .uid(&uid);
        let same = |f: fn(&Stream) -> Option<usize>| {
            let first = f(&inputs[0]);
            inputs.iter().all(|s| f(s) == first).then_some(first).flatten()
        };
        Ok(Stream {
            ds,
            schema: u.schema.clone(),
            rowtime: same(|s| s.rowtime),
            proctime: same(|s| s.proctime),
            window: None,
        })
    }

    fn aggregate(&mut self, a: &Aggregate, plan: &LogicalPlan) -> Result<Stream> {
        let input = self.plan(&a.input)?;
        let Some(window) = input.window.clone() else {
            return Err(unsupported(
                self.location,
                "GROUP BY without a window (an updating aggregation)",
                "aggregate over a window table function: FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, ...",
            ));
        };
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
        let window_df = Arc::new(DFSchema::try_from(window_schema.as_ref().clone()).map_err(|e| self.df_error(e))?);
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
        let windowed_stream = Stream {
            ds: windowed,
            schema: window_df,
            rowtime: None,
            proctime: None,
            window: None,
        };
        let mut out = self.calc(
            &windowed_stream,
            None,
            &post,
            a.schema.clone(),
            &format!("{uid_basis} output"),
        )?;
        out.rowtime = groups.iter().position(|g| matches!(g, Group::Time));
        out.proctime = None;
        out.window = None;
        Ok(out)
    }

    /// The window operator's aggregate for one SQL aggregate; argument expressions that are
    /// not plain columns are added to the pre-projection.
    fn window_aggregate(
        &self,
        expr: &Expr,
        input: &Stream,
        pre_exprs: &mut Vec<Expr>,
        pre_fields: &mut Vec<(Option<datafusion::common::TableReference>, Arc<Field>)>,
        at: Location,
    ) -> Result<WindowAggregate> {
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

/// `expr` cast to `data_type` (left alone if DataFusion can tell it already has that type).
fn cast_to(expr: Expr, data_type: &DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), data_type.clone()))
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

fn describe_calc(filter: Option<&Expr>, exprs: &[Expr]) -> String {
    let select = exprs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
    match filter {
        Some(f) => format!("where {f} select {select}"),
        None => format!("select {select}"),
    }
}

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

mod accumulate;
mod aggregate;
mod calc;
mod group_aggregate;
mod join;
mod over;
mod rank;
mod scan;
mod union;

use super::catalog::{StreamTable, WindowTvfTable};
use super::connectors;
pub(crate) use super::constructs::{Construct, Constructs};
use super::settings::JobSettings;
use super::uid::UidAllocator;
use crate::error::{Result, SqlError};
use crate::ops::changelog::ROW_KIND_COLUMN;
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
    /// Whether the batches are a changelog: they then carry a trailing row-kind column (see
    /// [`crate::ops::changelog`]) after the plan's columns. Append-only streams have none.
    pub changelog: bool,
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

/// The physical schema of a stream: the plan's columns, and the trailing row-kind column of a
/// changelog.
pub(crate) fn stream_schema(schema: &DFSchema, changelog: bool) -> SchemaRef {
    let physical = physical_schema(schema);
    if !changelog {
        return physical;
    }
    let mut fields: Vec<Field> = physical.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(ROW_KIND_COLUMN, DataType::Int8, false));
    Arc::new(Schema::new(fields))
}

/// The physical expression reading the row-kind column at `index`.
pub(super) fn row_kind_column(index: usize) -> Arc<dyn PhysicalExpr> {
    Arc::new(datafusion::physical_expr::expressions::Column::new(
        ROW_KIND_COLUMN,
        index,
    ))
}

/// Translates plans of one job into one [`StreamEnv`].
pub(crate) struct Translator<'a> {
    pub env: StreamEnv,
    pub state: &'a SessionState,
    pub settings: &'a JobSettings,
    /// Where errors without a better place are reported: the statement being planned.
    pub location: Location,
    /// Where the statement's constructs are: errors about one point at it (see [`Self::at`]).
    pub constructs: Constructs,
    pub uids: &'a mut UidAllocator,
    /// One source per table, shared by every scan of it.
    pub sources: HashMap<String, Stream>,
}

pub(super) fn unsupported(location: Location, what: &str, hint: &str) -> SqlError {
    SqlError::at(location, format!("{what} is not supported in streaming jobs yet")).with_hint(hint.to_string())
}

/// The index of `expr` in `schema` if it is (an alias of) a plain column reference.
pub(super) fn column_index(expr: &Expr, schema: &DFSchema) -> Option<usize> {
    match expr {
        Expr::Alias(a) => column_index(&a.expr, schema),
        Expr::Column(c) => schema.index_of_column(c).ok(),
        _ => None,
    }
}

pub(super) fn ms(d: std::time::Duration) -> i64 {
    d.as_millis() as i64
}

impl Translator<'_> {
    /// Where `construct` is in the statement being planned, or the statement's start if it is
    /// not written there (e.g. it comes from a view).
    pub(super) fn at(&self, construct: Construct) -> Location {
        self.constructs.get(construct).unwrap_or(self.location)
    }

    pub(super) fn df_error(&self, e: datafusion::error::DataFusionError) -> SqlError {
        super::df_error(e, self.location)
    }

    pub(super) fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        self.state
            .create_physical_expr(expr.clone(), schema)
            .map_err(|e| self.df_error(e))
    }

    /// Adds a Calc node; `exprs` are over `input.schema` and produce `output`.
    pub(super) fn calc(
        &mut self,
        input: &Stream,
        filter: Option<&Expr>,
        exprs: &[Expr],
        output: DFSchemaRef,
        plan_for_uid: &str,
    ) -> Result<Stream> {
        let mut projections: Vec<Arc<dyn PhysicalExpr>> = exprs
            .iter()
            .map(|e| self.physical(e, &input.schema))
            .collect::<Result<_>>()?;
        if input.changelog {
            // The row kind rides along after the plan's columns; filters see it too.
            projections.push(row_kind_column(input.schema.fields().len()));
        }
        let program = CalcProgram {
            filter: filter.map(|f| self.physical(f, &input.schema)).transpose()?,
            projections,
            output_schema: stream_schema(&output, input.changelog),
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
            changelog: input.changelog,
        })
    }

    /// The rows of a window operator (`windowed`: keys, window bounds, `__agg_i` columns)
    /// projected by `post` onto an aggregate's `schema`. The result has no time attributes;
    /// callers set the rowtime they keep.
    pub(super) fn window_output(
        &mut self,
        windowed: DataStream,
        post: &[Expr],
        schema: DFSchemaRef,
        uid_basis: &str,
    ) -> Result<Stream> {
        let window_df = DFSchema::try_from(windowed.schema().as_ref().clone()).map_err(|e| self.df_error(e))?;
        let windowed = Stream {
            ds: windowed,
            schema: Arc::new(window_df),
            rowtime: None,
            proctime: None,
            window: None,
            changelog: false,
        };
        self.calc(&windowed, None, post, schema, &format!("{uid_basis} output"))
    }

    /// Translates `plan`.
    pub fn plan(&mut self, plan: &LogicalPlan) -> Result<Stream> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(p) => self.projection(p),
            LogicalPlan::Filter(f) if rank::is_rank_filter(f) => self.rank(f, plan),
            LogicalPlan::Filter(f) => self.filter(f, plan),
            LogicalPlan::SubqueryAlias(a) => {
                let mut stream = self.plan(&a.input)?;
                stream.schema = a.schema.clone();
                Ok(stream)
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a, plan),
            LogicalPlan::Union(u) => self.union(u, plan),
            LogicalPlan::Join(j) => self.join(j, plan),
            LogicalPlan::Sort(_) => Err(unsupported(
                self.at(Construct::OrderBy),
                "ORDER BY / LIMIT on an unbounded stream",
                "use a window Top-N: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...) <= N",
            )),
            LogicalPlan::Limit(_) => Err(unsupported(
                self.at(Construct::Limit),
                "ORDER BY / LIMIT on an unbounded stream",
                "use a window Top-N: ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...) <= N",
            )),
            LogicalPlan::Window(w) => self.over(w, plan),
            LogicalPlan::Distinct(_) => Err(unsupported(
                self.at(Construct::Distinct),
                "DISTINCT",
                "GROUP BY over a window",
            )),
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
}

/// `expr` cast to `data_type` (left alone if DataFusion can tell it already has that type).
pub(super) fn cast_to(expr: Expr, data_type: &DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(expr), data_type.clone()))
}

pub(super) fn describe_calc(filter: Option<&Expr>, exprs: &[Expr]) -> String {
    let select = exprs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
    match filter {
        Some(f) => format!("where {f} select {select}"),
        None => format!("select {select}"),
    }
}

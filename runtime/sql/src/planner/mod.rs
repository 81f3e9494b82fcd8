//! The streaming planner: from a script's statements to one job graph.
//!
//! 1. `CREATE TABLE` / `CREATE VIEW` fill a catalog that DataFusion plans against (computed
//!    columns are typed by DataFusion at declaration).
//! 2. Each `INSERT INTO` (and a bare query, which prints its rows) is planned by DataFusion
//!    after window table functions are rewritten into generated tables, then analyzed (type
//!    coercion) and optimized with the rules that are valid on unbounded streams.
//! 3. After the last statement, every insert is translated into dataflow nodes of one job (a
//!    statement set): sources shared between inserts, Calc operators for projections and
//!    filters, window operators for window aggregations, sinks.
//!
//! Everything the planner can check is checked before a graph exists: unknown tables, columns
//! and functions, type errors, connector options, unsupported constructs — each reported with
//! the line and column of the script.

pub mod catalog;
pub mod connectors;
mod constructs;
pub mod functions;
pub mod rewrite;
pub mod settings;
mod translate;
pub mod uid;
pub mod upsert;

use crate::ddl::{ColumnKind, TableDdl};
use crate::error::{Result, SqlError};
use crate::statement::{parse_script, Statement};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use catalog::{LookupTable, StreamTable, WindowTvfTable};
use datafusion::common::TableReference;
use datafusion::datasource::{provider_as_source, TableProvider, ViewTable};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Ident, ObjectName, Query, Spanned, Statement as SqlStatement};
use datafusion::sql::sqlparser::tokenizer::{Location, Span};
use freshet_dataflow::api::StreamEnv;
use freshet_dataflow::JobGraph;
use settings::JobSettings;
use std::collections::HashMap;
use std::sync::Arc;
use translate::{Stream, Translator};
use uid::UidAllocator;

/// A planned SQL job: the graph and the configuration its script set.
pub struct SqlJob {
    /// The dataflow graph (one job for all of the script's inserts).
    pub graph: JobGraph,
    /// What the script's `SET` statements asked for.
    pub settings: JobSettings,
}

/// Options of planning that do not come from the script.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Overrides `parallelism.default`.
    pub parallelism: Option<u32>,
    /// The job's name when the script sets none.
    pub default_name: Option<String>,
}

/// An insert planned by DataFusion, waiting for translation.
struct PlannedInsert {
    /// The sink table; `None` for a bare query (printed).
    target: Option<Arc<StreamTable>>,
    /// Sink column for each query column (indices into the sink's physical columns).
    plan: LogicalPlan,
    location: Location,
    /// Where the query's constructs are, for errors about them.
    constructs: constructs::Constructs,
}

/// Turns DataFusion's error into one at `location` (or at DataFusion's own span, when it
/// has one).
pub(crate) fn df_error(error: DataFusionError, location: Location) -> SqlError {
    let at = error
        .diagnostic()
        .and_then(|d| d.span)
        .map(|s| Location::new(s.start.line, s.start.column))
        .filter(|l| l.line > 0)
        .unwrap_or(location);
    let message = error.strip_backtrace();
    let message = message
        .strip_prefix("Error during planning: ")
        .or_else(|| message.strip_prefix("Schema error: "))
        .unwrap_or(&message)
        .to_string();
    SqlError::at(at, message)
}

/// The column declared `name AS PROCTIME()`, if any.
pub(crate) fn proctime_column(ddl: &TableDdl) -> Option<String> {
    ddl.columns.iter().find_map(|c| match &c.kind {
        ColumnKind::Computed {
            expr: SqlExpr::Function(f),
        } if f.name.to_string().eq_ignore_ascii_case("proctime") => Some(c.name.value.clone()),
        _ => None,
    })
}

/// Optimizer rules that keep a plan's meaning on unbounded streams. Left out: rules about
/// limits and sorting, and rewrites of DISTINCT aggregates into two-level aggregations.
fn streaming_optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    use datafusion::optimizer::{
        eliminate_cross_join::EliminateCrossJoin, eliminate_duplicated_expr::EliminateDuplicatedExpr,
        eliminate_filter::EliminateFilter, eliminate_outer_join::EliminateOuterJoin,
        extract_equijoin_predicate::ExtractEquijoinPredicate, optimize_projections::OptimizeProjections,
        optimize_unions::OptimizeUnions, push_down_filter::PushDownFilter,
        replace_distinct_aggregate::ReplaceDistinctWithAggregate, simplify_expressions::SimplifyExpressions,
    };
    vec![
        Arc::new(OptimizeUnions::new()),
        Arc::new(SimplifyExpressions::new()),
        Arc::new(ReplaceDistinctWithAggregate::new()),
        Arc::new(ExtractEquijoinPredicate::new()),
        Arc::new(EliminateDuplicatedExpr::new()),
        Arc::new(EliminateFilter::new()),
        Arc::new(EliminateCrossJoin::new()),
        Arc::new(EliminateOuterJoin::new()),
        Arc::new(PushDownFilter::new()),
        Arc::new(SimplifyExpressions::new()),
        Arc::new(OptimizeProjections::new()),
    ]
}

/// Plans SQL scripts.
pub struct Planner {
    ctx: SessionContext,
    tables: HashMap<String, Arc<StreamTable>>,
    views: Vec<String>,
    settings: JobSettings,
    inserts: Vec<PlannedInsert>,
    next_tvf: usize,
    uids: UidAllocator,
    custom_sinks: HashMap<String, connectors::SinkBuilder>,
}

impl Default for Planner {
    fn default() -> Self {
        Self::new()
    }
}

impl Planner {
    /// A planner with DataFusion's functions plus Freshet's (`PROCTIME()`, `count_char`).
    pub fn new() -> Self {
        let mut config = SessionConfig::new().with_information_schema(false);
        {
            let options = config.options_mut();
            // Identifiers are case-sensitive, as in Flink.
            options.sql_parser.enable_ident_normalization = false;
            options.sql_parser.collect_spans = true;
            options.execution.time_zone = Some("+00:00".to_string());
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_optimizer_rules(streaming_optimizer_rules())
            .build();
        let ctx = SessionContext::new_with_state(state);
        functions::register_builtin_functions(&ctx);
        Self {
            ctx,
            tables: HashMap::new(),
            views: Vec::new(),
            settings: JobSettings::default(),
            inserts: Vec::new(),
            next_tvf: 0,
            uids: UidAllocator::default(),
            custom_sinks: HashMap::new(),
        }
    }

    /// The DataFusion session (to register user-defined scalar and aggregate functions with
    /// `register_udf` / `register_udaf` before planning).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers a sink connector of the Rust API: tables declared `WITH ('connector' =
    /// 'connector')` are written by `sink` (their other options are ignored). Such a sink takes
    /// append-only streams and changelogs alike: a changelog's batches end with the row-kind
    /// column (see [`crate::ops::changelog`]).
    pub fn register_sink(&mut self, connector: &str, sink: connectors::SinkBuilder) {
        self.custom_sinks.insert(connector.to_string(), sink);
    }

    /// The sink of `ddl` for a stream that is (or is not) a changelog.
    fn sink_for(&self, ddl: &TableDdl, changelog: bool, at: Location) -> Result<connectors::SinkBuilder> {
        if let Some(sink) = self.custom_sinks.get(ddl.connector()) {
            return Ok(sink.clone());
        }
        if changelog {
            connectors::changelog_sink_factory(ddl, at)
        } else {
            connectors::sink_factory(ddl)
        }
    }

    /// Plans a whole script into one job.
    pub async fn plan_script(mut self, sql: &str, options: &PlanOptions) -> Result<SqlJob> {
        let statements = parse_script(sql)?;
        let end = statements.last().map(|s| s.span().end).unwrap_or(Location::new(1, 1));
        for statement in statements {
            self.apply(statement).await?;
        }
        if self.inserts.is_empty() {
            return Err(
                SqlError::at(end, "the script has no INSERT INTO or query: nothing to run")
                    .with_hint("add INSERT INTO sink SELECT ... FROM source"),
            );
        }
        self.build(options)
    }

    async fn apply(&mut self, statement: Statement) -> Result<()> {
        match statement {
            Statement::CreateTable(ddl) => self.create_table(ddl).await,
            Statement::CreateView {
                name,
                if_not_exists,
                columns,
                query,
                span,
                ..
            } => self.create_view(name, if_not_exists, columns, *query, span).await,
            Statement::Set { key, value, span } => self.settings.set(&key, &value, span),
            Statement::Reset { key, span } => self.settings.reset(key.as_deref(), span),
            Statement::Insert {
                table,
                columns,
                query,
                span,
            } => self.insert(Some(table), columns, *query, span).await,
            Statement::Select { query, span } => self.insert(None, Vec::new(), *query, span).await,
            Statement::Explain { span, .. } => Err(SqlError::at(span.start, "EXPLAIN inside a job script")
                .with_hint("run `freshet explain job.sql` to see the streaming plan")),
        }
    }

    fn table_key(name: &ObjectName) -> String {
        name.0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .unwrap_or_else(|| name.to_string())
    }

    fn exists(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.views.iter().any(|v| v == name)
    }

    async fn create_table(&mut self, ddl: TableDdl) -> Result<()> {
        let name = Self::table_key(&ddl.name);
        let at = ddl.span.start;
        if self.exists(&name) {
            if ddl.if_not_exists {
                return Ok(());
            }
            return Err(SqlError::at(at, format!("table '{name}' already exists")));
        }
        if let Some(column) = ddl
            .columns
            .iter()
            .find(|c| matches!(c.kind, ColumnKind::Metadata { .. }) && !connectors::has_metadata(ddl.connector()))
        {
            return Err(SqlError::at(
                column.span.start,
                format!(
                    "connector '{}' has no metadata columns ('{}')",
                    ddl.connector(),
                    column.name.value
                ),
            ));
        }
        // Type the computed columns with DataFusion: SELECT <columns> FROM <physical columns>.
        let physical: SchemaRef = Arc::new(ddl.read_schema());
        let physical_name = format!("__physical_{name}");
        let placeholder = Arc::new(StreamTable {
            ddl: ddl.clone(),
            schema: physical.clone(),
            columns: Vec::new(),
            physical_qualifier: physical_name.clone(),
        });
        self.register(&physical_name, placeholder, at)?;
        let items: Vec<String> = ddl
            .columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Computed { expr } => format!("{expr} AS {}", quote(&c.name.value)),
                _ => quote(&c.name.value),
            })
            .collect();
        let select = format!("SELECT {} FROM {}", items.join(", "), quote(&physical_name));
        let plan = self.plan_text(&select, at).await;
        self.ctx
            .deregister_table(physical_name.as_str())
            .map_err(|e| df_error(e, at))?;
        let plan = plan?;
        let LogicalPlan::Projection(projection) = &plan else {
            return Err(SqlError::at(
                at,
                "internal: computed columns did not plan into a projection",
            ));
        };
        let schema: SchemaRef = Arc::new(Schema::new(
            projection
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ));
        let table = Arc::new(StreamTable {
            ddl,
            schema,
            columns: projection.expr.clone(),
            physical_qualifier: physical_name,
        });
        self.register(&name, table.clone(), at)?;
        self.tables.insert(name, table);
        Ok(())
    }

    fn register(&self, name: &str, provider: Arc<dyn TableProvider>, at: Location) -> Result<()> {
        self.ctx
            .register_table(TableReference::bare(name), provider)
            .map(|_| ())
            .map_err(|e| df_error(e, at))
    }

    /// Plans a SELECT written by the planner itself (no window functions), analyzed.
    async fn plan_text(&self, sql: &str, at: Location) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let statement = state
            .sql_to_statement(sql, &datafusion::config::Dialect::Generic)
            .map_err(|e| SqlError::at(at, e.strip_backtrace()))?;
        let plan = state.statement_to_plan(statement).await.map_err(|e| df_error(e, at))?;
        state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})
            .map_err(|e| df_error(e, at))
    }

    /// Rewrites the window functions of `query` and plans it: analyzed and optimized.
    async fn plan_query(&mut self, mut query: Query, at: Location) -> Result<LogicalPlan> {
        let tvfs = rewrite::rewrite_window_tvfs(&mut query, &mut self.next_tvf)?;
        for (name, tvf) in tvfs {
            let input_name = Self::table_key(&tvf.table);
            let table_at = tvf.table.span().start;
            let provider = self
                .ctx
                .table_provider(TableReference::bare(input_name.as_str()))
                .await
                .map_err(|_| SqlError::at(table_at, format!("unknown table '{input_name}'")))?;
            let input = LogicalPlanBuilder::scan(input_name.as_str(), provider_as_source(provider.clone()), None)
                .and_then(|b| b.build())
                .map_err(|e| df_error(e, table_at))?;
            let input_schema = provider.schema();
            let time_type = input_schema
                .field_with_name(&tvf.time_column.value)
                .map(|f| f.data_type().clone())
                .map_err(|_| {
                    SqlError::at(
                        tvf.time_column.span.start,
                        format!(
                            "DESCRIPTOR column '{}' is not a column of '{input_name}'",
                            tvf.time_column.value
                        ),
                    )
                })?;
            let schema = WindowTvfTable::output_schema(&input_schema, &time_type);
            self.uids.replace_generated(
                &name,
                format!(
                    "{:?} over {input_name} on {} partitioned by [{}]",
                    tvf.window,
                    tvf.time_column.value,
                    tvf.partition_by
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            self.register(&name, Arc::new(WindowTvfTable { tvf, input, schema }), at)?;
        }
        for (name, lookup) in rewrite::rewrite_lookup_tables(&mut query, &mut self.next_tvf)? {
            let table_name = Self::table_key(&lookup.table);
            let Some(table) = self.tables.get(&table_name).cloned() else {
                return Err(SqlError::at(
                    lookup.at,
                    format!(
                        "FOR SYSTEM_TIME AS OF reads a table declared with CREATE TABLE; '{table_name}' is not one"
                    ),
                )
                .with_hint("declare the dimension table with 'connector' = 'filesystem'"));
            };
            let as_of = lookup.as_of.to_string();
            self.uids
                .replace_generated(&name, format!("lookup {table_name} as of {as_of}"));
            let provider = LookupTable {
                table,
                name: table_name,
                as_of,
            };
            self.register(&name, Arc::new(provider), at)?;
        }
        let state = self.ctx.state();
        let statement = DfStatement::Statement(Box::new(SqlStatement::Query(Box::new(query))));
        let plan = state.statement_to_plan(statement).await.map_err(|e| df_error(e, at))?;
        state.optimize(&plan).map_err(|e| df_error(e, at))
    }

    async fn create_view(
        &mut self,
        name: ObjectName,
        if_not_exists: bool,
        columns: Vec<Ident>,
        query: Query,
        span: Span,
    ) -> Result<()> {
        let key = Self::table_key(&name);
        let at = span.start;
        if self.exists(&key) {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::at(at, format!("a table or view '{key}' already exists")));
        }
        let mut plan = self.plan_query(query, at).await?;
        if !columns.is_empty() {
            let fields = plan.schema().fields().len();
            if columns.len() != fields {
                return Err(SqlError::at(
                    at,
                    format!(
                        "view '{key}' names {} columns but its query has {fields}",
                        columns.len()
                    ),
                ));
            }
            let exprs: Vec<Expr> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Expr::Column(datafusion::common::Column::from(plan.schema().qualified_field(i))).alias(&c.value)
                })
                .collect();
            plan = LogicalPlanBuilder::from(plan)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(|e| df_error(e, at))?;
        }
        self.register(&key, Arc::new(ViewTable::new(plan, None)), at)?;
        self.views.push(key);
        Ok(())
    }

    async fn insert(&mut self, table: Option<ObjectName>, columns: Vec<Ident>, query: Query, span: Span) -> Result<()> {
        let at = span.start;
        let target = match &table {
            Some(name) => {
                let key = Self::table_key(name);
                let table = self.tables.get(&key).cloned().ok_or_else(|| {
                    if self.views.contains(&key) {
                        SqlError::at(name.span().start, format!("cannot INSERT INTO the view '{key}'"))
                    } else {
                        SqlError::at(name.span().start, format!("unknown table '{key}'"))
                            .with_hint("declare it with CREATE TABLE ... WITH ('connector' = ...)")
                    }
                })?;
                self.sink_for(&table.ddl, false, at)?;
                Some(table)
            }
            None => None,
        };
        let constructs = constructs::Constructs::of(&query);
        let plan = self.plan_query(query, at).await?;
        let plan = match &target {
            Some(table) => self.project_to_sink(plan, table, &columns, at)?,
            None => plan,
        };
        self.inserts.push(PlannedInsert {
            target,
            plan,
            location: at,
            constructs,
        });
        Ok(())
    }

    /// The query's rows cast to the sink's physical columns (by position, or by the listed
    /// column names); unlisted nullable columns get NULL.
    fn project_to_sink(
        &self,
        plan: LogicalPlan,
        table: &StreamTable,
        columns: &[Ident],
        at: Location,
    ) -> Result<LogicalPlan> {
        let sink = table.ddl.write_schema();
        let name = &table.ddl.name;
        let query_schema = plan.schema().clone();
        let targets: Vec<usize> = if columns.is_empty() {
            (0..sink.fields().len()).collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    sink.index_of(&c.value)
                        .map_err(|_| SqlError::at(c.span.start, format!("table '{name}' has no column '{}'", c.value)))
                })
                .collect::<Result<_>>()?
        };
        if targets.len() != query_schema.fields().len() {
            return Err(SqlError::at(
                at,
                format!(
                    "the query produces {} columns but '{name}' expects {}",
                    query_schema.fields().len(),
                    targets.len()
                ),
            )
            .with_hint(format!(
                "sink columns: {}",
                targets
                    .iter()
                    .map(|&i| sink.field(i).name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut exprs = Vec::with_capacity(sink.fields().len());
        for (i, field) in sink.fields().iter().enumerate() {
            let expr = match targets.iter().position(|&t| t == i) {
                Some(q) => {
                    let from = query_schema.field(q).data_type();
                    if !implicitly_castable(from, field.data_type()) {
                        return Err(SqlError::at(
                            at,
                            format!(
                                "column {} of the query ('{}') has type {from}, which cannot be written to '{name}.{}' of type {}",
                                q + 1,
                                query_schema.field(q).name(),
                                field.name(),
                                field.data_type()
                            ),
                        )
                        .with_hint("CAST it explicitly"));
                    }
                    Expr::Column(datafusion::common::Column::from(query_schema.qualified_field(q)))
                }
                None if field.is_nullable() => Expr::Literal(datafusion::common::ScalarValue::Null, None),
                None => {
                    return Err(SqlError::at(
                        at,
                        format!(
                            "column '{}' of '{name}' is NOT NULL but the INSERT does not set it",
                            field.name()
                        ),
                    ))
                }
            };
            exprs.push(
                Expr::Cast(datafusion::logical_expr::Cast::new(
                    Box::new(expr),
                    field.data_type().clone(),
                ))
                .alias(field.name()),
            );
        }
        LogicalPlanBuilder::from(plan)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, at))
    }

    fn build(mut self, options: &PlanOptions) -> Result<SqlJob> {
        let name = self
            .settings
            .name
            .clone()
            .or_else(|| options.default_name.clone())
            .unwrap_or_else(|| "sql-job".to_string());
        let parallelism = options.parallelism.or(self.settings.parallelism).unwrap_or(1);
        let env = StreamEnv::new(name, parallelism);
        if let Some(max) = self.settings.max_parallelism {
            env.set_max_parallelism(max);
        }
        let state = self.ctx.state();
        let inserts = std::mem::take(&mut self.inserts);
        let custom_sinks = std::mem::take(&mut self.custom_sinks);
        let sink_for = |ddl: &TableDdl, changelog: bool, at: Location| -> Result<connectors::SinkBuilder> {
            match custom_sinks.get(ddl.connector()) {
                Some(sink) => Ok(sink.clone()),
                None if changelog => connectors::changelog_sink_factory(ddl, at),
                None => connectors::sink_factory(ddl),
            }
        };
        let mut translator = Translator {
            env: env.clone(),
            state: &state,
            settings: &self.settings,
            location: Location::new(1, 1),
            constructs: Default::default(),
            uids: &mut self.uids,
            sources: HashMap::new(),
        };
        for insert in &inserts {
            translator.location = insert.location;
            translator.constructs = insert.constructs.clone();
            let mut stream: Stream = translator.plan(&insert.plan)?;
            let (sink_name, factory) = match &insert.target {
                Some(table) if upsert::writes_upserts(&table.ddl) => {
                    let name = Self::table_key(&table.ddl.name);
                    let uid = translator.uids.allocate_exact(&format!("upsert-{name}"));
                    stream.ds =
                        upsert::encode_upserts(&stream.ds, stream.changelog, &table.ddl, &uid, insert.location)?;
                    stream.changelog = false;
                    (name, sink_for(&table.ddl, false, insert.location)?)
                }
                Some(table) => (
                    Self::table_key(&table.ddl.name),
                    sink_for(&table.ddl, stream.changelog, insert.location)?,
                ),
                None => (
                    "print".to_string(),
                    sink_for(&print_table(insert.location), stream.changelog, insert.location)?,
                ),
            };
            let uid = translator.uids.allocate_exact(&format!("sink-{sink_name}"));
            let factory = move |info: &freshet_dataflow::TaskInfo| factory(info);
            let sink = stream
                .ds
                .add_sink(&format!("Sink: {sink_name}"), Arc::new(factory))
                .uid(&uid);
            env.describe(
                sink.node(),
                format!(
                    "connector={}{}",
                    match &insert.target {
                        Some(t) => t.ddl.connector().to_string(),
                        None => "print".into(),
                    },
                    if stream.changelog { " changelog" } else { "" }
                ),
            );
        }
        let graph = env
            .build()
            .map_err(|e| SqlError::at(Location::new(1, 1), e.to_string()))?;
        Ok(SqlJob {
            graph,
            settings: self.settings,
        })
    }
}

/// A print table for a bare query.
fn print_table(at: Location) -> TableDdl {
    let mut options = std::collections::BTreeMap::new();
    options.insert("connector".to_string(), "print".to_string());
    TableDdl {
        name: ObjectName::from(vec![Ident::new("print")]),
        temporary: true,
        if_not_exists: false,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        partitioned_by: Vec::new(),
        options,
        option_spans: Default::default(),
        comment: None,
        span: Span::new(at, at),
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Whether a query column of type `from` may be written to a sink column of type `to` without
/// an explicit CAST: the same type, or a widening within numbers, strings or timestamps.
fn implicitly_castable(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let numeric = |t: &DataType| t.is_numeric();
    let string = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    let binary = |t: &DataType| matches!(t, Binary | LargeBinary | BinaryView);
    from == to
        || matches!(from, Null)
        || (numeric(from) && numeric(to))
        || (string(from) && string(to))
        || (binary(from) && binary(to))
        || matches!(
            (from, to),
            (Timestamp(..), Timestamp(..)) | (Date32 | Date64, Date32 | Date64)
        )
}

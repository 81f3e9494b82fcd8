//! Sources, their computed columns and watermarks, and window table functions.

use super::*;

impl Translator<'_> {
    pub(super) fn scan(&mut self, scan: &TableScan) -> Result<Stream> {
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
    pub(super) fn table_source(&mut self, name: &str, table: &StreamTable) -> Result<Stream> {
        if let Some(stream) = self.sources.get(name) {
            return Ok(stream.clone());
        }
        let ddl = &table.ddl;
        let schema = DFSchema::try_from_qualified_schema(name, &table.schema).map_err(|e| self.df_error(e))?;
        let physical_input = DFSchema::try_from_qualified_schema(table.physical_qualifier.as_str(), &ddl.read_schema())
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
        let physical_schema_ref: SchemaRef = Arc::new(ddl.read_schema());
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
        let proctime = super::super::proctime_column(ddl).and_then(|c| table.schema.index_of(&c).ok());
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
            changelog: false,
        };
        self.sources.insert(name.to_string(), stream.clone());
        Ok(stream)
    }

    /// A window table function: its input with placeholder window columns, which only a
    /// window aggregation above it may read.
    pub(super) fn window_tvf(&mut self, tvf: &WindowTvfTable) -> Result<Stream> {
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
}

//! The connectors a `CREATE TABLE ... WITH ('connector' = ...)` can name, built from the
//! table's options. Options are checked when a table is first used as a source or a sink —
//! before anything runs — and errors point at the offending option.

use crate::ddl::{TableDdl, CONNECTOR_OPTION};
use crate::error::{Result, SqlError};
use crate::ops::ChangelogPrintSink;
use arrow::datatypes::{Schema, SchemaRef};
use datafusion::sql::sqlparser::tokenizer::Location;
use freshet_connectors::kafka::format::RecordFormat;
use freshet_connectors::kafka::{KafkaSink, KafkaSinkConfig, KafkaSource, KafkaSourceConfig, RecordLayout};
use freshet_connectors::{
    BlackholeSink, DatagenConfig, DatagenSource, FileSink, FileSinkConfig, FileSource, FileSourceConfig, NexmarkConfig,
    NexmarkSource, PrintConfig, PrintSink,
};
use freshet_dataflow::{Operator, Source, TaskInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Connectors that can be read.
pub const SOURCE_CONNECTORS: &str = "nexmark, datagen, filesystem, kafka";
/// Connectors that can be written.
pub const SINK_CONNECTORS: &str = "print, blackhole, filesystem, kafka";

/// Whether tables of `connector` may declare `METADATA` columns.
pub fn has_metadata(connector: &str) -> bool {
    connector == "kafka"
}

/// Builds a connector source for one subtask.
pub type SourceBuilder = Arc<dyn Fn(&TaskInfo) -> freshet_core::Result<Box<dyn Source>> + Send + Sync>;
/// Builds a sink for one subtask.
pub type SinkBuilder = Arc<dyn Fn(&TaskInfo) -> freshet_core::Result<Box<dyn Operator>> + Send + Sync>;

/// The options without `connector`, as connectors expect them.
fn connector_options(ddl: &TableDdl) -> BTreeMap<String, String> {
    let mut options = ddl.options.clone();
    options.remove(CONNECTOR_OPTION);
    options
}

/// A connector's error placed at the option it names (or at the table).
fn option_error(ddl: &TableDdl, error: freshet_core::Error) -> SqlError {
    let message = match error {
        freshet_core::Error::Config(m) => m,
        other => other.to_string(),
    };
    let named = ddl
        .options
        .keys()
        .filter(|k| message.contains(&format!("'{k}'")))
        .max_by_key(|k| k.len());
    match named {
        Some(key) => ddl.option_error(key, format!("table '{}': {message}", ddl.name)),
        None => SqlError::at(ddl.span.start, format!("table '{}': {message}", ddl.name)),
    }
}

/// The source of `ddl`, producing exactly the table's physical and metadata columns
/// (`physical`, see [`TableDdl::read_schema`]).
pub fn source_factory(ddl: &TableDdl, physical: SchemaRef) -> Result<SourceBuilder> {
    let options = connector_options(ddl);
    match ddl.connector() {
        "nexmark" => {
            let config = NexmarkConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            let produced = freshet_connectors::nexmark::columns::table_schema(config.table);
            let indices = match_columns(ddl, &physical, &produced)?;
            Ok(Arc::new(move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Source>> {
                let source = NexmarkSource::new(config.clone())?;
                Ok(Box::new(ProjectedSource::new(
                    Box::new(source),
                    indices.clone(),
                    physical.clone(),
                )))
            }))
        }
        "datagen" => {
            let config = DatagenConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            DatagenSource::new(physical.clone(), config.clone()).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Source>> {
                Ok(Box::new(DatagenSource::new(physical.clone(), config.clone())?))
            }))
        }
        "filesystem" => {
            let config = FileSourceConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            FileSource::new(physical.clone(), config.clone()).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Source>> {
                Ok(Box::new(FileSource::new(physical.clone(), config.clone())?))
            }))
        }
        "kafka" => {
            let config = KafkaSourceConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            let layout = RecordLayout::new(
                physical.clone(),
                &ddl.metadata_columns(),
                &config.common.format,
                "kafka source",
            )
            .map_err(|e| option_error(ddl, e))?;
            KafkaSource::new(config.clone(), layout.clone()).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Source>> {
                Ok(Box::new(KafkaSource::new(config.clone(), layout.clone())?))
            }))
        }
        other => Err(unknown_connector(ddl, other, "read from", SOURCE_CONNECTORS)),
    }
}

/// The sink of `ddl`, consuming the table's physical columns.
pub fn sink_factory(ddl: &TableDdl) -> Result<SinkBuilder> {
    let options = connector_options(ddl);
    match ddl.connector() {
        "print" => {
            let config = PrintConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(
                move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                    Ok(Box::new(PrintSink::new(config.clone())))
                },
            ))
        }
        "blackhole" => {
            freshet_connectors::blackhole::BlackholeConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(|_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                Ok(Box::new(BlackholeSink::new()))
            }))
        }
        "filesystem" => {
            let config = FileSinkConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(
                move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                    Ok(Box::new(FileSink::new(config.clone())?))
                },
            ))
        }
        "kafka" => kafka_sink(ddl, &options),
        other => Err(unknown_connector(ddl, other, "write to", SINK_CONNECTORS)),
    }
}

/// The sink of `ddl` for a changelog query (whose batches end with the row-kind column), or
/// the planning error saying why the sink cannot take one. `at` is the INSERT.
pub fn changelog_sink_factory(ddl: &TableDdl, at: Location) -> Result<SinkBuilder> {
    let options = connector_options(ddl);
    let name = &ddl.name;
    match ddl.connector() {
        "print" => {
            let config = PrintConfig::from_options(&options).map_err(|e| option_error(ddl, e))?;
            Ok(Arc::new(
                move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
                    Ok(Box::new(ChangelogPrintSink::new(config.clone())))
                },
            ))
        }
        "blackhole" => sink_factory(ddl),
        _ => Err(SqlError::at(
            at,
            format!(
                "the sink '{name}' is append-only but the query produces updates (from a GROUP BY without a window, an outer join or a join of updates, a Top-N or deduplication, or an updating OVER aggregation)"
            ),
        )
        .with_hint("declare a PRIMARY KEY on a 'filesystem' or 'kafka' sink to write upserts, write the changelog to 'print' or 'blackhole', or use the append-only forms: window aggregations (TUMBLE, HOP, CUMULATE, SESSION), window Top-N, inner joins of append-only inputs")),
    }
}

/// The Kafka sink of `ddl`: upserts keyed by the primary key when the table has one (the key
/// format defaults to the value format, or JSON for raw values).
fn kafka_sink(ddl: &TableDdl, options: &BTreeMap<String, String>) -> Result<SinkBuilder> {
    let mut config = KafkaSinkConfig::from_options(options).map_err(|e| option_error(ddl, e))?;
    let upsert = !ddl.primary_key.is_empty();
    let format = &mut config.common.format;
    if upsert {
        let primary_key: Vec<String> = ddl.primary_key.iter().map(|k| k.value.clone()).collect();
        if format.key_fields.is_empty() {
            format.key_fields = primary_key;
            format.key = Some(match format.value {
                RecordFormat::Raw => RecordFormat::Json,
                other => other,
            });
        } else if format.key_fields != primary_key {
            return Err(ddl.option_error(
                "key.fields",
                format!(
                    "table '{}': 'key.fields' must be the primary key ({}) to write upserts",
                    ddl.name,
                    primary_key.join(";")
                ),
            ));
        }
    }
    let layout = RecordLayout::new(
        Arc::new(ddl.write_schema()),
        &ddl.metadata_columns(),
        &config.common.format,
        "kafka sink",
    )
    .map_err(|e| option_error(ddl, e))?;
    if let Some((column, key)) = layout
        .schema
        .fields()
        .iter()
        .zip(&layout.origins)
        .find_map(|(f, o)| match o {
            freshet_connectors::kafka::metadata::ColumnOrigin::Metadata(k) if !k.writable() => Some((f.name(), *k)),
            _ => None,
        })
    {
        let at = ddl.column(column).map_or(ddl.span.start, |c| c.span.start);
        return Err(SqlError::at(
            at,
            format!(
                "table '{}': metadata '{}' cannot be written; declare column '{column}' VIRTUAL",
                ddl.name,
                key.name()
            ),
        ));
    }
    KafkaSink::new(config.clone(), layout.clone(), upsert).map_err(|e| option_error(ddl, e))?;
    Ok(Arc::new(
        move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(KafkaSink::new(config.clone(), layout.clone(), upsert)?))
        },
    ))
}

fn unknown_connector(ddl: &TableDdl, name: &str, verb: &str, supported: &str) -> SqlError {
    ddl.option_error(
        CONNECTOR_OPTION,
        format!("table '{}': cannot {verb} connector '{name}'", ddl.name),
    )
    .with_hint(format!("supported: {supported}"))
}

/// For each declared physical column, its index in what the connector produces; the types
/// must agree.
fn match_columns(ddl: &TableDdl, declared: &Schema, produced: &Schema) -> Result<Vec<usize>> {
    declared
        .fields()
        .iter()
        .map(|field| {
            let column = ddl.column(field.name());
            let at = column.map_or(ddl.span.start, |c| c.span.start);
            let index = produced.index_of(field.name()).map_err(|_| {
                SqlError::at(
                    at,
                    format!(
                        "table '{}': connector '{}' has no column '{}'",
                        ddl.name,
                        ddl.connector(),
                        field.name()
                    ),
                )
                .with_hint(format!("its columns: {}", describe_columns(produced)))
            })?;
            let actual = produced.field(index).data_type();
            if actual != field.data_type() {
                return Err(SqlError::at(
                    at,
                    format!(
                        "table '{}': column '{}' is declared {} but connector '{}' produces {}",
                        ddl.name,
                        field.name(),
                        field.data_type(),
                        ddl.connector(),
                        actual
                    ),
                )
                .with_hint(format!("its columns: {}", describe_columns(produced))));
            }
            Ok(index)
        })
        .collect()
}

fn describe_columns(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A source narrowed to some of its columns.
struct ProjectedSource {
    inner: Box<dyn Source>,
    indices: Vec<usize>,
    schema: SchemaRef,
}

impl ProjectedSource {
    fn new(inner: Box<dyn Source>, indices: Vec<usize>, schema: SchemaRef) -> Self {
        Self { inner, indices, schema }
    }
}

impl Source for ProjectedSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&mut self, ctx: &mut freshet_dataflow::SourceContext) -> freshet_core::Result<Vec<u32>> {
        self.inner.open(ctx)
    }

    fn poll_batch(&mut self) -> freshet_core::Result<freshet_dataflow::SourcePoll> {
        Ok(match self.inner.poll_batch()? {
            freshet_dataflow::SourcePoll::Batch { split, batch } => {
                let columns = self.indices.iter().map(|&i| batch.column(i).clone()).collect();
                let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                freshet_dataflow::SourcePoll::Batch {
                    split,
                    batch: arrow::record_batch::RecordBatch::try_new_with_options(
                        self.schema.clone(),
                        columns,
                        &options,
                    )?,
                }
            }
            other => other,
        })
    }

    fn snapshot(&mut self, checkpoint: freshet_core::CheckpointId) -> freshet_core::Result<Vec<serde_json::Value>> {
        self.inner.snapshot(checkpoint)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: freshet_core::CheckpointId) -> freshet_core::Result<()> {
        self.inner.notify_checkpoint_complete(checkpoint)
    }
}

//! [`LookupJoinOperator`]: a processing-time lookup join against a bounded table
//! (`JOIN dim FOR SYSTEM_TIME AS OF p.proc_time AS d ON p.k = d.k`, Nexmark q13).
//!
//! When it opens, each subtask reads the whole dimension table (a bounded `filesystem` table,
//! CSV or JSON), computes its columns, applies its filters and indexes its rows by the join key.
//! Each probe row is then joined with the rows of its key that satisfy the residual condition;
//! a LEFT lookup join pads a probe row that has none with NULLs. The operator keeps no state:
//! the table is the one read at open (a restart reads it again). A changelog probe stays a
//! changelog (each row keeps its kind); an append-only probe gives append-only output.

use crate::ops::changelog::ROW_KIND_COLUMN;
use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use freshet_connectors::{FileSource, FileSourceConfig};
use freshet_core::{Error, Result, SubtaskIndex, SystemClock};
use freshet_dataflow::{Collector, Operator, OperatorContext, Source, SourceContext, SourcePoll, TaskInfo};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One step from the table's file rows to the rows the join sees.
#[derive(Clone)]
pub enum DimensionStep {
    /// Computes new columns (the output schema) from the current ones.
    Project(Vec<Arc<dyn PhysicalExpr>>, SchemaRef),
    /// Keeps the rows where the condition is true.
    Filter(Arc<dyn PhysicalExpr>),
}

/// The dimension table: where it is read from and how its rows are shaped.
#[derive(Clone)]
pub struct DimensionTable {
    /// The file source's configuration (bounded).
    pub config: FileSourceConfig,
    /// The records of the files.
    pub file_schema: SchemaRef,
    /// From file records to the join's right-side rows, in order.
    pub steps: Vec<DimensionStep>,
    /// The join key per key column, over the right-side rows, of the probe keys' types.
    pub keys: Vec<Arc<dyn PhysicalExpr>>,
}

/// What a lookup join does.
#[derive(Clone)]
pub struct LookupJoinSpec {
    /// The table looked up.
    pub dimension: DimensionTable,
    /// The probe input's key columns (by index).
    pub probe_keys: Vec<usize>,
    /// How many leading probe columns are output.
    pub probe_output: usize,
    /// Whether the probe input is a changelog (its last column is the row kind).
    pub probe_changelog: bool,
    /// Whether probe rows without a match are output padded with NULLs (LEFT JOIN).
    pub left_outer: bool,
    /// Applied to candidate pairs, over `joined_schema`.
    pub residual: Option<Arc<dyn PhysicalExpr>>,
    /// Probe's output columns, then the table's.
    pub joined_schema: SchemaRef,
    /// `joined_schema`, plus the row kind for a changelog probe.
    pub output_schema: SchemaRef,
}

impl fmt::Debug for LookupJoinSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupJoinSpec")
            .field("path", &self.dimension.config.path)
            .field("probe_keys", &self.probe_keys)
            .field("left_outer", &self.left_outer)
            .field("residual", &self.residual.as_ref().map(|e| e.to_string()))
            .finish()
    }
}

/// The loaded table, indexed by key.
struct Index {
    rows: RecordBatch,
    converter: RowConverter,
    by_key: HashMap<Vec<u8>, Vec<u32>>,
}

/// The lookup join operator.
pub struct LookupJoinOperator {
    spec: LookupJoinSpec,
    index: Option<Index>,
}

impl LookupJoinOperator {
    /// A lookup join doing `spec`.
    pub fn new(spec: LookupJoinSpec) -> Self {
        Self { spec, index: None }
    }

    fn join_batch(&self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let index = self
            .index
            .as_ref()
            .ok_or_else(|| Error::Internal("lookup join used before open".into()))?;
        let key_columns: Vec<ArrayRef> = self.spec.probe_keys.iter().map(|&i| batch.column(i).clone()).collect();
        let keys = index.converter.convert_columns(&key_columns)?;
        let mut candidates: Vec<(u32, Option<u32>)> = Vec::new();
        for i in 0..batch.num_rows() {
            if key_columns.iter().any(|c| c.is_null(i)) {
                continue;
            }
            if let Some(rows) = index.by_key.get(keys.row(i).as_ref()) {
                candidates.extend(rows.iter().map(|&r| (i as u32, Some(r))));
            }
        }
        let mut pairs = match &self.spec.residual {
            None => candidates,
            Some(residual) => {
                let joined = self.joined(batch, &index.rows, &candidates, false)?;
                let mask = residual
                    .evaluate(&joined)
                    .and_then(|v| v.into_array(joined.num_rows()))
                    .map_err(|e| Error::UserFunction(format!("evaluating a join condition: {e}")))?;
                let mask = mask
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| Error::Internal("a join condition did not evaluate to booleans".into()))?;
                candidates
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| mask.is_valid(*j) && mask.value(*j))
                    .map(|(_, pair)| pair)
                    .collect()
            }
        };
        if self.spec.left_outer {
            let mut matched = vec![false; batch.num_rows()];
            pairs.iter().for_each(|(i, _)| matched[*i as usize] = true);
            pairs.extend(
                (0..batch.num_rows() as u32)
                    .filter(|&i| !matched[i as usize])
                    .map(|i| (i, None)),
            );
            pairs.sort_by_key(|(i, _)| *i);
        }
        if pairs.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.joined(batch, &index.rows, &pairs, true)?))
    }

    /// The probe rows joined with table rows (NULLs where none); with the probe's row kind
    /// if `output` and the probe is a changelog.
    fn joined(
        &self,
        batch: &RecordBatch,
        table: &RecordBatch,
        pairs: &[(u32, Option<u32>)],
        output: bool,
    ) -> Result<RecordBatch> {
        let probe = UInt32Array::from(pairs.iter().map(|p| p.0).collect::<Vec<_>>());
        let rows = UInt32Array::from(pairs.iter().map(|p| p.1).collect::<Vec<_>>());
        let mut columns = Vec::with_capacity(self.spec.output_schema.fields().len());
        for column in &batch.columns()[..self.spec.probe_output] {
            columns.push(take(column.as_ref(), &probe, None)?);
        }
        for (c, column) in table.columns().iter().enumerate() {
            let field = self.spec.joined_schema.field(self.spec.probe_output + c);
            columns.push(if table.num_rows() == 0 {
                new_null_array(field.data_type(), pairs.len())
            } else {
                take(column.as_ref(), &rows, None)?
            });
        }
        let schema = if output && self.spec.probe_changelog {
            let kinds = batch
                .column_by_name(ROW_KIND_COLUMN)
                .ok_or_else(|| Error::Internal("a changelog probe has no row-kind column".into()))?;
            columns.push(take(kinds.as_ref(), &probe, None)?);
            self.spec.output_schema.clone()
        } else {
            self.spec.joined_schema.clone()
        };
        let options = RecordBatchOptions::new().with_row_count(Some(pairs.len()));
        Ok(RecordBatch::try_new_with_options(schema, columns, &options)?)
    }
}

/// Reads every file of `table` (as subtask 0 of 1: the whole table).
fn read_table(table: &DimensionTable, info: &TaskInfo) -> Result<RecordBatch> {
    let mut source = FileSource::new(table.file_schema.clone(), table.config.clone())?;
    let mut ctx = SourceContext {
        info: TaskInfo {
            subtask: SubtaskIndex(0),
            parallelism: 1,
            restored_checkpoint: None,
            ..info.clone()
        },
        clock: Arc::new(SystemClock),
        restored: Vec::new(),
        batch_size: 8192,
    };
    source.open(&mut ctx)?;
    let mut batches = Vec::new();
    loop {
        match source.poll_batch()? {
            SourcePoll::Batch { batch, .. } => batches.push(batch),
            SourcePoll::SplitFinished(_) => {}
            SourcePoll::Finished => break,
            SourcePoll::Pending => {
                return Err(Error::Config(format!(
                    "lookup table {}: a continuously monitored directory is not a bounded table",
                    table.config.path.display()
                )))
            }
        }
    }
    Ok(concat_batches(&table.file_schema, &batches)?)
}

/// The table's rows after `steps`.
fn shape(mut rows: RecordBatch, steps: &[DimensionStep]) -> Result<RecordBatch> {
    let eval = |e: datafusion::error::DataFusionError| Error::UserFunction(format!("reading a lookup table: {e}"));
    for step in steps {
        rows = match step {
            DimensionStep::Project(exprs, schema) => {
                let columns = exprs
                    .iter()
                    .map(|e| e.evaluate(&rows).and_then(|v| v.into_array(rows.num_rows())))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(eval)?;
                let options = RecordBatchOptions::new().with_row_count(Some(rows.num_rows()));
                RecordBatch::try_new_with_options(schema.clone(), columns, &options)?
            }
            DimensionStep::Filter(condition) => {
                let mask = condition
                    .evaluate(&rows)
                    .and_then(|v| v.into_array(rows.num_rows()))
                    .map_err(eval)?;
                let mask = mask
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| Error::Internal("a lookup table filter did not evaluate to booleans".into()))?;
                filter_record_batch(&rows, mask)?
            }
        };
    }
    Ok(rows)
}

/// The table's rows indexed by their key (rows with a NULL key are left out: they match
/// nothing).
fn index(rows: RecordBatch, keys: &[Arc<dyn PhysicalExpr>]) -> Result<Index> {
    let key_columns = keys
        .iter()
        .map(|e| e.evaluate(&rows).and_then(|v| v.into_array(rows.num_rows())))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::UserFunction(format!("computing a lookup table's key: {e}")))?;
    let converter = RowConverter::new(
        key_columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let encoded = converter.convert_columns(&key_columns)?;
    let mut by_key: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
    for i in 0..rows.num_rows() {
        if key_columns.iter().any(|c| c.is_null(i)) {
            continue;
        }
        by_key
            .entry(encoded.row(i).as_ref().to_vec())
            .or_default()
            .push(i as u32);
    }
    Ok(Index {
        rows,
        converter,
        by_key,
    })
}

impl Operator for LookupJoinOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let table = &self.spec.dimension;
        let rows = shape(read_table(table, ctx.info())?, &table.steps)?;
        let loaded = index(rows, &table.keys)?;
        self.index = Some(loaded);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(joined) = self.join_batch(&batch)? {
            out.emit(joined);
        }
        Ok(())
    }
}

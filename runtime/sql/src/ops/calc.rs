//! `Calc`: the stateless operator of a SQL job. It evaluates an optional filter and a list of
//! projections (DataFusion physical expressions) over every batch, so that `WHERE`, `SELECT`
//! lists, `CASE`, `CAST` and every DataFusion scalar function run vectorized on Arrow batches.

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_expr::PhysicalExpr;
use freshet_core::{Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use std::fmt;
use std::sync::Arc;

/// A filter followed by a projection, both over the input batch's columns.
#[derive(Clone)]
pub struct CalcProgram {
    /// Rows for which this is not true are dropped (before projecting).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// One expression per output column.
    pub projections: Vec<Arc<dyn PhysicalExpr>>,
    /// The output schema (one field per projection).
    pub output_schema: SchemaRef,
}

impl fmt::Debug for CalcProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalcProgram")
            .field("filter", &self.filter.as_ref().map(|e| e.to_string()))
            .field(
                "projections",
                &self.projections.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn df_error(what: &str, e: datafusion::error::DataFusionError) -> Error {
    Error::UserFunction(format!("{what}: {e}"))
}

impl CalcProgram {
    /// Applies the program to `batch`; `None` when every row is filtered out.
    pub fn apply(&self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let filtered;
        let input = match &self.filter {
            Some(filter) => {
                let mask = filter
                    .evaluate(batch)
                    .and_then(|v| v.into_array(batch.num_rows()))
                    .map_err(|e| df_error("evaluating a WHERE condition", e))?;
                let mask = mask
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| Error::Internal("a filter did not evaluate to booleans".into()))?;
                if mask.true_count() == 0 {
                    return Ok(None);
                }
                if mask.true_count() == batch.num_rows() && mask.null_count() == 0 {
                    batch
                } else {
                    filtered = filter_record_batch(batch, mask)?;
                    &filtered
                }
            }
            None => batch,
        };
        let rows = input.num_rows();
        let columns = self
            .projections
            .iter()
            .map(|p| p.evaluate(input).and_then(|v| v.into_array(rows)))
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()
            .map_err(|e| df_error("evaluating a SELECT expression", e))?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            self.output_schema.clone(),
            columns,
            &options,
        )?))
    }
}

/// The operator running a [`CalcProgram`] on every batch.
pub struct CalcOperator {
    program: CalcProgram,
}

impl CalcOperator {
    /// An operator running `program`.
    pub fn new(program: CalcProgram) -> Self {
        Self { program }
    }
}

impl Operator for CalcOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(result) = self.program.apply(&batch)? {
            out.emit(result);
        }
        Ok(())
    }
}

/// Forwards batches of several inputs (`UNION ALL`) under one schema: the inputs have the same
/// column types, only their names may differ.
pub struct UnionOperator {
    schema: SchemaRef,
}

impl UnionOperator {
    /// A union producing `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        Self { schema }
    }
}

impl Operator for UnionOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let relabelled = RecordBatch::try_new_with_options(self.schema.clone(), batch.columns().to_vec(), &options)?;
        out.emit(relabelled);
        Ok(())
    }
}

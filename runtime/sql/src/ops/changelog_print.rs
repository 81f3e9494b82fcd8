//! The print sink for changelog streams: like the `print` connector (same options and line
//! prefixes), but each text line starts with its row's kind (`+I[..]`, `-U[..]`, `+U[..]`,
//! `-D[..]`), and each JSON object carries a `"rowkind"` field. The trailing row-kind column is
//! not printed as a value.

use crate::ops::changelog::RowKind;
use arrow::array::{Array, ArrayRef, Int8Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use freshet_connectors::print::{line_prefix, write_json_rows, write_text_rows, PrintConfig, PrintFormat};
use freshet_core::{Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use std::io::Write;
use std::sync::Arc;

/// Prints a changelog with its row kinds.
pub struct ChangelogPrintSink {
    config: PrintConfig,
    prefix: String,
}

impl ChangelogPrintSink {
    /// A sink printing to stdout (or stderr per the config).
    pub fn new(config: PrintConfig) -> Self {
        Self {
            config,
            prefix: String::new(),
        }
    }

    /// The lines printed for `batch` (whose last column is the row kind).
    pub fn render(&self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let last = batch
            .num_columns()
            .checked_sub(1)
            .ok_or_else(|| Error::Internal("a changelog batch without columns".into()))?;
        let kinds = batch
            .column(last)
            .as_any()
            .downcast_ref::<Int8Array>()
            .ok_or_else(|| Error::Internal("the row-kind column is not Int8".into()))?;
        let kind = |row: usize| RowKind::from_i8(kinds.value(row)).map_or("?", RowKind::short);
        let values = batch.project(&(0..last).collect::<Vec<_>>())?;
        let mut buf = Vec::new();
        match self.config.format {
            PrintFormat::Text => write_text_rows(&values, &self.prefix, kind, &mut buf)?,
            PrintFormat::Json => {
                let mut fields: Vec<Field> = values.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.push(Field::new("rowkind", DataType::Utf8, false));
                let mut columns: Vec<ArrayRef> = values.columns().to_vec();
                columns.push(Arc::new(StringArray::from_iter_values(
                    (0..values.num_rows()).map(kind),
                )));
                let with_kind = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
                write_json_rows(&with_kind, &self.prefix, &mut buf)?;
            }
        }
        Ok(buf)
    }
}

impl Operator for ChangelogPrintSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.prefix = line_prefix(self.config.identifier.as_deref(), ctx.info());
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        let buf = self.render(&batch)?;
        let written = if self.config.standard_error {
            std::io::stderr().lock().write_all(&buf)
        } else {
            std::io::stdout().lock().write_all(&buf)
        };
        written.map_err(|e| Error::Internal(format!("print: writing: {e}")))
    }
}

//! Reading a Parquet file from a row offset.
//!
//! The table's columns are looked up by name among the file's top-level columns (only those
//! are decoded) and cast to the declared types, so a file written with, say, nanosecond
//! timestamps or 32-bit integers reads into a table declared with `TIMESTAMP(3)` or `BIGINT`.
//! A file's position is the number of rows read, which is what the source checkpoints. The
//! bytes come from a local file or, for an object, from the whole object fetched at open.

use super::reader::Chunk;
use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::reader::ChunkReader;

/// Builds the reader once the batch size is known.
type BuildReader = Box<dyn FnOnce(usize) -> std::result::Result<ParquetRecordBatchReader, ParquetError> + Send>;

/// An open Parquet file.
pub struct ParquetFile {
    /// Its path or URL, for errors.
    path: String,
    schema: SchemaRef,
    /// Run on the first read, when the batch size is known.
    pending: Option<BuildReader>,
    reader: Option<ParquetRecordBatchReader>,
    /// For each table column, its index in the decoded (projected) batches.
    columns: Vec<usize>,
    /// Rows read so far.
    rows: u64,
}

impl ParquetFile {
    /// Opens the file `path` (a path or URL, for errors) whose bytes `data` gives, and whose
    /// first `rows` rows were read already, as records of `schema`.
    pub fn open<T: ChunkReader + 'static>(path: &str, data: T, schema: &SchemaRef, rows: u64) -> Result<Self> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(data).map_err(|e| unreadable(path, e))?;
        let file_schema = builder.schema().clone();
        let mut roots = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let index = file_schema
                .fields()
                .iter()
                .position(|f| f.name() == field.name())
                .or_else(|| {
                    file_schema
                        .fields()
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(field.name()))
                })
                .ok_or_else(|| {
                    let names: Vec<&str> = file_schema.fields().iter().map(|f| f.name().as_str()).collect();
                    Error::Config(format!(
                        "file source: Parquet file '{path}' has no column '{}' (its columns: {})",
                        field.name(),
                        names.join(", ")
                    ))
                })?;
            roots.push(index);
        }
        // Decoded batches hold the selected roots in file order, each once.
        let mut selected = roots.clone();
        selected.sort_unstable();
        selected.dedup();
        let columns = roots
            .iter()
            .map(|r| selected.binary_search(r).unwrap_or_default())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), selected);
        let builder = builder.with_projection(mask).with_offset(rows as usize);
        let build: BuildReader = Box::new(move |batch_size| builder.with_batch_size(batch_size).build());
        Ok(Self {
            path: path.to_string(),
            schema: schema.clone(),
            pending: Some(build),
            reader: None,
            columns,
            rows,
        })
    }

    /// Reads up to `max_rows` rows.
    pub fn read(&mut self, max_rows: usize) -> Result<Chunk> {
        if let Some(build) = self.pending.take() {
            self.reader = Some(build(max_rows.max(1)).map_err(|e| unreadable(&self.path, e))?);
        }
        let next = match self.reader.as_mut() {
            Some(reader) => reader.next(),
            None => None,
        };
        let batch = match next {
            None => {
                self.reader = None;
                None
            }
            Some(batch) => Some(self.conform(batch.map_err(|e| unreadable(&self.path, e))?)?),
        };
        if let Some(b) = &batch {
            self.rows += b.num_rows() as u64;
        }
        Ok(Chunk {
            eof: batch.is_none(),
            batch,
            offset: self.rows,
            line: self.rows,
        })
    }

    /// The decoded columns in table order, cast to the table's types.
    fn conform(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let arrays = self
            .schema
            .fields()
            .iter()
            .zip(&self.columns)
            .map(|(field, &i)| {
                let column = batch.column(i);
                if column.data_type() == field.data_type() {
                    return Ok(column.clone());
                }
                arrow::compute::cast(column, field.data_type()).map_err(|e| {
                    Error::Config(format!(
                        "file source: Parquet file '{}' column '{}' of type {} does not convert to {}: {e}",
                        self.path,
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                })
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| {
            Error::Config(format!(
                "file source: Parquet file '{}' rows {}..: {e}",
                self.path,
                self.rows + 1
            ))
        })
    }
}

fn unreadable(path: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("file source: unreadable Parquet file '{path}': {e}"))
}

//! Encoding a part file's batches into bytes: JSON lines, CSV (a header line first) or
//! Parquet (Snappy-compressed, a row group buffered in memory, the footer written on finish),
//! into any writer: a local file, or the in-memory buffer an object store upload drains.

use super::FileFormat;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use parking_lot::Mutex;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::io::Write;
use std::sync::Arc;

/// The encoder of one part file.
pub enum PartEncoder<W: Write + Send> {
    /// JSON lines or CSV, encoded batch by batch.
    Text {
        /// Where the bytes go.
        out: W,
        /// JSON lines or CSV.
        format: FileFormat,
        /// Bytes written so far.
        bytes: u64,
        /// The file, for errors.
        name: String,
    },
    /// Parquet.
    Parquet {
        /// The writer (which buffers a row group).
        writer: Box<ArrowWriter<W>>,
        /// The file, for errors.
        name: String,
    },
}

impl<W: Write + Send> PartEncoder<W> {
    /// An encoder of batches of `schema` in `format` into `out`; `name` (a path or URL)
    /// appears in errors.
    pub fn new(format: FileFormat, schema: &SchemaRef, out: W, name: String) -> Result<Self> {
        Ok(match format {
            FileFormat::Parquet => {
                let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
                let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))
                    .map_err(|e| Error::Internal(format!("opening Parquet sink file {name}: {e}")))?;
                Self::Parquet {
                    writer: Box::new(writer),
                    name,
                }
            }
            FileFormat::Json | FileFormat::Csv => Self::Text {
                out,
                format,
                bytes: 0,
                name,
            },
        })
    }

    /// Encodes `batch`; returns the file's size so far (for Parquet, with the buffered row
    /// group's estimated size).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<u64> {
        match self {
            Self::Text {
                out,
                format,
                bytes,
                name,
            } => {
                let encoded = encode_text(*format, batch, *bytes == 0)?;
                out.write_all(&encoded)
                    .map_err(|e| Error::io(format!("writing sink file {name}"), e))?;
                *bytes += encoded.len() as u64;
                Ok(*bytes)
            }
            Self::Parquet { writer, name } => {
                writer
                    .write(batch)
                    .map_err(|e| Error::Internal(format!("writing Parquet sink file {name}: {e}")))?;
                Ok((writer.bytes_written() + writer.in_progress_size()) as u64)
            }
        }
    }

    /// Writes what is buffered (for Parquet, the last row group and the footer) and returns
    /// the writer.
    pub fn finish(self) -> Result<W> {
        match self {
            Self::Text { mut out, name, .. } => {
                out.flush()
                    .map_err(|e| Error::io(format!("flushing sink file {name}"), e))?;
                Ok(out)
            }
            Self::Parquet { writer, name } => writer
                .into_inner()
                .map_err(|e| Error::Internal(format!("finishing Parquet sink file {name}: {e}"))),
        }
    }
}

/// One batch as JSON lines, or as CSV rows (after a header line if `header`).
fn encode_text(format: FileFormat, batch: &RecordBatch, header: bool) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    match format {
        FileFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
            w.write(batch)?;
            w.finish()?;
        }
        FileFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(header).build(&mut buf);
            w.write(batch)?;
        }
        FileFormat::Parquet => return Err(Error::Internal("Parquet batches are not encoded as text".into())),
    }
    Ok(buf)
}

/// An in-memory buffer that an encoder writes to while its owner takes the bytes out.
#[derive(Clone, Debug, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// How many bytes are buffered.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Takes the first `n` bytes (all if fewer are buffered).
    pub fn take_front(&self, n: usize) -> Vec<u8> {
        let mut buf = self.0.lock();
        let at = n.min(buf.len());
        let rest = buf.split_off(at);
        std::mem::replace(&mut *buf, rest)
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    #[test]
    fn csv_has_one_header_and_the_buffer_drains_from_the_front() {
        let buffer = SharedBuffer::default();
        let b = batch(&[1, 2]);
        let mut encoder = PartEncoder::new(FileFormat::Csv, &b.schema(), buffer.clone(), "t".into()).unwrap();
        assert_eq!(encoder.write(&b).unwrap(), 6);
        assert_eq!(encoder.write(&batch(&[3])).unwrap(), 8);
        assert_eq!(buffer.take_front(4), b"v\n1\n");
        assert_eq!(buffer.len(), 4);
        encoder.finish().unwrap();
        assert_eq!(buffer.take_front(100), b"2\n3\n");
        assert_eq!(buffer.len(), 0);
    }
}

//! Reading one file from its checkpointed position.
//!
//! CSV and JSON lines are read from a byte offset in chunks of whole lines, decoded into record
//! batches by arrow's CSV or JSON decoder; the offset after a chunk is always the start of the
//! next unread line, which is what the source checkpoints. The lines come from any buffered
//! reader positioned at that offset: a local file, or ranged GETs of an object
//! ([`super::ranged`]). Parquet files are read from a row offset (see [`super::parquet_file`]).

use super::parquet_file::ParquetFile;
use super::FileFormat;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::io::BufRead;

/// How records are decoded.
#[derive(Clone, Debug)]
pub struct Decoding {
    /// The records' schema.
    pub schema: SchemaRef,
    /// CSV, JSON lines or Parquet.
    pub format: FileFormat,
    /// Whether a CSV file's first line is a header (skipped).
    pub csv_header: bool,
    /// The CSV field delimiter.
    pub csv_delimiter: u8,
}

impl Decoding {
    /// Decodes `buf` (whole lines) into one batch of at most `rows` rows.
    fn decode(&self, buf: &[u8], rows: usize) -> std::result::Result<Option<RecordBatch>, ArrowError> {
        match self.format {
            FileFormat::Csv => {
                let mut d = arrow::csv::ReaderBuilder::new(self.schema.clone())
                    .with_header(false)
                    .with_delimiter(self.csv_delimiter)
                    .with_batch_size(rows.max(1))
                    .build_decoder();
                feed(buf, |rest| d.decode(rest))?;
                d.decode(&[])?;
                d.flush()
            }
            FileFormat::Json => {
                let mut d = arrow::json::ReaderBuilder::new(self.schema.clone())
                    .with_batch_size(rows.max(1))
                    .build_decoder()?;
                feed(buf, |rest| d.decode(rest))?;
                d.flush()
            }
            FileFormat::Parquet => Err(ArrowError::InvalidArgumentError(
                "Parquet files are not read as lines".into(),
            )),
        }
    }
}

/// Hands `buf` to a push decoder (arrow's CSV and JSON decoders share this contract, not a
/// trait) until it is consumed or the decoder takes no more.
fn feed(
    buf: &[u8],
    mut decode: impl FnMut(&[u8]) -> std::result::Result<usize, ArrowError>,
) -> std::result::Result<(), ArrowError> {
    let mut at = 0;
    while at < buf.len() {
        let n = decode(&buf[at..])?;
        if n == 0 {
            break;
        }
        at += n;
    }
    Ok(())
}

/// An open file of any format, positioned where reading resumes.
pub enum OpenFile {
    /// CSV or JSON lines.
    Text(TextFile),
    /// Parquet.
    Parquet(ParquetFile),
}

impl OpenFile {
    /// Reads up to `max_rows` records.
    pub fn read(&mut self, decoding: &Decoding, max_rows: usize) -> Result<Chunk> {
        match self {
            Self::Text(f) => f.read(decoding, max_rows),
            Self::Parquet(f) => f.read(max_rows),
        }
    }
}

/// A text file positioned at the start of a line.
pub struct TextFile {
    /// Its path or URL, for errors.
    name: String,
    reader: Box<dyn BufRead + Send>,
    /// Byte offset of the next unread line.
    offset: u64,
    /// Number of lines before `offset` (the next line is `line + 1`, counting from 1).
    line: u64,
    eof: bool,
    lines: Vec<u8>,
    scratch: Vec<u8>,
    /// (physical line number, byte range in `lines`) of each record line of the chunk.
    spans: Vec<(u64, usize, usize)>,
}

/// What one read produced.
pub struct Chunk {
    /// The decoded records, if the chunk had any.
    pub batch: Option<RecordBatch>,
    /// Offset of the next unread line.
    pub offset: u64,
    /// Lines consumed up to `offset`.
    pub line: u64,
    /// Whether the file is exhausted.
    pub eof: bool,
}

impl TextFile {
    /// The file `name` (a path or URL, for errors) read by `reader` from `offset`, where `line`
    /// lines precede it.
    pub fn new(name: String, reader: Box<dyn BufRead + Send>, offset: u64, line: u64) -> Self {
        Self {
            name,
            reader,
            offset,
            line,
            eof: false,
            lines: Vec::new(),
            scratch: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Reads up to `max_rows` record lines (skipping blank lines and a CSV header) and decodes
    /// them. A line that does not decode is an error naming the file and the line number.
    pub fn read(&mut self, decoding: &Decoding, max_rows: usize) -> Result<Chunk> {
        self.lines.clear();
        self.spans.clear();
        while !self.eof && self.spans.len() < max_rows {
            self.scratch.clear();
            let n = self.reader.read_until(b'\n', &mut self.scratch).map_err(|e| {
                Error::io(
                    format!("file source: reading '{}' line {}", self.name, self.line + 1),
                    e,
                )
            })?;
            if n == 0 {
                self.eof = true;
                break;
            }
            self.offset += n as u64;
            self.line += 1;
            let is_header = self.line == 1 && decoding.csv_header && decoding.format == FileFormat::Csv;
            if is_header || self.scratch.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let start = self.lines.len();
            self.lines.extend_from_slice(&self.scratch);
            if self.lines.last() != Some(&b'\n') {
                self.lines.push(b'\n');
            }
            self.spans.push((self.line, start, self.lines.len()));
        }
        let batch = if self.spans.is_empty() {
            None
        } else {
            match decoding.decode(&self.lines, self.spans.len()) {
                Ok(b) => b,
                Err(e) => return Err(self.locate_error(decoding, e)),
            }
        };
        Ok(Chunk {
            batch,
            offset: self.offset,
            line: self.line,
            eof: self.eof,
        })
    }

    /// Finds the first line of the chunk that fails to decode on its own.
    fn locate_error(&self, decoding: &Decoding, chunk_error: ArrowError) -> Error {
        let kind = match decoding.format {
            FileFormat::Csv => "CSV",
            FileFormat::Json => "JSON",
            FileFormat::Parquet => "Parquet",
        };
        for (line, start, end) in &self.spans {
            if let Err(e) = decoding.decode(&self.lines[*start..*end], 1) {
                return Error::Config(format!(
                    "file source: malformed {kind} record in '{}' line {line}: {e}",
                    self.name
                ));
            }
        }
        let (first, last) = (
            self.spans.first().map_or(0, |s| s.0),
            self.spans.last().map_or(0, |s| s.0),
        );
        Error::Config(format!(
            "file source: malformed {kind} records in '{}' lines {first}..={last}: {chunk_error}",
            self.name
        ))
    }
}

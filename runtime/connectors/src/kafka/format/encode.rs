//! Encoding one row of a batch as a record key or value.

use super::avro::AvroEncoder;
use super::decode::check_raw;
use super::RecordFormat;
use arrow::array::{Array, AsArray, StructArray};
use arrow::datatypes::{DataType, Field, FieldRef, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use freshet_core::{Error, Result};
use std::sync::Arc;

/// Encodes rows of batches of one schema in one format.
pub struct PayloadEncoder {
    format: RecordFormat,
    schema: SchemaRef,
    csv_delimiter: u8,
    avro: Option<AvroEncoder>,
}

/// The payloads of every row of a batch, in one buffer.
#[derive(Debug, Default)]
pub struct EncodedRows {
    data: Vec<u8>,
    /// Per row: the range of its bytes in `data`, or `None` for no payload (a NULL raw value).
    spans: Vec<Option<(usize, usize)>>,
    /// Where the next row's bytes start.
    row_start: usize,
}

impl EncodedRows {
    /// The payload of row `row` (`None`: none; also for a row out of range).
    pub fn get(&self, row: usize) -> Option<&[u8]> {
        let (start, end) = (*self.spans.get(row)?)?;
        self.data.get(start..end)
    }

    /// Ends the current row: its bytes are those written since the previous row ended.
    fn close_row(&mut self) {
        self.spans.push(Some((self.row_start, self.data.len())));
        self.row_start = self.data.len();
    }

    /// Rows encoded.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no rows were encoded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl PayloadEncoder {
    /// An encoder of rows of `schema`. Avro writes with `avro_schema` (JSON; fields matched by
    /// name) or a schema derived from the columns.
    pub fn new(format: RecordFormat, schema: SchemaRef, csv_delimiter: u8, avro_schema: Option<&str>) -> Result<Self> {
        let avro = match format {
            RecordFormat::Avro => Some(match avro_schema {
                Some(json) => AvroEncoder::with_writer_schema(schema.clone(), &super::avro::AvroSchema::parse(json)?)?,
                None => AvroEncoder::new(schema.clone())?,
            }),
            RecordFormat::Raw => {
                check_raw(&schema)?;
                None
            }
            RecordFormat::Json | RecordFormat::Csv => None,
        };
        Ok(Self {
            format,
            schema,
            csv_delimiter,
            avro,
        })
    }

    /// Encodes every row of `batch` (of this encoder's schema).
    pub fn encode(&self, batch: &RecordBatch) -> Result<EncodedRows> {
        let same_types = batch.num_columns() == self.schema.fields().len()
            && batch
                .schema()
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.data_type() == b.data_type());
        if !same_types {
            return Err(Error::Internal(format!(
                "kafka: a batch of {:?} for an encoder of {:?}",
                batch.schema(),
                self.schema
            )));
        }
        let rows = batch.num_rows();
        let mut out = EncodedRows {
            data: Vec::with_capacity(rows * 64),
            spans: Vec::with_capacity(rows),
            row_start: 0,
        };
        match self.format {
            RecordFormat::Json => {
                let array = StructArray::from(batch.clone());
                let field: FieldRef = Arc::new(Field::new("row", array.data_type().clone(), false));
                let options = arrow::json::writer::EncoderOptions::default();
                let mut encoder = arrow::json::writer::make_encoder(&field, &array, &options)?;
                for row in 0..rows {
                    encoder.encode(row, &mut out.data);
                    out.close_row();
                }
            }
            RecordFormat::Csv => {
                let options = FormatOptions::default().with_null("");
                let formatters = batch
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let mut text = String::new();
                for row in 0..rows {
                    for (i, (column, formatter)) in batch.columns().iter().zip(&formatters).enumerate() {
                        if i > 0 {
                            out.data.push(self.csv_delimiter);
                        }
                        if column.is_null(row) {
                            continue;
                        }
                        text.clear();
                        use std::fmt::Write;
                        write!(text, "{}", formatter.value(row))
                            .map_err(|e| Error::Serde(format!("kafka: formatting a CSV field: {e}")))?;
                        write_csv_field(&text, self.csv_delimiter, &mut out.data);
                    }
                    out.close_row();
                }
            }
            RecordFormat::Raw => {
                let column = batch.column(0);
                for row in 0..rows {
                    if column.is_null(row) {
                        out.spans.push(None);
                        continue;
                    }
                    match column.data_type() {
                        DataType::Utf8 => out
                            .data
                            .extend_from_slice(column.as_string::<i32>().value(row).as_bytes()),
                        _ => out.data.extend_from_slice(column.as_binary::<i32>().value(row)),
                    }
                    out.close_row();
                }
            }
            RecordFormat::Avro => {
                let Some(avro) = &self.avro else {
                    return Err(Error::Internal("kafka: no Avro encoder".into()));
                };
                for row in 0..rows {
                    avro.encode(batch, row, &mut out.data)?;
                    out.close_row();
                }
            }
        }
        Ok(out)
    }
}

/// Writes one CSV field, quoted when it holds the delimiter, a quote or a line break.
fn write_csv_field(text: &str, delimiter: u8, out: &mut Vec<u8>) {
    let needs_quotes = text
        .bytes()
        .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs_quotes {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

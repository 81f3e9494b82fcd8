//! Decoding many payloads into one batch, isolating the malformed ones.

use super::avro::{AvroDecoder, AvroSchema};
use super::RecordFormat;
use arrow::array::{ArrayRef, BinaryArray, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use freshet_core::{Error, Result};
use std::sync::Arc;

/// What [`PayloadDecoder::decode`] produced.
#[derive(Debug)]
pub struct DecodedPayloads {
    /// One row per good payload, in payload order.
    pub batch: RecordBatch,
    /// The index and the reason of every malformed payload, in order.
    pub malformed: Vec<(usize, String)>,
}

/// Decodes payloads of one format into rows of a schema.
pub struct PayloadDecoder {
    format: RecordFormat,
    schema: SchemaRef,
    csv_delimiter: u8,
    avro: Option<AvroDecoder>,
}

impl PayloadDecoder {
    /// A decoder into `schema`. Raw needs exactly one STRING or BYTES column; Avro reads with
    /// `avro_schema` (JSON) as the writer schema, or one derived from `schema`.
    pub fn new(format: RecordFormat, schema: SchemaRef, csv_delimiter: u8, avro_schema: Option<&str>) -> Result<Self> {
        let avro = match format {
            RecordFormat::Avro => {
                let writer = match avro_schema {
                    Some(json) => AvroSchema::parse(json)?,
                    None => AvroSchema::for_arrow(&schema)?,
                };
                Some(AvroDecoder::new(&writer, schema.clone())?)
            }
            RecordFormat::Raw => {
                check_raw(&schema)?;
                None
            }
            RecordFormat::Json => {
                arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
                None
            }
            RecordFormat::Csv => None,
        };
        Ok(Self {
            format,
            schema,
            csv_delimiter,
            avro,
        })
    }

    /// The schema of the rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes every payload (`None`: the record has none, a tombstone).
    pub fn decode(&mut self, payloads: &[Option<&[u8]>]) -> Result<DecodedPayloads> {
        if self.format == RecordFormat::Raw {
            return self.raw(payloads);
        }
        if let Some(avro) = self.avro.as_mut() {
            let mut malformed = Vec::new();
            for (i, p) in payloads.iter().enumerate() {
                let outcome = match p {
                    Some(bytes) => avro.append(bytes).map_err(|e| e.to_string()),
                    None => Err(TOMBSTONE.to_string()),
                };
                if let Err(why) = outcome {
                    malformed.push((i, why));
                }
            }
            return Ok(DecodedPayloads {
                batch: avro.flush()?,
                malformed,
            });
        }
        if payloads.iter().all(Option::is_some) {
            if let Ok(batch) = self.text_batch(payloads.iter().flatten().copied(), payloads.len()) {
                if batch.num_rows() == payloads.len() {
                    return Ok(DecodedPayloads {
                        batch,
                        malformed: Vec::new(),
                    });
                }
            }
        }
        // Slow path: one payload at a time.
        let mut good = Vec::new();
        let mut malformed = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let Some(bytes) = p else {
                malformed.push((i, TOMBSTONE.to_string()));
                continue;
            };
            match self.text_batch(std::iter::once(*bytes), 1) {
                Ok(batch) if batch.num_rows() == 1 => good.push(batch),
                Ok(batch) => malformed.push((i, format!("expected one record, found {}", batch.num_rows()))),
                Err(e) => malformed.push((i, e.to_string())),
            }
        }
        Ok(DecodedPayloads {
            batch: concat_batches(&self.schema, &good)?,
            malformed,
        })
    }

    /// JSON or CSV payloads, one record each, decoded together.
    fn text_batch<'a>(&self, payloads: impl Iterator<Item = &'a [u8]>, rows: usize) -> Result<RecordBatch> {
        let rows = rows.max(1);
        let batch = match self.format {
            RecordFormat::Json => {
                let mut d = arrow::json::ReaderBuilder::new(self.schema.clone())
                    .with_batch_size(rows)
                    .build_decoder()?;
                for p in payloads {
                    if p.iter().all(u8::is_ascii_whitespace) {
                        return Err(Error::Serde("empty JSON payload".into()));
                    }
                    feed(p, |b| d.decode(b))?;
                    feed(b"\n", |b| d.decode(b))?;
                }
                d.flush()?
            }
            RecordFormat::Csv => {
                let mut d = arrow::csv::ReaderBuilder::new(self.schema.clone())
                    .with_header(false)
                    .with_delimiter(self.csv_delimiter)
                    .with_batch_size(rows + 1)
                    .build_decoder();
                for p in payloads {
                    feed(p, |b| d.decode(b))?;
                    feed(b"\n", |b| d.decode(b))?;
                }
                d.decode(&[])?;
                d.flush()?
            }
            RecordFormat::Raw | RecordFormat::Avro => None,
        };
        Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone())))
    }

    fn raw(&self, payloads: &[Option<&[u8]>]) -> Result<DecodedPayloads> {
        let field = self.schema.field(0);
        let mut malformed = Vec::new();
        let column: ArrayRef = match field.data_type() {
            DataType::Utf8 => {
                let mut values = Vec::with_capacity(payloads.len());
                for (i, p) in payloads.iter().enumerate() {
                    match p.map(std::str::from_utf8) {
                        None if field.is_nullable() => values.push(None),
                        None => malformed.push((i, TOMBSTONE.to_string())),
                        Some(Ok(s)) => values.push(Some(s)),
                        Some(Err(e)) => malformed.push((i, format!("not UTF-8: {e}"))),
                    }
                }
                Arc::new(StringArray::from(values))
            }
            _ => {
                let mut values = Vec::with_capacity(payloads.len());
                for (i, p) in payloads.iter().enumerate() {
                    match p {
                        None if !field.is_nullable() => malformed.push((i, TOMBSTONE.to_string())),
                        other => values.push(*other),
                    }
                }
                Arc::new(BinaryArray::from(values))
            }
        };
        let rows = column.len();
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            vec![column],
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        Ok(DecodedPayloads { batch, malformed })
    }
}

const TOMBSTONE: &str = "the record has no value (a tombstone)";

/// Raw payloads fill exactly one STRING or BYTES column.
pub(super) fn check_raw(schema: &SchemaRef) -> Result<()> {
    match schema.fields().as_ref() {
        [f] if matches!(f.data_type(), DataType::Utf8 | DataType::Binary) => Ok(()),
        fields => Err(Error::Config(format!(
            "format 'raw' needs exactly one STRING or BYTES column, found [{}]",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Hands `buf` to a push decoder (arrow's CSV and JSON decoders share this contract) until it
/// is consumed.
fn feed(
    buf: &[u8],
    mut decode: impl FnMut(&[u8]) -> std::result::Result<usize, arrow::error::ArrowError>,
) -> Result<()> {
    let mut at = 0;
    while at < buf.len() {
        let n = decode(&buf[at..])?;
        if n == 0 {
            return Err(Error::Serde("the decoder took no more input".into()));
        }
        at += n;
    }
    Ok(())
}

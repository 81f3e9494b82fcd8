//! Record formats of Kafka keys and values: JSON, CSV, raw bytes and Avro.
//!
//! A source decodes the payloads of many records at once ([`PayloadDecoder`]): the fast path
//! hands them all to one decoder; when that fails, each payload is decoded alone, so that
//! exactly the malformed records are reported (with their index) and every good one is kept.
//! A sink encodes one row at a time ([`PayloadEncoder`]).

pub mod avro;
mod decode;
mod encode;

pub use decode::{DecodedPayloads, PayloadDecoder};
pub use encode::{EncodedRows, PayloadEncoder};

use serde::{Deserialize, Serialize};

/// The encoding of a key or a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// One JSON object, its fields named like the columns.
    Json,
    /// One line of comma (or `csv.field-delimiter`) separated values, in column order.
    Csv,
    /// The bytes as they are, in one STRING (UTF-8) or BYTES column.
    Raw,
    /// An Avro binary datum of a record (writer schema: `avro.schema`, or derived from the
    /// columns).
    Avro,
}

impl RecordFormat {
    /// Parses `json`, `csv`, `raw` or `avro`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "raw" => Some(Self::Raw),
            "avro" => Some(Self::Avro),
            _ => None,
        }
    }
}

/// How a table's columns map to record keys and values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatSpec {
    /// The value's format.
    pub value: RecordFormat,
    /// The key's format, if key columns are declared.
    pub key: Option<RecordFormat>,
    /// Physical columns read from (written to) the key, in key order.
    pub key_fields: Vec<String>,
    /// Whether the value also holds the key columns (`value.fields-include` = `ALL`).
    pub value_includes_key: bool,
    /// The CSV delimiter.
    pub csv_delimiter: u8,
    /// The Avro writer schema of values (JSON), if given.
    pub avro_schema: Option<String>,
}

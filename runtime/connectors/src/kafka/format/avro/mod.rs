//! The `avro` format: Arrow rows to and from Avro's binary encoding (Apache Avro 1.11).
//!
//! # Scope
//!
//! This module reads and writes *raw datums*: the binary encoding of one value of the writer
//! schema, with nothing around it. Object container files, single-object encoding (the `C3 01`
//! marker and fingerprint) and the Confluent wire format (magic byte and schema id) are not
//! handled here; strip or add those framings before calling in. Only the binary encoding is
//! supported, not Avro's JSON encoding.
//!
//! - [`AvroSchema`] is a parsed schema: [`AvroSchema::parse`] reads the JSON form (named types
//!   can be referenced by name after their definition; recursive types are rejected),
//!   [`AvroSchema::to_json`] prints it, and [`AvroSchema::for_arrow`] derives a writer schema
//!   from table columns the way Flink's `avro` format does: a record named `record`, nested
//!   records named `record_<column>[_<field>...]`, nullable columns as `["null", T]` with
//!   default `null`.
//! - [`AvroDecoder`] turns datums of a writer schema into Arrow record batches of a target
//!   schema, one all-or-nothing [`append`](AvroDecoder::append) per datum.
//! - [`AvroEncoder`] writes rows of record batches as datums, of the derived schema or of a
//!   given writer schema.
//!
//! # Type mapping
//!
//! | Arrow                          | Avro (written by `for_arrow`)          | Also read from                     |
//! |--------------------------------|----------------------------------------|------------------------------------|
//! | Boolean                        | boolean                                |                                    |
//! | Int8, Int16, Int32             | int                                    | (Int32: int with any logical type) |
//! | Int64                          | long                                   | int, long (any logical type)       |
//! | Float32                        | float                                  | int, long                          |
//! | Float64                        | double                                 | int, long, float                   |
//! | Utf8, LargeUtf8                | string                                 | bytes (must be UTF-8), enum        |
//! | Binary, LargeBinary            | bytes                                  | string, fixed, decimal as bytes    |
//! | Date32                         | int (date)                             |                                    |
//! | Time32(Millisecond)            | int (time-millis)                      |                                    |
//! | Timestamp(Millisecond, _)      | long (timestamp-millis)                | long (local-timestamp-millis)      |
//! | Timestamp(Microsecond, _)      | long (timestamp-micros)                | long (local-timestamp-micros)      |
//! | Decimal128(p, s)               | bytes (decimal(p, s))                  | bytes or fixed decimal(q ≤ p, s)   |
//! | List(T)                        | array of T                             |                                    |
//! | Map(Utf8, V)                   | map of V                               |                                    |
//! | Struct                         | record `record_<path>`                 |                                    |
//! | Time64(Microsecond)            | — (not derived)                        | long (time-micros)                 |
//!
//! A nullable Arrow field is written as `["null", T]`. When reading, a writer union may be read
//! into any column that one of its branches can be read into (a `null` branch then needs a
//! nullable column, else the datum fails); a writer field missing from the target is null in a
//! nullable column and an error otherwise; writer fields without a column are skipped. Int8 and
//! Int16 columns read Avro ints and fail on values out of their range; decimals are checked
//! against the column's precision. The encoder applies the same rules the other way round (a
//! column of one of the Arrow types of a row above can be written as that row's Avro type;
//! Int8/16/32 also as long, Float32 also as double, Utf8 also as bytes or enum (unknown symbols
//! fail), Binary also as fixed (of the right size), timestamps also as local-timestamp,
//! Decimal128(p, s) as a bytes or fixed decimal of scale s and precision ≥ p).
//!
//! Not supported: recursive schemas, Arrow types not in the table (Decimal256, dictionaries,
//! large or fixed-size lists, unions, ...), map keys other than Utf8, Avro decimals read into
//! anything but Decimal128 or binary, and a per-field reader/writer Avro schema resolution
//! (aliases, defaults of fields missing in the writer: the target is an Arrow schema). A datum
//! may hold at most 2^20 array items of a type that takes no bytes (`null`, empty records),
//! which a few bytes could otherwise multiply without bound.
//!
//! # Decoding
//!
//! The decoder reads zig-zag varints and byte strings straight from the datum slice and appends
//! values to plain column vectors (no per-row allocation); a failed datum is undone by cutting
//! the vectors back to the previous row count. Strings are checked to be UTF-8 as they are read.
//!
//! # Errors
//!
//! Schema problems, including a target or writer schema that does not fit the other side, are
//! [`Error::Config`](freshet_core::Error::Config); a datum or value that does not decode or
//! encode is [`Error::Serde`](freshet_core::Error::Serde) saying what was wrong at which field,
//! e.g. `avro: field 'price': expected a long, found end of input after 3 bytes`. Nothing here
//! panics on input.

mod builder;
mod decode;
mod encode;
mod from_arrow;
mod json;
mod parse;
mod plan;
mod reader;
mod schema;
#[cfg(test)]
mod tests;

pub use decode::AvroDecoder;
pub use encode::AvroEncoder;
pub use schema::{AvroSchema, Decimal, EnumSchema, FixedSchema, RecordField, RecordSchema};

//! Printing an [`AvroSchema`] back to its JSON form.

use std::collections::HashSet;
use std::fmt::Write;

use serde_json::Value;

use super::schema::{AvroSchema, Decimal, RecordSchema};

impl AvroSchema {
    /// The schema in Avro's JSON form, parseable by [`AvroSchema::parse`] and other Avro
    /// implementations.
    ///
    /// Named types are written with their full name where first met and referenced by full
    /// name afterwards.
    pub fn to_json(&self) -> String {
        let mut printer = Printer::default();
        printer.schema(self, "");
        printer.out
    }
}

/// Writes JSON text, remembering which named types were already written.
#[derive(Default)]
struct Printer {
    out: String,
    written: HashSet<String>,
}

/// The namespace part of a full name.
fn namespace_of(full: &str) -> &str {
    full.rsplit_once('.').map_or("", |(space, _)| space)
}

impl Printer {
    fn string(&mut self, s: &str) {
        // Display of a JSON string value escapes it; it cannot fail.
        let _ = write!(self.out, "{}", Value::from(s));
    }

    fn logical(&mut self, base: &str, logical: &str) {
        let _ = write!(self.out, "{{\"type\":\"{base}\",\"logicalType\":\"{logical}\"");
        self.out.push('}');
    }

    fn decimal(&mut self, decimal: Decimal) {
        let _ = write!(
            self.out,
            ",\"logicalType\":\"decimal\",\"precision\":{},\"scale\":{}",
            decimal.precision, decimal.scale
        );
    }

    /// Writes `"name":...` of a named type first met in namespace `namespace`; returns false
    /// (having written a reference instead) if the type was written before.
    fn named(&mut self, kind: &str, full: &str, namespace: &str) -> bool {
        if !self.written.insert(full.to_string()) {
            self.string(full);
            return false;
        }
        let _ = write!(self.out, "{{\"type\":\"{kind}\",\"name\":");
        self.string(full);
        if !full.contains('.') && !namespace.is_empty() {
            // Leave the enclosing namespace for the null namespace.
            self.out.push_str(",\"namespace\":\"\"");
        }
        true
    }

    fn schema(&mut self, schema: &AvroSchema, namespace: &str) {
        match schema {
            AvroSchema::Null => self.out.push_str("\"null\""),
            AvroSchema::Boolean => self.out.push_str("\"boolean\""),
            AvroSchema::Int => self.out.push_str("\"int\""),
            AvroSchema::Long => self.out.push_str("\"long\""),
            AvroSchema::Float => self.out.push_str("\"float\""),
            AvroSchema::Double => self.out.push_str("\"double\""),
            AvroSchema::Bytes => self.out.push_str("\"bytes\""),
            AvroSchema::String => self.out.push_str("\"string\""),
            AvroSchema::Date => self.logical("int", "date"),
            AvroSchema::TimeMillis => self.logical("int", "time-millis"),
            AvroSchema::TimeMicros => self.logical("long", "time-micros"),
            AvroSchema::TimestampMillis => self.logical("long", "timestamp-millis"),
            AvroSchema::TimestampMicros => self.logical("long", "timestamp-micros"),
            AvroSchema::LocalTimestampMillis => self.logical("long", "local-timestamp-millis"),
            AvroSchema::LocalTimestampMicros => self.logical("long", "local-timestamp-micros"),
            AvroSchema::Decimal(decimal) => {
                self.out.push_str("{\"type\":\"bytes\"");
                self.decimal(*decimal);
                self.out.push('}');
            }
            AvroSchema::Enum(e) => {
                if self.named("enum", &e.name, namespace) {
                    self.out.push_str(",\"symbols\":[");
                    for (i, symbol) in e.symbols.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.string(symbol);
                    }
                    self.out.push_str("]}");
                }
            }
            AvroSchema::Fixed(f) => {
                if self.named("fixed", &f.name, namespace) {
                    let _ = write!(self.out, ",\"size\":{}", f.size);
                    if let Some(decimal) = f.decimal {
                        self.decimal(decimal);
                    }
                    self.out.push('}');
                }
            }
            AvroSchema::Array(items) => {
                self.out.push_str("{\"type\":\"array\",\"items\":");
                self.schema(items, namespace);
                self.out.push('}');
            }
            AvroSchema::Map(values) => {
                self.out.push_str("{\"type\":\"map\",\"values\":");
                self.schema(values, namespace);
                self.out.push('}');
            }
            AvroSchema::Record(record) => self.record(record, namespace),
            AvroSchema::Union(branches) => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.schema(branch, namespace);
                }
                self.out.push(']');
            }
        }
    }

    fn record(&mut self, record: &RecordSchema, namespace: &str) {
        if !self.named("record", &record.name, namespace) {
            return;
        }
        let inner = namespace_of(&record.name);
        self.out.push_str(",\"fields\":[");
        for (i, field) in record.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str("{\"name\":");
            self.string(&field.name);
            self.out.push_str(",\"type\":");
            self.schema(&field.schema, inner);
            if let Some(default) = &field.default {
                let _ = write!(self.out, ",\"default\":{default}");
            }
            self.out.push('}');
        }
        self.out.push_str("]}");
    }
}

//! Parsing an [`AvroSchema`] from its JSON form.

use std::collections::{HashMap, HashSet};

use freshet_core::{Error, Result};
use serde_json::{Map, Value};

use super::schema::{is_valid_name, prefix, AvroSchema, Decimal, EnumSchema, FixedSchema, RecordField, RecordSchema};

impl AvroSchema {
    /// Parses an Avro schema from its JSON form (Avro 1.11).
    ///
    /// Unknown or invalid logical types fall back to the annotated type, as the spec says.
    /// Errors are [`Error::Config`] saying what is wrong and where.
    pub fn parse(json: &str) -> Result<AvroSchema> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| Error::Config(format!("avro schema: invalid JSON: {e}")))?;
        let mut parser = Parser::default();
        parser.schema(&value, "").map_err(|e| prefix(e, "avro schema"))
    }
}

fn config(message: String) -> Error {
    Error::Config(message)
}

fn primitive(name: &str) -> Option<AvroSchema> {
    Some(match name {
        "null" => AvroSchema::Null,
        "boolean" => AvroSchema::Boolean,
        "int" => AvroSchema::Int,
        "long" => AvroSchema::Long,
        "float" => AvroSchema::Float,
        "double" => AvroSchema::Double,
        "bytes" => AvroSchema::Bytes,
        "string" => AvroSchema::String,
        _ => return None,
    })
}

/// The largest decimal precision a two's-complement number of `size` bytes can hold.
fn max_fixed_precision(size: usize) -> u64 {
    if size == 0 {
        return 0;
    }
    ((8.0 * size as f64 - 1.0) * std::f64::consts::LOG10_2).floor() as u64
}

/// The `decimal` attributes of `object`, or `None` if missing or invalid (the spec then says to
/// use the annotated type).
fn decimal_attributes(object: &Map<String, Value>, fixed_size: Option<usize>) -> Option<Decimal> {
    let precision = object.get("precision")?.as_u64().filter(|p| *p > 0)?;
    let scale = match object.get("scale") {
        None => 0,
        Some(scale) => scale.as_u64().filter(|s| *s <= precision)?,
    };
    if fixed_size.is_some_and(|size| precision > max_fixed_precision(size)) {
        return None;
    }
    Some(Decimal {
        precision: u32::try_from(precision).ok()?,
        scale: u32::try_from(scale).ok()?,
    })
}

/// The primitive `base` with the logical type named in `object` applied, if it applies.
fn with_logical_type(base: AvroSchema, object: &Map<String, Value>) -> AvroSchema {
    let Some(logical) = object.get("logicalType").and_then(Value::as_str) else {
        return base;
    };
    match (&base, logical) {
        (AvroSchema::Int, "date") => AvroSchema::Date,
        (AvroSchema::Int, "time-millis") => AvroSchema::TimeMillis,
        (AvroSchema::Long, "time-micros") => AvroSchema::TimeMicros,
        (AvroSchema::Long, "timestamp-millis") => AvroSchema::TimestampMillis,
        (AvroSchema::Long, "timestamp-micros") => AvroSchema::TimestampMicros,
        (AvroSchema::Long, "local-timestamp-millis") => AvroSchema::LocalTimestampMillis,
        (AvroSchema::Long, "local-timestamp-micros") => AvroSchema::LocalTimestampMicros,
        (AvroSchema::Bytes, "decimal") => decimal_attributes(object, None).map_or(base, AvroSchema::Decimal),
        _ => base,
    }
}

/// Parser state: the named types defined so far and those being defined.
#[derive(Default)]
struct Parser {
    defined: HashMap<String, AvroSchema>,
    open: HashSet<String>,
}

impl Parser {
    fn schema(&mut self, value: &Value, namespace: &str) -> Result<AvroSchema> {
        match value {
            Value::String(name) => match primitive(name) {
                Some(p) => Ok(p),
                None => self.reference(name, namespace),
            },
            Value::Array(branches) => self.union(branches, namespace),
            Value::Object(object) => self.object(object, namespace),
            other => Err(config(format!(
                "expected a type name, an object or an array, found {other}"
            ))),
        }
    }

    fn reference(&self, name: &str, namespace: &str) -> Result<AvroSchema> {
        let qualified = (!name.contains('.') && !namespace.is_empty()).then(|| format!("{namespace}.{name}"));
        for candidate in qualified.iter().map(String::as_str).chain([name]) {
            if self.open.contains(candidate) {
                return Err(config(format!(
                    "recursive reference to '{candidate}': recursive schemas are not supported"
                )));
            }
            if let Some(schema) = self.defined.get(candidate) {
                return Ok(schema.clone());
            }
        }
        Err(config(format!("unknown type '{name}'")))
    }

    fn union(&mut self, branches: &[Value], namespace: &str) -> Result<AvroSchema> {
        if branches.is_empty() {
            return Err(config("a union needs at least one branch".into()));
        }
        let mut parsed = Vec::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            let schema = self
                .schema(branch, namespace)
                .map_err(|e| prefix(e, &format!("union branch {i}")))?;
            if matches!(schema, AvroSchema::Union(_)) {
                return Err(config(format!(
                    "union branch {i} is a union; unions may not contain unions"
                )));
            }
            if parsed.iter().any(|p: &AvroSchema| p.union_key() == schema.union_key()) {
                return Err(config(format!(
                    "union has two branches of type '{}'",
                    schema.union_key()
                )));
            }
            parsed.push(schema);
        }
        Ok(AvroSchema::Union(parsed))
    }

    fn object(&mut self, object: &Map<String, Value>, namespace: &str) -> Result<AvroSchema> {
        let type_name = match object.get("type") {
            Some(Value::String(name)) => name.as_str(),
            Some(nested @ (Value::Object(_) | Value::Array(_))) => return self.schema(nested, namespace),
            Some(other) => return Err(config(format!("'type' must be a string, found {other}"))),
            None => return Err(config(format!("missing 'type' in {}", Value::Object(object.clone())))),
        };
        match type_name {
            "record" | "error" => self.record(object, namespace),
            "enum" => self.enumeration(object, namespace),
            "fixed" => self.fixed(object, namespace),
            "array" => {
                let items = object
                    .get("items")
                    .ok_or_else(|| config("array without 'items'".into()))?;
                let items = self.schema(items, namespace).map_err(|e| prefix(e, "array items"))?;
                Ok(AvroSchema::Array(Box::new(items)))
            }
            "map" => {
                let values = object
                    .get("values")
                    .ok_or_else(|| config("map without 'values'".into()))?;
                let values = self.schema(values, namespace).map_err(|e| prefix(e, "map values"))?;
                Ok(AvroSchema::Map(Box::new(values)))
            }
            other => match primitive(other) {
                Some(base) => Ok(with_logical_type(base, object)),
                None => self.reference(other, namespace),
            },
        }
    }

    /// The full name of the named type `object` and its namespace; checks the name is new.
    fn define(&mut self, object: &Map<String, Value>, kind: &str, namespace: &str) -> Result<(String, String)> {
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| config(format!("{kind} without a string 'name'")))?;
        let (space, simple) = match name.rsplit_once('.') {
            Some((space, simple)) => (space.to_string(), simple),
            None => match object.get("namespace") {
                None | Some(Value::Null) => (namespace.to_string(), name),
                Some(Value::String(space)) => (space.clone(), name),
                Some(other) => {
                    return Err(config(format!(
                        "{kind} '{name}': namespace must be a string, found {other}"
                    )))
                }
            },
        };
        if !is_valid_name(simple) || (!space.is_empty() && !space.split('.').all(is_valid_name)) {
            return Err(config(format!("'{name}' is not a valid {kind} name")));
        }
        if primitive(simple).is_some() {
            return Err(config(format!("{kind} may not be named '{simple}', a primitive type")));
        }
        let full = if space.is_empty() {
            simple.to_string()
        } else {
            format!("{space}.{simple}")
        };
        if self.defined.contains_key(&full) || !self.open.insert(full.clone()) {
            return Err(config(format!("type '{full}' is defined twice")));
        }
        Ok((full, space))
    }

    /// Records the named type `full` as defined.
    fn finish(&mut self, full: String, schema: AvroSchema) -> AvroSchema {
        self.open.remove(&full);
        self.defined.insert(full, schema.clone());
        schema
    }

    fn record(&mut self, object: &Map<String, Value>, namespace: &str) -> Result<AvroSchema> {
        let (full, space) = self.define(object, "record", namespace)?;
        let listed = object
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| config(format!("record '{full}' without a 'fields' array")))?;
        let mut fields: Vec<RecordField> = Vec::with_capacity(listed.len());
        for field in listed {
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| config(format!("record '{full}': a field without a string 'name'")))?;
            if !is_valid_name(name) {
                return Err(config(format!("record '{full}': '{name}' is not a valid field name")));
            }
            if fields.iter().any(|f| f.name == name) {
                return Err(config(format!("record '{full}': field '{name}' appears twice")));
            }
            let context = format!("record '{full}' field '{name}'");
            let schema = field
                .get("type")
                .ok_or_else(|| config(format!("{context}: missing 'type'")))?;
            let schema = self.schema(schema, &space).map_err(|e| prefix(e, &context))?;
            let default = field.get("default").cloned();
            fields.push(RecordField {
                name: name.to_string(),
                schema,
                default,
            });
        }
        let record = AvroSchema::Record(RecordSchema {
            name: full.clone(),
            fields,
        });
        Ok(self.finish(full, record))
    }

    fn enumeration(&mut self, object: &Map<String, Value>, namespace: &str) -> Result<AvroSchema> {
        let (full, _) = self.define(object, "enum", namespace)?;
        let listed = object
            .get("symbols")
            .and_then(Value::as_array)
            .ok_or_else(|| config(format!("enum '{full}' without a 'symbols' array")))?;
        let mut symbols: Vec<String> = Vec::with_capacity(listed.len());
        for symbol in listed {
            match symbol.as_str() {
                Some(s) if !is_valid_name(s) => {
                    return Err(config(format!("enum '{full}': '{s}' is not a valid symbol")))
                }
                Some(s) if symbols.iter().any(|t| t == s) => {
                    return Err(config(format!("enum '{full}': symbol '{s}' appears twice")))
                }
                Some(s) => symbols.push(s.to_string()),
                None => return Err(config(format!("enum '{full}': symbol {symbol} is not a string"))),
            }
        }
        let schema = AvroSchema::Enum(EnumSchema {
            name: full.clone(),
            symbols,
        });
        Ok(self.finish(full, schema))
    }

    fn fixed(&mut self, object: &Map<String, Value>, namespace: &str) -> Result<AvroSchema> {
        let (full, _) = self.define(object, "fixed", namespace)?;
        let size = object
            .get("size")
            .and_then(Value::as_u64)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| config(format!("fixed '{full}' without a non-negative integer 'size'")))?;
        let decimal = match object.get("logicalType").and_then(Value::as_str) {
            Some("decimal") => decimal_attributes(object, Some(size)),
            _ => None,
        };
        let schema = AvroSchema::Fixed(FixedSchema {
            name: full.clone(),
            size,
            decimal,
        });
        Ok(self.finish(full, schema))
    }
}

//! Upsert files: a filesystem sink whose table declares a `PRIMARY KEY` takes changelogs, and
//! writes every change as an upsert or a deletion of its key (see [`crate::ops::upsert`]).

use crate::ddl::TableDdl;
use crate::error::{Result, SqlError};
use crate::ops::upsert::{upsert_schema, UpsertEncoder};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::sql::sqlparser::tokenizer::Location;
use freshet_dataflow::api::DataStream;
use freshet_dataflow::{Operator, TaskInfo};
use std::sync::Arc;

/// Whether rows for `ddl` are written as upserts: a filesystem or Kafka table with a primary
/// key.
pub fn writes_upserts(ddl: &TableDdl) -> bool {
    matches!(ddl.connector(), "filesystem" | "kafka") && !ddl.primary_key.is_empty()
}

/// `stream` (a changelog, or append-only rows which are all inserts) partitioned by the
/// primary key of `ddl`, so that the changes of a key stay in order, and encoded as upserts.
/// `uid` names the encoder.
pub fn encode_upserts(
    stream: &DataStream,
    changelog: bool,
    ddl: &TableDdl,
    uid: &str,
    at: Location,
) -> Result<DataStream> {
    let keys: Vec<String> = ddl.primary_key.iter().map(|k| k.value.clone()).collect();
    let schema = stream.schema();
    let key_columns = keys
        .iter()
        .map(|k| {
            schema.index_of(k).map_err(|_| {
                SqlError::at(
                    at,
                    format!(
                        "the primary key column '{k}' of '{}' is not written by the query",
                        ddl.name
                    ),
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    let changelog_schema = if changelog {
        schema.as_ref().clone()
    } else {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(
            crate::ops::changelog::ROW_KIND_COLUMN,
            DataType::Int8,
            false,
        ));
        Schema::new(fields)
    };
    let output = upsert_schema(&changelog_schema).map_err(|e| SqlError::at(at, e.to_string()))?;
    let factory = {
        let output = output.clone();
        move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(UpsertEncoder::new(
                key_columns.clone(),
                changelog,
                output.clone(),
            )))
        }
    };
    let description = format!("upserts keyed by ({})", keys.join(", "));
    let encoded = stream
        .key_by(keys)
        .transform(
            "UpsertEncode",
            output,
            Vec::new(),
            Arc::new(factory),
            description.clone(),
        )
        .uid(uid);
    stream.env().describe(encoded.node(), description);
    Ok(encoded)
}

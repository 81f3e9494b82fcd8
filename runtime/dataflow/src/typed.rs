//! Converting between Arrow batches and typed Rust records (via `serde_arrow`), so user
//! functions see structs, not column arrays.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use std::sync::Arc;

/// The Arrow schema of a record type, traced from its serde description.
pub fn schema_of<T: DeserializeOwned>() -> Result<SchemaRef> {
    let fields = Vec::<arrow::datatypes::FieldRef>::from_type::<T>(TracingOptions::default().allow_null_fields(true))
        .map_err(|e| {
        Error::Config(format!(
            "cannot derive an Arrow schema for {}: {e}",
            std::any::type_name::<T>()
        ))
    })?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Reads every row of `batch` as a `T` (columns not in `T` are ignored).
pub fn records<T: DeserializeOwned>(batch: &RecordBatch) -> Result<Vec<T>> {
    serde_arrow::from_record_batch::<Vec<T>>(batch)
        .map_err(|e| Error::UserFunction(format!("cannot read records as {}: {e}", std::any::type_name::<T>())))
}

/// Builds a batch of `schema` from records.
pub fn to_batch<T: Serialize>(schema: &SchemaRef, items: &[T]) -> Result<RecordBatch> {
    let batch = serde_arrow::to_record_batch(schema.fields(), &items)
        .map_err(|e| Error::UserFunction(format!("cannot write records of {}: {e}", std::any::type_name::<T>())))?;
    // serde_arrow builds its own schema object; keep the declared one (with its metadata).
    Ok(RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?)
}

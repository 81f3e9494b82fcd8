//! Encoding key columns into bytes, and bytes into key groups.
//!
//! Keys are encoded with Arrow's row format, which is compact, comparable and decodable back
//! into columns (window and aggregate results carry their key). The encoding of a given value
//! never changes, so key bytes are safe to store in state and checkpoints.

use crate::key_group::{key_group_for_hash, stable_hash};
use crate::{Error, KeyGroup, Result};
use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};

/// Encodes the key columns of batches into row bytes and key groups.
#[derive(Debug)]
pub struct KeyEncoder {
    converter: RowConverter,
    indices: Vec<usize>,
    key_types: Vec<DataType>,
    max_parallelism: u32,
}

/// The encoded keys of one batch: one row of bytes and one key group per record.
pub struct EncodedKeys {
    /// The key bytes, row `i` for record `i`.
    pub rows: Rows,
    /// The key group of record `i`.
    pub key_groups: Vec<KeyGroup>,
}

impl KeyEncoder {
    /// An encoder for the named key columns of `schema`.
    pub fn new(schema: &Schema, key_columns: &[String], max_parallelism: u32) -> Result<Self> {
        if key_columns.is_empty() {
            return Err(Error::Config("a keyed stream needs at least one key column".into()));
        }
        let mut indices = Vec::with_capacity(key_columns.len());
        let mut key_types = Vec::with_capacity(key_columns.len());
        for name in key_columns {
            let idx = schema.index_of(name).map_err(|_| {
                let known: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                Error::Config(format!("key column '{name}' not found; columns are {known:?}"))
            })?;
            indices.push(idx);
            key_types.push(schema.field(idx).data_type().clone());
        }
        let converter = RowConverter::new(key_types.iter().map(|t| SortField::new(t.clone())).collect())?;
        Ok(Self {
            converter,
            indices,
            key_types,
            max_parallelism,
        })
    }

    /// The positions of the key columns in the input schema.
    pub fn key_indices(&self) -> &[usize] {
        &self.indices
    }

    /// The data types of the key columns.
    pub fn key_types(&self) -> &[DataType] {
        &self.key_types
    }

    /// Encodes the keys of every record of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<EncodedKeys> {
        let columns: Vec<ArrayRef> = self.indices.iter().map(|&i| batch.column(i).clone()).collect();
        let rows = self.converter.convert_columns(&columns)?;
        let key_groups = (0..rows.num_rows())
            .map(|i| key_group_for_hash(stable_hash(rows.row(i).as_ref()), self.max_parallelism))
            .collect();
        Ok(EncodedKeys { rows, key_groups })
    }

    /// Decodes key bytes (as produced by [`encode`](Self::encode)) back into key columns.
    pub fn decode<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let rows: Vec<_> = keys.into_iter().map(|k| parser.parse(k)).collect();
        Ok(self.converter.convert_rows(rows)?)
    }
}

/// The key group of already-encoded key bytes.
#[inline]
pub fn key_group_of(key: &[u8], max_parallelism: u32) -> KeyGroup {
    key_group_for_hash(stable_hash(key), max_parallelism)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn encodes_and_decodes_composite_keys() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
            Field::new("v", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 1])),
                Arc::new(StringArray::from(vec![Some("x"), None, Some("x")])),
                Arc::new(Int64Array::from(vec![7, 8, 9])),
            ],
        )
        .unwrap();
        let enc = KeyEncoder::new(&schema, &["a".into(), "b".into()], 128).unwrap();
        let keys = enc.encode(&batch).unwrap();
        assert_eq!(keys.rows.row(0).as_ref(), keys.rows.row(2).as_ref());
        assert_ne!(keys.rows.row(0).as_ref(), keys.rows.row(1).as_ref());
        assert_eq!(keys.key_groups[0], keys.key_groups[2]);
        let cols = enc.decode([keys.rows.row(1).as_ref()]).unwrap();
        let a = cols[0].as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(a.value(0), 2);
        assert!(cols[1].is_null(0));
    }

    #[test]
    fn unknown_key_column_is_named() {
        let schema = Schema::new(vec![Field::new("a", DataType::Int64, false)]);
        let err = KeyEncoder::new(&schema, &["nope".into()], 128).unwrap_err();
        assert!(err.to_string().contains("'nope'"), "{err}");
    }
}

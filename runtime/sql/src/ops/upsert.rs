//! Upsert encoding: a changelog turned into rows an append-only writer can store and a reader
//! can replay by primary key.
//!
//! Each output row is the changed row followed by a Boolean [`DELETED_COLUMN`]: `false` for an
//! insert or the new version of an update (an upsert: the row for its key is now this one),
//! `true` for a deletion (the key has no row any more; the other columns keep the deleted
//! values). The previous version of an update (`-U`) is dropped when the next row is the new
//! version (`+U`) of the same key, as the upsert replaces it anyway; otherwise (the update
//! moved the row to another key) it becomes a deletion. Replaying the rows in order, keeping
//! the last row per key and dropping keys whose last row is a deletion, gives the table.

use crate::ops::changelog::{RowKind, ROW_KIND_COLUMN};
use arrow::array::{Array, AsArray, BooleanArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Int8Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use freshet_core::{Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use std::sync::Arc;

/// The name of the trailing column flagging deletions in upsert output.
pub const DELETED_COLUMN: &str = "__deleted";

/// The schema of upsert rows for a changelog schema (whose last column is the row kind).
pub fn upsert_schema(changelog: &Schema) -> Result<SchemaRef> {
    let (last, columns) = changelog
        .fields()
        .split_last()
        .filter(|(last, _)| last.name() == ROW_KIND_COLUMN)
        .ok_or_else(|| Error::Internal("upsert encoding needs a changelog input".into()))?;
    debug_assert_eq!(last.name(), ROW_KIND_COLUMN);
    let mut fields: Vec<Field> = columns.iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(DELETED_COLUMN, DataType::Boolean, false));
    Ok(Arc::new(Schema::new(fields)))
}

/// What becomes of each changelog row: `Some(deleted)` to write it with that flag, `None` to
/// drop it. `same_key(i)` tells whether rows `i` and `i + 1` have the same primary key.
pub fn upsert_plan(kinds: &[RowKind], same_key: impl Fn(usize) -> bool) -> Vec<Option<bool>> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            RowKind::Insert | RowKind::UpdateAfter => Some(false),
            RowKind::Delete => Some(true),
            RowKind::UpdateBefore => {
                let replaced = kinds.get(i + 1) == Some(&RowKind::UpdateAfter) && same_key(i);
                (!replaced).then_some(true)
            }
        })
        .collect()
}

/// Encodes changelog batches (or append-only ones: all inserts) as upsert rows keyed by
/// `key_columns`.
pub struct UpsertEncoder {
    key_columns: Vec<usize>,
    input_changelog: bool,
    output_schema: SchemaRef,
}

impl UpsertEncoder {
    /// An encoder of batches whose primary key is at `key_columns`, producing
    /// `output_schema` (see [`upsert_schema`]). `input_changelog` tells whether the batches
    /// end with the row-kind column.
    pub fn new(key_columns: Vec<usize>, input_changelog: bool, output_schema: SchemaRef) -> Self {
        Self {
            key_columns,
            input_changelog,
            output_schema,
        }
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        if !self.input_changelog {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(BooleanArray::from(vec![false; batch.num_rows()])) as Arc<dyn Array>);
            return Ok(Some(RecordBatch::try_new(self.output_schema.clone(), columns)?));
        }
        let kind_index = batch.num_columns() - 1;
        let kinds = batch
            .column(kind_index)
            .as_primitive_opt::<Int8Type>()
            .ok_or_else(|| Error::Internal("upsert encoding: the row-kind column is not Int8".into()))?
            .values()
            .iter()
            .map(|&k| RowKind::from_i8(k).ok_or_else(|| Error::Internal(format!("upsert encoding: row kind {k}"))))
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<_> = self.key_columns.iter().map(|&i| batch.column(i).clone()).collect();
        let converter = RowConverter::new(keys.iter().map(|k| SortField::new(k.data_type().clone())).collect())?;
        let rows = converter.convert_columns(&keys)?;
        let plan = upsert_plan(&kinds, |i| rows.row(i) == rows.row(i + 1));
        let (indices, deleted): (Vec<u32>, Vec<bool>) = plan
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i as u32, d)))
            .unzip();
        if indices.is_empty() {
            return Ok(None);
        }
        let kept = take_record_batch(batch, &UInt32Array::from(indices))?;
        let mut columns = kept.columns()[..kind_index].to_vec();
        columns.push(Arc::new(BooleanArray::from(deleted)) as Arc<dyn Array>);
        Ok(Some(RecordBatch::try_new(self.output_schema.clone(), columns)?))
    }
}

impl Operator for UpsertEncoder {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if let Some(encoded) = self.encode(&batch)? {
            out.emit(encoded);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RowKind::*;

    #[test]
    fn updates_of_one_key_become_one_upsert_and_moves_become_deletions() {
        // Keys of rows: 0:a 1:a 2:a 3:b 4:c 5:c
        let keys = ["a", "a", "a", "b", "c", "c"];
        let kinds = [Insert, UpdateBefore, UpdateAfter, UpdateBefore, UpdateAfter, Delete];
        let plan = upsert_plan(&kinds, |i| keys[i] == keys[i + 1]);
        assert_eq!(
            plan,
            vec![Some(false), None, Some(false), Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn a_trailing_update_before_is_a_deletion() {
        assert_eq!(upsert_plan(&[UpdateBefore], |_| true), vec![Some(true)]);
    }
}

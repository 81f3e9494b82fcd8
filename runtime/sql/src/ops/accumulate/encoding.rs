//! The stored form of a group of the accumulator aggregation: its row count, and the
//! accumulators' `state()` values plus the last emitted results, as one Arrow IPC row.
//!
//! Arrow IPC keeps every `ScalarValue` exactly (nested lists, structs, decimals, timestamps with
//! their zone), so a state read back after a snapshot, a restore or a rescale merges into a fresh
//! accumulator as the one that wrote it.

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The stored state of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredGroup {
    /// The group's row count (additions minus retractions).
    pub rows: i64,
    /// How many state columns each aggregate has, in order.
    pub widths: Vec<u32>,
    /// One IPC stream of one row: every aggregate's state columns, then every result.
    pub ipc: Vec<u8>,
}

/// A group's accumulator states and results, decoded.
pub(super) struct GroupValues {
    /// Per aggregate, its state as one-row arrays (what `merge_batch` takes).
    pub states: Vec<Vec<ArrayRef>>,
    /// Per aggregate, the last emitted result.
    pub results: Vec<ScalarValue>,
}

fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::State(format!("accumulator state: {e}"))
}

/// Encodes `states` (per aggregate, its `state()` values) and `results` of a group of `rows`.
pub(super) fn encode(rows: i64, states: &[Vec<ScalarValue>], results: &[ScalarValue]) -> Result<StoredGroup> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, state) in states.iter().enumerate() {
        for (j, value) in state.iter().enumerate() {
            let array = value.to_array().map_err(df)?;
            fields.push(Field::new(format!("s{i}_{j}"), array.data_type().clone(), true));
            columns.push(array);
        }
    }
    for (i, value) in results.iter().enumerate() {
        let array = value.to_array().map_err(df)?;
        fields.push(Field::new(format!("r{i}"), array.data_type().clone(), true));
        columns.push(array);
    }
    let mut ipc = Vec::new();
    write_row(fields, columns, &mut ipc)?;
    Ok(StoredGroup {
        rows,
        widths: states.iter().map(|s| s.len() as u32).collect(),
        ipc,
    })
}

/// Appends one row of `columns` as an Arrow IPC stream to `out`.
fn write_row(fields: Vec<Field>, columns: Vec<ArrayRef>, out: &mut Vec<u8>) -> Result<()> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let mut writer = StreamWriter::try_new(out, &schema)?;
    writer.write(&batch)?;
    writer.finish()?;
    Ok(())
}

/// Reads the one row of an IPC stream written by [`write_row`].
fn read_row(ipc: &[u8]) -> Result<RecordBatch> {
    let mut reader = StreamReader::try_new(std::io::Cursor::new(ipc), None)?;
    let batch = reader
        .next()
        .ok_or_else(|| Error::State("accumulator state: an empty IPC stream".into()))??;
    if batch.num_rows() != 1 {
        return Err(Error::State(format!(
            "accumulator state: {} rows, expected 1",
            batch.num_rows()
        )));
    }
    Ok(batch)
}

/// Appends one accumulator's `state()` values to `out`.
pub(super) fn encode_state(state: &[ScalarValue], out: &mut Vec<u8>) -> Result<()> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (j, value) in state.iter().enumerate() {
        let array = value.to_array().map_err(df)?;
        fields.push(Field::new(format!("s{j}"), array.data_type().clone(), true));
        columns.push(array);
    }
    write_row(fields, columns, out)
}

/// One accumulator's state written by [`encode_state`], as one-row arrays for `merge_batch`.
pub(super) fn decode_state(bytes: &[u8]) -> Result<Vec<ArrayRef>> {
    Ok(read_row(bytes)?.columns().to_vec())
}

/// Decodes a stored group's states and results.
pub(super) fn decode(stored: &StoredGroup) -> Result<GroupValues> {
    let batch = read_row(&stored.ipc)?;
    let width: usize = stored.widths.iter().map(|w| *w as usize).sum();
    let aggregates = stored.widths.len();
    if batch.num_columns() != width + aggregates {
        return Err(Error::State(format!(
            "accumulator state: {} columns, expected {}",
            batch.num_columns(),
            width + aggregates
        )));
    }
    let mut states = Vec::with_capacity(aggregates);
    let mut next = 0;
    for w in &stored.widths {
        let w = *w as usize;
        states.push(batch.columns()[next..next + w].to_vec());
        next += w;
    }
    let results = batch.columns()[width..]
        .iter()
        .map(|c| ScalarValue::try_from_array(c, 0).map_err(df))
        .collect::<Result<_>>()?;
    Ok(GroupValues { states, results })
}

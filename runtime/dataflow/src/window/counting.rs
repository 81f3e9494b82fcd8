//! Processing a batch for count windows.
//!
//! Records are taken key by key, in arrival order. Tumbling count windows keep one running
//! accumulator per key (`[count][min ts][max ts][accumulators]`); sliding count windows keep the
//! key's record count and, in map state keyed by sequence number, one single-record accumulator
//! (with its timestamp) for each of the key's last `size` records, merged when a window fires.
//! Rows carry the smallest and largest timestamp of the window's records as `window_start` and
//! `window_end` in event time, nulls in processing time.

use super::count::CountWindows;
use super::window_operator::{RowsByKey, TimeValues, WindowOperator, WindowStates};
use crate::collector::Collector;
use crate::context::OperatorContext;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::collections::VecDeque;

fn corrupt() -> Error {
    Error::State("corrupt count-window state".into())
}

fn read_i64(bytes: &[u8], at: usize) -> Result<i64> {
    let b: [u8; 8] = bytes
        .get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok(i64::from_le_bytes(b))
}

/// The smallest and largest timestamp seen, if event time.
#[derive(Clone, Copy)]
struct Bounds {
    min: i64,
    max: i64,
}

impl Bounds {
    const EMPTY: Bounds = Bounds {
        min: i64::MAX,
        max: i64::MIN,
    };

    fn add(&mut self, ts: i64) {
        self.min = self.min.min(ts);
        self.max = self.max.max(ts);
    }
}

/// Processes one non-empty batch.
pub(crate) fn process(
    op: &mut WindowOperator,
    states: WindowStates,
    windows: CountWindows,
    batch: &RecordBatch,
    ctx: &mut OperatorContext,
    out: &mut Collector,
) -> Result<()> {
    let keys = op.key_encoder.encode(batch)?;
    let times = op.time_values(batch, ctx)?;
    let event_time = op.is_event_time();
    let bounds = |b: Bounds| {
        if event_time {
            (Some(b.min), Some(b.max))
        } else {
            (None, None)
        }
    };
    let mut buf = Vec::new();

    for (first_row, rows) in RowsByKey::new(&keys).groups {
        let (key, kg) = (keys.rows.row(first_row), keys.key_groups[first_row]);
        let key = key.as_ref();
        if windows.is_tumbling() {
            // [count u64][min ts][max ts][accumulators]
            let (mut count, mut range, mut accs) = match ctx.state_ref()?.get(states.count, kg, key, &[])? {
                Some(bytes) => {
                    let count = read_i64(&bytes, 0)? as u64;
                    let range = Bounds {
                        min: read_i64(&bytes, 8)?,
                        max: read_i64(&bytes, 16)?,
                    };
                    (count, range, op.aggs.decode(bytes.get(24..).ok_or_else(corrupt)?)?)
                }
                None => (0, Bounds::EMPTY, op.aggs.new_accs()),
            };
            for row in rows {
                op.aggs.add_row(&mut accs, batch, row as usize)?;
                range.add(times.get(row as usize));
                count += 1;
                if count >= windows.size {
                    let (start, end) = bounds(range);
                    op.rows.push(&op.aggs, key, start, end, &accs)?;
                    (count, range, accs) = (0, Bounds::EMPTY, op.aggs.new_accs());
                }
            }
            let backend = ctx.state()?;
            if count == 0 {
                backend.delete(states.count, kg, key, &[])?;
            } else {
                buf.clear();
                buf.extend_from_slice(&count.to_le_bytes());
                buf.extend_from_slice(&range.min.to_le_bytes());
                buf.extend_from_slice(&range.max.to_le_bytes());
                op.aggs.encode(&accs, &mut buf)?;
                backend.put(states.count, kg, key, &[], &buf)?;
            }
        } else {
            process_sliding_key(op, states, windows, batch, &times, ctx, key, kg, &rows)?;
        }
    }
    op.flush(out)
}

/// One buffered record of a sliding count window.
struct Buffered {
    seq: u64,
    ts: i64,
    acc: Vec<u8>,
    stored: bool,
}

#[allow(clippy::too_many_arguments)]
fn process_sliding_key(
    op: &mut WindowOperator,
    states: WindowStates,
    windows: CountWindows,
    batch: &RecordBatch,
    times: &TimeValues<'_>,
    ctx: &mut OperatorContext,
    key: &[u8],
    kg: freshet_core::KeyGroup,
    rows: &[u32],
) -> Result<()> {
    let backend = ctx.state()?;
    let mut total = match backend.get(states.count, kg, key, &[])? {
        Some(bytes) => read_i64(&bytes, 0)? as u64,
        None => 0,
    };
    let mut buffer: VecDeque<Buffered> = VecDeque::new();
    for (user_key, value) in backend.map_entries(states.count_buffer, kg, key, &[])? {
        let seq: [u8; 8] = user_key.as_slice().try_into().map_err(|_| corrupt())?;
        buffer.push_back(Buffered {
            seq: u64::from_be_bytes(seq),
            ts: read_i64(&value, 0)?,
            acc: value.get(8..).ok_or_else(corrupt)?.to_vec(),
            stored: true,
        });
    }
    let mut evicted: Vec<u64> = Vec::new();
    for &row in rows {
        let row = row as usize;
        let mut single = op.aggs.new_accs();
        op.aggs.add_row(&mut single, batch, row)?;
        let mut acc = Vec::new();
        op.aggs.encode(&single, &mut acc)?;
        buffer.push_back(Buffered {
            seq: total,
            ts: times.get(row),
            acc,
            stored: false,
        });
        total += 1;
        while buffer.len() as u64 > windows.size {
            if let Some(old) = buffer.pop_front() {
                if old.stored {
                    evicted.push(old.seq);
                }
            }
        }
        if windows.fires_at(total).is_some() {
            let mut accs = op.aggs.new_accs();
            let mut range = Bounds::EMPTY;
            for b in &buffer {
                op.aggs.merge(&mut accs, op.aggs.decode(&b.acc)?)?;
                range.add(b.ts);
            }
            let (start, end) = if op.is_event_time() {
                (Some(range.min), Some(range.max))
            } else {
                (None, None)
            };
            op.rows.push(&op.aggs, key, start, end, &accs)?;
        }
    }
    let mut value = Vec::new();
    for b in buffer.iter().filter(|b| !b.stored) {
        value.clear();
        value.extend_from_slice(&b.ts.to_le_bytes());
        value.extend_from_slice(&b.acc);
        backend.map_put(states.count_buffer, kg, key, &[], &b.seq.to_be_bytes(), &value)?;
    }
    for seq in evicted {
        backend.map_delete(states.count_buffer, kg, key, &[], &seq.to_be_bytes())?;
    }
    backend.put(states.count, kg, key, &[], &(total as i64).to_le_bytes())?;
    Ok(())
}

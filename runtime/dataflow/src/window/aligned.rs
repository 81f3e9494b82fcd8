//! Processing a batch for aligned (non-merging) time windows: tumbling, sliding, cumulate.
//!
//! 1. Keys are encoded once for the batch and numbered; each record's windows are assigned.
//! 2. (record, window) pairs are classified against the watermark: past lateness (skipped),
//!    already fired but within lateness (applied record by record, each re-emitting the window),
//!    or pending (pre-aggregated per distinct (key, window) in a local map).
//! 3. Each distinct pending (key, window) is merged into keyed state once; a window whose state
//!    is new gets its timers.
//! 4. Records all of whose windows were past lateness go to the late output.

use super::time_window::TimeWindow;
use super::window_operator::{WindowOperator, WindowStates};
use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::timers::TimeDomain;
use arrow::record_batch::RecordBatch;
use freshet_core::Result;
use hashbrown::HashMap;

/// Processes one non-empty batch.
pub(crate) fn process(
    op: &mut WindowOperator,
    states: WindowStates,
    batch: &RecordBatch,
    ctx: &mut OperatorContext,
    out: &mut Collector,
) -> Result<()> {
    let n = batch.num_rows();
    let keys = op.key_encoder.encode(batch)?;
    let times = op.time_values(batch, ctx)?;
    let wm = ctx.current_watermark();
    let event_time = op.is_event_time();

    // Number the distinct keys and the distinct pending (key, window)s.
    let mut key_ids: HashMap<&[u8], u32> = HashMap::with_capacity(n.min(4096));
    let mut key_rows: Vec<usize> = Vec::new();
    let mut group_ids: HashMap<(u32, i64, i64), u32> = HashMap::with_capacity(n.min(4096));
    let mut groups: Vec<(u32, TimeWindow)> = Vec::new();
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut fired: Vec<(u32, TimeWindow)> = Vec::new();
    let mut late_rows: Vec<u32> = Vec::new();
    let mut windows: Vec<TimeWindow> = Vec::with_capacity(8);
    for row in 0..n {
        let next_key = key_rows.len() as u32;
        let key_id = *key_ids.entry(keys.rows.row(row).data()).or_insert_with(|| {
            key_rows.push(row);
            next_key
        });
        windows.clear();
        op.config.assigner.assign_into(times.get(row), &mut windows);
        let mut live = false;
        for w in &windows {
            if op.is_late(w, wm) {
                continue;
            }
            live = true;
            if event_time && w.max_timestamp() <= wm {
                fired.push((row as u32, *w));
                continue;
            }
            let next_group = groups.len() as u32;
            let group = *group_ids.entry((key_id, w.start, w.end)).or_insert_with(|| {
                groups.push((key_id, *w));
                next_group
            });
            pairs.push((row as u32, group));
        }
        if !live {
            late_rows.push(row as u32);
        }
    }

    // Pre-aggregate the batch per (key, window).
    let stride = op.aggs.len();
    let mut accs = Vec::with_capacity(groups.len() * stride);
    for _ in 0..groups.len() {
        op.aggs.push_new(&mut accs);
    }
    op.aggs.update_batch(&mut accs, batch, &pairs)?;

    // Merge each (key, window) into state once.
    let domain = op.domain();
    let lateness = op.config.allowed_lateness_ms;
    let mut buf = Vec::with_capacity(16 * stride.max(1));
    for (g, (key_id, w)) in groups.iter().enumerate() {
        let row = key_rows[*key_id as usize];
        let (key, kg) = (keys.rows.row(row), keys.key_groups[row]);
        let key = key.as_ref();
        let ns = w.encode();
        let group_accs = &mut accs[g * stride..(g + 1) * stride];
        let backend = ctx.state()?;
        let existed = match backend.get(states.acc, kg, key, &ns)? {
            Some(bytes) => {
                op.aggs.merge_into_state(group_accs, &bytes)?;
                true
            }
            None => false,
        };
        buf.clear();
        op.aggs.encode(group_accs, &mut buf)?;
        backend.put(states.acc, kg, key, &ns, &buf)?;
        if !existed {
            ctx.register_timer(domain, w.max_timestamp(), kg, key, &ns)?;
            if event_time && lateness > 0 {
                ctx.register_timer(domain, op.cleanup_time(w), kg, key, &ns)?;
            }
        }
    }

    // Windows that already fired but are within the allowed lateness: one update and one
    // re-emitted row per record, in arrival order.
    for (row, w) in fired {
        let row = row as usize;
        let (key, kg) = (keys.rows.row(row), keys.key_groups[row]);
        let key = key.as_ref();
        let ns = w.encode();
        let backend = ctx.state()?;
        let (mut window_accs, existed) = match backend.get(states.acc, kg, key, &ns)? {
            Some(bytes) => (op.aggs.decode(&bytes)?, true),
            None => (op.aggs.new_accs(), false),
        };
        op.aggs.add_row(&mut window_accs, batch, row)?;
        buf.clear();
        op.aggs.encode(&window_accs, &mut buf)?;
        backend.put(states.acc, kg, key, &ns, &buf)?;
        if !existed {
            ctx.register_timer(TimeDomain::EventTime, op.cleanup_time(&w), kg, key, &ns)?;
        }
        op.rows.push(&op.aggs, key, Some(w.start), Some(w.end), &window_accs)?;
    }

    op.emit_late(batch, late_rows, ctx, out)?;
    op.flush(out)
}

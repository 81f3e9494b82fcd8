//! Processing a batch for aligned (non-merging) time windows: tumbling, sliding, cumulate.
//!
//! Every timestamp of a pane (see [`WindowAssigner::pane`]) belongs to the same windows, so:
//! 1. keys are encoded once for the batch, and each record is counted into the accumulator of
//!    its distinct (key, pane) — one hash lookup per record. A (key, pane)'s windows are
//!    assigned and classified against the watermark once, when it is first seen: past lateness,
//!    fired but within lateness, or pending;
//! 2. each (key, pane)'s accumulator is merged into the local accumulators of its pending
//!    windows, and each distinct pending (key, window) is merged into keyed state once (one read,
//!    one write); a window whose state is new gets its timers;
//! 3. records of windows that already fired but are within the allowed lateness are applied
//!    record by record, each emitting the updated window (Flink's behaviour);
//! 4. records all of whose windows are past lateness go to the late output.

use super::accumulator::Acc;
use super::assigner::WindowAssigner;
use super::time_window::{window_start_with_offset, TimeWindow};
use super::window_operator::{WindowOperator, WindowStates};
use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::timers::TimeDomain;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use hashbrown::hash_map::Entry;
use hashbrown::HashMap;
use std::ops::Range;

/// Where a window stands relative to the watermark when a batch arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WindowClass {
    /// Not fired yet: records are pre-aggregated and merged into state once per batch.
    Pending,
    /// Fired, but within the allowed lateness: each record updates it and re-emits it.
    Fired,
}

/// The distinct (key, pane)s of a batch.
struct Panes {
    /// The first row of each pane group (its key and key group).
    first_row: Vec<u32>,
    /// The range of each pane group's windows in `windows`.
    window_range: Vec<Range<u32>>,
    /// Whether each pane group has fired windows (its records are also applied one by one).
    has_fired: Vec<bool>,
    /// The non-late windows of every pane group, concatenated.
    windows: Vec<(TimeWindow, WindowClass)>,
}

impl Panes {
    fn windows_of(&self, pane: usize) -> &[(TimeWindow, WindowClass)] {
        let r = &self.window_range[pane];
        &self.windows[r.start as usize..r.end as usize]
    }
}

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
    let assigner: WindowAssigner = op.config.assigner;
    let (pane_size, pane_offset) = assigner
        .pane()
        .ok_or_else(|| Error::Internal(format!("window assigner {assigner:?} has no panes")))?;

    // 1. Group the records by (key, pane), classifying each new pane's windows.
    let mut pane_ids: HashMap<(&[u8], i64), u32> = HashMap::with_capacity(n.min(4096));
    let mut panes = Panes {
        first_row: Vec::new(),
        window_range: Vec::new(),
        has_fired: Vec::new(),
        windows: Vec::new(),
    };
    let mut assigned: Vec<TimeWindow> = Vec::with_capacity(8);
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut fired_rows: Vec<(u32, u32)> = Vec::new();
    let mut late_rows: Vec<u32> = Vec::new();
    for row in 0..n {
        let pane_start = window_start_with_offset(times.get(row), pane_offset, pane_size);
        let pane = match pane_ids.entry((keys.rows.row(row).data(), pane_start)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let id = panes.first_row.len() as u32;
                let begin = panes.windows.len() as u32;
                assigned.clear();
                assigner.assign_into(pane_start, &mut assigned);
                let mut fired = false;
                for w in &assigned {
                    if op.is_late(w, wm) {
                        continue;
                    }
                    let class = if op.is_event_time() && w.max_timestamp() <= wm {
                        fired = true;
                        WindowClass::Fired
                    } else {
                        WindowClass::Pending
                    };
                    panes.windows.push((*w, class));
                }
                panes.first_row.push(row as u32);
                panes.window_range.push(begin..panes.windows.len() as u32);
                panes.has_fired.push(fired);
                *e.insert(id)
            }
        };
        let p = pane as usize;
        if panes.window_range[p].is_empty() {
            late_rows.push(row as u32);
            continue;
        }
        pairs.push((row as u32, pane));
        if panes.has_fired[p] {
            fired_rows.push((row as u32, pane));
        }
    }

    // 2. Pre-aggregate per (key, pane), then per pending (key, window).
    let stride = op.aggs.len();
    let mut pane_accs: Vec<Acc> = Vec::with_capacity(panes.first_row.len() * stride);
    for _ in 0..panes.first_row.len() {
        op.aggs.push_new(&mut pane_accs);
    }
    op.aggs.update_batch(&mut pane_accs, batch, &pairs)?;
    let mut window_ids: HashMap<(&[u8], TimeWindow), u32> = HashMap::with_capacity(panes.first_row.len() * 2);
    let mut window_rows: Vec<(u32, TimeWindow)> = Vec::new();
    let mut window_accs: Vec<Acc> = Vec::new();
    for (p, &first_row) in panes.first_row.iter().enumerate() {
        let key = keys.rows.row(first_row as usize).data();
        for &(w, class) in panes.windows_of(p) {
            if class != WindowClass::Pending {
                continue;
            }
            let next = window_rows.len() as u32;
            let id = *window_ids.entry((key, w)).or_insert_with(|| {
                window_rows.push((first_row, w));
                op.aggs.push_new(&mut window_accs);
                next
            }) as usize;
            let from = &pane_accs[p * stride..(p + 1) * stride];
            op.aggs
                .merge_from(&mut window_accs[id * stride..(id + 1) * stride], from)?;
        }
    }

    // 3. Merge each pending (key, window) into state once.
    let domain = op.domain();
    let cleanup_timer = op.is_event_time() && op.config.allowed_lateness_ms > 0;
    let mut buf = Vec::with_capacity(16 * stride.max(1));
    for (id, &(row, w)) in window_rows.iter().enumerate() {
        let (key, kg) = (keys.rows.row(row as usize).data(), keys.key_groups[row as usize]);
        let ns = w.encode();
        let accs = &mut window_accs[id * stride..(id + 1) * stride];
        let backend = ctx.state()?;
        let existed = match backend.get(states.acc, kg, key, &ns)? {
            Some(bytes) => {
                op.aggs.merge_encoded(accs, &bytes)?;
                true
            }
            None => false,
        };
        buf.clear();
        op.aggs.encode(accs, &mut buf)?;
        backend.put(states.acc, kg, key, &ns, &buf)?;
        if !existed {
            ctx.register_timer(domain, w.max_timestamp(), kg, key, &ns)?;
            if cleanup_timer {
                ctx.register_timer(domain, op.cleanup_time(&w), kg, key, &ns)?;
            }
        }
    }

    // 4. Windows that already fired but are within the allowed lateness: one update and one
    //    re-emitted row per record and window, in arrival order.
    let mut accs = Vec::with_capacity(stride);
    for (row, pane) in fired_rows {
        let (key, kg) = (keys.rows.row(row as usize).data(), keys.key_groups[row as usize]);
        for &(w, class) in panes.windows_of(pane as usize) {
            if class != WindowClass::Fired {
                continue;
            }
            let ns = w.encode();
            let backend = ctx.state()?;
            let existed = match backend.get(states.acc, kg, key, &ns)? {
                Some(bytes) => {
                    op.aggs.decode_into(&bytes, &mut accs)?;
                    true
                }
                None => {
                    accs.clear();
                    op.aggs.push_new(&mut accs);
                    false
                }
            };
            op.aggs.add_row(&mut accs, batch, row as usize)?;
            buf.clear();
            op.aggs.encode(&accs, &mut buf)?;
            backend.put(states.acc, kg, key, &ns, &buf)?;
            if !existed {
                ctx.register_timer(TimeDomain::EventTime, op.cleanup_time(&w), kg, key, &ns)?;
            }
            op.rows.push(&op.aggs, key, Some(w.start), Some(w.end), &accs)?;
        }
    }

    op.emit_late(batch, late_rows, ctx, out)?;
    op.flush(out)
}

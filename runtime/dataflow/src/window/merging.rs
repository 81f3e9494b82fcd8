//! Processing a batch for session (merging) windows.
//!
//! Per key, the set of live sessions is stored as one value (a sorted list of windows) and each
//! session's accumulators under its window, like aligned windows. A batch is processed key by
//! key: the key's sessions are loaded once, its records are merged in arrival order in memory
//! (as Flink's `MergingWindowSet` would, record by record, so lateness decisions are identical),
//! and the differences are written back: accumulators of absorbed sessions and their timers are
//! deleted, new sessions get timers. A record whose merged session is past lateness is late.

use super::accumulator::Acc;
use super::session::{add_to_sessions, SessionWindows};
use super::time_window::{TimeWindow, ENCODED_WINDOW_LEN};
use super::window_operator::{RowsByKey, WindowOperator, WindowStates};
use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::timers::Timer;
use arrow::record_batch::RecordBatch;
use freshet_core::{KeyGroup, Result};
use freshet_state::KeyedStateBackend;

/// A session of the key being processed.
struct Session {
    window: TimeWindow,
    /// Loaded or updated accumulators (`None`: unchanged, still only in state).
    accs: Option<Vec<Acc>>,
}

fn encode_sessions(windows: impl Iterator<Item = TimeWindow>) -> Vec<u8> {
    let mut out = Vec::new();
    for w in windows {
        out.extend_from_slice(&w.encode());
    }
    out
}

fn decode_sessions(bytes: &[u8]) -> Result<Vec<TimeWindow>> {
    bytes.chunks(ENCODED_WINDOW_LEN).map(TimeWindow::decode).collect()
}

/// The stored sessions of a key, sorted by start.
fn load_sessions(
    backend: &dyn KeyedStateBackend,
    states: WindowStates,
    kg: KeyGroup,
    key: &[u8],
) -> Result<Vec<TimeWindow>> {
    match backend.get(states.sessions, kg, key, &[])? {
        Some(bytes) => decode_sessions(&bytes),
        None => Ok(Vec::new()),
    }
}

fn store_sessions(
    backend: &mut dyn KeyedStateBackend,
    states: WindowStates,
    kg: KeyGroup,
    key: &[u8],
    windows: &[TimeWindow],
) -> Result<()> {
    if windows.is_empty() {
        backend.delete(states.sessions, kg, key, &[])
    } else {
        backend.put(states.sessions, kg, key, &[], &encode_sessions(windows.iter().copied()))
    }
}

/// Removes a fired-and-cleaned-up session from its key's session set.
pub(crate) fn retire_session(
    states: WindowStates,
    backend: &mut dyn KeyedStateBackend,
    kg: KeyGroup,
    key: &[u8],
    window: TimeWindow,
) -> Result<()> {
    let mut windows = load_sessions(backend, states, kg, key)?;
    let before = windows.len();
    windows.retain(|w| *w != window);
    if windows.len() != before {
        store_sessions(backend, states, kg, key, &windows)?;
    }
    Ok(())
}

/// Processes one non-empty batch.
pub(crate) fn process(
    op: &mut WindowOperator,
    states: WindowStates,
    assigner: SessionWindows,
    batch: &RecordBatch,
    ctx: &mut OperatorContext,
    out: &mut Collector,
) -> Result<()> {
    let keys = op.key_encoder.encode(batch)?;
    let times = op.time_values(batch, ctx)?;
    let wm = ctx.current_watermark();
    let event_time = op.is_event_time();
    let domain = op.domain();
    let mut late_rows: Vec<u32> = Vec::new();
    let mut buf = Vec::new();

    for (first_row, rows) in RowsByKey::new(&keys).groups {
        let (key, kg) = (keys.rows.row(first_row), keys.key_groups[first_row]);
        let key = key.as_ref();
        let initial = load_sessions(ctx.state_ref()?, states, kg, key)?;
        let mut sessions: Vec<Session> = initial.iter().map(|&window| Session { window, accs: None }).collect();

        for row in rows {
            let row = row as usize;
            let current: Vec<TimeWindow> = sessions.iter().map(|s| s.window).collect();
            let merge = add_to_sessions(&current, assigner.window_for(times.get(row)));
            if op.is_late(&merge.merged, wm) {
                late_rows.push(row as u32);
                continue;
            }
            let mut accs = op.aggs.new_accs();
            for &i in &merge.absorbed {
                let absorbed = match sessions[i].accs.take() {
                    Some(a) => a,
                    None => match ctx
                        .state_ref()?
                        .get(states.acc, kg, key, &sessions[i].window.encode())?
                    {
                        Some(bytes) => op.aggs.decode(&bytes)?,
                        None => op.aggs.new_accs(),
                    },
                };
                op.aggs.merge(&mut accs, absorbed)?;
            }
            for &i in merge.absorbed.iter().rev() {
                sessions.remove(i);
            }
            op.aggs.add_row(&mut accs, batch, row)?;
            if event_time && merge.merged.max_timestamp() <= wm {
                // Fired already but within the allowed lateness: emit the update now.
                op.rows
                    .push(&op.aggs, key, Some(merge.merged.start), Some(merge.merged.end), &accs)?;
            }
            let pos = sessions.partition_point(|s| s.window.start < merge.merged.start);
            sessions.insert(
                pos,
                Session {
                    window: merge.merged,
                    accs: Some(accs),
                },
            );
        }

        // Write back the differences.
        let finals: Vec<TimeWindow> = sessions.iter().map(|s| s.window).collect();
        for w in initial.iter().filter(|w| !finals.contains(w)) {
            let ns = w.encode();
            ctx.state()?.delete(states.acc, kg, key, &ns)?;
            for time in [w.max_timestamp(), op.cleanup_time(w)] {
                ctx.delete_timer(&Timer {
                    time,
                    key_group: kg,
                    key: key.to_vec(),
                    namespace: ns.to_vec(),
                    domain,
                })?;
            }
        }
        for s in &sessions {
            let Some(accs) = &s.accs else { continue };
            let ns = s.window.encode();
            buf.clear();
            op.aggs.encode(accs, &mut buf)?;
            ctx.state()?.put(states.acc, kg, key, &ns, &buf)?;
            if !initial.contains(&s.window) {
                if !event_time || s.window.max_timestamp() > wm {
                    ctx.register_timer(domain, s.window.max_timestamp(), kg, key, &ns)?;
                }
                if event_time {
                    ctx.register_timer(domain, op.cleanup_time(&s.window), kg, key, &ns)?;
                }
            }
        }
        if finals != initial {
            store_sessions(ctx.state()?, states, kg, key, &finals)?;
        }
    }

    op.emit_late(batch, late_rows, ctx, out)?;
    op.flush(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_list_roundtrip() {
        let ws = vec![TimeWindow::new(-5, 3), TimeWindow::new(10, 20)];
        let bytes = encode_sessions(ws.iter().copied());
        assert_eq!(decode_sessions(&bytes).unwrap(), ws);
        assert!(decode_sessions(&bytes[..20]).is_err());
    }
}

//! A brute-force reference model of keyed windows, record at a time, written from the
//! definitions (Flink's semantics) without the operator's code:
//! - a window fires when the watermark reaches `end - 1`, if its state was created while
//!   `end - 1` was still ahead of the watermark;
//! - its state lives until the watermark reaches `end - 1 + lateness`; a record arriving for a
//!   window that has fired but is not past lateness updates it and re-emits it immediately;
//! - a record all of whose windows are past lateness is late (side output or dropped);
//! - sessions merge when they intersect (touching counts); lateness is judged on the merged
//!   session; count windows fire every `slide` records over the last `size`.

use std::collections::BTreeMap;

/// One input record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub k: i64,
    pub ts: i64,
    pub v: Option<i64>,
}

/// One step of a test script.
#[derive(Clone, Debug)]
pub enum Step {
    Batch(Vec<Event>),
    Watermark(i64),
}

/// An output row: key, window bounds, count, sum, min, max, avg (as f64 bits).
pub type Row = (i64, Option<i64>, Option<i64>, i64, Option<i64>, Option<i64>, Option<i64>, Option<u64>);

/// What a window kind is, by definition.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Windows of `size` starting at every `s ≡ offset (mod slide)` (tumbling: slide == size).
    Sliding { size: i64, slide: i64, offset: i64 },
    /// Windows `[base, base + k·step)` for `k = 1..=max/step`, `base ≡ offset (mod max)`.
    Cumulate { step: i64, max: i64, offset: i64 },
    /// Sessions with a gap.
    Session { gap: i64 },
    /// Count windows.
    Count { size: usize, slide: usize },
}

/// What the model produced.
#[derive(Debug, Default)]
pub struct Expected {
    pub rows: Vec<Row>,
    pub late: Vec<Event>,
}

/// The windows `[start, end)` containing `ts`, enumerated from the definition.
pub fn windows_of(kind: Kind, ts: i64) -> Vec<(i64, i64)> {
    match kind {
        Kind::Sliding { size, slide, offset } => ((ts - size + 1)..=ts)
            .filter(|s| (s - offset).rem_euclid(slide) == 0)
            .map(|s| (s, s + size))
            .collect(),
        Kind::Cumulate { step, max, offset } => {
            let base = ((ts - max + 1)..=ts)
                .find(|b| (b - offset).rem_euclid(max) == 0)
                .expect("a base within one period");
            (1..=max / step)
                .map(|k| (base, base + k * step))
                .filter(|&(s, e)| s <= ts && ts < e)
                .collect()
        }
        Kind::Session { gap } => vec![(ts, ts + gap)],
        Kind::Count { .. } => Vec::new(),
    }
}

fn row(k: i64, bounds: (Option<i64>, Option<i64>), values: &[Option<i64>]) -> Row {
    let present: Vec<i64> = values.iter().flatten().copied().collect();
    let sum = present.iter().fold(0i64, |a, b| a.wrapping_add(*b));
    let n = present.len();
    (
        k,
        bounds.0,
        bounds.1,
        values.len() as i64,
        (n > 0).then_some(sum),
        present.iter().min().copied(),
        present.iter().max().copied(),
        (n > 0).then(|| (sum as f64 / n as f64).to_bits()),
    )
}

#[derive(Debug)]
struct WindowState {
    values: Vec<Option<i64>>,
    pending_fire: bool,
}

/// Runs the model over `steps` (then the end of input) for event-time windows.
pub fn expected(kind: Kind, lateness: i64, steps: &[Step]) -> Expected {
    let mut out = Expected::default();
    let mut wm = i64::MIN;
    let cleanup = |end: i64| (end - 1).saturating_add(lateness);
    // (key, start, end) -> state, for aligned windows and sessions alike.
    let mut state: BTreeMap<(i64, i64, i64), WindowState> = BTreeMap::new();
    let mut counts: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    let advance = |state: &mut BTreeMap<(i64, i64, i64), WindowState>, wm: i64, out: &mut Expected| {
        for (&(k, s, e), st) in state.iter_mut() {
            if st.pending_fire && e - 1 <= wm {
                out.rows.push(row(k, (Some(s), Some(e)), &st.values));
                st.pending_fire = false;
            }
        }
        state.retain(|&(_, _, e), _| cleanup(e) > wm);
    };
    for step in steps.iter().cloned().chain([Step::Watermark(i64::MAX)]) {
        match step {
            Step::Watermark(t) => {
                if t > wm {
                    wm = t;
                    advance(&mut state, wm, &mut out);
                }
            }
            Step::Batch(events) => {
                for e in events {
                    match kind {
                        Kind::Count { size, slide } => {
                            let seen = counts.entry(e.k).or_default();
                            seen.push(e);
                            if seen.len() % slide == 0 {
                                let window = &seen[seen.len().saturating_sub(size)..];
                                let lo = window.iter().map(|e| e.ts).min();
                                let hi = window.iter().map(|e| e.ts).max();
                                let values: Vec<Option<i64>> = window.iter().map(|e| e.v).collect();
                                out.rows.push(row(e.k, (lo, hi), &values));
                            }
                        }
                        Kind::Session { gap } => {
                            let (mut s, mut en) = (e.ts, e.ts + gap);
                            let mut absorbed: Vec<(i64, i64, i64)> = Vec::new();
                            loop {
                                let hit = state.keys().copied().find(|&(k, ws, we)| {
                                    k == e.k && !absorbed.contains(&(k, ws, we)) && ws <= en && we >= s
                                });
                                match hit {
                                    Some(w) => {
                                        (s, en) = (s.min(w.1), en.max(w.2));
                                        absorbed.push(w);
                                    }
                                    None => break,
                                }
                            }
                            if cleanup(en) <= wm {
                                out.late.push(e);
                                continue;
                            }
                            let unchanged = absorbed.len() == 1 && absorbed[0] == (e.k, s, en);
                            let mut values = Vec::new();
                            let mut pending = en - 1 > wm;
                            absorbed.sort();
                            for w in &absorbed {
                                if let Some(st) = state.remove(w) {
                                    if unchanged {
                                        pending = st.pending_fire;
                                    }
                                    values.extend(st.values);
                                }
                            }
                            values.push(e.v);
                            if en - 1 <= wm {
                                out.rows.push(row(e.k, (Some(s), Some(en)), &values));
                            }
                            state.insert(
                                (e.k, s, en),
                                WindowState {
                                    values,
                                    pending_fire: pending,
                                },
                            );
                        }
                        _ => {
                            let mut live = false;
                            for (s, en) in windows_of(kind, e.ts) {
                                if cleanup(en) <= wm {
                                    continue;
                                }
                                live = true;
                                let st = state.entry((e.k, s, en)).or_insert(WindowState {
                                    values: Vec::new(),
                                    pending_fire: en - 1 > wm,
                                });
                                st.values.push(e.v);
                                if en - 1 <= wm {
                                    out.rows.push(row(e.k, (Some(s), Some(en)), &st.values));
                                }
                            }
                            if !live {
                                out.late.push(e);
                            }
                        }
                    }
                }
            }
        }
    }
    out.rows.sort();
    out.late.sort();
    out
}

//! The brute-force reference model: what a window operator must emit, computed record by
//! record from the definitions (Flink's semantics), without the operator's code:
//! - a window fires when the watermark reaches `end - 1`, if it has state then;
//! - its state lives until the watermark reaches `end - 1 + lateness`; a record for a window
//!   that fired but is within lateness updates it and re-emits it at once;
//! - a record all of whose windows are past lateness is late (side output, or dropped and
//!   counted); sessions merge when they intersect (touching counts), judged on the merged session;
//! - count windows fire every `slide` records of a key over its last `size`.

use super::{Outcome, Rec, Row, Step};
use freshet_core::WATERMARK_MIN;
use std::collections::BTreeMap;

pub(crate) fn aggregated(key: &str, start: Option<i64>, end: Option<i64>, vals: &[Option<i64>]) -> Row {
    let present: Vec<i64> = vals.iter().flatten().copied().collect();
    let sum = (!present.is_empty()).then(|| present.iter().sum::<i64>());
    let avg = sum.map(|s| (s as f64 / present.len() as f64).to_bits());
    let (min, max) = (present.iter().min().copied(), present.iter().max().copied());
    (key.to_string(), start, end, vals.len() as i64, sum, min, max, avg)
}

/// The brute-force model of time windows. `assign` gives a record's windows (ignored for
/// sessions); in processing time a batch's records take the clock's time and nothing is late.
pub(crate) struct Model<'a> {
    pub(crate) assign: &'a dyn Fn(i64) -> Vec<(i64, i64)>,
    pub(crate) session_gap: Option<i64>,
    pub(crate) lateness: i64,
    pub(crate) event_time: bool,
    pub(crate) late_output: bool,
}

/// One live window of the model: key, start, end, values.
type ModelWindow = (String, i64, i64, Vec<Option<i64>>);

impl Model<'_> {
    pub(crate) fn expected(&self, steps: &[Step]) -> Outcome {
        let mut wm = WATERMARK_MIN;
        let mut now = 0;
        let mut live: Vec<ModelWindow> = Vec::new();
        let (mut rows, mut late) = (Vec::new(), Vec::new());
        let emit = |rows: &mut Vec<Row>, w: &ModelWindow| rows.push(aggregated(&w.0, Some(w.1), Some(w.2), &w.3));
        let all_steps = steps.iter().chain(std::iter::once(&Step::Time(i64::MAX)));
        for step in all_steps {
            match step {
                Step::Batch(recs) => {
                    for r in recs {
                        let ts = if self.event_time { r.ts } else { now };
                        let is_late = |end: i64| self.event_time && (end - 1).saturating_add(self.lateness) <= wm;
                        let fired = |end: i64| self.event_time && end - 1 <= wm;
                        if let Some(gap) = self.session_gap {
                            // Merge the record's window with every intersecting session (fixpoint).
                            let (mut start, mut end, mut vals) = (ts, ts + gap, vec![r.v]);
                            while let Some(i) = live.iter().position(|w| w.0 == r.key && w.1 <= end && w.2 >= start) {
                                let w = live.remove(i);
                                (start, end) = (start.min(w.1), end.max(w.2));
                                vals.extend(w.3);
                            }
                            if is_late(end) {
                                // Late sessions have no state left, so nothing was absorbed.
                                assert_eq!(vals.len(), 1);
                                late.push(r.clone());
                                continue;
                            }
                            let w = (r.key.clone(), start, end, vals);
                            if fired(end) {
                                emit(&mut rows, &w);
                            }
                            live.push(w);
                            continue;
                        }
                        let mut any = false;
                        for (start, end) in (self.assign)(ts) {
                            if is_late(end) {
                                continue;
                            }
                            any = true;
                            let pos = live.iter().position(|w| w.0 == r.key && w.1 == start && w.2 == end);
                            let i = pos.unwrap_or_else(|| {
                                live.push((r.key.clone(), start, end, Vec::new()));
                                live.len() - 1
                            });
                            live[i].3.push(r.v);
                            if fired(end) {
                                emit(&mut rows, &live[i]);
                            }
                        }
                        if !any {
                            late.push(r.clone());
                        }
                    }
                }
                Step::Time(t) if self.event_time => {
                    if *t > wm {
                        for w in live.iter().filter(|w| w.2 - 1 > wm && w.2 - 1 <= *t) {
                            emit(&mut rows, w);
                        }
                        wm = *t;
                        live.retain(|w| (w.2 - 1).saturating_add(self.lateness) > wm);
                    }
                }
                Step::Time(t) => {
                    now = *t;
                    for w in live.iter().filter(|w| w.2 - 1 <= *t) {
                        emit(&mut rows, w);
                    }
                    live.retain(|w| w.2 - 1 > *t);
                }
            }
        }
        rows.sort();
        late.sort();
        let dropped = if self.late_output { 0 } else { late.len() as u64 };
        if !self.late_output {
            late.clear();
        }
        Outcome { rows, late, dropped }
    }
}

/// The model of count windows: per key, every `slide` records, the last `size` records.
pub(crate) fn expected_count(size: u64, slide: u64, steps: &[Step]) -> Outcome {
    let mut seen: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
    let mut rows = Vec::new();
    for step in steps {
        let Step::Batch(recs) = step else { continue };
        for r in recs {
            let list = seen.entry(r.key.clone()).or_default();
            list.push(r);
            if (list.len() as u64).is_multiple_of(slide) {
                let window = &list[list.len().saturating_sub(size as usize)..];
                let (lo, hi) = (window.iter().map(|r| r.ts).min(), window.iter().map(|r| r.ts).max());
                rows.push(aggregated(
                    &r.key,
                    lo,
                    hi,
                    &window.iter().map(|r| r.v).collect::<Vec<_>>(),
                ));
            }
        }
    }
    rows.sort();
    Outcome {
        rows,
        late: Vec::new(),
        dropped: 0,
    }
}

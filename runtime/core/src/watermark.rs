//! Watermarks: generating them in sources and combining them across inputs.
//!
//! A watermark `w` on a channel promises that no record with event time `<= w` follows (late
//! records aside). Invariants kept here:
//! - a source's watermark is the minimum over its active splits of
//!   `max_seen - out_of_orderness - 1`; a split that has been silent for the idleness timeout
//!   stops holding it back, and a source subtask that has never had a split (more subtasks
//!   than Kafka partitions, say) is idle — one whose splits all finished is not: it is about
//!   to end, and going idle would let downstream event time overtake what it still holds;
//! - an operator's watermark is the minimum over its active (non-idle, non-ended) inputs;
//! - watermarks never go backwards.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An event-time watermark in ms since the epoch.
pub type Watermark = i64;
/// The watermark before any event has been seen.
pub const WATERMARK_MIN: Watermark = i64::MIN;
/// The final watermark of a bounded input: fires every remaining timer.
pub const WATERMARK_MAX: Watermark = i64::MAX;

/// How a source derives watermarks from the timestamps it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkStrategy {
    /// Maximum expected lateness of a record relative to the largest timestamp seen (ms).
    pub out_of_orderness_ms: i64,
    /// A split that has produced nothing for this long (processing time, ms) is idle.
    pub idle_timeout_ms: Option<i64>,
}

impl WatermarkStrategy {
    /// Bounded out-of-orderness without idleness detection.
    pub fn bounded(out_of_orderness_ms: i64) -> Self {
        Self {
            out_of_orderness_ms,
            idle_timeout_ms: None,
        }
    }

    /// Adds an idleness timeout.
    pub fn with_idleness(mut self, idle_timeout_ms: i64) -> Self {
        self.idle_timeout_ms = Some(idle_timeout_ms);
        self
    }
}

#[derive(Clone, Debug)]
struct SplitProgress {
    max_timestamp: Option<i64>,
    last_active_ms: i64,
}

/// What a source should emit after [`SourceWatermarks::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatermarkUpdate {
    /// Nothing changed.
    Unchanged,
    /// The watermark advanced to this value.
    Advanced(Watermark),
    /// Every split is idle, or there is none: downstream should not wait for this source.
    BecameIdle,
    /// The source was idle and is active again, with its watermark where it was.
    BecameActive,
}

/// Per-split watermark generation for one source subtask.
#[derive(Clone, Debug)]
pub struct SourceWatermarks {
    strategy: WatermarkStrategy,
    splits: BTreeMap<u32, SplitProgress>,
    /// Whether any split was ever registered (a subtask that never had one is idle).
    had_splits: bool,
    emitted: Watermark,
    idle: bool,
}

impl SourceWatermarks {
    /// A generator with no splits yet.
    pub fn new(strategy: WatermarkStrategy) -> Self {
        Self {
            strategy,
            splits: BTreeMap::new(),
            had_splits: false,
            emitted: WATERMARK_MIN,
            idle: false,
        }
    }

    /// Registers a split (it holds the watermark back until it produces data or goes idle).
    pub fn add_split(&mut self, split: u32, now_ms: i64) {
        self.had_splits = true;
        self.splits.entry(split).or_insert(SplitProgress {
            max_timestamp: None,
            last_active_ms: now_ms,
        });
    }

    /// Removes a finished split; it no longer holds the watermark back.
    pub fn finish_split(&mut self, split: u32) {
        self.splits.remove(&split);
    }

    /// Records that `split` produced records whose largest event time is `max_timestamp`.
    pub fn observe(&mut self, split: u32, max_timestamp: i64, now_ms: i64) {
        self.had_splits = true;
        let p = self.splits.entry(split).or_insert(SplitProgress {
            max_timestamp: None,
            last_active_ms: now_ms,
        });
        p.max_timestamp = Some(p.max_timestamp.map_or(max_timestamp, |m| m.max(max_timestamp)));
        p.last_active_ms = now_ms;
    }

    /// The watermark last returned as advanced.
    pub fn current(&self) -> Watermark {
        self.emitted
    }

    /// Whether the source is currently idle.
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// Computes the watermark at `now_ms` and says what to emit.
    pub fn poll(&mut self, now_ms: i64) -> WatermarkUpdate {
        let timeout = self.strategy.idle_timeout_ms;
        let mut candidate: Option<Watermark> = None;
        let mut any_active = false;
        for p in self.splits.values() {
            let idle = timeout.is_some_and(|t| now_ms - p.last_active_ms >= t);
            if idle {
                continue;
            }
            any_active = true;
            let wm = match p.max_timestamp {
                Some(ts) => ts.saturating_sub(self.strategy.out_of_orderness_ms).saturating_sub(1),
                None => WATERMARK_MIN,
            };
            candidate = Some(candidate.map_or(wm, |c: Watermark| c.min(wm)));
        }
        // Never a split: nothing can hold event time back until one appears.
        let without_splits = self.splits.is_empty() && !self.had_splits;
        let all_idle = without_splits || (!any_active && timeout.is_some() && !self.splits.is_empty());
        if all_idle {
            if !self.idle {
                self.idle = true;
                return WatermarkUpdate::BecameIdle;
            }
            return WatermarkUpdate::Unchanged;
        }
        let was_idle = std::mem::replace(&mut self.idle, false);
        match candidate {
            Some(wm) if wm > self.emitted => {
                self.emitted = wm;
                WatermarkUpdate::Advanced(wm)
            }
            _ if was_idle => WatermarkUpdate::BecameActive,
            _ => WatermarkUpdate::Unchanged,
        }
    }
}

/// Combines the watermarks of a task's input channels: the minimum over active inputs.
#[derive(Clone, Debug)]
pub struct InputWatermarks {
    channels: Vec<ChannelWatermark>,
    combined: Watermark,
    idle: bool,
}

#[derive(Clone, Copy, Debug)]
struct ChannelWatermark {
    watermark: Watermark,
    idle: bool,
    ended: bool,
}

/// What changed in the combined watermark of a task's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CombinedUpdate {
    /// Nothing to forward.
    Unchanged,
    /// The combined watermark advanced.
    Advanced(Watermark),
    /// All inputs are idle.
    BecameIdle,
    /// Some input became active again after all were idle.
    BecameActive,
}

impl InputWatermarks {
    /// Tracking for `n` input channels.
    pub fn new(n: usize) -> Self {
        Self {
            channels: vec![
                ChannelWatermark {
                    watermark: WATERMARK_MIN,
                    idle: false,
                    ended: false,
                };
                n
            ],
            combined: WATERMARK_MIN,
            idle: false,
        }
    }

    /// The combined watermark.
    pub fn current(&self) -> Watermark {
        self.combined
    }

    /// A watermark arrived on `channel`.
    pub fn on_watermark(&mut self, channel: usize, watermark: Watermark) -> CombinedUpdate {
        if let Some(c) = self.channels.get_mut(channel) {
            c.watermark = c.watermark.max(watermark);
            c.idle = false;
        }
        self.recompute()
    }

    /// `channel` became idle or active.
    pub fn on_idle(&mut self, channel: usize, idle: bool) -> CombinedUpdate {
        if let Some(c) = self.channels.get_mut(channel) {
            c.idle = idle;
        }
        self.recompute()
    }

    /// `channel` ended: it no longer holds anything back.
    pub fn on_end(&mut self, channel: usize) -> CombinedUpdate {
        if let Some(c) = self.channels.get_mut(channel) {
            c.watermark = WATERMARK_MAX;
            c.ended = true;
        }
        self.recompute()
    }

    fn recompute(&mut self) -> CombinedUpdate {
        let active: Vec<Watermark> = self
            .channels
            .iter()
            .filter(|c| !c.idle && !c.ended)
            .map(|c| c.watermark)
            .collect();
        let all_ended = self.channels.iter().all(|c| c.ended);
        if all_ended && !self.channels.is_empty() {
            if self.combined < WATERMARK_MAX {
                self.combined = WATERMARK_MAX;
                self.idle = false;
                return CombinedUpdate::Advanced(WATERMARK_MAX);
            }
            return CombinedUpdate::Unchanged;
        }
        if active.is_empty() {
            // Ended inputs do not make the others' idleness disappear: wait for them.
            if self.idle || self.channels.is_empty() {
                return CombinedUpdate::Unchanged;
            }
            self.idle = true;
            return CombinedUpdate::BecameIdle;
        }
        let min = active.into_iter().min().unwrap_or(WATERMARK_MIN);
        let was_idle = std::mem::replace(&mut self.idle, false);
        if min > self.combined {
            self.combined = min;
            return CombinedUpdate::Advanced(min);
        }
        if was_idle {
            CombinedUpdate::BecameActive
        } else {
            CombinedUpdate::Unchanged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_watermark_is_min_over_splits() {
        let mut w = SourceWatermarks::new(WatermarkStrategy::bounded(5));
        w.add_split(0, 0);
        w.add_split(1, 0);
        w.observe(0, 100, 0);
        assert_eq!(w.poll(0), WatermarkUpdate::Unchanged, "split 1 has no data yet");
        w.observe(1, 50, 0);
        assert_eq!(w.poll(0), WatermarkUpdate::Advanced(44));
        w.observe(1, 200, 0);
        assert_eq!(w.poll(0), WatermarkUpdate::Advanced(94));
        w.observe(0, 10, 0);
        assert_eq!(w.poll(0), WatermarkUpdate::Unchanged, "never goes back");
    }

    #[test]
    fn idle_split_stops_holding_back() {
        let mut w = SourceWatermarks::new(WatermarkStrategy::bounded(0).with_idleness(1000));
        w.add_split(0, 0);
        w.add_split(1, 0);
        w.observe(0, 100, 500);
        assert_eq!(w.poll(500), WatermarkUpdate::Unchanged);
        // split 1 silent since 0: idle at 1000; split 0 active since 500.
        assert_eq!(w.poll(1000), WatermarkUpdate::Advanced(99));
        // both silent
        assert_eq!(w.poll(1600), WatermarkUpdate::BecameIdle);
        assert!(w.is_idle());
        w.observe(1, 300, 1700);
        assert_eq!(w.poll(1700), WatermarkUpdate::Advanced(299));
    }

    #[test]
    fn a_source_without_splits_is_idle_until_one_produces() {
        let mut w = SourceWatermarks::new(WatermarkStrategy::bounded(0));
        assert_eq!(w.poll(0), WatermarkUpdate::BecameIdle, "no split: nothing to wait for");
        assert_eq!(w.poll(10), WatermarkUpdate::Unchanged);
        w.add_split(3, 20);
        assert_eq!(
            w.poll(20),
            WatermarkUpdate::BecameActive,
            "a new split holds event time again"
        );
        w.observe(3, 100, 30);
        assert_eq!(w.poll(30), WatermarkUpdate::Advanced(99));
        w.finish_split(3);
        assert_eq!(
            w.poll(40),
            WatermarkUpdate::Unchanged,
            "finished splits do not make it idle: it is about to end"
        );
    }

    #[test]
    fn combined_is_min_of_active_inputs() {
        let mut c = InputWatermarks::new(2);
        assert_eq!(c.on_watermark(0, 10), CombinedUpdate::Unchanged);
        assert_eq!(c.on_watermark(1, 5), CombinedUpdate::Advanced(5));
        assert_eq!(c.on_idle(1, true), CombinedUpdate::Advanced(10));
        assert_eq!(c.on_idle(0, true), CombinedUpdate::BecameIdle);
        assert_eq!(c.on_watermark(1, 7), CombinedUpdate::BecameActive);
        assert_eq!(c.on_end(1), CombinedUpdate::BecameIdle);
        assert_eq!(c.on_end(0), CombinedUpdate::Advanced(WATERMARK_MAX));
    }
}

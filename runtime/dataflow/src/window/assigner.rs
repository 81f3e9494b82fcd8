//! The window assigners a window operator can use, as one closed, serializable enum.

use super::count::CountWindows;
use super::cumulate::CumulateWindows;
use super::session::SessionWindows;
use super::sliding::SlidingWindows;
use super::time_window::TimeWindow;
use super::tumbling::TumblingWindows;
use freshet_core::Result;
use serde::{Deserialize, Serialize};

/// Which windows records are grouped into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowAssigner {
    /// Fixed, non-overlapping time windows.
    Tumbling(TumblingWindows),
    /// Fixed, overlapping time windows (hop).
    Sliding(SlidingWindows),
    /// Per-key sessions separated by an inactivity gap (merging).
    Session(SessionWindows),
    /// Growing windows sharing an aligned start.
    Cumulate(CumulateWindows),
    /// Windows of a number of records per key.
    Count(CountWindows),
}

impl WindowAssigner {
    /// Tumbling windows of `size_ms`.
    pub fn tumbling(size_ms: i64) -> Self {
        WindowAssigner::Tumbling(TumblingWindows::new(size_ms))
    }

    /// Sliding windows of `size_ms` every `slide_ms`.
    pub fn sliding(size_ms: i64, slide_ms: i64) -> Self {
        WindowAssigner::Sliding(SlidingWindows::new(size_ms, slide_ms))
    }

    /// Session windows with `gap_ms`.
    pub fn session(gap_ms: i64) -> Self {
        WindowAssigner::Session(SessionWindows::new(gap_ms))
    }

    /// Cumulating windows growing by `step_ms` up to `max_size_ms`.
    pub fn cumulate(step_ms: i64, max_size_ms: i64) -> Self {
        WindowAssigner::Cumulate(CumulateWindows::new(step_ms, max_size_ms))
    }

    /// Tumbling count windows of `size` records.
    pub fn count(size: u64) -> Self {
        WindowAssigner::Count(CountWindows::tumbling(size))
    }

    /// Sliding count windows: the last `size` records every `slide` records.
    pub fn count_sliding(size: u64, slide: u64) -> Self {
        WindowAssigner::Count(CountWindows::sliding(size, slide))
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        match self {
            WindowAssigner::Tumbling(w) => w.validate(),
            WindowAssigner::Sliding(w) => w.validate(),
            WindowAssigner::Session(w) => w.validate(),
            WindowAssigner::Cumulate(w) => w.validate(),
            WindowAssigner::Count(w) => w.validate(),
        }
    }

    /// Whether windows of one key merge (sessions).
    pub fn is_merging(&self) -> bool {
        matches!(self, WindowAssigner::Session(_))
    }

    /// Whether windows are defined by time (everything but count windows).
    pub fn is_time_based(&self) -> bool {
        !matches!(self, WindowAssigner::Count(_))
    }

    /// The panes of an aligned assigner (tumbling, sliding, cumulate): `(size, offset)` such
    /// that all timestamps of one pane `[p, p + size)`, `p ≡ offset (mod size)`, belong to exactly
    /// the same windows (Flink's pane trick: for sliding windows the pane is `gcd(size, slide)`).
    /// `None` for sessions and count windows.
    pub fn pane(&self) -> Option<(i64, i64)> {
        match self {
            WindowAssigner::Tumbling(w) => Some((w.size_ms, w.offset_ms)),
            WindowAssigner::Sliding(w) => Some((gcd(w.size_ms, w.slide_ms), w.offset_ms)),
            WindowAssigner::Cumulate(w) => Some((w.step_ms, w.offset_ms)),
            WindowAssigner::Session(_) | WindowAssigner::Count(_) => None,
        }
    }

    /// Appends the windows a record at `ts` is assigned to (before merging, for sessions) to
    /// `out`. Count windows are not time-based and assign none.
    pub fn assign_into(&self, ts: i64, out: &mut Vec<TimeWindow>) {
        match self {
            WindowAssigner::Tumbling(w) => out.push(w.window_for(ts)),
            WindowAssigner::Sliding(w) => w.assign_into(ts, out),
            WindowAssigner::Session(w) => out.push(w.window_for(ts)),
            WindowAssigner::Cumulate(w) => w.assign_into(ts, out),
            WindowAssigner::Count(_) => {}
        }
    }

    /// The windows a record at `ts` is assigned to (before merging, for sessions).
    pub fn assign_windows(&self, ts: i64) -> Vec<TimeWindow> {
        let mut out = Vec::new();
        self.assign_into(ts, &mut out);
        out
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::time_window::window_start_with_offset;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_pane_shares_its_windows(
            ts in -10_000i64..10_000, a in 1i64..30, b in 1i64..30, offset in -50i64..50, kind in 0u8..3,
        ) {
            let (small, large) = (a.min(b), a.max(b));
            let assigner = match kind {
                0 => WindowAssigner::Tumbling(TumblingWindows::new(a).with_offset(offset)),
                1 => WindowAssigner::Sliding(SlidingWindows::new(large, small).with_offset(offset)),
                _ => WindowAssigner::Cumulate(CumulateWindows::new(small, small * (large % 5 + 1)).with_offset(offset)),
            };
            let (size, pane_offset) = assigner.pane().unwrap();
            let start = window_start_with_offset(ts, pane_offset, size);
            prop_assert_eq!(assigner.assign_windows(ts), assigner.assign_windows(start));
        }
    }

    #[test]
    fn serde_roundtrip_and_dispatch() {
        let all = [
            WindowAssigner::tumbling(10),
            WindowAssigner::sliding(10, 5),
            WindowAssigner::session(3),
            WindowAssigner::cumulate(2, 6),
            WindowAssigner::count(4),
            WindowAssigner::count_sliding(4, 2),
        ];
        for a in all {
            let json = serde_json::to_string(&a).unwrap();
            let back: WindowAssigner = serde_json::from_str(&json).unwrap();
            assert_eq!(back, a, "{json}");
            a.validate().unwrap();
        }
        let parsed: WindowAssigner = serde_json::from_str(r#"{"kind":"tumbling","size_ms":5}"#).unwrap();
        assert_eq!(parsed, WindowAssigner::tumbling(5));
        assert_eq!(WindowAssigner::sliding(10, 5).assign_windows(7).len(), 2);
        assert!(WindowAssigner::count(3).assign_windows(7).is_empty());
        assert!(WindowAssigner::session(3).is_merging());
        assert!(!WindowAssigner::count(3).is_time_based());
    }
}

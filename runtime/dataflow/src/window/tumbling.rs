//! Tumbling windows: fixed-size, non-overlapping, aligned to `offset` (Flink's
//! `TumblingEventTimeWindows`, SQL `TUMBLE`). Every timestamp belongs to exactly one window.

use super::time_window::{clamp_i64, require_positive, window_start_with_offset, TimeWindow};
use freshet_core::Result;
use serde::{Deserialize, Serialize};

/// Tumbling windows of `size_ms`, starting at multiples of `size_ms` shifted by `offset_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TumblingWindows {
    /// Window length (ms), positive.
    pub size_ms: i64,
    /// Alignment shift (ms); only its value modulo `size_ms` matters.
    #[serde(default)]
    pub offset_ms: i64,
}

impl TumblingWindows {
    /// Windows of `size_ms` aligned to the epoch.
    pub fn new(size_ms: i64) -> Self {
        Self { size_ms, offset_ms: 0 }
    }

    /// The same windows shifted by `offset_ms`.
    pub fn with_offset(mut self, offset_ms: i64) -> Self {
        self.offset_ms = offset_ms;
        self
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        require_positive(self.size_ms, "size_ms")
    }

    /// The window containing `ts`.
    pub fn window_for(&self, ts: i64) -> TimeWindow {
        let start = window_start_with_offset(ts, self.offset_ms, self.size_ms);
        TimeWindow::new(start, clamp_i64(i128::from(start) + i128::from(self.size_ms)))
    }

    /// The windows containing `ts` (exactly one).
    pub fn assign_windows(&self, ts: i64) -> Vec<TimeWindow> {
        vec![self.window_for(ts)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn assigns_one_aligned_window() {
        let t = TumblingWindows::new(10);
        assert_eq!(t.assign_windows(0), vec![TimeWindow::new(0, 10)]);
        assert_eq!(t.assign_windows(19), vec![TimeWindow::new(10, 20)]);
        assert_eq!(t.assign_windows(-1), vec![TimeWindow::new(-10, 0)]);
        let shifted = TumblingWindows::new(10).with_offset(3);
        assert_eq!(shifted.assign_windows(2), vec![TimeWindow::new(-7, 3)]);
        assert_eq!(shifted.assign_windows(3), vec![TimeWindow::new(3, 13)]);
        assert!(TumblingWindows::new(0).validate().is_err());
    }

    proptest! {
        #[test]
        fn window_contains_timestamp(ts in -1_000_000i64..1_000_000, size in 1i64..1000, offset in -2000i64..2000) {
            let w = TumblingWindows::new(size).with_offset(offset).window_for(ts);
            prop_assert!(w.contains(ts));
            prop_assert_eq!(w.end - w.start, size);
            prop_assert_eq!((w.start - offset).rem_euclid(size), 0);
        }
    }
}

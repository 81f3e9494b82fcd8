//! Sliding (hopping) windows: windows of `size_ms` starting every `slide_ms` (Flink's
//! `SlidingEventTimeWindows`, SQL `HOP`). A timestamp belongs to `ceil(size / slide)` or
//! `floor(size / slide)` windows.

use super::time_window::{clamp_i64, require_positive, window_start_with_offset, TimeWindow};
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Sliding windows of `size_ms` every `slide_ms`, aligned to `offset_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindows {
    /// Window length (ms), positive.
    pub size_ms: i64,
    /// Distance between window starts (ms), positive and at most `size_ms`.
    pub slide_ms: i64,
    /// Alignment shift (ms); only its value modulo `slide_ms` matters.
    #[serde(default)]
    pub offset_ms: i64,
}

impl SlidingWindows {
    /// Windows of `size_ms` starting every `slide_ms`, aligned to the epoch.
    pub fn new(size_ms: i64, slide_ms: i64) -> Self {
        Self {
            size_ms,
            slide_ms,
            offset_ms: 0,
        }
    }

    /// The same windows shifted by `offset_ms`.
    pub fn with_offset(mut self, offset_ms: i64) -> Self {
        self.offset_ms = offset_ms;
        self
    }

    /// Checks the options: positive sizes and `slide_ms <= size_ms` (otherwise some records
    /// would belong to no window).
    pub fn validate(&self) -> Result<()> {
        require_positive(self.size_ms, "size_ms")?;
        require_positive(self.slide_ms, "slide_ms")?;
        if self.slide_ms > self.size_ms {
            return Err(Error::Config(format!(
                "window option 'slide_ms' ({}) must not exceed 'size_ms' ({})",
                self.slide_ms, self.size_ms
            )));
        }
        Ok(())
    }

    /// Appends the windows containing `ts` to `out`, latest start first.
    pub fn assign_into(&self, ts: i64, out: &mut Vec<TimeWindow>) {
        let last_start = i128::from(window_start_with_offset(ts, self.offset_ms, self.slide_ms));
        let (size, slide) = (i128::from(self.size_ms), i128::from(self.slide_ms.max(1)));
        let lower = i128::from(ts) - size;
        let mut start = last_start;
        while start > lower {
            out.push(TimeWindow::new(clamp_i64(start), clamp_i64(start + size)));
            start -= slide;
        }
    }

    /// The windows containing `ts`, latest start first.
    pub fn assign_windows(&self, ts: i64) -> Vec<TimeWindow> {
        let mut out = Vec::new();
        self.assign_into(ts, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn assigns_overlapping_windows() {
        let s = SlidingWindows::new(10, 5);
        assert_eq!(
            s.assign_windows(7),
            vec![TimeWindow::new(5, 15), TimeWindow::new(0, 10)]
        );
        assert_eq!(
            s.assign_windows(-1),
            vec![TimeWindow::new(-5, 5), TimeWindow::new(-10, 0)]
        );
        let hot = SlidingWindows::new(10_000, 2_000);
        assert_eq!(hot.assign_windows(12_345).len(), 5);
        let shifted = SlidingWindows::new(10, 5).with_offset(2);
        assert_eq!(
            shifted.assign_windows(1),
            vec![TimeWindow::new(-3, 7), TimeWindow::new(-8, 2)]
        );
        assert!(SlidingWindows::new(5, 10).validate().is_err());
        assert!(SlidingWindows::new(5, 0).validate().is_err());
        assert!(SlidingWindows::new(10, 10).validate().is_ok());
    }

    proptest! {
        #[test]
        fn assigns_exactly_the_containing_windows(
            ts in -100_000i64..100_000, slide in 1i64..50, factor in 1i64..6, extra in 0i64..50, offset in -100i64..100,
        ) {
            let size = slide * factor + extra.min(slide - 1);
            let s = SlidingWindows::new(size, slide).with_offset(offset);
            let got = s.assign_windows(ts);
            // Brute force: every aligned start within (ts - size, ts].
            let expected: Vec<TimeWindow> = ((ts - size + 1)..=ts)
                .rev()
                .filter(|st| (st - offset).rem_euclid(slide) == 0)
                .map(|st| TimeWindow::new(st, st + size))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}

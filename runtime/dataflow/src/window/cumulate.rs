//! Cumulating windows (SQL `CUMULATE`): windows that share a start aligned to `max_size_ms` and
//! grow by `step_ms`: `[start, start + step)`, `[start, start + 2·step)`, … `[start, start +
//! max_size)`. A timestamp belongs to every such window whose end is after it.

use super::time_window::{clamp_i64, require_positive, window_start_with_offset, TimeWindow};
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Cumulating windows growing by `step_ms` up to `max_size_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CumulateWindows {
    /// Growth step (ms), positive; divides `max_size_ms`.
    pub step_ms: i64,
    /// Largest window (ms), a positive multiple of `step_ms`.
    pub max_size_ms: i64,
    /// Alignment shift of the shared start (ms); only its value modulo `max_size_ms` matters.
    #[serde(default)]
    pub offset_ms: i64,
}

impl CumulateWindows {
    /// Cumulating windows aligned to the epoch.
    pub fn new(step_ms: i64, max_size_ms: i64) -> Self {
        Self {
            step_ms,
            max_size_ms,
            offset_ms: 0,
        }
    }

    /// The same windows shifted by `offset_ms`.
    pub fn with_offset(mut self, offset_ms: i64) -> Self {
        self.offset_ms = offset_ms;
        self
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        require_positive(self.step_ms, "step_ms")?;
        require_positive(self.max_size_ms, "max_size_ms")?;
        if self.max_size_ms % self.step_ms != 0 {
            return Err(Error::Config(format!(
                "window option 'max_size_ms' ({}) must be a multiple of 'step_ms' ({})",
                self.max_size_ms, self.step_ms
            )));
        }
        Ok(())
    }

    /// Appends the windows containing `ts` to `out`, smallest first.
    pub fn assign_into(&self, ts: i64, out: &mut Vec<TimeWindow>) {
        let start = window_start_with_offset(ts, self.offset_ms, self.max_size_ms);
        let step = i128::from(self.step_ms.max(1));
        let steps = i128::from(self.max_size_ms) / step;
        // The first window whose end is after ts: k = floor((ts - start) / step) + 1.
        let first = (i128::from(ts) - i128::from(start)) / step + 1;
        for k in first..=steps {
            out.push(TimeWindow::new(start, clamp_i64(i128::from(start) + k * step)));
        }
    }

    /// The windows containing `ts`, smallest first.
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
    fn assigns_growing_windows() {
        let c = CumulateWindows::new(2, 6);
        assert_eq!(
            c.assign_windows(0),
            vec![TimeWindow::new(0, 2), TimeWindow::new(0, 4), TimeWindow::new(0, 6)]
        );
        assert_eq!(c.assign_windows(3), vec![TimeWindow::new(0, 4), TimeWindow::new(0, 6)]);
        assert_eq!(c.assign_windows(5), vec![TimeWindow::new(0, 6)]);
        assert_eq!(
            c.assign_windows(6),
            vec![TimeWindow::new(6, 8), TimeWindow::new(6, 10), TimeWindow::new(6, 12)]
        );
        assert_eq!(c.assign_windows(-1), vec![TimeWindow::new(-6, 0)]);
        assert!(CumulateWindows::new(4, 6).validate().is_err());
        assert!(CumulateWindows::new(0, 6).validate().is_err());
    }

    proptest! {
        #[test]
        fn assigns_exactly_the_containing_windows(ts in -10_000i64..10_000, step in 1i64..20, n in 1i64..6, offset in -50i64..50) {
            let c = CumulateWindows::new(step, step * n).with_offset(offset);
            let got = c.assign_windows(ts);
            let start = ts - (ts - offset).rem_euclid(step * n);
            let expected: Vec<TimeWindow> = (1..=n)
                .map(|k| TimeWindow::new(start, start + k * step))
                .filter(|w| w.contains(ts))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}

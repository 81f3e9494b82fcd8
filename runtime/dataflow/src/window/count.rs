//! Count windows: per key, a window closes every `slide` records and covers the last `size`
//! records (fewer while the key has not seen `size` yet) — Flink's `countWindow(size, slide)`
//! (global windows, a count trigger and a count evictor). `slide == size` is a tumbling count
//! window. A key's incomplete window never fires (as in Flink), not even at end of input.

use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Count windows of `size` records, firing every `slide` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountWindows {
    /// Number of records a window covers (positive).
    pub size: u64,
    /// Number of records between firings (positive); equal to `size` for tumbling windows.
    pub slide: u64,
}

impl CountWindows {
    /// Tumbling count windows of `size` records.
    pub fn tumbling(size: u64) -> Self {
        Self { size, slide: size }
    }

    /// Sliding count windows: the last `size` records, every `slide` records.
    pub fn sliding(size: u64, slide: u64) -> Self {
        Self { size, slide }
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || self.slide == 0 {
            return Err(Error::Config(format!(
                "count window options 'size' and 'slide' must be positive, got size {} slide {}",
                self.size, self.slide
            )));
        }
        Ok(())
    }

    /// Whether every record belongs to exactly one window (`slide == size`).
    pub fn is_tumbling(&self) -> bool {
        self.size == self.slide
    }

    /// If the key's `seen`-th record (1-based) closes a window, the 0-based sequence numbers of
    /// the records in it.
    pub fn fires_at(&self, seen: u64) -> Option<Range<u64>> {
        if seen == 0 || self.slide == 0 || !seen.is_multiple_of(self.slide) {
            return None;
        }
        Some(seen.saturating_sub(self.size)..seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_every_slide_over_last_size() {
        let t = CountWindows::tumbling(3);
        assert!(t.is_tumbling());
        let fired: Vec<_> = (1..=7).filter_map(|n| t.fires_at(n)).collect();
        assert_eq!(fired, vec![0..3, 3..6]);
        let s = CountWindows::sliding(5, 2);
        let fired: Vec<_> = (1..=8).filter_map(|n| s.fires_at(n)).collect();
        assert_eq!(fired, vec![0..2, 0..4, 1..6, 3..8]);
        assert!(CountWindows::sliding(0, 1).validate().is_err());
        assert!(CountWindows::sliding(2, 3).validate().is_ok());
    }
}

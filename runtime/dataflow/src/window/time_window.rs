//! A time window `[start, end)` and the arithmetic every time-window assigner shares.
//!
//! Invariant: `start < end`. A window's last timestamp is `end - 1` ([`TimeWindow::max_timestamp`]);
//! its result fires when the watermark reaches it. Window starts are aligned with floor semantics
//! (as Flink's `TimeWindow.getWindowStartWithOffset`), so negative timestamps fall into the window
//! that really contains them.

use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// A half-open interval of event (or processing) time, in ms: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First timestamp in the window (inclusive).
    pub start: i64,
    /// One past the last timestamp in the window (exclusive).
    pub end: i64,
}

/// Size in bytes of an encoded [`TimeWindow`].
pub const ENCODED_WINDOW_LEN: usize = 16;

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        Self { start, end }
    }

    /// The last timestamp that belongs to the window: `end - 1`.
    pub fn max_timestamp(&self) -> i64 {
        self.end.saturating_sub(1)
    }

    /// Whether the window contains `ts`.
    pub fn contains(&self, ts: i64) -> bool {
        ts >= self.start && ts < self.end
    }

    /// Whether two windows overlap or touch (Flink's `TimeWindow.intersects`: `[0, 10)` and
    /// `[10, 20)` intersect). Session windows merge exactly when they intersect.
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Encodes the window as 16 order-preserving bytes (big-endian, sign bit flipped), used as
    /// the state namespace of the window.
    pub fn encode(&self) -> [u8; ENCODED_WINDOW_LEN] {
        let mut out = [0u8; ENCODED_WINDOW_LEN];
        out[..8].copy_from_slice(&order_preserving(self.start));
        out[8..].copy_from_slice(&order_preserving(self.end));
        out
    }

    /// Decodes a window written by [`encode`](Self::encode).
    pub fn decode(bytes: &[u8]) -> Result<TimeWindow> {
        if bytes.len() != ENCODED_WINDOW_LEN {
            return Err(Error::State(format!(
                "corrupt window namespace: expected {ENCODED_WINDOW_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(TimeWindow::new(
            from_order_preserving(&bytes[..8]),
            from_order_preserving(&bytes[8..]),
        ))
    }
}

fn order_preserving(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn from_order_preserving(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// The start of the window of length `size` (aligned to `offset`) that contains `timestamp`:
/// the largest `start <= timestamp` with `start ≡ offset (mod size)`. Floor semantics, so
/// `window_start_with_offset(-1, 0, 10) == -10`. `size` must be positive. Saturates at the edge
/// of the `i64` range instead of overflowing.
#[inline]
pub fn window_start_with_offset(timestamp: i64, offset: i64, size: i64) -> i64 {
    let size = size.max(1);
    // Fast path in i64; i128 only near the edges of the range.
    if let Some(start) = timestamp
        .checked_sub(offset)
        .and_then(|d| timestamp.checked_sub(d.rem_euclid(size)))
    {
        return start;
    }
    let size = i128::from(size);
    let ts = i128::from(timestamp);
    let remainder = (ts - i128::from(offset)).rem_euclid(size);
    clamp_i64(ts - remainder)
}

/// Clamps an `i128` into the `i64` range.
pub(crate) fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Checks that a duration option is positive.
pub(crate) fn require_positive(value: i64, option: &str) -> Result<()> {
    if value <= 0 {
        return Err(Error::Config(format!(
            "window option '{option}' must be positive, got {value}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_uses_floor_semantics() {
        assert_eq!(window_start_with_offset(0, 0, 10), 0);
        assert_eq!(window_start_with_offset(9, 0, 10), 0);
        assert_eq!(window_start_with_offset(10, 0, 10), 10);
        assert_eq!(window_start_with_offset(-1, 0, 10), -10);
        assert_eq!(window_start_with_offset(-10, 0, 10), -10);
        assert_eq!(window_start_with_offset(-11, 0, 10), -20);
        assert_eq!(window_start_with_offset(7, 3, 10), 3);
        assert_eq!(window_start_with_offset(2, 3, 10), -7);
        assert_eq!(window_start_with_offset(2, -3, 10), -3);
        assert_eq!(window_start_with_offset(i64::MIN, 0, 10), i64::MIN);
        assert_eq!(window_start_with_offset(i64::MAX, 0, 10), i64::MAX - 7);
    }

    #[test]
    fn encoding_roundtrips_and_orders() {
        let ws = [
            TimeWindow::new(i64::MIN, -5),
            TimeWindow::new(-10, 0),
            TimeWindow::new(-10, 5),
            TimeWindow::new(0, 10),
            TimeWindow::new(3, i64::MAX),
        ];
        for w in ws {
            assert_eq!(TimeWindow::decode(&w.encode()).unwrap(), w);
        }
        for pair in ws.windows(2) {
            assert!(pair[0].encode() < pair[1].encode(), "{pair:?}");
        }
        assert!(TimeWindow::decode(b"short").is_err());
    }

    #[test]
    fn intersection_includes_touching() {
        let a = TimeWindow::new(0, 10);
        assert!(a.intersects(&TimeWindow::new(10, 20)));
        assert!(a.intersects(&TimeWindow::new(-5, 0)));
        assert!(!a.intersects(&TimeWindow::new(11, 20)));
        assert_eq!(a.cover(&TimeWindow::new(5, 15)), TimeWindow::new(0, 15));
        assert!(a.contains(0) && a.contains(9) && !a.contains(10));
        assert_eq!(a.max_timestamp(), 9);
    }
}

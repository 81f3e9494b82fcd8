//! Session windows: a record at `ts` opens the window `[ts, ts + gap)`; windows of one key that
//! intersect (overlap or touch, Flink's `TimeWindow.intersects`) merge into one session.
//!
//! Invariant kept by [`add_to_sessions`]: the sessions of a key are pairwise non-intersecting.

use super::time_window::{clamp_i64, require_positive, TimeWindow};
use freshet_core::Result;
use serde::{Deserialize, Serialize};

/// Session windows closing after `gap_ms` without records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWindows {
    /// Inactivity gap (ms), positive.
    pub gap_ms: i64,
}

impl SessionWindows {
    /// Sessions with the given gap.
    pub fn new(gap_ms: i64) -> Self {
        Self { gap_ms }
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        require_positive(self.gap_ms, "gap_ms")
    }

    /// The (unmerged) window a record at `ts` opens: `[ts, ts + gap)`.
    pub fn window_for(&self, ts: i64) -> TimeWindow {
        TimeWindow::new(ts, clamp_i64(i128::from(ts) + i128::from(self.gap_ms)))
    }

    /// The windows of a record at `ts` before merging (exactly one).
    pub fn assign_windows(&self, ts: i64) -> Vec<TimeWindow> {
        vec![self.window_for(ts)]
    }
}

/// Merges intersecting windows (Flink's `TimeWindow.mergeWindows`): returns each resulting
/// window with the indices (into `windows`) of the windows it covers, ordered by start.
pub fn merge_windows(windows: &[TimeWindow]) -> Vec<(TimeWindow, Vec<usize>)> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| (windows[i].start, windows[i].end));
    let mut out: Vec<(TimeWindow, Vec<usize>)> = Vec::new();
    for i in order {
        match out.last_mut() {
            Some((current, members)) if current.intersects(&windows[i]) => {
                *current = current.cover(&windows[i]);
                members.push(i);
            }
            _ => out.push((windows[i], vec![i])),
        }
    }
    out
}

/// What adding a window to a key's sessions does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionMerge {
    /// The session the new window ends up in.
    pub merged: TimeWindow,
    /// Indices (into the existing sessions) of the sessions absorbed into `merged`, ascending.
    pub absorbed: Vec<usize>,
}

/// Computes how `window` merges with `sessions` (pairwise non-intersecting): the resulting
/// session and the existing sessions it absorbs. Pure; the caller applies it.
pub fn add_to_sessions(sessions: &[TimeWindow], window: TimeWindow) -> SessionMerge {
    let mut merged = window;
    let mut absorbed: Vec<usize> = Vec::new();
    // A fixpoint, so the result is right even if the input invariant were violated.
    loop {
        let mut changed = false;
        for (i, s) in sessions.iter().enumerate() {
            if !absorbed.contains(&i) && merged.intersects(s) {
                merged = merged.cover(s);
                absorbed.push(i);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    absorbed.sort_unstable();
    SessionMerge { merged, absorbed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bridging_window_merges_two_sessions() {
        let sessions = [TimeWindow::new(0, 10), TimeWindow::new(15, 25), TimeWindow::new(40, 50)];
        let m = add_to_sessions(&sessions, TimeWindow::new(8, 18));
        assert_eq!(m.merged, TimeWindow::new(0, 25));
        assert_eq!(m.absorbed, vec![0, 1]);
        let touching = add_to_sessions(&sessions, TimeWindow::new(30, 40));
        assert_eq!(touching.merged, TimeWindow::new(30, 50));
        assert_eq!(touching.absorbed, vec![2]);
        let alone = add_to_sessions(&sessions, TimeWindow::new(27, 29));
        assert_eq!(
            alone,
            SessionMerge {
                merged: TimeWindow::new(27, 29),
                absorbed: vec![]
            }
        );
        assert_eq!(SessionWindows::new(5).assign_windows(-3), vec![TimeWindow::new(-3, 2)]);
        assert!(SessionWindows::new(0).validate().is_err());
    }

    #[test]
    fn merge_windows_groups_intersecting() {
        let ws = [
            TimeWindow::new(10, 20),
            TimeWindow::new(0, 5),
            TimeWindow::new(5, 8),
            TimeWindow::new(21, 30),
        ];
        let merged = merge_windows(&ws);
        assert_eq!(
            merged,
            vec![
                (TimeWindow::new(0, 8), vec![1, 2]),
                (TimeWindow::new(10, 20), vec![0]),
                (TimeWindow::new(21, 30), vec![3]),
            ]
        );
    }

    proptest! {
        #[test]
        fn incremental_adds_equal_batch_merge(ts in proptest::collection::vec(-200i64..200, 1..30), gap in 1i64..20) {
            let s = SessionWindows::new(gap);
            let mut sessions: Vec<TimeWindow> = Vec::new();
            for &t in &ts {
                let m = add_to_sessions(&sessions, s.window_for(t));
                for &i in m.absorbed.iter().rev() {
                    sessions.remove(i);
                }
                sessions.push(m.merged);
                for (i, a) in sessions.iter().enumerate() {
                    for b in &sessions[i + 1..] {
                        prop_assert!(!a.intersects(b));
                    }
                }
            }
            sessions.sort();
            let all: Vec<TimeWindow> = ts.iter().map(|&t| s.window_for(t)).collect();
            let batch: Vec<TimeWindow> = merge_windows(&all).into_iter().map(|(w, _)| w).collect();
            prop_assert_eq!(sessions, batch);
        }
    }
}

//! Window frames `... PRECEDING AND CURRENT ROW` and the rows they cover in a sorted partition.

use serde::{Deserialize, Serialize};

/// The start of a frame that ends at the current row (`... PRECEDING AND CURRENT ROW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// `ROWS BETWEEN n PRECEDING AND CURRENT ROW`: the row and the `n` rows before it.
    Rows(u64),
    /// `ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`.
    RowsUnbounded,
    /// `RANGE BETWEEN x PRECEDING AND CURRENT ROW`: rows whose order value is at least the
    /// current one minus `x` (in the order column's unit: milliseconds for times), and peers.
    Range(i64),
    /// `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`: every row up to the last peer.
    RangeUnbounded,
}

impl Frame {
    /// Whether the frame always starts at the partition's first row.
    pub fn is_unbounded(self) -> bool {
        matches!(self, Self::RowsUnbounded | Self::RangeUnbounded)
    }

    /// Whether peers (rows of equal order) share their frame, as in `RANGE` frames.
    pub fn includes_peers(self) -> bool {
        matches!(self, Self::Range(_) | Self::RangeUnbounded)
    }
}

/// The frames of every row of a sorted partition, as half-open index ranges `(start, end)`.
///
/// `peer_group[i]` identifies the peers of row `i` (equal for rows of equal order, and
/// non-decreasing); `order[i]` is the numeric order value that `RANGE x PRECEDING` frames
/// subtract from (ascending; `None`, e.g. for a NULL, makes the frame the row's peers).
pub fn frame_bounds(frame: Frame, peer_group: &[usize], order: &[Option<i64>]) -> Vec<(usize, usize)> {
    let n = peer_group.len();
    // The end of each row's peer group.
    let mut peers_end = vec![n; n];
    for i in (0..n.saturating_sub(1)).rev() {
        peers_end[i] = if peer_group[i] == peer_group[i + 1] {
            peers_end[i + 1]
        } else {
            i + 1
        };
    }
    let mut first_peer = vec![0; n];
    for i in 1..n {
        first_peer[i] = if peer_group[i] == peer_group[i - 1] {
            first_peer[i - 1]
        } else {
            i
        };
    }
    let mut start = 0;
    (0..n)
        .map(|i| match frame {
            Frame::Rows(k) => (i.saturating_sub(usize::try_from(k).unwrap_or(usize::MAX)), i + 1),
            Frame::RowsUnbounded => (0, i + 1),
            Frame::RangeUnbounded => (0, peers_end[i]),
            Frame::Range(x) => match order.get(i).copied().flatten() {
                None => (first_peer[i], peers_end[i]),
                Some(v) => {
                    let low = v.saturating_sub(x);
                    // Starts only move forward: orders ascend.
                    while start < i && order.get(start).copied().flatten().is_none_or(|o| o < low) {
                        start += 1;
                    }
                    (start.min(first_peer[i]), peers_end[i])
                }
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_frames_count_rows_and_ignore_peers() {
        let groups = [0, 1, 1, 2, 3];
        let order = [Some(0), Some(5), Some(5), Some(6), Some(20)];
        assert_eq!(
            frame_bounds(Frame::Rows(2), &groups, &order),
            vec![(0, 1), (0, 2), (0, 3), (1, 4), (2, 5)]
        );
        assert_eq!(
            frame_bounds(Frame::Rows(0), &groups, &order),
            vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
        );
        assert_eq!(
            frame_bounds(Frame::RowsUnbounded, &groups, &order),
            vec![(0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
        );
    }

    #[test]
    fn range_frames_include_peers_and_the_interval() {
        let groups = [0, 1, 1, 2, 3];
        let order = [Some(0), Some(5), Some(5), Some(6), Some(20)];
        assert_eq!(
            frame_bounds(Frame::RangeUnbounded, &groups, &order),
            vec![(0, 1), (0, 3), (0, 3), (0, 4), (0, 5)]
        );
        assert_eq!(
            frame_bounds(Frame::Range(5), &groups, &order),
            vec![(0, 1), (0, 3), (0, 3), (1, 4), (4, 5)]
        );
        assert_eq!(
            frame_bounds(Frame::Range(0), &groups, &order),
            vec![(0, 1), (1, 3), (1, 3), (3, 4), (4, 5)]
        );
    }

    #[test]
    fn empty_partitions_have_no_frames() {
        assert!(frame_bounds(Frame::Rows(3), &[], &[]).is_empty());
    }
}

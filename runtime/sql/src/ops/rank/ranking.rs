//! The ranking of one partition, free of Arrow and state: rows as encoded bytes, ordered by
//! an order-preserving sort key, ties broken by arrival.
//!
//! A [`Partition`] keeps its entries sorted by rank. Over an append-only input only the top `N`
//! are kept (a row ranked below `N` can never rise again, rows only arrive); over a changelog
//! input every row is kept, since retractions can promote any of them. [`rank_changes`] turns
//! the top `N` before and after some changes into the changelog that revises one into the other.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// How rows with equal sort keys are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TieBreak {
    /// The earlier arrival ranks first (Top-N, keep-first deduplication).
    EarlierFirst,
    /// The later arrival ranks first (keep-last deduplication).
    LaterFirst,
}

/// One row of a partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The order-preserving encoding of the ORDER BY columns.
    pub sort: Vec<u8>,
    /// Arrival number within the partition.
    pub seq: u64,
    /// The encoded row.
    pub row: Vec<u8>,
}

/// The rows of one partition, best first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// The next arrival number.
    pub next_seq: u64,
    /// The rows, in rank order.
    pub entries: Vec<Entry>,
}

fn compare(a: &Entry, b: &Entry, tie: TieBreak) -> Ordering {
    a.sort.cmp(&b.sort).then_with(|| match tie {
        TieBreak::EarlierFirst => a.seq.cmp(&b.seq),
        TieBreak::LaterFirst => b.seq.cmp(&a.seq),
    })
}

impl Partition {
    /// Adds a row; keeps only the first `keep` rows if given.
    pub fn insert(&mut self, sort: Vec<u8>, row: Vec<u8>, tie: TieBreak, keep: Option<usize>) {
        let entry = Entry {
            sort,
            seq: self.next_seq,
            row,
        };
        self.next_seq += 1;
        let at = self
            .entries
            .partition_point(|e| compare(e, &entry, tie) == Ordering::Less);
        if keep.is_some_and(|n| at >= n) {
            return;
        }
        self.entries.insert(at, entry);
        if let Some(n) = keep {
            self.entries.truncate(n);
        }
    }

    /// Removes the lowest-ranked row equal to `row`; false if there is none (it expired, or
    /// was never ranked).
    pub fn retract(&mut self, row: &[u8]) -> bool {
        match self.entries.iter().rposition(|e| e.row == row) {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// The first `n` rows.
    pub fn top(&self, n: usize) -> &[Entry] {
        &self.entries[..n.min(self.entries.len())]
    }
}

/// The kind of one emitted change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The row entered the result.
    Insert,
    /// The row left the result.
    Delete,
    /// The row is the previous version at its rank.
    UpdateBefore,
    /// The row is the new version at its rank.
    UpdateAfter,
}

/// The changes revising the ranked rows `before` into `after` (both best first): with
/// `by_rank` (the row number is part of the output), rank by rank (a different row at a rank is
/// an update, a rank appearing an insert, vanishing a delete); otherwise rows leaving are
/// deleted and rows entering inserted, whatever their rank. Each change is (row, 1-based rank,
/// kind).
pub fn rank_changes<'a>(before: &'a [Entry], after: &'a [Entry], by_rank: bool) -> Vec<(&'a Entry, u64, Change)> {
    let mut changes = Vec::new();
    if by_rank {
        for r in 0..before.len().max(after.len()) {
            let rank = r as u64 + 1;
            match (before.get(r), after.get(r)) {
                (Some(old), Some(new)) if old.seq != new.seq => {
                    changes.push((old, rank, Change::UpdateBefore));
                    changes.push((new, rank, Change::UpdateAfter));
                }
                (Some(old), None) => changes.push((old, rank, Change::Delete)),
                (None, Some(new)) => changes.push((new, rank, Change::Insert)),
                _ => {}
            }
        }
    } else {
        for (r, old) in before.iter().enumerate() {
            if !after.iter().any(|e| e.seq == old.seq) {
                changes.push((old, r as u64 + 1, Change::Delete));
            }
        }
        for (r, new) in after.iter().enumerate() {
            if !before.iter().any(|e| e.seq == new.seq) {
                changes.push((new, r as u64 + 1, Change::Insert));
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(p: &Partition) -> Vec<u8> {
        p.entries.iter().map(|e| e.row[0]).collect()
    }

    #[test]
    fn keeps_the_top_n_with_earlier_arrivals_first_on_ties() {
        let mut p = Partition::default();
        for (sort, row) in [(5u8, 1u8), (3, 2), (5, 3), (1, 4), (9, 5)] {
            p.insert(vec![sort], vec![row], TieBreak::EarlierFirst, Some(3));
        }
        // Sorted by key 1, 3, 5 (row 1 before row 3: it came first); 5 and 9 fell out.
        assert_eq!(rows(&p), vec![4, 2, 1]);
        let mut last = Partition::default();
        for (sort, row) in [(5u8, 1u8), (5, 2), (5, 3)] {
            last.insert(vec![sort], vec![row], TieBreak::LaterFirst, Some(1));
        }
        assert_eq!(rows(&last), vec![3]);
    }

    #[test]
    fn retractions_promote_kept_rows() {
        let mut p = Partition::default();
        for (sort, row) in [(1u8, 1u8), (2, 2), (3, 3)] {
            p.insert(vec![sort], vec![row], TieBreak::EarlierFirst, None);
        }
        let before = p.top(2).to_vec();
        assert!(p.retract(&[1]));
        assert!(!p.retract(&[7]));
        let changes: Vec<(u8, u64, Change)> = rank_changes(&before, p.top(2), true)
            .into_iter()
            .map(|(e, r, c)| (e.row[0], r, c))
            .collect();
        assert_eq!(
            changes,
            vec![
                (1, 1, Change::UpdateBefore),
                (2, 1, Change::UpdateAfter),
                (2, 2, Change::UpdateBefore),
                (3, 2, Change::UpdateAfter),
            ]
        );
        let changes: Vec<(u8, Change)> = rank_changes(&before, p.top(2), false)
            .into_iter()
            .map(|(e, _, c)| (e.row[0], c))
            .collect();
        assert_eq!(changes, vec![(1, Change::Delete), (3, Change::Insert)]);
    }
}

//! Stable operator uids derived from the query structure.
//!
//! A stateful operator's uid is a hash of the plan subtree it computes (its input tables,
//! filters, keys, windows and aggregates), so editing another part of the script — a new
//! output column, another INSERT — leaves it unchanged and its state restorable from a
//! savepoint. Generated names (`__window_tvf_3`) depend on statement order, so they are
//! replaced by what they stand for before hashing.

use std::collections::{BTreeMap, HashMap};

/// Hands out uids, unique within one job.
#[derive(Debug, Default)]
pub struct UidAllocator {
    taken: HashMap<String, usize>,
    /// Generated names and the stable text that replaces them.
    replacements: BTreeMap<String, String>,
}

/// FNV-1a, 64 bits: small, stable across platforms and releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl UidAllocator {
    /// Makes `generated` hash as `stable` (e.g. a window table function's definition).
    pub fn replace_generated(&mut self, generated: &str, stable: String) {
        self.replacements.insert(generated.to_string(), stable);
    }

    /// `text` with generated names replaced (longest names first, so `_12` is not hit by `_1`).
    pub fn stable_text(&self, text: &str) -> String {
        let mut names: Vec<&String> = self.replacements.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut out = text.to_string();
        for name in names {
            out = out.replace(name.as_str(), &self.replacements[name]);
        }
        out
    }

    /// `{kind}-{hash of the stable basis}`, with `-2`, `-3`, ... for repeats in one job.
    pub fn allocate(&mut self, kind: &str, basis: &str) -> String {
        let stable = self.stable_text(basis);
        self.allocate_exact(&format!("{kind}-{:016x}", fnv1a(&stable)))
    }

    /// `name` itself, or `name-2`, `name-3`, ... if taken.
    pub fn allocate_exact(&mut self, name: &str) -> String {
        let count = self.taken.entry(name.to_string()).or_insert(0);
        *count += 1;
        if *count == 1 {
            name.to_string()
        } else {
            format!("{name}-{count}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_and_unique() {
        let mut a = UidAllocator::default();
        a.replace_generated("__window_tvf_1", "TUMBLE(bid, 10s)".into());
        let first = a.allocate("window-agg", "Aggregate over __window_tvf_1");
        let repeat = a.allocate("window-agg", "Aggregate over __window_tvf_1");
        assert_eq!(repeat, format!("{first}-2"));
        let mut b = UidAllocator::default();
        b.replace_generated("__window_tvf_7", "TUMBLE(bid, 10s)".into());
        assert_eq!(b.allocate("window-agg", "Aggregate over __window_tvf_7"), first);
        assert_ne!(b.allocate("window-agg", "Aggregate over something else"), first);
    }
}

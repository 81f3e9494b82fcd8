//! Keys → key groups → subtasks.
//!
//! A key's bytes hash into one of `max_parallelism` key groups; subtask `i` of an operator with
//! parallelism `p` owns the contiguous range `[ceil(i·M/p), ceil((i+1)·M/p))`. These are Flink's
//! formulas, so a key group never changes when parallelism does: rescaling only moves whole
//! groups between subtasks, and state is snapshotted per key group to make that cheap.

use crate::ids::{KeyGroup, SubtaskIndex};
use serde::{Deserialize, Serialize};

/// The default number of key groups (the most an operator can ever be scaled to).
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;

/// The largest supported max parallelism (key groups are `u16`).
pub const UPPER_MAX_PARALLELISM: u32 = 32_768;

/// A stable 64-bit hash of a byte string (fixed across processes, platforms and versions, since
/// key groups depend on it and are written into checkpoints).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (bytes.len() as u64).wrapping_mul(K) ^ 0x2545_F491_4F6C_DD1D;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ fmix64(u64::from_le_bytes(word))).rotate_left(27).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ fmix64(u64::from_le_bytes(word))).rotate_left(27).wrapping_mul(K);
    }
    fmix64(h)
}

/// MurmurHash3's 64-bit finalizer: spreads every input bit over the output.
#[inline]
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The key group of a key hash.
#[inline]
pub fn key_group_for_hash(hash: u64, max_parallelism: u32) -> KeyGroup {
    KeyGroup((hash % max_parallelism as u64) as u16)
}

/// The subtask that owns a key group.
#[inline]
pub fn subtask_for_key_group(key_group: KeyGroup, max_parallelism: u32, parallelism: u32) -> SubtaskIndex {
    SubtaskIndex((key_group.0 as u32 * parallelism) / max_parallelism)
}

/// A contiguous, inclusive-exclusive range of key groups `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyGroupRange {
    /// First key group in the range.
    pub start: u16,
    /// One past the last key group.
    pub end: u16,
}

impl KeyGroupRange {
    /// The range owned by `subtask` of an operator with `parallelism` subtasks.
    pub fn for_subtask(max_parallelism: u32, parallelism: u32, subtask: SubtaskIndex) -> Self {
        let i = subtask.0;
        let start = (i * max_parallelism).div_ceil(parallelism);
        let end = ((i + 1) * max_parallelism).div_ceil(parallelism);
        KeyGroupRange {
            start: start as u16,
            end: end as u16,
        }
    }

    /// All key groups `[0, max_parallelism)`.
    pub fn all(max_parallelism: u32) -> Self {
        KeyGroupRange {
            start: 0,
            end: max_parallelism as u16,
        }
    }

    /// Whether the range holds `key_group`.
    pub fn contains(&self, key_group: KeyGroup) -> bool {
        key_group.0 >= self.start && key_group.0 < self.end
    }

    /// Number of key groups in the range.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The key groups in the range, in order.
    pub fn iter(&self) -> impl Iterator<Item = KeyGroup> {
        (self.start..self.end).map(KeyGroup)
    }

    /// The overlap of two ranges (possibly empty).
    pub fn intersect(&self, other: &KeyGroupRange) -> KeyGroupRange {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end).max(start);
        KeyGroupRange { start, end }
    }
}

/// Checks that a max parallelism is usable with a parallelism.
pub fn validate_parallelism(max_parallelism: u32, parallelism: u32) -> crate::Result<()> {
    if max_parallelism == 0 || max_parallelism > UPPER_MAX_PARALLELISM {
        return Err(crate::Error::Config(format!(
            "max parallelism must be in 1..={UPPER_MAX_PARALLELISM}, got {max_parallelism}"
        )));
    }
    if parallelism == 0 || parallelism > max_parallelism {
        return Err(crate::Error::Config(format!(
            "parallelism must be in 1..={max_parallelism} (the max parallelism), got {parallelism}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_partition_all_key_groups() {
        for p in 1..=20u32 {
            let mut next = 0u16;
            for i in 0..p {
                let r = KeyGroupRange::for_subtask(128, p, SubtaskIndex(i));
                assert_eq!(r.start, next, "p={p} i={i}");
                next = r.end;
                for kg in r.iter() {
                    assert_eq!(subtask_for_key_group(kg, 128, p), SubtaskIndex(i));
                }
            }
            assert_eq!(next, 128);
        }
    }

    #[test]
    fn stable_hash_is_fixed() {
        // These values are written into checkpoints through key groups: they must never change.
        assert_eq!(stable_hash(b""), stable_hash(b""));
        assert_ne!(stable_hash(b"a"), stable_hash(b"b"));
        assert_eq!(stable_hash(b"freshet") % 128, stable_hash(b"freshet") % 128);
        assert_eq!(fmix64(1), 0xb456bcfc34c2cb2c);
    }

    proptest! {
        #[test]
        fn key_groups_spread(keys in proptest::collection::vec(any::<u64>(), 2000..2001)) {
            let mut counts = [0usize; 16];
            for k in keys {
                counts[key_group_for_hash(stable_hash(&k.to_le_bytes()), 16).get()] += 1;
            }
            for c in counts {
                prop_assert!(c > 40, "uneven spread: {counts:?}");
            }
        }
    }
}

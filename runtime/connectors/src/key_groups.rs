//! Which key groups a source subtask owns, for sources whose splits appear while the job runs
//! (files in a watched directory, Kafka partitions).
//!
//! A split belongs to the key group of the stable hash of its name, and exactly one subtask
//! owns each key group: at the first start, the subtask whose key-group range holds it; after a
//! restore, the subtask the snapshot item of that group was handed to. Each source snapshots
//! one item per owned group (empty ones included, so ownership survives a restore) holding
//! every split of the group seen so far; [`OwnedKeyGroups::group`] builds those groups and
//! [`OwnedKeyGroups::restore_group`] checks the items handed back. Invariant: the items of one
//! snapshot cover every key group exactly once, so a restore at any parallelism hands each
//! split's position to exactly one subtask.

use freshet_core::key_group::{key_group_for_hash, stable_hash};
use freshet_core::{Error, Result};
use freshet_dataflow::TaskInfo;
use std::collections::{BTreeMap, BTreeSet};

/// The key group of the split named `name` among `key_groups` groups.
pub fn key_group_of(name: &str, key_groups: u32) -> u16 {
    key_group_for_hash(stable_hash(name.as_bytes()), key_groups.max(1)).0
}

/// The key groups one source subtask owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedKeyGroups {
    /// How many key groups names hash into: the job's max parallelism at the first start.
    key_groups: u32,
    owned: BTreeSet<u16>,
}

impl OwnedKeyGroups {
    /// A fresh subtask's groups: its key-group range.
    pub fn fresh(info: &TaskInfo) -> Self {
        Self {
            key_groups: info.max_parallelism.max(1),
            owned: info.key_groups.iter().map(|kg| kg.0).collect(),
        }
    }

    /// How many key groups names hash into.
    pub fn key_groups(&self) -> u32 {
        self.key_groups
    }

    /// Takes ownership of a restored item's group `key_group` of `key_groups`; `source` names
    /// the source in errors. Fails on a group outside the range, a different group count than
    /// the other items', or a group handed over twice.
    pub fn restore_group(&mut self, source: &str, key_group: u16, key_groups: u32) -> Result<()> {
        if self.owned.is_empty() {
            self.key_groups = key_groups;
        }
        if key_groups != self.key_groups || u32::from(key_group) >= key_groups {
            return Err(Error::State(format!(
                "{source}: restored key group {key_group} of {key_groups} does not fit key groups of {}",
                self.key_groups
            )));
        }
        if !self.owned.insert(key_group) {
            return Err(Error::State(format!("{source}: key group {key_group} restored twice")));
        }
        Ok(())
    }

    /// Whether the split named `name` is in an owned group.
    pub fn owns(&self, name: &str) -> bool {
        self.owned.contains(&key_group_of(name, self.key_groups))
    }

    /// Whether the subtask owns no key group.
    pub fn is_empty(&self) -> bool {
        self.owned.is_empty()
    }

    /// `items` sorted into every owned group (empty groups included), by the name `name_of`
    /// gives each. An item of a group this subtask does not own is an internal error.
    pub fn group<T>(
        &self,
        source: &str,
        items: impl IntoIterator<Item = T>,
        name_of: impl Fn(&T) -> String,
    ) -> Result<BTreeMap<u16, Vec<T>>> {
        let mut groups: BTreeMap<u16, Vec<T>> = self.owned.iter().map(|&g| (g, Vec::new())).collect();
        for item in items {
            let name = name_of(&item);
            let group = key_group_of(&name, self.key_groups);
            let Some(members) = groups.get_mut(&group) else {
                return Err(Error::Internal(format!(
                    "{source}: '{name}' is in key group {group}, which this subtask does not own"
                )));
            };
            members.push(item);
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::task_info;

    #[test]
    fn fresh_subtasks_split_the_names_between_them() {
        let owners: Vec<OwnedKeyGroups> = (0..3).map(|s| OwnedKeyGroups::fresh(&task_info(s, 3, "run"))).collect();
        for i in 0..50 {
            let name = format!("topic/{i}");
            assert_eq!(owners.iter().filter(|o| o.owns(&name)).count(), 1, "{name}");
        }
    }

    #[test]
    fn grouping_covers_owned_groups_and_rejects_foreign_names() {
        let owner = OwnedKeyGroups::fresh(&task_info(0, 2, "run"));
        let names: Vec<String> = (0..400).map(|i| format!("f{i}")).filter(|n| owner.owns(n)).collect();
        let groups = owner.group("test", names.clone(), |n| n.clone()).unwrap();
        assert_eq!(groups.len(), 64, "every owned group of 128, empty ones included");
        assert_eq!(groups.values().map(Vec::len).sum::<usize>(), names.len());
        let foreign = (0..40).map(|i| format!("f{i}")).find(|n| !owner.owns(n)).unwrap();
        let err = owner.group("test", vec![foreign], |n| n.clone()).unwrap_err();
        assert!(err.to_string().contains("does not own"), "{err}");
    }

    #[test]
    fn restore_takes_the_groups_handed_over_and_checks_them() {
        let mut owner = OwnedKeyGroups::default();
        owner.restore_group("test", 3, 8).unwrap();
        owner.restore_group("test", 5, 8).unwrap();
        let name = (0..100)
            .map(|i| format!("p{i}"))
            .find(|n| key_group_of(n, 8) == 5)
            .unwrap();
        assert!(owner.owns(&name));
        assert!(owner
            .restore_group("test", 5, 8)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(owner.restore_group("test", 1, 16).is_err(), "another group count");
        assert!(
            OwnedKeyGroups::default().restore_group("test", 8, 8).is_err(),
            "out of range"
        );
    }
}

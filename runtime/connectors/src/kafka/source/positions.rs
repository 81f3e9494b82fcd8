//! Which partitions a source subtask reads, where each starts and stops, and how that is
//! checkpointed.
//!
//! A partition belongs to the key group of the stable hash of `topic/partition`, and the
//! subtask owning the group reads it — the file source's scheme. The snapshot holds one
//! [`PartitionGroup`] item per owned key group with the position of every partition of the
//! group known so far, so a restore at any parallelism hands each group, with all its
//! partitions, to exactly one subtask. Positions are always concrete offsets (the next one to
//! read): the startup mode is resolved once, when a partition is first seen, and never again.

use super::super::config::{BoundedMode, StartupMode};
use freshet_core::key_group::{key_group_for_hash, stable_hash};
use freshet_core::{Error, Result};
use freshet_dataflow::TaskInfo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A topic partition.
pub type TopicPartition = (String, i32);

/// Where reading a partition resumes, and where it ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPosition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
    /// Bounded reading: the first offset not to read.
    pub stop: Option<i64>,
}

impl PartitionPosition {
    /// Whether a bounded partition has been read to its stop offset.
    pub fn finished(&self) -> bool {
        self.stop.is_some_and(|stop| self.offset >= stop)
    }
}

/// The snapshot item: one key group of partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionGroup {
    /// The key group.
    pub key_group: u16,
    /// How many key groups partitions hash into (the job's max parallelism at the first start).
    pub key_groups: u32,
    /// The group's partitions.
    pub partitions: Vec<PartitionPosition>,
}

/// The key group of a partition among `key_groups`.
pub fn key_group_of(topic: &str, partition: i32, key_groups: u32) -> u16 {
    key_group_for_hash(
        stable_hash(format!("{topic}/{partition}").as_bytes()),
        key_groups.max(1),
    )
    .0
}

/// The key groups one subtask owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedGroups {
    key_groups: u32,
    owned: BTreeSet<u16>,
}

impl OwnedGroups {
    /// A fresh subtask's groups: its key-group range.
    pub fn fresh(info: &TaskInfo) -> Self {
        Self {
            key_groups: info.max_parallelism.max(1),
            owned: info.key_groups.iter().map(|kg| kg.0).collect(),
        }
    }

    /// A restored subtask's groups (those of the items it was handed) and their positions.
    pub fn restore(items: &[serde_json::Value]) -> Result<(Self, Vec<PartitionPosition>)> {
        let mut groups = Self::default();
        let mut positions = Vec::new();
        for item in items {
            let group: PartitionGroup = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("kafka source: unreadable restored partition group {item}: {e}")))?;
            if groups.key_groups == 0 {
                groups.key_groups = group.key_groups;
            }
            if group.key_groups != groups.key_groups || u32::from(group.key_group) >= group.key_groups {
                return Err(Error::State(format!(
                    "kafka source: restored key group {} of {} does not fit key groups of {}",
                    group.key_group, group.key_groups, groups.key_groups
                )));
            }
            if !groups.owned.insert(group.key_group) {
                return Err(Error::State(format!(
                    "kafka source: key group {} restored twice",
                    group.key_group
                )));
            }
            positions.extend(group.partitions);
        }
        Ok((groups, positions))
    }

    /// Whether this subtask reads the partition.
    pub fn owns(&self, topic: &str, partition: i32) -> bool {
        self.owned.contains(&key_group_of(topic, partition, self.key_groups))
    }

    /// Whether the subtask owns no key group (it then reads nothing).
    pub fn is_empty(&self) -> bool {
        self.owned.is_empty()
    }

    /// One item per owned group (empty ones included, so ownership survives a restore).
    pub fn snapshot<'a>(
        &self,
        positions: impl IntoIterator<Item = &'a PartitionPosition>,
    ) -> Result<Vec<serde_json::Value>> {
        let mut by_group: BTreeMap<u16, Vec<PartitionPosition>> = self.owned.iter().map(|&g| (g, Vec::new())).collect();
        for pos in positions {
            let group = key_group_of(&pos.topic, pos.partition, self.key_groups);
            let Some(list) = by_group.get_mut(&group) else {
                return Err(Error::Internal(format!(
                    "kafka source: partition {}/{} is in key group {group}, which this subtask does not own",
                    pos.topic, pos.partition
                )));
            };
            list.push(pos.clone());
        }
        by_group
            .into_iter()
            .map(|(key_group, partitions)| {
                serde_json::to_value(PartitionGroup {
                    key_group,
                    key_groups: self.key_groups,
                    partitions,
                })
                .map_err(Error::from)
            })
            .collect()
    }
}

/// The offset lookups resolving startup and bounded modes (the broker, or a test's table).
pub trait OffsetLookup {
    /// The earliest offset still in the partition.
    fn earliest(&mut self, topic: &str, partition: i32) -> Result<i64>;
    /// The offset the next produced record will get (the high watermark).
    fn latest(&mut self, topic: &str, partition: i32) -> Result<i64>;
    /// The first offset whose timestamp is at or after `timestamp_ms`, if any.
    fn for_timestamp(&mut self, topic: &str, partition: i32, timestamp_ms: i64) -> Result<Option<i64>>;
    /// The offset the consumer group committed, if any.
    fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>>;
}

/// What a group-offsets start does for a partition without a committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start at the earliest offset.
    Earliest,
    /// Start at the latest offset.
    Latest,
    /// Fail.
    None,
}

impl OffsetReset {
    /// From `auto.offset.reset` (`earliest`/`smallest`/`beginning`, `latest`/`largest`/`end`).
    pub fn from_property(value: Option<&str>) -> Self {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("earliest" | "smallest" | "beginning") => Self::Earliest,
            Some("latest" | "largest" | "end") => Self::Latest,
            _ => Self::None,
        }
    }
}

/// The first offset to read of a partition seen at the first start (`initial`) or discovered
/// later (which starts at its earliest offset, so no record of a new partition is missed).
pub fn start_offset(
    mode: &StartupMode,
    reset: OffsetReset,
    initial: bool,
    lookup: &mut dyn OffsetLookup,
    topic: &str,
    partition: i32,
) -> Result<i64> {
    if !initial {
        return lookup.earliest(topic, partition);
    }
    match mode {
        StartupMode::EarliestOffset => lookup.earliest(topic, partition),
        StartupMode::LatestOffset => lookup.latest(topic, partition),
        StartupMode::Timestamp(ts) => match lookup.for_timestamp(topic, partition, *ts)? {
            Some(offset) => Ok(offset),
            None => lookup.latest(topic, partition),
        },
        StartupMode::SpecificOffsets(offsets) => match offsets.get(&partition) {
            Some(&offset) => Ok(offset),
            None => lookup.earliest(topic, partition),
        },
        StartupMode::GroupOffsets => match (lookup.committed(topic, partition)?, reset) {
            (Some(offset), _) => Ok(offset),
            (None, OffsetReset::Earliest) => lookup.earliest(topic, partition),
            (None, OffsetReset::Latest) => lookup.latest(topic, partition),
            (None, OffsetReset::None) => Err(Error::Config(format!(
                "kafka source: partition {topic}/{partition} has no committed offset for the consumer group; set 'properties.auto.offset.reset' to 'earliest' or 'latest', or choose another 'scan.startup.mode'"
            ))),
        },
    }
}

/// The first offset not to read of a partition, for a bounded source.
pub fn stop_offset(
    mode: &BoundedMode,
    lookup: &mut dyn OffsetLookup,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>> {
    match mode {
        BoundedMode::Unbounded => Ok(None),
        BoundedMode::LatestOffset => lookup.latest(topic, partition).map(Some),
        BoundedMode::Timestamp(ts) => match lookup.for_timestamp(topic, partition, ts.saturating_add(1))? {
            Some(offset) => Ok(Some(offset)),
            None => lookup.latest(topic, partition).map(Some),
        },
    }
}

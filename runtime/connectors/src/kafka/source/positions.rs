//! Which partitions a source subtask reads, where each starts and stops, and how that is
//! checkpointed.
//!
//! A partition belongs to the key group of the stable hash of `topic/partition`, and the
//! subtask owning the group reads it ([`crate::key_groups`], shared with the file source). The snapshot holds one
//! [`PartitionGroup`] item per owned key group with the position of every partition of the
//! group known so far, so a restore at any parallelism hands each group, with all its
//! partitions, to exactly one subtask. Positions are always concrete offsets (the next one to
//! read): the startup mode is resolved once, when a partition is first seen, and never again.

use super::super::config::{BoundedMode, StartupMode};
use crate::key_groups::OwnedKeyGroups;
use freshet_core::{Error, Result};
use freshet_dataflow::TaskInfo;
use serde::{Deserialize, Serialize};

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

/// The name a partition is hashed by into its key group.
fn partition_name(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// The partitions one subtask reads: those of its key groups ([`OwnedKeyGroups`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedGroups(OwnedKeyGroups);

const SOURCE: &str = "kafka source";

impl OwnedGroups {
    /// A fresh subtask's groups: its key-group range.
    pub fn fresh(info: &TaskInfo) -> Self {
        Self(OwnedKeyGroups::fresh(info))
    }

    /// A restored subtask's groups (those of the items it was handed) and their positions.
    pub fn restore(items: &[serde_json::Value]) -> Result<(Self, Vec<PartitionPosition>)> {
        let mut groups = OwnedKeyGroups::default();
        let mut positions = Vec::new();
        for item in items {
            let group: PartitionGroup = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("{SOURCE}: unreadable restored partition group {item}: {e}")))?;
            groups.restore_group(SOURCE, group.key_group, group.key_groups)?;
            positions.extend(group.partitions);
        }
        Ok((Self(groups), positions))
    }

    /// Whether this subtask reads the partition.
    pub fn owns(&self, topic: &str, partition: i32) -> bool {
        self.0.owns(&partition_name(topic, partition))
    }

    /// One item per owned group (empty ones included, so ownership survives a restore).
    pub fn snapshot<'a>(
        &self,
        positions: impl IntoIterator<Item = &'a PartitionPosition>,
    ) -> Result<Vec<serde_json::Value>> {
        let groups = self
            .0
            .group(SOURCE, positions, |p| partition_name(&p.topic, p.partition))?;
        groups
            .into_iter()
            .map(|(key_group, partitions)| {
                serde_json::to_value(PartitionGroup {
                    key_group,
                    key_groups: self.0.key_groups(),
                    partitions: partitions.into_iter().cloned().collect(),
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

#[cfg(test)]
mod tests;

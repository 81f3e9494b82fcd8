//! Startup and bounded modes resolved against a table of partitions, and ownership snapshots.

use super::*;
use std::collections::BTreeMap;

/// A partition as the lookup sees it: records at offsets `earliest..latest`, record `o` with
/// timestamp `1000 + 10 * o`, and the group's committed offset.
#[derive(Clone, Copy)]
struct Table {
    earliest: i64,
    latest: i64,
    committed: Option<i64>,
}

impl OffsetLookup for Table {
    fn earliest(&mut self, _: &str, _: i32) -> Result<i64> {
        Ok(self.earliest)
    }
    fn latest(&mut self, _: &str, _: i32) -> Result<i64> {
        Ok(self.latest)
    }
    fn for_timestamp(&mut self, _: &str, _: i32, ts: i64) -> Result<Option<i64>> {
        // The first offset whose timestamp is >= ts, as ListOffsets answers.
        Ok((self.earliest..self.latest).find(|o| 1000 + 10 * o >= ts))
    }
    fn committed(&mut self, _: &str, _: i32) -> Result<Option<i64>> {
        Ok(self.committed)
    }
}

const TABLE: Table = Table {
    earliest: 5,
    latest: 50,
    committed: Some(20),
};

fn start(mode: StartupMode, reset: OffsetReset, initial: bool, table: Table) -> Result<i64> {
    start_offset(&mode, reset, initial, &mut table.clone(), "t", 0)
}

#[test]
fn earliest_latest_and_specific_offsets() {
    assert_eq!(
        start(StartupMode::EarliestOffset, OffsetReset::None, true, TABLE).ok(),
        Some(5)
    );
    assert_eq!(
        start(StartupMode::LatestOffset, OffsetReset::None, true, TABLE).ok(),
        Some(50)
    );
    let specific = StartupMode::SpecificOffsets(BTreeMap::from([(0, 33)]));
    assert_eq!(start(specific, OffsetReset::None, true, TABLE).ok(), Some(33));
    let other = StartupMode::SpecificOffsets(BTreeMap::from([(1, 33)]));
    assert_eq!(
        start(other, OffsetReset::None, true, TABLE).ok(),
        Some(5),
        "a partition without a given offset starts at its earliest"
    );
}

#[test]
fn timestamp_startup_is_the_first_record_at_or_after_the_time() {
    // Record 12 has timestamp 1120: a start at 1115 or 1120 begins there.
    assert_eq!(
        start(StartupMode::Timestamp(1115), OffsetReset::None, true, TABLE).ok(),
        Some(12)
    );
    assert_eq!(
        start(StartupMode::Timestamp(1120), OffsetReset::None, true, TABLE).ok(),
        Some(12)
    );
    // Before every record: the earliest; after every record: the end, reading only new ones.
    assert_eq!(
        start(StartupMode::Timestamp(0), OffsetReset::None, true, TABLE).ok(),
        Some(5)
    );
    assert_eq!(
        start(StartupMode::Timestamp(99_999), OffsetReset::None, true, TABLE).ok(),
        Some(50)
    );
}

#[test]
fn group_offsets_use_the_commit_or_the_reset_policy() {
    assert_eq!(
        start(StartupMode::GroupOffsets, OffsetReset::None, true, TABLE).ok(),
        Some(20)
    );
    let uncommitted = Table {
        committed: None,
        ..TABLE
    };
    assert_eq!(
        start(StartupMode::GroupOffsets, OffsetReset::Earliest, true, uncommitted).ok(),
        Some(5)
    );
    assert_eq!(
        start(StartupMode::GroupOffsets, OffsetReset::Latest, true, uncommitted).ok(),
        Some(50)
    );
    let err = start(StartupMode::GroupOffsets, OffsetReset::None, true, uncommitted)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("t/0 has no committed offset"), "{err}");
    assert!(err.contains("auto.offset.reset"), "the error says how to fix it: {err}");
}

#[test]
fn a_partition_discovered_later_starts_at_its_earliest_whatever_the_mode() {
    for mode in [
        StartupMode::LatestOffset,
        StartupMode::Timestamp(1300),
        StartupMode::GroupOffsets,
    ] {
        assert_eq!(start(mode, OffsetReset::Latest, false, TABLE).ok(), Some(5));
    }
}

#[test]
fn bounded_stops_at_the_latest_offset_or_after_the_last_record_at_the_time() {
    let mut t = TABLE;
    assert_eq!(stop_offset(&BoundedMode::Unbounded, &mut t, "t", 0).ok(), Some(None));
    assert_eq!(
        stop_offset(&BoundedMode::LatestOffset, &mut t, "t", 0).ok(),
        Some(Some(50))
    );
    // Records up to timestamp 1120 (offset 12) are read; 13 is the first not to read.
    assert_eq!(
        stop_offset(&BoundedMode::Timestamp(1120), &mut t, "t", 0).ok(),
        Some(Some(13))
    );
    assert_eq!(
        stop_offset(&BoundedMode::Timestamp(1125), &mut t, "t", 0).ok(),
        Some(Some(13))
    );
    assert_eq!(
        stop_offset(&BoundedMode::Timestamp(99_999), &mut t, "t", 0).ok(),
        Some(Some(50))
    );
}

#[test]
fn offset_reset_reads_librdkafkas_spellings() {
    for (value, reset) in [
        (Some("earliest"), OffsetReset::Earliest),
        (Some("smallest"), OffsetReset::Earliest),
        (Some("BEGINNING"), OffsetReset::Earliest),
        (Some("latest"), OffsetReset::Latest),
        (Some("end"), OffsetReset::Latest),
        (Some("error"), OffsetReset::None),
        (None, OffsetReset::None),
    ] {
        assert_eq!(OffsetReset::from_property(value), reset, "{value:?}");
    }
}

//! [`OffsetLookup`] answered by the broker through the source's consumer.

use super::positions::OffsetLookup;
use crate::kafka::client::{kafka_error, REQUEST_TIMEOUT};
use freshet_core::Result;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// Offset lookups through a consumer.
pub struct ConsumerLookup<'a> {
    consumer: &'a BaseConsumer,
}

impl<'a> ConsumerLookup<'a> {
    /// Lookups through `consumer`.
    pub fn new(consumer: &'a BaseConsumer) -> Self {
        Self { consumer }
    }

    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        self.consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .map_err(|e| kafka_error(format!("reading the offsets of {topic}/{partition}"), e))
    }

    fn single(&self, topic: &str, partition: i32, offset: Offset) -> Result<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, offset)
            .map_err(|e| kafka_error("building an offset request", e))?;
        Ok(list)
    }
}

impl OffsetLookup for ConsumerLookup<'_> {
    fn earliest(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self.watermarks(topic, partition)?.0)
    }

    fn latest(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self.watermarks(topic, partition)?.1)
    }

    fn for_timestamp(&mut self, topic: &str, partition: i32, timestamp_ms: i64) -> Result<Option<i64>> {
        let request = self.single(topic, partition, Offset::Offset(timestamp_ms))?;
        let answer = self
            .consumer
            .offsets_for_times(request, REQUEST_TIMEOUT)
            .map_err(|e| kafka_error(format!("looking up offsets by time in {topic}/{partition}"), e))?;
        Ok(answer.find_partition(topic, partition).and_then(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => Some(o),
            _ => None,
        }))
    }

    fn committed(&mut self, topic: &str, partition: i32) -> Result<Option<i64>> {
        let request = self.single(topic, partition, Offset::Invalid)?;
        let answer = self.consumer.committed_offsets(request, REQUEST_TIMEOUT).map_err(|e| {
            kafka_error(
                format!("reading the group's committed offset of {topic}/{partition}"),
                e,
            )
        })?;
        Ok(answer.find_partition(topic, partition).and_then(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => Some(o),
            _ => None,
        }))
    }
}

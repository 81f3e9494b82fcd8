//! The dead-letter topic of malformed records: each is written as it was read (key, value,
//! headers, timestamp) plus headers saying where it came from and why it was rejected.
//! Writes are at-least-once: the producer is flushed at every checkpoint.

use crate::kafka::client::client_config;
use crate::kafka::config::KafkaCommon;
use crate::kafka::producer::{OutgoingRecord, TrackedProducer};
use freshet_core::Result;
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::Message;
use std::time::Duration;

/// Header names added to dead-lettered records.
pub const ERROR_HEADER: &str = "freshet.error";
/// The topic the record was read from.
pub const TOPIC_HEADER: &str = "freshet.source.topic";
/// Its partition.
pub const PARTITION_HEADER: &str = "freshet.source.partition";
/// Its offset.
pub const OFFSET_HEADER: &str = "freshet.source.offset";

/// A producer to the dead-letter topic.
pub struct DeadLetter {
    producer: TrackedProducer,
    topic: String,
}

impl DeadLetter {
    /// A producer to `topic` on the source's cluster.
    pub fn new(common: &KafkaCommon, topic: String) -> Result<Self> {
        // The source's properties (consumer-only ones are ignored by the producer, with a
        // warning from librdkafka).
        let connection = common.clone();
        let config = client_config(&connection, &[("enable.idempotence", "true")]);
        Ok(Self {
            producer: TrackedProducer::create(&config, "dead-letter")?,
            topic,
        })
    }

    /// Queues `message` with the reason it was rejected.
    pub fn send(&mut self, message: &OwnedMessage, reason: &str) -> Result<()> {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        headers = headers
            .insert(Header {
                key: ERROR_HEADER,
                value: Some(reason.as_bytes()),
            })
            .insert(Header {
                key: TOPIC_HEADER,
                value: Some(message.topic().as_bytes()),
            })
            .insert(Header {
                key: PARTITION_HEADER,
                value: Some(partition.as_bytes()),
            })
            .insert(Header {
                key: OFFSET_HEADER,
                value: Some(offset.as_bytes()),
            });
        self.producer.send(OutgoingRecord {
            topic: &self.topic,
            key: message.key(),
            value: message.payload(),
            partition: None,
            timestamp: message.timestamp().to_millis(),
            headers: Some(headers),
        })
    }

    /// Waits until every dead-lettered record is acknowledged.
    pub fn flush(&self) -> Result<()> {
        self.producer.flush(Duration::from_secs(60))
    }
}

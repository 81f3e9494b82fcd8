//! A librdkafka producer that tracks deliveries, so that a checkpoint can wait until every
//! record sent before it is acknowledged and fail if any was not; and that remembers its
//! producer id and epoch (from librdkafka's statistics) for transactions.

use super::client::kafka_error;
use freshet_core::{Error, Result};
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Delivery outcomes and identity reported by librdkafka's callbacks.
#[derive(Default)]
pub struct DeliveryTracker {
    acknowledged: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// (producer id, epoch) from the latest statistics, for idempotent producers.
    identity: Mutex<Option<(i64, i16)>>,
}

impl ClientContext for DeliveryTracker {
    fn stats(&self, statistics: Statistics) {
        if let Some(eos) = statistics.eos {
            if eos.producer_id >= 0 {
                *self.identity.lock() = Some((eos.producer_id, eos.producer_epoch as i16));
            }
        }
    }
}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, message)) => {
                use rdkafka::Message;
                let mut first = self.first_error.lock();
                if first.is_none() {
                    *first = Some(format!(
                        "delivery to {}/{} failed: {error}",
                        message.topic(),
                        message.partition()
                    ));
                }
            }
        }
    }
}

/// One record to send.
pub struct OutgoingRecord<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value (`None`: a tombstone).
    pub value: Option<&'a [u8]>,
    /// The partition, if chosen.
    pub partition: Option<i32>,
    /// The timestamp (ms), if set.
    pub timestamp: Option<i64>,
    /// Headers, if any.
    pub headers: Option<OwnedHeaders>,
}

/// A producer with a background polling thread and delivery tracking.
pub struct TrackedProducer {
    producer: ThreadedProducer<DeliveryTracker>,
    tracker: Arc<DeliveryTracker>,
    sent: u64,
}

impl TrackedProducer {
    /// Creates a producer from `config`.
    pub fn create(config: &ClientConfig, what: &str) -> Result<Self> {
        let producer: ThreadedProducer<DeliveryTracker> = config
            .create_with_context(DeliveryTracker::default())
            .map_err(|e| kafka_error(format!("creating the {what} producer"), e))?;
        let tracker = producer.context().clone();
        Ok(Self {
            producer,
            tracker,
            sent: 0,
        })
    }

    /// Queues a record, waiting while librdkafka's queue is full.
    pub fn send(&mut self, record: OutgoingRecord<'_>) -> Result<()> {
        let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(record.topic);
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(value) = record.value {
            base = base.payload(value);
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        if let Some(ts) = record.timestamp {
            base = base.timestamp(ts);
        }
        if let Some(headers) = record.headers {
            base = base.headers(headers);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((error, _)) => return Err(kafka_error(format!("sending to '{}'", record.topic), error)),
            }
        }
    }

    /// The first delivery failure so far, as an error.
    pub fn check(&self) -> Result<()> {
        match self.tracker.first_error.lock().clone() {
            Some(message) => Err(Error::io("kafka", std::io::Error::other(message))),
            None => Ok(()),
        }
    }

    /// Waits until every record sent is acknowledged; fails if one was not.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer
            .flush(timeout)
            .map_err(|e| kafka_error("waiting for acknowledgements", e))?;
        self.check()
    }

    /// Records sent and acknowledged so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.tracker.acknowledged.load(Ordering::Relaxed))
    }

    /// The underlying producer (for transactions).
    pub fn inner(&self) -> &ThreadedProducer<DeliveryTracker> {
        &self.producer
    }

    /// The producer id and epoch, waiting up to `timeout` for statistics to report them
    /// (`statistics.interval.ms` must be set).
    pub fn identity(&self, timeout: Duration) -> Result<(i64, i16)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(identity) = *self.tracker.identity.lock() {
                return Ok(identity);
            }
            if Instant::now() >= deadline {
                return Err(Error::io(
                    "kafka",
                    std::io::Error::other("the producer did not report its producer id and epoch"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

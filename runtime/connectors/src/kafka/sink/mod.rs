//! The Kafka sink.
//!
//! Each row becomes one record: the value from the value columns in the value format; the
//! key from `key.fields` in the key format (or the raw `key` metadata column); the partition
//! from a `partition` metadata column when it is not NULL, else from `sink.partitioner`; the
//! timestamp and headers from their metadata columns.
//!
//! **Upserts.** A table with a primary key takes changelogs as upsert rows (the rows and a
//! trailing `__deleted` flag, see the SQL layer's upsert encoder): keyed by the primary key,
//! a deletion is a tombstone (the key with no value), so a compacted topic keeps the table.
//!
//! **Delivery.** `none` sends and never waits. `at-least-once` waits at every checkpoint
//! barrier until everything sent is acknowledged, failing the checkpoint (and the job) on a
//! delivery error. `exactly-once` writes in Kafka transactions committed when checkpoints
//! complete ([`transactions`]); consumers see the records with `isolation.level =
//! read_committed`.

mod librdkafka;
pub mod transactions;

use super::client::{client_config, kafka_error};
use super::config::{DeliveryGuarantee, KafkaSinkConfig, SinkPartitioner};
use super::format::{EncodedRows, PayloadEncoder};
use super::metadata::{MetadataKey, RecordLayout};
use super::producer::{OutgoingRecord, TrackedProducer};
use arrow::array::{Array, AsArray, BooleanArray, MapArray};
use arrow::datatypes::{Int32Type, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use librdkafka::LibrdkafkaTransactions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use std::time::Duration;
use transactions::TransactionLog;

enum Writer {
    Plain(TrackedProducer),
    Transactional(TransactionLog),
}

/// Writes rows to a Kafka topic.
pub struct KafkaSink {
    config: KafkaSinkConfig,
    layout: RecordLayout,
    upsert: bool,
    value_encoder: PayloadEncoder,
    key_encoder: Option<PayloadEncoder>,
    writer: Option<Writer>,
    partitions: i32,
    next_partition: i32,
    subtask: u32,
    last_checkpoint: u64,
}

impl KafkaSink {
    /// A sink of rows laid out as `layout`; `upsert`: rows carry a trailing deletion flag.
    pub fn new(config: KafkaSinkConfig, layout: RecordLayout, upsert: bool) -> Result<Self> {
        let format = &config.common.format;
        if upsert && format.key.is_none() {
            return Err(Error::Config(
                "kafka sink: upserts need a key; set 'key.format' and 'key.fields' (the primary key)".into(),
            ));
        }
        let value_encoder = PayloadEncoder::new(
            format.value,
            layout.value_schema.clone(),
            format.csv_delimiter,
            format.avro_schema.as_deref(),
        )?;
        let key_encoder = format
            .key
            .map(|f| PayloadEncoder::new(f, layout.key_schema.clone(), format.csv_delimiter, None))
            .transpose()?;
        if key_encoder.is_some() && layout.metadata_column(MetadataKey::Key).is_some() {
            return Err(Error::Config(
                "kafka sink: the key comes either from 'key.fields' or from a 'key' metadata column, not both".into(),
            ));
        }
        Ok(Self {
            config,
            layout,
            upsert,
            value_encoder,
            key_encoder,
            writer: None,
            partitions: 1,
            next_partition: 0,
            subtask: 0,
            last_checkpoint: 0,
        })
    }

    fn partition_count(&self) -> Result<i32> {
        let consumer: BaseConsumer = client_config(&self.config.common, &[])
            .create()
            .map_err(|e| kafka_error("creating a metadata client", e))?;
        let topic = &self.config.topic;
        let metadata = consumer
            .fetch_metadata(Some(topic), super::client::REQUEST_TIMEOUT)
            .map_err(|e| kafka_error(format!("reading the partitions of topic '{topic}'"), e))?;
        let count = metadata.topics().first().map_or(0, |t| t.partitions().len()) as i32;
        if count == 0 {
            return Err(Error::Config(format!(
                "kafka sink: topic '{topic}' has no partitions (does it exist?)"
            )));
        }
        Ok(count)
    }

    /// The partition of a row without a `partition` value.
    fn choose_partition(&mut self) -> Option<i32> {
        match self.config.partitioner {
            SinkPartitioner::Default => None,
            SinkPartitioner::Fixed => Some(self.subtask as i32 % self.partitions),
            SinkPartitioner::RoundRobin => {
                let p = self.next_partition;
                self.next_partition = (p + 1) % self.partitions;
                Some(p)
            }
        }
    }
}

fn headers_of(map: &MapArray, row: usize) -> Result<Option<OwnedHeaders>> {
    if map.is_null(row) {
        return Ok(None);
    }
    let entries = map.value(row);
    let keys = entries
        .column(0)
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Internal("kafka sink: header names are not strings".into()))?;
    let values = entries
        .column(1)
        .as_binary_opt::<i32>()
        .ok_or_else(|| Error::Internal("kafka sink: header values are not bytes".into()))?;
    let mut headers = OwnedHeaders::new_with_capacity(keys.len());
    for i in 0..keys.len() {
        headers = headers.insert(Header {
            key: keys.value(i),
            value: (!values.is_null(i)).then(|| values.value(i)),
        });
    }
    Ok(Some(headers))
}

impl Operator for KafkaSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let info = ctx.info().clone();
        self.subtask = info.subtask.0;
        self.last_checkpoint = info.restored_checkpoint.map_or(0, |c| c.0);
        if self.config.partitioner != SinkPartitioner::Default {
            self.partitions = self.partition_count()?;
            self.next_partition = self.subtask as i32 % self.partitions;
        }
        let restored = ctx.take_restored_operator_state();
        self.writer = Some(match self.config.delivery {
            DeliveryGuarantee::ExactlyOnce => {
                let prefix = self.config.transactional_id_prefix.clone().ok_or_else(|| {
                    Error::Config("kafka sink: exactly-once needs 'sink.transactional-id-prefix'".into())
                })?;
                let backend =
                    LibrdkafkaTransactions::new(self.config.common.clone(), self.config.transaction_timeout_ms);
                Writer::Transactional(TransactionLog::open(
                    Box::new(backend),
                    &prefix,
                    self.subtask,
                    info.restored_checkpoint,
                    &restored,
                )?)
            }
            DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::None => {
                let mut config = client_config(&self.config.common, &[]);
                super::client::set_default(&mut config, "enable.idempotence", "true");
                Writer::Plain(TrackedProducer::create(&config, "sink")?)
            }
        });
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        let (batch, deleted) = if self.upsert {
            let last = batch.num_columns().saturating_sub(1);
            let deleted: BooleanArray = batch.column(last).as_boolean().clone();
            (batch.project(&(0..last).collect::<Vec<_>>())?, Some(deleted))
        } else {
            (batch, None)
        };
        let values: EncodedRows = self.value_encoder.encode(&batch.project(&self.layout.value_columns)?)?;
        let keys: Option<EncodedRows> = match &self.key_encoder {
            Some(encoder) => Some(encoder.encode(&batch.project(&self.layout.key_columns)?)?),
            None => None,
        };
        let column = |key: MetadataKey| self.layout.metadata_column(key).map(|i| batch.column(i).clone());
        let partition_column = column(MetadataKey::Partition);
        let timestamp_column = column(MetadataKey::Timestamp);
        let headers_column = column(MetadataKey::Headers);
        let raw_key_column = column(MetadataKey::Key);
        let topic = self.config.topic.clone();
        for row in 0..batch.num_rows() {
            let partition = match partition_column.as_ref().map(|c| c.as_primitive::<Int32Type>()) {
                Some(p) if !p.is_null(row) => Some(p.value(row)),
                _ => self.choose_partition(),
            };
            let timestamp = timestamp_column
                .as_ref()
                .map(|c| c.as_primitive::<TimestampMillisecondType>())
                .filter(|c| !c.is_null(row))
                .map(|c| c.value(row));
            let headers = match headers_column.as_ref().and_then(|c| c.as_map_opt()) {
                Some(map) => headers_of(map, row)?,
                None => None,
            };
            let key = match (&keys, &raw_key_column) {
                (Some(keys), _) => keys.get(row),
                (None, Some(raw)) => {
                    let raw = raw.as_binary::<i32>();
                    (!raw.is_null(row)).then(|| raw.value(row))
                }
                (None, None) => None,
            };
            let value = match &deleted {
                Some(d) if d.value(row) => None,
                _ => values.get(row),
            };
            let record = OutgoingRecord {
                topic: &topic,
                key,
                value,
                partition,
                timestamp,
                headers,
            };
            match self.writer.as_mut() {
                Some(Writer::Plain(p)) => p.send(record)?,
                Some(Writer::Transactional(t)) => t.send(record)?,
                None => return Err(Error::Internal("kafka sink: written before open".into())),
            }
        }
        if let Some(Writer::Plain(p)) = &self.writer {
            p.check()?;
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        self.last_checkpoint = checkpoint.0;
        match self.writer.as_mut() {
            Some(Writer::Plain(p)) => {
                if self.config.delivery == DeliveryGuarantee::AtLeastOnce {
                    p.flush(Duration::from_secs(120))?;
                } else {
                    p.check()?;
                }
                Ok(Vec::new())
            }
            Some(Writer::Transactional(t)) => Ok(vec![t.snapshot(checkpoint)?]),
            None => Ok(Vec::new()),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<()> {
        if let Some(Writer::Transactional(t)) = self.writer.as_mut() {
            t.commit_through(checkpoint)?;
        }
        Ok(())
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        match self.writer.as_mut() {
            Some(Writer::Plain(p)) => p.flush(Duration::from_secs(120)),
            // No barrier passes a finished sink again: the next completed checkpoint commits.
            Some(Writer::Transactional(t)) => t.finish(self.last_checkpoint),
            None => Ok(()),
        }
    }
}

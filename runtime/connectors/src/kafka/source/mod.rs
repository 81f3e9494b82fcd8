//! The Kafka source.
//!
//! **Partitions.** Each subtask reads the partitions of the key groups it owns
//! ([`positions`]), assigned to its own librdkafka consumer by hand: there is no consumer-group
//! rebalancing, so a partition is read by exactly one subtask and its offset lives in Freshet's
//! checkpoint. Topics are checked for new partitions (and a `topic-pattern` for new topics)
//! every `scan.topic-partition-discovery.interval`; a partition seen after the first start is
//! read from its earliest offset. Offsets are committed to the consumer group (when
//! `properties.group.id` is set) once a checkpoint completes, for monitoring only.
//!
//! **Splits and watermarks.** Every partition is a split: batches hold records of one
//! partition, so the engine keeps a watermark per partition, and a partition without records
//! for `table.exec.source.idle-timeout` stops holding event time back.
//!
//! **Positions.** A partition's position advances when a batch of it is handed to the engine,
//! never when librdkafka fetches ahead, so a snapshot covers exactly the records emitted.
//!
//! **Malformed records** follow [`MalformedPolicy`]: fail with the topic, partition and offset;
//! skip and count; or write to a dead-letter topic with the error in headers.

mod dead_letter;
mod lookup;
pub mod positions;
mod records;

use super::client::{client_config, kafka_error, set_default};
use super::config::{BoundedMode, KafkaSourceConfig, MalformedPolicy, TopicSelection};
use super::format::PayloadDecoder;
use super::metadata::RecordLayout;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use dead_letter::DeadLetter;
use freshet_core::{CheckpointId, Clock, Error, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};
use lookup::ConsumerLookup;
use positions::{start_offset, stop_offset, OffsetReset, OwnedGroups, PartitionPosition, TopicPartition};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// One partition being read.
struct Partition {
    position: PartitionPosition,
    split: u32,
    finished_reported: bool,
}

/// Something to hand to the engine, in order.
enum Ready {
    /// Records of a partition, after which it resumes at `next_offset`.
    Records {
        partition: TopicPartition,
        batch: Option<RecordBatch>,
        next_offset: i64,
    },
    /// A bounded partition reached its end, at `position`.
    Ended { partition: TopicPartition, position: i64 },
}

/// Reads Kafka topics into batches of the table's columns.
pub struct KafkaSource {
    config: KafkaSourceConfig,
    layout: RecordLayout,
    value_decoder: PayloadDecoder,
    key_decoder: Option<PayloadDecoder>,
    consumer: Option<BaseConsumer>,
    groups: OwnedGroups,
    partitions: BTreeMap<TopicPartition, Partition>,
    next_split: u32,
    ready: VecDeque<Ready>,
    finished_splits: VecDeque<u32>,
    clock: Option<Arc<dyn Clock>>,
    last_discovery_ms: Option<i64>,
    batch_size: usize,
    dead_letter: Option<DeadLetter>,
    skipped: u64,
    /// Offsets of each snapshot, committed to the group when its checkpoint completes.
    to_commit: BTreeMap<CheckpointId, Vec<(TopicPartition, i64)>>,
    subtask: u32,
}

impl KafkaSource {
    /// A source producing the columns of `layout`.
    pub fn new(config: KafkaSourceConfig, layout: RecordLayout) -> Result<Self> {
        let format = &config.common.format;
        let value_decoder = PayloadDecoder::new(
            format.value,
            layout.value_schema.clone(),
            format.csv_delimiter,
            format.avro_schema.as_deref(),
        )?;
        // With the key columns also in the value (ALL), they are read from the value.
        let key_decoder = match format.key {
            Some(key_format) if !format.value_includes_key => Some(PayloadDecoder::new(
                key_format,
                layout.key_schema.clone(),
                format.csv_delimiter,
                None,
            )?),
            _ => None,
        };
        Ok(Self {
            config,
            layout,
            value_decoder,
            key_decoder,
            consumer: None,
            groups: OwnedGroups::default(),
            partitions: BTreeMap::new(),
            next_split: 0,
            ready: VecDeque::new(),
            finished_splits: VecDeque::new(),
            clock: None,
            last_discovery_ms: None,
            batch_size: 1024,
            dead_letter: None,
            skipped: 0,
            to_commit: BTreeMap::new(),
            subtask: 0,
        })
    }

    /// Records skipped as malformed so far (policy `skip`).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn consumer(&self) -> Result<&BaseConsumer> {
        self.consumer
            .as_ref()
            .ok_or_else(|| Error::Internal("kafka source: polled before open".into()))
    }

    fn now_ms(&self) -> i64 {
        self.clock.as_ref().map_or(0, |c| c.now_ms())
    }

    /// The partitions of the selected topics, as the broker lists them now.
    fn list_partitions(&self) -> Result<Vec<TopicPartition>> {
        let consumer = self.consumer()?;
        let mut out = Vec::new();
        match &self.config.topics {
            TopicSelection::Names(names) => {
                for topic in names {
                    let metadata = consumer
                        .fetch_metadata(Some(topic), super::client::REQUEST_TIMEOUT)
                        .map_err(|e| kafka_error(format!("listing the partitions of topic '{topic}'"), e))?;
                    for t in metadata.topics() {
                        if let Some(err) = t.error() {
                            tracing::warn!(topic = %topic, error = ?err, "kafka source: topic metadata error (not created yet?)");
                            continue;
                        }
                        out.extend(t.partitions().iter().map(|p| (t.name().to_string(), p.id())));
                    }
                }
            }
            TopicSelection::Pattern(pattern) => {
                let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| Error::Config(format!("kafka source: 'topic-pattern': {e}")))?;
                let metadata = consumer
                    .fetch_metadata(None, super::client::REQUEST_TIMEOUT)
                    .map_err(|e| kafka_error("listing topics", e))?;
                for t in metadata.topics() {
                    if t.error().is_none() && regex.is_match(t.name()) {
                        out.extend(t.partitions().iter().map(|p| (t.name().to_string(), p.id())));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Adopts the owned partitions not known yet; `initial`: at the first start, where the
    /// startup mode applies.
    fn discover(&mut self, initial: bool) -> Result<()> {
        let listed = self.list_partitions()?;
        let new: Vec<TopicPartition> = listed
            .into_iter()
            .filter(|(t, p)| self.groups.owns(t, *p) && !self.partitions.contains_key(&(t.clone(), *p)))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let reset = OffsetReset::from_property(
            self.config
                .common
                .properties
                .get("auto.offset.reset")
                .map(String::as_str),
        );
        let mut adopted = Vec::with_capacity(new.len());
        {
            let consumer = self.consumer()?;
            let mut lookup = ConsumerLookup::new(consumer);
            for (topic, partition) in new {
                let offset = start_offset(&self.config.startup, reset, initial, &mut lookup, &topic, partition)?;
                let stop = stop_offset(&self.config.bounded, &mut lookup, &topic, partition)?;
                tracing::info!(subtask = self.subtask, topic = %topic, partition, offset, ?stop, "kafka source: reading partition");
                adopted.push(PartitionPosition {
                    topic,
                    partition,
                    offset,
                    stop,
                });
            }
        }
        self.adopt(adopted)
    }

    /// Starts reading partitions at their positions.
    fn adopt(&mut self, positions: Vec<PartitionPosition>) -> Result<()> {
        let mut assignment = TopicPartitionList::new();
        for position in positions {
            let key = (position.topic.clone(), position.partition);
            let split = self.next_split;
            self.next_split += 1;
            if position.finished() {
                self.finished_splits.push_back(split);
            } else {
                assignment
                    .add_partition_offset(&position.topic, position.partition, Offset::Offset(position.offset))
                    .map_err(|e| kafka_error("building the assignment", e))?;
            }
            let finished_reported = false;
            self.partitions.insert(
                key,
                Partition {
                    position,
                    split,
                    finished_reported,
                },
            );
        }
        if assignment.count() > 0 {
            self.consumer()?
                .incremental_assign(&assignment)
                .map_err(|e| kafka_error("assigning partitions", e))?;
        }
        Ok(())
    }

    fn discover_if_due(&mut self) -> Result<()> {
        if self.config.bounded != BoundedMode::Unbounded {
            return Ok(());
        }
        let Some(interval) = self.config.discovery_interval_ms else {
            return Ok(());
        };
        let now = self.now_ms();
        if self.last_discovery_ms.is_some_and(|t| now - t < interval as i64) {
            return Ok(());
        }
        self.last_discovery_ms = Some(now);
        self.discover(false)
    }

    /// Polls librdkafka for up to a batch of records and turns them into [`Ready`] items.
    fn fill(&mut self) -> Result<()> {
        let mut buffers: HashMap<TopicPartition, Vec<OwnedMessage>> = HashMap::new();
        let mut polled = 0;
        let mut reached_end = false;
        while polled < self.batch_size {
            let Some(result) = self.consumer()?.poll(Duration::ZERO) else {
                break;
            };
            match result {
                Ok(message) => {
                    polled += 1;
                    let key = (message.topic().to_string(), message.partition());
                    let Some(p) = self.partitions.get(&key) else { continue };
                    if p.position.stop.is_some_and(|stop| message.offset() >= stop) {
                        reached_end = true;
                        continue;
                    }
                    buffers.entry(key).or_default().push(message.detach());
                }
                Err(KafkaError::PartitionEOF(_)) => reached_end = true,
                Err(error) => {
                    if error.rdkafka_error_code().is_some_and(|c| {
                        matches!(
                            c,
                            rdkafka::types::RDKafkaErrorCode::Fatal
                                | rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                                | rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed
                        )
                    }) {
                        return Err(kafka_error("consuming", error));
                    }
                    tracing::warn!(error = %error, "kafka source: consumer error (retrying)");
                    break;
                }
            }
        }
        let mut keys: Vec<TopicPartition> = buffers.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let messages = buffers.remove(&key).unwrap_or_default();
            let Some(last) = messages.last().map(|m| m.offset()) else {
                continue;
            };
            let batch = self.decode_records(&messages)?;
            self.ready.push_back(Ready::Records {
                partition: key,
                batch,
                next_offset: last + 1,
            });
        }
        if reached_end {
            self.check_ends()?;
        }
        Ok(())
    }

    /// Bounded: queues the end of every partition whose consumer position reached its stop.
    fn check_ends(&mut self) -> Result<()> {
        let unfinished: Vec<TopicPartition> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.position.stop.is_some() && !p.finished_reported)
            .map(|(k, _)| k.clone())
            .collect();
        if unfinished.is_empty() {
            return Ok(());
        }
        let positions = self
            .consumer()?
            .position()
            .map_err(|e| kafka_error("reading consumer positions", e))?;
        for key in unfinished {
            let Some(p) = self.partitions.get_mut(&key) else {
                continue;
            };
            let Some(stop) = p.position.stop else { continue };
            let position = positions
                .find_partition(&key.0, key.1)
                .and_then(|e| e.offset().to_raw())
                .unwrap_or(-1);
            if position >= stop {
                p.finished_reported = true;
                self.ready.push_back(Ready::Ended {
                    partition: key,
                    position: stop,
                });
            }
        }
        Ok(())
    }

    /// Hands one ready item to the engine: `None` when it only advanced a position (every
    /// record of its batch was skipped or sent to the dead-letter topic).
    fn emit(&mut self, ready: Ready) -> Option<SourcePoll> {
        match ready {
            Ready::Records {
                partition,
                batch,
                next_offset,
            } => {
                let p = self.partitions.get_mut(&partition)?;
                p.position.offset = p.position.offset.max(next_offset);
                if p.position.finished() && !p.finished_reported {
                    p.finished_reported = true;
                    self.finished_splits.push_back(p.split);
                }
                match batch {
                    Some(batch) if batch.num_rows() > 0 => Some(SourcePoll::Batch { split: p.split, batch }),
                    _ => None,
                }
            }
            Ready::Ended { partition, position } => {
                let p = self.partitions.get_mut(&partition)?;
                p.position.offset = p.position.offset.max(position);
                Some(SourcePoll::SplitFinished(p.split))
            }
        }
    }

    fn all_finished(&self) -> bool {
        self.config.bounded != BoundedMode::Unbounded && self.partitions.values().all(|p| p.position.finished())
    }
}

impl Source for KafkaSource {
    fn schema(&self) -> SchemaRef {
        self.layout.schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        self.subtask = ctx.info.subtask.0;
        self.batch_size = ctx.batch_size.max(1);
        self.clock = Some(ctx.clock.clone());
        let mut config = client_config(
            &self.config.common,
            &[
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "true"),
            ],
        );
        set_default(&mut config, "auto.offset.reset", "earliest");
        // librdkafka's incremental assignment needs a group id, even though this consumer
        // never joins the group: without the user's, it gets one that nothing commits to.
        set_default(&mut config, "group.id", &format!("freshet-{}", ctx.info.job_name));
        set_default(
            &mut config,
            "client.id",
            &format!("freshet-{}-source-{}", ctx.info.job_name, self.subtask),
        );
        let consumer: BaseConsumer = config.create().map_err(|e| kafka_error("creating the consumer", e))?;
        self.consumer = Some(consumer);
        if let MalformedPolicy::DeadLetter(topic) = &self.config.malformed {
            self.dead_letter = Some(DeadLetter::new(&self.config.common, topic.clone())?);
        }
        if ctx.restored.is_empty() {
            if ctx.info.restored_checkpoint.is_some() {
                tracing::info!(
                    subtask = self.subtask,
                    "kafka source: no state of this source in the snapshot; starting by the startup mode"
                );
            }
            self.groups = OwnedGroups::fresh(&ctx.info);
            self.discover(true)?;
        } else {
            let (groups, positions) = OwnedGroups::restore(&ctx.restored)?;
            self.groups = groups;
            self.adopt(positions)?;
            if self.config.bounded == BoundedMode::Unbounded {
                self.discover(false)?;
            }
        }
        self.last_discovery_ms = Some(self.now_ms());
        Ok(self.partitions.values().map(|p| p.split).collect())
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        let mut fetched = false;
        loop {
            if let Some(split) = self.finished_splits.pop_front() {
                return Ok(SourcePoll::SplitFinished(split));
            }
            if let Some(ready) = self.ready.pop_front() {
                match self.emit(ready) {
                    Some(poll) => return Ok(poll),
                    None => continue,
                }
            }
            if self.all_finished() {
                return Ok(SourcePoll::Finished);
            }
            if fetched {
                return Ok(SourcePoll::Pending);
            }
            self.discover_if_due()?;
            self.fill()?;
            fetched = true;
        }
    }

    fn snapshot(&mut self, checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        if let Some(dead_letter) = &self.dead_letter {
            dead_letter.flush()?;
        }
        if self.config.common.group_id().is_some() {
            let offsets = self
                .partitions
                .iter()
                .map(|(k, p)| (k.clone(), p.position.offset))
                .collect();
            self.to_commit.insert(checkpoint, offsets);
        }
        self.groups.snapshot(self.partitions.values().map(|p| &p.position))
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId) -> Result<()> {
        let Some(offsets) = self.to_commit.remove(&checkpoint) else {
            return Ok(());
        };
        self.to_commit.retain(|c, _| *c > checkpoint);
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(&topic, partition, Offset::Offset(offset))
                .map_err(|e| kafka_error("building the offsets to commit", e))?;
        }
        if let Err(e) = self.consumer()?.commit(&list, CommitMode::Sync) {
            // Committed offsets are for monitoring only: a failure loses nothing.
            tracing::warn!(error = %e, "kafka source: committing offsets to the consumer group failed");
        }
        Ok(())
    }
}

//! The options of the Kafka source and sink, Flink's names where Flink has one.
//!
//! Shared by both: `topic`, `properties.bootstrap.servers` (required), `properties.*` (passed
//! to librdkafka as they are, minus the prefix), `format` (or `value.format`), `key.format`
//! with `key.fields`, `value.fields-include`, `csv.field-delimiter` and `avro.schema`.
//! Source only: `topic-pattern`, `scan.startup.*`, `scan.bounded.*`,
//! `scan.topic-partition-discovery.interval`, `scan.malformed.*`. Sink only:
//! `sink.delivery-guarantee`, `sink.transactional-id-prefix`, `sink.partitioner`.

use super::format::{FormatSpec, RecordFormat};
use crate::options::OptionReader;
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The prefix of options handed to librdkafka.
pub const PROPERTIES_PREFIX: &str = "properties.";

/// Client properties librdkafka gets from the connector itself; setting them is an error.
const OWNED_PROPERTIES: &[&str] = &[
    "enable.auto.commit",
    "enable.auto.offset.store",
    "transactional.id",
    "enable.idempotence",
    "isolation.level.override",
];

/// Which records of a topic a fresh start reads first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartupMode {
    /// The first record still in each partition.
    EarliestOffset,
    /// Only records produced after the start.
    LatestOffset,
    /// The offsets committed by `properties.group.id` (`properties.auto.offset.reset` decides
    /// for partitions without one: `earliest`, `latest`, or unset for an error).
    GroupOffsets,
    /// The first record with a timestamp at or after this (ms since the epoch).
    Timestamp(i64),
    /// Given offsets per partition (others start at the earliest offset).
    SpecificOffsets(BTreeMap<i32, i64>),
}

/// Where a bounded source stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoundedMode {
    /// Never: the source runs until cancelled.
    Unbounded,
    /// At the latest offsets of the partitions at the first start.
    LatestOffset,
    /// Before the first record with a timestamp after this (ms since the epoch).
    Timestamp(i64),
}

/// What the source does with a record its format cannot decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MalformedPolicy {
    /// Fail the job; the error names the topic, partition and offset.
    Fail,
    /// Skip the record, count it, and log its position.
    Skip,
    /// Write the record as it was read, with the error in headers, to this topic.
    DeadLetter(String),
}

/// Which topics a source reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicSelection {
    /// These topics.
    Names(Vec<String>),
    /// Every topic whose whole name matches this regular expression.
    Pattern(String),
}

/// What the Kafka source and sink share: the cluster, client properties and record layout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaCommon {
    /// `properties.*` without the prefix, `bootstrap.servers` included.
    pub properties: BTreeMap<String, String>,
    /// How values (and keys) are encoded.
    pub format: FormatSpec,
}

impl KafkaCommon {
    /// `properties.bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &str {
        self.properties.get("bootstrap.servers").map_or("", String::as_str)
    }

    /// `properties.group.id`, if set.
    pub fn group_id(&self) -> Option<&str> {
        self.properties.get("group.id").map(String::as_str)
    }
}

/// Options both the source and the sink accept.
pub const KAFKA_COMMON_OPTIONS: &[&str] = &[
    "topic",
    "format",
    "value.format",
    "key.format",
    "key.fields",
    "value.fields-include",
    "csv.field-delimiter",
    "avro.schema",
];

/// Option keys only the Kafka source accepts (besides the common ones and `properties.*`).
pub const KAFKA_SOURCE_OPTIONS: &[&str] = &[
    "topic-pattern",
    "scan.startup.mode",
    "scan.startup.timestamp-millis",
    "scan.startup.specific-offsets",
    "scan.bounded.mode",
    "scan.bounded.timestamp-millis",
    "scan.topic-partition-discovery.interval",
    "scan.malformed.policy",
    "scan.malformed.dead-letter-topic",
];

/// Option keys only the Kafka sink accepts (besides the common ones and `properties.*`).
pub const KAFKA_SINK_OPTIONS: &[&str] = &[
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "sink.partitioner",
    "sink.transaction-timeout",
];

/// Configuration of a Kafka source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaSourceConfig {
    /// Cluster, properties, formats.
    pub common: KafkaCommon,
    /// The topics read.
    pub topics: TopicSelection,
    /// Where a fresh start begins.
    pub startup: StartupMode,
    /// Where reading ends.
    pub bounded: BoundedMode,
    /// How often topics are checked for new partitions (and a pattern for new topics);
    /// `None` never.
    pub discovery_interval_ms: Option<u64>,
    /// What happens to records that do not decode.
    pub malformed: MalformedPolicy,
}

/// The sink's delivery guarantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryGuarantee {
    /// Records are sent without waiting for acknowledgements at checkpoints.
    None,
    /// Every checkpoint waits until its records are acknowledged: a restore may repeat some.
    AtLeastOnce,
    /// Records of each checkpoint go in a Kafka transaction committed when it completes.
    ExactlyOnce,
}

/// How the sink picks a record's partition when no `partition` column sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkPartitioner {
    /// By the hash of the key (librdkafka's `consistent_random`: keyless records spread).
    Default,
    /// Subtask `i` writes to partition `i % partitions`.
    Fixed,
    /// Records go to partitions in turn.
    RoundRobin,
}

/// Configuration of a Kafka sink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaSinkConfig {
    /// Cluster, properties, formats.
    pub common: KafkaCommon,
    /// The topic written.
    pub topic: String,
    /// The delivery guarantee.
    pub delivery: DeliveryGuarantee,
    /// Exactly-once: the prefix of the transactional ids (stable across restarts).
    pub transactional_id_prefix: Option<String>,
    /// The partitioner.
    pub partitioner: SinkPartitioner,
    /// Exactly-once: `transaction.timeout.ms` (must exceed the checkpoint interval).
    pub transaction_timeout_ms: u64,
}

/// A reader accepting the common options, `specific` ones and `properties.*`.
fn reader<'a>(
    connector: &'a str,
    options: &'a BTreeMap<String, String>,
    specific: &[&str],
) -> Result<OptionReader<'a>> {
    let supported: Vec<&str> = KAFKA_COMMON_OPTIONS.iter().chain(specific).copied().collect();
    OptionReader::new(connector, options, &supported, |k| k.starts_with(PROPERTIES_PREFIX))
}

fn common(r: &OptionReader<'_>, options: &BTreeMap<String, String>, connector: &str) -> Result<KafkaCommon> {
    let mut properties = BTreeMap::new();
    for (key, value) in options {
        if let Some(name) = key.strip_prefix(PROPERTIES_PREFIX) {
            if OWNED_PROPERTIES.contains(&name) {
                return Err(Error::Config(format!(
                    "{connector}: option '{key}' is set by the connector itself and cannot be given"
                )));
            }
            properties.insert(name.to_string(), value.trim().to_string());
        }
    }
    if properties.get("bootstrap.servers").is_none_or(|s| s.is_empty()) {
        return Err(Error::Config(format!(
            "{connector}: option 'properties.bootstrap.servers' is required"
        )));
    }
    let value_format = match (r.raw("format"), r.raw("value.format")) {
        (Some(_), Some(_)) => {
            return Err(Error::Config(format!(
                "{connector}: give either 'format' or 'value.format', not both"
            )))
        }
        (Some(f), None) => ("format", f),
        (None, Some(f)) => ("value.format", f),
        (None, None) => return Err(Error::Config(format!("{connector}: option 'format' is required"))),
    };
    let parse_format = |key: &str, text: &str| {
        RecordFormat::parse(text).ok_or_else(|| r.invalid(key, text, "expected json, csv, raw or avro"))
    };
    let value = parse_format(value_format.0, value_format.1)?;
    let key = r.raw("key.format").map(|f| parse_format("key.format", f)).transpose()?;
    let key_fields: Vec<String> = r
        .raw("key.fields")
        .map(|f| {
            f.split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if key.is_some() == key_fields.is_empty() {
        return Err(Error::Config(format!(
            "{connector}: options 'key.format' and 'key.fields' go together"
        )));
    }
    let except_key = match r.raw("value.fields-include") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("all") => false,
        Some(v) if v.eq_ignore_ascii_case("except_key") => true,
        Some(v) => return Err(r.invalid("value.fields-include", v, "expected ALL or EXCEPT_KEY")),
    };
    Ok(KafkaCommon {
        properties,
        format: FormatSpec {
            value,
            key,
            key_fields,
            value_includes_key: !except_key,
            csv_delimiter: r.byte_char("csv.field-delimiter")?.unwrap_or(b','),
            avro_schema: r.raw("avro.schema").map(str::to_string),
        },
    })
}

fn timestamp_option(r: &OptionReader<'_>, key: &str, mode_key: &str, mode: &str) -> Result<i64> {
    r.parse::<i64>(key)?
        .ok_or_else(|| Error::Config(format!("kafka source: '{mode_key}' = '{mode}' needs option '{key}'")))
}

/// Parses `partition:0,offset:42;partition:1,offset:300`.
fn specific_offsets(r: &OptionReader<'_>, text: &str) -> Result<BTreeMap<i32, i64>> {
    let key = "scan.startup.specific-offsets";
    let mut out = BTreeMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || r.invalid(key, text, "expected 'partition:P,offset:O' entries separated by ';'");
        let (p, o) = entry.split_once(',').ok_or_else(bad)?;
        let partition = p
            .trim()
            .strip_prefix("partition:")
            .ok_or_else(bad)?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        let offset = o
            .trim()
            .strip_prefix("offset:")
            .ok_or_else(bad)?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        out.insert(partition, offset);
    }
    Ok(out)
}

impl KafkaSourceConfig {
    /// Builds a config from `WITH` options.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        const NAME: &str = "kafka source";
        let r = reader(NAME, options, KAFKA_SOURCE_OPTIONS)?;
        let common = common(&r, options, NAME)?;
        let topics = match (r.raw("topic"), r.raw("topic-pattern")) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "kafka source: give either 'topic' or 'topic-pattern', not both".into(),
                ))
            }
            (Some(t), None) => {
                let names: Vec<String> = t
                    .split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if names.is_empty() {
                    return Err(r.invalid("topic", t, "expected topic names separated by ';'"));
                }
                TopicSelection::Names(names)
            }
            (None, Some(p)) => {
                regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| r.invalid("topic-pattern", p, &e.to_string()))?;
                TopicSelection::Pattern(p.to_string())
            }
            (None, None) => return Err(Error::Config("kafka source: option 'topic' is required".into())),
        };
        let startup = match r.raw("scan.startup.mode") {
            None if common.group_id().is_some() => StartupMode::GroupOffsets,
            None | Some("earliest-offset") => StartupMode::EarliestOffset,
            Some("latest-offset") => StartupMode::LatestOffset,
            Some("group-offsets") => {
                if common.group_id().is_none() {
                    return Err(Error::Config(
                        "kafka source: 'scan.startup.mode' = 'group-offsets' needs option 'properties.group.id'".into(),
                    ));
                }
                StartupMode::GroupOffsets
            }
            Some(mode @ "timestamp") => StartupMode::Timestamp(timestamp_option(
                &r,
                "scan.startup.timestamp-millis",
                "scan.startup.mode",
                mode,
            )?),
            Some("specific-offsets") => {
                let text = r.raw("scan.startup.specific-offsets").ok_or_else(|| {
                    Error::Config(
                        "kafka source: 'scan.startup.mode' = 'specific-offsets' needs option 'scan.startup.specific-offsets'"
                            .into(),
                    )
                })?;
                StartupMode::SpecificOffsets(specific_offsets(&r, text)?)
            }
            Some(other) => {
                return Err(r.invalid(
                    "scan.startup.mode",
                    other,
                    "expected earliest-offset, latest-offset, group-offsets, timestamp or specific-offsets",
                ))
            }
        };
        let bounded = match r.raw("scan.bounded.mode") {
            None | Some("unbounded") => BoundedMode::Unbounded,
            Some("latest-offset") => BoundedMode::LatestOffset,
            Some(mode @ "timestamp") => BoundedMode::Timestamp(timestamp_option(
                &r,
                "scan.bounded.timestamp-millis",
                "scan.bounded.mode",
                mode,
            )?),
            Some(other) => {
                return Err(r.invalid(
                    "scan.bounded.mode",
                    other,
                    "expected unbounded, latest-offset or timestamp",
                ))
            }
        };
        let discovery_interval_ms = match r.duration_ms("scan.topic-partition-discovery.interval")? {
            Some(0) => None,
            Some(ms) => Some(ms),
            None => Some(30_000),
        };
        let malformed = match r.raw("scan.malformed.policy") {
            None | Some("fail") => MalformedPolicy::Fail,
            Some("skip") => MalformedPolicy::Skip,
            Some("dead-letter") => MalformedPolicy::DeadLetter(
                r.raw("scan.malformed.dead-letter-topic")
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        Error::Config(
                            "kafka source: 'scan.malformed.policy' = 'dead-letter' needs option 'scan.malformed.dead-letter-topic'"
                                .into(),
                        )
                    })?
                    .to_string(),
            ),
            Some(other) => return Err(r.invalid("scan.malformed.policy", other, "expected fail, skip or dead-letter")),
        };
        if r.raw("scan.malformed.dead-letter-topic").is_some() && !matches!(malformed, MalformedPolicy::DeadLetter(_)) {
            return Err(Error::Config(
                "kafka source: option 'scan.malformed.dead-letter-topic' needs 'scan.malformed.policy' = 'dead-letter'"
                    .into(),
            ));
        }
        Ok(Self {
            common,
            topics,
            startup,
            bounded,
            discovery_interval_ms,
            malformed,
        })
    }
}

impl KafkaSinkConfig {
    /// Builds a config from `WITH` options.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        const NAME: &str = "kafka sink";
        let r = reader(NAME, options, KAFKA_SINK_OPTIONS)?;
        let common = common(&r, options, NAME)?;
        let topic = r
            .raw("topic")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Config("kafka sink: option 'topic' is required".into()))?;
        if topic.contains(';') {
            return Err(r.invalid("topic", topic, "a sink writes one topic"));
        }
        let delivery = match r.raw("sink.delivery-guarantee") {
            None | Some("at-least-once") => DeliveryGuarantee::AtLeastOnce,
            Some("none") => DeliveryGuarantee::None,
            Some("exactly-once") => DeliveryGuarantee::ExactlyOnce,
            Some(other) => {
                return Err(r.invalid(
                    "sink.delivery-guarantee",
                    other,
                    "expected none, at-least-once or exactly-once",
                ))
            }
        };
        let prefix = r.raw("sink.transactional-id-prefix").map(str::to_string);
        match (&delivery, &prefix) {
            (DeliveryGuarantee::ExactlyOnce, None) => {
                return Err(Error::Config(
                    "kafka sink: 'sink.delivery-guarantee' = 'exactly-once' needs option 'sink.transactional-id-prefix' (unique per job and stable across its runs)".into(),
                ))
            }
            (DeliveryGuarantee::ExactlyOnce, Some(p)) if p.is_empty() || p.contains(char::is_whitespace) => {
                return Err(r.invalid("sink.transactional-id-prefix", p, "expected a non-empty name without spaces"))
            }
            (DeliveryGuarantee::None | DeliveryGuarantee::AtLeastOnce, Some(_)) => {
                return Err(Error::Config(
                    "kafka sink: option 'sink.transactional-id-prefix' needs 'sink.delivery-guarantee' = 'exactly-once'"
                        .into(),
                ))
            }
            _ => {}
        }
        let partitioner = match r.raw("sink.partitioner") {
            None | Some("default") => SinkPartitioner::Default,
            Some("fixed") => SinkPartitioner::Fixed,
            Some("round-robin") => SinkPartitioner::RoundRobin,
            Some(other) => return Err(r.invalid("sink.partitioner", other, "expected default, fixed or round-robin")),
        };
        let transaction_timeout_ms = r.duration_ms("sink.transaction-timeout")?.unwrap_or(900_000);
        if transaction_timeout_ms == 0 {
            return Err(r.invalid("sink.transaction-timeout", "0", "must be positive"));
        }
        Ok(Self {
            common,
            topic: topic.to_string(),
            delivery,
            transactional_id_prefix: prefix,
            partitioner,
            transaction_timeout_ms,
        })
    }
}

#[cfg(test)]
mod tests;

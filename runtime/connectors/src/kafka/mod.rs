//! Kafka: a source reading topics with offsets in Freshet's checkpoints, and a sink writing a
//! topic at-least-once or exactly-once (Kafka transactions committed with checkpoints).
//!
//! Both run on librdkafka (the `rdkafka` crate), built from source and linked statically.
//! Options follow Flink's Kafka connector ([`config`]); keys, values and metadata columns map
//! to table columns through a [`metadata::RecordLayout`].

pub mod client;
pub mod config;
pub mod format;
pub mod metadata;
pub mod producer;
pub mod sink;
pub mod source;
pub mod txn;

pub use config::{KafkaSinkConfig, KafkaSourceConfig};
pub use metadata::RecordLayout;
pub use sink::KafkaSink;
pub use source::KafkaSource;

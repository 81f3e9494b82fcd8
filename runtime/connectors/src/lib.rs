//! # freshet-connectors
//!
//! Sources and sinks: the Nexmark benchmark generator, a datagen source, CSV/JSON-lines/Parquet
//! file sources, and print, blackhole and exactly-once file sinks. Files are local or on an
//! object store (`s3://`, `gs://`, `az://`), reached synchronously through a small runtime of
//! each source's or sink's own (`blocking_store`).
//!
//! Place in the runtime: above `freshet-dataflow`, whose [`Source`](freshet_dataflow::Source)
//! and [`Operator`](freshet_dataflow::Operator) contracts these implement (a sink is an operator
//! without output); below `freshet-engine`, which drives them, and the SQL layer, which builds
//! them from `WITH (...)` options through each config's `from_options`. Connectors never see
//! channels, threads or checkpoint storage: a source's position travels as operator-state
//! items returned by `snapshot` and handed back at `open`; sinks commit on
//! `notify_checkpoint_complete`. Nothing here uses keyed state.
#![warn(missing_docs)]

pub mod blackhole;
mod blocking_store;
pub mod datagen;
pub mod file_sink;
pub mod file_source;
pub mod kafka;
pub mod key_groups;
pub mod nexmark;
pub mod options;
pub mod print;
#[cfg(test)]
mod s3_testkit;
#[cfg(test)]
mod testkit;

pub use blackhole::{BlackholeCounters, BlackholeSink};
pub use datagen::{DatagenConfig, DatagenSource};
pub use file_sink::{FileSink, FileSinkConfig};
pub use file_source::{FileSource, FileSourceConfig};
pub use kafka::{KafkaSinkConfig, KafkaSource, KafkaSourceConfig};
pub use nexmark::{NexmarkConfig, NexmarkSource, NexmarkTable};
pub use print::{PrintConfig, PrintSink};

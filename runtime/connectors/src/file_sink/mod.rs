//! The exactly-once file sink: JSON lines, CSV or Parquet files in a local directory or below
//! an object store URL (`s3://bucket/prefix`, `gs://…`, `az://…`), visible only once the
//! checkpoint that covers them completes.
//!
//! Every part file's name carries the run id (unique per execution attempt), the subtask and a
//! sequence number ([`names`]); committed files are `part-{run}-{subtask}-{seq}.{ext}`. Hidden
//! names start with `.`, which the file source (and most tools) skip. The storage itself is
//! the sink's durable record: nothing is kept in operator state, so rescaling needs no
//! redistribution. The steps are the same on both kinds of storage ([`PartFiles`]):
//!
//! - At a barrier of checkpoint `n` the current file is closed as pending on `n`.
//! - When checkpoint `n` completes, this run's pending files of checkpoints `<= n` are made
//!   visible.
//! - At end of input the current file is closed as pending on `s+1`, where `s` is the last
//!   checkpoint this subtask took part in: no barrier passes a finished sink again, so any
//!   later checkpoint that completes (at the latest, the job's final one) covers that data.
//! - On open after a restore from checkpoint `C`, subtask 0 commits every pending file of
//!   earlier runs with `n <= C` and discards every other unfinished file of earlier runs (data
//!   no completed checkpoint covers, which the restored sources replay). A fresh start
//!   discards them all.
//!
//! Each step is idempotent, so a crash at any point between steps is repaired by the next
//! restore.
//!
//! # In a local directory ([`local`])
//!
//! | name | state |
//! |---|---|
//! | `.part-{run}-{subtask}-{seq}.inprogress` | being written |
//! | `.part-{run}-{subtask}-{seq}.pending-{n}` | closed at the barrier of checkpoint `n` |
//!
//! Closing syncs and renames the file; committing renames it to its visible name.
//!
//! # On an object store ([`object`])
//!
//! A part file is a multipart upload to its visible name, which appears only when the upload
//! completes. The marker `.part-{run}-{subtask}-{seq}.upload` ([`upload_marker`]) records the
//! upload id: written when the upload starts, rewritten at the closing barrier with the part
//! list (the checkpoint cannot complete before), deleted once the upload is completed or
//! aborted. Parts of `part_bytes` go up while the file is written, the last one at the closing
//! barrier. Committing completes the upload (one whose upload is already gone is fine if its
//! object exists); discarding aborts it. An upload started by a run that is never restored
//! (its job deleted, or started afresh elsewhere) is left behind: an
//! `AbortIncompleteMultipartUpload` lifecycle rule on the bucket removes it.
//!
//! Local paths and `file://` URLs use the local protocol.

mod encoder;
mod local;
mod names;
mod object;
mod upload_marker;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Error, Location, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Output format of the file sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// CSV with a header line per file.
    Csv,
    /// Apache Parquet (Snappy-compressed); each file is closed, with its footer, before it is
    /// committed.
    Parquet,
}

impl FileFormat {
    /// The extension of committed files.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Json => "jsonl",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// The smallest part of a multipart upload (but the last) that S3 accepts.
pub const MIN_PART_BYTES: u64 = 5 << 20;
/// The largest part of a multipart upload that S3 accepts.
pub const MAX_PART_BYTES: u64 = 5 << 30;
/// The most parts one upload may have (S3).
pub const MAX_PARTS: u64 = 10_000;

/// Configuration of the file sink.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileSinkConfig {
    /// The output directory (created if missing) or object store URL.
    pub path: Location,
    /// Output format.
    #[serde(default)]
    pub format: FileFormat,
    /// Roll to a new file after this many bytes (still committed only on checkpoints).
    #[serde(default = "default_roll_bytes")]
    pub roll_bytes: u64,
    /// On an object store: the size of each uploaded part but the last (memory held per
    /// subtask while a file is written).
    #[serde(default = "default_part_bytes")]
    pub part_bytes: u64,
}

fn default_roll_bytes() -> u64 {
    128 * 1024 * 1024
}

fn default_part_bytes() -> u64 {
    16 * 1024 * 1024
}

/// Option keys accepted by [`FileSinkConfig::from_options`].
pub const FILE_SINK_OPTIONS: &[&str] = &["path", "format", "sink.rolling-policy.file-size", "sink.part-size"];

impl FileSinkConfig {
    /// JSON lines into `path` (a local path, or a [`Location`] such as an `s3://` URL).
    pub fn new(path: impl Into<Location>) -> Self {
        Self {
            path: path.into(),
            format: FileFormat::Json,
            roll_bytes: default_roll_bytes(),
            part_bytes: default_part_bytes(),
        }
    }

    /// Builds the config from `WITH (...)`-style options, rejecting unknown keys (`connector`,
    /// which selected the sink, is accepted like by every connector).
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let known = |k: &str| k == crate::options::CONNECTOR_KEY || FILE_SINK_OPTIONS.contains(&k);
        if let Some(unknown) = options.keys().find(|k| !known(k)) {
            return Err(Error::Config(format!(
                "unknown file sink option '{unknown}'; supported: {}",
                FILE_SINK_OPTIONS.join(", ")
            )));
        }
        let path = options
            .get("path")
            .ok_or_else(|| Error::Config("the file sink needs option 'path'".into()))?;
        let location = Location::parse(path).map_err(|e| Error::Config(format!("file sink: option 'path': {e}")))?;
        let mut config = Self::new(location);
        if let Some(f) = options.get("format") {
            config.format = match f.as_str() {
                "json" => FileFormat::Json,
                "csv" => FileFormat::Csv,
                "parquet" => FileFormat::Parquet,
                other => {
                    return Err(Error::Config(format!(
                        "option 'format': unknown format '{other}'; expected json, csv or parquet"
                    )))
                }
            };
        }
        if let Some(size) = options.get("sink.rolling-policy.file-size") {
            config.roll_bytes = size.parse().map_err(|_| {
                Error::Config(format!(
                    "option 'sink.rolling-policy.file-size': '{size}' is not a byte count"
                ))
            })?;
        }
        if let Some(size) = options.get("sink.part-size") {
            config.part_bytes = crate::options::parse_size_bytes(size)
                .map_err(|e| Error::Config(format!("file sink: option 'sink.part-size': '{size}': {e}")))?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the values: a part size S3 accepts, and (on an object store) few enough parts
    /// per rolled file.
    pub fn validate(&self) -> Result<()> {
        if self.path.is_empty() {
            return Err(Error::Config("file sink: 'path' is required".into()));
        }
        if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&self.part_bytes) {
            return Err(Error::Config(format!(
                "file sink: the part size ('sink.part-size') is {} bytes; it must be from 5 MiB to 5 GiB",
                self.part_bytes
            )));
        }
        if matches!(self.path, Location::Url(_)) && self.roll_bytes / self.part_bytes + 1 > MAX_PARTS {
            return Err(Error::Config(format!(
                "file sink: files of {} bytes ('sink.rolling-policy.file-size') in parts of {} bytes \
                 ('sink.part-size') exceed the {MAX_PARTS} parts of one upload; raise the part size",
                self.roll_bytes, self.part_bytes
            )));
        }
        Ok(())
    }
}

/// The part files of one sink subtask, wherever they are kept: the steps of the protocol in
/// the [module docs](self).
trait PartFiles: Send {
    /// After a restore from checkpoint `restored` (`None`: a fresh start), commits the pending
    /// files of earlier runs it covers and discards every other unfinished file of theirs.
    fn recover(&mut self, restored: Option<u64>) -> Result<()>;

    /// Whether a part file is open.
    fn is_open(&self) -> bool;

    /// Opens part file `seq` for batches of `schema`.
    fn start(&mut self, seq: u64, schema: &SchemaRef) -> Result<()>;

    /// Appends a batch to the open part file; returns the file's size so far.
    fn write(&mut self, batch: &RecordBatch) -> Result<u64>;

    /// Closes the open part file, if any, as pending on `checkpoint`.
    fn close(&mut self, checkpoint: u64) -> Result<()>;

    /// Makes this run's pending files of checkpoints `<= checkpoint` visible.
    fn commit(&mut self, checkpoint: u64) -> Result<()>;
}

/// The exactly-once file sink operator.
pub struct FileSink {
    config: FileSinkConfig,
    /// Set on open.
    files: Option<Box<dyn PartFiles>>,
    next_seq: u64,
    last_checkpoint: u64,
}

impl FileSink {
    /// A sink writing as configured.
    pub fn new(config: FileSinkConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            files: None,
            next_seq: 0,
            last_checkpoint: 0,
        })
    }

    fn files(&mut self) -> Result<&mut Box<dyn PartFiles>> {
        self.files
            .as_mut()
            .ok_or_else(|| Error::Internal("file sink: used before open".into()))
    }
}

impl Operator for FileSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let info = ctx.info();
        let run = info.run_id.replace('-', "_");
        let subtask = info.subtask.0;
        let restored = info.restored_checkpoint.map(|c| c.0);
        self.last_checkpoint = restored.unwrap_or(0);
        let format = self.config.format;
        let mut files: Box<dyn PartFiles> = match &self.config.path {
            Location::Local(dir) => Box::new(local::LocalParts::open(dir, format, &run, subtask)?),
            Location::Url(url) => {
                let part_bytes = usize::try_from(self.config.part_bytes)
                    .map_err(|_| Error::Config(format!("file sink: part size {} too large", self.config.part_bytes)))?;
                Box::new(object::ObjectParts::open(url, format, part_bytes, &run, subtask)?)
            }
        };
        if subtask == 0 {
            files.recover(restored)?;
        }
        self.files = Some(files);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let roll = self.config.roll_bytes;
        let next = self.last_checkpoint + 1;
        let files = self
            .files
            .as_mut()
            .ok_or_else(|| Error::Internal("file sink: used before open".into()))?;
        if !files.is_open() {
            files.start(self.next_seq, &batch.schema())?;
            self.next_seq += 1;
        }
        if files.write(&batch)? >= roll {
            // Rolled files wait for the next checkpoint like the others.
            files.close(next)?;
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        // Files rolled since the last checkpoint are named for `last + 1 <= checkpoint`; no
        // other checkpoint can complete in between without this subtask, so they commit with it.
        self.files()?.close(checkpoint.0)?;
        self.last_checkpoint = checkpoint.0;
        Ok(Vec::new())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<()> {
        self.files()?.commit(checkpoint.0)
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        // No barrier passes a finished sink again: the next completed checkpoint covers this.
        let next = self.last_checkpoint + 1;
        self.files()?.close(next)
    }
}

#[cfg(test)]
mod object_tests;
#[cfg(test)]
mod tests;

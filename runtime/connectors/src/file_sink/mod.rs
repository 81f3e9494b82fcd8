//! The exactly-once file sink: JSON lines, CSV or Parquet files in a local directory, visible
//! only once the checkpoint that covers them completes.
//!
//! # Protocol — the directory listing is the sink's durable record
//!
//! Every file name carries the run id (unique per execution attempt) and the subtask:
//!
//! | name | state |
//! |---|---|
//! | `.part-{run}-{subtask}-{seq}.inprogress` | being written |
//! | `.part-{run}-{subtask}-{seq}.pending-{n}` | closed at the barrier of checkpoint `n` |
//! | `part-{run}-{subtask}-{seq}.{ext}` | committed (visible) |
//!
//! - At a barrier of checkpoint `n` the current file is closed and renamed `pending-{n}`.
//! - When checkpoint `n` completes, this run's pending files of checkpoints `<= n` are renamed
//!   to their visible names.
//! - At end of input the current file is closed as `pending-{s+1}`, where `s` is the last
//!   checkpoint this subtask took part in: no barrier passes a finished sink again, so any
//!   later checkpoint that completes (at the latest, the job's final one) covers that data.
//! - On open after a restore from checkpoint `C`, subtask 0 commits every pending file of
//!   earlier runs with `n <= C` and deletes every other hidden file of earlier runs (data no
//!   completed checkpoint covers, which the restored sources replay).
//!
//! Renames are idempotent (a missing file is not an error), so a crash at any point between
//! these steps is repaired by the next restore. Because the record is the directory itself,
//! nothing is kept in operator state and rescaling needs no redistribution.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Error, Result};
use freshet_dataflow::{Collector, Operator, OperatorContext};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Configuration of the file sink.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileSinkConfig {
    /// The output directory (created if missing).
    pub path: PathBuf,
    /// Output format.
    #[serde(default)]
    pub format: FileFormat,
    /// Roll to a new file after this many bytes (still committed only on checkpoints).
    #[serde(default = "default_roll_bytes")]
    pub roll_bytes: u64,
}

fn default_roll_bytes() -> u64 {
    128 * 1024 * 1024
}

/// Option keys accepted by [`FileSinkConfig::from_options`].
pub const FILE_SINK_OPTIONS: &[&str] = &["path", "format", "sink.rolling-policy.file-size"];

impl FileSinkConfig {
    /// JSON lines into `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            format: FileFormat::Json,
            roll_bytes: default_roll_bytes(),
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
        let mut config = Self::new(PathBuf::from(path));
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
        Ok(config)
    }

    fn extension(&self) -> &'static str {
        match self.format {
            FileFormat::Json => "jsonl",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// Where a file's rows go: encoded text, or a Parquet writer (which buffers a row group).
enum FileWriter {
    Text(BufWriter<File>),
    Parquet(Box<ArrowWriter<File>>),
}

struct OpenFile {
    seq: u64,
    writer: FileWriter,
    bytes: u64,
}

impl OpenFile {
    /// Flushes everything (for Parquet: the footer) and syncs the file to disk.
    fn finish(self) -> Result<()> {
        let file = match self.writer {
            FileWriter::Text(mut w) => {
                w.flush().map_err(|e| Error::io("flushing a sink file", e))?;
                w.into_inner()
                    .map_err(|e| Error::io("flushing a sink file", e.into_error()))?
            }
            FileWriter::Parquet(w) => w
                .into_inner()
                .map_err(|e| Error::Internal(format!("finishing a Parquet sink file: {e}")))?,
        };
        file.sync_all().map_err(|e| Error::io("syncing a sink file", e))
    }
}

/// The exactly-once file sink operator.
pub struct FileSink {
    config: FileSinkConfig,
    run_id: String,
    subtask: u32,
    next_seq: u64,
    current: Option<OpenFile>,
    /// Closed files waiting for a checkpoint: (checkpoint id, seq).
    pending: Vec<(u64, u64)>,
    last_checkpoint: u64,
}

/// A parsed hidden file name.
#[derive(Debug, PartialEq)]
struct PartName {
    run: String,
    subtask: u32,
    seq: u64,
    state: PartState,
}

#[derive(Debug, PartialEq)]
enum PartState {
    InProgress,
    Pending(u64),
}

fn parse_hidden(name: &str) -> Option<PartName> {
    let rest = name.strip_prefix(".part-")?;
    let (stem, suffix) = rest.split_once('.')?;
    let mut parts = stem.rsplitn(3, '-');
    let seq = parts.next()?.parse().ok()?;
    let subtask = parts.next()?.parse().ok()?;
    let run = parts.next()?.to_string();
    let state = if suffix == "inprogress" {
        PartState::InProgress
    } else {
        PartState::Pending(suffix.strip_prefix("pending-")?.parse().ok()?)
    };
    Some(PartName {
        run,
        subtask,
        seq,
        state,
    })
}

fn rename_idempotent(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("renaming {} to {}", from.display(), to.display()), e)),
    }
}

impl FileSink {
    /// A sink writing as configured.
    pub fn new(config: FileSinkConfig) -> Result<Self> {
        Ok(Self {
            config,
            run_id: String::new(),
            subtask: 0,
            next_seq: 0,
            current: None,
            pending: Vec::new(),
            last_checkpoint: 0,
        })
    }

    fn hidden(&self, run: &str, subtask: u32, seq: u64, state: &PartState) -> PathBuf {
        let suffix = match state {
            PartState::InProgress => "inprogress".to_string(),
            PartState::Pending(n) => format!("pending-{n}"),
        };
        self.config.path.join(format!(".part-{run}-{subtask}-{seq}.{suffix}"))
    }

    fn visible(&self, run: &str, subtask: u32, seq: u64) -> PathBuf {
        self.config
            .path
            .join(format!("part-{run}-{subtask}-{seq}.{}", self.config.extension()))
    }

    /// Commits or deletes the hidden files of earlier runs after a restore from `restored`.
    fn recover(&self, restored: Option<u64>) -> Result<()> {
        let entries = std::fs::read_dir(&self.config.path)
            .map_err(|e| Error::io(format!("listing {}", self.config.path.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", self.config.path.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(part) = parse_hidden(&name) else { continue };
            if part.run == self.run_id {
                continue;
            }
            match (part.state, restored) {
                (PartState::Pending(n), Some(c)) if n <= c => {
                    rename_idempotent(&entry.path(), &self.visible(&part.run, part.subtask, part.seq))?;
                }
                _ => match std::fs::remove_file(entry.path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("deleting {}", entry.path().display()), e)),
                },
            }
        }
        Ok(())
    }

    fn close_current(&mut self, checkpoint: u64) -> Result<()> {
        if let Some(file) = self.current.take() {
            let seq = file.seq;
            file.finish()?;
            let from = self.hidden(&self.run_id, self.subtask, seq, &PartState::InProgress);
            let to = self.hidden(&self.run_id, self.subtask, seq, &PartState::Pending(checkpoint));
            std::fs::rename(&from, &to).map_err(|e| Error::io(format!("renaming {}", from.display()), e))?;
            self.pending.push((checkpoint, seq));
        }
        Ok(())
    }

    fn open_file(&mut self, schema: &SchemaRef) -> Result<&mut OpenFile> {
        if self.current.is_none() {
            let seq = self.next_seq;
            self.next_seq += 1;
            let path = self.hidden(&self.run_id, self.subtask, seq, &PartState::InProgress);
            let file = File::create(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
            let writer = match self.config.format {
                FileFormat::Parquet => {
                    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
                    FileWriter::Parquet(Box::new(
                        ArrowWriter::try_new(file, schema.clone(), Some(properties))
                            .map_err(|e| Error::Internal(format!("opening a Parquet sink file: {e}")))?,
                    ))
                }
                FileFormat::Json | FileFormat::Csv => FileWriter::Text(BufWriter::with_capacity(256 * 1024, file)),
            };
            self.current = Some(OpenFile { seq, writer, bytes: 0 });
        }
        self.current
            .as_mut()
            .ok_or_else(|| Error::Internal("sink file missing".into()))
    }

    fn encode(&self, batch: &RecordBatch, header: bool) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        match self.config.format {
            FileFormat::Json => {
                let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
                w.write(batch)?;
                w.finish()?;
            }
            FileFormat::Csv => {
                let mut w = arrow::csv::WriterBuilder::new().with_header(header).build(&mut buf);
                w.write(batch)?;
            }
            FileFormat::Parquet => return Err(Error::Internal("Parquet batches are not encoded as text".into())),
        }
        Ok(buf)
    }
}

impl Operator for FileSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let info = ctx.info();
        self.run_id = info.run_id.replace('-', "_");
        self.subtask = info.subtask.0;
        self.last_checkpoint = info.restored_checkpoint.map_or(0, |c| c.0);
        std::fs::create_dir_all(&self.config.path)
            .map_err(|e| Error::io(format!("creating {}", self.config.path.display()), e))?;
        if self.subtask == 0 {
            self.recover(info.restored_checkpoint.map(|c| c.0))?;
        }
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
        let encoded = match self.config.format {
            FileFormat::Parquet => None,
            FileFormat::Json | FileFormat::Csv => {
                let header = self.current.as_ref().is_none_or(|f| f.bytes == 0);
                Some(self.encode(&batch, header)?)
            }
        };
        let file = self.open_file(&batch.schema())?;
        match (&mut file.writer, encoded) {
            (FileWriter::Text(w), Some(bytes)) => {
                w.write_all(&bytes).map_err(|e| Error::io("writing a sink file", e))?;
                file.bytes += bytes.len() as u64;
            }
            (FileWriter::Parquet(w), None) => {
                w.write(&batch)
                    .map_err(|e| Error::Internal(format!("writing a Parquet sink file: {e}")))?;
                file.bytes = (w.bytes_written() + w.in_progress_size()) as u64;
            }
            _ => return Err(Error::Internal("a sink file of the wrong format".into())),
        }
        if file.bytes >= roll {
            // Rolled files wait for the next checkpoint like the others.
            let next = self.last_checkpoint + 1;
            self.close_current(next)?;
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        // Files rolled since the last checkpoint are named for `last + 1 <= checkpoint`; no
        // other checkpoint can complete in between without this subtask, so they commit with it.
        self.close_current(checkpoint.0)?;
        self.last_checkpoint = checkpoint.0;
        Ok(Vec::new())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<()> {
        let (ready, waiting): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|(n, _)| *n <= checkpoint.0);
        self.pending = waiting;
        for (n, seq) in ready {
            let from = self.hidden(&self.run_id, self.subtask, seq, &PartState::Pending(n));
            let to = self.visible(&self.run_id, self.subtask, seq);
            rename_idempotent(&from, &to)?;
        }
        Ok(())
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        // No barrier passes a finished sink again: the next completed checkpoint covers this.
        let next = self.last_checkpoint + 1;
        self.close_current(next)
    }
}

#[cfg(test)]
mod tests;

//! File sources: CSV (with or without a header line), JSON lines and Parquet, read against a
//! given schema (Parquet columns are matched by name and cast to the declared types).
//!
//! **Splits are files.** The position of a file is `{path, offset, line, done}`: the byte offset
//! of the next unread line (and how many lines precede it, for error messages), or for Parquet
//! the number of rows read, so a restore resumes mid-file with neither duplicates nor gaps. Finished files keep their positions in
//! the snapshot, so a restore never reads a file twice.
//!
//! **Bounded** (no `monitor_interval`): the path (a file, or every visible file of a directory)
//! is listed once at the first start; file `k` of the sorted listing has index `k` (also its
//! split id) and is read by subtask `k % p`. The snapshot holds one item per file a subtask
//! owns ([`FilePosition`]). After a restore a subtask reads exactly the files whose positions it
//! was handed, so the set of files is the one of the first run, whatever the parallelism. The
//! source is `Finished` once its files are.
//!
//! **Continuous** (`monitor_interval` set): the directory is listed every interval. A file
//! belongs to the key group of its name's hash (among the job's `max_parallelism` groups), and
//! only the subtask owning that group adopts it; a fresh subtask owns its key-group range. The
//! snapshot holds one item per owned key group with the position of every file of the group
//! adopted so far, finished ones included ([`KeyGroupFiles`]). A restore, at any parallelism,
//! hands each item to exactly one subtask, which then owns the group: it resumes the group's
//! unfinished files and knows every file the group ever adopted, so each file is read exactly
//! once, whatever its modification time. (There are at least as many key groups as subtasks,
//! so every restored subtask gets an item; one that gets none belongs to a source the snapshot
//! did not have, and starts fresh.) Files are read once, to their end at the time of reading:
//! write files elsewhere and move them in. Never `Finished`. The state grows by one position
//! per file seen.
//!
//! **Object stores.** A `path` like `s3://bucket/prefix` (or `gs://`, `az://`) names an object
//! or the objects directly below a prefix, listed the same way; positions hold each object's
//! full URL. Text objects are read by ranged GETs from the byte offset, a few MiB at a time;
//! Parquet objects are fetched whole when opened. Credentials and endpoints come from the
//! environment (see [`freshet_core::object_root`]).
//!
//! A line that does not parse fails the source with an error naming the file and line.

mod discovery;
mod files;
mod parquet_file;
mod ranged;
mod reader;

pub use discovery::KeyGroupFiles;

use crate::options::OptionReader;
use arrow::datatypes::SchemaRef;
use discovery::{list, path_index, OwnedGroups};
use files::Files;
use freshet_core::{CheckpointId, Clock, Error, Location, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};
use reader::{Decoding, OpenFile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

/// The record format of the files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma (or other delimiter) separated values, one record per line.
    Csv,
    /// One JSON object per line.
    #[default]
    Json,
    /// Apache Parquet files.
    Parquet,
}

impl FileFormat {
    /// Parses `csv`, `json` (also `json-lines`, `jsonl`) or `parquet`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            "json" | "jsonl" | "json-lines" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Configuration of a file source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSourceConfig {
    /// A file, or a directory whose visible files are read; or an object store URL of an
    /// object or a prefix.
    pub path: Location,
    /// CSV, JSON lines or Parquet.
    pub format: FileFormat,
    /// Whether each CSV file starts with a header line (skipped).
    pub csv_header: bool,
    /// The CSV field delimiter.
    pub csv_delimiter: char,
    /// Poll the directory for new files this often (continuous); `None` reads once (bounded).
    pub monitor_interval_ms: Option<u64>,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        Self {
            path: Location::default(),
            format: FileFormat::Json,
            csv_header: false,
            csv_delimiter: ',',
            monitor_interval_ms: None,
        }
    }
}

/// Option keys of [`FileSourceConfig::from_options`].
pub const FILE_SOURCE_OPTIONS: &[&str] = &[
    "path",
    "format",
    "csv.header",
    "csv.field-delimiter",
    "source.monitor-interval",
];

impl FileSourceConfig {
    /// Builds a config from `WITH` options; `path` is required.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let r = OptionReader::new("filesystem source", options, FILE_SOURCE_OPTIONS, |_| false)?;
        let path = r
            .raw("path")
            .ok_or_else(|| Error::Config("filesystem source: option 'path' is required".into()))?;
        let mut c = Self {
            path: Location::parse(path).map_err(|e| r.invalid("path", path, &e.to_string()))?,
            ..Self::default()
        };
        if let Some(f) = r.raw("format") {
            c.format = FileFormat::parse(f).ok_or_else(|| r.invalid("format", f, "expected csv, json or parquet"))?;
        }
        if let Some(h) = r.bool("csv.header")? {
            c.csv_header = h;
        }
        if let Some(d) = r.byte_char("csv.field-delimiter")? {
            c.csv_delimiter = d as char;
        }
        c.monitor_interval_ms = r.duration_ms("source.monitor-interval")?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.path.is_empty() {
            return Err(Error::Config("filesystem source: 'path' is required".into()));
        }
        if !self.csv_delimiter.is_ascii() {
            return Err(Error::Config(
                "filesystem source: 'csv_delimiter' must be an ASCII character".into(),
            ));
        }
        if self.monitor_interval_ms == Some(0) {
            return Err(Error::Config(
                "filesystem source: 'monitor_interval' must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// The position of one file: bounded mode's snapshot item, and part of continuous mode's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// The file.
    pub path: String,
    /// Its index (bounded: in the sorted listing; continuous: the name hash).
    pub index: u32,
    /// Byte offset of the next unread line (Parquet: rows read).
    pub offset: u64,
    /// Lines before `offset` (Parquet: rows read).
    pub line: u64,
    /// Whether it has been read to its end.
    pub done: bool,
}

impl FilePosition {
    /// The start of a file not read yet.
    fn start(path: String, index: u32) -> Self {
        Self {
            path,
            index,
            offset: 0,
            line: 0,
            done: false,
        }
    }
}

struct OwnedFile {
    pos: FilePosition,
    split: u32,
}

/// A CSV, JSON-lines or Parquet file source.
pub struct FileSource {
    config: FileSourceConfig,
    decoding: Decoding,
    /// The storage, opened on open.
    storage: Option<Files>,
    files: Vec<OwnedFile>,
    /// Index in `files` of the file being read, with its open handle.
    current: Option<(usize, OpenFile)>,
    batch_size: usize,
    subtask: u32,
    parallelism: u32,
    clock: Option<Arc<dyn Clock>>,
    last_scan_ms: Option<i64>,
    /// Continuous: the key groups whose new files this subtask adopts.
    groups: OwnedGroups,
    /// Paths of every file in `files`.
    known: HashSet<String>,
    finished: VecDeque<u32>,
}

impl FileSource {
    /// A source reading `config.path` as records of `schema`.
    pub fn new(schema: SchemaRef, config: FileSourceConfig) -> Result<Self> {
        config.validate()?;
        let decoding = Decoding {
            schema,
            format: config.format,
            csv_header: config.csv_header,
            csv_delimiter: config.csv_delimiter as u8,
        };
        Ok(Self {
            config,
            decoding,
            storage: None,
            files: Vec::new(),
            current: None,
            batch_size: 1,
            subtask: 0,
            parallelism: 1,
            clock: None,
            last_scan_ms: None,
            groups: OwnedGroups::default(),
            known: HashSet::new(),
            finished: VecDeque::new(),
        })
    }

    fn continuous(&self) -> bool {
        self.config.monitor_interval_ms.is_some()
    }

    /// Takes ownership of a file, giving it a split id unique within this subtask.
    fn adopt(&mut self, pos: FilePosition) {
        let mut split = pos.index;
        while self.files.iter().any(|f| f.split == split) {
            split = split.wrapping_add(1);
        }
        self.known.insert(pos.path.clone());
        self.files.push(OwnedFile { pos, split });
    }

    fn storage(&self) -> Result<&Files> {
        self.storage
            .as_ref()
            .ok_or_else(|| Error::Internal("file source: used before open".into()))
    }

    /// Continuous mode: lists the directory and adopts the new files of the owned key groups.
    fn scan(&mut self) -> Result<()> {
        for f in list(self.storage()?)? {
            let path = Path::new(&f.path);
            if self.known.contains(&f.path) || !self.groups.owns(path) {
                continue;
            }
            tracing::debug!(path = %f.path, subtask = self.subtask, "file source: new file");
            let index = path_index(path);
            self.adopt(FilePosition::start(f.path, index));
        }
        Ok(())
    }

    /// Bounded mode, fresh start: lists the path and adopts every `p`-th file.
    fn list_bounded(&mut self) -> Result<()> {
        for (k, f) in list(self.storage()?)?.into_iter().enumerate() {
            if k as u32 % self.parallelism == self.subtask {
                self.adopt(FilePosition::start(f.path, k as u32));
            }
        }
        Ok(())
    }
}

impl Source for FileSource {
    fn schema(&self) -> SchemaRef {
        self.decoding.schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        self.subtask = ctx.info.subtask.0;
        self.parallelism = ctx.info.parallelism.max(1);
        self.batch_size = ctx.batch_size.max(1);
        self.clock = Some(ctx.clock.clone());
        self.storage = Some(Files::open(&self.config.path)?);
        match (self.continuous(), ctx.restored.is_empty()) {
            (true, true) => {
                if ctx.info.restored_checkpoint.is_some() {
                    tracing::info!(
                        subtask = self.subtask,
                        "file source: no state of this source in the snapshot; every listed file is new"
                    );
                }
                self.groups = OwnedGroups::fresh(&ctx.info);
            }
            (true, false) => {
                let (groups, files) = OwnedGroups::restore(&ctx.restored)?;
                self.groups = groups;
                files.into_iter().for_each(|pos| self.adopt(pos));
            }
            (false, true) => self.list_bounded()?,
            (false, false) => {
                for item in &ctx.restored {
                    let pos: FilePosition = serde_json::from_value(item.clone())
                        .map_err(|e| Error::State(format!("file source: unreadable restored position {item}: {e}")))?;
                    self.adopt(pos);
                }
            }
        }
        self.files.sort_by_key(|f| f.pos.index);
        self.finished = self.files.iter().filter(|f| f.pos.done).map(|f| f.split).collect();
        Ok(self.files.iter().map(|f| f.split).collect())
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        if let Some(split) = self.finished.pop_front() {
            return Ok(SourcePoll::SplitFinished(split));
        }
        if self.current.is_none() {
            if let Some(i) = self.files.iter().position(|f| !f.pos.done) {
                let p = &self.files[i].pos;
                let file = self.storage()?.open_file(&p.path, &self.decoding, p.offset, p.line)?;
                self.current = Some((i, file));
            }
        }
        let Some((i, file)) = self.current.as_mut() else {
            let Some(interval) = self.config.monitor_interval_ms else {
                return Ok(SourcePoll::Finished);
            };
            let now = self.clock.as_ref().map_or(0, |c| c.now_ms());
            if self.last_scan_ms.is_some_and(|t| now - t < interval as i64) {
                return Ok(SourcePoll::Pending);
            }
            self.last_scan_ms = Some(now);
            self.scan()?;
            return Ok(SourcePoll::Pending);
        };
        let i = *i;
        let chunk = file.read(&self.decoding, self.batch_size)?;
        let f = &mut self.files[i];
        f.pos.offset = chunk.offset;
        f.pos.line = chunk.line;
        if chunk.eof {
            f.pos.done = true;
            self.finished.push_back(f.split);
            self.current = None;
        }
        let split = f.split;
        match chunk.batch {
            Some(batch) if batch.num_rows() > 0 => Ok(SourcePoll::Batch { split, batch }),
            _ => Ok(match self.finished.pop_front() {
                Some(s) => SourcePoll::SplitFinished(s),
                None => SourcePoll::Pending,
            }),
        }
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        if self.continuous() {
            return self.groups.snapshot(self.files.iter().map(|f| &f.pos));
        }
        self.files
            .iter()
            .map(|f| serde_json::to_value(&f.pos).map_err(Error::from))
            .collect()
    }
}

#[cfg(test)]
mod object_tests;
#[cfg(test)]
mod tests;

//! A source of synthetic rows, like Flink's `datagen` connector: each column has a generator
//! (a sequence, random numbers or strings, or a timestamp), optionally throttled to
//! `rows_per_second` and bounded by `number_of_rows`.
//!
//! Determinism: row `r` is a pure function of (`seed`, `r`): every row seeds its own small
//! random generator (SplitMix64) and draws its columns in schema order. Splitting: rows are dealt
//! to `splits` logical splits, split `s` owning rows `s, s + S, s + 2S, ...`; a split's position
//! is the number of rows it emitted. A fresh subtask `i` of `p` owns splits `{s : s % p == i}`;
//! a restored one owns the splits whose positions it is handed. `splits` defaults to the
//! parallelism of the first run and is carried in the snapshot, so a restore into another
//! parallelism resumes every split exactly. Timestamps of kind `now` read the clock, so they
//! (alone) are not reproducible.

use crate::options::OptionReader;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Clock, Error, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// How one column is generated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// `start + r` for row `r`; the source ends after `end` (inclusive).
    Sequence {
        /// First value.
        start: i64,
        /// Last value.
        end: i64,
    },
    /// A uniform integer in `[min, max]` (also for floats; for strings: their length).
    Random {
        /// Smallest value.
        #[serde(default)]
        min: Option<f64>,
        /// Largest value.
        #[serde(default)]
        max: Option<f64>,
        /// String length (strings only; default 10).
        #[serde(default)]
        length: Option<usize>,
    },
    /// The clock's time when the row is generated (not reproducible).
    Now,
    /// `start + r * step` milliseconds for row `r`: deterministic event time.
    EventTime {
        /// Time of row 0 (ms since the epoch).
        start: i64,
        /// Milliseconds between consecutive rows.
        step: i64,
    },
}

/// Configuration of the datagen source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatagenConfig {
    /// Per-column generators by column name; columns not listed are random.
    pub fields: BTreeMap<String, FieldKind>,
    /// Wall-clock cap on rows per second over all subtasks; `None` is as fast as possible.
    pub rows_per_second: Option<u64>,
    /// Total rows; `None` is unbounded (unless a sequence ends first).
    pub number_of_rows: Option<u64>,
    /// Seed of the random columns.
    pub seed: u64,
    /// Number of logical splits; `None` means the parallelism of the first run.
    pub splits: Option<u32>,
}

impl Default for DatagenConfig {
    fn default() -> Self {
        Self {
            fields: BTreeMap::new(),
            rows_per_second: Some(10_000),
            number_of_rows: None,
            seed: 0,
            splits: None,
        }
    }
}

/// Option keys of [`DatagenConfig::from_options`] (Flink's, plus `seed` and `splits`); per-field
/// keys are `fields.<name>.kind` (`random`, `sequence`, `now`, `event-time`) and
/// `fields.<name>.{min,max,length,start,end,step}`.
pub const DATAGEN_OPTIONS: &[&str] = &["rows-per-second", "number-of-rows", "seed", "splits"];
const FIELD_PROPERTIES: &[&str] = &["kind", "min", "max", "length", "start", "end", "step"];

fn field_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("fields.")?;
    let (name, prop) = rest.rsplit_once('.')?;
    (!name.is_empty() && FIELD_PROPERTIES.contains(&prop)).then_some((name, prop))
}

impl DatagenConfig {
    /// Builds a config from `WITH` options. `rows-per-second` = 0 means unthrottled.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let r = OptionReader::new("datagen", options, DATAGEN_OPTIONS, |k| field_key(k).is_some())?;
        let mut c = Self::default();
        if let Some(v) = r.parse::<u64>("rows-per-second")? {
            c.rows_per_second = (v > 0).then_some(v);
        }
        c.number_of_rows = r.parse("number-of-rows")?;
        if let Some(v) = r.parse("seed")? {
            c.seed = v;
        }
        c.splits = r.parse("splits")?;
        let names: std::collections::BTreeSet<&str> =
            options.keys().filter_map(|k| field_key(k)).map(|(n, _)| n).collect();
        for name in names {
            let key = |p: &str| format!("fields.{name}.{p}");
            let kind = r.raw(&key("kind")).unwrap_or("random").to_ascii_lowercase();
            let spec = match kind.as_str() {
                "sequence" => {
                    let start = r
                        .parse(&key("start"))?
                        .ok_or_else(|| Error::Config(format!("datagen: '{}' needs '{}'", key("kind"), key("start"))))?;
                    let end = r
                        .parse(&key("end"))?
                        .ok_or_else(|| Error::Config(format!("datagen: '{}' needs '{}'", key("kind"), key("end"))))?;
                    FieldKind::Sequence { start, end }
                }
                "random" => FieldKind::Random {
                    min: r.parse(&key("min"))?,
                    max: r.parse(&key("max"))?,
                    length: r.parse(&key("length"))?,
                },
                "now" => FieldKind::Now,
                "event-time" | "event_time" => FieldKind::EventTime {
                    start: r.parse(&key("start"))?.unwrap_or(0),
                    step: r.parse(&key("step"))?.unwrap_or(1),
                },
                other => return Err(r.invalid(&key("kind"), other, "expected random, sequence, now or event-time")),
            };
            c.fields.insert(name.to_string(), spec);
        }
        Ok(c)
    }
}

/// The snapshot item of one split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatagenPosition {
    /// Split index.
    pub split: u32,
    /// Number of splits.
    pub of: u32,
    /// Rows it emitted.
    pub emitted: u64,
}

mod columns;
#[cfg(test)]
mod tests;

use columns::Column;

/// The datagen source.
pub struct DatagenSource {
    schema: SchemaRef,
    config: DatagenConfig,
    columns: Vec<Column>,
    /// Rows of the whole stream: the bound and every sequence's end.
    total_rows: Option<u64>,
    splits: Vec<DatagenPosition>,
    cursor: usize,
    batch_size: usize,
    clock: Option<Arc<dyn Clock>>,
    throttle: Option<(u64, Option<i64>, u64)>,
    finished: VecDeque<u32>,
}

impl DatagenSource {
    /// A source producing `schema` per `config`. Every configured field must exist and suit
    /// its column's type; supported types are integers, floats, booleans, strings and
    /// timestamps (ms, or integers for `now` / `event_time`).
    pub fn new(schema: SchemaRef, config: DatagenConfig) -> Result<Self> {
        let (columns, total_rows) = columns::resolve(&schema, &config)?;
        if config.rows_per_second == Some(0) || config.splits == Some(0) {
            return Err(Error::Config(
                "datagen: 'rows-per-second' and 'splits' must be positive".into(),
            ));
        }
        Ok(Self {
            schema,
            config,
            columns,
            total_rows,
            splits: Vec::new(),
            cursor: 0,
            batch_size: 1,
            clock: None,
            throttle: None,
            finished: VecDeque::new(),
        })
    }

    /// Rows of split `s` of `of`: those `r < total` with `r % of == s`.
    fn split_rows(&self, split: u32, of: u32) -> u64 {
        match self.total_rows {
            None => u64::MAX,
            Some(t) => (t + of as u64 - 1 - split as u64) / of as u64,
        }
    }

    fn build(&self, rows: &[u64]) -> Result<RecordBatch> {
        let now = self.clock.as_ref().map_or(0, |c| c.now_ms());
        columns::build(&self.schema, &self.columns, self.config.seed, now, rows)
    }
}

impl Source for DatagenSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        let p = ctx.info.parallelism.max(1);
        self.splits = if ctx.restored.is_empty() {
            let of = self.config.splits.unwrap_or(p);
            (0..of)
                .filter(|s| s % p == ctx.info.subtask.0)
                .map(|split| DatagenPosition { split, of, emitted: 0 })
                .collect()
        } else {
            let mut v = Vec::new();
            for item in &ctx.restored {
                let pos: DatagenPosition = serde_json::from_value(item.clone())
                    .map_err(|e| Error::State(format!("datagen: unreadable restored position {item}: {e}")))?;
                if pos.split >= pos.of {
                    return Err(Error::State(format!(
                        "datagen: restored split {} of {}",
                        pos.split, pos.of
                    )));
                }
                v.push(pos);
            }
            v.sort_by_key(|p| p.split);
            v
        };
        self.batch_size = ctx.batch_size.max(1);
        self.clock = Some(ctx.clock.clone());
        self.throttle = self.config.rows_per_second.map(|total| {
            let of = self.splits.first().map_or(1, |s| s.of.max(1)) as u64;
            ((total * self.splits.len() as u64 / of).max(1), None, 0)
        });
        self.finished = self
            .splits
            .iter()
            .filter(|s| s.emitted >= self.split_rows(s.split, s.of))
            .map(|s| s.split)
            .collect();
        Ok(self.splits.iter().map(|s| s.split).collect())
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        if let Some(s) = self.finished.pop_front() {
            return Ok(SourcePoll::SplitFinished(s));
        }
        let live: Vec<usize> = (0..self.splits.len())
            .filter(|i| self.splits[*i].emitted < self.split_rows(self.splits[*i].split, self.splits[*i].of))
            .collect();
        if live.is_empty() {
            return Ok(SourcePoll::Finished);
        }
        let mut budget = self.batch_size as u64;
        if let (Some((rate, start, consumed)), Some(clock)) = (self.throttle.as_mut(), self.clock.as_ref()) {
            let now = clock.now_ms();
            let start = *start.get_or_insert(now);
            let allowed = *rate as u128 * (now - start).max(0) as u128 / 1000 + (*rate / 200).max(1) as u128;
            budget = budget.min(allowed.saturating_sub(*consumed as u128).min(u64::MAX as u128) as u64);
            if budget == 0 {
                return Ok(SourcePoll::Pending);
            }
        }
        let i = live[self.cursor % live.len()];
        self.cursor = self.cursor.wrapping_add(1);
        let pos = self.splits[i];
        let remaining = self.split_rows(pos.split, pos.of) - pos.emitted;
        let n = budget.min(remaining);
        let rows: Vec<u64> = (0..n)
            .map(|k| (pos.emitted + k) * pos.of as u64 + pos.split as u64)
            .collect();
        let batch = self.build(&rows)?;
        self.splits[i].emitted += n;
        if let Some((_, _, consumed)) = self.throttle.as_mut() {
            *consumed += n;
        }
        if n == remaining {
            self.finished.push_back(pos.split);
        }
        Ok(SourcePoll::Batch {
            split: pos.split,
            batch,
        })
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        self.splits
            .iter()
            .map(|p| serde_json::to_value(p).map_err(Error::from))
            .collect()
    }
}

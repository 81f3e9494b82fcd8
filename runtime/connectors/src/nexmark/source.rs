//! The Nexmark [`Source`]: a subtask owns some of the fixed set of logical generators and
//! interleaves them batch by batch.
//!
//! Ownership: on a fresh start subtask `i` of `p` owns generators `{k : k % p == i}`; after a
//! restore it owns exactly the generators whose positions it was handed (the engine deals
//! operator-state items round-robin when the parallelism changed). Either way every generator
//! is owned by one subtask, and since its events depend only on the configuration and its
//! index, the union of the output never depends on the parallelism.

use super::columns::{table_schema, TableColumns};
use super::fields::{ChannelTable, FieldGenerator};
use super::generator::{GeneratorPosition, LogicalGenerator};
use super::NexmarkConfig;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Clock, Error, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};
use std::collections::VecDeque;
use std::sync::Arc;

/// The generators one subtask owns, with the shared field generator and column builders.
#[derive(Debug)]
struct OwnedGenerators {
    generators: Vec<LogicalGenerator>,
    cursor: usize,
    fields: FieldGenerator,
    columns: TableColumns,
    batch_size: usize,
}

/// One step of [`OwnedGenerators::step`].
struct Step {
    split: u32,
    batch: Option<RecordBatch>,
    events: u64,
    exhausted: bool,
}

impl OwnedGenerators {
    fn new(config: &NexmarkConfig, generators: Vec<LogicalGenerator>, batch_size: usize) -> Self {
        let channels = Arc::new(ChannelTable::new(config.seed));
        Self {
            generators,
            cursor: 0,
            fields: FieldGenerator::new(config, channels),
            columns: TableColumns::new(config.table, batch_size),
            batch_size,
        }
    }

    fn all_exhausted(&self) -> bool {
        self.generators.iter().all(LogicalGenerator::is_exhausted)
    }

    /// Fills one batch from the next generator (round-robin) that has events left, consuming
    /// at most `max_events` events. `None` if every generator is exhausted.
    fn step(&mut self, schema: &SchemaRef, max_events: u64) -> Result<Option<Step>> {
        let n = self.generators.len();
        for _ in 0..n {
            let i = self.cursor % n;
            self.cursor = (i + 1) % n;
            let gen = &mut self.generators[i];
            if gen.is_exhausted() {
                continue;
            }
            let filled = gen.fill(&mut self.fields, &mut self.columns, self.batch_size, max_events);
            let batch = if self.columns.is_empty() {
                None
            } else {
                Some(self.columns.finish(schema, self.batch_size)?)
            };
            return Ok(Some(Step {
                split: gen.index(),
                batch,
                events: filled.events,
                exhausted: gen.is_exhausted(),
            }));
        }
        Ok(None)
    }
}

/// Caps the emission rate against the wall clock.
#[derive(Debug)]
struct Throttle {
    clock: Arc<dyn Clock>,
    per_second: u64,
    start_ms: Option<i64>,
    consumed: u64,
}

impl Throttle {
    /// Events that may be consumed now.
    fn budget(&mut self) -> u64 {
        let now = self.clock.now_ms();
        let start = *self.start_ms.get_or_insert(now);
        let elapsed = (now - start).max(0) as u128;
        let burst = (self.per_second / 200).max(1) as u128;
        let allowed = self.per_second as u128 * elapsed / 1000 + burst;
        (allowed.saturating_sub(self.consumed as u128)).min(u64::MAX as u128) as u64
    }
}

/// The Nexmark generator as a source. See the [module docs](super) for the event model.
pub struct NexmarkSource {
    config: NexmarkConfig,
    schema: SchemaRef,
    owned: Option<OwnedGenerators>,
    throttle: Option<Throttle>,
    finished_splits: VecDeque<u32>,
}

impl NexmarkSource {
    /// A source for `config` (validated here).
    pub fn new(config: NexmarkConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            schema: table_schema(config.table),
            config,
            owned: None,
            throttle: None,
            finished_splits: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    fn restored_positions(&self, items: &[serde_json::Value]) -> Result<Vec<GeneratorPosition>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let pos: GeneratorPosition = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("nexmark: unreadable restored position {item}: {e}")))?;
            if pos.of != self.config.generators || pos.generator >= pos.of {
                return Err(Error::Config(format!(
                    "nexmark: the restored state is generator {} of {}, but 'generators' is {}; \
                     the number of generators cannot change across a restore",
                    pos.generator, pos.of, self.config.generators
                )));
            }
            out.push(pos);
        }
        out.sort_by_key(|p| p.generator);
        out.dedup_by_key(|p| p.generator);
        Ok(out)
    }
}

impl Source for NexmarkSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        let generators: Vec<LogicalGenerator> = if ctx.restored.is_empty() {
            let (i, p) = (ctx.info.subtask.0, ctx.info.parallelism.max(1));
            (0..self.config.generators)
                .filter(|k| k % p == i)
                .map(|k| LogicalGenerator::new(&self.config, k, 0))
                .collect()
        } else {
            self.restored_positions(&ctx.restored)?
                .into_iter()
                .map(|pos| LogicalGenerator::new(&self.config, pos.generator, pos.emitted))
                .collect()
        };
        let splits: Vec<u32> = generators.iter().map(LogicalGenerator::index).collect();
        self.finished_splits = generators
            .iter()
            .filter(|g| g.is_exhausted())
            .map(LogicalGenerator::index)
            .collect();
        tracing::debug!(
            subtask = ctx.info.subtask.0,
            generators = ?splits,
            restored = !ctx.restored.is_empty(),
            "nexmark source opened"
        );
        self.throttle = self.config.max_events_per_second.map(|total| Throttle {
            clock: ctx.clock.clone(),
            per_second: (total * splits.len() as u64 / self.config.generators as u64).max(1),
            start_ms: None,
            consumed: 0,
        });
        self.owned = Some(OwnedGenerators::new(&self.config, generators, ctx.batch_size.max(1)));
        Ok(splits)
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        if let Some(split) = self.finished_splits.pop_front() {
            return Ok(SourcePoll::SplitFinished(split));
        }
        let owned = self
            .owned
            .as_mut()
            .ok_or_else(|| Error::Internal("nexmark source polled before open".into()))?;
        if owned.all_exhausted() {
            return Ok(SourcePoll::Finished);
        }
        let budget = match self.throttle.as_mut() {
            Some(t) => t.budget(),
            None => u64::MAX,
        };
        if budget == 0 {
            return Ok(SourcePoll::Pending);
        }
        let Some(step) = owned.step(&self.schema, budget)? else {
            return Ok(SourcePoll::Finished);
        };
        if let Some(t) = self.throttle.as_mut() {
            t.consumed += step.events;
        }
        if step.exhausted {
            self.finished_splits.push_back(step.split);
        }
        match step.batch {
            Some(batch) => Ok(SourcePoll::Batch {
                split: step.split,
                batch,
            }),
            None => match self.finished_splits.pop_front() {
                Some(split) => Ok(SourcePoll::SplitFinished(split)),
                // The throttle's budget ended before a row of this table came up.
                None => Ok(SourcePoll::Pending),
            },
        }
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        let Some(owned) = self.owned.as_ref() else {
            return Ok(Vec::new());
        };
        owned
            .generators
            .iter()
            .map(|g| serde_json::to_value(g.position()).map_err(Error::from))
            .collect()
    }
}

/// What [`generate`] produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Events consumed (of every kind).
    pub events: u64,
    /// Rows emitted (only the table's kind).
    pub rows: u64,
    /// Batches emitted.
    pub batches: u64,
}

/// Generates the whole bounded stream of `config` (`events` must be set) as one subtask owning
/// every generator, handing each batch of up to `batch_size` rows to `on_batch`. Ignores the
/// throttle. This is the generator's cost without an engine, for benchmarks.
pub fn generate(
    config: &NexmarkConfig,
    batch_size: usize,
    mut on_batch: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<GenerateSummary> {
    config.validate()?;
    if config.events.is_none() {
        return Err(Error::Config("nexmark: generate needs a bounded 'events'".into()));
    }
    let schema = table_schema(config.table);
    let generators = (0..config.generators)
        .map(|k| LogicalGenerator::new(config, k, 0))
        .collect();
    let mut owned = OwnedGenerators::new(config, generators, batch_size.max(1));
    let mut summary = GenerateSummary::default();
    while let Some(step) = owned.step(&schema, u64::MAX)? {
        summary.events += step.events;
        if let Some(batch) = step.batch {
            summary.rows += batch.num_rows() as u64;
            summary.batches += 1;
            on_batch(batch)?;
        }
    }
    Ok(summary)
}

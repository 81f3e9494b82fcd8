//! `Rank`: deduplication and Top-N, a filter on `ROW_NUMBER() OVER (PARTITION BY k ORDER BY c)`.
//!
//! The operator is keyed by the partition columns and keeps per partition a [`Partition`] (a
//! [`ValueState`]): the rows ranked so far, best first, as encoded bytes. Over an append-only
//! input it keeps only the top `N`; over a changelog input (`-U`/`-D` retract) every row. The
//! result is the rows ranked `first..=N` (`first` is 1 unless the filter has a lower bound). Its
//! output columns are the input's then the row number (the plan's type).
//!
//! Modes:
//! - updating (Top-N, keep-last deduplication): after each batch, the top `N` of every partition
//!   the batch touched is compared with the top `N` before it, and the difference is emitted as
//!   a changelog (see [`ranking::rank_changes`]): rank by rank (`-U`/`+U` when a rank's row
//!   changes) if the row number is selected or `N = 1`, else only rows entering (`+I`) and
//!   leaving (`-D`);
//! - append-only (keep-first deduplication on processing time): only `+I` can happen, and the
//!   output has no row-kind column;
//! - per window (window Top-N): rows are only ranked; when the watermark passes the window's
//!   end (an event-time timer at `window_end - 1`), the final top `N` is emitted (`+I`, no row
//!   kind) and the partition cleared. Rows of a window whose end the watermark has passed are
//!   dropped as late.
//!
//! With a state TTL (`table.exec.state.ttl`), a partition not written for that long expires and
//! starts afresh.

pub mod codec;
pub mod ranking;

use crate::ops::changelog::RowKind;
use arrow::array::{Array, ArrayRef, Int64Array, Int8Array};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use codec::RowCodec;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, ValueState};
use freshet_dataflow::{Collector, Operator, OperatorContext, TimeDomain, Timer};
use freshet_state::ttl::TtlConfig;
use ranking::{rank_changes, Change, Entry, Partition, TieBreak};
use std::collections::HashMap;
use std::sync::Arc;

/// When the operator emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankEmit {
    /// A changelog after every batch.
    Updating,
    /// Inserts only, after every batch (nothing else can happen: keep-first on arrival).
    AppendOnly,
    /// The final top `N` of a window when the watermark passes its end; the input column
    /// holds the window end.
    PerWindow {
        /// The input column of `window_end`.
        window_end: usize,
    },
}

/// What the operator is built from.
#[derive(Clone, Debug)]
pub struct RankConfig {
    /// The partition columns of the input.
    pub key_columns: Vec<String>,
    /// The ORDER BY: input column and direction (empty: arrival order only).
    pub order: Vec<(usize, SortOptions)>,
    /// How equal sort keys are ranked.
    pub tie: TieBreak,
    /// The first rank of the result (1 unless the filter has a lower bound).
    pub first: usize,
    /// `N`: the last rank of the result.
    pub limit: usize,
    /// Whether the row number is part of the output (ranks shifting are then updates).
    pub number_selected: bool,
    /// When to emit.
    pub emit: RankEmit,
    /// Whether the input is a changelog (its last column is the row kind).
    pub input_changelog: bool,
    /// The input schema (with the row-kind column of a changelog).
    pub input_schema: SchemaRef,
    /// The number of input columns (without the row kind).
    pub input_columns: usize,
    /// The output schema: the input columns, the row number, the row kind if updating.
    pub output_schema: SchemaRef,
    /// Time-to-live of a partition's state (`table.exec.state.ttl`).
    pub ttl: Option<TtlConfig>,
}

/// The rank operator.
pub struct RankOperator {
    config: Arc<RankConfig>,
    keys: Option<KeyEncoder>,
    codec: Option<RowCodec>,
    partitions: Option<ValueState<Partition>>,
}

/// One emitted row: its encoded input columns, its rank, its kind.
type OutRow = (Vec<u8>, u64, RowKind);

impl RankOperator {
    /// An operator for `config`.
    pub fn new(config: Arc<RankConfig>) -> Self {
        Self {
            config,
            keys: None,
            codec: None,
            partitions: None,
        }
    }

    /// How many rows a partition keeps: the top `N`, or all over a changelog.
    fn keep(&self) -> Option<usize> {
        (!self.config.input_changelog).then_some(self.config.limit)
    }

    /// Whether changes are emitted rank by rank: with the row number, and for a Top-1 (a
    /// deduplication), whose partition key identifies the row (`-U`/`+U` when it changes).
    fn by_rank(&self) -> bool {
        self.config.number_selected || self.config.limit == 1
    }

    /// The ranked rows of `partition` that are the result, and the rank of the first of them.
    fn result<'p>(&self, partition: &'p Partition) -> (&'p [Entry], u64) {
        let top = partition.top(self.config.limit);
        let skip = self.config.first.saturating_sub(1);
        (top.get(skip..).unwrap_or_default(), skip as u64)
    }

    fn number_type(&self) -> DataType {
        self.config
            .output_schema
            .fields()
            .get(self.config.input_columns)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Int64)
    }

    fn output(&self, rows: &[OutRow]) -> Result<RecordBatch> {
        let codec = self.codec.as_ref().ok_or_else(not_open)?;
        let mut columns = codec.decode(rows.iter().map(|(p, n, _)| (p.as_slice(), *n)), &self.number_type())?;
        if self.config.emit == RankEmit::Updating {
            columns.push(Arc::new(Int8Array::from_iter_values(
                rows.iter().map(|(_, _, kind)| *kind as i8),
            )));
        } else if let Some((_, _, kind)) = rows.iter().find(|(_, _, k)| *k != RowKind::Insert) {
            return Err(Error::Internal(format!(
                "rank: an append-only rank produced {}",
                kind.short()
            )));
        }
        Ok(RecordBatch::try_new(self.config.output_schema.clone(), columns)?)
    }
}

fn not_open() -> Error {
    Error::Internal("rank operator used before open".into())
}

/// The window-end timer of row `row` in per-window mode (`window_end - 1`, when the window
/// aggregation emitting it fires), or `None` if the watermark has passed it (the row is late)
/// or it has no window end.
fn window_timer(ends: &Int64Array, row: usize, watermark: i64) -> Option<i64> {
    let time = ends.is_valid(row).then(|| ends.value(row).saturating_sub(1))?;
    (time > watermark).then_some(time)
}

/// The `window_end` column of `batch` in milliseconds.
fn window_ends(batch: &RecordBatch, column: usize) -> Result<Int64Array> {
    let array = batch
        .columns()
        .get(column)
        .ok_or_else(|| Error::Internal(format!("rank: no window end column {column}")))?;
    let millis = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    let raw: ArrayRef = arrow::compute::cast(&millis, &DataType::Int64)?;
    raw.as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| Error::Internal("rank: window end is not a timestamp".into()))
}

fn change_kind(change: Change) -> RowKind {
    match change {
        Change::Insert => RowKind::Insert,
        Change::Delete => RowKind::Delete,
        Change::UpdateBefore => RowKind::UpdateBefore,
        Change::UpdateAfter => RowKind::UpdateAfter,
    }
}

impl Operator for RankOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        let config = &self.config;
        self.keys = Some(KeyEncoder::new(
            &config.input_schema,
            &config.key_columns,
            ctx.info().max_parallelism,
        )?);
        self.codec = Some(RowCodec::new(
            &config.input_schema,
            config.input_columns,
            &config.order,
        )?);
        let ttl = match config.emit {
            RankEmit::PerWindow { .. } => None,
            _ => config.ttl,
        };
        self.partitions = Some(ValueState::register(ctx, "rank", ttl)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let (Some(keys), Some(codec), Some(partitions)) = (&self.keys, &self.codec, self.partitions.clone()) else {
            return Err(not_open());
        };
        let keys = keys.encode(&batch)?;
        let encoded = codec.encode(&batch)?;
        let kinds = if self.config.input_changelog {
            let last = batch.num_columns().saturating_sub(1);
            Some(
                batch
                    .column(last)
                    .as_any()
                    .downcast_ref::<Int8Array>()
                    .ok_or_else(|| Error::Internal("rank: the row kind is not Int8".into()))?
                    .clone(),
            )
        } else {
            None
        };
        // The rows of each partition, partitions in order of first appearance.
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut grouped: Vec<Vec<usize>> = Vec::new();
        for row in 0..batch.num_rows() {
            let g = *index.entry(keys.rows.row(row).data()).or_insert_with(|| {
                grouped.push(Vec::new());
                grouped.len() - 1
            });
            grouped[g].push(row);
        }
        let ends = match self.config.emit {
            RankEmit::PerWindow { window_end } => Some(window_ends(&batch, window_end)?),
            _ => None,
        };
        let mut emitted: Vec<OutRow> = Vec::new();
        for rows in grouped {
            let first = rows[0];
            let scope = KeyScope {
                key_group: keys.key_groups[first],
                key: keys.rows.row(first).data(),
                namespace: &[],
            };
            let timer = match &ends {
                Some(ends) => match window_timer(ends, first, ctx.current_watermark()) {
                    Some(time) => Some(time),
                    None => {
                        ctx.count_late_dropped(rows.len() as u64);
                        continue;
                    }
                },
                None => None,
            };
            let mut partition = partitions.get(ctx, scope)?.unwrap_or_default();
            let (before, base) = self.result(&partition);
            let before = before.to_vec();
            for &row in &rows {
                let (payload, sort) = &encoded[row];
                let addition = match &kinds {
                    Some(k) => RowKind::from_i8(k.value(row))
                        .ok_or_else(|| Error::Internal(format!("unknown row kind {}", k.value(row))))?
                        .is_addition(),
                    None => true,
                };
                if addition {
                    partition.insert(sort.clone(), payload.clone(), self.config.tie, self.keep());
                } else {
                    partition.retract(payload);
                }
            }
            if let Some(time) = timer {
                ctx.register_timer(TimeDomain::EventTime, time, scope.key_group, scope.key, &[])?;
            } else {
                let (after, _) = self.result(&partition);
                for (entry, rank, change) in rank_changes(&before, after, self.by_rank()) {
                    emitted.push((entry.row.clone(), base + rank, change_kind(change)));
                }
            }
            if partition.entries.is_empty() {
                partitions.clear(ctx, scope)?;
            } else {
                partitions.set(ctx, scope, &partition)?;
            }
        }
        if !emitted.is_empty() {
            out.emit(self.output(&emitted)?);
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        let Some(partitions) = self.partitions.clone() else {
            return Err(not_open());
        };
        if timer.domain != TimeDomain::EventTime {
            return Ok(());
        }
        let scope = KeyScope {
            key_group: timer.key_group,
            key: &timer.key,
            namespace: &timer.namespace,
        };
        let Some(partition) = partitions.get(ctx, scope)? else {
            return Ok(());
        };
        partitions.clear(ctx, scope)?;
        let (result, base) = self.result(&partition);
        let rows: Vec<OutRow> = result
            .iter()
            .enumerate()
            .map(|(r, e)| (e.row.clone(), base + r as u64 + 1, RowKind::Insert))
            .collect();
        if !rows.is_empty() {
            out.emit(self.output(&rows)?);
        }
        Ok(())
    }
}

//! The keyed window operator: assigns records to windows, keeps one accumulator per (key,
//! window) in keyed state, and emits a row per window when it fires.
//!
//! Semantics (Flink's `WindowOperator` with the default triggers):
//! - time windows fire when the watermark (event time) or the clock (processing time) reaches
//!   `window.end - 1`, through one timer per (key, window) registered when its state is created;
//! - event-time state is kept until the watermark reaches `window.end - 1 + allowed_lateness`
//!   (a second, cleanup timer when the lateness is positive); a record arriving for a window that
//!   already fired but is within the lateness updates it and immediately emits the updated row
//!   (one row per such record and window);
//! - a record all of whose windows are past their lateness goes to the `late_output` side output
//!   if configured, else is dropped and counted (`count_late_dropped`); never silently;
//! - session windows merge per key (see [`super::merging`]); count windows fire per key every
//!   `slide` records (see [`super::counting`]).
//!
//! Batches are processed vectorized for aligned windows (tumbling, sliding, cumulate): keys are
//! encoded once, records pre-aggregated per (key, window) in a local map, and state is read and
//! written once per distinct (key, window) per batch. Rows fired by one watermark are emitted as
//! one batch (buffered in `on_timer`, flushed in `on_watermark`).

use super::accumulator::{Acc, Aggregates};
use super::assigner::WindowAssigner;
use super::config::WindowConfig;
use super::rows::WindowRows;
use super::time_window::TimeWindow;
use super::{aligned, counting, merging};
use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use crate::timers::{TimeDomain, Timer};
use arrow::array::{Array, AsArray, UInt32Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use freshet_core::keys::{EncodedKeys, KeyEncoder};
use freshet_core::{CheckpointId, Error, Result, DEFAULT_MAX_PARALLELISM, WATERMARK_MAX};
use freshet_state::StateId;
use hashbrown::HashMap;
use std::sync::atomic::Ordering;

/// Keyed state names of the window operator.
const ACC_STATE: &str = "window-accumulators";
const SESSIONS_STATE: &str = "window-sessions";
const COUNT_STATE: &str = "window-count";
const COUNT_BUFFER_STATE: &str = "window-count-buffer";

/// The registered states of the window operator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowStates {
    /// Accumulators per (key, window).
    pub(crate) acc: StateId,
    /// Session windows per key.
    pub(crate) sessions: StateId,
    /// Count-window progress per key.
    pub(crate) count: StateId,
    /// Per-record accumulators of sliding count windows (map state, user key = sequence number).
    pub(crate) count_buffer: StateId,
}

/// The timestamps of a batch's records.
pub(crate) enum TimeValues<'a> {
    /// Event time from a column.
    Column(&'a [i64]),
    /// One processing time for the whole batch.
    Constant(i64),
}

impl TimeValues<'_> {
    /// The timestamp of `row`.
    #[inline]
    pub(crate) fn get(&self, row: usize) -> i64 {
        match self {
            TimeValues::Column(values) => values.get(row).copied().unwrap_or(i64::MIN),
            TimeValues::Constant(t) => *t,
        }
    }
}

/// The rows of a batch grouped by key: keys in order of first appearance, rows in input order.
pub(crate) struct RowsByKey {
    /// `(first row of the key, rows of the key)`.
    pub(crate) groups: Vec<(usize, Vec<u32>)>,
}

impl RowsByKey {
    /// Groups the rows of `keys`.
    pub(crate) fn new(keys: &EncodedKeys) -> Self {
        let n = keys.rows.num_rows();
        let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(n.min(1024));
        let mut groups: Vec<(usize, Vec<u32>)> = Vec::new();
        for row in 0..n {
            let next = groups.len();
            let g = *index.entry(keys.rows.row(row).data()).or_insert(next);
            if g == next {
                groups.push((row, Vec::new()));
            }
            groups[g].1.push(row as u32);
        }
        Self { groups }
    }
}

/// The keyed window operator. See the module documentation for its semantics.
pub struct WindowOperator {
    pub(crate) config: WindowConfig,
    pub(crate) input_schema: SchemaRef,
    pub(crate) output_schema: SchemaRef,
    pub(crate) aggs: Aggregates,
    pub(crate) time_column: Option<usize>,
    pub(crate) key_encoder: KeyEncoder,
    encoder_max_parallelism: u32,
    states: Option<WindowStates>,
    pub(crate) rows: WindowRows,
    /// Reused accumulators for firing windows.
    scratch: Vec<Acc>,
}

impl std::fmt::Debug for WindowOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowOperator").field("config", &self.config).finish()
    }
}

impl WindowOperator {
    /// A window operator over records of `input_schema`. Checks the configuration against the
    /// schema and computes the output schema; errors name the offending option.
    pub fn new(config: WindowConfig, input_schema: SchemaRef) -> Result<Self> {
        config.validate()?;
        let time_column = config.time_column(&input_schema)?;
        let key_encoder = KeyEncoder::new(&input_schema, &config.key_columns, DEFAULT_MAX_PARALLELISM)
            .map_err(|e| Error::Config(format!("window option 'key_columns': {e}")))?;
        let aggs = Aggregates::resolve(&config.aggregates, &input_schema)?;
        let output_schema = config.build_output_schema(&input_schema, aggs.fields())?;
        let rows = WindowRows::new(&aggs);
        Ok(Self {
            config,
            input_schema,
            output_schema,
            aggs,
            time_column,
            key_encoder,
            encoder_max_parallelism: DEFAULT_MAX_PARALLELISM,
            states: None,
            rows,
            scratch: Vec::new(),
        })
    }

    /// The schema of the emitted rows: key columns, `window_start`, `window_end`, aggregates.
    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// The schema of the late-record side output (the input schema).
    pub fn late_output_schema(&self) -> SchemaRef {
        self.input_schema.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    /// Registers the states and matches the key encoder to the job's key groups.
    fn prepare(&mut self, ctx: &mut OperatorContext) -> Result<WindowStates> {
        let max_parallelism = ctx.info().max_parallelism;
        if max_parallelism != self.encoder_max_parallelism {
            self.key_encoder = KeyEncoder::new(&self.input_schema, &self.config.key_columns, max_parallelism)?;
            self.encoder_max_parallelism = max_parallelism;
        }
        if let Some(states) = self.states {
            return Ok(states);
        }
        let backend = ctx.state()?;
        let states = WindowStates {
            acc: backend.register_state(ACC_STATE)?,
            sessions: backend.register_state(SESSIONS_STATE)?,
            count: backend.register_state(COUNT_STATE)?,
            count_buffer: backend.register_state(COUNT_BUFFER_STATE)?,
        };
        self.states = Some(states);
        Ok(states)
    }

    /// Whether windows follow event time.
    pub(crate) fn is_event_time(&self) -> bool {
        self.time_column.is_some()
    }

    /// The timer domain of the windows.
    pub(crate) fn domain(&self) -> TimeDomain {
        if self.is_event_time() {
            TimeDomain::EventTime
        } else {
            TimeDomain::ProcessingTime
        }
    }

    /// When a window's state is dropped: `end - 1 + allowed lateness` (event time), `end - 1`
    /// (processing time).
    pub(crate) fn cleanup_time(&self, w: &TimeWindow) -> i64 {
        if self.is_event_time() {
            w.max_timestamp().saturating_add(self.config.allowed_lateness_ms)
        } else {
            w.max_timestamp()
        }
    }

    /// Whether a window is past its lateness at watermark `wm` (never, in processing time).
    pub(crate) fn is_late(&self, w: &TimeWindow, wm: i64) -> bool {
        self.is_event_time() && self.cleanup_time(w) <= wm
    }

    /// The timestamps of `batch`: the event-time column, or the clock for processing time.
    pub(crate) fn time_values<'a>(&self, batch: &'a RecordBatch, ctx: &OperatorContext) -> Result<TimeValues<'a>> {
        let Some(idx) = self.time_column else {
            return Ok(TimeValues::Constant(ctx.now_ms()));
        };
        let col = batch.column(idx);
        if col.null_count() > 0 {
            let row = (0..col.len()).find(|&r| col.is_null(r)).unwrap_or(0);
            return Err(Error::UserFunction(format!(
                "window operator: the event-time column '{}' is null in row {row}; every record needs a timestamp",
                self.input_schema.field(idx).name()
            )));
        }
        let values = match col.data_type() {
            DataType::Int64 => col.as_primitive_opt::<Int64Type>().map(|a| a.values().as_ref()),
            _ => col
                .as_primitive_opt::<TimestampMillisecondType>()
                .map(|a| a.values().as_ref()),
        };
        values
            .map(TimeValues::Column)
            .ok_or_else(|| Error::Internal(format!("window time column has type {}", col.data_type())))
    }

    /// Routes records that are too late for all their windows: to the side output, or counted.
    pub(crate) fn emit_late(
        &self,
        batch: &RecordBatch,
        late_rows: Vec<u32>,
        ctx: &OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if late_rows.is_empty() {
            return Ok(());
        }
        let n = late_rows.len() as u64;
        match &self.config.late_output {
            Some(tag) => {
                let late = arrow::compute::take_record_batch(batch, &UInt32Array::from(late_rows))?;
                out.emit_side(tag, late);
                ctx.counters().late_records_side_output.fetch_add(n, Ordering::Relaxed);
            }
            None => ctx.count_late_dropped(n),
        }
        Ok(())
    }

    /// Fires or cleans up the window of `timer`: its result row is buffered if the timer is the
    /// window's firing time, its state is dropped if it is the cleanup time.
    fn fire_timer(&mut self, states: WindowStates, timer: Timer, ctx: &mut OperatorContext) -> Result<()> {
        let window = TimeWindow::decode(&timer.namespace)?;
        let ns = timer.namespace.as_slice();
        let fire = timer.domain == TimeDomain::ProcessingTime || timer.time == window.max_timestamp();
        let cleanup = timer.time == self.cleanup_time(&window);
        let backend = ctx.state()?;
        if fire {
            if let Some(bytes) = backend.get(states.acc, timer.key_group, &timer.key, ns)? {
                self.aggs.decode_into(&bytes, &mut self.scratch)?;
                self.rows.push(
                    &self.aggs,
                    &timer.key,
                    Some(window.start),
                    Some(window.end),
                    &self.scratch,
                )?;
            }
        }
        if cleanup {
            backend.delete(states.acc, timer.key_group, &timer.key, ns)?;
            if self.config.assigner.is_merging() {
                merging::retire_session(states, backend, timer.key_group, &timer.key, window)?;
            }
        }
        Ok(())
    }

    /// Emits the buffered rows as one batch.
    pub(crate) fn flush(&mut self, out: &mut Collector) -> Result<()> {
        if let Some(batch) = self.rows.take_batch(&self.key_encoder, &self.output_schema)? {
            out.emit(batch);
        }
        Ok(())
    }
}

impl Operator for WindowOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.prepare(ctx).map(|_| ())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let states = self.prepare(ctx)?;
        self.flush(out)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match self.config.assigner {
            WindowAssigner::Count(count) => counting::process(self, states, count, &batch, ctx, out),
            WindowAssigner::Session(session) => merging::process(self, states, session, &batch, ctx, out),
            _ => aligned::process(self, states, &batch, ctx, out),
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        let states = self.prepare(ctx)?;
        let domain = timer.domain;
        self.fire_timer(states, timer, ctx)?;
        if domain == TimeDomain::ProcessingTime {
            // No watermark follows processing-time timers: fire every other timer already due by
            // the clock (all of them at the end of input) here, and emit them as one batch.
            let upto = if ctx.current_watermark() == WATERMARK_MAX {
                i64::MAX
            } else {
                ctx.now_ms()
            };
            while let Some(next) = ctx.pop_due_timer(TimeDomain::ProcessingTime, upto)? {
                self.fire_timer(states, next, ctx)?;
            }
            self.flush(out)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, _watermark: i64, _ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        self.flush(out)
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        if !self.rows.is_empty() {
            return Err(Error::Internal(format!(
                "window operator holds {} unemitted rows at a checkpoint barrier",
                self.rows.len()
            )));
        }
        Ok(Vec::new())
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        self.flush(out)
    }
}

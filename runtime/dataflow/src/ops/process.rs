//! Keyed process functions: user code that sees one typed record at a time with its key, keyed
//! state ([`crate::state`]), event- and processing-time timers, and side outputs.

use crate::collector::Collector;
use crate::context::OperatorContext;
use crate::operator::Operator;
use crate::state::KeyScope;
use crate::timers::{TimeDomain, Timer};
use crate::typed::{records, to_batch};
use arrow::array::{Array, Int64Array, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, KeyGroup, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a process function can do besides emitting records.
pub struct ProcessContext<'a> {
    /// The operator context (state, clock, watermark).
    pub op: &'a mut OperatorContext,
    key_group: KeyGroup,
    key: &'a [u8],
    timestamp: Option<i64>,
    side: &'a mut Vec<(String, serde_json::Value)>,
}

impl<'a> ProcessContext<'a> {
    /// The current key's state scope (for [`crate::state`] handles).
    pub fn scope(&self) -> KeyScope<'a> {
        KeyScope {
            key_group: self.key_group,
            key: self.key,
            namespace: &[],
        }
    }

    /// The current record's event time (or the firing timer's time), if known.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> i64 {
        self.op.current_watermark()
    }

    /// Processing time now.
    pub fn now_ms(&self) -> i64 {
        self.op.now_ms()
    }

    /// Registers an event-time timer for the current key.
    pub fn register_event_timer(&mut self, time: i64) -> Result<()> {
        self.op
            .register_timer(TimeDomain::EventTime, time, self.key_group, self.key, &[])
    }

    /// Registers a processing-time timer for the current key.
    pub fn register_processing_timer(&mut self, time: i64) -> Result<()> {
        self.op
            .register_timer(TimeDomain::ProcessingTime, time, self.key_group, self.key, &[])
    }

    /// Emits `value` on the side output `tag` (declared when the function was added).
    pub fn emit_side<T: Serialize>(&mut self, tag: &str, value: &T) -> Result<()> {
        let json = serde_json::to_value(value)?;
        self.side.push((tag.to_string(), json));
        Ok(())
    }
}

/// A function applied per record of a keyed stream.
pub trait KeyedProcessFunction: Send + 'static {
    /// Input record type.
    type In: DeserializeOwned + Send;
    /// Output record type.
    type Out: Serialize + Send;

    /// Called once before any record; register state here.
    fn open(&mut self, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }

    /// Processes one record.
    fn process_element(
        &mut self,
        value: Self::In,
        ctx: &mut ProcessContext<'_>,
        out: &mut Vec<Self::Out>,
    ) -> Result<()>;

    /// A timer of the current key fired at `time`.
    fn on_timer(
        &mut self,
        _time: i64,
        _domain: TimeDomain,
        _ctx: &mut ProcessContext<'_>,
        _out: &mut Vec<Self::Out>,
    ) -> Result<()> {
        Ok(())
    }
}

/// Runs a [`KeyedProcessFunction`].
pub struct KeyedProcessOperator<F: KeyedProcessFunction> {
    function: F,
    key_columns: Vec<String>,
    timestamp_column: Option<String>,
    output_schema: SchemaRef,
    side_schemas: BTreeMap<String, SchemaRef>,
    encoder: Option<KeyEncoder>,
    pending: Vec<F::Out>,
    side: Vec<(String, serde_json::Value)>,
}

impl<F: KeyedProcessFunction> KeyedProcessOperator<F> {
    /// Runs `function` keyed by `key_columns`; `timestamp_column` gives records their event time.
    pub fn new(
        function: F,
        key_columns: Vec<String>,
        timestamp_column: Option<String>,
        output_schema: SchemaRef,
        side_schemas: BTreeMap<String, SchemaRef>,
    ) -> Self {
        Self {
            function,
            key_columns,
            timestamp_column,
            output_schema,
            side_schemas,
            encoder: None,
            pending: Vec::new(),
            side: Vec::new(),
        }
    }

    fn flush(&mut self, out: &mut Collector) -> Result<()> {
        if !self.pending.is_empty() {
            out.emit(to_batch(&self.output_schema, &self.pending)?);
            self.pending.clear();
        }
        if !self.side.is_empty() {
            let mut by_tag: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
            for (tag, v) in self.side.drain(..) {
                by_tag.entry(tag).or_default().push(v);
            }
            for (tag, values) in by_tag {
                let schema = self
                    .side_schemas
                    .get(&tag)
                    .ok_or_else(|| Error::Config(format!("side output '{tag}' was not declared")))?;
                out.emit_side(&tag, to_batch(schema, &values)?);
            }
        }
        Ok(())
    }
}

fn timestamps(batch: &RecordBatch, column: &str) -> Option<Vec<Option<i64>>> {
    let col = batch.column_by_name(column)?;
    if let Some(a) = col.as_any().downcast_ref::<TimestampMillisecondArray>() {
        return Some(a.iter().collect());
    }
    col.as_any().downcast_ref::<Int64Array>().map(|a| a.iter().collect())
}

impl<F: KeyedProcessFunction> Operator for KeyedProcessOperator<F> {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.function.open(ctx)
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        if self.encoder.is_none() {
            self.encoder = Some(KeyEncoder::new(
                &batch.schema(),
                &self.key_columns,
                ctx.info().max_parallelism,
            )?);
        }
        let keys = match &self.encoder {
            Some(e) => e.encode(&batch)?,
            None => return Err(Error::Internal("key encoder missing".into())),
        };
        let times = self.timestamp_column.as_deref().and_then(|c| timestamps(&batch, c));
        let values: Vec<F::In> = records(&batch)?;
        for (i, value) in values.into_iter().enumerate() {
            let row = keys.rows.row(i);
            let mut pctx = ProcessContext {
                op: ctx,
                key_group: keys.key_groups[i],
                key: row.as_ref(),
                timestamp: times.as_ref().and_then(|t| t[i]),
                side: &mut self.side,
            };
            self.function.process_element(value, &mut pctx, &mut self.pending)?;
        }
        self.flush(out)
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        let mut pctx = ProcessContext {
            op: ctx,
            key_group: timer.key_group,
            key: &timer.key,
            timestamp: Some(timer.time),
            side: &mut self.side,
        };
        self.function
            .on_timer(timer.time, timer.domain, &mut pctx, &mut self.pending)?;
        self.flush(out)
    }
}

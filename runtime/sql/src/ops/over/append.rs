//! The append-only OVER operator: input ordered by a time attribute, one output row per input
//! row, once its frame is complete.

use super::aggregate::{self, Acc, Args, Results};
use super::codec::RowCodec;
use super::frame::Frame;
use super::{output_batch, OverConfig, OverOrder};
use arrow::array::{Array, Int64Array};
use arrow::record_batch::RecordBatch;
use freshet_core::keys::KeyEncoder;
use freshet_core::{Error, Result};
use freshet_dataflow::state::{KeyScope, MapState, ValueState};
use freshet_dataflow::{Collector, Operator, OperatorContext, TimeDomain, Timer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// A row waiting for the watermark: its encoded columns and its aggregate arguments.
type Pending = (Vec<u8>, Args);

/// What a partition's frame needs of the rows already processed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct FrameState {
    /// Bounded frames: the latest rows (time, arguments), oldest first.
    retained: Vec<(i64, Args)>,
    /// Unbounded frames: the running accumulators.
    accs: Vec<Acc>,
}

/// Processes one peer group (rows of one time, in processing order) against `state`, returning
/// each row's results.
pub(super) fn advance(config: &OverConfig, state: &mut FrameState, time: i64, rows: &[&Args]) -> Vec<Results> {
    let specs = &config.aggregates;
    if state.accs.len() != specs.len() {
        state.accs = aggregate::new_accs(specs);
    }
    match config.frame {
        Frame::Rows(n) => {
            let keep = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1);
            rows.iter()
                .map(|args| {
                    state.retained.push((time, (*args).clone()));
                    let excess = state.retained.len().saturating_sub(keep);
                    state.retained.drain(..excess);
                    aggregate::evaluate(specs, state.retained.iter().map(|(_, a)| a))
                })
                .collect()
        }
        Frame::RowsUnbounded => rows
            .iter()
            .map(|args| {
                aggregate::add_row(specs, &mut state.accs, args);
                aggregate::results(specs, &state.accs)
            })
            .collect(),
        Frame::RangeUnbounded => {
            for args in rows {
                aggregate::add_row(specs, &mut state.accs, args);
            }
            vec![aggregate::results(specs, &state.accs); rows.len()]
        }
        Frame::Range(x) => {
            state.retained.extend(rows.iter().map(|a| (time, (*a).clone())));
            let low = time.saturating_sub(x);
            state.retained.retain(|(t, _)| *t >= low);
            let result = aggregate::evaluate(specs, state.retained.iter().map(|(_, a)| a));
            vec![result; rows.len()]
        }
    }
}

/// The append-only OVER operator (see the module documentation of [`super`]).
pub struct AppendOverOperator {
    config: Arc<OverConfig>,
    encoder: Option<KeyEncoder>,
    codec: Option<RowCodec>,
    pending: Option<MapState<i64, Vec<Pending>>>,
    frames: Option<ValueState<FrameState>>,
    /// Results computed by timers, emitted at the watermark.
    buffered: Vec<(Vec<u8>, Results)>,
}

impl AppendOverOperator {
    /// An operator for `config` (whose order is event or processing time).
    pub fn new(config: Arc<OverConfig>) -> Self {
        Self {
            config,
            encoder: None,
            codec: None,
            pending: None,
            frames: None,
            buffered: Vec::new(),
        }
    }

    fn flush(&mut self, out: &mut Collector) -> Result<()> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let codec = self.codec.as_ref().ok_or_else(not_open)?;
        let rows = std::mem::take(&mut self.buffered);
        out.emit(output_batch(&self.config, codec, &rows, None)?);
        Ok(())
    }

    /// Processes `rows` (in order, all of time `time`) of the partition `scope`.
    fn process(&mut self, ctx: &mut OperatorContext, scope: KeyScope<'_>, time: i64, rows: Vec<Pending>) -> Result<()> {
        let frames = self.frames.as_ref().ok_or_else(not_open)?;
        let mut state = frames.get(ctx, scope)?.unwrap_or_default();
        let args: Vec<&Args> = rows.iter().map(|(_, a)| a).collect();
        let results = advance(&self.config, &mut state, time, &args);
        frames.set(ctx, scope, &state)?;
        self.buffered.extend(rows.into_iter().map(|(row, _)| row).zip(results));
        Ok(())
    }
}

fn not_open() -> Error {
    Error::Internal("over aggregate used before open".into())
}

impl Operator for AppendOverOperator {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.encoder = Some(KeyEncoder::new(
            &self.config.input_schema,
            &self.config.key_columns,
            ctx.info().max_parallelism,
        )?);
        self.codec = Some(self.config.row_codec()?);
        // Waiting rows must outlive any TTL: they are processed when the watermark passes.
        self.pending = Some(MapState::register(ctx, "over-pending", None)?);
        self.frames = Some(ValueState::register(ctx, "over-frame", self.config.ttl)?);
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Collector,
    ) -> Result<()> {
        let (Some(encoder), Some(codec)) = (&self.encoder, &self.codec) else {
            return Err(not_open());
        };
        let keys = encoder.encode(&batch)?;
        let rows = codec.encode(&batch)?;
        let mut args = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            args.push(aggregate::row_args(&self.config.aggregates, &batch, row)?);
        }
        match self.config.order {
            OverOrder::EventTime(time_column) => {
                let times = batch
                    .columns()
                    .get(time_column)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .ok_or_else(|| Error::Internal("over aggregate: the time column is not Int64".into()))?;
                let watermark = ctx.current_watermark();
                // Rows per (partition, time), in order of first appearance.
                let mut index: HashMap<(&[u8], i64), usize> = HashMap::new();
                let mut groups: Vec<(usize, i64, Vec<Pending>)> = Vec::new();
                let mut late = 0;
                for (row, (encoded, row_args)) in rows.into_iter().zip(args).enumerate() {
                    if !times.is_valid(row) || times.value(row) <= watermark {
                        late += 1;
                        continue;
                    }
                    let time = times.value(row);
                    let g = *index.entry((keys.rows.row(row).data(), time)).or_insert_with(|| {
                        groups.push((row, time, Vec::new()));
                        groups.len() - 1
                    });
                    groups[g].2.push((encoded, row_args));
                }
                if late > 0 {
                    ctx.count_late_dropped(late);
                }
                let pending = self.pending.as_ref().ok_or_else(not_open)?;
                for (first, time, rows) in groups {
                    let scope = KeyScope {
                        key_group: keys.key_groups[first],
                        key: keys.rows.row(first).data(),
                        namespace: &[],
                    };
                    let mut waiting = pending.get(ctx, scope, &time)?.unwrap_or_default();
                    let new_time = waiting.is_empty();
                    waiting.extend(rows);
                    pending.put(ctx, scope, &time, &waiting)?;
                    if new_time {
                        ctx.register_timer(TimeDomain::EventTime, time, scope.key_group, scope.key, &[])?;
                    }
                }
            }
            _ => {
                // Processing time: the rows of a partition in this batch arrive together.
                let now = ctx.now_ms();
                let mut index: HashMap<&[u8], usize> = HashMap::new();
                let mut groups: Vec<(usize, Vec<Pending>)> = Vec::new();
                for (row, pending) in rows.into_iter().zip(args).enumerate() {
                    let g = *index.entry(keys.rows.row(row).data()).or_insert_with(|| {
                        groups.push((row, Vec::new()));
                        groups.len() - 1
                    });
                    groups[g].1.push(pending);
                }
                for (first, rows) in groups {
                    let scope = KeyScope {
                        key_group: keys.key_groups[first],
                        key: keys.rows.row(first).data(),
                        namespace: &[],
                    };
                    self.process(ctx, scope, now, rows)?;
                }
                self.flush(out)?;
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        if timer.domain != TimeDomain::EventTime {
            return Ok(());
        }
        let scope = KeyScope {
            key_group: timer.key_group,
            key: &timer.key,
            namespace: &timer.namespace,
        };
        let pending = self.pending.clone().ok_or_else(not_open)?;
        let Some(mut rows) = pending.get(ctx, scope, &timer.time)? else {
            return Ok(());
        };
        pending.remove(ctx, scope, &timer.time)?;
        // Peers in the order of their encoded rows: results do not depend on arrival order.
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        self.process(ctx, scope, timer.time, rows)
    }

    fn on_watermark(&mut self, _watermark: i64, _ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        self.flush(out)
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, out: &mut Collector) -> Result<()> {
        self.flush(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::group_aggregate::{Value, ValueType};
    use crate::ops::over::{OverAggKind, OverAggSpec};
    use arrow::datatypes::Schema;

    fn config(frame: Frame) -> OverConfig {
        OverConfig {
            key_columns: Vec::new(),
            aggregates: vec![
                OverAggSpec {
                    kind: OverAggKind::Sum,
                    arg: Some(0),
                    arg_type: ValueType::Int,
                },
                OverAggSpec {
                    kind: OverAggKind::CountStar,
                    arg: None,
                    arg_type: ValueType::Int,
                },
            ],
            frame,
            order: OverOrder::ProcessingTime,
            input_changelog: false,
            input_schema: Arc::new(Schema::empty()),
            output_schema: Arc::new(Schema::empty()),
            ttl: None,
        }
    }

    /// Feeds (time, value) rows one time at a time; returns the (sum, count) of each row.
    fn run(frame: Frame, rows: &[(i64, &[i64])]) -> Vec<(i64, i64)> {
        let config = config(frame);
        let mut state = FrameState::default();
        let mut results = Vec::new();
        for (time, values) in rows {
            let args: Vec<Args> = values.iter().map(|v| vec![Some(Value::Int(*v)), None]).collect();
            let refs: Vec<&Args> = args.iter().collect();
            for r in advance(&config, &mut state, *time, &refs) {
                match (&r[0], &r[1]) {
                    (Some(Value::Int(s)), Some(Value::Int(c))) => results.push((*s, *c)),
                    other => panic!("unexpected results {other:?}"),
                }
            }
        }
        results
    }

    #[test]
    fn rows_frames_keep_the_last_rows() {
        let rows: &[(i64, &[i64])] = &[(1, &[1]), (2, &[2, 4]), (5, &[8]), (9, &[16])];
        assert_eq!(
            run(Frame::Rows(1), rows),
            vec![(1, 1), (3, 2), (6, 2), (12, 2), (24, 2)]
        );
        assert_eq!(
            run(Frame::RowsUnbounded, rows),
            vec![(1, 1), (3, 2), (7, 3), (15, 4), (31, 5)]
        );
    }

    #[test]
    fn range_frames_share_results_among_peers_and_forget_old_rows() {
        let rows: &[(i64, &[i64])] = &[(1, &[1]), (2, &[2, 4]), (5, &[8]), (9, &[16])];
        assert_eq!(
            run(Frame::Range(3), rows),
            vec![(1, 1), (7, 3), (7, 3), (14, 3), (16, 1)]
        );
        assert_eq!(
            run(Frame::RangeUnbounded, rows),
            vec![(1, 1), (7, 3), (7, 3), (15, 4), (31, 5)]
        );
    }
}

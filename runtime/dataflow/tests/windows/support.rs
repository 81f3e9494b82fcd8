//! Shared test support: input batches, running a window operator over a script through the
//! harness, reading its output back as rows, and the script strategy.

use super::reference::{Event, Row, Step};
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_dataflow::window::{AggregateSpec, WindowAssigner, WindowConfig, WindowOperator};
use freshet_dataflow::{Operator, TaskInfo};
use freshet_state::BackendKind;
use proptest::prelude::*;
use std::sync::Arc;

/// Both backends: every property and scenario runs on each.
pub const BACKENDS: [BackendKind; 2] = [BackendKind::Heap, BackendKind::Rocksdb];

/// The late-output tag used by the tests.
pub const LATE: &str = "late";

/// The input schema `k: Int64, ts: Int64 | Timestamp(ms), v: Int64?`.
pub fn schema(timestamp_type: bool) -> SchemaRef {
    let ts = if timestamp_type {
        DataType::Timestamp(TimeUnit::Millisecond, None)
    } else {
        DataType::Int64
    };
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("ts", ts, false),
        Field::new("v", DataType::Int64, true),
    ]))
}

/// A batch of events in `schema`.
pub fn batch(schema: &SchemaRef, events: &[Event]) -> RecordBatch {
    let ts: ArrayRef = match schema.field(1).data_type() {
        DataType::Int64 => Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.ts))),
        _ => Arc::new(TimestampMillisecondArray::from_iter_values(events.iter().map(|e| e.ts))),
    };
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.k))),
            ts,
            Arc::new(Int64Array::from_iter(events.iter().map(|e| e.v))),
        ],
    )
    .expect("valid batch")
}

/// The standard config: keyed by `k`, event time `ts`, count/sum/min/max/avg of `v`.
pub fn config(assigner: WindowAssigner, lateness: i64, late_tag: bool) -> WindowConfig {
    let mut c = WindowConfig::event_time(["k"], "ts", assigner)
        .aggregate(AggregateSpec::count("cnt"))
        .aggregate(AggregateSpec::sum("v", "sum"))
        .aggregate(AggregateSpec::min("v", "min"))
        .aggregate(AggregateSpec::max("v", "max"))
        .aggregate(AggregateSpec::avg("v", "avg"))
        .allowed_lateness(lateness);
    if late_tag {
        c = c.late_output(LATE);
    }
    c
}

/// A harness around a window operator built from `config`.
pub fn harness(config: &WindowConfig, schema: &SchemaRef, backend: BackendKind) -> OperatorHarness {
    let (config, schema) = (config.clone(), schema.clone());
    OperatorHarness::new(
        move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(WindowOperator::new(config.clone(), schema.clone())?))
        },
        test_task_info("window"),
        Some(backend),
    )
    .expect("harness")
}

fn ts_values(col: &ArrayRef) -> Vec<Option<i64>> {
    match col.data_type() {
        DataType::Int64 => col.as_primitive::<Int64Type>().iter().collect(),
        _ => col.as_primitive::<TimestampMillisecondType>().iter().collect(),
    }
}

/// The rows of output batches of the standard config.
pub fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let col = |name: &str| b.column_by_name(name).expect("output column").clone();
        let int = |name: &str| -> Vec<Option<i64>> { col(name).as_primitive::<Int64Type>().iter().collect() };
        let (k, cnt, sum, min, max) = (int("k"), int("cnt"), int("sum"), int("min"), int("max"));
        let (start, end) = (ts_values(&col("window_start")), ts_values(&col("window_end")));
        let avg: Vec<Option<f64>> = col("avg").as_primitive::<Float64Type>().iter().collect();
        for i in 0..b.num_rows() {
            out.push((
                k[i].expect("key"),
                start[i],
                end[i],
                cnt[i].expect("count"),
                sum[i],
                min[i],
                max[i],
                avg[i].map(f64::to_bits),
            ));
        }
    }
    out
}

/// The events of input-schema batches (the late side output).
pub fn events(batches: &[RecordBatch]) -> Vec<Event> {
    let mut out = Vec::new();
    for b in batches {
        let k = b.column(0).as_primitive::<Int64Type>();
        let ts = ts_values(b.column(1));
        let v = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.push(Event {
                k: k.value(i),
                ts: ts[i].expect("timestamp"),
                v: v.is_valid(i).then(|| v.value(i)),
            });
        }
    }
    out
}

/// What a run of the operator produced.
#[derive(Debug, Default)]
pub struct Actual {
    pub rows: Vec<Row>,
    pub late: Vec<Event>,
    pub dropped: u64,
}

/// Runs the script (then the end of input) through a window operator. With `restore_at =
/// Some((i, kind))`, the operator is snapshotted before step `i` and restored into `kind`; the
/// last watermark is then delivered again (a restored operator starts from the minimum).
pub fn run(
    config: &WindowConfig,
    schema: &SchemaRef,
    backend: BackendKind,
    steps: &[Step],
    restore_at: Option<(usize, BackendKind)>,
) -> Actual {
    let mut h = harness(config, schema, backend);
    let mut out = Vec::new();
    let mut actual = Actual::default();
    let mut last_wm = None;
    for i in 0..=steps.len() {
        if let Some((at, kind)) = restore_at {
            if at == i {
                actual.dropped += h.late_records_dropped();
                h.snapshot_and_restore(kind).expect("snapshot and restore");
                if let Some(wm) = last_wm {
                    out.extend(h.watermark(wm).expect("watermark"));
                }
            }
        }
        let Some(step) = steps.get(i) else { break };
        match step {
            Step::Batch(events) => out.extend(h.process(batch(schema, events)).expect("process")),
            Step::Watermark(wm) => {
                out.extend(h.watermark(*wm).expect("watermark"));
                last_wm = Some(last_wm.map_or(*wm, |l: i64| l.max(*wm)));
            }
        }
    }
    out.extend(h.finish().expect("finish"));
    actual.rows = rows(&out);
    actual.rows.sort();
    actual.late = events(&h.take_side_output(LATE));
    actual.late.sort();
    actual.dropped += h.late_records_dropped();
    actual
}

/// Random scripts: events of up to 4 keys with timestamps in `[-60, 140)` (some null values),
/// in random order, split into random batches, each optionally followed by a watermark trailing
/// the largest timestamp seen by a random amount (never going back).
pub fn script() -> impl Strategy<Value = Vec<Step>> {
    let event = (0i64..4, -60i64..140, prop::option::weighted(0.9, -20i64..20)).prop_map(|(k, ts, v)| Event { k, ts, v });
    (
        prop::collection::vec(event, 0..60),
        prop::collection::vec((1usize..10, prop::option::weighted(0.7, 0i64..40)), 1..30),
    )
        .prop_map(|(events, cuts)| {
            let mut steps = Vec::new();
            let mut rest = events.as_slice();
            let mut max_ts = i64::MIN;
            for (len, slack) in cuts {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(len.min(rest.len()));
                rest = later;
                max_ts = now.iter().map(|e| e.ts).fold(max_ts, i64::max);
                steps.push(Step::Batch(now.to_vec()));
                if let Some(slack) = slack {
                    steps.push(Step::Watermark(max_ts - slack));
                }
            }
            if !rest.is_empty() {
                steps.push(Step::Batch(rest.to_vec()));
            }
            steps
        })
}

//! Window operator tests, driven through `freshet_dataflow::testing::OperatorHarness`.
//!
//! - Properties: for every window kind (tumbling, sliding, session, cumulate, tumbling and
//!   sliding count, processing time) and random lateness, random keyed records in random batches
//!   interleaved with monotone watermarks give exactly the rows (including re-emissions of late
//!   updates) and the late records of a brute-force reference model; on the heap and the RocksDB
//!   backend. A snapshot/restore at a random point changes nothing.
//! - Scenarios: a bridging record merging two sessions, processing-time windows on the manual
//!   clock, a UDAF, and the late side output holding exactly the too-late records.
//! - `bench_sliding_count` (ignored): the hot-items shape, run with
//!   `cargo test --release -p freshet-dataflow --test windows bench -- --ignored --nocapture`.

use arrow::array::{Array, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use freshet_core::{Result, WATERMARK_MIN};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_dataflow::window::{
    AggregateSpec, CumulateWindows, SlidingWindows, TumblingWindows, WindowAssigner, WindowConfig, WindowOperator,
};
use freshet_dataflow::{Operator, TaskInfo};
use freshet_state::BackendKind;
use proptest::prelude::*;
use std::sync::Arc;

#[path = "windows/model.rs"]
mod model;
#[path = "windows/scenarios.rs"]
mod scenarios;

use model::{expected_count, Model};

const BACKENDS: [BackendKind; 2] = [BackendKind::Heap, BackendKind::Rocksdb];
const LATE: &str = "late";

/// An input record: key, timestamp, nullable value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    key: String,
    ts: i64,
    v: Option<i64>,
}

/// What the test feeds the operator.
#[derive(Clone, Debug)]
enum Step {
    Batch(Vec<Rec>),
    /// Event time: a watermark. Processing time: the clock moves here and due timers fire.
    Time(i64),
}

/// An output row: key, window start/end, count, sum, min, max, avg (as bits, for `Ord`).
type Row = (
    String,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<u64>,
);

/// Everything the operator produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    rows: Vec<Row>,
    late: Vec<Rec>,
    dropped: u64,
}

fn input_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("v", DataType::Int64, true),
    ]))
}

fn batch_of(recs: &[Rec]) -> RecordBatch {
    let k: StringArray = recs.iter().map(|r| Some(r.key.as_str())).collect();
    let ts: Int64Array = recs.iter().map(|r| Some(r.ts)).collect();
    let v: Int64Array = recs.iter().map(|r| r.v).collect();
    RecordBatch::try_new(input_schema(), vec![Arc::new(k), Arc::new(ts), Arc::new(v)]).unwrap()
}

fn records_of(batch: &RecordBatch) -> Vec<Rec> {
    let (k, ts, v) = (
        batch.column(0).as_string::<i32>(),
        batch.column(1).as_primitive::<Int64Type>(),
        batch.column(2),
    );
    let v = v.as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| Rec {
            key: k.value(i).to_string(),
            ts: ts.value(i),
            v: v.is_valid(i).then(|| v.value(i)),
        })
        .collect()
}

fn opt(a: &dyn Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.as_primitive::<Int64Type>().value(i))
}

fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    let c = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
    let (k, start, end) = (c("k"), c("window_start"), c("window_end"));
    let (n, sum, min, max, avg) = (c("n"), c("sum"), c("min"), c("max"), c("avg"));
    let (start, end) = (
        start.as_primitive::<TimestampMillisecondType>(),
        end.as_primitive::<TimestampMillisecondType>(),
    );
    let avg = avg.as_primitive::<Float64Type>();
    (0..batch.num_rows())
        .map(|i| {
            (
                k.as_string::<i32>().value(i).to_string(),
                start.is_valid(i).then(|| start.value(i)),
                end.is_valid(i).then(|| end.value(i)),
                n.as_primitive::<Int64Type>().value(i),
                opt(&sum, i),
                opt(&min, i),
                opt(&max, i),
                avg.is_valid(i).then(|| avg.value(i).to_bits()),
            )
        })
        .collect()
}

fn with_aggregates(config: WindowConfig) -> WindowConfig {
    config
        .aggregate(AggregateSpec::count("n"))
        .aggregate(AggregateSpec::sum("v", "sum"))
        .aggregate(AggregateSpec::min("v", "min"))
        .aggregate(AggregateSpec::max("v", "max"))
        .aggregate(AggregateSpec::avg("v", "avg"))
}

fn harness(config: &WindowConfig, backend: BackendKind) -> Result<OperatorHarness> {
    let config = config.clone();
    let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
        Ok(Box::new(WindowOperator::new(config.clone(), input_schema())?))
    };
    OperatorHarness::new(factory, test_task_info("window"), Some(backend))
}

/// Runs `steps` (then end of input) through a window operator; optionally snapshots and restores
/// into `restore.1` after step `restore.0`. Checks that every call emits at most one batch.
fn run(
    config: &WindowConfig,
    backend: BackendKind,
    steps: &[Step],
    restore: Option<(usize, BackendKind)>,
) -> Result<Outcome> {
    let mut h = harness(config, backend)?;
    let event_time = config.is_event_time();
    let mut batches = Vec::new();
    let mut last_time = WATERMARK_MIN;
    for (i, step) in steps.iter().enumerate() {
        let out = match step {
            Step::Batch(recs) => h.process(batch_of(recs))?,
            Step::Time(t) if event_time => h.watermark(*t)?,
            Step::Time(t) => h.processing_time(*t)?,
        };
        if let Step::Time(t) = step {
            last_time = last_time.max(*t);
        }
        assert!(out.len() <= 1, "step {i} emitted {} batches", out.len());
        batches.extend(out);
        if restore.is_some_and(|(at, _)| at == i) {
            h.snapshot_and_restore(restore.map_or(backend, |r| r.1))?;
            // As after a real restore, the sources re-establish the watermark.
            if event_time && last_time > WATERMARK_MIN {
                assert!(h.watermark(last_time)?.is_empty());
            }
        }
    }
    batches.extend(h.finish()?);
    let mut rows: Vec<Row> = batches.iter().flat_map(rows_of).collect();
    rows.sort();
    let mut late: Vec<Rec> = h.take_side_output(LATE).iter().flat_map(records_of).collect();
    late.sort();
    Ok(Outcome {
        rows,
        late,
        dropped: h.late_records_dropped(),
    })
}

fn rec() -> impl Strategy<Value = Rec> {
    (0..3u8, 0i64..200, proptest::option::weighted(0.9, -50i64..50)).prop_map(|(k, ts, v)| Rec {
        key: ["a", "b", "c"][k as usize].to_string(),
        ts,
        v,
    })
}

/// Batches of shuffled records interleaved with monotone watermarks (or clock advances)
/// sweeping over the timestamps.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((proptest::collection::vec(rec(), 0..10), 0i64..50), 1..10).prop_map(|parts| {
        let mut time = -20;
        let mut out = Vec::new();
        for (recs, advance) in parts {
            out.push(Step::Batch(recs));
            if advance > 0 {
                time += advance;
                out.push(Step::Time(time));
            }
        }
        out
    })
}

fn config(assigner: WindowAssigner, lateness: i64, late_output: bool, event_time: bool) -> WindowConfig {
    let base = if event_time {
        WindowConfig::event_time(["k"], "ts", assigner)
    } else {
        WindowConfig::processing_time(["k"], assigner)
    };
    let c = with_aggregates(base).allowed_lateness(lateness);
    if late_output {
        c.late_output(LATE)
    } else {
        c
    }
}

fn tumbling_windows(size: i64, offset: i64) -> impl Fn(i64) -> Vec<(i64, i64)> {
    move |ts| {
        let start = ts - (ts - offset).rem_euclid(size);
        vec![(start, start + size)]
    }
}

/// Checks the operator against the model on both backends.
fn check_time_windows(
    assigner: WindowAssigner,
    model: &Model<'_>,
    steps: &[Step],
) -> std::result::Result<(), TestCaseError> {
    let c = config(assigner, model.lateness, model.late_output, model.event_time);
    let expected = model.expected(steps);
    for backend in BACKENDS {
        let got = run(&c, backend, steps, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&got, &expected, "backend {}", backend);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn tumbling_matches_model(steps in steps(), size in 1i64..40, offset in -30i64..30, lateness in 0i64..30, side in any::<bool>()) {
        let assign = tumbling_windows(size, offset);
        let model = Model { assign: &assign, session_gap: None, lateness, event_time: true, late_output: side };
        let assigner = WindowAssigner::Tumbling(TumblingWindows::new(size).with_offset(offset));
        check_time_windows(assigner, &model, &steps)?;
    }

    #[test]
    fn sliding_matches_model(
        steps in steps(), slide in 1i64..15, factor in 1i64..4, extra in 0i64..15, offset in -30i64..30,
        lateness in 0i64..30, side in any::<bool>(),
    ) {
        let size = slide * factor + extra % slide;
        let assign = move |ts: i64| -> Vec<(i64, i64)> {
            ((ts - size + 1)..=ts).filter(|s| (s - offset).rem_euclid(slide) == 0).map(|s| (s, s + size)).collect()
        };
        let model = Model { assign: &assign, session_gap: None, lateness, event_time: true, late_output: side };
        let assigner = WindowAssigner::Sliding(SlidingWindows::new(size, slide).with_offset(offset));
        check_time_windows(assigner, &model, &steps)?;
    }

    #[test]
    fn cumulate_matches_model(
        steps in steps(), step in 1i64..15, n in 1i64..5, offset in -30i64..30, lateness in 0i64..30, side in any::<bool>(),
    ) {
        let max = step * n;
        let assign = move |ts: i64| -> Vec<(i64, i64)> {
            let start = ts - (ts - offset).rem_euclid(max);
            (1..=n).map(|k| (start, start + k * step)).filter(|w| w.1 > ts).collect()
        };
        let model = Model { assign: &assign, session_gap: None, lateness, event_time: true, late_output: side };
        let assigner = WindowAssigner::Cumulate(CumulateWindows::new(step, max).with_offset(offset));
        check_time_windows(assigner, &model, &steps)?;
    }

    #[test]
    fn session_matches_model(steps in steps(), gap in 1i64..30, lateness in 0i64..30, side in any::<bool>()) {
        let none = |_: i64| Vec::new();
        let model = Model { assign: &none, session_gap: Some(gap), lateness, event_time: true, late_output: side };
        check_time_windows(WindowAssigner::session(gap), &model, &steps)?;
    }

    #[test]
    fn processing_time_matches_model(steps in steps(), size in 1i64..40, gap in 1i64..30, session in any::<bool>()) {
        let assign = tumbling_windows(size, 0);
        let (assigner, session_gap) =
            if session { (WindowAssigner::session(gap), Some(gap)) } else { (WindowAssigner::tumbling(size), None) };
        let model = Model { assign: &assign, session_gap, lateness: 0, event_time: false, late_output: true };
        check_time_windows(assigner, &model, &steps)?;
    }

    #[test]
    fn count_windows_match_model(steps in steps(), size in 1u64..6, slide in 1u64..6, tumbling in any::<bool>()) {
        let slide = if tumbling { size } else { slide };
        let c = config(WindowAssigner::count_sliding(size, slide), 0, true, true);
        let expected = expected_count(size, slide, &steps);
        for backend in BACKENDS {
            let got = run(&c, backend, &steps, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&got, &expected, "backend {}", backend);
        }
    }

    #[test]
    fn restore_mid_stream_changes_nothing(
        steps in steps(), kind in 0usize..5, at in any::<prop::sample::Index>(), lateness in 0i64..20, cross in any::<bool>(),
    ) {
        let assigner = [
            WindowAssigner::tumbling(10),
            WindowAssigner::sliding(12, 4),
            WindowAssigner::session(7),
            WindowAssigner::cumulate(5, 15),
            WindowAssigner::count_sliding(3, 2),
        ][kind];
        let c = config(assigner, lateness, true, true);
        let at = at.index(steps.len());
        for backend in BACKENDS {
            let straight = run(&c, backend, &steps, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let other = if backend == BackendKind::Heap { BackendKind::Rocksdb } else { BackendKind::Heap };
            let target = if cross { other } else { backend };
            let restored = run(&c, backend, &steps, Some((at, target))).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&restored, &straight, "backend {} restored into {}", backend, target);
        }
    }
}

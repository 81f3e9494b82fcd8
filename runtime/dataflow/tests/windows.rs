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

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use freshet_core::{Result, WATERMARK_MIN};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_dataflow::window::{
    udaf, AggregateFunction, AggregateSpec, CumulateWindows, SlidingWindows, TumblingWindows, WindowAssigner,
    WindowConfig, WindowOperator,
};
use freshet_dataflow::{Operator, TaskInfo};
use freshet_state::BackendKind;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

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
type Row = (String, Option<i64>, Option<i64>, i64, Option<i64>, Option<i64>, Option<i64>, Option<u64>);

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
    let (k, ts, v) = (batch.column(0).as_string::<i32>(), batch.column(1).as_primitive::<Int64Type>(), batch.column(2));
    let v = v.as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| Rec { key: k.value(i).to_string(), ts: ts.value(i), v: v.is_valid(i).then(|| v.value(i)) })
        .collect()
}

fn opt(a: &dyn Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.as_primitive::<Int64Type>().value(i))
}

fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    let c = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
    let (k, start, end) = (c("k"), c("window_start"), c("window_end"));
    let (n, sum, min, max, avg) = (c("n"), c("sum"), c("min"), c("max"), c("avg"));
    let (start, end) = (start.as_primitive::<TimestampMillisecondType>(), end.as_primitive::<TimestampMillisecondType>());
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

fn aggregated(key: &str, start: Option<i64>, end: Option<i64>, vals: &[Option<i64>]) -> Row {
    let present: Vec<i64> = vals.iter().flatten().copied().collect();
    let sum = (!present.is_empty()).then(|| present.iter().sum::<i64>());
    let avg = sum.map(|s| (s as f64 / present.len() as f64).to_bits());
    let (min, max) = (present.iter().min().copied(), present.iter().max().copied());
    (key.to_string(), start, end, vals.len() as i64, sum, min, max, avg)
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
fn run(config: &WindowConfig, backend: BackendKind, steps: &[Step], restore: Option<(usize, BackendKind)>) -> Result<Outcome> {
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
    Ok(Outcome { rows, late, dropped: h.late_records_dropped() })
}

/// The brute-force model of time windows. `assign` gives a record's windows (ignored for
/// sessions); in processing time a batch's records take the clock's time and nothing is late.
struct Model<'a> {
    assign: &'a dyn Fn(i64) -> Vec<(i64, i64)>,
    session_gap: Option<i64>,
    lateness: i64,
    event_time: bool,
    late_output: bool,
}

/// One live window of the model: key, start, end, values.
type ModelWindow = (String, i64, i64, Vec<Option<i64>>);

impl Model<'_> {
    fn expected(&self, steps: &[Step]) -> Outcome {
        let mut wm = WATERMARK_MIN;
        let mut now = 0;
        let mut live: Vec<ModelWindow> = Vec::new();
        let (mut rows, mut late) = (Vec::new(), Vec::new());
        let emit = |rows: &mut Vec<Row>, w: &ModelWindow| rows.push(aggregated(&w.0, Some(w.1), Some(w.2), &w.3));
        let all_steps = steps.iter().chain(std::iter::once(&Step::Time(i64::MAX)));
        for step in all_steps {
            match step {
                Step::Batch(recs) => {
                    for r in recs {
                        let ts = if self.event_time { r.ts } else { now };
                        let is_late = |end: i64| self.event_time && (end - 1).saturating_add(self.lateness) <= wm;
                        let fired = |end: i64| self.event_time && end - 1 <= wm;
                        if let Some(gap) = self.session_gap {
                            // Merge the record's window with every intersecting session (fixpoint).
                            let (mut start, mut end, mut vals) = (ts, ts + gap, vec![r.v]);
                            while let Some(i) = live.iter().position(|w| w.0 == r.key && w.1 <= end && w.2 >= start) {
                                let w = live.remove(i);
                                (start, end) = (start.min(w.1), end.max(w.2));
                                vals.extend(w.3);
                            }
                            if is_late(end) {
                                // Late sessions have no state left, so nothing was absorbed.
                                assert_eq!(vals.len(), 1);
                                late.push(r.clone());
                                continue;
                            }
                            let w = (r.key.clone(), start, end, vals);
                            if fired(end) {
                                emit(&mut rows, &w);
                            }
                            live.push(w);
                            continue;
                        }
                        let mut any = false;
                        for (start, end) in (self.assign)(ts) {
                            if is_late(end) {
                                continue;
                            }
                            any = true;
                            let pos = live.iter().position(|w| w.0 == r.key && w.1 == start && w.2 == end);
                            let i = pos.unwrap_or_else(|| {
                                live.push((r.key.clone(), start, end, Vec::new()));
                                live.len() - 1
                            });
                            live[i].3.push(r.v);
                            if fired(end) {
                                emit(&mut rows, &live[i]);
                            }
                        }
                        if !any {
                            late.push(r.clone());
                        }
                    }
                }
                Step::Time(t) if self.event_time => {
                    if *t > wm {
                        for w in live.iter().filter(|w| w.2 - 1 > wm && w.2 - 1 <= *t) {
                            emit(&mut rows, w);
                        }
                        wm = *t;
                        live.retain(|w| (w.2 - 1).saturating_add(self.lateness) > wm);
                    }
                }
                Step::Time(t) => {
                    now = *t;
                    for w in live.iter().filter(|w| w.2 - 1 <= *t) {
                        emit(&mut rows, w);
                    }
                    live.retain(|w| w.2 - 1 > *t);
                }
            }
        }
        rows.sort();
        late.sort();
        let dropped = if self.late_output { 0 } else { late.len() as u64 };
        if !self.late_output {
            late.clear();
        }
        Outcome { rows, late, dropped }
    }
}

/// The model of count windows: per key, every `slide` records, the last `size` records.
fn expected_count(size: u64, slide: u64, steps: &[Step]) -> Outcome {
    let mut seen: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
    let mut rows = Vec::new();
    for step in steps {
        let Step::Batch(recs) = step else { continue };
        for r in recs {
            let list = seen.entry(r.key.clone()).or_default();
            list.push(r);
            if list.len() as u64 % slide == 0 {
                let window = &list[list.len().saturating_sub(size as usize)..];
                let (lo, hi) = (window.iter().map(|r| r.ts).min(), window.iter().map(|r| r.ts).max());
                rows.push(aggregated(&r.key, lo, hi, &window.iter().map(|r| r.v).collect::<Vec<_>>()));
            }
        }
    }
    rows.sort();
    Outcome { rows, late: Vec::new(), dropped: 0 }
}

fn rec() -> impl Strategy<Value = Rec> {
    (0..3u8, 0i64..200, proptest::option::weighted(0.9, -50i64..50))
        .prop_map(|(k, ts, v)| Rec { key: ["a", "b", "c"][k as usize].to_string(), ts, v })
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
fn check_time_windows(assigner: WindowAssigner, model: &Model<'_>, steps: &[Step]) -> std::result::Result<(), TestCaseError> {
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

fn rec_at(key: &str, ts: i64, v: i64) -> Rec {
    Rec { key: key.into(), ts, v: Some(v) }
}

#[test]
fn bridging_record_merges_two_sessions() -> Result<()> {
    for backend in BACKENDS {
        let c = config(WindowAssigner::session(10), 0, false, true);
        let mut h = harness(&c, backend)?;
        assert!(h.process(batch_of(&[rec_at("a", 0, 1), rec_at("a", 15, 2), rec_at("b", 9, 5)]))?.is_empty());
        assert_eq!(h.ctx().timer_count(), 3, "one timer per session");
        assert!(h.watermark(5)?.is_empty());
        // [8, 18) touches [0, 10) and [15, 25): one session [0, 25).
        assert!(h.process(batch_of(&[rec_at("a", 8, 4)]))?.is_empty());
        assert_eq!(h.ctx().timer_count(), 2, "obsolete session timers are deleted");
        let fired = h.watermark(24)?;
        assert_eq!(fired.len(), 1);
        let mut rows = rows_of(&fired[0]);
        rows.sort();
        assert_eq!(rows, vec![
            aggregated("a", Some(0), Some(25), &[Some(1), Some(2), Some(4)]),
            aggregated("b", Some(9), Some(19), &[Some(5)]),
        ]);
        assert_eq!(h.ctx().timer_count(), 0);
        assert!(h.finish()?.is_empty());
    }
    Ok(())
}

#[test]
fn processing_time_windows_follow_the_manual_clock() -> Result<()> {
    for backend in BACKENDS {
        let c = config(WindowAssigner::tumbling(10), 0, false, false);
        let mut h = harness(&c, backend)?;
        h.set_clock(3);
        // Event timestamps are ignored: the clock decides.
        assert!(h.process(batch_of(&[rec_at("a", 500, 1), rec_at("b", -7, 2)]))?.is_empty());
        h.set_clock(9);
        assert!(h.process(batch_of(&[rec_at("a", 0, 3)]))?.is_empty());
        assert!(h.processing_time(8)?.is_empty());
        let fired = h.processing_time(12)?;
        assert_eq!(fired.len(), 1, "one batch per firing time");
        let mut rows = rows_of(&fired[0]);
        rows.sort();
        assert_eq!(rows, vec![
            aggregated("a", Some(0), Some(10), &[Some(1), Some(3)]),
            aggregated("b", Some(0), Some(10), &[Some(2)]),
        ]);
        h.set_clock(15);
        assert!(h.process(batch_of(&[rec_at("a", 0, 7)]))?.is_empty());
        let rest = h.finish()?;
        assert_eq!(rest.iter().flat_map(rows_of).collect::<Vec<_>>(), vec![aggregated("a", Some(10), Some(20), &[Some(7)])]);
    }
    Ok(())
}

/// Sum of squares of a column, as a typed UDAF.
struct SumOfSquares;

impl AggregateFunction for SumOfSquares {
    type In = i64;
    type Acc = i64;
    type Out = i64;
    fn add(&self, acc: &mut i64, value: i64) {
        *acc += value * value;
    }
    fn merge(&self, acc: &mut i64, other: i64) {
        *acc += other;
    }
    fn result(&self, acc: &i64) -> i64 {
        *acc
    }
}

#[test]
fn udaf_in_time_and_count_windows() -> Result<()> {
    let f = udaf("sum_of_squares", SumOfSquares);
    for assigner in [WindowAssigner::tumbling(10), WindowAssigner::count_sliding(2, 1)] {
        let c = WindowConfig::event_time(["k"], "ts", assigner).aggregate(AggregateSpec::udaf(f.clone(), "v", "sq"));
        let op = WindowOperator::new(c.clone(), input_schema())?;
        assert_eq!(op.output_schema().field(3).data_type(), &DataType::Int64);
        for backend in BACKENDS {
            let mut h = harness(&c, backend)?;
            let mut out = h.process(batch_of(&[rec_at("a", 1, 2), rec_at("a", 2, 3)]))?;
            h.snapshot_and_restore(backend)?;
            out.extend(h.process(batch_of(&[rec_at("a", 3, 4), Rec { key: "a".into(), ts: 4, v: None }]))?);
            out.extend(h.finish()?);
            let sq: Vec<i64> = out.iter().flat_map(|b| b.column(3).as_primitive::<Int64Type>().values().to_vec()).collect();
            let expected = if assigner.is_time_based() { vec![4 + 9 + 16] } else { vec![4, 13, 25, 16] };
            assert_eq!(sq, expected, "{assigner:?} on {backend}");
        }
    }
    Ok(())
}

#[test]
fn late_side_output_holds_exactly_the_too_late_records() -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    let batch = |recs: &[(&str, i64)]| -> RecordBatch {
        let k: ArrayRef = Arc::new(recs.iter().map(|r| Some(r.0)).collect::<StringArray>());
        let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(recs.iter().map(|r| r.1).collect::<Vec<_>>()));
        RecordBatch::try_new(schema.clone(), vec![k, ts]).unwrap()
    };
    let c = WindowConfig::event_time(["k"], "ts", WindowAssigner::tumbling(10))
        .aggregate(AggregateSpec::count("n"))
        .allowed_lateness(5)
        .late_output(LATE);
    for backend in BACKENDS {
        let (c2, s2) = (c.clone(), schema.clone());
        let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> { Ok(Box::new(WindowOperator::new(c2.clone(), s2.clone())?)) };
        let mut h = OperatorHarness::new(factory, test_task_info("window"), Some(backend))?;
        assert!(h.process(batch(&[("a", 1), ("a", 12)]))?.is_empty());
        assert_eq!(h.watermark(12)?.len(), 1, "[0, 10) fires");
        // Within the lateness: [0, 10) is updated and emitted again at once.
        let again = h.process(batch(&[("a", 5)]))?;
        let n = |b: &RecordBatch| b.column(3).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(again.iter().flat_map(n).collect::<Vec<_>>(), vec![2]);
        assert_eq!(h.watermark(20)?.iter().flat_map(n).collect::<Vec<_>>(), vec![1], "[10, 20) fires");
        // [0, 10) was cleaned up at 14: too late. [10, 20) is within its lateness.
        let out = h.process(batch(&[("a", 9), ("b", 0), ("a", 19), ("a", 25)]))?;
        assert_eq!(out.iter().flat_map(n).collect::<Vec<_>>(), vec![2]);
        let late = h.take_side_output(LATE);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].schema(), schema);
        assert_eq!(late[0].column(1).as_primitive::<TimestampMillisecondType>().values().to_vec(), vec![9, 0]);
        assert_eq!(late[0].column(0).as_string::<i32>().value(1), "b");
        assert_eq!(h.late_records_side_output(), 2);
        assert_eq!(h.late_records_dropped(), 0);
        assert_eq!(h.finish()?.iter().flat_map(n).collect::<Vec<_>>(), vec![1], "[20, 30)");
    }
    Ok(())
}

#[test]
fn bad_config_names_the_option() {
    let err = WindowOperator::new(WindowConfig::event_time(["k"], "nope", WindowAssigner::tumbling(10)), input_schema()).unwrap_err();
    assert!(err.to_string().contains("timestamp_column"), "{err}");
    let err = WindowOperator::new(WindowConfig::event_time(["k"], "ts", WindowAssigner::sliding(5, 10)), input_schema()).unwrap_err();
    assert!(err.to_string().contains("slide_ms"), "{err}");
    let err = WindowOperator::new(
        WindowConfig::event_time(["k"], "ts", WindowAssigner::tumbling(10)).allowed_lateness(-1),
        input_schema(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("allowed_lateness_ms"), "{err}");
}

/// The hot-items shape: bids counted per auction in sliding 10 s / 2 s windows, on the heap.
#[test]
#[ignore = "benchmark; run in release"]
fn bench_sliding_count() -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("auction", DataType::Int64, false),
        Field::new("date_time", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    let c = WindowConfig::event_time(["auction"], "date_time", WindowAssigner::sliding(10_000, 2_000))
        .aggregate(AggregateSpec::count("bids"));
    let s2 = schema.clone();
    let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> { Ok(Box::new(WindowOperator::new(c.clone(), s2.clone())?)) };
    let mut h = OperatorHarness::new(factory, test_task_info("window"), Some(BackendKind::Heap))?;
    let (events, batch_size) = (5_000_000usize, 8192usize);
    // Half the bids go to one hot auction, the rest to the ~100 most recent ones; 10 bids/ms.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let batches: Vec<RecordBatch> = (0..events / batch_size)
        .map(|b| {
            let first = b * batch_size;
            let auctions: Int64Array = (first..first + batch_size)
                .map(|i| {
                    let latest = (i / 50) as i64;
                    Some(if next() % 2 == 0 { latest / 10 * 10 } else { latest - (next() % 100) as i64 })
                })
                .collect();
            let times = TimestampMillisecondArray::from((first..first + batch_size).map(|i| (i / 10) as i64).collect::<Vec<_>>());
            RecordBatch::try_new(schema.clone(), vec![Arc::new(auctions), Arc::new(times)]).unwrap()
        })
        .collect();
    let started = std::time::Instant::now();
    let mut rows = 0;
    for b in batches {
        let wm = b.column(1).as_primitive::<TimestampMillisecondType>().value(b.num_rows() - 1) - 1;
        rows += h.process(b)?.iter().map(|b| b.num_rows()).sum::<usize>();
        rows += h.watermark(wm)?.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    rows += h.finish()?.iter().map(|b| b.num_rows()).sum::<usize>();
    let secs = started.elapsed().as_secs_f64();
    let n = (events / batch_size * batch_size) as f64;
    println!("sliding count: {n} events in {secs:.3}s = {:.2}M events/s, {rows} rows", n / secs / 1e6);
    Ok(())
}

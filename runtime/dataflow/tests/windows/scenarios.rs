//! Hand-written scenarios, each on both backends.

use super::reference::{Event, Row, Step};
use super::support::{batch, config, events, harness, rows, run, schema, BACKENDS, LATE};
use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use freshet_dataflow::window::{
    udaf, AggregateFunction, AggregateSpec, WindowAssigner, WindowConfig, WindowOperator,
};
use freshet_state::BackendKind;
use std::collections::BTreeSet;
use std::sync::Arc;

fn ev(k: i64, ts: i64, v: i64) -> Event {
    Event { k, ts, v: Some(v) }
}

/// A row of the standard config for values `vs` (all non-null).
fn row(k: i64, start: i64, end: i64, vs: &[i64]) -> Row {
    let sum: i64 = vs.iter().sum();
    (
        k,
        Some(start),
        Some(end),
        vs.len() as i64,
        Some(sum),
        vs.iter().min().copied(),
        vs.iter().max().copied(),
        Some((sum as f64 / vs.len() as f64).to_bits()),
    )
}

fn sorted(mut r: Vec<Row>) -> Vec<Row> {
    r.sort();
    r
}

#[test]
fn session_bridging_record_merges_two_sessions() {
    let schema = schema(false);
    for backend in BACKENDS {
        let cfg = config(WindowAssigner::session(10), 0, true);
        let mut h = harness(&cfg, &schema, backend);
        assert!(h.process(batch(&schema, &[ev(1, 0, 1)])).unwrap().is_empty());
        assert!(h.process(batch(&schema, &[ev(1, 18, 2)])).unwrap().is_empty());
        assert_eq!(h.ctx().timer_count(), 2, "two sessions, one timer each");
        // [9, 19) touches [0, 10) and overlaps [18, 28): one session [0, 28).
        assert!(h.process(batch(&schema, &[ev(1, 9, 3)])).unwrap().is_empty());
        assert_eq!(h.ctx().timer_count(), 1, "the merged session's timer replaces both");
        assert!(h.watermark(26).unwrap().is_empty());
        assert_eq!(rows(&h.watermark(27).unwrap()), vec![row(1, 0, 28, &[1, 2, 3])]);
        assert!(h.finish().unwrap().is_empty());

        // The same records in one batch, and a merge into a session that already fired.
        let mut h = harness(&cfg, &schema, backend);
        h.process(batch(&schema, &[ev(1, 0, 1), ev(1, 18, 2), ev(1, 9, 3), ev(2, 9, 4)])).unwrap();
        let got = sorted(rows(&h.finish().unwrap()));
        assert_eq!(got, vec![row(1, 0, 28, &[1, 2, 3]), row(2, 9, 19, &[4])]);

        let cfg = config(WindowAssigner::session(10), 20, true);
        let mut h = harness(&cfg, &schema, backend);
        h.process(batch(&schema, &[ev(1, 0, 1), ev(1, 18, 2)])).unwrap();
        assert_eq!(rows(&h.watermark(12).unwrap()), vec![row(1, 0, 10, &[1])]);
        // Bridges the fired session (within lateness) and the pending one: no immediate row,
        // since the merged session [0, 28) has not reached its end.
        assert!(h.process(batch(&schema, &[ev(1, 9, 3)])).unwrap().is_empty());
        assert_eq!(rows(&h.watermark(30).unwrap()), vec![row(1, 0, 28, &[1, 2, 3])]);
    }
}

#[test]
fn snapshot_restore_mid_stream_gives_same_output() {
    let schema = schema(false);
    let steps = vec![
        Step::Batch(vec![ev(1, 3, 1), ev(2, 7, 2), ev(1, 12, 3)]),
        Step::Watermark(8),
        Step::Batch(vec![ev(1, 5, 4), ev(2, 1, 5), ev(3, 30, 6)]),
        Step::Watermark(16),
        Step::Batch(vec![ev(1, 2, 7), ev(2, 19, 8), ev(3, 22, 9)]),
        Step::Watermark(40),
        Step::Batch(vec![ev(1, 38, 10), ev(2, 0, 11)]),
    ];
    for assigner in [WindowAssigner::sliding(10, 5), WindowAssigner::session(6), WindowAssigner::count_sliding(2, 1)] {
        let cfg = config(assigner, 5, true);
        let baseline = run(&cfg, &schema, BackendKind::Heap, &steps, None);
        assert!(!baseline.rows.is_empty());
        assert!(!baseline.late.is_empty() || !assigner.is_time_based());
        for backend in BACKENDS {
            for target in BACKENDS {
                for at in 0..=steps.len() {
                    let got = run(&cfg, &schema, backend, &steps, Some((at, target)));
                    assert_eq!(got.rows, baseline.rows, "{assigner:?} {backend} -> {target} at {at}");
                    assert_eq!(got.late, baseline.late, "{assigner:?} {backend} -> {target} at {at}");
                }
            }
        }
    }
}

#[test]
fn processing_time_windows_follow_the_clock() {
    let schema = schema(false);
    for backend in BACKENDS {
        let cfg = WindowConfig::processing_time(["k"], WindowAssigner::tumbling(10))
            .aggregate(AggregateSpec::count("cnt"))
            .aggregate(AggregateSpec::sum("v", "sum"))
            .aggregate(AggregateSpec::min("v", "min"))
            .aggregate(AggregateSpec::max("v", "max"))
            .aggregate(AggregateSpec::avg("v", "avg"));
        let mut h = harness(&cfg, &schema, backend);
        h.set_clock(3);
        // Event timestamps are ignored in processing time.
        h.process(batch(&schema, &[ev(1, 500, 1), ev(2, -7, 2), ev(1, 0, 3)])).unwrap();
        assert!(h.watermark(1000).unwrap().is_empty(), "watermarks do not fire processing-time windows");
        assert!(h.processing_time(8).unwrap().is_empty());
        let fired = h.processing_time(9).unwrap();
        assert_eq!(fired.len(), 1, "timers of one time fire into one batch");
        assert_eq!(sorted(rows(&fired)), vec![row(1, 0, 10, &[1, 3]), row(2, 0, 10, &[2])]);
        h.set_clock(15);
        h.process(batch(&schema, &[ev(1, 0, 4)])).unwrap();
        assert!(h.processing_time(18).unwrap().is_empty());
        assert_eq!(rows(&h.finish().unwrap()), vec![row(1, 10, 20, &[4])], "end of input fires the rest");

        // Processing-time sessions merge on the clock.
        let cfg = WindowConfig::processing_time(["k"], WindowAssigner::session(5))
            .aggregate(AggregateSpec::count("cnt"));
        let mut h = harness(&cfg, &schema, backend);
        h.process(batch(&schema, &[ev(1, 0, 1)])).unwrap();
        h.set_clock(3);
        h.process(batch(&schema, &[ev(1, 0, 1)])).unwrap();
        assert!(h.processing_time(6).unwrap().is_empty());
        let out = h.processing_time(7).unwrap();
        assert_eq!(out[0].num_rows(), 1);
        let start = out[0].column_by_name("window_start").unwrap();
        assert_eq!(start.as_primitive::<arrow::datatypes::TimestampMillisecondType>().value(0), 0);
        assert_eq!(out[0].column_by_name("cnt").unwrap().as_primitive::<Int64Type>().value(0), 2);

        // Processing-time count windows have no bounds.
        let cfg = WindowConfig::processing_time(["k"], WindowAssigner::count(2)).aggregate(AggregateSpec::count("cnt"));
        let mut h = harness(&cfg, &schema, backend);
        let out = h.process(batch(&schema, &[ev(1, 0, 1), ev(1, 0, 1), ev(1, 0, 1)])).unwrap();
        assert_eq!(out[0].num_rows(), 1);
        assert!(out[0].column_by_name("window_start").unwrap().is_null(0));
        assert!(h.finish().unwrap().is_empty(), "an incomplete count window never fires");
    }
}

/// The distinct names of a window, sorted and joined.
struct DistinctNames;

impl AggregateFunction for DistinctNames {
    type In = String;
    type Acc = BTreeSet<String>;
    type Out = String;
    fn add(&self, acc: &mut BTreeSet<String>, value: String) {
        acc.insert(value);
    }
    fn merge(&self, acc: &mut BTreeSet<String>, other: BTreeSet<String>) {
        acc.extend(other);
    }
    fn result(&self, acc: &BTreeSet<String>) -> String {
        acc.iter().cloned().collect::<Vec<_>>().join(",")
    }
}

fn names_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn names_batch(rows: &[(i64, i64, Option<&str>)]) -> RecordBatch {
    RecordBatch::try_new(
        names_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

fn name_rows(batches: &[RecordBatch]) -> Vec<(i64, i64, String, i64)> {
    let mut out = Vec::new();
    for b in batches {
        let k = b.column_by_name("k").unwrap().as_primitive::<Int64Type>().clone();
        let end = b.column_by_name("window_end").unwrap().as_primitive::<arrow::datatypes::TimestampMillisecondType>().clone();
        let names = b.column_by_name("names").unwrap().as_string::<i32>().clone();
        let n = b.column_by_name("n").unwrap().as_primitive::<Int64Type>().clone();
        for i in 0..b.num_rows() {
            out.push((k.value(i), end.value(i), names.value(i).to_string(), n.value(i)));
        }
    }
    out.sort();
    out
}

#[test]
fn udaf_aggregates_windows() {
    for backend in BACKENDS {
        for assigner in [WindowAssigner::tumbling(10), WindowAssigner::session(4)] {
            let cfg = WindowConfig::event_time(["k"], "ts", assigner)
                .aggregate(AggregateSpec::udaf(udaf("distinct_names", DistinctNames), "name", "names"))
                .aggregate(AggregateSpec::new(freshet_dataflow::window::Aggregate::CountNonNull("name".into()), "n"));
            let op = WindowOperator::new(cfg.clone(), names_schema()).unwrap();
            assert_eq!(op.output_schema().field_with_name("names").unwrap().data_type(), &DataType::Utf8);
            let mut h = harness(&cfg, &names_schema(), backend);
            h.process(names_batch(&[(1, 1, Some("b")), (1, 2, Some("a")), (2, 3, None)])).unwrap();
            h.snapshot_and_restore(backend).unwrap();
            h.process(names_batch(&[(1, 4, Some("b")), (1, 5, Some("c"))])).unwrap();
            let got = name_rows(&h.finish().unwrap());
            let end = if assigner.is_merging() { 9 } else { 10 };
            let want_2_end = if assigner.is_merging() { 7 } else { 10 };
            assert_eq!(got, vec![(1, end, "a,b,c".into(), 4), (2, want_2_end, String::new(), 0)], "{assigner:?}");
        }
        // Sliding count windows merge per-record accumulators.
        let cfg = WindowConfig::event_time(["k"], "ts", WindowAssigner::count_sliding(2, 1))
            .aggregate(AggregateSpec::udaf(udaf("distinct_names", DistinctNames), "name", "names"))
            .aggregate(AggregateSpec::new(freshet_dataflow::window::Aggregate::CountNonNull("name".into()), "n"));
        let mut h = harness(&cfg, &names_schema(), backend);
        let out = h.process(names_batch(&[(1, 1, Some("x")), (1, 2, Some("y")), (1, 3, Some("y"))])).unwrap();
        assert_eq!(
            name_rows(&out),
            vec![(1, 1, "x".into(), 1), (1, 2, "x,y".into(), 2), (1, 3, "y".into(), 2)]
        );
    }
}

#[test]
fn late_side_output_holds_exactly_the_too_late_records() {
    let schema = schema(false);
    for backend in BACKENDS {
        for tag in [true, false] {
            let cfg = config(WindowAssigner::tumbling(10), 5, tag);
            let mut h = harness(&cfg, &schema, backend);
            h.process(batch(&schema, &[ev(1, 12, 1), ev(1, 4, 2)])).unwrap();
            let fired = sorted(rows(&h.watermark(20).unwrap()));
            assert_eq!(fired, vec![row(1, 0, 10, &[2]), row(1, 10, 20, &[1])]);
            // [0, 10) is cleaned up at 14; [10, 20) is kept until 24.
            let late = [ev(1, 3, 3), ev(2, 9, 4)];
            let out = h.process(batch(&schema, &[ev(1, 14, 5), late[0], ev(1, 25, 6), late[1]])).unwrap();
            assert_eq!(rows(&out), vec![row(1, 10, 20, &[1, 5])], "in-lateness update re-emits");
            assert_eq!(sorted(rows(&h.finish().unwrap())), vec![row(1, 20, 30, &[6])]);
            let side = events(&h.take_side_output(LATE));
            if tag {
                assert_eq!(side, late.to_vec());
                assert_eq!((h.late_records_side_output(), h.late_records_dropped()), (2, 0));
            } else {
                assert!(side.is_empty());
                assert_eq!((h.late_records_side_output(), h.late_records_dropped()), (0, 2));
            }
        }
    }
}

#[test]
fn each_record_within_lateness_re_emits_its_window() {
    let schema = schema(false);
    for backend in BACKENDS {
        let cfg = config(WindowAssigner::tumbling(10), 10, true);
        let mut h = harness(&cfg, &schema, backend);
        h.process(batch(&schema, &[ev(1, 5, 1)])).unwrap();
        assert_eq!(rows(&h.watermark(10).unwrap()), vec![row(1, 0, 10, &[1])]);
        let out = h.process(batch(&schema, &[ev(1, 6, 2), ev(1, 7, 3)])).unwrap();
        assert_eq!(out.len(), 1, "re-emissions of one batch form one output batch");
        assert_eq!(rows(&out), vec![row(1, 0, 10, &[1, 2]), row(1, 0, 10, &[1, 2, 3])]);
        // A window first seen after it fired (within lateness) emits at once and never again.
        let out = h.process(batch(&schema, &[ev(2, 8, 4)])).unwrap();
        assert_eq!(rows(&out), vec![row(2, 0, 10, &[4])]);
        assert!(h.watermark(19).unwrap().is_empty());
        h.process(batch(&schema, &[ev(1, 8, 9)])).unwrap();
        assert_eq!(events(&h.take_side_output(LATE)), vec![ev(1, 8, 9)]);
        assert_eq!(h.ctx().timer_count(), 0, "all state cleaned up");
    }
}

#[test]
fn one_watermark_emits_one_batch_with_composite_keys() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("region", DataType::Utf8, true),
        Field::new("k", DataType::Int64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    for backend in BACKENDS {
        let cfg = WindowConfig::event_time(["region", "k"], "ts", WindowAssigner::sliding(10, 5))
            .aggregate(AggregateSpec::count("cnt"))
            .aggregate(AggregateSpec::max("ts", "last"));
        let n = 500;
        let input = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter((0..n).map(|i| (i % 3 != 0).then(|| format!("r{}", i % 4))))),
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 50))),
                Arc::new(arrow::array::TimestampMillisecondArray::from_iter_values((0..n).map(|i| i % 9))),
            ],
        )
        .unwrap();
        let mut h = harness(&cfg, &schema, backend);
        assert!(h.process(input).unwrap().is_empty());
        let out = h.watermark(100).unwrap();
        assert_eq!(out.len(), 1);
        let b = &out[0];
        assert_eq!(b.schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(b.schema().field(5).data_type(), &DataType::Timestamp(TimeUnit::Millisecond, None));
        let total: i64 = b.column_by_name("cnt").unwrap().as_primitive::<Int64Type>().iter().flatten().sum();
        assert_eq!(total, 2 * n, "every record is in two windows");
        assert!(b.column(0).null_count() > 0, "null keys are keys too");
    }
}

#[test]
fn bad_configuration_is_rejected_with_the_option_named() {
    let schema = schema(false);
    let err = |cfg: WindowConfig, schema: &SchemaRef| WindowOperator::new(cfg, schema.clone()).err().unwrap().to_string();
    let base = || config(WindowAssigner::tumbling(10), 0, false);
    let mut c = base();
    c.key_columns = vec!["nope".into()];
    assert!(err(c, &schema).contains("'nope'"));
    assert!(err(base().allowed_lateness(-1), &schema).contains("allowed_lateness_ms"));
    assert!(err(config(WindowAssigner::sliding(5, 10), 0, false), &schema).contains("slide_ms"));
    assert!(err(config(WindowAssigner::tumbling(0), 0, false), &schema).contains("size_ms"));
    assert!(err(base().aggregate(AggregateSpec::count("cnt")), &schema).contains("'cnt' appears twice"));
    let c = WindowConfig::event_time(["k"], "v2", WindowAssigner::tumbling(10));
    assert!(err(c, &schema).contains("timestamp_column"));
    let names = names_schema();
    let c = WindowConfig::event_time(["k"], "name", WindowAssigner::tumbling(10));
    assert!(err(c, &names).contains("expected Int64"));
    let c = WindowConfig::event_time(["k"], "ts", WindowAssigner::tumbling(10)).aggregate(AggregateSpec::sum("name", "s"));
    assert!(err(c, &names).contains("sum(name)"));

    let op = WindowOperator::new(base(), schema.clone()).unwrap();
    let out = op.output_schema();
    let fields: Vec<(&str, &DataType)> = out.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    assert_eq!(
        fields,
        vec![
            ("k", &DataType::Int64),
            ("window_start", &ts),
            ("window_end", &ts),
            ("cnt", &DataType::Int64),
            ("sum", &DataType::Int64),
            ("min", &DataType::Int64),
            ("max", &DataType::Int64),
            ("avg", &DataType::Float64),
        ]
    );
    assert_eq!(op.late_output_schema(), schema);
    let json = serde_json::to_string(op.config()).unwrap();
    let back: WindowConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.assigner, WindowAssigner::tumbling(10));
}

#[test]
fn null_event_time_is_an_error() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("ts", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ]));
    let cfg = config(WindowAssigner::tumbling(10), 0, false);
    let mut h = harness(&cfg, &schema, BackendKind::Heap);
    let input = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ],
    )
    .unwrap();
    let err = h.process(input).unwrap_err().to_string();
    assert!(err.contains("'ts'") && err.contains("row 1"), "{err}");
}

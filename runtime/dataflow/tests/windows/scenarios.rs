//! Hand-written scenarios (each on both backends) and the hot-items benchmark.

use super::model::aggregated;
use super::*;
use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::TimeUnit;
use freshet_dataflow::window::{udaf, AggregateFunction};

fn rec_at(key: &str, ts: i64, v: i64) -> Rec {
    Rec {
        key: key.into(),
        ts,
        v: Some(v),
    }
}

#[test]
fn bridging_record_merges_two_sessions() -> Result<()> {
    for backend in BACKENDS {
        let c = config(WindowAssigner::session(10), 0, false, true);
        let mut h = harness(&c, backend)?;
        assert!(h
            .process(batch_of(&[rec_at("a", 0, 1), rec_at("a", 15, 2), rec_at("b", 9, 5)]))?
            .is_empty());
        assert_eq!(h.ctx().timer_count(), 3, "one timer per session");
        assert!(h.watermark(5)?.is_empty());
        // [8, 18) touches [0, 10) and [15, 25): one session [0, 25).
        assert!(h.process(batch_of(&[rec_at("a", 8, 4)]))?.is_empty());
        assert_eq!(h.ctx().timer_count(), 2, "obsolete session timers are deleted");
        let fired = h.watermark(24)?;
        assert_eq!(fired.len(), 1);
        let mut rows = rows_of(&fired[0]);
        rows.sort();
        assert_eq!(
            rows,
            vec![
                aggregated("a", Some(0), Some(25), &[Some(1), Some(2), Some(4)]),
                aggregated("b", Some(9), Some(19), &[Some(5)]),
            ]
        );
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
        assert!(h
            .process(batch_of(&[rec_at("a", 500, 1), rec_at("b", -7, 2)]))?
            .is_empty());
        h.set_clock(9);
        assert!(h.process(batch_of(&[rec_at("a", 0, 3)]))?.is_empty());
        assert!(h.processing_time(8)?.is_empty());
        let fired = h.processing_time(12)?;
        assert_eq!(fired.len(), 1, "one batch per firing time");
        let mut rows = rows_of(&fired[0]);
        rows.sort();
        assert_eq!(
            rows,
            vec![
                aggregated("a", Some(0), Some(10), &[Some(1), Some(3)]),
                aggregated("b", Some(0), Some(10), &[Some(2)]),
            ]
        );
        h.set_clock(15);
        assert!(h.process(batch_of(&[rec_at("a", 0, 7)]))?.is_empty());
        let rest = h.finish()?;
        assert_eq!(
            rest.iter().flat_map(rows_of).collect::<Vec<_>>(),
            vec![aggregated("a", Some(10), Some(20), &[Some(7)])]
        );
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
            out.extend(h.process(batch_of(&[
                rec_at("a", 3, 4),
                Rec {
                    key: "a".into(),
                    ts: 4,
                    v: None,
                },
            ]))?);
            out.extend(h.finish()?);
            let sq: Vec<i64> = out
                .iter()
                .flat_map(|b| b.column(3).as_primitive::<Int64Type>().values().to_vec())
                .collect();
            let expected = if assigner.is_time_based() {
                vec![4 + 9 + 16]
            } else {
                vec![4, 13, 25, 16]
            };
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
        let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(
            recs.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(schema.clone(), vec![k, ts]).unwrap()
    };
    let c = WindowConfig::event_time(["k"], "ts", WindowAssigner::tumbling(10))
        .aggregate(AggregateSpec::count("n"))
        .allowed_lateness(5)
        .late_output(LATE);
    for backend in BACKENDS {
        let (c2, s2) = (c.clone(), schema.clone());
        let factory = move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(WindowOperator::new(c2.clone(), s2.clone())?))
        };
        let mut h = OperatorHarness::new(factory, test_task_info("window"), Some(backend))?;
        assert!(h.process(batch(&[("a", 1), ("a", 12)]))?.is_empty());
        assert_eq!(h.watermark(12)?.len(), 1, "[0, 10) fires");
        // Within the lateness: [0, 10) is updated and emitted again at once.
        let again = h.process(batch(&[("a", 5)]))?;
        let n = |b: &RecordBatch| b.column(3).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(again.iter().flat_map(n).collect::<Vec<_>>(), vec![2]);
        assert_eq!(
            h.watermark(20)?.iter().flat_map(n).collect::<Vec<_>>(),
            vec![1],
            "[10, 20) fires"
        );
        // [0, 10) was cleaned up at 14: too late. [10, 20) is within its lateness.
        let out = h.process(batch(&[("a", 9), ("b", 0), ("a", 19), ("a", 25)]))?;
        assert_eq!(out.iter().flat_map(n).collect::<Vec<_>>(), vec![2]);
        let late = h.take_side_output(LATE);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].schema(), schema);
        assert_eq!(
            late[0]
                .column(1)
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec(),
            vec![9, 0]
        );
        assert_eq!(late[0].column(0).as_string::<i32>().value(1), "b");
        assert_eq!(h.late_records_side_output(), 2);
        assert_eq!(h.late_records_dropped(), 0);
        assert_eq!(h.finish()?.iter().flat_map(n).collect::<Vec<_>>(), vec![1], "[20, 30)");
    }
    Ok(())
}

#[test]
fn bad_config_names_the_option() {
    let err = WindowOperator::new(
        WindowConfig::event_time(["k"], "nope", WindowAssigner::tumbling(10)),
        input_schema(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("timestamp_column"), "{err}");
    let err = WindowOperator::new(
        WindowConfig::event_time(["k"], "ts", WindowAssigner::sliding(5, 10)),
        input_schema(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("slide_ms"), "{err}");
    let err = WindowOperator::new(
        WindowConfig::event_time(["k"], "ts", WindowAssigner::tumbling(10)).allowed_lateness(-1),
        input_schema(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("allowed_lateness_ms"), "{err}");
}

//! Tests of the group aggregation operator, driven through the operator harness.

use super::*;
use arrow::array::{Int64Array, Int8Array};
use arrow::datatypes::{Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_state::BackendKind;

/// Input (k, v[, row kind]); aggregates over v.
fn config(aggregates: Vec<(GroupAggKind, bool)>, changelog: bool, ttl: Option<TtlConfig>) -> GroupAggregateConfig {
    let mut input = vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ];
    if changelog {
        input.push(Field::new("__row_kind", DataType::Int8, false));
    }
    let aggregates: Vec<GroupAggSpec> = aggregates
        .into_iter()
        .map(|(kind, filtered)| GroupAggSpec {
            kind,
            arg: (kind != GroupAggKind::CountStar).then_some(1),
            arg_type: ValueType::Int,
            filter: filtered.then_some(2),
        })
        .collect();
    let mut output = vec![Field::new("k", DataType::Int64, true)];
    for (i, a) in aggregates.iter().enumerate() {
        output.push(Field::new(format!("__agg_{i}"), a.output_type(), true));
    }
    output.push(Field::new("__row_kind", DataType::Int8, false));
    GroupAggregateConfig {
        key_columns: vec!["k".into()],
        aggregates,
        input_changelog: changelog,
        input_schema: Arc::new(Schema::new(input)),
        output_schema: Arc::new(Schema::new(output)),
        ttl,
    }
}

fn harness(config: GroupAggregateConfig, backend: BackendKind) -> OperatorHarness {
    let config = Arc::new(config);
    OperatorHarness::new(
        move |_: &_| Ok(Box::new(GroupAggregateOperator::new(config.clone())) as Box<dyn Operator>),
        test_task_info("group-agg"),
        Some(backend),
    )
    .expect("harness")
}

/// A batch of (k, v, kind) rows; the kind column only for a changelog schema.
fn batch(config: &GroupAggregateConfig, rows: &[(i64, Option<i64>, RowKind)]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
    ];
    if config.input_changelog {
        columns.push(Arc::new(Int8Array::from_iter_values(rows.iter().map(|r| r.2 as i8))));
    }
    RecordBatch::try_new(config.input_schema.clone(), columns).expect("batch")
}

/// Output rows as `+I[k, a, b]` text.
fn text(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("null");
    let mut lines = Vec::new();
    for b in batches {
        let n = b.num_columns() - 1;
        let kinds = b.column(n).as_any().downcast_ref::<Int8Array>().expect("kinds");
        let f: Vec<_> = (0..n)
            .map(|i| ArrayFormatter::try_new(b.column(i).as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..b.num_rows() {
            let values: Vec<String> = f.iter().map(|f| f.value(row).to_string()).collect();
            let kind = RowKind::from_i8(kinds.value(row)).expect("kind").short();
            lines.push(format!("{kind}[{}]", values.join(", ")));
        }
    }
    lines
}

use RowKind::{Delete as D, Insert as I, UpdateAfter as UA, UpdateBefore as UB};

#[test]
fn inserts_updates_and_silence_when_unchanged() {
    let c = config(
        vec![(GroupAggKind::Max, false), (GroupAggKind::Avg, false)],
        false,
        None,
    );
    let mut h = harness(c.clone(), BackendKind::Heap);
    let out = h
        .process(batch(&c, &[(1, Some(5), I), (1, Some(2), I), (2, Some(-7), I)]))
        .expect("process");
    assert_eq!(text(&out), ["+I[1, 5, 3.0]", "+I[2, -7, -7.0]"]);
    // AVG(BIGINT) truncates toward zero: (5 + 2 + 4) / 3 = 3 stays 3, MAX stays 5: no change.
    let out = h.process(batch(&c, &[(1, Some(4), I)])).expect("process");
    assert!(text(&out).is_empty(), "{:?}", text(&out));
    // Neither changes: MAX(-7, -8) = -7, AVG = -15 / 2 = -7 (truncated); NULL is ignored.
    let out = h
        .process(batch(&c, &[(2, Some(-8), I), (1, None, I)]))
        .expect("process");
    assert!(text(&out).is_empty(), "{:?}", text(&out));
    let out = h.process(batch(&c, &[(2, Some(-20), I)])).expect("process");
    assert_eq!(text(&out), ["-U[2, -7, -7.0]", "+U[2, -7, -11.0]"]);
}

#[test]
fn retractions_restore_min_max_and_distinct_and_delete_empty_groups() {
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let c = config(
            vec![
                (GroupAggKind::CountStar, false),
                (GroupAggKind::Min, false),
                (GroupAggKind::CountDistinct, false),
                (GroupAggKind::Sum, false),
            ],
            true,
            None,
        );
        let mut h = harness(c.clone(), backend);
        let out = h
            .process(batch(&c, &[(1, Some(3), I), (1, Some(1), I), (1, Some(3), I)]))
            .expect("process");
        assert_eq!(text(&out), ["+I[1, 3, 1, 2, 7]"]);
        // Retract the minimum: the next one (3) comes back from the value counts.
        let out = h.process(batch(&c, &[(1, Some(1), UB)])).expect("process");
        assert_eq!(text(&out), ["-U[1, 3, 1, 2, 7]", "+U[1, 2, 3, 1, 6]"]);
        h.snapshot_and_restore(backend).expect("restore");
        let out = h.process(batch(&c, &[(1, Some(3), D)])).expect("process");
        assert_eq!(text(&out), ["-U[1, 2, 3, 1, 6]", "+U[1, 1, 3, 1, 3]"]);
        let out = h.process(batch(&c, &[(1, Some(3), D)])).expect("process");
        assert_eq!(text(&out), ["-D[1, 1, 3, 1, 3]"]);
        // The group starts afresh.
        let out = h.process(batch(&c, &[(1, Some(9), UA)])).expect("process");
        assert_eq!(text(&out), ["+I[1, 1, 9, 1, 9]"]);
    }
}

#[test]
fn filters_skip_rows_for_their_aggregate_only() {
    let mut c = config(
        vec![(GroupAggKind::CountStar, true), (GroupAggKind::Sum, true)],
        false,
        None,
    );
    let mut fields: Vec<Field> = c.input_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("f", DataType::Boolean, true));
    c.input_schema = Arc::new(Schema::new(fields));
    let mut h = harness(c.clone(), BackendKind::Heap);
    let b = RecordBatch::try_new(
        c.input_schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 1, 1])),
            Arc::new(Int64Array::from(vec![10, 20, 30])),
            Arc::new(BooleanArray::from(vec![Some(false), None, Some(false)])),
        ],
    )
    .expect("batch");
    // No row passes: the group exists (it has rows) with a zero count and a NULL sum.
    assert_eq!(text(&h.process(b).expect("process")), ["+I[1, 0, null]"]);
}

#[test]
fn expired_groups_start_afresh() {
    let c = config(
        vec![(GroupAggKind::CountStar, false)],
        false,
        Some(TtlConfig::after_write(1_000)),
    );
    let mut h = harness(c.clone(), BackendKind::Heap);
    h.set_clock(0);
    assert_eq!(text(&h.process(batch(&c, &[(1, None, I)])).expect("p")), ["+I[1, 1]"]);
    h.set_clock(500);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, None, I)])).expect("p")),
        ["-U[1, 1]", "+U[1, 2]"]
    );
    h.set_clock(2_000);
    assert_eq!(text(&h.process(batch(&c, &[(1, None, I)])).expect("p")), ["+I[1, 1]"]);
}

#[test]
fn value_counts_live_as_long_as_their_group() {
    let c = config(
        vec![(GroupAggKind::CountStar, false), (GroupAggKind::CountDistinct, false)],
        false,
        Some(TtlConfig::after_write(1_000)),
    );
    let mut h = harness(c.clone(), BackendKind::Heap);
    h.set_clock(0);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(5), I)])).expect("p")),
        ["+I[1, 1, 1]"]
    );
    h.set_clock(900);
    h.process(batch(&c, &[(1, Some(6), I)])).expect("p");
    // 5 was counted 1.5 s ago, but its group lives: it is still a known value.
    h.set_clock(1_500);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(5), I)])).expect("p")),
        ["-U[1, 2, 2]", "+U[1, 3, 2]"]
    );
    // The group expires; the timer frees its value counts; it starts afresh.
    h.processing_time(5_000).expect("timers");
    assert_eq!(h.ctx().timer_count(), 0);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(6), I)])).expect("p")),
        ["+I[1, 1, 1]"]
    );
}

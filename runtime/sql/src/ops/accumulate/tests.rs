//! Tests of the accumulator aggregation operator, driven through the operator harness.

use super::*;
use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::functions_aggregate::{bool_and_or::bool_and_udaf, sum::sum_udaf, variance::var_pop_udaf};
use datafusion::logical_expr::AggregateUDF;
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use datafusion::physical_expr::expressions::{col, lit, BinaryExpr, CastExpr};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_state::BackendKind;

/// Input (k, v[, row kind]); the aggregates take `v`, `BOOL_AND` takes `v > 0`; `SUM` is
/// filtered by `v < 100`.
fn config(changelog: bool, ttl: Option<TtlConfig>) -> AccumulateConfig {
    let mut input = vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ];
    if changelog {
        input.push(Field::new("__row_kind", DataType::Int8, false));
    }
    let schema = Arc::new(Schema::new(input));
    let v = col("v", &schema).expect("v");
    let aggregate = |fun: Arc<AggregateUDF>, arg: Arc<dyn PhysicalExpr>, name: &str| {
        Arc::new(
            AggregateExprBuilder::new(fun, vec![arg])
                .schema(schema.clone())
                .alias(name)
                .build()
                .expect("aggregate"),
        )
    };
    let positive: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
        v.clone(),
        datafusion::logical_expr::Operator::Gt,
        lit(0i64),
    ));
    let small: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
        v.clone(),
        datafusion::logical_expr::Operator::Lt,
        lit(100i64),
    ));
    let mut aggregates = vec![
        AccumulateSpec {
            // Coerced as DataFusion's analyzer would: VAR_POP takes DOUBLE.
            function: aggregate(
                var_pop_udaf(),
                Arc::new(CastExpr::new(v.clone(), DataType::Float64, None)),
                "var",
            ),
            filter: None,
            retracting: changelog,
            extreme: None,
        },
        AccumulateSpec {
            function: aggregate(sum_udaf(), v.clone(), "sum"),
            filter: Some(small),
            retracting: changelog,
            extreme: None,
        },
    ];
    if !changelog {
        aggregates.push(AccumulateSpec {
            function: aggregate(bool_and_udaf(), positive, "all_positive"),
            filter: None,
            retracting: false,
            extreme: None,
        });
    }
    let mut output = vec![Field::new("k", DataType::Int64, true)];
    for (i, a) in aggregates.iter().enumerate() {
        output.push(Field::new(
            format!("__agg_{i}"),
            a.function.field().data_type().clone(),
            true,
        ));
    }
    output.push(Field::new("__row_kind", DataType::Int8, false));
    AccumulateConfig {
        key_columns: vec!["k".into()],
        aggregates,
        input_changelog: changelog,
        input_schema: schema,
        output_schema: Arc::new(Schema::new(output)),
        ttl,
    }
}

fn harness(config: AccumulateConfig, backend: BackendKind) -> OperatorHarness {
    let config = Arc::new(config);
    OperatorHarness::new(
        move |_: &_| Ok(Box::new(AccumulateOperator::new(config.clone())) as Box<dyn Operator>),
        test_task_info("accumulate-agg"),
        Some(backend),
    )
    .expect("harness")
}

fn batch(config: &AccumulateConfig, rows: &[(i64, Option<i64>, RowKind)]) -> RecordBatch {
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
fn appends_insert_update_and_stay_silent_when_unchanged_across_a_restore() {
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let c = config(false, None);
        let mut h = harness(c.clone(), backend);
        let out = h
            .process(batch(&c, &[(1, Some(2), I), (1, Some(4), I), (2, Some(-3), I)]))
            .expect("process");
        assert_eq!(text(&out), ["+I[1, 1.0, 6, true]", "+I[2, 0.0, -3, false]"]);
        h.snapshot_and_restore(backend).expect("restore");
        // A NULL changes nothing; 200 is filtered out of the SUM but not of VAR_POP.
        let out = h.process(batch(&c, &[(2, None, I)])).expect("process");
        assert!(text(&out).is_empty(), "{:?}", text(&out));
        let out = h.process(batch(&c, &[(1, Some(200), I)])).expect("process");
        // VAR_POP(2, 4, 200) = 40020 / 3 - (206 / 3)^2 = 8624.888...
        let out = text(&out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0], "-U[1, 1.0, 6, true]");
        assert!(
            out[1].starts_with("+U[1, 8624.888") && out[1].ends_with(", 6, true]"),
            "{out:?}"
        );
    }
}

#[test]
fn retractions_update_and_delete_groups_across_a_restore() {
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let c = config(true, None);
        let mut h = harness(c.clone(), backend);
        let out = h
            .process(batch(
                &c,
                &[(1, Some(1), I), (1, Some(3), I), (1, Some(3), UB), (1, Some(5), UA)],
            ))
            .expect("process");
        assert_eq!(text(&out), ["+I[1, 4.0, 6]"]);
        h.snapshot_and_restore(backend).expect("restore");
        let out = h.process(batch(&c, &[(1, Some(5), D)])).expect("process");
        assert_eq!(text(&out), ["-U[1, 4.0, 6]", "+U[1, 0.0, 1]"]);
        let out = h.process(batch(&c, &[(1, Some(1), D)])).expect("process");
        assert_eq!(text(&out), ["-D[1, 0.0, 1]"]);
        // The group starts afresh.
        let out = h.process(batch(&c, &[(1, Some(7), I)])).expect("process");
        assert_eq!(text(&out), ["+I[1, 0.0, 7]"]);
    }
}

#[test]
fn expired_groups_start_afresh() {
    let c = config(false, Some(TtlConfig::after_write(1_000)));
    let mut h = harness(c.clone(), BackendKind::Heap);
    h.set_clock(0);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(1), I)])).expect("p")),
        ["+I[1, 0.0, 1, true]"]
    );
    h.set_clock(500);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(3), I)])).expect("p")),
        ["-U[1, 0.0, 1, true]", "+U[1, 1.0, 4, true]"]
    );
    h.set_clock(2_000);
    assert_eq!(
        text(&h.process(batch(&c, &[(1, Some(3), I)])).expect("p")),
        ["+I[1, 0.0, 3, true]"]
    );
}

#[test]
fn a_window_accumulator_survives_encoding_and_merges_panes() {
    use super::window::WindowAccumulate;
    use arrow::array::{make_builder, StructArray};
    use freshet_dataflow::window::DynAggregateFunction;

    let c = config(false, None);
    let f = WindowAccumulate {
        function: c.aggregates[0].function.clone(),
        input_type: DataType::Struct(vec![Field::new("a0", DataType::Float64, true)].into()),
    };
    // The packed input: one struct column; a NULL struct row (a failed FILTER) is skipped.
    let values: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![2.0, 4.0, 100.0, 200.0]));
    let input = StructArray::try_new(
        vec![Field::new("a0", DataType::Float64, true)].into(),
        vec![values],
        Some(vec![true, true, false, true].into()),
    )
    .expect("struct");
    let mut first = f.create();
    f.add(first.as_mut(), &input, 0).expect("add");
    f.add(first.as_mut(), &input, 2).expect("add");
    let mut bytes = Vec::new();
    f.encode(first.as_ref(), &mut bytes).expect("encode");
    let mut restored = f.decode(&bytes).expect("decode");
    let mut second = f.create();
    f.add(second.as_mut(), &input, 1).expect("add");
    f.add(second.as_mut(), &input, 3).expect("add");
    f.merge(restored.as_mut(), second).expect("merge");
    // VAR_POP(2, 4, 200) = 8624.888...; the encoded accumulator still holds its values.
    let mut builder = make_builder(&f.output_type(), 2);
    f.append_result(restored.as_ref(), builder.as_mut()).expect("result");
    f.append_result(first.as_ref(), builder.as_mut()).expect("result");
    let out = builder.finish();
    let out = out.as_primitive::<arrow::datatypes::Float64Type>();
    assert!((out.value(0) - 8_624.888_888_888_889).abs() < 1e-6, "{out:?}");
    assert_eq!(out.value(1), 0.0);
}

#[test]
fn min_and_max_retract_by_value_and_survive_their_state() {
    use super::extreme::{Extreme, ExtremeAccumulator};
    let values = |v: &[i64]| -> Vec<ArrayRef> { vec![Arc::new(Int64Array::from(v.to_vec()))] };
    let mut min = ExtremeAccumulator::new(Extreme::Min, DataType::Int64);
    min.update_batch(&values(&[5, 3, 3, 9])).expect("update");
    // The oldest row is 5, but retracting 3 once leaves the other 3: the minimum stays.
    min.retract_batch(&values(&[3])).expect("retract");
    assert_eq!(min.evaluate().expect("evaluate"), ScalarValue::Int64(Some(3)));
    let state: Vec<ArrayRef> = min
        .state()
        .expect("state")
        .iter()
        .map(|v| v.to_array().expect("array"))
        .collect();
    let mut restored = ExtremeAccumulator::new(Extreme::Min, DataType::Int64);
    restored.merge_batch(&state).expect("merge");
    restored.retract_batch(&values(&[3])).expect("retract");
    assert_eq!(restored.evaluate().expect("evaluate"), ScalarValue::Int64(Some(5)));
    restored.retract_batch(&values(&[5, 9])).expect("retract");
    assert_eq!(restored.evaluate().expect("evaluate"), ScalarValue::Int64(None));
    let mut max = ExtremeAccumulator::new(Extreme::Max, DataType::Int64);
    max.update_batch(&values(&[5, 9])).expect("update");
    max.retract_batch(&values(&[9])).expect("retract");
    assert_eq!(max.evaluate().expect("evaluate"), ScalarValue::Int64(Some(5)));
}

//! [`JoinOperator`] driven by the operator harness: matching, residual conditions, NULL keys,
//! state expiry and restore.

use super::{JoinKind, JoinOperator, JoinSpec};
use arrow::array::{Array, Int64Array, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::logical_expr::Operator as BinaryOp;
use datafusion::physical_expr::expressions::{BinaryExpr, Column};
use freshet_dataflow::testing::{test_task_info, OperatorHarness};
use freshet_dataflow::{Operator, TaskInfo};
use freshet_state::BackendKind;
use std::sync::Arc;

fn side(prefix: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(format!("{prefix}k"), DataType::Int64, true),
        Field::new(format!("{prefix}t"), DataType::Int64, false),
        Field::new(format!("{prefix}s"), DataType::Utf8, true),
    ]))
}

fn batch(schema: &SchemaRef, rows: &[(Option<i64>, i64, &str)]) -> RecordBatch {
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        ],
    )
    .expect("batch")
}

fn spec(kind: JoinKind, keys: &[&str], residual: bool) -> JoinSpec {
    let (left, right) = (side("l"), side("r"));
    let output: SchemaRef = Arc::new(Schema::new(
        left.fields()
            .iter()
            .chain(right.fields().iter())
            .cloned()
            .collect::<Vec<_>>(),
    ));
    // l.t < r.t, over the output columns.
    let residual = residual.then(|| {
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new("lt", 1)),
            BinaryOp::Lt,
            Arc::new(Column::new("rt", 4)),
        )) as Arc<dyn datafusion::physical_expr::PhysicalExpr>
    });
    JoinSpec {
        left_keys: keys.iter().map(|k| format!("l{k}")).collect(),
        right_keys: keys.iter().map(|k| format!("r{k}")).collect(),
        left_schema: left,
        right_schema: right,
        left_output: 3,
        right_output: 3,
        residual,
        output_schema: output,
        kind,
        ttl: None,
    }
}

fn harness(spec: JoinSpec, backend: BackendKind) -> OperatorHarness {
    let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
        Ok(Box::new(JoinOperator::new(spec.clone())))
    };
    OperatorHarness::new(factory, test_task_info("join"), Some(backend)).expect("harness")
}

/// `(left s, right s)` of every output row, sorted.
fn pairs(batches: Vec<RecordBatch>) -> Vec<(String, String)> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let all = concat_batches(&first.schema(), &batches).expect("concat");
    let column = |i: usize| {
        all.column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("strings")
            .clone()
    };
    let (l, r) = (column(2), column(5));
    let mut out: Vec<(String, String)> = (0..all.num_rows())
        .map(|i| (l.value(i).to_string(), r.value(i).to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn regular_join_matches_duplicates_skips_null_keys_and_filters() {
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let mut h = harness(spec(JoinKind::Regular, &["k"], true), backend);
        let (l, r) = (side("l"), side("r"));
        let out = h
            .process_input(0, batch(&l, &[(Some(1), 5, "a"), (Some(1), 5, "a"), (None, 5, "x")]))
            .expect("left");
        assert!(pairs(out).is_empty());
        let out = h
            .process_input(
                1,
                batch(&r, &[(Some(1), 9, "b"), (Some(1), 1, "early"), (None, 9, "y")]),
            )
            .expect("right");
        assert_eq!(pairs(out), vec![("a".into(), "b".into()), ("a".into(), "b".into())]);
        // Both sides stay: a later left row matches the stored right rows.
        h.snapshot_and_restore(backend).expect("restore");
        let out = h.process_input(0, batch(&l, &[(Some(1), 0, "c")])).expect("left");
        assert_eq!(pairs(out), vec![("c".into(), "b".into()), ("c".into(), "early".into())]);
    }
}

#[test]
fn interval_join_drops_rows_once_the_watermark_passes_their_bound() {
    let kind = JoinKind::Interval {
        left_time: 1,
        right_time: 1,
        lower: 0,
        upper: 10,
    };
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let mut h = harness(spec(kind, &["k"], false), backend);
        let (l, r) = (side("l"), side("r"));
        h.process_input(0, batch(&l, &[(Some(1), 100, "a")])).expect("left");
        // The operator keeps every row until expiry; the SQL condition does the bounding.
        let out = h.process_input(1, batch(&r, &[(Some(1), 105, "b")])).expect("right");
        assert_eq!(pairs(out), vec![("a".into(), "b".into())]);
        h.watermark(110).expect("watermark");
        h.snapshot_and_restore(backend).expect("restore");
        let out = h.process_input(1, batch(&r, &[(Some(1), 110, "c")])).expect("right");
        assert_eq!(pairs(out), vec![("a".into(), "c".into())]);
        // At 111 the left row (100 + 10 < 111) and the right rows (105, 110 < 111) go.
        h.watermark(111).expect("watermark");
        let out = h.process_input(1, batch(&r, &[(Some(1), 110, "late")])).expect("right");
        assert!(pairs(out).is_empty());
        let out = h.process_input(0, batch(&l, &[(Some(1), 111, "d")])).expect("left");
        assert_eq!(pairs(out), vec![("d".into(), "late".into())], "the late row was stored");
    }
}

#[test]
fn window_join_drops_a_window_once_the_watermark_passes_its_end() {
    // `t` plays window_end and is a key, as the planner makes it.
    let kind = JoinKind::Window {
        left_end: 1,
        right_end: 1,
    };
    let mut h = harness(spec(kind, &["k", "t"], false), BackendKind::Heap);
    let (l, r) = (side("l"), side("r"));
    h.process_input(0, batch(&l, &[(Some(1), 1_000, "a"), (Some(1), 2_000, "next")]))
        .expect("left");
    h.watermark(999).expect("watermark");
    let out = h.process_input(1, batch(&r, &[(Some(1), 1_000, "b")])).expect("right");
    assert_eq!(pairs(out), vec![("a".into(), "b".into())]);
    h.watermark(1_000).expect("watermark");
    let out = h
        .process_input(1, batch(&r, &[(Some(1), 1_000, "gone"), (Some(1), 2_000, "c")]))
        .expect("right");
    assert_eq!(pairs(out), vec![("next".into(), "c".into())]);
}

#[test]
fn regular_join_rows_expire_after_the_state_ttl() {
    let mut with_ttl = spec(JoinKind::Regular, &["k"], false);
    with_ttl.ttl = Some(freshet_state::ttl::TtlConfig::after_write(100));
    let mut h = harness(with_ttl, BackendKind::Heap);
    let (l, r) = (side("l"), side("r"));
    h.set_clock(1_000);
    h.process_input(0, batch(&l, &[(Some(1), 0, "a")])).expect("left");
    h.set_clock(1_050);
    h.process_input(0, batch(&l, &[(Some(1), 0, "b")])).expect("left");
    h.set_clock(1_120);
    let out = h.process_input(1, batch(&r, &[(Some(1), 0, "x")])).expect("right");
    assert_eq!(pairs(out), vec![("b".into(), "x".into())]);
}

mod updating {
    use super::*;
    use crate::ops::join::{UpdatingJoinOperator, UpdatingJoinSpec, UpdatingSide};
    use arrow::array::Int8Array;

    /// `side("r")` with a trailing row-kind column.
    fn changelog_side() -> SchemaRef {
        let mut fields: Vec<Field> = side("r").fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("__row_kind", DataType::Int8, false));
        Arc::new(Schema::new(fields))
    }

    fn changelog_batch(rows: &[(Option<i64>, i64, &str, i8)]) -> RecordBatch {
        let plain = batch(&side("r"), &rows.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>());
        let mut columns = plain.columns().to_vec();
        columns.push(Arc::new(Int8Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())));
        RecordBatch::try_new(changelog_side(), columns).expect("batch")
    }

    /// A LEFT JOIN of an append-only left input and a changelog right input on `k`.
    fn left_join(backend: BackendKind) -> OperatorHarness {
        left_join_with_ttl(backend, None)
    }

    fn left_join_with_ttl(backend: BackendKind, ttl: Option<freshet_state::ttl::TtlConfig>) -> OperatorHarness {
        let (left, right) = (side("l"), changelog_side());
        let joined: SchemaRef = Arc::new(Schema::new(
            left.fields()
                .iter()
                .chain(side("r").fields().iter())
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let mut fields: Vec<Field> = joined
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        fields.push(Field::new("__row_kind", DataType::Int8, false));
        let joined: SchemaRef = Arc::new(Schema::new(fields[..6].to_vec()));
        let spec = UpdatingJoinSpec {
            left: UpdatingSide {
                schema: left,
                keys: vec!["lk".into()],
                output: 3,
                changelog: false,
                outer: true,
            },
            right: UpdatingSide {
                schema: right,
                keys: vec!["rk".into()],
                output: 3,
                changelog: true,
                outer: false,
            },
            residual: None,
            joined_schema: joined,
            output_schema: Arc::new(Schema::new(fields)),
            ttl,
        };
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(UpdatingJoinOperator::new(spec.clone())))
        };
        OperatorHarness::new(factory, test_task_info("join"), Some(backend)).expect("harness")
    }

    /// `kind left-s right-s` of every output row, in order.
    fn changes(batches: Vec<RecordBatch>) -> Vec<String> {
        let mut out = Vec::new();
        for b in batches {
            let l = b
                .column(2)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings")
                .clone();
            let r = b
                .column(5)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings")
                .clone();
            let k = b.column(6).as_any().downcast_ref::<Int8Array>().expect("kinds").clone();
            for i in 0..b.num_rows() {
                let text = |a: &StringArray| {
                    if a.is_null(i) {
                        "-".to_string()
                    } else {
                        a.value(i).to_string()
                    }
                };
                out.push(format!("{} {} {}", k.value(i), text(&l), text(&r)));
            }
        }
        out
    }

    #[test]
    fn left_join_pads_retracts_the_padding_and_brings_it_back() {
        for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
            let mut h = left_join(backend);
            let l = side("l");
            let out = h
                .process_input(0, batch(&l, &[(Some(1), 0, "a"), (None, 0, "nokey")]))
                .expect("left");
            assert_eq!(changes(out), ["0 nokey -", "0 a -"]);
            h.snapshot_and_restore(backend).expect("restore");
            // The first match retracts the padded row, a second one only adds.
            let out = h
                .process_input(1, changelog_batch(&[(Some(1), 0, "b", 0), (Some(1), 0, "c", 0)]))
                .expect("right");
            assert_eq!(changes(out), ["3 a -", "0 a b", "0 a c"]);
            // Retractions: -U of b, then -D of c (the last match) brings the padded row back;
            // a retraction of a row never stored is dropped.
            let out = h
                .process_input(
                    1,
                    changelog_batch(&[(Some(1), 0, "b", 1), (Some(1), 0, "c", 3), (Some(1), 0, "never", 3)]),
                )
                .expect("right");
            assert_eq!(changes(out), ["3 a b", "3 a c", "0 a -"]);
            // A later left row of the key finds no partner.
            let out = h.process_input(0, batch(&l, &[(Some(1), 0, "d")])).expect("left");
            assert_eq!(changes(out), ["0 d -"]);
        }
    }

    #[test]
    fn stored_rows_expire_after_the_state_ttl() {
        let ttl = Some(freshet_state::ttl::TtlConfig::after_write(100));
        let mut h = left_join_with_ttl(BackendKind::Heap, ttl);
        let l = side("l");
        h.set_clock(1_000);
        h.process_input(0, batch(&l, &[(Some(1), 0, "old")])).expect("left");
        h.set_clock(1_050);
        h.process_input(0, batch(&l, &[(Some(1), 0, "young")])).expect("left");
        h.set_clock(1_120);
        let out = h
            .process_input(1, changelog_batch(&[(Some(1), 0, "b", 0)]))
            .expect("right");
        assert_eq!(changes(out), ["3 young -", "0 young b"]);
        // The right row expires too: a retraction of it is dropped.
        h.set_clock(1_500);
        let out = h
            .process_input(1, changelog_batch(&[(Some(1), 0, "b", 3)]))
            .expect("right");
        assert!(changes(out).is_empty());
    }
}

mod lookup {
    use super::*;
    use crate::ops::join::{DimensionStep, DimensionTable, LookupJoinOperator, LookupJoinSpec};
    use arrow::array::Int8Array;
    use freshet_connectors::FileSourceConfig;

    /// A lookup of `side("l")` (probe, a changelog when `changelog`) in a CSV file of
    /// `side("r")` rows, on `k`, keeping rows with `l.t < r.t`.
    fn lookup_join(dir: &std::path::Path, left_outer: bool, changelog: bool) -> OperatorHarness {
        std::fs::write(dir.join("dim.csv"), "1,10,a\n1,20,b\n2,10,c\n,10,nokey\n").expect("write");
        let (probe, table) = (side("l"), side("r"));
        let mut probe_fields: Vec<Field> = probe.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut joined: Vec<Field> = probe_fields
            .iter()
            .cloned()
            .chain(table.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)))
            .collect();
        if changelog {
            probe_fields.push(Field::new("__row_kind", DataType::Int8, false));
        }
        let joined_schema: SchemaRef = Arc::new(Schema::new(joined.clone()));
        if changelog {
            joined.push(Field::new("__row_kind", DataType::Int8, false));
        }
        let columns = (0..3)
            .map(|i| {
                Arc::new(Column::new(table.field(i).name(), i)) as Arc<dyn datafusion::physical_expr::PhysicalExpr>
            })
            .collect();
        let spec = LookupJoinSpec {
            dimension: DimensionTable {
                config: FileSourceConfig {
                    path: dir.join("dim.csv").into(),
                    format: freshet_connectors::file_source::FileFormat::Csv,
                    ..FileSourceConfig::default()
                },
                file_schema: table.clone(),
                steps: vec![DimensionStep::Project(columns, table.clone())],
                keys: vec![Arc::new(Column::new("rk", 0))],
            },
            probe_keys: vec![0],
            probe_output: 3,
            probe_changelog: changelog,
            left_outer,
            residual: Some(Arc::new(BinaryExpr::new(
                Arc::new(Column::new("lt", 1)),
                BinaryOp::Lt,
                Arc::new(Column::new("rt", 4)),
            ))),
            joined_schema,
            output_schema: Arc::new(Schema::new(joined)),
        };
        let factory = move |_: &TaskInfo| -> freshet_core::Result<Box<dyn Operator>> {
            Ok(Box::new(LookupJoinOperator::new(spec.clone())))
        };
        OperatorHarness::new(factory, test_task_info("lookup"), None).expect("harness")
    }

    fn rows(batches: Vec<RecordBatch>) -> Vec<String> {
        let mut out = Vec::new();
        for b in batches {
            let l = b
                .column(2)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings")
                .clone();
            let r = b
                .column(5)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings")
                .clone();
            let kinds = b
                .column_by_name("__row_kind")
                .map(|k| k.as_any().downcast_ref::<Int8Array>().expect("kinds").clone());
            for i in 0..b.num_rows() {
                let right = if r.is_null(i) { "-" } else { r.value(i) };
                let kind = kinds.as_ref().map_or(String::new(), |k| format!("{} ", k.value(i)));
                out.push(format!("{kind}{} {right}", l.value(i)));
            }
        }
        out
    }

    #[test]
    fn probe_rows_find_every_table_row_of_their_key_that_passes_the_condition() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut h = lookup_join(dir.path(), false, false);
        let l = side("l");
        let out = h
            .process_input(
                0,
                batch(
                    &l,
                    &[(Some(1), 15, "x"), (Some(1), 5, "y"), (Some(3), 0, "z"), (None, 0, "n")],
                ),
            )
            .expect("probe");
        assert_eq!(rows(out), ["x b", "y a", "y b"]);
    }

    #[test]
    fn a_left_lookup_join_pads_and_a_changelog_probe_keeps_its_row_kinds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut h = lookup_join(dir.path(), true, true);
        let probe = side("l");
        let plain = batch(&probe, &[(Some(2), 0, "x"), (Some(2), 50, "y"), (None, 0, "n")]);
        let mut fields: Vec<Field> = probe.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("__row_kind", DataType::Int8, false));
        let mut columns = plain.columns().to_vec();
        columns.push(Arc::new(Int8Array::from(vec![0, 3, 1])));
        let input = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch");
        assert_eq!(
            rows(h.process_input(0, input).expect("probe")),
            ["0 x c", "3 y -", "1 n -"]
        );
    }
}

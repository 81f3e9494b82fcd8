//! Tests of the datagen source: generators, determinism, splitting, restore and throttling.

use super::*;
use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock};
use arrow::array::AsArray;
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use freshet_core::ManualClock;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Int32, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("ratio", DataType::Float64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]))
}

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn config() -> DatagenConfig {
    DatagenConfig::from_options(&opts(&[
        ("connector", "datagen"),
        ("rows-per-second", "0"),
        ("number-of-rows", "1000"),
        ("seed", "7"),
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "1"),
        ("fields.id.end", "100000"),
        ("fields.score.min", "-5"),
        ("fields.score.max", "5"),
        ("fields.name.length", "6"),
        ("fields.ratio.min", "10"),
        ("fields.ratio.max", "20"),
        ("fields.ts.kind", "event-time"),
        ("fields.ts.start", "1000"),
        ("fields.ts.step", "10"),
    ]))
    .expect("options")
}

fn run(p: u32, splits: Option<u32>) -> Vec<String> {
    let cfg = DatagenConfig { splits, ..config() };
    let mut all = Vec::new();
    for i in 0..p {
        let mut src = DatagenSource::new(schema(), cfg.clone()).expect("source");
        src.open(&mut source_ctx(i, p, Vec::new(), 128)).expect("open");
        let d = drain(&mut src, usize::MAX, 1).expect("drain");
        assert!(d.finished);
        all.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
    }
    all
}

#[test]
fn values_follow_their_generators() {
    let rows = run(1, None);
    assert_eq!(rows.len(), 1000);
    for (r, row) in rows.iter().enumerate() {
        let cols: Vec<&str> = row.split('|').collect();
        assert_eq!(cols[0], (r + 1).to_string());
        let score: i32 = cols[1].parse().expect("int");
        assert!((-5..=5).contains(&score));
        assert_eq!(cols[2].len(), 6);
        let ratio: f64 = cols[3].parse().expect("float");
        assert!((10.0..=20.0).contains(&ratio));
    }
    assert!(rows[0].ends_with("1970-01-01T00:00:01"), "{}", rows[0]);
}

#[test]
fn deterministic_and_independent_of_parallelism_given_splits() {
    assert_eq!(run(1, None), run(1, None));
    let mut a = run(1, Some(4));
    let mut b = run(3, Some(4));
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let mut c = run(1, None);
    c.sort();
    assert_eq!(a, c, "rows are a function of the seed and the row index only");
}

#[test]
fn sequence_end_bounds_the_stream() {
    let cfg = DatagenConfig::from_options(&opts(&[
        ("rows-per-second", "0"),
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "5"),
        ("fields.id.end", "9"),
    ]))
    .expect("options");
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let mut src = DatagenSource::new(schema, cfg).expect("source");
    src.open(&mut source_ctx(0, 1, Vec::new(), 3)).expect("open");
    let d = drain(&mut src, 100, 1).expect("drain");
    let ids: Vec<i64> = d
        .batches
        .iter()
        .flat_map(|(_, b)| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, vec![5, 6, 7, 8, 9]);
    assert_eq!(d.finished_splits, vec![0]);
    assert!(d.finished);
}

#[test]
fn restore_resumes_into_another_parallelism() {
    let cfg = DatagenConfig {
        splits: Some(4),
        ..config()
    };
    let mut expected = run(1, Some(4));
    expected.sort();
    let mut seen = Vec::new();
    let mut items = Vec::new();
    for i in 0..2 {
        let mut src = DatagenSource::new(schema(), cfg.clone()).expect("source");
        src.open(&mut source_ctx(i, 2, Vec::new(), 50)).expect("open");
        let d = drain(&mut src, 3, 1).expect("drain");
        seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
        items.extend(src.snapshot(CheckpointId(1)).expect("snapshot"));
    }
    for i in 0..3usize {
        let mine: Vec<_> = items.iter().skip(i).step_by(3).cloned().collect();
        let mut src = DatagenSource::new(
            schema(),
            DatagenConfig {
                splits: None,
                ..cfg.clone()
            },
        )
        .expect("source");
        src.open(&mut source_ctx(i as u32, 3, mine, 50)).expect("open");
        let d = drain(&mut src, usize::MAX, 1).expect("drain");
        seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
    }
    seen.sort();
    assert_eq!(seen, expected);
}

#[test]
fn throttled_by_the_clock() {
    let cfg = DatagenConfig {
        rows_per_second: Some(1000),
        number_of_rows: None,
        ..config()
    };
    let clock = ManualClock::new(0);
    let mut src = DatagenSource::new(schema(), cfg).expect("source");
    src.open(&mut source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 1000))
        .expect("open");
    let count = |d: &crate::testkit::Drained| d.batches.iter().map(|(_, b)| b.num_rows()).sum::<usize>();
    assert_eq!(count(&drain(&mut src, 100, 1).expect("drain")), 5);
    clock.advance(2000);
    assert_eq!(count(&drain(&mut src, 100, 1).expect("drain")), 2000);
}

#[test]
fn bad_options() {
    let e = |o: &[(&str, &str)]| {
        DatagenConfig::from_options(&opts(o))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(e(&[("rows", "1")]).contains("rows-per-second"));
    assert!(e(&[("fields.id.kind", "sequence")]).contains("fields.id.start"));
    assert!(e(&[("fields.id.kind", "zigzag")]).contains("fields.id.kind"));
    let cfg = DatagenConfig::from_options(&opts(&[("fields.nope.min", "1")])).expect("options");
    assert!(DatagenSource::new(schema(), cfg).is_err());
    let cfg = DatagenConfig::from_options(&opts(&[
        ("fields.name.kind", "sequence"),
        ("fields.name.start", "1"),
        ("fields.name.end", "2"),
    ]))
    .expect("options");
    let err = DatagenSource::new(schema(), cfg)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("'name'"), "{err}");
}

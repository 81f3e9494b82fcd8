//! A source of synthetic rows, like Flink's `datagen` connector: each column has a generator
//! (a sequence, random numbers or strings, or a timestamp), optionally throttled to
//! `rows_per_second` and bounded by `number_of_rows`.
//!
//! Determinism: row `r` is a pure function of (`seed`, `r`): every row seeds its own small
//! random generator (SplitMix64) and draws its columns in schema order. Splitting: rows are dealt
//! to `splits` logical splits, split `s` owning rows `s, s + S, s + 2S, ...`; a split's position
//! is the number of rows it emitted. A fresh subtask `i` of `p` owns splits `{s : s % p == i}`;
//! a restored one owns the splits whose positions it is handed. `splits` defaults to the
//! parallelism of the first run and is carried in the snapshot, so a restore into another
//! parallelism resumes every split exactly. Timestamps of kind `now` read the clock, so they
//! (alone) are not reproducible.

use crate::options::OptionReader;
use arrow::array::{ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, Int8Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Clock, Error, Result};
use freshet_dataflow::{Source, SourceContext, SourcePoll};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// How one column is generated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldKind {
    /// `start + r` for row `r`; the source ends after `end` (inclusive).
    Sequence {
        /// First value.
        start: i64,
        /// Last value.
        end: i64,
    },
    /// A uniform integer in `[min, max]` (also for floats; for strings: their length).
    Random {
        /// Smallest value.
        #[serde(default)]
        min: Option<f64>,
        /// Largest value.
        #[serde(default)]
        max: Option<f64>,
        /// String length (strings only; default 10).
        #[serde(default)]
        length: Option<usize>,
    },
    /// The clock's time when the row is generated (not reproducible).
    Now,
    /// `start + r * step` milliseconds for row `r`: deterministic event time.
    EventTime {
        /// Time of row 0 (ms since the epoch).
        start: i64,
        /// Milliseconds between consecutive rows.
        step: i64,
    },
}

/// Configuration of the datagen source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatagenConfig {
    /// Per-column generators by column name; columns not listed are random.
    pub fields: BTreeMap<String, FieldKind>,
    /// Wall-clock cap on rows per second over all subtasks; `None` is as fast as possible.
    pub rows_per_second: Option<u64>,
    /// Total rows; `None` is unbounded (unless a sequence ends first).
    pub number_of_rows: Option<u64>,
    /// Seed of the random columns.
    pub seed: u64,
    /// Number of logical splits; `None` means the parallelism of the first run.
    pub splits: Option<u32>,
}

impl Default for DatagenConfig {
    fn default() -> Self {
        Self {
            fields: BTreeMap::new(),
            rows_per_second: Some(10_000),
            number_of_rows: None,
            seed: 0,
            splits: None,
        }
    }
}

/// Option keys of [`DatagenConfig::from_options`] (Flink's, plus `seed` and `splits`); per-field
/// keys are `fields.<name>.kind` (`random`, `sequence`, `now`, `event-time`) and
/// `fields.<name>.{min,max,length,start,end,step}`.
pub const DATAGEN_OPTIONS: &[&str] = &["rows-per-second", "number-of-rows", "seed", "splits"];
const FIELD_PROPERTIES: &[&str] = &["kind", "min", "max", "length", "start", "end", "step"];

fn field_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("fields.")?;
    let (name, prop) = rest.rsplit_once('.')?;
    (!name.is_empty() && FIELD_PROPERTIES.contains(&prop)).then_some((name, prop))
}

impl DatagenConfig {
    /// Builds a config from `WITH` options. `rows-per-second` = 0 means unthrottled.
    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Self> {
        let r = OptionReader::new("datagen", options, DATAGEN_OPTIONS, |k| field_key(k).is_some())?;
        let mut c = Self::default();
        if let Some(v) = r.parse::<u64>("rows-per-second")? {
            c.rows_per_second = (v > 0).then_some(v);
        }
        c.number_of_rows = r.parse("number-of-rows")?;
        if let Some(v) = r.parse("seed")? {
            c.seed = v;
        }
        c.splits = r.parse("splits")?;
        let names: std::collections::BTreeSet<&str> = options.keys().filter_map(|k| field_key(k)).map(|(n, _)| n).collect();
        for name in names {
            let key = |p: &str| format!("fields.{name}.{p}");
            let kind = r.raw(&key("kind")).unwrap_or("random").to_ascii_lowercase();
            let spec = match kind.as_str() {
                "sequence" => {
                    let start = r.parse(&key("start"))?.ok_or_else(|| Error::Config(format!("datagen: '{}' needs '{}'", key("kind"), key("start"))))?;
                    let end = r.parse(&key("end"))?.ok_or_else(|| Error::Config(format!("datagen: '{}' needs '{}'", key("kind"), key("end"))))?;
                    FieldKind::Sequence { start, end }
                }
                "random" => FieldKind::Random {
                    min: r.parse(&key("min"))?,
                    max: r.parse(&key("max"))?,
                    length: r.parse(&key("length"))?,
                },
                "now" => FieldKind::Now,
                "event-time" | "event_time" => FieldKind::EventTime {
                    start: r.parse(&key("start"))?.unwrap_or(0),
                    step: r.parse(&key("step"))?.unwrap_or(1),
                },
                other => return Err(r.invalid(&key("kind"), other, "expected random, sequence, now or event-time")),
            };
            c.fields.insert(name.to_string(), spec);
        }
        Ok(c)
    }
}

/// The snapshot item of one split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatagenPosition {
    /// Split index.
    pub split: u32,
    /// Number of splits.
    pub of: u32,
    /// Rows it emitted.
    pub emitted: u64,
}

/// A column's resolved generator.
#[derive(Clone, Debug)]
enum Column {
    Sequence { start: i64 },
    Int { min: i64, span: u64 },
    Float { min: f64, width: f64 },
    Bool,
    Text { length: usize },
    Now,
    EventTime { start: i64, step: i64 },
}

/// SplitMix64: a tiny, fast, well-mixed generator; one per row.
struct RowRandom(u64);

impl RowRandom {
    fn new(seed: u64, row: u64) -> Self {
        Self(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        freshet_core::key_group::fmix64(self.0)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The datagen source.
pub struct DatagenSource {
    schema: SchemaRef,
    config: DatagenConfig,
    columns: Vec<Column>,
    /// Rows of the whole stream: the bound and every sequence's end.
    total_rows: Option<u64>,
    splits: Vec<DatagenPosition>,
    cursor: usize,
    batch_size: usize,
    clock: Option<Arc<dyn Clock>>,
    throttle: Option<(u64, Option<i64>, u64)>,
    finished: VecDeque<u32>,
}

impl DatagenSource {
    /// A source producing `schema` per `config`. Every configured field must exist and suit
    /// its column's type; supported types are integers, floats, booleans, strings and
    /// timestamps (ms, or integers for `now` / `event_time`).
    pub fn new(schema: SchemaRef, config: DatagenConfig) -> Result<Self> {
        for name in config.fields.keys() {
            if schema.field_with_name(name).is_err() {
                return Err(Error::Config(format!("datagen: option 'fields.{name}' names no column of the schema")));
            }
        }
        let mut total_rows = config.number_of_rows;
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let spec = config.fields.get(field.name()).cloned().unwrap_or(match field.data_type() {
                DataType::Timestamp(_, _) => FieldKind::Now,
                _ => FieldKind::Random { min: None, max: None, length: None },
            });
            let bad = |why: &str| Error::Config(format!("datagen: field '{}' ({}): {why}", field.name(), field.data_type()));
            let int_bounds = |dt: &DataType| -> Option<(i64, i64)> {
                Some(match dt {
                    DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
                    DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
                    DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
                    DataType::Int64 => (i64::MIN, i64::MAX),
                    _ => return None,
                })
            };
            let column = match (&spec, field.data_type()) {
                (FieldKind::Sequence { start, end }, dt) if int_bounds(dt).is_some() => {
                    let (lo, hi) = int_bounds(dt).unwrap_or((i64::MIN, i64::MAX));
                    if end < start || *start < lo || *end > hi {
                        return Err(bad("sequence needs start <= end within the column's type"));
                    }
                    let rows = (*end as i128 - *start as i128 + 1).min(u64::MAX as i128) as u64;
                    total_rows = Some(total_rows.map_or(rows, |t| t.min(rows)));
                    Column::Sequence { start: *start }
                }
                (FieldKind::Random { min, max, .. }, dt) if int_bounds(dt).is_some() => {
                    let (lo, hi) = int_bounds(dt).unwrap_or((i64::MIN, i64::MAX));
                    let min = min.map_or(lo, |v| v as i64);
                    let max = max.map_or(hi, |v| v as i64);
                    if min > max || min < lo || max > hi {
                        return Err(bad("random needs min <= max within the column's type"));
                    }
                    Column::Int {
                        min,
                        span: (max as i128 - min as i128) as u64,
                    }
                }
                (FieldKind::Random { min, max, .. }, DataType::Float32 | DataType::Float64) => {
                    let (min, max) = (min.unwrap_or(0.0), max.unwrap_or(1.0));
                    if min > max || !min.is_finite() || !max.is_finite() {
                        return Err(bad("random needs finite min <= max"));
                    }
                    Column::Float { min, width: max - min }
                }
                (FieldKind::Random { .. }, DataType::Boolean) => Column::Bool,
                (FieldKind::Random { length, .. }, DataType::Utf8) => Column::Text { length: length.unwrap_or(10) },
                (FieldKind::Now, DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64) => Column::Now,
                (FieldKind::EventTime { start, step }, DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64) => {
                    Column::EventTime { start: *start, step: *step }
                }
                (kind, _) => return Err(bad(&format!("generator {kind:?} does not fit this type"))),
            };
            columns.push(column);
        }
        if config.rows_per_second == Some(0) || config.splits == Some(0) {
            return Err(Error::Config("datagen: 'rows-per-second' and 'splits' must be positive".into()));
        }
        Ok(Self {
            schema,
            config,
            columns,
            total_rows,
            splits: Vec::new(),
            cursor: 0,
            batch_size: 1,
            clock: None,
            throttle: None,
            finished: VecDeque::new(),
        })
    }

    /// Rows of split `s` of `of`: those `r < total` with `r % of == s`.
    fn split_rows(&self, split: u32, of: u32) -> u64 {
        match self.total_rows {
            None => u64::MAX,
            Some(t) => (t + of as u64 - 1 - split as u64) / of as u64,
        }
    }

    fn build(&self, rows: &[u64]) -> Result<RecordBatch> {
        let now = self.clock.as_ref().map_or(0, |c| c.now_ms());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let mut randoms: Vec<RowRandom> = rows.iter().map(|r| RowRandom::new(self.config.seed, *r)).collect();
        for (field, column) in self.schema.fields().iter().zip(&self.columns) {
            let n = rows.len();
            let ints = |f: &mut dyn FnMut(usize) -> i64| -> Vec<i64> { (0..n).map(f).collect() };
            let values: Vec<i64> = match column {
                Column::Sequence { start } => ints(&mut |i| start.wrapping_add(rows[i] as i64)),
                Column::Int { min, span } => ints(&mut |i| {
                    let v = match span.checked_add(1) {
                        Some(m) => randoms[i].next() % m,
                        None => randoms[i].next(),
                    };
                    min.wrapping_add(v as i64)
                }),
                Column::Now => vec![now; n],
                Column::EventTime { start, step } => ints(&mut |i| start.wrapping_add(step.wrapping_mul(rows[i] as i64))),
                Column::Float { min, width } => {
                    let vals: Vec<f64> = randoms.iter_mut().map(|r| min + r.unit() * width).collect();
                    arrays.push(match field.data_type() {
                        DataType::Float32 => {
                            let mut b = Float32Builder::with_capacity(n);
                            vals.iter().for_each(|v| b.append_value(*v as f32));
                            Arc::new(b.finish())
                        }
                        _ => {
                            let mut b = Float64Builder::with_capacity(n);
                            b.append_slice(&vals);
                            Arc::new(b.finish())
                        }
                    });
                    continue;
                }
                Column::Bool => {
                    let mut b = BooleanBuilder::with_capacity(n);
                    randoms.iter_mut().for_each(|r| b.append_value(r.next() & 1 == 1));
                    arrays.push(Arc::new(b.finish()));
                    continue;
                }
                Column::Text { length } => {
                    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                    let mut b = StringBuilder::with_capacity(n, n * length);
                    let mut s = String::with_capacity(*length);
                    for r in randoms.iter_mut() {
                        s.clear();
                        (0..*length).for_each(|_| s.push(ALPHABET[(r.next() % 36) as usize] as char));
                        b.append_value(&s);
                    }
                    arrays.push(Arc::new(b.finish()));
                    continue;
                }
            };
            arrays.push(int_array(field.data_type(), &values)?);
        }
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

fn int_array(dt: &DataType, values: &[i64]) -> Result<ArrayRef> {
    macro_rules! build {
        ($b:ty, $t:ty) => {{
            let mut b = <$b>::with_capacity(values.len());
            values.iter().for_each(|v| b.append_value(*v as $t));
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match dt {
        DataType::Int8 => build!(Int8Builder, i8),
        DataType::Int16 => build!(Int16Builder, i16),
        DataType::Int32 => build!(Int32Builder, i32),
        DataType::Int64 => build!(Int64Builder, i64),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => {
            let mut b = TimestampMillisecondBuilder::with_capacity(values.len()).with_timezone_opt(tz.clone());
            b.append_slice(values);
            Arc::new(b.finish())
        }
        other => return Err(Error::Internal(format!("datagen: no integer column of type {other}"))),
    })
}

impl Source for DatagenSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        let p = ctx.info.parallelism.max(1);
        self.splits = if ctx.restored.is_empty() {
            let of = self.config.splits.unwrap_or(p);
            (0..of).filter(|s| s % p == ctx.info.subtask.0).map(|split| DatagenPosition { split, of, emitted: 0 }).collect()
        } else {
            let mut v = Vec::new();
            for item in &ctx.restored {
                let pos: DatagenPosition = serde_json::from_value(item.clone())
                    .map_err(|e| Error::State(format!("datagen: unreadable restored position {item}: {e}")))?;
                if pos.split >= pos.of {
                    return Err(Error::State(format!("datagen: restored split {} of {}", pos.split, pos.of)));
                }
                v.push(pos);
            }
            v.sort_by_key(|p| p.split);
            v
        };
        self.batch_size = ctx.batch_size.max(1);
        self.clock = Some(ctx.clock.clone());
        self.throttle = self.config.rows_per_second.map(|total| {
            let of = self.splits.first().map_or(1, |s| s.of.max(1)) as u64;
            ((total * self.splits.len() as u64 / of).max(1), None, 0)
        });
        self.finished = self.splits.iter().filter(|s| s.emitted >= self.split_rows(s.split, s.of)).map(|s| s.split).collect();
        Ok(self.splits.iter().map(|s| s.split).collect())
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        if let Some(s) = self.finished.pop_front() {
            return Ok(SourcePoll::SplitFinished(s));
        }
        let live: Vec<usize> = (0..self.splits.len()).filter(|i| self.splits[*i].emitted < self.split_rows(self.splits[*i].split, self.splits[*i].of)).collect();
        if live.is_empty() {
            return Ok(SourcePoll::Finished);
        }
        let mut budget = self.batch_size as u64;
        if let (Some((rate, start, consumed)), Some(clock)) = (self.throttle.as_mut(), self.clock.as_ref()) {
            let now = clock.now_ms();
            let start = *start.get_or_insert(now);
            let allowed = *rate as u128 * (now - start).max(0) as u128 / 1000 + (*rate / 200).max(1) as u128;
            budget = budget.min(allowed.saturating_sub(*consumed as u128).min(u64::MAX as u128) as u64);
            if budget == 0 {
                return Ok(SourcePoll::Pending);
            }
        }
        let i = live[self.cursor % live.len()];
        self.cursor = self.cursor.wrapping_add(1);
        let pos = self.splits[i];
        let remaining = self.split_rows(pos.split, pos.of) - pos.emitted;
        let n = budget.min(remaining);
        let rows: Vec<u64> = (0..n).map(|k| (pos.emitted + k) * pos.of as u64 + pos.split as u64).collect();
        let batch = self.build(&rows)?;
        self.splits[i].emitted += n;
        if let Some((_, _, consumed)) = self.throttle.as_mut() {
            *consumed += n;
        }
        if n == remaining {
            self.finished.push_back(pos.split);
        }
        Ok(SourcePoll::Batch { split: pos.split, batch })
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        self.splits.iter().map(|p| serde_json::to_value(p).map_err(Error::from)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock};
    use arrow::array::AsArray;
    use arrow::datatypes::{Field, Int64Type, Schema};
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
        let cfg = DatagenConfig::from_options(&opts(&[("rows-per-second", "0"), ("fields.id.kind", "sequence"), ("fields.id.start", "5"), ("fields.id.end", "9")])).expect("options");
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let mut src = DatagenSource::new(schema, cfg).expect("source");
        src.open(&mut source_ctx(0, 1, Vec::new(), 3)).expect("open");
        let d = drain(&mut src, 100, 1).expect("drain");
        let ids: Vec<i64> = d.batches.iter().flat_map(|(_, b)| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        assert_eq!(ids, vec![5, 6, 7, 8, 9]);
        assert_eq!(d.finished_splits, vec![0]);
        assert!(d.finished);
    }

    #[test]
    fn restore_resumes_into_another_parallelism() {
        let cfg = DatagenConfig { splits: Some(4), ..config() };
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
            let mut src = DatagenSource::new(schema(), DatagenConfig { splits: None, ..cfg.clone() }).expect("source");
            src.open(&mut source_ctx(i as u32, 3, mine, 50)).expect("open");
            let d = drain(&mut src, usize::MAX, 1).expect("drain");
            seen.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
        }
        seen.sort();
        assert_eq!(seen, expected);
    }

    #[test]
    fn throttled_by_the_clock() {
        let cfg = DatagenConfig { rows_per_second: Some(1000), number_of_rows: None, ..config() };
        let clock = ManualClock::new(0);
        let mut src = DatagenSource::new(schema(), cfg).expect("source");
        src.open(&mut source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 1000)).expect("open");
        let count = |d: &crate::testkit::Drained| d.batches.iter().map(|(_, b)| b.num_rows()).sum::<usize>();
        assert_eq!(count(&drain(&mut src, 100, 1).expect("drain")), 5);
        clock.advance(2000);
        assert_eq!(count(&drain(&mut src, 100, 1).expect("drain")), 2000);
    }

    #[test]
    fn bad_options() {
        let e = |o: &[(&str, &str)]| DatagenConfig::from_options(&opts(o)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e(&[("rows", "1")]).contains("rows-per-second"));
        assert!(e(&[("fields.id.kind", "sequence")]).contains("fields.id.start"));
        assert!(e(&[("fields.id.kind", "zigzag")]).contains("fields.id.kind"));
        let cfg = DatagenConfig::from_options(&opts(&[("fields.nope.min", "1")])).expect("options");
        assert!(DatagenSource::new(schema(), cfg).is_err());
        let cfg = DatagenConfig::from_options(&opts(&[("fields.name.kind", "sequence"), ("fields.name.start", "1"), ("fields.name.end", "2")])).expect("options");
        let err = DatagenSource::new(schema(), cfg).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("'name'"), "{err}");
    }
}

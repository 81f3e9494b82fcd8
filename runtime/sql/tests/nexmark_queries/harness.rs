//! Runs a Nexmark query file bounded on the local engine and compares its materialized output
//! with an independent reference computed from the same generated events.
//!
//! The streaming side: the query file as written, with the stream options of its [`Case`]
//! added to every `nexmark` table and its `blackhole` sink swapped for a collecting sink (q10's
//! file sink is pointed at a temporary directory and its committed files are read back). Each
//! configuration of [`Case::runs`] must give the same rows as the reference, hence as each
//! other.
//!
//! The reference side: the same events, made by the generator API with the same options,
//! loaded into DataFusion `MemTable`s (`bid`, `auction`, `person`) and queried by a batch SQL,
//! or handed to a Rust function. With the bounded generator every window fires at the end of
//! input and no row is late (each logical generator is in time order and the source keeps one
//! watermark per generator), so batch results match exactly.

use crate::collect::{apply_changelog, materialize, register_collect_sink};
use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use freshet_connectors::nexmark::{generate, NexmarkConfig};
use freshet_engine::{JobConfig, LocalExecutor};
use freshet_sql::{PlanOptions, Planner};
use freshet_state::BackendKind;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Generator options shared by every `nexmark` table of a run (e.g. `events.num`).
pub type StreamOptions = &'static [(&'static str, &'static str)];

/// How the expected rows are computed from the generated events.
pub enum Reference {
    /// A batch SQL over the tables `bid`, `auction` and `person`; its columns are rendered
    /// as the collecting sink renders the query's (values joined by ',').
    Sql(&'static str),
    /// A Rust function of the events, returning rendered rows.
    Rows(fn(&Events) -> Vec<String>),
}

/// What the query emits and how it becomes a final table.
#[derive(Clone, Copy, Debug)]
pub enum Output {
    /// Insert-only rows; every one is kept.
    Append,
    /// A changelog of one row per key (the listed columns): +I/+U set, -U/-D remove it.
    Changelog { key: &'static [usize] },
    /// A changelog applied as a multiset: +I/+U add a row, -U/-D remove an equal one.
    #[allow(dead_code)] // for changelogs without a unique key (q6's OVER window)
    Multiset,
}

/// One Nexmark query under test.
pub struct Case {
    /// The file stem in `queries/nexmark/` (`q5`).
    pub query: &'static str,
    /// Generator options added to every `nexmark` table.
    pub stream: StreamOptions,
    /// The expected rows.
    pub reference: Reference,
    /// How the query's output is materialized.
    pub output: Output,
    /// Whether the query keeps state (then it also runs on RocksDB).
    pub stateful: bool,
    /// Maps the materialized rows to what is deterministic about them (q12's processing-time
    /// windows); the reference computes that projection directly.
    pub deterministic: Option<fn(Vec<String>) -> Vec<String>>,
}

impl Case {
    /// The configurations the query runs in: parallelism 1 on the heap backend, and 3 on
    /// RocksDB if the query keeps state (on the heap otherwise). Batch sizes differ too (small
    /// batches give groups and joins many updates; the source interleaves its generators
    /// batch by batch).
    pub fn runs(&self) -> Vec<Run> {
        let backend = if self.stateful {
            BackendKind::Rocksdb
        } else {
            BackendKind::Heap
        };
        vec![
            Run {
                parallelism: 1,
                backend: BackendKind::Heap,
                batch_size: 128,
            },
            Run {
                parallelism: 3,
                backend,
                batch_size: 1000,
            },
        ]
    }
}

/// One configuration of a run.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub parallelism: u32,
    pub backend: BackendKind,
    pub batch_size: usize,
}

/// Runs `case` in every configuration and compares each result with the reference.
pub async fn check(case: &Case) {
    let events = Events::for_stream(case.stream);
    let mut expected = match &case.reference {
        Reference::Sql(sql) => events.query(sql).await,
        Reference::Rows(f) => f(&events),
    };
    expected.sort();
    assert!(!expected.is_empty(), "{}: the reference is empty", case.query);
    eprintln!("{}: {} rows", case.query, expected.len());
    let mut first: Option<Vec<String>> = None;
    for run in case.runs() {
        let label = format!("{} in {run:?}", case.query);
        let mut actual = run_query(case, run).await;
        if let Some(project) = case.deterministic {
            actual = project(actual);
        }
        actual.sort();
        assert_same_rows(&label, &actual, &expected);
        match &first {
            None => first = Some(actual),
            Some(first) => assert_eq!(first, &actual, "{label}: differs from the first run"),
        }
    }
}

/// Fails with the rows missing from and unexpected in `actual` (both sorted), at most a few of
/// each, rather than two long lists.
fn assert_same_rows(label: &str, actual: &[String], expected: &[String]) {
    if actual == expected {
        return;
    }
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for row in expected {
        *counts.entry(row).or_default() += 1;
    }
    for row in actual {
        *counts.entry(row).or_default() -= 1;
    }
    let missing: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, _)| *r)
        .take(5)
        .collect();
    let unexpected: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(r, _)| *r)
        .take(5)
        .collect();
    panic!(
        "{label}: {} rows, the reference has {}\nmissing (first 5): {missing:#?}\nunexpected (first 5): {unexpected:#?}",
        actual.len(),
        expected.len()
    );
}

pub fn queries_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../queries/nexmark")
}

/// The query file of `case` made bounded and pointed at `sink_dir` (file sinks) or the
/// `collect` connector (every other sink).
fn bounded_script(case: &Case, sink_dir: &Path) -> String {
    let path = queries_dir().join(format!("{}.sql", case.query));
    let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options: String = case.stream.iter().map(|(k, v)| format!(" '{k}' = '{v}',")).collect();
    let root = queries_dir().display().to_string();
    sql.replace(
        "'connector' = 'nexmark',",
        &format!("'connector' = 'nexmark',{options}"),
    )
    .replace("'connector' = 'blackhole'", "'connector' = 'collect'")
    // q10's sink, and the side inputs read relative to the repository root.
    .replace(
        &format!("'path' = '/tmp/freshet/nexmark/{}'", case.query),
        &format!("'path' = '{}'", sink_dir.display()),
    )
    .replace("'path' = 'queries/nexmark/", &format!("'path' = '{root}/"))
}

/// Runs the bounded query once and returns its materialized rows (unsorted).
async fn run_query(case: &Case, run: Run) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sink_dir = dir.path().join("out");
    let sql = bounded_script(case, &sink_dir);
    let mut planner = Planner::new();
    let collected = register_collect_sink(&mut planner);
    let job = planner
        .plan_script(
            &sql,
            &PlanOptions {
                parallelism: Some(run.parallelism),
                default_name: Some(case.query.into()),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{}: planning failed: {e}", case.query));
    let config = JobConfig {
        state_backend: run.backend,
        local_dir: dir.path().join("local"),
        checkpoint: freshet_engine::CheckpointConfig {
            storage: dir.path().join("checkpoints").display().to_string(),
            ..Default::default()
        },
        batch_size: run.batch_size,
        ..JobConfig::default()
    };
    LocalExecutor::new(config)
        .run(&job.graph)
        .await
        .unwrap_or_else(|e| panic!("{}: the job failed: {e}", case.query));
    if sink_dir.exists() {
        return committed_csv_rows(&sink_dir);
    }
    let rows = collected.lock().expect("collected rows").clone();
    assert!(!rows.is_empty(), "{}: the sink received nothing", case.query);
    match case.output {
        Output::Append => {
            if let Some((kind, row)) = rows.iter().find(|(kind, _)| kind != "+I") {
                panic!("{}: an append-only query emitted {kind} {row}", case.query);
            }
            rows.into_iter().map(|(_, row)| row).collect()
        }
        Output::Changelog { key } => {
            assert!(
                rows.iter().any(|(kind, _)| kind == "-U"),
                "{}: no row was updated; the stream is too small to test the changelog",
                case.query
            );
            apply_changelog(&rows, key)
        }
        Output::Multiset => materialize(&rows),
    }
}

/// The data lines of every committed CSV file under `dir` (recursively; headers skipped).
fn committed_csv_rows(dir: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("sink directory") {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                dirs.push(path.clone());
            } else if !name.starts_with('.') && name.ends_with(".csv") {
                let text = std::fs::read_to_string(&path).expect("committed file");
                rows.extend(text.lines().skip(1).map(str::to_string));
            }
        }
    }
    rows
}

/// Renders every value of row `row` of `columns`, joined by ','.
fn render_row(formatters: &[ArrayFormatter<'_>], row: usize) -> String {
    formatters
        .iter()
        .map(|f| f.value(row).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn formatters<'a>(columns: &'a [Arc<dyn Array>]) -> Vec<ArrayFormatter<'a>> {
    let options = FormatOptions::default().with_null("null");
    columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("a displayable column"))
        .collect()
}

/// The generated events of one stream, per table.
pub struct Events {
    /// `bid`, `auction` and `person`, as the generator makes them.
    pub tables: BTreeMap<&'static str, Vec<RecordBatch>>,
}

/// One bid, for references written in Rust.
pub struct Bid {
    pub auction: i64,
    pub bidder: i64,
    pub price: i64,
    pub channel: String,
    pub url: String,
    /// Event time in ms since the epoch.
    pub date_time: i64,
    pub extra: String,
}

impl Events {
    /// The events of `stream`, generated once per test binary.
    pub fn for_stream(stream: StreamOptions) -> Arc<Events> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<Events>>>> = OnceLock::new();
        let key = format!("{stream:?}");
        let mut cache = CACHE.get_or_init(Default::default).lock().expect("event cache");
        cache
            .entry(key)
            .or_insert_with(|| Arc::new(Events::generate(stream)))
            .clone()
    }

    fn generate(stream: StreamOptions) -> Events {
        let mut tables = BTreeMap::new();
        for table in ["bid", "auction", "person"] {
            let mut options: BTreeMap<String, String> =
                stream.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            options.insert("table".into(), table.into());
            let config = NexmarkConfig::from_options(&options).expect("generator options");
            let mut batches = Vec::new();
            generate(&config, 8192, |batch| {
                batches.push(batch);
                Ok(())
            })
            .expect("generated events");
            tables.insert(table, batches);
        }
        Events { tables }
    }

    /// Runs a batch `sql` over the events and renders its rows.
    pub async fn query(&self, sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        for (name, batches) in &self.tables {
            let schema = batches.first().expect("at least one batch").schema();
            let table = MemTable::try_new(schema, vec![batches.clone()]).expect("memory table");
            ctx.register_table(*name, Arc::new(table)).expect("register table");
        }
        let batches = ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("reference SQL: {e}\n{sql}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reference SQL: {e}\n{sql}"));
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = formatters(batch.columns());
            rows.extend((0..batch.num_rows()).map(|row| render_row(&formatters, row)));
        }
        rows
    }

    /// Every bid, in generation order.
    pub fn bids(&self) -> Vec<Bid> {
        use arrow::array::{AsArray, TimestampMillisecondArray};
        use arrow::datatypes::Int64Type;
        let mut bids = Vec::new();
        for batch in &self.tables["bid"] {
            let long = |name: &str| {
                batch
                    .column_by_name(name)
                    .expect("bid column")
                    .as_primitive::<Int64Type>()
                    .clone()
            };
            let text = |name: &str| {
                batch
                    .column_by_name(name)
                    .expect("bid column")
                    .as_string::<i32>()
                    .clone()
            };
            let (auction, bidder, price) = (long("auction"), long("bidder"), long("price"));
            let (channel, url, extra) = (text("channel"), text("url"), text("extra"));
            let date_time = batch
                .column_by_name("date_time")
                .expect("bid column")
                .as_any()
                .downcast_ref::<TimestampMillisecondArray>()
                .expect("date_time in ms")
                .clone();
            for i in 0..batch.num_rows() {
                bids.push(Bid {
                    auction: auction.value(i),
                    bidder: bidder.value(i),
                    price: price.value(i),
                    channel: channel.value(i).to_string(),
                    url: url.value(i).to_string(),
                    date_time: date_time.value(i),
                    extra: extra.value(i).to_string(),
                });
            }
        }
        bids
    }
}

/// `ms` rendered as the sinks render a TIMESTAMP(3) (`2015-07-15T00:00:01.5` is `...01.500`).
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.f")
        .to_string()
}

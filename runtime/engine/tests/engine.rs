//! Engine integration tests with in-test sources and sinks: routing, watermarks, barriers,
//! exactly-once recovery from injected failures, savepoints, and backpressure.

use arrow::array::{Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, Result};
use freshet_dataflow::api::StreamEnv;
use freshet_dataflow::ops::troublemaker::FailurePlan;
use freshet_dataflow::{Collector, Operator, OperatorContext, Source, SourceContext, SourcePoll, TaskInfo};
use freshet_engine::{CheckpointConfig, JobConfig, JobEnd, LocalExecutor, RestartStrategy, RestoreFrom};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]))
}

/// Emits `0..total` split over `splits` splits (split k emits values ≡ k mod splits), a few rows
/// per batch; resumes from checkpointed positions.
struct CountingSource {
    total: i64,
    splits: u32,
    positions: BTreeMap<u32, i64>,
    order: Vec<u32>,
    next: usize,
    batch: i64,
    delay: Option<Duration>,
}

impl Source for CountingSource {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn open(&mut self, ctx: &mut SourceContext) -> Result<Vec<u32>> {
        if ctx.restored.is_empty() {
            for k in (0..self.splits).filter(|k| k % ctx.info.parallelism == ctx.info.subtask.0) {
                self.positions.insert(k, k as i64);
            }
        } else {
            for item in &ctx.restored {
                let split = item["split"].as_u64().unwrap_or(0) as u32;
                let pos = item["next"].as_i64().unwrap_or(0);
                self.positions.insert(split, pos);
            }
        }
        self.order = self.positions.keys().copied().collect();
        Ok(self.order.clone())
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
        for _ in 0..self.order.len() {
            let split = self.order[self.next % self.order.len()];
            self.next += 1;
            let pos = self.positions[&split];
            if pos >= self.total {
                continue;
            }
            let mut values = Vec::new();
            let mut p = pos;
            while p < self.total && values.len() < self.batch as usize {
                values.push(p);
                p += self.splits as i64;
            }
            self.positions.insert(split, p);
            let batch = RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(values))])?;
            return Ok(SourcePoll::Batch { split, batch });
        }
        Ok(SourcePoll::Finished)
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        Ok(self
            .positions
            .iter()
            .map(|(s, p)| serde_json::json!({"split": s, "next": p}))
            .collect())
    }
}

/// The sink's durable side: committed values, and staged batches that survive a crash (like
/// the file sink's pending files) keyed by run and checkpoint.
#[derive(Default)]
struct Committed {
    values: Mutex<Vec<i64>>,
    staged: Mutex<Vec<(String, u64, Vec<i64>)>>,
    seen: AtomicU64,
}

/// A two-phase-commit sink: values staged at a barrier become visible when the checkpoint
/// completes; after a restore from checkpoint `C`, subtask 0 commits earlier runs' staged
/// values of checkpoints `<= C` and drops the rest.
struct CollectingSink {
    out: Arc<Committed>,
    run: String,
    pending: Vec<i64>,
    last_snapshot: u64,
    delay: Option<Duration>,
}

impl CollectingSink {
    fn stage(&mut self, checkpoint: u64) {
        let values = std::mem::take(&mut self.pending);
        self.out.staged.lock().push((self.run.clone(), checkpoint, values));
    }
}

impl Operator for CollectingSink {
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.run = format!("{}-{}", ctx.info().run_id, ctx.info().subtask.0);
        if ctx.info().subtask.0 == 0 {
            let restored = ctx.info().restored_checkpoint.map(|c| c.0);
            let run_prefix = ctx.info().run_id.clone();
            let mut staged = self.out.staged.lock();
            let mut values = self.out.values.lock();
            staged.retain(|(run, n, v)| {
                if run.starts_with(&run_prefix) {
                    return true;
                }
                if restored.is_some_and(|c| *n <= c) {
                    values.extend(v.iter().copied());
                }
                false
            });
        }
        Ok(())
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Collector,
    ) -> Result<()> {
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
        self.out.seen.fetch_add(batch.num_rows() as u64, Ordering::SeqCst);
        let col = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("int64");
        self.pending.extend(col.values().iter());
        Ok(())
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<Vec<serde_json::Value>> {
        self.stage(checkpoint.0);
        self.last_snapshot = checkpoint.0;
        Ok(Vec::new())
    }

    fn end_of_input(&mut self, _ctx: &mut OperatorContext, _out: &mut Collector) -> Result<()> {
        // No barrier passes a finished sink again: the next completed checkpoint covers this.
        self.stage(self.last_snapshot + 1);
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId, _ctx: &mut OperatorContext) -> Result<()> {
        let mut staged = self.out.staged.lock();
        let mut values = self.out.values.lock();
        staged.retain(|(run, n, v)| {
            if *run == self.run && *n <= checkpoint.0 {
                values.extend(v.iter().copied());
                false
            } else {
                true
            }
        });
        Ok(())
    }
}

fn config(dir: &std::path::Path, interval_ms: Option<u64>) -> JobConfig {
    JobConfig {
        batch_size: 64,
        buffer_timeout: Duration::from_millis(5),
        checkpoint: CheckpointConfig {
            interval: interval_ms.map(Duration::from_millis),
            storage: dir.join("chk").to_string_lossy().into_owned(),
            ..CheckpointConfig::default()
        },
        restart: RestartStrategy::FixedDelay {
            attempts: 10,
            delay_ms: 10,
        },
        local_dir: dir.join("local"),
        ..JobConfig::default()
    }
}

fn build_job(
    parallelism: u32,
    total: i64,
    plan: Option<Arc<FailurePlan>>,
    out: Arc<Committed>,
    source_delay: Option<Duration>,
    sink_delay: Option<Duration>,
) -> freshet_dataflow::JobGraph {
    let env = StreamEnv::new("test", parallelism);
    let factory = move |_: &TaskInfo| -> Result<Box<dyn Source>> {
        Ok(Box::new(CountingSource {
            total,
            splits: 6,
            positions: BTreeMap::new(),
            order: Vec::new(),
            next: 0,
            batch: 7,
            delay: source_delay,
        }))
    };
    let mut stream = env.add_source("numbers", schema(), Arc::new(factory), None);
    if let Some(plan) = plan {
        stream = stream.troublemaker(plan);
    }
    let keyed_input = stream.key_by(["v"]);
    // A keyed hop so that records cross a hash exchange between tasks.
    let exchanged = keyed_input.transform(
        "identity",
        schema(),
        Vec::new(),
        Arc::new(|_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(freshet_dataflow::ops::batch_fn::BatchFnOperator::new(
                Arc::new(|b| Ok(Some(b))),
            )))
        }),
        String::new(),
    );
    let sink_out = out.clone();
    exchanged.add_sink(
        "collect",
        Arc::new(move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
            Ok(Box::new(CollectingSink {
                out: sink_out.clone(),
                run: String::new(),
                pending: Vec::new(),
                last_snapshot: 0,
                delay: sink_delay,
            }))
        }),
    );
    env.build().expect("valid graph")
}

/// Checks that `values` holds each of `0..total` exactly once, with a short diagnosis if not.
fn assert_exactly_once(values: &[i64], total: i64) {
    let mut counts = vec![0u32; total as usize];
    for v in values {
        counts[*v as usize] += 1;
    }
    let missing: Vec<usize> = (0..counts.len()).filter(|i| counts[*i] == 0).collect();
    let duplicated: Vec<usize> = (0..counts.len()).filter(|i| counts[*i] > 1).collect();
    assert!(
        missing.is_empty() && duplicated.is_empty(),
        "{} values, {} missing (first {:?}), {} duplicated (first {:?})",
        values.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
        duplicated.len(),
        &duplicated[..duplicated.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_exactly_once_across_exchanges() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Committed::default());
    let graph = build_job(3, 5_000, None, out.clone(), None, None);
    let outcome = LocalExecutor::new(config(dir.path(), None)).run(&graph).await.unwrap();
    assert_eq!(outcome.end, JobEnd::Finished);
    assert_exactly_once(&out.values.lock(), 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_recover_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Committed::default());
    let plan = FailurePlan::new(vec![3_000, 9_000, 15_000]);
    // Slow the source a little so checkpoints complete between failures.
    let graph = build_job(
        2,
        20_000,
        Some(plan.clone()),
        out.clone(),
        Some(Duration::from_micros(300)),
        None,
    );
    let outcome = LocalExecutor::new(config(dir.path(), Some(20)))
        .run(&graph)
        .await
        .unwrap();
    assert_eq!(outcome.end, JobEnd::Finished);
    assert_eq!(plan.remaining(), 0, "every planned failure happened");
    assert_eq!(outcome.restarts, 3);
    assert_exactly_once(&out.values.lock(), 20_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_savepoint_then_restore_with_other_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Committed::default());
    let total = 200_000;
    let graph = build_job(2, total, None, out.clone(), Some(Duration::from_micros(200)), None);
    let executor = LocalExecutor::new(config(dir.path(), Some(50)));
    let handle = executor.handle();
    let run = tokio::spawn(async move { executor.run(&graph).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let savepoint = handle.savepoint(None, true).await.unwrap();
    let outcome = run.await.unwrap().unwrap();
    assert!(matches!(outcome.end, JobEnd::Stopped { .. }));
    let first = out.values.lock().len();
    assert!(first > 0 && (first as i64) < total, "stopped midway: {first}");

    let graph = build_job(3, total, None, out.clone(), None, None);
    let mut cfg = config(dir.path(), Some(50));
    cfg.restore = RestoreFrom::Path(savepoint);
    let outcome = LocalExecutor::new(cfg).run(&graph).await.unwrap();
    assert_eq!(outcome.end, JobEnd::Finished);
    assert_exactly_once(&out.values.lock(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_sink_backpressures_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Committed::default());
    // 2 ms per 64-row batch at the sink: about 32k rows/s; the source could do far more.
    let graph = build_job(
        1,
        1_000_000_000,
        None,
        out.clone(),
        None,
        Some(Duration::from_millis(2)),
    );
    let mut cfg = config(dir.path(), None);
    cfg.channel_capacity = 2;
    let executor = LocalExecutor::new(cfg);
    let handle = executor.handle();
    let metrics = executor.metrics();
    let run = tokio::spawn(async move { executor.run(&graph).await });
    let mut max_in_flight = 0u64;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let emitted: u64 = metrics
            .operators
            .lock()
            .iter()
            .filter(|e| e.name == "numbers")
            .map(|e| e.metrics.records_out.load(Ordering::SeqCst))
            .sum();
        let consumed = out.seen.load(Ordering::SeqCst);
        max_in_flight = max_in_flight.max(emitted.saturating_sub(consumed));
    }
    handle.cancel();
    run.await.unwrap().unwrap();
    // Bounded: 3 channel hops of capacity 2 batches of <= 64 rows, plus per-task buffers.
    assert!(max_in_flight < 2_000, "in flight grew to {max_in_flight}");
    assert!(out.seen.load(Ordering::SeqCst) > 0);
}

//! A coordinator and two workers in this process, talking over loopback: a slow consumer on one
//! worker backpressures the source on the other through the data plane's credits, so the
//! records in flight stay bounded and the source slows to the consumer's pace.

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use freshet_cluster::coordinator::{self, CoordinatorConfig};
use freshet_cluster::worker::{CoordinatorLocator, Worker, WorkerConfig};
use freshet_cluster::JobCompiler;
use freshet_core::{CheckpointId, Result};
use freshet_dataflow::api::StreamEnv;
use freshet_dataflow::ops::batch_fn::BatchFnOperator;
use freshet_dataflow::{JobGraph, Operator, Source, SourceContext, SourcePoll, TaskInfo};
use freshet_engine::config::{CheckpointConfig, JobConfig};
use freshet_engine::metrics::JobMetrics;
use freshet_rpc::DataPlaneConfig;
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BATCH_ROWS: i64 = 64;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]))
}

/// Emits 0, 1, 2, ... forever, as fast as it is allowed to.
struct Numbers {
    next: i64,
}

impl Source for Numbers {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn open(&mut self, _ctx: &mut SourceContext) -> Result<Vec<u32>> {
        Ok(vec![0])
    }

    fn poll_batch(&mut self) -> Result<SourcePoll> {
        let values: Vec<i64> = (self.next..self.next + BATCH_ROWS).collect();
        self.next += BATCH_ROWS;
        let batch = RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(values))])?;
        Ok(SourcePoll::Batch { split: 0, batch })
    }

    fn snapshot(&mut self, _checkpoint: CheckpointId) -> Result<Vec<serde_json::Value>> {
        Ok(vec![serde_json::json!({ "next": self.next })])
    }
}

/// Builds numbers (p=1) -> key_by(v) -> consumer (p=2; subtask 1 takes 2 ms per batch),
/// whatever the script says; every process of the cluster shares `consumed`.
struct SlowJob {
    consumed: Arc<AtomicU64>,
}

impl JobCompiler for SlowJob {
    fn compile<'a>(
        &'a self,
        _script: &'a str,
        _parallelism: Option<u32>,
        _default_name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<JobGraph>> {
        let consumed = self.consumed.clone();
        Box::pin(async move {
            let env = StreamEnv::new("slow-consumer", 2);
            let source = env
                .add_source(
                    "numbers",
                    schema(),
                    Arc::new(|_: &TaskInfo| -> Result<Box<dyn Source>> { Ok(Box::new(Numbers { next: 0 })) }),
                    None,
                )
                .parallelism(1);
            let slow = source.key_by(["v"]).transform(
                "slow",
                schema(),
                Vec::new(),
                Arc::new(move |info: &TaskInfo| -> Result<Box<dyn Operator>> {
                    let consumed = consumed.clone();
                    // Subtask 0 shares slot 0 with the source, subtask 1 runs on the other
                    // worker: only the remote one is slow, so only the network holds the
                    // source back.
                    let delay = Duration::from_millis(if info.subtask.0 == 1 { 2 } else { 0 });
                    Ok(Box::new(BatchFnOperator::new(Arc::new(move |b: RecordBatch| {
                        std::thread::sleep(delay);
                        consumed.fetch_add(b.num_rows() as u64, Ordering::SeqCst);
                        Ok(None)
                    }))))
                }),
                String::new(),
            );
            slow.add_sink(
                "discard",
                Arc::new(|_: &TaskInfo| -> Result<Box<dyn Operator>> {
                    Ok(Box::new(BatchFnOperator::new(Arc::new(|_| Ok(None)))))
                }),
            );
            env.build()
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn emitted(metrics: &[Arc<JobMetrics>]) -> u64 {
    metrics
        .iter()
        .flat_map(|m| {
            m.operators
                .lock()
                .iter()
                .filter(|e| e.name == "numbers")
                .map(|e| e.metrics.records_out.load(Ordering::SeqCst))
                .collect::<Vec<_>>()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_consumer_on_another_worker_slows_the_source_with_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let consumed = Arc::new(AtomicU64::new(0));
    let compiler: Arc<dyn JobCompiler> = Arc::new(SlowJob {
        consumed: consumed.clone(),
    });
    let rpc = format!("127.0.0.1:{}", free_port());
    let job = JobConfig {
        batch_size: BATCH_ROWS as usize,
        channel_capacity: 2,
        checkpoint: CheckpointConfig {
            storage: dir.path().join("chk").display().to_string(),
            ..CheckpointConfig::default()
        },
        local_dir: dir.path().join("coordinator"),
        ..JobConfig::default()
    };
    let config = CoordinatorConfig {
        script: "-- built by the test's compiler".into(),
        parallelism: None,
        default_name: None,
        job,
        rpc_bind: rpc.parse().expect("an address"),
        rest_bind: None,
        metrics_bind: None,
        advertised_host: None,
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_secs(5),
        ha: None,
        identity: "test".into(),
        linger_after_end: false,
    };
    let coordinator = tokio::spawn(coordinator::run(config, compiler.clone(), std::future::pending()));

    let mut workers = Vec::new();
    for i in 0..2 {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = WorkerConfig {
            worker_id: format!("w{i}"),
            coordinator: CoordinatorLocator::Address(rpc.clone()),
            bind: "127.0.0.1:0".parse().expect("an address"),
            advertised_host: None,
            slots: 1,
            local_dir: dir.path().join(format!("w{i}")),
            data_plane: DataPlaneConfig {
                credits_per_channel: 4,
                credit_batch: 2,
                ..DataPlaneConfig::default()
            },
        };
        let (worker, serving) = Worker::start(config, compiler.clone(), async {
            let _ = stopped.await;
        })
        .await
        .expect("the worker starts");
        workers.push((worker, serving, stop));
    }
    let metrics: Vec<Arc<JobMetrics>> = workers.iter().map(|(w, _, _)| w.metrics()).collect();

    // Wait for the job to run, then watch what is in flight for two seconds.
    let started = tokio::time::Instant::now();
    while consumed.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the job never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut max_in_flight = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let done = consumed.load(Ordering::SeqCst);
        max_in_flight = max_in_flight.max(emitted(&metrics).saturating_sub(done));
    }
    let total_emitted = emitted(&metrics);
    let total_consumed = consumed.load(Ordering::SeqCst);

    coordinator.abort();
    for (_, serving, stop) in workers {
        let _ = stop.send(());
        let _ = serving.await;
    }
    // Per channel: the producer's output buffer, 2 batches in each in-memory hop (producer to
    // the data plane, data plane to the consumer), 4 credits on the network; 64-row batches and
    // two channels: a few thousand rows at most, where an unchecked source would be millions
    // ahead.
    assert!(max_in_flight < 4_000, "records in flight grew to {max_in_flight}");
    assert!(
        total_emitted < total_consumed + 4_000,
        "the source ran ahead: emitted {total_emitted}, consumed {total_consumed}"
    );
    assert!(total_consumed > 0);
}

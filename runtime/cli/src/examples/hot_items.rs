//! Nexmark "hot items": bids counted per auction on sliding event-time windows.
//!
//! `nexmark bids -> key by auction -> sliding window (10 s, every 2 s) count -> file sink`.
//! A bounded run (`--events N`) is deterministic for a seed whatever the parallelism: the
//! generator's output depends only on its configuration, watermarks never make a bid late (each
//! generator's timestamps are ordered), and the final watermark fires every window.

use crate::options::JobOptions;
use crate::runner::{run_job, Endpoints};
use anyhow::Context;
use clap::Args;
use freshet_connectors::file_sink::{FileSink, FileSinkConfig};
use freshet_connectors::nexmark::{NexmarkConfig, NexmarkSource, NexmarkTable};
use freshet_core::watermark::WatermarkStrategy;
use freshet_core::Result;
use freshet_dataflow::api::StreamEnv;
use freshet_dataflow::graph::EventTimeSpec;
use freshet_dataflow::ops::troublemaker::FailurePlan;
use freshet_dataflow::window::{AggregateSpec, WindowAssigner, WindowConfig};
use freshet_dataflow::{JobGraph, Operator, Source, TaskInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// Window size (ms).
pub const WINDOW_SIZE_MS: i64 = 10_000;
/// Window slide (ms).
pub const WINDOW_SLIDE_MS: i64 = 2_000;

/// Flags of `freshet example hot-items`.
#[derive(Args, Debug, Clone)]
pub struct HotItemsArgs {
    /// Number of Nexmark events to generate (bids are 92% of them); runs until Ctrl-C if not
    /// given (then stops with a savepoint and prints its path).
    #[arg(long)]
    pub events: Option<u64>,
    /// Directory of the output files (JSON lines, committed on checkpoints).
    #[arg(long, default_value = "out/hot-items")]
    pub out: PathBuf,
    /// Generator seed (0 reproduces Beam's generator).
    #[arg(long, default_value_t = 0)]
    pub seed: i64,
    /// Wall-clock rate limit in events per second (default: unlimited with --events, 10000 without).
    #[arg(long)]
    pub rate_limit: Option<u64>,
    /// Job flags.
    #[command(flatten)]
    pub job: JobOptions,
    /// HTTP surfaces (REST API, Prometheus metrics).
    #[command(flatten)]
    pub endpoints: Endpoints,
}

/// What the hot-items job is built from.
#[derive(Clone, Debug)]
pub struct HotItemsJob {
    /// Generator settings.
    pub nexmark: NexmarkConfig,
    /// Parallelism.
    pub parallelism: u32,
    /// Output directory.
    pub out: PathBuf,
    /// Fault injection after the source (tests only).
    pub failures: Option<Arc<FailurePlan>>,
}

/// Builds the job graph. `sink` replaces the file sink when given (benchmarks use a blackhole).
pub fn build(job: &HotItemsJob, sink: Option<Arc<dyn freshet_dataflow::OperatorFactory>>) -> Result<JobGraph> {
    let env = StreamEnv::new("hot-items", job.parallelism);
    let nexmark = NexmarkConfig {
        table: NexmarkTable::Bid,
        ..job.nexmark.clone()
    };
    let schema = NexmarkSource::new(nexmark.clone())?.schema();
    let source_factory =
        move |_: &TaskInfo| -> Result<Box<dyn Source>> { Ok(Box::new(NexmarkSource::new(nexmark.clone())?)) };
    let bids = env
        .add_source(
            "nexmark-bids",
            schema,
            Arc::new(source_factory),
            Some(EventTimeSpec {
                timestamp_column: "date_time".into(),
                strategy: WatermarkStrategy::bounded(0),
            }),
        )
        .uid("nexmark-bids");
    let bids = match &job.failures {
        Some(plan) => bids.troublemaker(plan.clone()).uid("troublemaker"),
        None => bids,
    };
    let counts = bids
        .key_by(["auction"])
        .window(
            WindowConfig::event_time(
                ["auction"],
                "date_time",
                WindowAssigner::sliding(WINDOW_SIZE_MS, WINDOW_SLIDE_MS),
            )
            .aggregate(AggregateSpec::count("bids")),
        )?
        .uid("hot-items-window");
    let sink = match sink {
        Some(s) => s,
        None => {
            let config = FileSinkConfig::new(job.out.clone());
            Arc::new(move |_: &TaskInfo| -> Result<Box<dyn Operator>> { Ok(Box::new(FileSink::new(config.clone())?)) })
        }
    };
    counts.add_sink("file-sink", sink).uid("hot-items-sink");
    env.build()
}

/// Runs `freshet example hot-items`.
pub async fn run(args: HotItemsArgs) -> anyhow::Result<()> {
    let rate = args
        .rate_limit
        .or(if args.events.is_none() { Some(10_000) } else { None });
    let job = HotItemsJob {
        nexmark: NexmarkConfig {
            events: args.events,
            seed: args.seed,
            max_events_per_second: rate,
            ..NexmarkConfig::default()
        },
        parallelism: args.job.parallelism,
        out: args.out.clone(),
        failures: None,
    };
    let graph = build(&job, None).context("building the hot-items job")?;
    let config = args.job.job_config()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let started = std::time::Instant::now();
    run_job(&graph, config, &args.endpoints).await?;
    eprintln!(
        "done in {:.2}s; output in {}",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

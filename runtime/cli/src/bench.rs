//! `freshet bench`: events per second (and per core of CPU time) for the built-in benchmark
//! jobs, with checkpoints off and every second, on the heap and RocksDB backends.
//!
//! CPU time is the whole process's user + system time (from `/proc/self/stat`), so
//! "events/s per core" = events / CPU-seconds, the Nexmark suite's measure.

use crate::examples::hot_items::{self, HotItemsJob};
use anyhow::Context;
use clap::Args;
use freshet_connectors::nexmark::{NexmarkConfig, NexmarkSource, NexmarkTable};
use freshet_connectors::{BlackholeCounters, BlackholeSink};
use freshet_core::Result;
use freshet_dataflow::api::StreamEnv;
use freshet_dataflow::{JobGraph, Operator, OperatorFactory, Source, TaskInfo};
use freshet_engine::{CheckpointConfig, JobConfig, LocalExecutor, RestartStrategy};
use freshet_state::BackendKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `freshet bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Nexmark events per run.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Parallelism of the jobs.
    #[arg(long, default_value_t = 1)]
    pub parallelism: u32,
    /// Only these cases (substring match on the case name).
    #[arg(long)]
    pub only: Option<String>,
    /// Only this state backend (for the stateful cases).
    #[arg(long)]
    pub backend: Option<BackendKind>,
}

/// A blackhole sink whose subtasks all add to `counters`.
fn blackhole(counters: Arc<BlackholeCounters>) -> Arc<dyn OperatorFactory> {
    Arc::new(move |_: &TaskInfo| -> Result<Box<dyn Operator>> {
        Ok(Box::new(BlackholeSink::with_counters(counters.clone())))
    })
}

fn generator_to_blackhole(
    nexmark: NexmarkConfig,
    parallelism: u32,
    counters: Arc<BlackholeCounters>,
) -> Result<JobGraph> {
    let env = StreamEnv::new("nexmark-blackhole", parallelism);
    let schema = NexmarkSource::new(nexmark.clone())?.schema();
    let factory = move |_: &TaskInfo| -> Result<Box<dyn Source>> { Ok(Box::new(NexmarkSource::new(nexmark.clone())?)) };
    env.add_source("nexmark-bids", schema, Arc::new(factory), None)
        .add_sink("blackhole", blackhole(counters));
    env.build()
}

/// CPU time of this process so far.
pub fn process_cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit(')').next() else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the name.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10)
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// Case name.
    pub case: String,
    /// Backend.
    pub backend: String,
    /// Checkpoint interval.
    pub checkpoints: String,
    /// Bid events processed.
    pub events: u64,
    /// Wall time.
    pub wall: Duration,
    /// CPU time.
    pub cpu: Duration,
    /// Completed checkpoints.
    pub checkpoints_completed: u64,
}

async fn measure(
    case: &str,
    backend: BackendKind,
    interval: Option<Duration>,
    graph: JobGraph,
    counters: Arc<BlackholeCounters>,
) -> anyhow::Result<BenchRow> {
    let dir = std::env::temp_dir().join(format!(
        "freshet-bench-{}-{}",
        std::process::id(),
        case.replace(' ', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let config = JobConfig {
        state_backend: backend,
        checkpoint: CheckpointConfig {
            interval,
            storage: dir.join("checkpoints").to_string_lossy().into_owned(),
            retained: 2,
            ..CheckpointConfig::default()
        },
        restart: RestartStrategy::None,
        local_dir: dir.join("local"),
        ..JobConfig::default()
    };
    let cpu0 = process_cpu_time();
    let t0 = Instant::now();
    let outcome = LocalExecutor::new(config)
        .run(&graph)
        .await
        .with_context(|| format!("bench case {case}"))?;
    let wall = t0.elapsed();
    let cpu = process_cpu_time().saturating_sub(cpu0);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(BenchRow {
        case: case.to_string(),
        backend: backend.to_string(),
        checkpoints: interval
            .map(|d| format!("{}s", d.as_secs_f64()))
            .unwrap_or_else(|| "off".into()),
        events: counters.rows(),
        wall,
        cpu,
        checkpoints_completed: outcome.metrics.checkpoints_completed.load(Ordering::Relaxed),
    })
}

/// Runs every case and returns the rows.
pub async fn run_cases(args: &BenchArgs) -> anyhow::Result<Vec<BenchRow>> {
    let mut rows_out = Vec::new();
    let nexmark = NexmarkConfig {
        table: NexmarkTable::Bid,
        events: Some(args.events),
        ..NexmarkConfig::default()
    };
    let intervals = [None, Some(Duration::from_secs(1))];
    let wanted = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    for interval in intervals {
        let name = "generator -> blackhole";
        if wanted(name) {
            let counters = Arc::new(BlackholeCounters::default());
            let graph = generator_to_blackhole(nexmark.clone(), args.parallelism, counters.clone())?;
            rows_out.push(measure(name, BackendKind::Heap, interval, graph, counters).await?);
        }
    }
    let backends = [BackendKind::Heap, BackendKind::Rocksdb];
    for backend in backends
        .into_iter()
        .filter(|b| args.backend.is_none_or(|only| only == *b))
    {
        for interval in intervals {
            let name = "hot-items sliding count";
            if !wanted(name) {
                continue;
            }
            let counters = Arc::new(BlackholeCounters::default());
            let job = HotItemsJob {
                nexmark: nexmark.clone(),
                parallelism: args.parallelism,
                out: std::env::temp_dir(),
                failures: None,
            };
            let graph = hot_items::build(&job, Some(blackhole(counters.clone())))?;
            // The sink counts windows; report the bids that went in.
            let mut row = measure(name, backend, interval, graph, counters).await?;
            row.events = bids_in(&nexmark);
            rows_out.push(row);
        }
    }
    Ok(rows_out)
}

/// The number of bids among the first `events` Nexmark events (46 of every 50).
fn bids_in(config: &NexmarkConfig) -> u64 {
    let n = config.events.unwrap_or(0);
    let total = u64::from(config.person_proportion + config.auction_proportion + config.bid_proportion);
    let skip = u64::from(config.person_proportion + config.auction_proportion);
    (n / total) * u64::from(config.bid_proportion) + (n % total).saturating_sub(skip)
}

/// Formats rows as a Markdown table.
pub fn table(rows: &[BenchRow]) -> String {
    let mut out = String::from(
        "| case | backend | checkpoints | bid events | wall s | cpu s | events/s | events/s per core | checkpoints done |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let wall = r.wall.as_secs_f64();
        let cpu = r.cpu.as_secs_f64().max(1e-3);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {} |\n",
            r.case,
            if r.case.starts_with("generator") {
                "n/a".to_string()
            } else {
                r.backend.clone()
            },
            r.checkpoints,
            r.events,
            wall,
            cpu,
            r.events as f64 / wall.max(1e-3),
            r.events as f64 / cpu,
            r.checkpoints_completed
        ));
    }
    out
}

/// Runs `freshet bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let rows = run_cases(&args).await?;
    println!("{}", table(&rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bids_in_event_blocks() {
        let c = NexmarkConfig {
            events: Some(100),
            ..NexmarkConfig::default()
        };
        assert_eq!(bids_in(&c), 92);
        let c = NexmarkConfig {
            events: Some(55),
            ..NexmarkConfig::default()
        };
        assert_eq!(bids_in(&c), 46 + 1);
    }
}

//! The `freshet` binary. Subcommands:
//! - `freshet example --list` / `freshet example hot-items ...`: built-in example jobs;
//! - `freshet run JOB.sql` / `freshet explain JOB.sql`: SQL jobs in one process;
//! - `freshet coordinator --job JOB.sql ...` / `freshet worker --coordinator HOST:PORT ...`:
//!   the cluster roles;
//! - `freshet bench`: throughput table of the built-in benchmark jobs.

use anyhow::Context;
use clap::{Parser, Subcommand};
use freshet_cli::bench::BenchArgs;
use freshet_cli::examples::ExampleArgs;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// mimalloc: small allocations (state keys, timer entries) dominate the heap-state hot path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freshet: a distributed, stateful stream processor.
#[derive(Parser, Debug)]
#[command(name = "freshet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a SQL script (statements set one job; Ctrl-C stops it with a savepoint).
    Run(freshet_cli::sql::RunArgs),
    /// Print the streaming plan of a SQL script: operators, parallelism, partitioning, state, uids.
    Explain(freshet_cli::sql::ExplainArgs),
    /// Coordinate a SQL job on a cluster of workers (scheduling, checkpoints, failover, HA,
    /// REST API).
    Coordinator(freshet_cli::cluster::CoordinatorArgs),
    /// Run tasks deployed by a coordinator.
    Worker(freshet_cli::cluster::WorkerArgs),
    /// Run a built-in example job (`--list` shows them).
    Example(ExampleArgs),
    /// Measure throughput (events/s per core) of the built-in benchmark jobs.
    Bench(BenchArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FRESHET_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,freshet_engine=info,freshet_cluster=info")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs captured in files stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => freshet_cli::sql::run(args).await,
            Command::Explain(args) => freshet_cli::sql::explain(args).await,
            Command::Coordinator(args) => freshet_cli::cluster::run_coordinator(args).await,
            Command::Worker(args) => freshet_cli::cluster::run_worker(args).await,
            Command::Example(args) => freshet_cli::examples::run(args).await,
            Command::Bench(args) => freshet_cli::bench::run(args).await,
        }
    })
}

//! Running a job in this process: Ctrl-C stops it with a savepoint and prints where it is;
//! `--rest-addr` serves the REST API and `--metrics-addr` Prometheus metrics for it while it runs.

use anyhow::Context;
use clap::Args;
use freshet_dataflow::JobGraph;
use freshet_engine::exporter::{self, Exporter};
use freshet_engine::http::HttpServer;
use freshet_engine::rest::{self, JobService, LocalJobService};
use freshet_engine::{JobConfig, JobEnd, JobOutcome, LocalExecutor};
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the process serves its HTTP surfaces while the job runs.
#[derive(Args, Debug, Clone, Default)]
pub struct Endpoints {
    /// Serve the REST API on this address (e.g. 127.0.0.1:8081; port 0 picks a free port,
    /// printed on stderr as `REST API listening on http://HOST:PORT`).
    #[arg(long)]
    pub rest_addr: Option<SocketAddr>,
    /// Serve Prometheus metrics at `/metrics` on this address (e.g. 0.0.0.0:9249; port 0 picks
    /// a free port, printed on stderr as `Metrics listening on http://HOST:PORT/metrics`).
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
}

/// Starts the HTTP surfaces `endpoints` asks for, for the job of `executor`.
async fn start_endpoints(executor: &LocalExecutor, endpoints: &Endpoints) -> anyhow::Result<Vec<HttpServer>> {
    let mut servers = Vec::new();
    if let Some(addr) = endpoints.rest_addr {
        let service: Arc<dyn JobService> = Arc::new(LocalJobService::new(executor));
        let server = HttpServer::start(addr, rest::router(service))
            .await
            .with_context(|| format!("serving the REST API on {addr}"))?;
        eprintln!("REST API listening on http://{}", server.addr);
        servers.push(server);
    }
    if let Some(addr) = endpoints.metrics_addr {
        let exporter = Arc::new(Exporter::new(executor));
        let server = HttpServer::start(addr, exporter::router(exporter))
            .await
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("Metrics listening on http://{}/metrics", server.addr);
        servers.push(server);
    }
    Ok(servers)
}

/// Runs `graph` to its end. On Ctrl-C, takes a savepoint, stops, and prints its location.
pub async fn run_job(graph: &JobGraph, config: JobConfig, endpoints: &Endpoints) -> anyhow::Result<JobOutcome> {
    let local_dir = config.local_dir.clone();
    let executor = LocalExecutor::new(config);
    let servers = start_endpoints(&executor, endpoints).await?;
    let handle = executor.handle();
    let stopper = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Ctrl-C: stopping with a savepoint (press Ctrl-C again to abort)...");
            tokio::select! {
                result = handle.savepoint(None, true) => match result {
                    Ok(path) => eprintln!("savepoint: {path}"),
                    Err(e) => {
                        eprintln!("savepoint failed: {e}; cancelling");
                        handle.cancel();
                    }
                },
                _ = tokio::signal::ctrl_c() => handle.cancel(),
            }
        }
    });
    let outcome = executor.run(graph).await;
    stopper.abort();
    for server in servers {
        server.stop();
    }
    let outcome = outcome.context("job failed")?;
    let _ = std::fs::remove_dir_all(&local_dir);
    report_end(&outcome);
    Ok(outcome)
}

/// Says how a job ended: a stop-with-savepoint prints the savepoint's location on stdout (for
/// scripts), the rest goes to stderr.
pub fn report_end(outcome: &JobOutcome) {
    match &outcome.end {
        JobEnd::Finished => eprintln!(
            "job finished ({} restarts, last checkpoint {})",
            outcome.restarts,
            outcome
                .last_checkpoint
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into())
        ),
        JobEnd::Stopped { savepoint } => println!("{savepoint}"),
        JobEnd::Cancelled => eprintln!("job cancelled"),
    }
}

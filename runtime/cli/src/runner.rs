//! Running a job in this process: Ctrl-C stops it with a savepoint and prints where it is.

use anyhow::Context;
use freshet_dataflow::JobGraph;
use freshet_engine::{JobConfig, JobEnd, JobOutcome, LocalExecutor};

/// Runs `graph` to its end. On Ctrl-C, takes a savepoint, stops, and prints its location.
pub async fn run_job(graph: &JobGraph, config: JobConfig) -> anyhow::Result<JobOutcome> {
    let local_dir = config.local_dir.clone();
    let executor = LocalExecutor::new(config);
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
    let outcome = executor.run(graph).await.context("job failed")?;
    stopper.abort();
    let _ = std::fs::remove_dir_all(&local_dir);
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
    Ok(outcome)
}

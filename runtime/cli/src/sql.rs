//! `freshet run JOB.sql` and `freshet explain JOB.sql`: SQL scripts on the local engine.
//!
//! Configuration comes from three places, the first that says something wins: a flag on the
//! command line, a `SET` in the script, the default.

use crate::options::{parse_duration, JobOptions};
use crate::runner::{run_job, Endpoints};
use anyhow::Context;
use clap::Args;
use freshet_sql::planner::settings::{JobSettings, StateBackendSetting};
use freshet_sql::{PlanOptions, Planner, SqlJob};
use freshet_state::BackendKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags of `freshet run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The SQL script.
    pub job: PathBuf,
    /// How the job runs.
    #[command(flatten)]
    pub flags: ExecutionFlags,
    /// HTTP surfaces (REST API, Prometheus metrics).
    #[command(flatten)]
    pub endpoints: Endpoints,
}

/// How a SQL job runs: flags shared by `freshet run` and `freshet coordinator`; each overrides
/// the script's `SET`.
#[derive(Args, Debug, Clone, Default)]
pub struct ExecutionFlags {
    /// Parallel subtasks per operator (overrides `SET 'parallelism.default'`).
    #[arg(long, short = 'p')]
    pub parallelism: Option<u32>,
    /// Checkpoint storage: a path or a file://, s3://, gs://, az:// URL (overrides
    /// `state.checkpoints.dir`; default ./checkpoints).
    #[arg(long)]
    pub checkpoint_dir: Option<String>,
    /// Interval between checkpoints, e.g. 1s (overrides `execution.checkpointing.interval`).
    #[arg(long, value_parser = parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// Keyed state backend (overrides `state.backend.type`; default heap).
    #[arg(long)]
    pub state_backend: Option<BackendKind>,
    /// Start from `latest` (the newest checkpoint or savepoint in the checkpoint dir) or a path.
    #[arg(long)]
    pub restore: Option<String>,
    /// Drop state of operators the job no longer has when restoring.
    #[arg(long)]
    pub allow_non_restored_state: bool,
    /// Where savepoints go (default: <checkpoint-dir>/savepoints).
    #[arg(long)]
    pub savepoint_dir: Option<String>,
    /// Local working directory for state (RocksDB) and temporary files.
    #[arg(long)]
    pub local_dir: Option<PathBuf>,
}

/// Flags of `freshet explain`.
#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// The SQL script.
    pub job: PathBuf,
    /// Parallel subtasks per operator (overrides `SET 'parallelism.default'`).
    #[arg(long, short = 'p')]
    pub parallelism: Option<u32>,
}

/// Plans the script at `path`; errors name the file, line and column.
pub async fn plan_file(path: &Path, parallelism: Option<u32>) -> anyhow::Result<SqlJob> {
    let sql = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let options = PlanOptions {
        parallelism,
        default_name: path.file_stem().map(|s| s.to_string_lossy().into_owned()),
    };
    Planner::new().plan_script(&sql, &options).await.map_err(|e| {
        let hint = e.hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
        anyhow::anyhow!("{}:{}:{}: {}{hint}", path.display(), e.line, e.column, e.message)
    })
}

/// The engine flags: command line first, then the script's settings, then defaults.
pub fn job_options(args: &ExecutionFlags, settings: &JobSettings) -> JobOptions {
    JobOptions {
        parallelism: args.parallelism.or(settings.parallelism).unwrap_or(1),
        checkpoint_dir: args
            .checkpoint_dir
            .clone()
            .or_else(|| settings.checkpoint_dir.clone())
            .unwrap_or_else(|| "checkpoints".into()),
        checkpoint_interval: args.checkpoint_interval.or(settings.checkpoint_interval),
        retained_checkpoints: settings.retained_checkpoints.unwrap_or(3),
        state_backend: args.state_backend.unwrap_or(match settings.state_backend {
            Some(StateBackendSetting::Rocksdb) => BackendKind::Rocksdb,
            Some(StateBackendSetting::Heap) | None => BackendKind::Heap,
        }),
        restore: args.restore.clone(),
        allow_non_restored_state: args.allow_non_restored_state,
        savepoint_dir: args.savepoint_dir.clone(),
        local_dir: args.local_dir.clone(),
        batch_size: 8192,
        buffer_timeout: Duration::from_millis(100),
    }
}

/// `freshet run`.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let job = plan_file(&args.job, args.flags.parallelism).await?;
    let config = job_options(&args.flags, &job.settings).job_config()?;
    run_job(&job.graph, config, &args.endpoints).await?;
    Ok(())
}

/// `freshet explain`.
pub async fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let job = plan_file(&args.job, args.parallelism).await?;
    print!("{}", job.graph.explain());
    Ok(())
}

//! `freshet coordinator` and `freshet worker`: the cluster roles, on SQL jobs.

use crate::options::parse_duration;
use crate::runner::report_end;
use crate::sql::{job_options, plan_file, ExecutionFlags};
use anyhow::{bail, Context};
use clap::Args;
use freshet_cluster::coordinator::{self, CoordinatorConfig, CoordinatorEnd};
use freshet_cluster::worker::{Worker, WorkerConfig};
use freshet_cluster::JobCompiler;
use freshet_core::SystemClock;
use freshet_dataflow::JobGraph;
use freshet_engine::exporter::{self, Exporter};
use freshet_engine::http::HttpServer;
use freshet_engine::RestartStrategy;
use freshet_ha::{AnyStore, FileStore, KubernetesStore, LeaseTiming};
use freshet_rpc::DataPlaneConfig;
use freshet_sql::{PlanOptions, Planner};
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Compiles SQL scripts with the streaming SQL planner (deterministic: every process of a
/// cluster gets the same graph from the same script).
pub struct SqlCompiler;

impl JobCompiler for SqlCompiler {
    fn compile<'a>(
        &'a self,
        script: &'a str,
        parallelism: Option<u32>,
        default_name: Option<&'a str>,
    ) -> BoxFuture<'a, freshet_core::Result<JobGraph>> {
        Box::pin(async move {
            let options = PlanOptions {
                parallelism,
                default_name: default_name.map(str::to_string),
            };
            let job = Planner::new().plan_script(script, &options).await.map_err(|e| {
                let hint = e.hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                freshet_core::Error::Config(format!("{}:{}: {}{hint}", e.line, e.column, e.message))
            })?;
            Ok(job.graph)
        })
    }
}

/// HA store flags, shared by coordinators and workers.
#[derive(Args, Debug, Clone)]
pub struct HaFlags {
    /// Coordinator high availability: `none`, `file:DIR` (a directory shared by the
    /// coordinators and workers) or `kubernetes` (a Lease, see --ha-lease-name).
    #[arg(long, default_value = "none")]
    pub ha: String,
    /// Name of the Lease with `--ha kubernetes`.
    #[arg(long, default_value = "freshet-coordinator")]
    pub ha_lease_name: String,
    /// Namespace of the Lease (default: POD_NAMESPACE or the client configuration's).
    #[arg(long)]
    pub ha_namespace: Option<String>,
    /// How long a leader's lease lasts without renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub ha_lease_duration: Duration,
    /// A leader that could not renew for this long steps down.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub ha_renew_deadline: Duration,
    /// How often candidates try to acquire and leaders renew.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub ha_retry_period: Duration,
}

impl HaFlags {
    /// The configured store, if any.
    pub async fn store(&self) -> anyhow::Result<Option<AnyStore>> {
        let timing = LeaseTiming::new(self.ha_lease_duration, self.ha_renew_deadline, self.ha_retry_period)
            .context("--ha-lease-duration, --ha-renew-deadline, --ha-retry-period")?;
        let clock = Arc::new(SystemClock);
        match self.ha.as_str() {
            "none" => Ok(None),
            "kubernetes" => Ok(Some(
                KubernetesStore::from_environment(self.ha_namespace.as_deref(), &self.ha_lease_name, timing, clock)
                    .await
                    .context("--ha kubernetes")?
                    .into(),
            )),
            other if other.starts_with("file:") => Ok(Some(
                FileStore::from_address(other, timing, clock)
                    .with_context(|| format!("--ha {other}"))?
                    .into(),
            )),
            other => bail!("--ha '{other}': expected none, file:DIR or kubernetes"),
        }
    }
}

/// Flags of `freshet coordinator`.
#[derive(Args, Debug, Clone)]
pub struct CoordinatorArgs {
    /// The SQL script of the job.
    #[arg(long)]
    pub job: PathBuf,
    /// How the job runs.
    #[command(flatten)]
    pub flags: ExecutionFlags,
    /// Address of the RPC service workers connect to (port 0 picks a free port, printed as
    /// `Coordinator RPC listening on HOST:PORT`).
    #[arg(long, default_value = "0.0.0.0:6123")]
    pub rpc_addr: SocketAddr,
    /// Serve the REST API on this address.
    #[arg(long)]
    pub rest_addr: Option<SocketAddr>,
    /// Serve Prometheus metrics at `/metrics` on this address.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Host name workers and clients reach this process by (default: the bound IP, or this
    /// machine's host name when bound to 0.0.0.0).
    #[arg(long)]
    pub advertised_host: Option<String>,
    /// Interval of worker heartbeats.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    /// A worker without a heartbeat for this long is lost; its tasks restart elsewhere.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub heartbeat_timeout: Duration,
    /// Restarts after failures before the job fails (default: exponential backoff, 10).
    #[arg(long)]
    pub restart_attempts: Option<u32>,
    /// Fixed delay before each restart (with --restart-attempts; default 1s).
    #[arg(long, value_parser = parse_duration)]
    pub restart_delay: Option<Duration>,
    /// This process's identity as a leader candidate (default: host name and process id).
    #[arg(long)]
    pub identity: Option<String>,
    /// Keep serving the REST API and metrics after the job ended (its final state and
    /// savepoint results) until interrupted, instead of exiting; for supervisors that read the
    /// end through the API, such as the Kubernetes operator.
    #[arg(long)]
    pub linger_after_end: bool,
    /// High availability.
    #[command(flatten)]
    pub ha: HaFlags,
}

/// Flags of `freshet worker`.
#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// The coordinator's RPC address (`HOST:PORT`); with --ha, the leader is found in the HA
    /// store instead.
    #[arg(long)]
    pub coordinator: Option<String>,
    /// Task slots this worker offers.
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    /// Address to serve the worker's control service and data plane on (port 0 picks one).
    #[arg(long, default_value = "0.0.0.0:6124")]
    pub addr: SocketAddr,
    /// Host name others reach this worker by (default: the bound IP, or this machine's host
    /// name when bound to 0.0.0.0).
    #[arg(long)]
    pub advertised_host: Option<String>,
    /// Stable worker id (default: host name and process id).
    #[arg(long)]
    pub worker_id: Option<String>,
    /// Local working directory for state (RocksDB) and temporary files.
    #[arg(long)]
    pub local_dir: Option<PathBuf>,
    /// Serve Prometheus metrics of this worker's tasks at `/metrics` on this address.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Credits per data-plane channel: elements in flight to one consumer subtask.
    #[arg(long)]
    pub credits_per_channel: Option<u32>,
    /// High availability (to find the leader).
    #[command(flatten)]
    pub ha: HaFlags,
}

fn default_identity() -> String {
    format!("{}-{}", freshet_cluster::address::host_name(), std::process::id())
}

/// `freshet coordinator`.
pub async fn run_coordinator(args: CoordinatorArgs) -> anyhow::Result<()> {
    let planned = plan_file(&args.job, args.flags.parallelism).await?;
    let mut job = job_options(&args.flags, &planned.settings).job_config()?;
    if let Some(attempts) = args.restart_attempts {
        job.restart = RestartStrategy::FixedDelay {
            attempts,
            delay_ms: args.restart_delay.unwrap_or(Duration::from_secs(1)).as_millis() as u64,
        };
    } else if args.restart_delay.is_some() {
        bail!("--restart-delay needs --restart-attempts");
    }
    let script = std::fs::read_to_string(&args.job).with_context(|| format!("reading {}", args.job.display()))?;
    let local_dir = job.local_dir.clone();
    let config = CoordinatorConfig {
        script,
        parallelism: args.flags.parallelism,
        default_name: args.job.file_stem().map(|s| s.to_string_lossy().into_owned()),
        job,
        rpc_bind: args.rpc_addr,
        rest_bind: args.rest_addr,
        metrics_bind: args.metrics_addr,
        advertised_host: args.advertised_host.clone(),
        heartbeat_interval: args.heartbeat_interval,
        heartbeat_timeout: args.heartbeat_timeout,
        ha: args.ha.store().await?,
        identity: args.identity.clone().unwrap_or_else(default_identity),
        linger_after_end: args.linger_after_end,
    };
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let end = coordinator::run(config, Arc::new(SqlCompiler), ctrl_c)
        .await
        .context("coordinator")?;
    let _ = std::fs::remove_dir_all(&local_dir);
    let outcome = match end {
        CoordinatorEnd::Job(outcome) => outcome,
        CoordinatorEnd::AlreadyEnded(how) => {
            eprintln!("the job already ended ({how}); nothing to run");
            return Ok(());
        }
    };
    report_end(&outcome);
    Ok(())
}

/// `freshet worker`.
pub async fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let locator = coordinator::locator(args.coordinator.clone(), args.ha.store().await?)?;
    let worker_id = args.worker_id.clone().unwrap_or_else(default_identity);
    let mut data_plane = DataPlaneConfig::default();
    if let Some(credits) = args.credits_per_channel {
        if credits == 0 {
            bail!("--credits-per-channel must be at least 1");
        }
        data_plane.credits_per_channel = credits;
    }
    let config = WorkerConfig {
        worker_id: worker_id.clone(),
        coordinator: locator,
        bind: args.addr,
        advertised_host: args.advertised_host.clone(),
        slots: args.slots,
        local_dir: args
            .local_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("freshet-worker-{worker_id}"))),
        data_plane,
    };
    let local_dir = config.local_dir.clone();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (worker, serving) = Worker::start(config, Arc::new(SqlCompiler), shutdown).await?;
    eprintln!("Worker {worker_id} listening on {}", worker.addr);
    let metrics_server = match args.metrics_addr {
        Some(addr) => {
            let exporter = Arc::new(Exporter::from_parts(worker.metrics(), worker.status()));
            let server = HttpServer::start(addr, exporter::router(exporter))
                .await
                .with_context(|| format!("serving metrics on {addr}"))?;
            eprintln!("Metrics listening on http://{}/metrics", server.addr);
            Some(server)
        }
        None => None,
    };
    let served = serving.await.context("the worker's server task")?;
    if let Some(s) = metrics_server {
        s.stop();
    }
    let _ = std::fs::remove_dir_all(&local_dir);
    served.context("worker")?;
    Ok(())
}

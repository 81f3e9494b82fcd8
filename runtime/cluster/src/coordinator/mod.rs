//! The coordinator role: leads (through the HA store, if one is configured), accepts workers,
//! runs the job on them through the engine's executor (checkpoints, savepoints, restarts), and
//! serves the REST API and Prometheus metrics.

pub mod cluster;
pub mod deployer;
pub mod leader;
pub mod service;

use crate::job::{JobCompiler, WireConfig};
use crate::worker::CoordinatorLocator;
use crate::{ClusterError, Result};
use cluster::Cluster;
use deployer::RemoteDeployer;
use freshet_core::SystemClock;
use freshet_engine::config::{JobConfig, RestoreFrom};
use freshet_engine::exporter::{self, Exporter};
use freshet_engine::http::HttpServer;
use freshet_engine::rest::{self, JobService, LocalJobService};
use freshet_engine::{Executor, JobEnd, JobOutcome};
use freshet_ha::{AnyStore, Candidate, LeaderAddresses};
use freshet_rpc::proto::coordinator_server::CoordinatorServer;
use leader::{HaRecorder, Leader};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// A coordinator's settings.
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// The job's script.
    pub script: String,
    /// Parallelism override for the script.
    pub parallelism: Option<u32>,
    /// The job's name unless the script sets one (e.g. the script's file name).
    pub default_name: Option<String>,
    /// Engine settings (checkpointing, restart strategy, restore, ...).
    pub job: JobConfig,
    /// Where to serve the `Coordinator` RPC service (port 0 picks one).
    pub rpc_bind: SocketAddr,
    /// Where to serve the REST API.
    pub rest_bind: Option<SocketAddr>,
    /// Where to serve Prometheus metrics.
    pub metrics_bind: Option<SocketAddr>,
    /// Host name workers and clients reach this process by (default: the bound IP).
    pub advertised_host: Option<String>,
    /// How often workers send heartbeats.
    pub heartbeat_interval: Duration,
    /// After how long without a heartbeat a worker is lost.
    pub heartbeat_timeout: Duration,
    /// The HA store (`None`: this coordinator leads alone).
    pub ha: Option<AnyStore>,
    /// This process's identity as a leader candidate.
    pub identity: String,
    /// Keep serving REST and metrics after the job ended (its final state, the result of a
    /// stop-with-savepoint) until `stop` resolves, instead of returning at once. For
    /// supervisors that read the end through the API (the Kubernetes operator), where a
    /// process that exits is restarted by its Deployment.
    pub linger_after_end: bool,
}

/// How a coordinator's run ended.
#[derive(Debug)]
pub enum CoordinatorEnd {
    /// It ran the job to its end (finished, stopped with a savepoint, or cancelled).
    Job(JobOutcome),
    /// It took over a job the HA store records as ended (how), so it ran nothing.
    AlreadyEnded(String),
}

/// How an outcome is recorded in the HA store.
fn ended(outcome: &JobOutcome) -> String {
    match &outcome.end {
        JobEnd::Finished => "FINISHED".into(),
        JobEnd::Cancelled => "CANCELLED".into(),
        JobEnd::Stopped { savepoint } => format!("STOPPED at {savepoint}"),
    }
}

/// The address a bound socket is reached at.
fn advertised(host: &Option<String>, addr: SocketAddr) -> String {
    format!(
        "{}:{}",
        host.clone().unwrap_or_else(|| addr.ip().to_string()),
        addr.port()
    )
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ClusterError::io(format!("binding the {what} address {addr}"), e))
}

/// Runs the coordinator until its job ends. With HA, waits to lead first, restores the job
/// from the checkpoint the HA store records, and stops (with an error) if it loses the lead.
/// When `stop` resolves, the job stops with a savepoint (cancelled if that fails).
pub async fn run(
    config: CoordinatorConfig,
    compiler: Arc<dyn JobCompiler>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<CoordinatorEnd> {
    let graph = compiler
        .compile(&config.script, config.parallelism, config.default_name.as_deref())
        .await?;
    let rpc_listener = bind(config.rpc_bind, "RPC").await?;
    let rpc_addr = rpc_listener
        .local_addr()
        .map_err(|e| ClusterError::io("reading the RPC address", e))?;
    let rest_listener = match config.rest_bind {
        Some(a) => Some(bind(a, "REST").await?),
        None => None,
    };
    let rpc_advertised = advertised(&config.advertised_host, rpc_addr);
    let rest_advertised = match &rest_listener {
        Some(l) => {
            let a = l
                .local_addr()
                .map_err(|e| ClusterError::io("reading the REST address", e))?;
            format!("http://{}", advertised(&config.advertised_host, a))
        }
        None => String::new(),
    };

    let mut job_config = config.job.clone();
    let mut job_id = None;
    let leader = match &config.ha {
        Some(store) => {
            let candidate = Candidate {
                identity: config.identity.clone(),
                addresses: LeaderAddresses {
                    rpc: rpc_advertised.clone(),
                    rest: rest_advertised.clone(),
                },
            };
            let leader = Leader::acquire(store.clone(), candidate).await?;
            let metadata = leader.metadata();
            if let Some(how) = metadata.job_ended.clone() {
                tracing::info!(%how, "the HA store records the job as ended; nothing to run");
                if let Err(e) = leader.release().await {
                    tracing::warn!(error = %e, "could not release the lease");
                }
                return Ok(CoordinatorEnd::AlreadyEnded(how));
            }
            if let Some(pointer) = &metadata.latest_checkpoint {
                tracing::info!(id = %pointer.id, path = %pointer.path, "restoring from the checkpoint the HA store records");
                job_config.restore = RestoreFrom::Path(pointer.path.clone());
            }
            job_id = metadata.job_id.clone();
            Some(leader)
        }
        None => None,
    };
    let session = format!("{}-{}", config.identity, leader.as_ref().map_or(0, |l| l.term()));
    let cluster = Arc::new(Cluster::new(
        session,
        config.heartbeat_interval,
        config.heartbeat_timeout,
    ));
    let liveness = tokio::spawn(cluster.clone().watch_liveness());
    let (stop_rpc, rpc_stopped) = tokio::sync::oneshot::channel::<()>();
    let rpc_server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(CoordinatorServer::new(service::CoordinatorService::new(
            cluster.clone(),
        )))
        .serve_with_incoming_shutdown(TcpListenerStream::new(rpc_listener), async {
            let _ = rpc_stopped.await;
        });
    let rpc_task = tokio::spawn(rpc_server);
    eprintln!("Coordinator RPC listening on {rpc_advertised}");

    let status_job_id = job_id.unwrap_or_else(freshet_engine::status::new_id);
    let status = Arc::new(freshet_engine::status::JobStatus::with_id(status_job_id.clone()));
    let deployer = RemoteDeployer {
        cluster: cluster.clone(),
        job_id: status_job_id.clone(),
        script: config.script.clone(),
        wire_config: WireConfig::new(&job_config, config.parallelism, config.default_name.clone()),
        epoch: leader.as_ref().map_or(0, |l| l.term()),
        status: status.clone(),
    };
    let mut executor = Executor::with_deployer(deployer, job_config, Arc::new(SystemClock)).with_status(status);
    if let Some(leader) = &leader {
        let mut metadata = leader.metadata();
        if metadata.job_id.as_deref() != Some(status_job_id.as_str()) {
            metadata.job_id = Some(status_job_id.clone());
            leader.write_metadata(metadata).await?;
        }
        executor = executor.with_recorder(Arc::new(HaRecorder { leader: leader.clone() }));
    }

    let mut servers = Vec::new();
    if let Some(listener) = rest_listener {
        let service: Arc<dyn JobService> = Arc::new(LocalJobService::new(&executor));
        let server = HttpServer::serve(listener, rest::router(service))
            .map_err(|e| ClusterError::io("serving the REST API", e))?;
        eprintln!("REST API listening on http://{}", server.addr);
        servers.push(server);
    }
    if let Some(addr) = config.metrics_bind {
        let server = HttpServer::start(addr, exporter::router(Arc::new(Exporter::new(&executor))))
            .await
            .map_err(|e| ClusterError::io(format!("serving metrics on {addr}"), e))?;
        eprintln!("Metrics listening on http://{}/metrics", server.addr);
        servers.push(server);
    }

    let renewing = leader.clone().map(|l| tokio::spawn(l.keep_renewing()));
    let handle = executor.handle();
    // Shared: the stopper waits for it while the job runs, and a lingering coordinator after.
    let stop = futures::FutureExt::shared(futures::FutureExt::boxed(stop));
    let stop_signal = stop.clone();
    let stopper = tokio::spawn(async move {
        stop_signal.await;
        eprintln!("stopping the job with a savepoint...");
        match handle.savepoint(None, true).await {
            Ok(path) => eprintln!("savepoint: {path}"),
            Err(e) => {
                eprintln!("savepoint failed: {e}; cancelling");
                handle.cancel();
            }
        }
    });
    let lost = async {
        match &leader {
            Some(l) => l.lost().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        outcome = executor.run(&graph) => outcome.map_err(ClusterError::from),
        reason = lost => Err(ClusterError::Config(format!("this coordinator lost its leadership: {reason}"))),
    };
    // A job that failed because this process lost the lead (e.g. a fenced checkpoint record)
    // says so.
    let outcome = match (outcome, leader.as_ref().and_then(|l| l.lost_reason())) {
        (Err(_), Some(reason)) => Err(ClusterError::Config(format!(
            "this coordinator lost its leadership: {reason}"
        ))),
        (outcome, _) => outcome,
    };
    stopper.abort();
    if let Some(r) = renewing {
        r.abort();
    }
    let lost_lead = leader.as_ref().and_then(|l| l.lost_reason()).is_some();
    let end_record = match &outcome {
        Ok(o) => Some(ended(o)),
        // A job that failed beyond its restart strategy ended too (unless this coordinator
        // failed it by losing the lead: then the new leader runs it).
        Err(e) if !lost_lead => Some(format!("FAILED: {e}")),
        Err(_) => None,
    };
    if let (Some(how), Some(leader)) = (end_record, &leader) {
        // Record the end, so no standby runs the job again, and hand the lease over.
        let mut metadata = leader.metadata();
        metadata.job_ended = Some(how);
        if let Err(e) = leader.write_metadata(metadata).await {
            tracing::warn!(error = %e, "could not record the job's end in the HA store");
        }
        if let Err(e) = leader.release().await {
            tracing::warn!(error = %e, "could not release the lease");
        }
    }
    liveness.abort();
    if config.linger_after_end && !lost_lead {
        eprintln!("the job ended; serving its final status until stopped");
        stop.await;
    }
    for s in servers {
        s.stop();
    }
    let _ = stop_rpc.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), rpc_task).await;
    outcome.map(CoordinatorEnd::Job)
}

/// Where workers of a coordinator at `address` (or behind `ha`) find it.
pub fn locator(address: Option<String>, ha: Option<AnyStore>) -> Result<CoordinatorLocator> {
    match (address, ha) {
        (_, Some(store)) => Ok(CoordinatorLocator::Ha(store)),
        (Some(a), None) => Ok(CoordinatorLocator::Address(a)),
        (None, None) => Err(ClusterError::Config(
            "a worker needs --coordinator HOST:PORT or an HA store (--ha) to find the leader".into(),
        )),
    }
}

//! The worker role: registers with the coordinator (found by address, or as the current leader
//! in the HA store), runs the tasks deployed to it, and serves the `Worker` control service and
//! the `DataExchange` data plane on one address.

mod attempt;
mod report;
mod service;
mod session;

use crate::job::JobCompiler;
use crate::{ClusterError, Result};
use attempt::RunningAttempt;
use freshet_engine::metrics::JobMetrics;
use freshet_engine::status::JobStatus;
use freshet_ha::AnyStore;
use freshet_rpc::proto::worker_server::WorkerServer;
use freshet_rpc::{DataPlaneConfig, NetworkReceiver, NetworkSender};
use report::{CurrentCoordinator, Reporter};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// How a worker finds its coordinator.
#[derive(Clone, Debug)]
pub enum CoordinatorLocator {
    /// A fixed address (`host:port` or `http://host:port`).
    Address(String),
    /// The current leader recorded in the HA store.
    Ha(AnyStore),
}

/// A worker's settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Stable id (e.g. the pod name); re-registration keeps it.
    pub worker_id: String,
    /// Where to find the coordinator.
    pub coordinator: CoordinatorLocator,
    /// Address to serve the control service and the data plane on (port 0 picks one).
    pub bind: SocketAddr,
    /// Host name others reach this worker by (default: the bound IP).
    pub advertised_host: Option<String>,
    /// Task slots offered.
    pub slots: u32,
    /// Local working directory (RocksDB, temporary files).
    pub local_dir: PathBuf,
    /// Data-plane credit and connection settings.
    pub data_plane: DataPlaneConfig,
}

/// What the worker's services and loops share.
pub(crate) struct WorkerShared {
    pub worker_id: String,
    pub slots: u32,
    pub control_address: String,
    pub compiler: Arc<dyn JobCompiler>,
    pub local_dir: PathBuf,
    pub sender: Arc<NetworkSender>,
    pub receiver: NetworkReceiver,
    pub reporter: Reporter,
    pub coordinator: CurrentCoordinator,
    /// The running attempt (one job per cluster; a new attempt replaces the old one).
    pub running: tokio::sync::Mutex<Option<RunningAttempt>>,
    /// Counters of the tasks running here.
    pub metrics: Arc<JobMetrics>,
    /// State of this worker's part of the job, for its `/metrics`.
    pub status: Arc<JobStatus>,
}

impl WorkerShared {
    /// Cancels the running attempt, if any (e.g. when the coordinator changed), and waits for
    /// its tasks to be gone.
    pub async fn cancel_all(&self, reason: &str) {
        let running = self.running.lock().await.take();
        if let Some(a) = running {
            tracing::warn!(%reason, job = %a.job, attempt = a.attempt, "cancelling all tasks");
            a.cancel().await;
        }
    }
}

/// A started worker.
pub struct Worker {
    shared: Arc<WorkerShared>,
    /// The address it serves on.
    pub addr: SocketAddr,
}

impl Worker {
    /// Binds the worker's address and starts serving and registering; runs until `shutdown`.
    pub async fn start(
        config: WorkerConfig,
        compiler: Arc<dyn JobCompiler>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(Worker, tokio::task::JoinHandle<Result<()>>)> {
        if config.slots == 0 {
            return Err(ClusterError::Config("--slots must be at least 1".into()));
        }
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| ClusterError::io(format!("binding {}", config.bind), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ClusterError::io("reading the bound address", e))?;
        let host = crate::address::advertised_host(config.advertised_host.as_deref(), addr.ip());
        let control_address = format!("http://{host}:{}", addr.port());
        let coordinator: CurrentCoordinator = Default::default();
        let shared = Arc::new(WorkerShared {
            worker_id: config.worker_id.clone(),
            slots: config.slots,
            control_address,
            compiler,
            local_dir: config.local_dir.clone(),
            sender: Arc::new(NetworkSender::new(config.data_plane.clone())),
            receiver: NetworkReceiver::new(config.data_plane.clone()),
            reporter: Reporter::start(coordinator.clone()),
            coordinator,
            running: tokio::sync::Mutex::new(None),
            metrics: Arc::new(JobMetrics::default()),
            status: Arc::new(JobStatus::new()),
        });
        let registration = tokio::spawn(session::keep_registered(shared.clone(), config.coordinator.clone()));
        let router = config
            .data_plane
            .server()
            .add_service(WorkerServer::new(service::WorkerService::new(shared.clone())))
            .add_service(shared.receiver.service());
        let serving_shared = shared.clone();
        let serving = tokio::spawn(async move {
            let served = router
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
                .await;
            registration.abort();
            serving_shared.cancel_all("the worker is shutting down").await;
            served.map_err(ClusterError::from)
        });
        Ok((Worker { shared, addr }, serving))
    }

    /// The worker's counters (for its `/metrics`).
    pub fn metrics(&self) -> Arc<JobMetrics> {
        self.shared.metrics.clone()
    }

    /// The state of the worker's part of the job.
    pub fn status(&self) -> Arc<JobStatus> {
        self.shared.status.clone()
    }
}

//! Where the tasks of an execution attempt run. The executor drives checkpoints, savepoints and
//! restarts the same way whether the tasks run in this process ([`LocalDeployer`]) or on
//! workers of a cluster (the coordinator's deployer): it only sends [`TaskControl`]s, receives
//! [`TaskEvent`]s and learns when tasks exit.

use crate::build::{build_attempt, Attempt, Placement};
use crate::config::JobConfig;
use crate::metrics::JobMetrics;
use crate::restore::RestorePoint;
use crate::task::{SnapshotLocations, TaskControl, TaskEvent, TaskRef};
use freshet_core::{Clock, Error, Result};
use freshet_dataflow::JobGraph;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// What a deployer needs to start one attempt.
pub struct DeployRequest<'a> {
    /// The job.
    pub graph: &'a JobGraph,
    /// Its settings.
    pub config: &'a JobConfig,
    /// The checkpoint or savepoint to restore from.
    pub restore_point: Option<&'a RestorePoint>,
    /// The attempt number (0 for the first run, +1 per restart).
    pub attempt: u32,
    /// Where tasks report checkpoint acknowledgements and their end of input.
    pub events: mpsc::UnboundedSender<TaskEvent>,
    /// Where snapshots go.
    pub locations: SnapshotLocations,
    /// The job's counters.
    pub metrics: &'a Arc<JobMetrics>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// Starts the tasks of attempts.
pub trait Deployer: Send + Sync {
    /// A running attempt.
    type Deployment: Deployment;

    /// Deploys every task of the request's attempt and starts them. May wait (e.g. for enough
    /// worker slots); the executor cancels the wait if the job is cancelled.
    fn deploy(&self, request: DeployRequest<'_>) -> impl Future<Output = Result<Self::Deployment>> + Send;
}

/// The tasks of one running attempt.
pub trait Deployment: Send {
    /// Every task of the attempt.
    fn tasks(&self) -> Vec<TaskRef>;

    /// The tasks headed by a source (they inject barriers).
    fn source_tasks(&self) -> Vec<TaskRef>;

    /// Sends a control message to one task (dropped if it has exited).
    fn send(&self, task: TaskRef, control: TaskControl);

    /// Sends a control message to every task.
    fn send_all(&self, control: TaskControl) {
        for task in self.tasks() {
            self.send(task, control.clone());
        }
    }

    /// The next task to exit and how it ended; `None` once none is left.
    fn next_exit(&mut self) -> impl Future<Output = Option<(TaskRef, Result<()>)>> + Send;

    /// Cancels whatever still runs and waits until nothing of the attempt is left.
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

/// Runs every task in this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalDeployer;

/// An attempt running in this process.
pub struct LocalDeployment {
    controls: BTreeMap<TaskRef, mpsc::UnboundedSender<TaskControl>>,
    source_tasks: Vec<TaskRef>,
    joins: JoinSet<(TaskRef, Result<()>)>,
    local_dir: PathBuf,
}

impl Deployer for LocalDeployer {
    type Deployment = LocalDeployment;

    async fn deploy(&self, request: DeployRequest<'_>) -> Result<LocalDeployment> {
        let Attempt {
            tasks,
            controls,
            source_tasks,
            local_dir,
            ..
        } = build_attempt(
            request.graph,
            Placement::All,
            request.config,
            request.restore_point,
            request.clock,
            request.events,
            request.locations,
            request.metrics,
            request.attempt,
        )
        .await?;
        Ok(LocalDeployment::start(tasks, controls, source_tasks, local_dir))
    }
}

/// Why a spawned task ended without returning.
pub fn join_failure(join: tokio::task::JoinError) -> Error {
    if join.is_panic() {
        let payload = join.into_panic();
        let reason = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Error::Internal(format!("a task panicked: {reason}"))
    } else {
        Error::Cancelled
    }
}

impl LocalDeployment {
    /// Spawns `tasks`.
    pub fn start(
        tasks: Vec<crate::task::Task>,
        controls: BTreeMap<TaskRef, mpsc::UnboundedSender<TaskControl>>,
        source_tasks: Vec<TaskRef>,
        local_dir: PathBuf,
    ) -> Self {
        let mut joins = JoinSet::new();
        for task in tasks {
            let id = task.id;
            joins.spawn(async move { (id, task.run().await) });
        }
        Self {
            controls,
            source_tasks,
            joins,
            local_dir,
        }
    }
}

impl Deployment for LocalDeployment {
    fn tasks(&self) -> Vec<TaskRef> {
        self.controls.keys().copied().collect()
    }

    fn source_tasks(&self) -> Vec<TaskRef> {
        self.source_tasks.clone()
    }

    fn send(&self, task: TaskRef, control: TaskControl) {
        if let Some(c) = self.controls.get(&task) {
            let _ = c.send(control);
        }
    }

    async fn next_exit(&mut self) -> Option<(TaskRef, Result<()>)> {
        match self.joins.join_next().await? {
            Ok((task, result)) => Some((task, result)),
            // The task is unknown once it panicked; report it against the first task, which
            // fails the attempt all the same.
            Err(join) => Some((self.controls.keys().next().copied()?, Err(join_failure(join)))),
        }
    }

    async fn shutdown(mut self) {
        self.send_all(TaskControl::Cancel);
        self.joins.abort_all();
        while self.joins.join_next().await.is_some() {}
        let _ = std::fs::remove_dir_all(&self.local_dir);
    }
}

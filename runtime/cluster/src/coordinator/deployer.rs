//! Deploying attempts on the cluster's workers: wait for enough slots, place subtasks, send each
//! worker its tasks, and turn the executor's task controls into control-plane calls.

use super::cluster::{AttemptRoute, Cluster};
use crate::job::{WireConfig, SQL_SCRIPT_FORMAT};
use crate::placement::{self, Placement};
use crate::wire;
use freshet_core::{CheckpointKind, Error, Result};
use freshet_dataflow::{JobGraph, NodeKind};
use freshet_engine::deployment::{DeployRequest, Deployer, Deployment};
use freshet_engine::plan::build_chains;
use freshet_engine::status::JobStatus;
use freshet_engine::task::{SnapshotLocations, TaskControl, TaskRef};
use freshet_rpc::proto;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a worker's control port may take to accept a connection before placement, when a
/// restart checks which workers are still there.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a control call to a worker may take before the worker counts as unreachable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Deploys attempts of one job on the cluster's workers.
pub struct RemoteDeployer {
    /// The workers.
    pub cluster: Arc<Cluster>,
    /// The job's id.
    pub job_id: String,
    /// The job's script, compiled by every worker.
    pub script: String,
    /// Settings sent with it.
    pub wire_config: WireConfig,
    /// High half of wire attempt numbers (the leadership term), so attempts of a later leader
    /// never collide with an earlier one's.
    pub epoch: u64,
    /// Where the job's state is shown (slot waits are logged and noted there).
    pub status: Arc<JobStatus>,
}

/// An attempt running on workers.
pub struct RemoteDeployment {
    tasks: Vec<TaskRef>,
    source_tasks: Vec<TaskRef>,
    controls: mpsc::UnboundedSender<(Option<TaskRef>, TaskControl)>,
    exits: mpsc::UnboundedReceiver<(TaskRef, Result<()>)>,
    cluster: Arc<Cluster>,
    job_id: String,
    attempt: u64,
    workers: Vec<String>,
}

fn source_tasks(graph: &JobGraph, chains: &[freshet_engine::plan::ChainSpec]) -> Vec<TaskRef> {
    chains
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(graph.node(c.head()).kind, NodeKind::Source { .. }))
        .flat_map(|(chain, c)| (0..c.parallelism).map(move |subtask| TaskRef { chain, subtask }))
        .collect()
}

impl Deployer for RemoteDeployer {
    type Deployment = RemoteDeployment;

    async fn deploy(&self, request: DeployRequest<'_>) -> Result<RemoteDeployment> {
        let chains = build_chains(request.graph);
        let attempt = (self.epoch << 32) | u64::from(request.attempt);
        // The coordinator's mirror of the workers' counters, for its REST API and metrics.
        let mut operators = HashMap::new();
        let mut task_metrics = HashMap::new();
        for (chain, spec) in chains.iter().enumerate() {
            for subtask in 0..spec.parallelism {
                let mut uids = Vec::new();
                let mut names = Vec::new();
                for n in &spec.nodes {
                    let node = request.graph.node(*n);
                    let m = request
                        .metrics
                        .register_operator(node.uid.as_str(), &node.name, subtask);
                    operators.insert((node.uid.to_string(), subtask), m);
                    uids.push(node.uid.to_string());
                    names.push(node.name.clone());
                }
                let m = request.metrics.register_task(&names.join(" -> "), uids, chain, subtask);
                task_metrics.insert(TaskRef { chain, subtask }, m);
            }
        }
        let restore = request.restore_point.map(|p| proto::RestoreSpec {
            checkpoint_id: p.metadata.id.0,
            metadata_path: p.location.clone(),
            allow_non_restored_state: request.config.allow_non_restored_state,
        });
        let config_json = serde_json::to_vec(&self.wire_config).map_err(|e| Error::Serde(e.to_string()))?;
        let mut waited_for: Option<u32> = None;
        loop {
            self.cluster.drop_unreachable(PROBE_TIMEOUT).await;
            let placement = match placement::place(&chains, &self.cluster.worker_slots()) {
                Ok(p) => p,
                Err(missing) => {
                    if waited_for != Some(missing) {
                        let needed = placement::slots_needed(&chains);
                        let note = format!(
                            "waiting for {missing} more task slots: the job needs {needed}, {} workers registered",
                            self.cluster.worker_count()
                        );
                        tracing::warn!("{note}");
                        self.status.set_note(Some(note));
                        waited_for = Some(missing);
                    }
                    self.cluster.changed(Duration::from_millis(500)).await;
                    continue;
                }
            };
            self.status.set_note(None);
            let (exits_tx, exits) = mpsc::unbounded_channel();
            self.cluster.set_route(AttemptRoute {
                job_id: self.job_id.clone(),
                attempt,
                events: request.events.clone(),
                exits: exits_tx,
                placement: placement.clone(),
                operators: operators.clone(),
                tasks: task_metrics.clone(),
                deployed_at: None,
            });
            let workers: Vec<String> = placement.slots_used.keys().cloned().collect();
            match self
                .deploy_on(&placement, &workers, attempt, &config_json, restore.clone())
                .await
            {
                Ok(()) => {
                    self.cluster.mark_deployed(attempt);
                    let (controls, control_rx) = mpsc::unbounded_channel();
                    tokio::spawn(dispatch(
                        control_rx,
                        self.cluster.clone(),
                        self.job_id.clone(),
                        attempt,
                        placement.clone(),
                        request.locations.clone(),
                    ));
                    tracing::info!(attempt, workers = workers.len(), "attempt deployed");
                    return Ok(RemoteDeployment {
                        tasks: placement.task_worker.keys().copied().collect(),
                        source_tasks: source_tasks(request.graph, &chains),
                        controls,
                        exits,
                        cluster: self.cluster.clone(),
                        job_id: self.job_id.clone(),
                        attempt,
                        workers,
                    });
                }
                Err(DeployFailure::Unreachable) => {
                    // The unreachable workers were removed; undo the rest and place again.
                    cancel_on(&self.cluster, &self.job_id, attempt, &workers).await;
                    self.cluster.clear_route(attempt);
                }
                Err(DeployFailure::Rejected(e)) => {
                    cancel_on(&self.cluster, &self.job_id, attempt, &workers).await;
                    self.cluster.clear_route(attempt);
                    return Err(e);
                }
            }
        }
    }
}

enum DeployFailure {
    /// A worker could not be reached (it was removed from the cluster).
    Unreachable,
    /// A worker refused the deployment.
    Rejected(Error),
}

impl RemoteDeployer {
    async fn deploy_on(
        &self,
        placement: &Placement,
        workers: &[String],
        attempt: u64,
        config_json: &[u8],
        restore: Option<proto::RestoreSpec>,
    ) -> std::result::Result<(), DeployFailure> {
        let mut locations = Vec::new();
        for (task, worker) in &placement.task_worker {
            let data_address = self
                .cluster
                .worker(worker)
                .map(|w| w.data_address)
                .ok_or(DeployFailure::Unreachable)?;
            locations.push(proto::TaskLocation {
                task: Some(wire::task_id(*task)),
                data_address,
            });
        }
        let calls = workers.iter().map(|worker| {
            let tasks = placement
                .tasks_on(worker)
                .into_iter()
                .map(|t| proto::TaskDeployment {
                    task: Some(wire::task_id(t)),
                    slot: placement.task_slot[&t],
                    key_groups: None,
                })
                .collect();
            let request = proto::DeployTasksRequest {
                job_id: self.job_id.clone(),
                attempt,
                job_graph_format: SQL_SCRIPT_FORMAT.into(),
                job_graph: self.script.clone().into_bytes().into(),
                tasks,
                restore: restore.clone(),
                checkpoint_storage: self.wire_config.checkpoint_storage.clone(),
                config_json: config_json.to_vec().into(),
                locations: locations.clone(),
            };
            let entry = self.cluster.worker(worker);
            async move {
                let Some(mut entry) = entry else {
                    return (worker.clone(), Err(tonic::Status::unavailable("the worker is gone")));
                };
                let result = tokio::time::timeout(CALL_TIMEOUT, entry.client.deploy_tasks(request))
                    .await
                    .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("the deployment timed out")));
                (worker.clone(), result.map(drop))
            }
        });
        let mut failure = None;
        for (worker, result) in futures::future::join_all(calls).await {
            match result {
                Ok(()) => {}
                Err(status) if is_unreachable(&status) => {
                    self.cluster
                        .remove_worker(&worker, &format!("deployment failed: {}", status.message()));
                    failure.get_or_insert(DeployFailure::Unreachable);
                }
                Err(status) => {
                    failure = Some(DeployFailure::Rejected(Error::Config(format!(
                        "worker '{worker}' refused the deployment: {}",
                        status.message()
                    ))));
                }
            }
        }
        match failure {
            None => Ok(()),
            Some(f) => Err(f),
        }
    }
}

/// Whether a failed call means the worker is gone (rather than that it refused).
fn is_unreachable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

async fn cancel_on(cluster: &Cluster, job_id: &str, attempt: u64, workers: &[String]) {
    let cancel = |_: &str| proto::CancelTasksRequest {
        job_id: job_id.to_string(),
        attempt,
        tasks: Vec::new(),
    };
    call_each(cluster, workers, cancel, |mut c, r| async move {
        c.cancel_tasks(r).await.map(drop)
    })
    .await;
}

/// Turns task controls into calls, in order: checkpoint triggers to the workers of the source
/// tasks (a savepoint's directory is first announced to every worker of the attempt), notices
/// and cancellation to every worker.
async fn dispatch(
    mut controls: mpsc::UnboundedReceiver<(Option<TaskRef>, TaskControl)>,
    cluster: Arc<Cluster>,
    job_id: String,
    attempt: u64,
    placement: Placement,
    locations: SnapshotLocations,
) {
    let workers: Vec<String> = placement.slots_used.keys().cloned().collect();
    let mut announced: BTreeSet<u64> = BTreeSet::new();
    while let Some((task, control)) = controls.recv().await {
        let targets: Vec<String> = match task {
            Some(t) => placement.task_worker.get(&t).cloned().into_iter().collect(),
            None => workers.clone(),
        };
        match control {
            TaskControl::TriggerCheckpoint(barrier) => {
                let savepoint_path = if barrier.kind == CheckpointKind::Savepoint {
                    locations
                        .savepoints
                        .lock()
                        .get(&barrier.id)
                        .map(|s| s.url().to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                if !savepoint_path.is_empty() && announced.insert(barrier.id.0) {
                    // Tasks without a source learn where this savepoint goes.
                    let announce = |_: &str| proto::TriggerCheckpointRequest {
                        job_id: job_id.clone(),
                        attempt,
                        barrier: Some(barrier.into()),
                        tasks: Vec::new(),
                        savepoint_path: savepoint_path.clone(),
                    };
                    call_each(&cluster, &workers, announce, |mut c, r| async move {
                        c.trigger_checkpoint(r).await.map(drop)
                    })
                    .await;
                }
                let tasks: Vec<proto::TaskId> = task.map(wire::task_id).into_iter().collect();
                let trigger = |_: &str| proto::TriggerCheckpointRequest {
                    job_id: job_id.clone(),
                    attempt,
                    barrier: Some(barrier.into()),
                    tasks: tasks.clone(),
                    savepoint_path: savepoint_path.clone(),
                };
                call_each(&cluster, &targets, trigger, |mut c, r| async move {
                    c.trigger_checkpoint(r).await.map(drop)
                })
                .await;
            }
            TaskControl::CheckpointComplete(id) | TaskControl::JobFinished(id) => {
                let job_finished = matches!(control, TaskControl::JobFinished(_));
                let notice = |_: &str| proto::CheckpointCompleteNotice {
                    job_id: job_id.clone(),
                    attempt,
                    checkpoint_id: id.0,
                    job_finished,
                };
                call_each(&cluster, &targets, notice, |mut c, r| async move {
                    c.notify_checkpoint_complete(r).await.map(drop)
                })
                .await;
            }
            TaskControl::Cancel => {
                let tasks: Vec<proto::TaskId> = task.map(wire::task_id).into_iter().collect();
                let cancel = |_: &str| proto::CancelTasksRequest {
                    job_id: job_id.clone(),
                    attempt,
                    tasks: tasks.clone(),
                };
                call_each(&cluster, &targets, cancel, |mut c, r| async move {
                    c.cancel_tasks(r).await.map(drop)
                })
                .await;
            }
        }
    }
}

/// Makes one call per worker concurrently; a worker that cannot be reached is removed (which
/// fails the attempt).
async fn call_each<R, F, Fut>(cluster: &Cluster, workers: &[String], request: impl Fn(&str) -> R, call: F)
where
    F: Fn(proto::worker_client::WorkerClient<tonic::transport::Channel>, R) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<(), tonic::Status>>,
{
    let calls = workers.iter().filter_map(|w| {
        let entry = cluster.worker(w)?;
        let fut = call(entry.client, request(w));
        Some(async move { (w.clone(), tokio::time::timeout(CALL_TIMEOUT, fut).await) })
    });
    for (worker, result) in futures::future::join_all(calls).await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(status)) if is_unreachable(&status) => {
                cluster.remove_worker(&worker, &format!("control call failed: {}", status.message()))
            }
            Ok(Err(status)) => tracing::warn!(%worker, %status, "control call refused"),
            Err(_) => cluster.remove_worker(&worker, "control call timed out"),
        }
    }
}

impl Deployment for RemoteDeployment {
    fn tasks(&self) -> Vec<TaskRef> {
        self.tasks.clone()
    }

    fn source_tasks(&self) -> Vec<TaskRef> {
        self.source_tasks.clone()
    }

    fn send(&self, task: TaskRef, control: TaskControl) {
        let _ = self.controls.send((Some(task), control));
    }

    fn send_all(&self, control: TaskControl) {
        let _ = self.controls.send((None, control));
    }

    async fn next_exit(&mut self) -> Option<(TaskRef, Result<()>)> {
        self.exits.recv().await
    }

    async fn shutdown(self) {
        self.cluster.clear_route(self.attempt);
        cancel_on(&self.cluster, &self.job_id, self.attempt, &self.workers).await;
    }
}

//! One job attempt's tasks on this worker: building them (in-memory channels between local
//! tasks, data-plane channels to the others), running them, reporting their events and exits,
//! and cancelling them.

use super::report::{Report, Reporter};
use super::WorkerShared;
use crate::job::{WireConfig, SQL_SCRIPT_FORMAT};
use crate::wire;
use freshet_core::{Error, Result, StreamElement, SystemClock};
use freshet_engine::build::{build_attempt, Attempt, Placement, RemoteInput, RemoteOutput};
use freshet_engine::config::RestoreFrom;
use freshet_engine::deployment::{Deployment, LocalDeployment};
use freshet_engine::restore;
use freshet_engine::task::{SnapshotLocations, TaskControl, TaskEvent, TaskRef};
use freshet_rpc::{proto, NetworkSender};
use freshet_state::CheckpointStorage;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long an outgoing channel keeps trying to reach its consumer's worker.
const OPEN_DEADLINE: Duration = Duration::from_secs(10);

/// A running attempt on this worker.
pub struct RunningAttempt {
    /// The job.
    pub job: String,
    /// The attempt (as numbered on the wire).
    pub attempt: u64,
    /// Control channel of every local task.
    pub controls: BTreeMap<TaskRef, mpsc::UnboundedSender<TaskControl>>,
    /// Where snapshots go (savepoint directories are registered as triggers announce them).
    pub locations: SnapshotLocations,
    /// Slots the attempt occupies.
    pub slots: u32,
    /// Tasks that have exited.
    pub exited: Arc<Mutex<BTreeSet<TaskRef>>>,
    stop: Option<oneshot::Sender<()>>,
    supervisor: Option<JoinHandle<()>>,
    pumps: Vec<JoinHandle<()>>,
}

impl RunningAttempt {
    /// Sends `control` to every local task.
    pub fn send_all(&self, control: TaskControl) {
        for c in self.controls.values() {
            let _ = c.send(control.clone());
        }
    }

    /// Registers the directory of savepoint `id` (from a trigger), so snapshots find it.
    pub fn register_savepoint(&self, id: freshet_core::CheckpointId, path: &str) -> Result<()> {
        let storage = CheckpointStorage::from_url(path)?;
        self.locations.savepoints.lock().insert(id, Arc::new(storage));
        Ok(())
    }

    /// Cancels every task and waits until they are gone.
    pub async fn cancel(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.await;
        }
        for pump in &self.pumps {
            pump.abort();
        }
    }
}

/// Builds and starts the tasks `request` deploys to this worker.
pub async fn deploy(shared: &WorkerShared, request: proto::DeployTasksRequest) -> Result<RunningAttempt> {
    if request.job_graph_format != SQL_SCRIPT_FORMAT {
        return Err(Error::Config(format!(
            "unsupported job format '{}' (this worker runs '{SQL_SCRIPT_FORMAT}')",
            request.job_graph_format
        )));
    }
    let script = String::from_utf8(request.job_graph.to_vec())
        .map_err(|_| Error::Config("the job script is not valid UTF-8".into()))?;
    let wire_config: WireConfig = serde_json::from_slice(&request.config_json)
        .map_err(|e| Error::Config(format!("the deployment's config_json: {e}")))?;
    let graph = shared
        .compiler
        .compile(&script, wire_config.parallelism, wire_config.default_name.as_deref())
        .await?;
    let job = request.job_id.clone();
    let attempt = request.attempt;
    let local_dir = shared.local_dir.join(format!("{job}-{attempt}"));
    let config = wire_config.job_config(local_dir);

    let mut local = BTreeSet::new();
    let mut slots = BTreeSet::new();
    for t in &request.tasks {
        local.insert(wire::task_ref(t.task)?);
        slots.insert(t.slot);
    }
    let mut data_address: HashMap<TaskRef, String> = HashMap::new();
    for l in request.locations {
        data_address.insert(wire::task_ref(l.task)?, l.data_address);
    }

    let checkpoints = Arc::new(CheckpointStorage::from_url(&config.checkpoint.storage)?);
    let restore_point = match &request.restore {
        Some(spec) => {
            let from = RestoreFrom::Path(spec.metadata_path.clone());
            restore::resolve(&from, &checkpoints, &checkpoints.child("savepoints")).await?
        }
        None => None,
    };
    let locations = SnapshotLocations {
        checkpoints,
        savepoints: Arc::new(Mutex::new(HashMap::new())),
    };
    shared.metrics.clear_attempt();
    shared.status.set_graph(&graph.name, Vec::new());
    let (events_tx, events) = mpsc::unbounded_channel();
    let Attempt {
        tasks,
        controls,
        source_tasks,
        local_dir,
        remote_outputs,
        remote_inputs,
    } = build_attempt(
        &graph,
        Placement::Only(&local),
        &config,
        restore_point.as_ref(),
        Arc::new(SystemClock),
        events_tx,
        locations.clone(),
        &shared.metrics,
        (attempt & 0xffff_ffff) as u32,
    )
    .await?;

    let mut pumps = Vec::new();
    for input in remote_inputs {
        let channel = wire::channel_id(&job, attempt, input.key);
        let inbound = shared
            .receiver
            .register(channel)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let report = FailureReport::new(&shared.reporter, &job, attempt);
        pumps.push(tokio::spawn(pump_in(inbound, input, report)));
    }
    for output in remote_outputs {
        let address = data_address.get(&output.consumer_task).cloned().ok_or_else(|| {
            Error::Config(format!(
                "the deployment does not say where task {}/{} runs",
                output.consumer_task.chain, output.consumer_task.subtask
            ))
        })?;
        let channel = wire::channel_id(&job, attempt, output.key);
        let report = FailureReport::new(&shared.reporter, &job, attempt);
        pumps.push(tokio::spawn(pump_out(
            shared.sender.clone(),
            address,
            channel,
            output,
            report,
        )));
    }

    let reporter = shared.reporter.clone();
    tokio::spawn(forward_events(events, reporter.clone(), job.clone(), attempt));
    let exited = Arc::new(Mutex::new(BTreeSet::new()));
    let (stop, stop_rx) = oneshot::channel();
    let deployment = LocalDeployment::start(tasks, controls.clone(), source_tasks, local_dir);
    let supervisor = tokio::spawn(supervise(
        deployment,
        stop_rx,
        reporter,
        job.clone(),
        attempt,
        exited.clone(),
    ));
    shared.status.set_state(freshet_engine::status::JobState::Running);
    tracing::info!(%job, attempt, tasks = local.len(), "deployed");
    Ok(RunningAttempt {
        job,
        attempt,
        controls,
        locations,
        slots: slots.len() as u32,
        exited,
        stop: Some(stop),
        supervisor: Some(supervisor),
        pumps,
    })
}

/// Runs the attempt's tasks until they exit or the attempt is cancelled, reporting each exit.
async fn supervise(
    mut deployment: LocalDeployment,
    mut stop: oneshot::Receiver<()>,
    reporter: Reporter,
    job: String,
    attempt: u64,
    exited: Arc<Mutex<BTreeSet<TaskRef>>>,
) {
    let mut remaining = deployment.tasks().len();
    while remaining > 0 {
        tokio::select! {
            _ = &mut stop => break,
            exit = deployment.next_exit() => {
                let Some((task, result)) = exit else { break };
                remaining -= 1;
                exited.lock().insert(task);
                let id = Some(wire::task_id(task));
                match result {
                    Ok(()) => reporter.send(Report::Exited(proto::TaskExitReport { job_id: job.clone(), attempt, task: id })),
                    Err(Error::Cancelled) => {}
                    Err(e) => {
                        tracing::warn!(%job, attempt, chain = task.chain, subtask = task.subtask, error = %e, "task failed");
                        reporter.send(Report::Failure(proto::TaskFailureReport {
                            job_id: job.clone(),
                            attempt,
                            task: id,
                            message: e.to_string(),
                            class: proto::ErrorClass::from(e.class()) as i32,
                            operator_uid: String::new(),
                        }))
                    }
                }
            }
        }
    }
    deployment.shutdown().await;
}

/// Sends the tasks' checkpoint events to the coordinator.
async fn forward_events(mut events: mpsc::UnboundedReceiver<TaskEvent>, reporter: Reporter, job: String, attempt: u64) {
    while let Some(event) = events.recv().await {
        let report = match event {
            TaskEvent::Acked {
                task,
                checkpoint,
                snapshots,
            } => match wire::encode_snapshots(&snapshots) {
                Ok(states) => Report::Ack(proto::AcknowledgeCheckpointRequest {
                    job_id: job.clone(),
                    attempt,
                    task: Some(wire::task_id(task)),
                    checkpoint_id: checkpoint.0,
                    states,
                    alignment_ms: 0,
                    duration_ms: 0,
                }),
                Err(e) => Report::Decline(proto::DeclineCheckpointRequest {
                    job_id: job.clone(),
                    attempt,
                    task: Some(wire::task_id(task)),
                    checkpoint_id: checkpoint.0,
                    reason: e.to_string(),
                }),
            },
            TaskEvent::Declined {
                task,
                checkpoint,
                reason,
            } => Report::Decline(proto::DeclineCheckpointRequest {
                job_id: job.clone(),
                attempt,
                task: Some(wire::task_id(task)),
                checkpoint_id: checkpoint.0,
                reason,
            }),
            TaskEvent::Finished {
                task,
                snapshots,
                snapshotted_up_to,
            } => match wire::encode_snapshots(&snapshots) {
                Ok(final_states) => Report::Finished(proto::TaskFinishedReport {
                    job_id: job.clone(),
                    attempt,
                    task: Some(wire::task_id(task)),
                    final_states,
                    snapshotted_up_to,
                }),
                Err(e) => Report::Failure(proto::TaskFailureReport {
                    job_id: job.clone(),
                    attempt,
                    task: Some(wire::task_id(task)),
                    message: e.to_string(),
                    class: proto::ErrorClass::Internal as i32,
                    operator_uid: String::new(),
                }),
            },
        };
        reporter.send(report);
    }
}

/// Reports a data-plane failure as the failure of the local task it belongs to, naming the
/// remote side, before the task itself notices its channel closed.
struct FailureReport {
    reporter: Reporter,
    job: String,
    attempt: u64,
}

impl FailureReport {
    fn new(reporter: &Reporter, job: &str, attempt: u64) -> Self {
        Self {
            reporter: reporter.clone(),
            job: job.to_string(),
            attempt,
        }
    }

    fn send(&self, task: TaskRef, message: String) {
        self.reporter.send(Report::Failure(proto::TaskFailureReport {
            job_id: self.job.clone(),
            attempt: self.attempt,
            task: Some(wire::task_id(task)),
            message,
            class: proto::ErrorClass::External as i32,
            operator_uid: String::new(),
        }));
    }
}

/// Moves a remote producer's elements into the local consumer's channel. On a broken
/// connection the local channel is dropped without end of input, which fails the consumer.
async fn pump_in(mut inbound: freshet_rpc::InboundChannel, input: RemoteInput, report: FailureReport) {
    let mut ended = false;
    loop {
        match inbound.recv().await {
            Ok(Some(element)) => {
                ended = matches!(element, StreamElement::EndOfInput);
                if input.elements.send(element).await.is_err() || ended {
                    return;
                }
            }
            Ok(None) => {
                if !ended {
                    let _ = input.elements.send(StreamElement::EndOfInput).await;
                }
                return;
            }
            Err(e) => {
                tracing::warn!(channel = ?input.key, error = %e, "incoming channel failed");
                let p = input.producer_task;
                report.send(
                    input.consumer_task,
                    format!(
                        "the input from task {}/{} on another worker failed: {e}",
                        p.chain, p.subtask
                    ),
                );
                return;
            }
        }
    }
}

/// Moves a local producer's elements to the consumer's worker. When the connection fails the
/// local channel closes, which fails the producer.
async fn pump_out(
    sender: Arc<NetworkSender>,
    address: String,
    channel: freshet_rpc::ChannelId,
    mut output: RemoteOutput,
    report: FailureReport,
) {
    let started = tokio::time::Instant::now();
    let mut outbound = loop {
        match sender.open(&address, channel.clone(), output.schema.clone()).await {
            Ok(o) => break o,
            Err(e) if started.elapsed() < OPEN_DEADLINE => {
                tracing::debug!(%address, error = %e, "opening an outgoing channel; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                tracing::warn!(%address, error = %e, "cannot open an outgoing channel");
                report.send(
                    output.producer_task,
                    format!("cannot reach the worker at {address}: {e}"),
                );
                return;
            }
        }
    };
    while let Some(element) = output.elements.recv().await {
        let end = matches!(element, StreamElement::EndOfInput);
        if let Err(e) = outbound.send(element).await {
            tracing::warn!(%address, channel = ?output.key, error = %e, "outgoing channel failed");
            report.send(
                output.producer_task,
                format!("the output to the worker at {address} failed: {e}"),
            );
            return;
        }
        if end {
            return;
        }
    }
    let _ = outbound.abort("the producing task stopped").await;
}

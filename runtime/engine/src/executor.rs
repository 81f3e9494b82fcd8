//! The local job runner: builds the tasks of a job graph in one process, coordinates
//! checkpoints and savepoints, and restarts the job from its latest completed checkpoint when a
//! task fails, following the restart strategy.

use crate::checkpoint::{CheckpointTracker, OperatorShapes, Progress, RetainedCheckpoints};
use crate::config::JobConfig;
use crate::deployment::{DeployRequest, Deployer, Deployment, LocalDeployer};
use crate::metrics::JobMetrics;
use crate::restore::{self, RestorePoint};
use crate::status::{JobState, JobStatus, VertexInfo};
use crate::task::{SnapshotLocations, TaskControl, TaskEvent, TaskRef};
use freshet_core::{CheckpointId, CheckpointKind, Clock, Error, Result, SystemClock};
use freshet_dataflow::JobGraph;
use freshet_state::metadata::CheckpointMetadata;
use freshet_state::CheckpointStorage;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Requests to a running job.
#[derive(Debug)]
pub enum JobCommand {
    /// Take a savepoint (into `target_dir`, or the default savepoint directory); with `stop`,
    /// stop the job once it completes. The reply carries the savepoint's location.
    Savepoint {
        /// Where to put it.
        target_dir: Option<String>,
        /// Stop the job afterwards.
        stop: bool,
        /// Receives the location or the failure.
        reply: oneshot::Sender<Result<String>>,
    },
    /// Cancel the job without a savepoint.
    Cancel,
}

/// Sends commands to a running job.
#[derive(Clone, Debug)]
pub struct JobHandle {
    tx: mpsc::UnboundedSender<JobCommand>,
}

impl JobHandle {
    /// Takes a savepoint; returns its location once complete.
    pub async fn savepoint(&self, target_dir: Option<String>, stop: bool) -> Result<String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(JobCommand::Savepoint {
                target_dir,
                stop,
                reply,
            })
            .map_err(|_| Error::ChannelClosed("the job is not running".into()))?;
        rx.await
            .map_err(|_| Error::ChannelClosed("the job ended before the savepoint completed".into()))?
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        let _ = self.tx.send(JobCommand::Cancel);
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// Bounded inputs were drained and everything committed.
    Finished,
    /// Cancelled.
    Cancelled,
    /// Stopped with a savepoint at this location.
    Stopped {
        /// The savepoint.
        savepoint: String,
    },
}

/// The result of running a job.
#[derive(Debug)]
pub struct JobOutcome {
    /// How it ended.
    pub end: JobEnd,
    /// How many times it was restarted.
    pub restarts: u32,
    /// The last completed checkpoint (or savepoint).
    pub last_checkpoint: Option<CheckpointId>,
    /// Its counters.
    pub metrics: Arc<JobMetrics>,
}

enum AttemptEnd {
    Done(JobEnd),
    /// A failure the restart strategy handles.
    Failed(Error),
    /// A failure no restart can help (e.g. this coordinator lost its leadership).
    Fatal(Error),
}

/// Told about every completed checkpoint (and stop-with-savepoint) before any task may commit
/// it, e.g. to record it in the HA store. An error (this process may no longer record
/// checkpoints, e.g. it lost its leadership) stops the job without a restart and without the
/// commit.
pub trait CompletionRecorder: Send + Sync {
    /// Records that checkpoint `id`, whose metadata is at `location`, completed.
    fn record(&self, id: CheckpointId, location: String) -> BoxFuture<'_, Result<()>>;
}

/// Runs a job: deploys its tasks through a [`Deployer`] (in this process, or on the workers
/// of a cluster), coordinates checkpoints and savepoints, and restarts it from its latest
/// completed checkpoint when a task fails, following the restart strategy.
pub struct Executor<D: Deployer> {
    deployer: D,
    recorder: Option<Arc<dyn CompletionRecorder>>,
    config: JobConfig,
    clock: Arc<dyn Clock>,
    metrics: Arc<JobMetrics>,
    status: Arc<JobStatus>,
    commands: Mutex<Option<mpsc::UnboundedReceiver<JobCommand>>>,
    handle: JobHandle,
}

struct SavepointRequest {
    storage: Arc<CheckpointStorage>,
    stop: bool,
    reply: oneshot::Sender<Result<String>>,
}

/// Runs jobs in this process.
pub type LocalExecutor = Executor<LocalDeployer>;

impl LocalExecutor {
    /// An executor with the given settings and the system clock.
    pub fn new(config: JobConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// An executor with a given clock.
    pub fn with_clock(config: JobConfig, clock: Arc<dyn Clock>) -> Self {
        Executor::with_deployer(LocalDeployer, config, clock)
    }
}

impl<D: Deployer> Executor<D> {
    /// An executor deploying through `deployer`.
    pub fn with_deployer(deployer: D, config: JobConfig, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            deployer,
            recorder: None,
            config,
            clock,
            metrics: Arc::new(JobMetrics::default()),
            status: Arc::new(JobStatus::new()),
            commands: Mutex::new(Some(rx)),
            handle: JobHandle { tx },
        }
    }

    /// Records completed checkpoints with `recorder` before tasks commit them.
    pub fn with_recorder(mut self, recorder: Arc<dyn CompletionRecorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Shows the job's state in `status` (shared with whoever else reports on the job).
    pub fn with_status(mut self, status: Arc<JobStatus>) -> Self {
        self.status = status;
        self
    }

    /// The job's settings.
    pub fn config(&self) -> &JobConfig {
        &self.config
    }

    /// A handle to send commands to the job run by [`run`](Self::run).
    pub fn handle(&self) -> JobHandle {
        self.handle.clone()
    }

    /// The job's counters.
    pub fn metrics(&self) -> Arc<JobMetrics> {
        self.metrics.clone()
    }

    /// The job's recorded status (state, restarts, vertices, checkpoint history).
    pub fn status(&self) -> Arc<JobStatus> {
        self.status.clone()
    }

    /// Runs `graph` until it finishes, is cancelled or stopped, or fails beyond the restart
    /// strategy.
    pub async fn run(&self, graph: &JobGraph) -> Result<JobOutcome> {
        let vertices = graph
            .nodes
            .iter()
            .map(|n| VertexInfo {
                id: n.uid.to_string(),
                name: n.name.clone(),
                parallelism: n.parallelism,
            })
            .collect();
        self.status.set_graph(&graph.name, vertices);
        let result = self.run_job(graph).await;
        match &result {
            Ok(outcome) => self.status.set_state(match outcome.end {
                JobEnd::Finished | JobEnd::Stopped { .. } => JobState::Finished,
                JobEnd::Cancelled => JobState::Cancelled,
            }),
            Err(e) => self.status.record_failure(&e.to_string()),
        }
        result
    }

    async fn run_job(&self, graph: &JobGraph) -> Result<JobOutcome> {
        graph.validate()?;
        let mut commands = self
            .commands
            .lock()
            .take()
            .ok_or_else(|| Error::Config("an executor runs one job".into()))?;
        let checkpoints = Arc::new(CheckpointStorage::from_url(&self.config.checkpoint.storage)?);
        let savepoint_root = match &self.config.checkpoint.savepoint_dir {
            Some(dir) => CheckpointStorage::from_url(dir)?,
            None => checkpoints.child("savepoints"),
        };
        // Uploads a crash interrupted belong to no completed snapshot: free their parts.
        for storage in [checkpoints.as_ref(), &savepoint_root] {
            let aborted = storage.abort_abandoned_uploads().await?;
            if aborted > 0 {
                tracing::info!(storage = %storage.url(), aborted, "aborted multipart uploads a crash left open");
            }
        }
        let initial = restore::resolve(&self.config.restore, &checkpoints, &savepoint_root).await?;
        if let Some(p) = &initial {
            tracing::info!(location = %p.location, id = %p.metadata.id, "restoring");
            let uids = graph.nodes.iter().map(|n| n.uid.to_string()).collect();
            restore::check_all_restored(&p.metadata, &uids, self.config.allow_non_restored_state)?;
        }
        let used = restore::highest_used_id(&checkpoints, &savepoint_root).await?;
        let next_id = used.max(initial.as_ref().map_or(0, |p| p.metadata.id.0)) + 1;
        let shapes: OperatorShapes = graph
            .nodes
            .iter()
            .map(|n| (n.uid.to_string(), (n.parallelism, graph.max_parallelism)))
            .collect();
        let mut tracker = CheckpointTracker::new(
            &graph.name,
            shapes,
            next_id,
            self.config.checkpoint.tolerable_failures,
            self.config.checkpoint.timeout,
        );
        let mut retained = RetainedCheckpoints::new(self.config.checkpoint.retained);
        let locations = SnapshotLocations {
            checkpoints: checkpoints.clone(),
            savepoints: Arc::new(Mutex::new(HashMap::new())),
        };
        let mut restore_point = initial;
        let mut restarts = 0u32;
        loop {
            let end = self
                .run_attempt(
                    graph,
                    restore_point.clone(),
                    &mut tracker,
                    &mut retained,
                    &locations,
                    &savepoint_root,
                    &mut commands,
                    restarts,
                )
                .await;
            let last_checkpoint = retained
                .latest()
                .map(|m| m.id)
                .or(restore_point.as_ref().map(|p| p.metadata.id));
            match end {
                AttemptEnd::Done(end) => {
                    return Ok(JobOutcome {
                        end,
                        restarts,
                        last_checkpoint,
                        metrics: self.metrics.clone(),
                    })
                }
                AttemptEnd::Fatal(error) => {
                    tracing::error!(%error, "job stopped");
                    return Err(error);
                }
                AttemptEnd::Failed(error) => {
                    restarts += 1;
                    self.metrics.restarts.fetch_add(1, Ordering::Relaxed);
                    let Some(delay) = self.config.restart.delay_before(restarts) else {
                        tracing::error!(%error, restarts, "job failed; restart strategy exhausted");
                        return Err(error);
                    };
                    self.status.record_restart(&error.to_string());
                    tracing::warn!(%error, restart = restarts, ?delay, "job failed; restarting from the latest completed checkpoint");
                    tokio::time::sleep(delay).await;
                    if let Some(latest) = retained.latest() {
                        restore_point = Some(RestorePoint {
                            metadata: latest.clone(),
                            storage: checkpoints.clone(),
                            location: checkpoints.url_of(&CheckpointStorage::checkpoint_dir(latest.id)),
                        });
                    }
                    tracker.reset_attempt();
                    self.metrics.clear_attempt();
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_attempt(
        &self,
        graph: &JobGraph,
        restore_point: Option<RestorePoint>,
        tracker: &mut CheckpointTracker,
        retained: &mut RetainedCheckpoints,
        locations: &SnapshotLocations,
        savepoint_root: &CheckpointStorage,
        commands: &mut mpsc::UnboundedReceiver<JobCommand>,
        attempt: u32,
    ) -> AttemptEnd {
        // The executor keeps a sender, so the channel stays open after every task has exited
        // (their exits arrive through the deployment).
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let request = DeployRequest {
            graph,
            config: &self.config,
            restore_point: restore_point.as_ref(),
            attempt,
            events: events_tx.clone(),
            locations: locations.clone(),
            metrics: &self.metrics,
            clock: self.clock.clone(),
        };
        let mut deployment = {
            let deploying = self.deployer.deploy(request);
            tokio::pin!(deploying);
            loop {
                tokio::select! {
                    deployed = &mut deploying => match deployed {
                        Ok(d) => break d,
                        Err(e) => return AttemptEnd::Failed(e),
                    },
                    command = commands.recv() => match command {
                        Some(JobCommand::Savepoint { reply, .. }) => {
                            let _ = reply.send(Err(Error::Config("the job is not running yet; no savepoint can be taken".into())));
                        }
                        Some(JobCommand::Cancel) | None => return AttemptEnd::Done(JobEnd::Cancelled),
                    },
                }
            }
        };
        self.status.set_state(JobState::Running);
        let task_refs: Vec<TaskRef> = deployment.tasks();
        let source_tasks = deployment.source_tasks();
        let mut interval = tokio::time::interval(self.config.checkpoint.interval.unwrap_or(Duration::from_secs(3600)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let mut timeout_check = tokio::time::interval(Duration::from_millis(200));
        let mut savepoints: HashMap<CheckpointId, SavepointRequest> = HashMap::new();
        let mut queued: Vec<(Option<String>, bool, oneshot::Sender<Result<String>>)> = Vec::new();
        let mut running_tasks = task_refs.len();
        let mut finishing = false;

        let end = loop {
            // Start a queued savepoint when no checkpoint is in flight.
            if tracker.pending().is_none() && !queued.is_empty() {
                let (target, stop, reply) = queued.remove(0);
                let running_sources: Vec<TaskRef> = source_tasks
                    .iter()
                    .filter(|t| !tracker.is_finished(t))
                    .copied()
                    .collect();
                if running_sources.is_empty() {
                    let _ = reply.send(Err(Error::Config(
                        "the job's sources have finished; no savepoint can be taken".into(),
                    )));
                    continue;
                }
                let barrier = tracker.begin(CheckpointKind::Savepoint, self.clock.now_ms(), &task_refs);
                self.status
                    .checkpoint_triggered(barrier.id, barrier.kind, barrier.triggered_at_ms);
                let root = match target {
                    Some(dir) => match CheckpointStorage::from_url(&dir) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tracker.fail(barrier.id, e.to_string());
                            self.status
                                .checkpoint_failed(barrier.id, &e.to_string(), self.clock.now_ms());
                            let _ = reply.send(Err(e));
                            continue;
                        }
                    },
                    None => savepoint_root.clone(),
                };
                let storage = Arc::new(root.child(&format!("savepoint-{}-{:x}", barrier.id.0, self.clock.now_ms())));
                locations.savepoints.lock().insert(barrier.id, storage.clone());
                savepoints.insert(barrier.id, SavepointRequest { storage, stop, reply });
                for t in &running_sources {
                    deployment.send(*t, TaskControl::TriggerCheckpoint(barrier));
                }
            }
            tokio::select! {
                command = commands.recv() => match command {
                    Some(JobCommand::Savepoint { target_dir, stop, reply }) => queued.push((target_dir, stop, reply)),
                    Some(JobCommand::Cancel) | None => break AttemptEnd::Done(JobEnd::Cancelled),
                },
                event = events.recv() => {
                    let Some(event) = event else { break AttemptEnd::Failed(Error::Internal("event channel closed".into())) };
                    let now = self.clock.now_ms();
                    let progress = match event {
                        TaskEvent::Acked { task, checkpoint, snapshots } => tracker.on_ack(task, checkpoint, &snapshots, now),
                        TaskEvent::Declined { checkpoint, reason, .. } => tracker.fail(checkpoint, reason),
                        TaskEvent::Finished { task, snapshots, snapshotted_up_to } => tracker.on_finished(task, snapshots, snapshotted_up_to, now),
                    };
                    if let Some(end) = self.on_progress(progress, tracker, retained, locations, &mut savepoints, &deployment).await {
                        break end;
                    }
                    if !finishing && tracker.finished_count() == task_refs.len() && tracker.pending().is_none() {
                        finishing = true;
                        match self.finish_job(tracker, retained, locations, &deployment).await {
                            Ok(()) => {}
                            Err(e) => break AttemptEnd::Failed(e),
                        }
                    }
                }
                exited = deployment.next_exit(), if running_tasks > 0 => {
                    match exited {
                        Some((_, Ok(()))) => {
                            running_tasks -= 1;
                            if running_tasks == 0 {
                                break AttemptEnd::Done(JobEnd::Finished);
                            }
                        }
                        Some((task, Err(e))) => break AttemptEnd::Failed(Error::Internal(format!("task {}/{} failed: {e}", task.chain, task.subtask))),
                        None => break AttemptEnd::Done(JobEnd::Finished),
                    }
                }
                _ = interval.tick(), if self.config.checkpoint.interval.is_some() => {
                    if tracker.pending().is_none() {
                        let running_sources: Vec<TaskRef> = source_tasks.iter().filter(|t| !tracker.is_finished(t)).copied().collect();
                        if !running_sources.is_empty() {
                            let barrier = tracker.begin(CheckpointKind::Checkpoint, self.clock.now_ms(), &task_refs);
                            self.status.checkpoint_triggered(barrier.id, barrier.kind, barrier.triggered_at_ms);
                            tracing::debug!(id = %barrier.id, "triggering checkpoint");
                            for t in &running_sources {
                                deployment.send(*t, TaskControl::TriggerCheckpoint(barrier));
                            }
                        }
                    }
                }
                _ = timeout_check.tick() => {
                    let progress = tracker.check_timeout();
                    if let Some(end) = self.on_progress(progress, tracker, retained, locations, &mut savepoints, &deployment).await {
                        break end;
                    }
                }
            }
        };
        // Stop whatever still runs and wait for it, so no task of this attempt outlives it.
        deployment.shutdown().await;
        for (_, request) in savepoints.drain() {
            let _ = request.reply.send(Err(Error::Cancelled));
        }
        for (_, _, reply) in queued.drain(..) {
            let _ = reply.send(Err(Error::Cancelled));
        }
        self.status
            .abandon_in_progress("the job attempt ended before it completed", self.clock.now_ms());
        end
    }

    /// Acts on checkpoint progress; `Some(end)` ends the attempt.
    async fn on_progress(
        &self,
        progress: Progress,
        tracker: &mut CheckpointTracker,
        retained: &mut RetainedCheckpoints,
        locations: &SnapshotLocations,
        savepoints: &mut HashMap<CheckpointId, SavepointRequest>,
        deployment: &D::Deployment,
    ) -> Option<AttemptEnd> {
        match progress {
            Progress::Pending => None,
            Progress::Failed { id, reason, fail_job } => {
                self.metrics.checkpoints_failed.fetch_add(1, Ordering::Relaxed);
                self.status.checkpoint_failed(id, &reason, self.clock.now_ms());
                tracing::warn!(%id, %reason, "checkpoint failed");
                if let Some(request) = savepoints.remove(&id) {
                    let _ = request
                        .reply
                        .send(Err(Error::State(format!("savepoint {id} failed: {reason}"))));
                }
                let _ = locations
                    .checkpoints
                    .delete_dir(&CheckpointStorage::checkpoint_dir(id))
                    .await;
                fail_job.then(|| {
                    AttemptEnd::Failed(Error::State(format!(
                        "too many consecutive checkpoint failures; last: {reason}"
                    )))
                })
            }
            Progress::Complete(metadata) => {
                let id = metadata.id;
                match metadata.kind {
                    CheckpointKind::Checkpoint => {
                        let dir = CheckpointStorage::checkpoint_dir(id);
                        if let Err(e) = locations.checkpoints.write_metadata(&dir, &metadata).await {
                            let p = tracker.fail(id, e.to_string());
                            return Box::pin(self.on_progress(p, tracker, retained, locations, savepoints, deployment))
                                .await;
                        }
                        if let Err(e) = self.record_completion(id, locations.checkpoints.url_of(&dir)).await {
                            return Some(AttemptEnd::Fatal(e));
                        }
                        self.metrics.checkpoints_completed.fetch_add(1, Ordering::Relaxed);
                        self.status.checkpoint_completed(
                            id,
                            metadata.kind,
                            metadata.triggered_at_ms,
                            locations.checkpoints.url_of(&dir),
                            metadata.state_size_bytes(),
                            metadata.completed_at_ms,
                        );
                        tracing::info!(%id, size = metadata.state_size_bytes(), "checkpoint completed");
                        deployment.send_all(TaskControl::CheckpointComplete(id));
                        self.discard(retained.add(*metadata), locations).await;
                        None
                    }
                    CheckpointKind::Savepoint => {
                        let request = savepoints.remove(&id)?;
                        locations.savepoints.lock().remove(&id);
                        if let Err(e) = request.storage.write_metadata("", &metadata).await {
                            self.metrics.checkpoints_failed.fetch_add(1, Ordering::Relaxed);
                            self.status.checkpoint_failed(id, &e.to_string(), self.clock.now_ms());
                            let _ = request.reply.send(Err(e));
                            return None;
                        }
                        let location = request.storage.url().to_string();
                        self.status.checkpoint_completed(
                            id,
                            metadata.kind,
                            metadata.triggered_at_ms,
                            location.clone(),
                            metadata.state_size_bytes(),
                            metadata.completed_at_ms,
                        );
                        tracing::info!(%id, %location, "savepoint completed");
                        if request.stop {
                            if let Err(e) = self.record_completion(id, location.clone()).await {
                                let _ = request
                                    .reply
                                    .send(Err(Error::State(format!("savepoint {id} could not be recorded: {e}"))));
                                return Some(AttemptEnd::Fatal(e));
                            }
                            // Sinks commit what the savepoint covers; a restore from it finds it committed.
                            deployment.send_all(TaskControl::CheckpointComplete(id));
                            let _ = request.reply.send(Ok(location.clone()));
                            // Give tasks a moment to process the notification before cancelling.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            return Some(AttemptEnd::Done(JobEnd::Stopped { savepoint: location }));
                        }
                        let _ = request.reply.send(Ok(location));
                        None
                    }
                }
            }
        }
    }

    /// Tells the recorder, if any, that checkpoint `id` completed.
    async fn record_completion(&self, id: CheckpointId, location: String) -> Result<()> {
        match &self.recorder {
            Some(recorder) => recorder.record(id, location).await,
            None => Ok(()),
        }
    }

    async fn discard(&self, discard: crate::checkpoint::Discard, locations: &SnapshotLocations) {
        for dir in discard.dirs {
            if let Err(e) = locations.checkpoints.delete_dir(&dir).await {
                tracing::warn!(%dir, error = %e, "could not delete a discarded checkpoint");
            }
        }
        for f in discard.shared_files {
            if let Err(e) = locations.checkpoints.delete(&f).await {
                tracing::warn!(file = %f, error = %e, "could not delete a shared state file");
            }
        }
    }

    /// Every task finished: record the final checkpoint (when checkpointing is on) and tell
    /// tasks to commit and exit.
    async fn finish_job(
        &self,
        tracker: &mut CheckpointTracker,
        retained: &mut RetainedCheckpoints,
        locations: &SnapshotLocations,
        deployment: &D::Deployment,
    ) -> Result<()> {
        let id = tracker.allocate_id();
        if self.config.checkpoint.interval.is_some() {
            let barrier = freshet_core::Barrier {
                id,
                triggered_at_ms: self.clock.now_ms(),
                kind: CheckpointKind::Checkpoint,
            };
            let snapshots: BTreeMap<_, _> = tracker.final_snapshots();
            let metadata: CheckpointMetadata = tracker.metadata(barrier, snapshots, self.clock.now_ms(), true);
            locations
                .checkpoints
                .write_metadata(&CheckpointStorage::checkpoint_dir(id), &metadata)
                .await?;
            self.record_completion(id, locations.checkpoints.url_of(&CheckpointStorage::checkpoint_dir(id)))
                .await?;
            tracing::info!(%id, "final checkpoint written");
            self.status.checkpoint_completed(
                id,
                metadata.kind,
                metadata.triggered_at_ms,
                locations.checkpoints.url_of(&CheckpointStorage::checkpoint_dir(id)),
                metadata.state_size_bytes(),
                metadata.completed_at_ms,
            );
            self.discard(retained.add(metadata), locations).await;
        }
        deployment.send_all(TaskControl::JobFinished(id));
        Ok(())
    }
}

//! [`JobService`] for the job run by an [`Executor`] in this process (locally, or as a cluster's
//! coordinator).

use super::model::{
    CheckpointCounts, CheckpointsView, JobDetail, JobSummary, SavepointRequest, SavepointStatus, TriggerResponse,
    VertexDetail,
};
use super::{ApiError, ApiResult, JobService};
use crate::deployment::Deployer;
use crate::executor::{Executor, JobHandle};
use crate::metrics::{JobMetrics, OperatorEntry, TaskEntry};
use crate::status::{self, JobState, JobStatus, StatusSnapshot, VertexInfo};
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Serves the API for one local job.
pub struct LocalJobService {
    status: Arc<JobStatus>,
    metrics: Arc<JobMetrics>,
    handle: JobHandle,
    triggers: Arc<Mutex<HashMap<String, SavepointStatus>>>,
}

/// Whether a job in `state` may take a savepoint.
pub fn savepoint_allowed(job: &str, state: JobState) -> ApiResult<()> {
    match state {
        JobState::Running => Ok(()),
        other => Err(ApiError::NotRunning {
            job: job.to_string(),
            state: other.as_str(),
        }),
    }
}

/// Whether a job in `state` may be cancelled: anything not yet ending.
pub fn cancel_allowed(job: &str, state: JobState) -> ApiResult<()> {
    match state {
        JobState::Created | JobState::Running | JobState::Restarting => Ok(()),
        other => Err(ApiError::NotRunning {
            job: job.to_string(),
            state: other.as_str(),
        }),
    }
}

/// Vertices with their counters summed over subtasks: watermark is the lowest over subtasks
/// that have one, backpressure the highest over the tasks the vertex runs in.
pub fn vertex_details(vertices: &[VertexInfo], operators: &[OperatorEntry], tasks: &[TaskEntry]) -> Vec<VertexDetail> {
    vertices
        .iter()
        .map(|v| {
            let mut d = VertexDetail {
                id: v.id.clone(),
                name: v.name.clone(),
                parallelism: v.parallelism,
                records_in: 0,
                records_out: 0,
                bytes_in: 0,
                bytes_out: 0,
                backpressure_ratio: 0.0,
                watermark_ms: None,
            };
            for o in operators.iter().filter(|o| o.uid == v.id) {
                let m = &o.metrics;
                d.records_in += m.records_in.load(Ordering::Relaxed);
                d.records_out += m.records_out.load(Ordering::Relaxed);
                d.bytes_in += m.bytes_in.load(Ordering::Relaxed);
                d.bytes_out += m.bytes_out.load(Ordering::Relaxed);
                if let Some(w) = m.current_watermark() {
                    d.watermark_ms = Some(d.watermark_ms.map_or(w, |c| c.min(w)));
                }
            }
            d.backpressure_ratio = tasks
                .iter()
                .filter(|t| t.operators.contains(&v.id))
                .map(|t| t.metrics.backpressure_ratio())
                .fold(0.0, f64::max);
            d
        })
        .collect()
}

fn checkpoints_view(snapshot: &StatusSnapshot) -> CheckpointsView {
    CheckpointsView {
        counts: CheckpointCounts {
            completed: snapshot.completed,
            failed: snapshot.failed,
            in_progress: snapshot.in_progress(),
        },
        latest_completed: snapshot.latest_completed().cloned(),
        history: snapshot.checkpoints.clone(),
    }
}

impl LocalJobService {
    /// The service of the job `executor` runs (or will run).
    pub fn new<D: Deployer>(executor: &Executor<D>) -> Self {
        Self {
            status: executor.status(),
            metrics: executor.metrics(),
            handle: executor.handle(),
            triggers: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn find(&self, id: &str) -> ApiResult<StatusSnapshot> {
        if id != self.status.id() {
            return Err(ApiError::UnknownJob(id.to_string()));
        }
        Ok(self.status.snapshot())
    }

    fn detail(&self, id: &str) -> ApiResult<JobDetail> {
        let s = self.find(id)?;
        let operators = self.metrics.operators.lock().clone();
        let tasks = self.metrics.tasks.lock().clone();
        Ok(JobDetail {
            vertices: vertex_details(&s.vertices, &operators, &tasks),
            duration_ms: s.duration_ms(status::now_ms()),
            id: s.id,
            name: s.name,
            state: s.state,
            start_time_ms: s.start_time_ms,
            end_time_ms: s.end_time_ms,
            restarts: s.restarts,
            last_failure: s.last_failure,
            status_message: s.note,
        })
    }

    fn trigger(&self, id: &str, request: SavepointRequest) -> ApiResult<TriggerResponse> {
        let s = self.find(id)?;
        savepoint_allowed(id, s.state)?;
        if request.target_directory.as_deref().is_some_and(|d| d.trim().is_empty()) {
            return Err(ApiError::BadRequest("target_directory must not be empty".into()));
        }
        let trigger_id = status::new_id();
        self.triggers
            .lock()
            .insert(trigger_id.clone(), SavepointStatus::InProgress);
        let handle = self.handle.clone();
        let triggers = self.triggers.clone();
        let key = trigger_id.clone();
        tokio::spawn(async move {
            let result = handle.savepoint(request.target_directory, request.stop).await;
            let done = match result {
                Ok(location) => SavepointStatus::Completed { location },
                Err(e) => SavepointStatus::Failed { reason: e.to_string() },
            };
            triggers.lock().insert(key, done);
        });
        Ok(TriggerResponse { trigger_id })
    }

    fn trigger_status(&self, id: &str, trigger_id: &str) -> ApiResult<SavepointStatus> {
        self.find(id)?;
        self.triggers
            .lock()
            .get(trigger_id)
            .cloned()
            .ok_or_else(|| ApiError::UnknownTrigger {
                job: id.to_string(),
                trigger: trigger_id.to_string(),
            })
    }

    fn cancel_job(&self, id: &str) -> ApiResult<()> {
        let s = self.find(id)?;
        cancel_allowed(id, s.state)?;
        self.status.begin_cancel();
        self.handle.cancel();
        Ok(())
    }
}

impl JobService for LocalJobService {
    fn jobs(&self) -> BoxFuture<'_, ApiResult<Vec<JobSummary>>> {
        let s = self.status.snapshot();
        let jobs = vec![JobSummary {
            id: s.id,
            name: s.name,
            state: s.state,
        }];
        async move { Ok(jobs) }.boxed()
    }

    fn job(&self, id: String) -> BoxFuture<'_, ApiResult<JobDetail>> {
        let r = self.detail(&id);
        async move { r }.boxed()
    }

    fn checkpoints(&self, id: String) -> BoxFuture<'_, ApiResult<CheckpointsView>> {
        let r = self.find(&id).map(|s| checkpoints_view(&s));
        async move { r }.boxed()
    }

    fn trigger_savepoint(&self, id: String, request: SavepointRequest) -> BoxFuture<'_, ApiResult<TriggerResponse>> {
        let r = self.trigger(&id, request);
        async move { r }.boxed()
    }

    fn savepoint_status(&self, id: String, trigger_id: String) -> BoxFuture<'_, ApiResult<SavepointStatus>> {
        let r = self.trigger_status(&id, &trigger_id);
        async move { r }.boxed()
    }

    fn cancel(&self, id: String) -> BoxFuture<'_, ApiResult<()>> {
        let r = self.cancel_job(&id);
        async move { r }.boxed()
    }

    fn dispose_savepoint(&self, id: String, location: String) -> BoxFuture<'_, ApiResult<()>> {
        let known = self.find(&id).map(|_| ());
        async move {
            known?;
            dispose(&location).await
        }
        .boxed()
    }

    fn ready(&self) -> BoxFuture<'_, ApiResult<()>> {
        let state = self.status.state();
        let r = if state == JobState::Running {
            Ok(())
        } else {
            Err(ApiError::Unavailable(format!("the job is {}", state.as_str())))
        };
        async move { r }.boxed()
    }
}

/// Deletes the savepoint at `location`: refused (400) unless its `_metadata` says it is a
/// savepoint, so a checkpoint (whose files later checkpoints may share) is never deleted here.
pub async fn dispose(location: &str) -> ApiResult<()> {
    use freshet_core::CheckpointKind;
    use freshet_state::CheckpointStorage;
    let storage =
        CheckpointStorage::from_url(location).map_err(|e| ApiError::BadRequest(format!("{location}: {e}")))?;
    let metadata = storage
        .read_metadata("")
        .await
        .map_err(|e| ApiError::BadRequest(format!("{location} is not a savepoint: {e}")))?;
    if metadata.kind != CheckpointKind::Savepoint {
        return Err(ApiError::BadRequest(format!(
            "{location} is a checkpoint, not a savepoint; checkpoints are removed by retention"
        )));
    }
    storage
        .delete_dir("")
        .await
        .map_err(|e| ApiError::Internal(format!("disposing {location}: {e}")))?;
    tracing::info!(%location, "savepoint disposed");
    Ok(())
}

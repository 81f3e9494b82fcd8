//! The `Worker` control service: deployment, checkpoint triggers and notices, cancellation.

use super::attempt;
use super::WorkerShared;
use crate::wire;
use freshet_core::{Barrier, CheckpointId};
use freshet_engine::task::TaskControl;
use freshet_rpc::proto;
use freshet_rpc::proto::worker_server::Worker;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Serves the coordinator's calls on this worker.
pub struct WorkerService {
    shared: Arc<WorkerShared>,
}

impl WorkerService {
    /// The service over the worker's shared state.
    pub(crate) fn new(shared: Arc<WorkerShared>) -> Self {
        Self { shared }
    }
}

fn stale(job: &str, attempt: u64) -> Status {
    Status::failed_precondition(format!("attempt {attempt} of job '{job}' does not run on this worker"))
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn deploy_tasks(
        &self,
        request: Request<proto::DeployTasksRequest>,
    ) -> Result<Response<proto::DeployTasksResponse>, Status> {
        let request = request.into_inner();
        let deployed: Vec<proto::TaskId> = request.tasks.iter().filter_map(|t| t.task).collect();
        {
            let attempts = self.shared.attempts.lock().await;
            if attempts
                .iter()
                .any(|a| a.job == request.job_id && a.attempt == request.attempt)
            {
                return Ok(Response::new(proto::DeployTasksResponse { deployed }));
            }
            if attempts
                .iter()
                .any(|a| a.job == request.job_id && a.attempt > request.attempt)
            {
                return Err(stale(&request.job_id, request.attempt));
            }
        }
        // One job attempt at a time: a newer one replaces whatever runs.
        self.shared.cancel_all("a new attempt is deployed").await;
        let needed = request
            .tasks
            .iter()
            .map(|t| t.slot)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u32;
        if needed > self.shared.slots {
            return Err(Status::resource_exhausted(format!(
                "the deployment needs {needed} slots; this worker has {}",
                self.shared.slots
            )));
        }
        let running = attempt::deploy(&self.shared, request)
            .await
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.shared.attempts.lock().await.push(running);
        Ok(Response::new(proto::DeployTasksResponse { deployed }))
    }

    async fn trigger_checkpoint(
        &self,
        request: Request<proto::TriggerCheckpointRequest>,
    ) -> Result<Response<proto::Ack>, Status> {
        let request = request.into_inner();
        let barrier: Barrier = request
            .barrier
            .ok_or_else(|| Status::invalid_argument("a trigger without a barrier"))?
            .into();
        let attempts = self.shared.attempts.lock().await;
        let running = attempts
            .iter()
            .find(|a| a.job == request.job_id && a.attempt == request.attempt)
            .ok_or_else(|| stale(&request.job_id, request.attempt))?;
        if !request.savepoint_path.is_empty() {
            running
                .register_savepoint(barrier.id, &request.savepoint_path)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
        }
        for t in request.tasks {
            let task = wire::task_ref(Some(t)).map_err(|e| Status::invalid_argument(e.to_string()))?;
            if let Some(control) = running.controls.get(&task) {
                let _ = control.send(TaskControl::TriggerCheckpoint(barrier));
            }
        }
        Ok(Response::new(proto::Ack {}))
    }

    async fn notify_checkpoint_complete(
        &self,
        request: Request<proto::CheckpointCompleteNotice>,
    ) -> Result<Response<proto::Ack>, Status> {
        let request = request.into_inner();
        let attempts = self.shared.attempts.lock().await;
        let running = attempts
            .iter()
            .find(|a| a.job == request.job_id && a.attempt == request.attempt)
            .ok_or_else(|| stale(&request.job_id, request.attempt))?;
        let id = CheckpointId(request.checkpoint_id);
        running.send_all(if request.job_finished {
            TaskControl::JobFinished(id)
        } else {
            TaskControl::CheckpointComplete(id)
        });
        Ok(Response::new(proto::Ack {}))
    }

    async fn cancel_tasks(&self, request: Request<proto::CancelTasksRequest>) -> Result<Response<proto::Ack>, Status> {
        let request = request.into_inner();
        if !request.tasks.is_empty() {
            let attempts = self.shared.attempts.lock().await;
            if let Some(running) = attempts
                .iter()
                .find(|a| a.job == request.job_id && a.attempt == request.attempt)
            {
                for t in request.tasks {
                    let task = wire::task_ref(Some(t)).map_err(|e| Status::invalid_argument(e.to_string()))?;
                    if let Some(control) = running.controls.get(&task) {
                        let _ = control.send(TaskControl::Cancel);
                    }
                }
            }
            return Ok(Response::new(proto::Ack {}));
        }
        let cancelled = {
            let mut attempts = self.shared.attempts.lock().await;
            let (cancel, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut *attempts)
                .into_iter()
                .partition(|a| a.job == request.job_id && a.attempt <= request.attempt);
            *attempts = keep;
            cancel
        };
        for a in cancelled {
            a.cancel().await;
        }
        Ok(Response::new(proto::Ack {}))
    }
}

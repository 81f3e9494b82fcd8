//! The `Worker` control service: deployment, checkpoint triggers and notices, cancellation.

use super::attempt::{self, RunningAttempt};
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

/// The running attempt if it is attempt `attempt` of `job`.
fn attempt_of<'a>(running: &'a Option<RunningAttempt>, job: &str, attempt: u64) -> Result<&'a RunningAttempt, Status> {
    running
        .as_ref()
        .filter(|a| a.job == job && a.attempt == attempt)
        .ok_or_else(|| stale(job, attempt))
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn deploy_tasks(
        &self,
        request: Request<proto::DeployTasksRequest>,
    ) -> Result<Response<proto::DeployTasksResponse>, Status> {
        let request = request.into_inner();
        let deployed: Vec<proto::TaskId> = request.tasks.iter().filter_map(|t| t.task).collect();
        if let Some(a) = self.shared.running.lock().await.as_ref() {
            if a.job == request.job_id && a.attempt == request.attempt {
                return Ok(Response::new(proto::DeployTasksResponse { deployed }));
            }
            if a.job == request.job_id && a.attempt > request.attempt {
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
        *self.shared.running.lock().await = Some(running);
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
        let guard = self.shared.running.lock().await;
        let running = attempt_of(&guard, &request.job_id, request.attempt)?;
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
        let guard = self.shared.running.lock().await;
        let running = attempt_of(&guard, &request.job_id, request.attempt)?;
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
            let guard = self.shared.running.lock().await;
            if let Ok(running) = attempt_of(&guard, &request.job_id, request.attempt) {
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
            let mut running = self.shared.running.lock().await;
            if running
                .as_ref()
                .is_some_and(|a| a.job == request.job_id && a.attempt <= request.attempt)
            {
                running.take()
            } else {
                None
            }
        };
        if let Some(a) = cancelled {
            a.cancel().await;
        }
        Ok(Response::new(proto::Ack {}))
    }
}

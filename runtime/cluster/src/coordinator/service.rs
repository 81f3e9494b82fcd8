//! The `Coordinator` control service: what workers call.

use super::cluster::Cluster;
use crate::wire;
use freshet_core::{CheckpointId, Error};
use freshet_engine::task::TaskEvent;
use freshet_rpc::proto;
use freshet_rpc::proto::coordinator_server::Coordinator;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Serves workers' calls.
pub struct CoordinatorService {
    cluster: Arc<Cluster>,
}

impl CoordinatorService {
    /// The service over `cluster`.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self { cluster }
    }
}

fn bad(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
    async fn register_worker(
        &self,
        request: Request<proto::RegisterWorkerRequest>,
    ) -> Result<Response<proto::RegisterWorkerResponse>, Status> {
        let request = request.into_inner();
        self.cluster.register(&request).map_err(bad)?;
        Ok(Response::new(proto::RegisterWorkerResponse {
            coordinator_session: self.cluster.session.clone(),
            heartbeat_interval_ms: self.cluster.heartbeat_interval.as_millis() as u64,
            heartbeat_timeout_ms: self.cluster.heartbeat_timeout.as_millis() as u64,
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<proto::HeartbeatRequest>,
    ) -> Result<Response<proto::HeartbeatResponse>, Status> {
        Ok(Response::new(self.cluster.heartbeat(&request.into_inner())))
    }

    async fn acknowledge_checkpoint(
        &self,
        request: Request<proto::AcknowledgeCheckpointRequest>,
    ) -> Result<Response<proto::Ack>, Status> {
        let r = request.into_inner();
        let task = wire::task_ref(r.task).map_err(bad)?;
        let snapshots = wire::decode_snapshots(r.states).map_err(bad)?;
        self.cluster.event(
            &r.job_id,
            r.attempt,
            TaskEvent::Acked {
                task,
                checkpoint: CheckpointId(r.checkpoint_id),
                snapshots,
            },
        );
        Ok(Response::new(proto::Ack {}))
    }

    async fn decline_checkpoint(
        &self,
        request: Request<proto::DeclineCheckpointRequest>,
    ) -> Result<Response<proto::Ack>, Status> {
        let r = request.into_inner();
        let task = wire::task_ref(r.task).map_err(bad)?;
        self.cluster.event(
            &r.job_id,
            r.attempt,
            TaskEvent::Declined {
                task,
                checkpoint: CheckpointId(r.checkpoint_id),
                reason: r.reason,
            },
        );
        Ok(Response::new(proto::Ack {}))
    }

    async fn report_task_finished(
        &self,
        request: Request<proto::TaskFinishedReport>,
    ) -> Result<Response<proto::Ack>, Status> {
        let r = request.into_inner();
        let task = wire::task_ref(r.task).map_err(bad)?;
        let snapshots = wire::decode_snapshots(r.final_states).map_err(bad)?;
        self.cluster.event(
            &r.job_id,
            r.attempt,
            TaskEvent::Finished {
                task,
                snapshots,
                snapshotted_up_to: r.snapshotted_up_to,
            },
        );
        Ok(Response::new(proto::Ack {}))
    }

    async fn report_task_failure(
        &self,
        request: Request<proto::TaskFailureReport>,
    ) -> Result<Response<proto::Ack>, Status> {
        let r = request.into_inner();
        let task = wire::task_ref(r.task).map_err(bad)?;
        self.cluster
            .exit(&r.job_id, r.attempt, task, Err(Error::Internal(r.message)));
        Ok(Response::new(proto::Ack {}))
    }

    async fn report_task_exited(
        &self,
        request: Request<proto::TaskExitReport>,
    ) -> Result<Response<proto::Ack>, Status> {
        let r = request.into_inner();
        let task = wire::task_ref(r.task).map_err(bad)?;
        self.cluster.exit(&r.job_id, r.attempt, task, Ok(()));
        Ok(Response::new(proto::Ack {}))
    }
}

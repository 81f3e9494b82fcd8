//! A control-plane round trip through real tonic servers on loopback: a worker registers and
//! heartbeats, the coordinator triggers a checkpoint on it, the worker acknowledges with its
//! state handles, and the coordinator records the acknowledgement. The services are minimal
//! in-test implementations; the real ones belong to the coordinator and worker roles.

use freshet_core::{Barrier, CheckpointId, CheckpointKind, KeyGroupRange};
use freshet_rpc::proto::coordinator_client::CoordinatorClient;
use freshet_rpc::proto::coordinator_server::{Coordinator, CoordinatorServer};
use freshet_rpc::proto::worker_client::WorkerClient;
use freshet_rpc::proto::worker_server::{Worker, WorkerServer};
use freshet_rpc::proto::{
    Ack, AcknowledgeCheckpointRequest, CancelTasksRequest, CheckpointCompleteNotice, DeclineCheckpointRequest,
    DeployTasksRequest, DeployTasksResponse, HeartbeatRequest, HeartbeatResponse, OperatorStateHandle,
    RegisterWorkerRequest, RegisterWorkerResponse, TaskExitReport, TaskFailureReport, TaskFinishedReport, TaskId,
    TriggerCheckpointRequest,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Router;
use tonic::{Request, Response, Status};

const GUARD: Duration = Duration::from_secs(20);
const SESSION: &str = "term-1";

/// What the in-test coordinator saw.
#[derive(Default)]
struct CoordinatorLog {
    workers: Vec<RegisterWorkerRequest>,
    heartbeats: usize,
    acks: Vec<AcknowledgeCheckpointRequest>,
}

#[derive(Clone, Default)]
struct TestCoordinator {
    log: Arc<Mutex<CoordinatorLog>>,
}

fn locked(log: &Mutex<CoordinatorLog>) -> Result<std::sync::MutexGuard<'_, CoordinatorLog>, Status> {
    log.lock().map_err(|_| Status::internal("log poisoned"))
}

#[tonic::async_trait]
impl Coordinator for TestCoordinator {
    async fn register_worker(
        &self,
        request: Request<RegisterWorkerRequest>,
    ) -> Result<Response<RegisterWorkerResponse>, Status> {
        locked(&self.log)?.workers.push(request.into_inner());
        Ok(Response::new(RegisterWorkerResponse {
            coordinator_session: SESSION.into(),
            heartbeat_interval_ms: 1_000,
            heartbeat_timeout_ms: 10_000,
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        let hb = request.into_inner();
        let mut log = locked(&self.log)?;
        let known = log.workers.iter().any(|w| w.worker_id == hb.worker_id);
        log.heartbeats += 1;
        Ok(Response::new(HeartbeatResponse {
            reregister: !known || hb.coordinator_session != SESSION,
            heartbeat_timeout_ms: 10_000,
        }))
    }

    async fn acknowledge_checkpoint(
        &self,
        request: Request<AcknowledgeCheckpointRequest>,
    ) -> Result<Response<Ack>, Status> {
        locked(&self.log)?.acks.push(request.into_inner());
        Ok(Response::new(Ack {}))
    }

    async fn decline_checkpoint(&self, _: Request<DeclineCheckpointRequest>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }

    async fn report_task_finished(&self, _: Request<TaskFinishedReport>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }

    async fn report_task_failure(&self, _: Request<TaskFailureReport>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }

    async fn report_task_exited(&self, _: Request<TaskExitReport>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }
}

/// A worker whose single source task acknowledges every checkpoint at once.
#[derive(Clone)]
struct TestWorker {
    coordinator: CoordinatorClient<tonic::transport::Channel>,
}

#[tonic::async_trait]
impl Worker for TestWorker {
    async fn deploy_tasks(&self, _: Request<DeployTasksRequest>) -> Result<Response<DeployTasksResponse>, Status> {
        Err(Status::unimplemented("not needed by this test"))
    }

    async fn trigger_checkpoint(&self, request: Request<TriggerCheckpointRequest>) -> Result<Response<Ack>, Status> {
        let trigger = request.into_inner();
        let barrier: Barrier = trigger
            .barrier
            .ok_or_else(|| Status::invalid_argument("missing barrier"))?
            .into();
        let key_groups = KeyGroupRange { start: 0, end: 64 };
        for task in trigger.tasks {
            let ack = AcknowledgeCheckpointRequest {
                job_id: trigger.job_id.clone(),
                attempt: trigger.attempt,
                task: Some(task),
                checkpoint_id: barrier.id.0,
                states: vec![OperatorStateHandle {
                    operator_uid: "source".into(),
                    subtask: task.subtask,
                    key_groups: Some(key_groups.into()),
                    handle_format: "freshet-subtask-snapshot-json".into(),
                    handle: bytes::Bytes::from_static(br#"{"subtask":0}"#),
                    state_size_bytes: 4096,
                    checkpointed_size_bytes: 1024,
                }],
                alignment_ms: 0,
                duration_ms: 3,
            };
            // The acknowledgement goes out on the worker's own client, as a real task's would.
            let mut client = self.coordinator.clone();
            tokio::spawn(async move { client.acknowledge_checkpoint(ack).await });
        }
        Ok(Response::new(Ack {}))
    }

    async fn notify_checkpoint_complete(&self, _: Request<CheckpointCompleteNotice>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }

    async fn cancel_tasks(&self, _: Request<CancelTasksRequest>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(Ack {}))
    }
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    format!("http://{addr}")
}

#[tokio::test]
async fn register_heartbeat_trigger_and_acknowledge_a_checkpoint() {
    let round_trip = async {
        let coordinator = TestCoordinator::default();
        let coordinator_address =
            serve(tonic::transport::Server::builder().add_service(CoordinatorServer::new(coordinator.clone()))).await;
        let mut to_coordinator = CoordinatorClient::connect(coordinator_address).await.expect("connect");
        let worker_address = serve(
            tonic::transport::Server::builder().add_service(WorkerServer::new(TestWorker {
                coordinator: to_coordinator.clone(),
            })),
        )
        .await;

        // Register, then heartbeat with the session the coordinator handed out.
        let registered = to_coordinator
            .register_worker(RegisterWorkerRequest {
                worker_id: "worker-0".into(),
                control_address: worker_address.clone(),
                data_address: worker_address.clone(),
                slots: 4,
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .await
            .expect("register")
            .into_inner();
        assert_eq!(registered.heartbeat_timeout_ms, 10_000);
        let beat = to_coordinator
            .heartbeat(HeartbeatRequest {
                worker_id: "worker-0".into(),
                coordinator_session: registered.coordinator_session.clone(),
                tasks: vec![],
                free_slots: 4,
                ..Default::default()
            })
            .await
            .expect("heartbeat")
            .into_inner();
        assert!(!beat.reregister);
        let stale = to_coordinator
            .heartbeat(HeartbeatRequest {
                worker_id: "worker-0".into(),
                coordinator_session: "term-0".into(),
                tasks: vec![],
                free_slots: 4,
                ..Default::default()
            })
            .await
            .expect("heartbeat")
            .into_inner();
        assert!(
            stale.reregister,
            "a heartbeat of an old coordinator term must re-register"
        );

        // The coordinator triggers checkpoint 7 on the worker's source task.
        let mut to_worker = WorkerClient::connect(worker_address).await.expect("connect worker");
        let barrier = Barrier {
            id: CheckpointId(7),
            triggered_at_ms: 1_234,
            kind: CheckpointKind::Checkpoint,
        };
        to_worker
            .trigger_checkpoint(TriggerCheckpointRequest {
                job_id: "job-1".into(),
                attempt: 2,
                barrier: Some(barrier.into()),
                tasks: vec![TaskId { chain: 0, subtask: 0 }],
                savepoint_path: String::new(),
            })
            .await
            .expect("trigger");

        // The acknowledgement arrives with its state handle.
        loop {
            if let Some(ack) = coordinator.log.lock().ok().and_then(|l| l.acks.first().cloned()) {
                break ack;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ack = tokio::time::timeout(GUARD, round_trip).await.expect("no hang");
    assert_eq!((ack.job_id.as_str(), ack.attempt, ack.checkpoint_id), ("job-1", 2, 7));
    assert_eq!(ack.task, Some(TaskId { chain: 0, subtask: 0 }));
    let state = &ack.states[0];
    assert_eq!(state.operator_uid, "source");
    assert_eq!((state.state_size_bytes, state.checkpointed_size_bytes), (4096, 1024));
    assert_eq!(
        KeyGroupRange::try_from(state.key_groups.expect("key groups")).ok(),
        Some(KeyGroupRange { start: 0, end: 64 })
    );
}

//! Staying registered with the coordinator: find it (by address or through the HA store),
//! register, send heartbeats with the tasks' counters, and start over when it asks for a new
//! registration or cannot be reached. Tasks of a coordinator this worker lost touch with for
//! longer than the heartbeat timeout, or that a new coordinator session replaces, are
//! cancelled: the coordinator in charge redeploys the job from its latest checkpoint.

use super::{CoordinatorLocator, WorkerShared};
use crate::wire;
use freshet_ha::HaStore;
use freshet_rpc::proto;
use freshet_rpc::proto::coordinator_client::CoordinatorClient;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// How long a call to the coordinator may take: a coordinator that does not answer within it
/// (e.g. a paused process) counts as gone, and the worker looks for the leader again.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait before looking for the coordinator again.
const RETRY: Duration = Duration::from_millis(200);

/// `http://host:port` for an address given with or without a scheme.
pub fn with_scheme(address: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

async fn locate(locator: &CoordinatorLocator) -> Option<String> {
    match locator {
        CoordinatorLocator::Address(a) => Some(with_scheme(a)),
        CoordinatorLocator::Ha(store) => match store.current_leader().await {
            Ok(Some(leader)) => leader.addresses.map(|a| with_scheme(&a.rpc)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the HA store to find the leader");
                None
            }
        },
    }
}

async fn connect(address: &str) -> Option<CoordinatorClient<Channel>> {
    let endpoint = Endpoint::from_shared(address.to_string())
        .ok()?
        .connect_timeout(Duration::from_secs(2))
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true);
    endpoint.connect().await.ok().map(CoordinatorClient::new)
}

/// Registers and heartbeats forever (until the worker stops).
pub(crate) async fn keep_registered(shared: Arc<WorkerShared>, locator: CoordinatorLocator) {
    let mut previous_session: Option<String> = None;
    // Last successful contact and the timeout the coordinator asked for.
    let mut last_contact = Instant::now();
    let mut timeout: Option<Duration> = None;
    loop {
        if timeout.is_some_and(|t| last_contact.elapsed() >= t) {
            shared
                .cancel_all("no coordinator was reachable for the heartbeat timeout")
                .await;
            timeout = None;
        }
        let Some(address) = locate(&locator).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let Some(mut client) = connect(&address).await else {
            tracing::debug!(%address, "coordinator not reachable");
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let registration = proto::RegisterWorkerRequest {
            worker_id: shared.worker_id.clone(),
            control_address: shared.control_address.clone(),
            data_address: shared.control_address.clone(),
            slots: shared.slots,
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let answer = match client.register_worker(registration).await {
            Ok(a) => a.into_inner(),
            Err(status) => {
                tracing::warn!(%address, %status, "registration refused");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if previous_session
            .as_ref()
            .is_some_and(|s| *s != answer.coordinator_session)
        {
            shared.cancel_all("a new coordinator session began").await;
        }
        previous_session = Some(answer.coordinator_session.clone());
        last_contact = Instant::now();
        timeout = Some(Duration::from_millis(answer.heartbeat_timeout_ms.max(100)));
        *shared.coordinator.lock() = Some(client.clone());
        tracing::info!(%address, session = %answer.coordinator_session, "registered with the coordinator");
        eprintln!("registered with the coordinator at {address}");
        heartbeat(&shared, &mut client, &answer, &mut last_contact, &mut timeout).await;
        *shared.coordinator.lock() = None;
    }
}

/// Sends heartbeats until the coordinator asks for a new registration or a heartbeat fails
/// (then the caller looks for the coordinator again, keeping the tasks until the timeout).
async fn heartbeat(
    shared: &WorkerShared,
    client: &mut CoordinatorClient<Channel>,
    answer: &proto::RegisterWorkerResponse,
    last_contact: &mut Instant,
    timeout: &mut Option<Duration>,
) {
    let interval = Duration::from_millis(answer.heartbeat_interval_ms.max(10));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let request = heartbeat_request(shared, &answer.coordinator_session).await;
        match client.heartbeat(request).await {
            Ok(response) => {
                let response = response.into_inner();
                *last_contact = Instant::now();
                if response.heartbeat_timeout_ms > 0 {
                    *timeout = Some(Duration::from_millis(response.heartbeat_timeout_ms));
                }
                if response.reregister {
                    tracing::info!("the coordinator asks for a new registration");
                    return;
                }
            }
            Err(status) => {
                tracing::warn!(%status, "heartbeat failed; looking for the coordinator");
                return;
            }
        }
    }
}

async fn heartbeat_request(shared: &WorkerShared, session: &str) -> proto::HeartbeatRequest {
    let running = shared.running.lock().await;
    let mut tasks = Vec::new();
    let mut operators = Vec::new();
    let mut task_counters = Vec::new();
    let mut used = 0;
    if let Some(a) = running.as_ref() {
        used += a.slots;
        let exited = a.exited.lock().clone();
        for t in a.controls.keys() {
            tasks.push(proto::TaskStatus {
                job_id: a.job.clone(),
                attempt: a.attempt,
                task: Some(wire::task_id(*t)),
                state: if exited.contains(t) {
                    proto::TaskState::Finished
                } else {
                    proto::TaskState::Running
                } as i32,
            });
        }
        for o in shared.metrics.operators.lock().iter() {
            operators.push(wire::operator_counters(a.attempt, &o.uid, o.subtask, &o.metrics));
        }
        for entry in shared.metrics.tasks.lock().iter() {
            let task = freshet_engine::task::TaskRef {
                chain: entry.chain,
                subtask: entry.subtask,
            };
            task_counters.push(wire::task_counters(a.attempt, task, &entry.metrics));
        }
    }
    proto::HeartbeatRequest {
        worker_id: shared.worker_id.clone(),
        coordinator_session: session.to_string(),
        tasks,
        free_slots: shared.slots.saturating_sub(used),
        operators,
        task_counters,
    }
}

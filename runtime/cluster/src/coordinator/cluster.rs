//! The coordinator's view of its workers: registrations, heartbeats, liveness, and where the
//! reports of the running attempt go.

use crate::placement::{Placement, WorkerSlots};
use crate::wire;
use freshet_core::{Error, Result};
use freshet_engine::metrics::{OperatorMetrics, TaskMetrics};
use freshet_engine::task::{TaskEvent, TaskRef};
use freshet_rpc::proto;
use freshet_rpc::proto::worker_client::WorkerClient;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// A registered worker.
#[derive(Clone, Debug)]
pub struct WorkerEntry {
    /// Where it serves the `Worker` service.
    pub control_address: String,
    /// Where it serves the data plane.
    pub data_address: String,
    /// Slots it offers.
    pub slots: u32,
    /// When its last heartbeat (or registration) arrived.
    pub last_heartbeat: Instant,
    /// A client of its `Worker` service.
    pub client: WorkerClient<Channel>,
}

/// Where the reports of the running attempt go.
pub struct AttemptRoute {
    /// The job's id.
    pub job_id: String,
    /// The attempt as numbered on the wire.
    pub attempt: u64,
    /// Checkpoint events for the executor.
    pub events: mpsc::UnboundedSender<TaskEvent>,
    /// Task exits (and worker losses) for the deployment.
    pub exits: mpsc::UnboundedSender<(TaskRef, Result<()>)>,
    /// Where every task runs.
    pub placement: Placement,
    /// The coordinator's mirror of every operator subtask's counters.
    pub operators: HashMap<(String, u32), Arc<OperatorMetrics>>,
    /// The coordinator's mirror of every task's counters.
    pub tasks: HashMap<TaskRef, Arc<TaskMetrics>>,
    /// When every worker accepted its tasks (`None` while deploying).
    pub deployed_at: Option<Instant>,
}

impl AttemptRoute {
    fn matches(&self, job_id: &str, attempt: u64) -> bool {
        self.job_id == job_id && self.attempt == attempt
    }
}

/// Registered workers and the running attempt.
pub struct Cluster {
    /// This coordinator's session (a new one per process and leadership term).
    pub session: String,
    /// How often workers send heartbeats.
    pub heartbeat_interval: Duration,
    /// After how long without one a worker is lost.
    pub heartbeat_timeout: Duration,
    workers: Mutex<BTreeMap<String, WorkerEntry>>,
    changed: Notify,
    route: Mutex<Option<AttemptRoute>>,
}

impl Cluster {
    /// A cluster with no workers yet.
    pub fn new(session: String, heartbeat_interval: Duration, heartbeat_timeout: Duration) -> Self {
        Self {
            session,
            heartbeat_interval,
            heartbeat_timeout,
            workers: Mutex::new(BTreeMap::new()),
            changed: Notify::new(),
            route: Mutex::new(None),
        }
    }

    /// Registers (or re-registers) a worker. A worker that re-registers while the running
    /// attempt uses it has lost its tasks: the attempt fails.
    pub fn register(&self, request: &proto::RegisterWorkerRequest) -> Result<()> {
        if request.worker_id.is_empty() {
            return Err(Error::Config("a worker registered without an id".into()));
        }
        if request.slots == 0 {
            return Err(Error::Config(format!("worker '{}' offers no slots", request.worker_id)));
        }
        // Every process compiles the job script itself: they must agree on the planner.
        if request.version != env!("CARGO_PKG_VERSION") {
            return Err(Error::Config(format!(
                "worker '{}' runs Freshet {}, this coordinator {}: a cluster runs one version \
                 (every worker compiles the job itself)",
                request.worker_id,
                if request.version.is_empty() {
                    "(unknown)"
                } else {
                    &request.version
                },
                env!("CARGO_PKG_VERSION")
            )));
        }
        let channel = Endpoint::from_shared(request.control_address.clone())
            .map_err(|e| Error::Config(format!("worker '{}' control address: {e}", request.worker_id)))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        let entry = WorkerEntry {
            control_address: request.control_address.clone(),
            data_address: request.data_address.clone(),
            slots: request.slots,
            last_heartbeat: Instant::now(),
            client: WorkerClient::new(channel),
        };
        let previous = self.workers.lock().insert(request.worker_id.clone(), entry);
        // A worker back on another address is a new process: its tasks are gone. (One back on
        // the same address after a lost heartbeat keeps them; if it restarted there, its next
        // heartbeat shows it runs none.)
        if previous.is_some_and(|p| p.control_address != request.control_address) {
            self.fail_attempt_on(&request.worker_id, "the worker restarted");
        }
        tracing::info!(worker = %request.worker_id, address = %request.control_address, slots = request.slots, "worker registered");
        self.changed.notify_waiters();
        Ok(())
    }

    /// Records a heartbeat and mirrors its counters.
    pub fn heartbeat(&self, request: &proto::HeartbeatRequest) -> proto::HeartbeatResponse {
        let known = {
            let mut workers = self.workers.lock();
            match workers.get_mut(&request.worker_id) {
                Some(w) if request.coordinator_session == self.session => {
                    w.last_heartbeat = Instant::now();
                    true
                }
                _ => false,
            }
        };
        if known {
            if let Some(reason) = self.missing_tasks(request) {
                self.fail_attempt_on(&request.worker_id, &reason);
            }
            if let Some(route) = self.route.lock().as_ref() {
                for c in &request.operators {
                    if c.attempt == route.attempt {
                        if let Some(m) = route.operators.get(&(c.operator_uid.clone(), c.subtask)) {
                            wire::mirror_operator(c, m);
                        }
                    }
                }
                for c in &request.task_counters {
                    let Ok(task) = wire::task_ref(c.task) else { continue };
                    if c.attempt == route.attempt {
                        if let Some(m) = route.tasks.get(&task) {
                            wire::mirror_task(c, m);
                        }
                    }
                }
            }
        }
        proto::HeartbeatResponse {
            reregister: !known,
            heartbeat_timeout_ms: self.heartbeat_timeout.as_millis() as u64,
        }
    }

    /// Why the running attempt has lost the tasks placed on the heartbeat's worker, if it has:
    /// the attempt was deployed (a while ago, so this heartbeat was sent after the deployment)
    /// and the worker no longer lists any of its tasks (it restarted on the same address).
    fn missing_tasks(&self, request: &proto::HeartbeatRequest) -> Option<String> {
        let route = self.route.lock();
        let route = route.as_ref()?;
        let settled = route
            .deployed_at
            .is_some_and(|at| at.elapsed() > self.heartbeat_interval * 3);
        let placed = !route.placement.tasks_on(&request.worker_id).is_empty();
        let listed = request
            .tasks
            .iter()
            .any(|t| t.job_id == route.job_id && t.attempt == route.attempt);
        (settled && placed && !listed).then(|| "the worker no longer runs its tasks (it restarted)".to_string())
    }

    /// Notes that every worker accepted the tasks of attempt `attempt`.
    pub fn mark_deployed(&self, attempt: u64) {
        if let Some(route) = self.route.lock().as_mut().filter(|r| r.attempt == attempt) {
            route.deployed_at = Some(Instant::now());
        }
    }

    /// Forgets registered workers whose control port refuses connections or does not answer
    /// within `timeout` (a killed process's port refuses at once), so a restart is not placed
    /// on a worker that died since its last heartbeat.
    pub async fn drop_unreachable(&self, timeout: Duration) {
        let workers: Vec<(String, String)> = self
            .workers
            .lock()
            .iter()
            .map(|(id, w)| (id.clone(), w.control_address.clone()))
            .collect();
        let probes = workers.into_iter().map(|(id, address)| async move {
            let target = address
                .split("://")
                .nth(1)
                .unwrap_or(&address)
                .trim_end_matches('/')
                .to_string();
            let reached = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target)).await;
            (id, matches!(reached, Ok(Ok(_))))
        });
        for (id, reachable) in futures::future::join_all(probes).await {
            if !reachable {
                self.remove_worker(&id, "its control port does not accept connections");
            }
        }
    }

    /// Every registered worker's slots, in id order.
    pub fn worker_slots(&self) -> Vec<WorkerSlots> {
        self.workers
            .lock()
            .iter()
            .map(|(id, w)| WorkerSlots {
                worker: id.clone(),
                free: w.slots,
            })
            .collect()
    }

    /// A registered worker.
    pub fn worker(&self, id: &str) -> Option<WorkerEntry> {
        self.workers.lock().get(id).cloned()
    }

    /// Number of registered workers.
    pub fn worker_count(&self) -> usize {
        self.workers.lock().len()
    }

    /// Waits until the set of workers changes (or `timeout` passes).
    pub async fn changed(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }

    /// Forgets a worker that died or cannot be reached; the attempt using it fails.
    pub fn remove_worker(&self, id: &str, reason: &str) {
        if self.workers.lock().remove(id).is_some() {
            tracing::warn!(worker = %id, %reason, "worker lost");
            self.fail_attempt_on(id, reason);
            self.changed.notify_waiters();
        }
    }

    fn fail_attempt_on(&self, worker: &str, reason: &str) {
        if let Some(route) = self.route.lock().as_ref() {
            if let Some(task) = route.placement.tasks_on(worker).first() {
                let _ = route.exits.send((
                    *task,
                    Err(Error::ChannelClosed(format!("worker '{worker}' lost: {reason}"))),
                ));
            }
        }
    }

    /// Routes reports of `route`'s attempt to it from now on.
    pub fn set_route(&self, route: AttemptRoute) {
        *self.route.lock() = Some(route);
    }

    /// Stops routing reports of attempt `attempt`.
    pub fn clear_route(&self, attempt: u64) {
        let mut route = self.route.lock();
        if route.as_ref().is_some_and(|r| r.attempt == attempt) {
            *route = None;
        }
    }

    /// Delivers a checkpoint event of attempt `attempt` of `job_id` (dropped if stale).
    pub fn event(&self, job_id: &str, attempt: u64, event: TaskEvent) {
        if let Some(route) = self.route.lock().as_ref().filter(|r| r.matches(job_id, attempt)) {
            let _ = route.events.send(event);
        }
    }

    /// Delivers a task exit of attempt `attempt` of `job_id` (dropped if stale).
    pub fn exit(&self, job_id: &str, attempt: u64, task: TaskRef, result: Result<()>) {
        if let Some(route) = self.route.lock().as_ref().filter(|r| r.matches(job_id, attempt)) {
            let _ = route.exits.send((task, result));
        }
    }

    /// Declares workers lost whose last heartbeat is older than the timeout; runs forever.
    pub async fn watch_liveness(self: Arc<Self>) {
        let mut ticker = tokio::time::interval((self.heartbeat_interval / 2).max(Duration::from_millis(10)));
        loop {
            ticker.tick().await;
            let expired: Vec<String> = self
                .workers
                .lock()
                .iter()
                .filter(|(_, w)| w.last_heartbeat.elapsed() > self.heartbeat_timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                let reason = format!("no heartbeat for {} ms", self.heartbeat_timeout.as_millis());
                self.remove_worker(&id, &reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::{place, WorkerSlots};
    use freshet_dataflow::NodeId;
    use freshet_engine::plan::ChainSpec;

    fn registration(address: &str) -> proto::RegisterWorkerRequest {
        proto::RegisterWorkerRequest {
            worker_id: "w1".into(),
            control_address: address.into(),
            data_address: address.into(),
            slots: 1,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    #[test]
    fn workers_of_another_version_are_refused() {
        let cluster = Cluster::new("s1".into(), Duration::from_millis(1), Duration::from_secs(5));
        let mut request = registration("http://127.0.0.1:1");
        request.version = "0.0.0-other".into();
        let err = cluster.register(&request).expect_err("another version is refused");
        assert!(err.to_string().contains("0.0.0-other"), "{err}");
        assert_eq!(cluster.worker_count(), 0);
    }

    fn heartbeat(session: &str, attempt: Option<u64>) -> proto::HeartbeatRequest {
        proto::HeartbeatRequest {
            worker_id: "w1".into(),
            coordinator_session: session.into(),
            tasks: attempt
                .map(|attempt| proto::TaskStatus {
                    job_id: "job".into(),
                    attempt,
                    task: Some(wire::task_id(TaskRef { chain: 0, subtask: 0 })),
                    state: proto::TaskState::Running as i32,
                })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    /// A cluster with worker w1 running attempt 7's only task; returns the exits it reports.
    fn running() -> (Cluster, mpsc::UnboundedReceiver<(TaskRef, Result<()>)>) {
        let cluster = Cluster::new("s1".into(), Duration::from_millis(1), Duration::from_secs(5));
        cluster
            .register(&registration("http://127.0.0.1:1"))
            .expect("registers");
        let chains = [ChainSpec {
            nodes: vec![NodeId(0)],
            parallelism: 1,
        }];
        let placement = place(
            &chains,
            &[WorkerSlots {
                worker: "w1".into(),
                free: 1,
            }],
        )
        .expect("placed");
        let (events, _) = mpsc::unbounded_channel();
        let (exits, exits_rx) = mpsc::unbounded_channel();
        cluster.set_route(AttemptRoute {
            job_id: "job".into(),
            attempt: 7,
            events,
            exits,
            placement,
            operators: HashMap::new(),
            tasks: HashMap::new(),
            deployed_at: None,
        });
        cluster.mark_deployed(7);
        (cluster, exits_rx)
    }

    #[tokio::test]
    async fn a_worker_that_no_longer_lists_its_tasks_fails_the_attempt() {
        let (cluster, mut exits) = running();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!cluster.heartbeat(&heartbeat("s1", Some(7))).reregister);
        assert!(exits.try_recv().is_err(), "a worker listing its tasks is fine");
        cluster.heartbeat(&heartbeat("s1", None));
        let (task, result) = exits.try_recv().expect("the attempt fails");
        assert_eq!(task, TaskRef { chain: 0, subtask: 0 });
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn re_registration_fails_the_attempt_only_from_a_new_address() {
        let (cluster, mut exits) = running();
        cluster
            .register(&registration("http://127.0.0.1:1"))
            .expect("registers");
        assert!(exits.try_recv().is_err(), "same process, same address: tasks kept");
        cluster
            .register(&registration("http://127.0.0.1:2"))
            .expect("registers");
        assert!(
            exits.try_recv().is_ok(),
            "a new process on another address lost the tasks"
        );
        assert!(cluster.heartbeat(&heartbeat("stale-session", Some(7))).reregister);
    }

    #[tokio::test]
    async fn workers_whose_port_refuses_are_dropped_before_placement() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let alive = format!("http://{}", listener.local_addr().expect("an address"));
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
            format!("http://{}", l.local_addr().expect("an address"))
        };
        let cluster = Cluster::new("s".into(), Duration::from_secs(1), Duration::from_secs(5));
        for (id, address) in [("alive", &alive), ("dead", &dead)] {
            cluster
                .register(&proto::RegisterWorkerRequest {
                    worker_id: id.into(),
                    control_address: address.clone(),
                    data_address: address.clone(),
                    slots: 1,
                    version: env!("CARGO_PKG_VERSION").into(),
                })
                .expect("registers");
        }
        cluster.drop_unreachable(Duration::from_millis(500)).await;
        let left: Vec<String> = cluster.worker_slots().into_iter().map(|w| w.worker).collect();
        assert_eq!(left, vec!["alive".to_string()]);
    }
}

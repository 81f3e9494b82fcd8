//! The controller against a fake Kubernetes API and a fake coordinator: each test is one
//! lifecycle story (deploy, savepoint upgrade, rescale, suspend and resume, deletion), driven
//! one reconcile pass at a time, asserting the exact requests of every pass, the objects
//! applied and the status written.

mod fake_api;

use fake_api::fixtures::{JobBuilder, NAME, SAVEPOINT_DIR};
use fake_api::{Cluster, Pass};
use freshet_operator::context::{FIELD_MANAGER, FINALIZER};
use freshet_operator::crd::{Phase, Purpose, SnapshotKind, Step, StopMode, StreamJob, StreamJobStatus};
use freshet_operator::decide::spec_to_json;
use freshet_operator::resources::{job_objects, security, JobObjects};
use k8s_openapi::api::core::v1::{EnvVar, PodSpec};
use kube::runtime::controller::Action as Requeue;
use serde_json::{json, Value};
use std::time::Duration;

/// Every object of a deployment, serialized, in the order the controller applies them.
fn in_apply_order(objects: &JobObjects) -> Vec<Value> {
    let mut all = vec![
        serde_json::to_value(&objects.config_map).unwrap(),
        serde_json::to_value(&objects.service_account).unwrap(),
        serde_json::to_value(&objects.role).unwrap(),
        serde_json::to_value(&objects.role_binding).unwrap(),
        serde_json::to_value(&objects.coordinator_service).unwrap(),
        serde_json::to_value(&objects.worker_service).unwrap(),
    ];
    all.extend(
        objects
            .disruption_budgets
            .iter()
            .map(|b| serde_json::to_value(b).unwrap()),
    );
    all.push(serde_json::to_value(&objects.coordinator).unwrap());
    all.push(serde_json::to_value(&objects.workers).unwrap());
    all
}

/// The writes of a deployment pass: the status, the HA Lease reset, then every object.
fn deploy_writes(budgets: &[&str]) -> Vec<String> {
    let mut writes: Vec<String> = [
        "PATCH streamjobs/orders/status",
        "DELETE leases/orders-ha",
        "PATCH configmaps/orders-config",
        "PATCH serviceaccounts/orders-job",
        "PATCH roles/orders-job",
        "PATCH rolebindings/orders-job",
        "PATCH services/orders-coordinator",
        "PATCH services/orders-worker",
    ]
    .map(String::from)
    .to_vec();
    writes.extend(budgets.iter().map(|b| format!("PATCH poddisruptionbudgets/{b}")));
    writes.push("PATCH deployments/orders-coordinator".into());
    writes.push("PATCH statefulsets/orders-worker".into());
    writes
}

/// Asserts that `pass` applied exactly `job_objects(job, spec, restore_from)`, in order, each
/// as a forced server-side apply of the operator's field manager.
fn assert_applied_exactly(pass: &Pass, job: &StreamJob, restore_from: Option<&str>) {
    let expected = in_apply_order(&job_objects(job, &job.spec, restore_from).unwrap());
    let applies = pass.applies();
    let bodies: Vec<&Value> = applies.iter().map(|r| &r.body).collect();
    assert_eq!(bodies, expected.iter().collect::<Vec<_>>());
    for apply in applies {
        assert_eq!(apply.query("fieldManager"), Some(FIELD_MANAGER), "{}", apply.short());
        assert_eq!(apply.query("force"), Some("true"), "{}", apply.short());
    }
}

/// The coordinator container's arguments in an applied Deployment.
fn coordinator_args(deployment: &Value) -> Vec<String> {
    serde_json::from_value(deployment["spec"]["template"]["spec"]["containers"][0]["args"].clone()).unwrap()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

fn condition<'a>(status: &'a StreamJobStatus, kind: &str) -> (&'a str, &'a str) {
    let c = status.conditions.iter().find(|c| c.type_ == kind).unwrap();
    (c.status.as_str(), c.reason.as_str())
}

/// Creates `job`, reconciles it to RUNNING (job id `job-1`) and returns the cluster.
async fn running(job: StreamJob) -> Cluster {
    let cluster = Cluster::with(job).await;
    cluster.reconcile_ok().await;
    cluster.reconcile_ok().await;
    cluster.kubelet();
    cluster.coordinator_runs("job-1", "RUNNING");
    cluster.reconcile_ok().await;
    assert_eq!(cluster.status().phase, Some(Phase::Running));
    cluster
}

/// From a triggered stop-with-savepoint to the pass after the job's pods are gone: the
/// savepoint completes at `location`, the job is torn down, its pods terminate. Returns that
/// last pass (which redeploys, suspends or releases the finalizer, per the operation).
async fn savepoint_completes_and_pods_go(cluster: &Cluster, location: &str) -> Pass {
    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status"],
        "the savepoint is in progress"
    );

    cluster.coordinator.completes_savepoint(location);
    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.writes(),
        [
            "PATCH streamjobs/orders/status",
            "DELETE deployments/orders-coordinator",
            "DELETE statefulsets/orders-worker",
        ]
    );
    let op = pass.status().operation.unwrap();
    assert_eq!(
        (op.step, op.restore_from.unwrap().location.as_str()),
        (Step::TearingDown, location)
    );

    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status"],
        "pods are still terminating"
    );
    assert!(!cluster.pods().is_empty());

    cluster.kubelet();
    assert_eq!(cluster.pods(), Vec::<String>::new());
    cluster.reconcile_ok().await
}

#[tokio::test]
async fn deploy_records_the_operation_then_applies_every_object_and_reports_running() {
    let cluster = Cluster::with(JobBuilder::orders().savepoints().build()).await;

    // First pass: only the finalizer, guarded by the resourceVersion read.
    let pass = cluster.reconcile().await;
    assert_eq!(pass.requeue(), Requeue::requeue(Duration::from_millis(100)));
    assert_eq!(pass.writes(), ["PATCH streamjobs/orders"]);
    assert_eq!(pass.requests[0].content_type, "application/merge-patch+json");
    assert_eq!(
        pass.requests[0].body,
        json!({"metadata": {"finalizers": [FINALIZER], "resourceVersion": "1"}})
    );
    assert_eq!(cluster.job().metadata.finalizers, Some(vec![FINALIZER.to_string()]));

    // Second pass: observe finds nothing, the status records the deployment before any
    // object is applied (write-ahead), then the HA Lease is reset and every object applied.
    let job = cluster.job();
    let pass = cluster.reconcile().await;
    assert_eq!(pass.requeue(), Requeue::requeue(Duration::from_secs(2)));
    let reads: Vec<String> = pass.requests[..4].iter().map(|r| r.short()).collect();
    assert_eq!(
        reads,
        [
            "GET deployments/orders-coordinator",
            "GET statefulsets/orders-worker",
            "GET pods",
            "GET leases/orders-ha",
        ]
    );
    assert_eq!(
        pass.requests[2].query("labelSelector"),
        Some("freshet.dev/job=orders,app.kubernetes.io/component in (coordinator,worker)")
    );
    assert_eq!(pass.writes(), deploy_writes(&["orders-worker"]));
    assert_applied_exactly(&pass, &job, None);
    let status = pass.status();
    assert_eq!(status.phase, Some(Phase::Deploying));
    let op = status.operation.clone().unwrap();
    assert_eq!(
        (op.purpose, op.step, op.target_generation, op.restore_from),
        (Purpose::Deploy, Step::AwaitingRunning, Some(1), None)
    );
    assert_eq!(op.target_spec, Some(spec_to_json(&job.spec)));
    assert_eq!(status.parallelism, Some(2));
    assert_eq!(
        status.selector.as_deref(),
        Some("freshet.dev/job=orders,app.kubernetes.io/component=worker")
    );
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(&status, "Ready"), ("False", "OperationInProgress"));
    assert_eq!(cluster.status(), status, "the status is stored as written");
    assert!(pass.events().contains(&"Deploying".to_string()), "{:?}", pass.events());

    // The pods start and the coordinator reports RUNNING: the spec becomes the stable one.
    cluster.kubelet();
    assert_eq!(
        cluster.pods(),
        ["orders-coordinator-0", "orders-worker-0", "orders-worker-1"]
    );
    cluster.coordinator_runs("job-1", "RUNNING");
    cluster.coordinator.checkpointed(12, "s3://ckpt/orders/chk-12");
    let pass = cluster.reconcile().await;
    assert_eq!(pass.requeue(), Requeue::requeue(Duration::from_secs(30)));
    assert_eq!(pass.writes(), ["PATCH streamjobs/orders/status"]);
    let status = pass.status();
    assert_eq!(status.phase, Some(Phase::Running));
    assert_eq!(status.operation, None);
    assert_eq!(condition(&status, "Ready"), ("True", "JobRunning"));
    assert_eq!(status.last_stable_spec, Some(spec_to_json(&job.spec)));
    assert_eq!(status.last_reconciled_spec, status.last_stable_spec);
    let info = status.job.unwrap();
    assert_eq!((info.id.as_deref(), info.state.as_str()), (Some("job-1"), "RUNNING"));
    let checkpoint = status.latest_checkpoint.unwrap();
    assert_eq!(
        (checkpoint.location.as_str(), checkpoint.kind, checkpoint.checkpoint_id),
        ("s3://ckpt/orders/chk-12", SnapshotKind::Checkpoint, Some(12))
    );
    assert_eq!(
        status.restore_point,
        Some(checkpoint),
        "the newest checkpoint is what a redeployment restores"
    );
    assert_eq!(pass.events(), ["JobRunning"]);
}

#[tokio::test]
async fn a_changed_sql_is_rolled_out_through_a_stop_with_savepoint() {
    let cluster = running(JobBuilder::orders().savepoints().build()).await;
    cluster
        .edit(|spec| spec.job.sql = Some("INSERT INTO totals SELECT item, sum(qty) FROM orders GROUP BY item;".into()));
    assert_eq!(cluster.job().metadata.generation, Some(2));

    // The upgrade is recorded, then the savepoint asked for, then its trigger recorded.
    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status", "PATCH streamjobs/orders/status"]
    );
    let [before, after] = <[StreamJobStatus; 2]>::try_from(pass.statuses()).unwrap();
    assert_eq!(before.phase, Some(Phase::Upgrading));
    let op = before.operation.unwrap();
    assert_eq!(
        (op.purpose, op.step, op.stop_mode, op.trigger_id, op.attempts),
        (Purpose::Upgrade, Step::Savepointing, Some(StopMode::Savepoint), None, 1)
    );
    assert_eq!(
        cluster.coordinator.savepoint_requests(),
        [(
            "job-1".to_string(),
            json!({"stop": true, "target_directory": SAVEPOINT_DIR})
        )]
    );
    let trigger = cluster.coordinator.last_trigger();
    assert_eq!(after.operation.unwrap().trigger_id, trigger);
    assert_eq!(cluster.status().operation.unwrap().trigger_id, trigger);
    assert_eq!(pass.events(), ["Upgrading"]);

    let location = "s3://sp/orders/savepoint-7";
    let pass = savepoint_completes_and_pods_go(&cluster, location).await;
    let job = cluster.job();
    assert_eq!(pass.writes(), deploy_writes(&["orders-worker"]));
    assert_eq!(
        pass.requests.iter().find(|r| r.method == "DELETE").unwrap().status,
        200,
        "the old run's HA Lease is deleted"
    );
    assert_applied_exactly(&pass, &job, Some(location));
    let args = coordinator_args(pass.applied("Deployment"));
    assert_eq!(flag(&args, "--restore"), Some(location));
    let script = pass.applied("ConfigMap")["data"]["job.sql"].as_str().unwrap();
    assert!(script.contains("sum(qty)"), "{script}");
    let status = pass.status();
    assert_eq!(status.phase, Some(Phase::Upgrading));
    let op = status.operation.unwrap();
    assert_eq!((op.step, op.target_generation), (Step::AwaitingRunning, Some(2)));
    let savepoint = status.latest_savepoint.unwrap();
    assert_eq!(
        (savepoint.location.as_str(), savepoint.kind),
        (location, SnapshotKind::Upgrade)
    );
    assert_eq!(status.restore_point.unwrap().location, location);

    cluster.kubelet();
    cluster.coordinator_runs("job-2", "RUNNING");
    let status = cluster.reconcile_ok().await.status();
    assert_eq!(status.phase, Some(Phase::Running));
    assert_eq!(status.last_stable_spec, Some(spec_to_json(&job.spec)));
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(condition(&status, "Ready"), ("True", "JobRunning"));
}

#[tokio::test]
async fn a_rescale_redeploys_more_workers_from_the_savepoint() {
    let cluster = running(JobBuilder::orders().slots(3).savepoints().build()).await;
    assert_eq!(
        cluster.get("StatefulSet", "orders-worker").unwrap()["spec"]["replicas"],
        1
    );

    cluster.edit(|spec| spec.parallelism = 4);
    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.statuses()[0].operation.as_ref().map(|o| o.purpose),
        Some(Purpose::Upgrade)
    );
    assert_eq!(cluster.coordinator.savepoint_requests().len(), 1);

    let location = "s3://sp/orders/savepoint-9";
    let pass = savepoint_completes_and_pods_go(&cluster, location).await;
    assert_eq!(pass.writes(), deploy_writes(&["orders-worker"]));
    assert_applied_exactly(&pass, &cluster.job(), Some(location));
    assert_eq!(
        pass.applied("StatefulSet")["spec"]["replicas"],
        2,
        "ceil(4 / 3) workers"
    );
    let args = coordinator_args(pass.applied("Deployment"));
    assert_eq!(flag(&args, "--parallelism"), Some("4"));
    assert_eq!(flag(&args, "--restore"), Some(location));
    assert_eq!(pass.status().parallelism, Some(4));

    cluster.kubelet();
    assert_eq!(cluster.pods().len(), 3, "one coordinator and two workers");
    cluster.coordinator_runs("job-2", "RUNNING");
    let status = cluster.reconcile_ok().await.status();
    assert_eq!((status.phase, status.parallelism), (Some(Phase::Running), Some(4)));
}

#[tokio::test]
async fn suspend_stops_with_a_savepoint_and_resume_restores_from_it() {
    let cluster = running(JobBuilder::orders().savepoints().build()).await;

    cluster.edit(|spec| spec.state = freshet_operator::crd::DesiredState::Suspended);
    let pass = cluster.reconcile_ok().await;
    let recorded = pass.statuses().remove(0);
    assert_eq!(recorded.phase, Some(Phase::Suspending));
    let op = recorded.operation.unwrap();
    assert_eq!((op.purpose, op.step), (Purpose::Suspend, Step::Savepointing));
    assert_eq!(
        cluster.coordinator.savepoint_requests(),
        [(
            "job-1".to_string(),
            json!({"stop": true, "target_directory": SAVEPOINT_DIR})
        )]
    );

    // Savepoint, teardown; once the pods are gone the job is suspended and nothing is applied.
    let location = "s3://sp/orders/savepoint-3";
    let pass = savepoint_completes_and_pods_go(&cluster, location).await;
    assert_eq!(pass.writes(), ["PATCH streamjobs/orders/status"]);
    let status = pass.status();
    assert_eq!(status.phase, Some(Phase::Suspended));
    assert_eq!((status.operation.as_ref(), status.parallelism), (None, Some(0)));
    let restore = status.restore_point.clone().unwrap();
    assert_eq!(
        (restore.location.as_str(), restore.kind),
        (location, SnapshotKind::Suspend)
    );
    assert_eq!(condition(&status, "Ready"), ("False", "Suspended"));
    assert_eq!(pass.events(), ["Suspended"]);

    let pass = cluster.reconcile_ok().await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status"],
        "a suspended job stays down"
    );
    assert_eq!(pass.status().phase, Some(Phase::Suspended));

    // Resume: deployed again from the suspend savepoint.
    cluster.edit(|spec| spec.state = freshet_operator::crd::DesiredState::Running);
    let pass = cluster.reconcile_ok().await;
    assert_eq!(pass.writes(), deploy_writes(&["orders-worker"]));
    assert_applied_exactly(&pass, &cluster.job(), Some(location));
    assert_eq!(
        flag(&coordinator_args(pass.applied("Deployment")), "--restore"),
        Some(location)
    );
    let status = pass.status();
    assert_eq!(status.phase, Some(Phase::Deploying));
    assert_eq!(status.operation.unwrap().purpose, Purpose::Resume);

    cluster.kubelet();
    cluster.coordinator_runs("job-2", "RUNNING");
    assert_eq!(cluster.reconcile_ok().await.status().phase, Some(Phase::Running));
}

#[tokio::test]
async fn every_applied_pod_template_meets_the_restricted_pod_security_standard() {
    let overrides = serde_json::from_value(json!({
        "labels": {"team": "data", "app.kubernetes.io/component": "spoofed"},
        "env": [{"name": "RUST_LOG", "value": "info"}],
        "nodeSelector": {"pool": "streaming"},
    }))
    .unwrap();
    let job = JobBuilder::orders()
        .entrypoint(&["/opt/run.sh"])
        .coordinators(2)
        .savepoints()
        .pod_overrides(overrides)
        .build();
    let cluster = running(job).await;
    cluster.edit(|spec| spec.parallelism = 3);
    cluster.reconcile_ok().await;
    let pass = savepoint_completes_and_pods_go(&cluster, "s3://sp/orders/savepoint-2").await;
    assert_eq!(pass.writes(), deploy_writes(&["orders-worker", "orders-coordinator"]));

    let log = cluster.kube.state.lock().unwrap().log.clone();
    let templates: Vec<(String, PodSpec)> = log
        .iter()
        .filter(|r| {
            r.is_apply() && ["Deployment", "StatefulSet"].contains(&r.body["kind"].as_str().unwrap_or_default())
        })
        .map(|r| {
            (
                r.short(),
                serde_json::from_value(r.body["spec"]["template"]["spec"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(templates.len(), 4, "two deployments of a coordinator and workers");
    for (apply, pod) in &templates {
        assert_eq!(security::restricted_violations(pod), Vec::<String>::new(), "{apply}");
        let env = pod.containers[0].env.clone().unwrap_or_default();
        assert!(
            env.contains(&EnvVar {
                name: "RUST_LOG".into(),
                value: Some("info".into()),
                value_from: None
            }),
            "{apply}: the user's env is merged in"
        );
    }
    let worker = cluster.get("StatefulSet", "orders-worker").unwrap();
    assert_eq!(
        worker["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"], "worker",
        "operator labels win"
    );
    assert_eq!(cluster.job().metadata.name.as_deref(), Some(NAME));
}
#[tokio::test]
async fn deletion_takes_a_final_savepoint_then_releases_the_finalizer() {
    let cluster = running(JobBuilder::orders().savepoint_on_deletion().build()).await;
    cluster.delete_job();

    let pass = cluster.reconcile_ok().await;
    let recorded = pass.statuses().remove(0);
    assert_eq!(recorded.phase, Some(Phase::Deleting));
    let op = recorded.operation.unwrap();
    assert_eq!((op.purpose, op.step), (Purpose::Delete, Step::Savepointing));
    assert_eq!(
        cluster.coordinator.savepoint_requests(),
        [(
            "job-1".to_string(),
            json!({"stop": true, "target_directory": SAVEPOINT_DIR})
        )]
    );
    assert!(cluster.job_exists(), "the finalizer holds the StreamJob");

    let location = "s3://sp/orders/savepoint-final";
    let pass = savepoint_completes_and_pods_go(&cluster, location).await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status", "PATCH streamjobs/orders"]
    );
    let release = &pass.requests.last().unwrap();
    assert_eq!(release.body["metadata"]["finalizers"], json!([]));
    assert_eq!(release.status, 200, "{}", release.body);
    assert_eq!(pass.requeue(), Requeue::await_change());
    let savepoint = pass.status().latest_savepoint.unwrap();
    assert_eq!(
        (savepoint.location.as_str(), savepoint.kind),
        (location, SnapshotKind::Deletion)
    );
    assert!(
        !cluster.job_exists(),
        "the server removed the StreamJob with its last finalizer"
    );
}

#[tokio::test]
async fn deletion_without_a_final_savepoint_releases_the_finalizer_at_once() {
    let cluster = running(JobBuilder::orders().savepoints().build()).await;
    cluster.delete_job();

    let pass = cluster.reconcile().await;
    assert_eq!(
        pass.writes(),
        ["PATCH streamjobs/orders/status", "PATCH streamjobs/orders"]
    );
    assert_eq!(pass.status().phase, Some(Phase::Deleting));
    let release = pass.requests.last().unwrap();
    assert_eq!(release.body["metadata"]["finalizers"], json!([]));
    assert_eq!(release.status, 200, "{}", release.body);
    assert_eq!(pass.requeue(), Requeue::await_change());
    assert!(cluster.coordinator.savepoint_requests().is_empty());
    assert!(!cluster.job_exists());
}

#[tokio::test]
async fn savepoints_pruned_from_the_history_are_disposed_through_the_coordinator() {
    let cluster = running(JobBuilder::orders().savepoints().build()).await;
    cluster.edit(|spec| {
        if let Some(savepoints) = spec.savepoints.as_mut() {
            savepoints.history_max_count = Some(1);
        }
    });
    for (nonce, location) in [(1, "s3://sp/orders/manual-1"), (2, "s3://sp/orders/manual-2")] {
        cluster.edit(|spec| spec.savepoint_trigger_nonce = Some(nonce));
        cluster.reconcile_ok().await;
        cluster.coordinator.completes_savepoint(location);
        cluster.reconcile_ok().await;
    }
    // manual-1 left the history when manual-2 completed, and was disposed in the same pass:
    // status first, then the disposal, then the status without it.
    assert_eq!(cluster.coordinator.disposed(), ["s3://sp/orders/manual-1"]);
    let status = cluster.status();
    let history: Vec<&str> = status.savepoint_history.iter().map(|s| s.location.as_str()).collect();
    assert_eq!(history, ["s3://sp/orders/manual-2"]);
    assert!(
        status.savepoints_to_dispose.is_empty(),
        "{:?}",
        status.savepoints_to_dispose
    );
    // Nothing is disposed twice.
    cluster.reconcile_ok().await;
    assert_eq!(cluster.coordinator.disposed().len(), 1);
    assert!(
        cluster.coordinator.unexpected().is_empty(),
        "{:?}",
        cluster.coordinator.unexpected()
    );
}

/// Fetches `http://addr/path` (a small blocking HTTP/1.0 GET).
fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The `freshet-operator run` process, killed when dropped.
struct OperatorProcess(std::process::Child);

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 100 ms until it answers, for at most 60 s.
async fn eventually<T>(what: &str, cluster: &Cluster, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 60 s; unexpected requests: {:?}",
            cluster.kube.state.lock().unwrap().unexpected
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_binary_leads_watches_and_runs_a_streamjob_over_http() {
    let cluster = Cluster::with(JobBuilder::orders().savepoints().build()).await;
    let namespace = fake_api::fixtures::NAMESPACE;
    let api = fake_api::http::serve(cluster.kube.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{api}\n\
             users:\n- name: operator\n  user:\n    token: fake\ncontexts:\n- name: fake\n  context:\n    \
             cluster: fake\n    user: operator\n    namespace: {namespace}\ncurrent-context: fake\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_freshet-operator"))
        .args(["run", "--namespace", namespace, "--identity", "operator-0"])
        .args(["--metrics-addr", "127.0.0.1:0", "--log-level", "info"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("POD_NAMESPACE")
        .env_remove("POD_NAME")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("freshet-operator starts");
    // The log line announcing the metrics address (port 0 picked a free one).
    let stderr = child.stderr.take().expect("piped stderr");
    let (found, announced) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("metrics and health endpoints listening") {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|a| a.split_whitespace().next())
                    .map(str::to_string);
                let _ = found.send(addr);
            }
        }
    });
    let _operator = OperatorProcess(child);
    let metrics: std::net::SocketAddr = announced
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .and_then(|a| a.trim_matches(|c: char| !c.is_ascii_graphic()).parse().ok())
        .expect("the operator announces its metrics address");

    // It takes its Lease, watches the StreamJob, adds the finalizer, records the deployment
    // and applies the job's objects.
    eventually("the deployment", &cluster, || {
        let applied = cluster.get("Deployment", "orders-coordinator").is_some();
        (applied && cluster.status().phase == Some(Phase::Deploying)).then_some(())
    })
    .await;
    let lease = cluster.get("Lease", "freshet-operator").expect("the operator's Lease");
    assert_eq!(lease["spec"]["holderIdentity"], "operator-0");
    assert_eq!(cluster.job().metadata.finalizers, Some(vec![FINALIZER.to_string()]));

    // The pods start and the coordinator leads the job: the operator (woken by its requeue
    // and watches) reports it running.
    cluster.kubelet();
    cluster.coordinator_runs("job-1", "RUNNING");
    eventually("the job running", &cluster, || {
        (cluster.status().phase == Some(Phase::Running)).then_some(())
    })
    .await;
    let status = cluster.status();
    assert_eq!(condition(&status, "Ready"), ("True", "JobRunning"));
    // Settled: a pass with nothing new writes nothing new, so the watches stay quiet and
    // passes come only from the requeue (30 s when running), not in a loop.
    let before = cluster.kube.state.lock().unwrap().log.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = cluster.kube.state.lock().unwrap().log.clone();
    let writes: Vec<String> = log[before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| r.short())
        .collect();
    let status_writes = writes.iter().filter(|w| w.starts_with("PATCH streamjobs")).count();
    assert!(
        status_writes <= 2,
        "the controller keeps writing while nothing changes: {writes:?}"
    );

    // Its metrics say it leads and count the job in its phase; it is healthy and ready.
    let scraped = tokio::task::spawn_blocking(move || {
        (
            http_get(metrics, "/metrics"),
            http_get(metrics, "/healthz"),
            http_get(metrics, "/readyz"),
        )
    })
    .await
    .unwrap();
    let text = scraped.0.clone().expect("metrics answer");
    assert!(text.contains("freshet_operator_leader 1"), "{text}");
    assert!(text.contains("freshet_operator_jobs{phase=\"Running\"} 1"), "{text}");
    assert!(
        text.contains("freshet_operator_reconciles_total{result=\"ok\"}"),
        "{text}"
    );
    let ok = |r: &Option<String>| r.as_deref().is_some_and(|r| r.split(' ').nth(1) == Some("200"));
    assert!(ok(&scraped.1) && ok(&scraped.2), "{scraped:?}");
    assert_eq!(cluster.kube.state.lock().unwrap().unexpected, Vec::<String>::new());
}

//! The harness of the controller tests: a fake Kubernetes API ([`kube_api`]) and a fake
//! coordinator ([`coordinator`]) joined into a [`Cluster`] whose StreamJob is reconciled one
//! pass at a time, with the cluster's own behaviour (pods following workloads, the coordinator
//! taking the HA Lease) played by the test between passes.

pub mod coordinator;
pub mod fixtures;
pub mod http;
pub mod kube_api;
pub mod store;

use coordinator::FakeCoordinator;
use fixtures::{NAME, NAMESPACE};
use freshet_operator::context::Context;
use freshet_operator::controller::reconcile;
use freshet_operator::crd::{StreamJob, StreamJobSpec, StreamJobStatus};
use freshet_operator::metrics::OperatorMetrics;
use kube::runtime::controller::Action as Requeue;
use kube_api::{FakeKube, Recorded};
use serde_json::{json, Value};
use std::sync::Arc;
use store::Resource;

/// The fake API server, the fake coordinator and the controller's context.
pub struct Cluster {
    /// The fake API server.
    pub kube: FakeKube,
    /// The fake coordinator (the job's leader, once the HA Lease points at it).
    pub coordinator: FakeCoordinator,
    ctx: Arc<Context>,
}

/// What one reconcile pass did.
pub struct Pass {
    /// What `reconcile` returned (the error as text).
    pub result: Result<Requeue, String>,
    /// The API requests of this pass, in order.
    pub requests: Vec<Recorded>,
}

impl Cluster {
    /// A cluster holding `job` as created by a user.
    pub async fn with(job: StreamJob) -> Self {
        let kube = FakeKube::default();
        let ctx = Context::new(kube.client(), Arc::new(OperatorMetrics::new().unwrap()));
        let cluster = Self {
            kube,
            coordinator: FakeCoordinator::start().await,
            ctx: Arc::new(ctx),
        };
        cluster.put("StreamJob", serde_json::to_value(&job).unwrap());
        cluster
    }

    /// One reconcile pass over the StreamJob as stored. Fails the test if the fakes saw
    /// anything unexpected.
    pub async fn reconcile(&self) -> Pass {
        let job = Arc::new(self.job());
        let start = self.kube.state.lock().unwrap().log.len();
        let result = reconcile(job, self.ctx.clone()).await.map_err(|e| e.to_string());
        let state = self.kube.state.lock().unwrap();
        assert!(state.unexpected.is_empty(), "{:#?}", state.unexpected);
        assert!(
            self.coordinator.unexpected().is_empty(),
            "{:#?}",
            self.coordinator.unexpected()
        );
        Pass {
            result,
            requests: state.log[start..].to_vec(),
        }
    }

    /// One reconcile pass that must succeed.
    pub async fn reconcile_ok(&self) -> Pass {
        let pass = self.reconcile().await;
        assert!(pass.result.is_ok(), "reconcile failed: {:?}", pass.result);
        pass
    }

    /// The StreamJob as stored.
    pub fn job(&self) -> StreamJob {
        serde_json::from_value(self.get("StreamJob", NAME).expect("the StreamJob exists")).unwrap()
    }

    /// Whether the StreamJob is still stored.
    pub fn job_exists(&self) -> bool {
        self.get("StreamJob", NAME).is_some()
    }

    /// The StreamJob's status as stored.
    pub fn status(&self) -> StreamJobStatus {
        self.job().status.unwrap_or_default()
    }

    /// A user edits the spec (the server bumps the generation).
    pub fn edit(&self, change: impl FnOnce(&mut StreamJobSpec)) {
        let mut job = self.job();
        change(&mut job.spec);
        self.put("StreamJob", serde_json::to_value(&job).unwrap());
    }

    /// A user deletes the StreamJob: it has the finalizer, so the server only marks it.
    pub fn delete_job(&self) {
        let mut job = self.get("StreamJob", NAME).unwrap();
        job["metadata"]["deletionTimestamp"] = json!("2026-01-05T11:00:00Z");
        self.put("StreamJob", job);
    }

    /// The stored object of `kind` named `name`.
    pub fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let state = self.kube.state.lock().unwrap();
        state.store.get(Resource::of_kind(kind), NAMESPACE, name).cloned()
    }

    fn put(&self, kind: &str, object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let mut state = self.kube.state.lock().unwrap();
        state.store.put(Resource::of_kind(kind), NAMESPACE, &name, object);
    }

    /// The workload controllers and the kubelet: every Deployment and StatefulSet has its
    /// `replicas` pods (labelled from its template), and pods of deleted ones are gone. The
    /// coordinator stops answering once its Deployment is gone.
    pub fn kubelet(&self) {
        let mut state = self.kube.state.lock().unwrap();
        let store = &mut state.store;
        let pods = Resource::of_kind("Pod");
        let mut wanted = Vec::new();
        for kind in ["Deployment", "StatefulSet"] {
            for workload in store.list(Resource::of_kind(kind), NAMESPACE) {
                let name = workload["metadata"]["name"].as_str().unwrap().to_string();
                let labels = workload["spec"]["template"]["metadata"]["labels"].clone();
                for i in 0..workload["spec"]["replicas"].as_i64().unwrap_or(1) {
                    wanted.push((format!("{name}-{i}"), labels.clone()));
                }
            }
        }
        let existing: Vec<String> = store
            .list(pods, NAMESPACE)
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        for name in existing.iter().filter(|n| !wanted.iter().any(|(w, _)| w == *n)) {
            store.remove(pods, NAMESPACE, name);
        }
        for (name, labels) in wanted {
            if store.get(pods, NAMESPACE, &name).is_none() {
                let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": labels}});
                store.put(pods, NAMESPACE, &name, pod);
            }
        }
        let coordinator = store.get(
            Resource::of_kind("Deployment"),
            NAMESPACE,
            &format!("{NAME}-coordinator"),
        );
        if coordinator.is_none() {
            self.coordinator.stops();
        }
    }

    /// The job's pods, by name.
    pub fn pods(&self) -> Vec<String> {
        let state = self.kube.state.lock().unwrap();
        let pods = state.store.list(Resource::of_kind("Pod"), NAMESPACE);
        pods.iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// The coordinator starts, leads and runs job `job_id`: it writes the HA Lease `N-ha`
    /// (leader addresses pointing at the fake coordinator, the job id in the metadata) and
    /// reports `state`.
    pub fn coordinator_runs(&self, job_id: &str, state: &'static str) {
        let leader = json!({"rpc": "10.0.0.5:6123", "rest": self.coordinator.base});
        let metadata = json!({"jobId": job_id, "latestCheckpoint": null});
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": format!("{NAME}-ha"),
                "annotations": {
                    "freshet.dev/ha-metadata": metadata.to_string(),
                    "freshet.dev/leader-addresses": leader.to_string(),
                    "freshet.dev/lease-duration-ms": "15000",
                },
            },
            "spec": {
                "holderIdentity": format!("{NAME}-coordinator-0"),
                "leaseDurationSeconds": 15,
                "leaseTransitions": 0,
            },
        });
        self.put("Lease", lease);
        self.coordinator.runs(job_id, state);
    }
}

impl Pass {
    /// The pass succeeded; its requeue.
    pub fn requeue(&self) -> Requeue {
        self.result.clone().unwrap_or_else(|e| panic!("reconcile failed: {e}"))
    }

    /// The writes of this pass (events left out), as `METHOD plural/name[/sub]`.
    pub fn writes(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter(|r| r.method != "GET" && !r.path.contains("/events"))
            .map(Recorded::short)
            .collect()
    }

    /// The server-side applies of objects (not the status), in order.
    pub fn applies(&self) -> Vec<&Recorded> {
        self.requests
            .iter()
            .filter(|r| r.is_apply() && !r.path.ends_with("/status"))
            .collect()
    }

    /// The statuses written in this pass, in order.
    pub fn statuses(&self) -> Vec<StreamJobStatus> {
        self.requests
            .iter()
            .filter(|r| r.is_apply() && r.path.ends_with("/status"))
            .map(|r| serde_json::from_value(r.body["status"].clone()).unwrap())
            .collect()
    }

    /// The one status this pass wrote.
    pub fn status(&self) -> StreamJobStatus {
        let mut statuses = self.statuses();
        assert_eq!(statuses.len(), 1, "status writes: {:?}", self.writes());
        statuses.remove(0)
    }

    /// The reasons of the events this pass recorded.
    pub fn events(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .map(|r| r.body["reason"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The one applied object of `kind` (its body).
    pub fn applied(&self, kind: &str) -> &Value {
        let found: Vec<&Recorded> = self.applies().into_iter().filter(|r| r.body["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "applies of {kind}");
        &found[0].body
    }
}

//! Names of the objects the operator owns for a StreamJob `N`, and the paths and ports inside
//! its pods. The rest of the operator (observe, act, status) relies on these; they are the
//! shared contract and must not change without migrating running jobs.

/// The ConfigMap with the job script: `N-config`.
pub fn config_map(job: &str) -> String {
    format!("{job}-config")
}

/// The coordinator Deployment, its Service and its PodDisruptionBudget: `N-coordinator`.
pub fn coordinator(job: &str) -> String {
    format!("{job}-coordinator")
}

/// The worker StatefulSet, its headless Service and its PodDisruptionBudget: `N-worker`.
pub fn workers(job: &str) -> String {
    format!("{job}-worker")
}

/// The ServiceAccount the job's pods run as: `N-job`.
pub fn service_account(job: &str) -> String {
    format!("{job}-job")
}

/// The Role with the job's HA rights: `N-job` (same as the ServiceAccount).
pub fn role(job: &str) -> String {
    service_account(job)
}

/// The RoleBinding of [`role`] to [`service_account`]: `N-job`.
pub fn role_binding(job: &str) -> String {
    service_account(job)
}

/// The HA Lease, created by the coordinator itself: `N-ha`.
pub fn ha_lease(job: &str) -> String {
    format!("{job}-ha")
}

/// The label selector of the worker pods (`status.selector` for the scale subresource).
pub fn worker_selector(job: &str) -> String {
    format!(
        "{}={job},{}={}",
        super::labels::JOB,
        super::labels::COMPONENT,
        super::labels::Component::Worker.as_str()
    )
}

/// The coordinator's REST base URL inside the cluster: `http://N-coordinator.NS.svc:8081`.
pub fn coordinator_rest_url(job: &str, namespace: &str) -> String {
    format!("http://{}.{namespace}.svc:{}", coordinator(job), REST_PORT)
}

/// The key of the job script in the ConfigMap.
pub const JOB_SCRIPT_KEY: &str = "job.sql";
/// Where the ConfigMap is mounted in the coordinator.
pub const CONFIG_DIR: &str = "/etc/freshet";
/// The job script as the coordinator reads it.
pub const JOB_SCRIPT_PATH: &str = "/etc/freshet/job.sql";
/// The local working directory (an emptyDir) of every pod.
pub const LOCAL_DIR: &str = "/var/lib/freshet";
/// Temporary files (an emptyDir, the root filesystem is read-only).
pub const TMP_DIR: &str = "/tmp";

/// The coordinator's RPC port (workers connect to it).
pub const RPC_PORT: i32 = 6123;
/// The coordinator's REST port (the operator talks to it).
pub const REST_PORT: i32 = 8081;
/// The Prometheus metrics port of every pod.
pub const METRICS_PORT: i32 = 9249;
/// The worker's control and data-plane port.
pub const WORKER_PORT: i32 = 6124;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract() {
        let cases: [(&str, String); 8] = [
            ("orders-config", config_map("orders")),
            ("orders-coordinator", coordinator("orders")),
            ("orders-worker", workers("orders")),
            ("orders-job", service_account("orders")),
            ("orders-job", role("orders")),
            ("orders-job", role_binding("orders")),
            ("orders-ha", ha_lease("orders")),
            (
                "freshet.dev/job=orders,app.kubernetes.io/component=worker",
                worker_selector("orders"),
            ),
        ];
        for (want, got) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(
            coordinator_rest_url("orders", "data"),
            "http://orders-coordinator.data.svc:8081"
        );
    }
}

//! The worker StatefulSet `N-worker`: `ceil(parallelism / slots)` pods started in parallel
//! (they are interchangeable; the StatefulSet gives them stable names for `--worker-id`).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::ContainerPort;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::command::{self, ContainerCommand};
use super::labels::{self, Component};
use super::names;
use super::owner::JobMeta;
use super::pod;
use crate::crd::StreamJobSpec;

/// Workers needed for the spec: `ceil(parallelism / slots)`, at least 1 (values below 1, which
/// the schema refuses, count as 1).
pub fn worker_count(spec: &StreamJobSpec) -> i32 {
    let parallelism = i64::from(spec.parallelism.max(1));
    let slots = i64::from(spec.workers.slots.max(1));
    let count = (parallelism + slots - 1) / slots;
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The worker's command line.
pub fn worker_command(meta: &JobMeta, spec: &StreamJobSpec) -> ContainerCommand {
    let mut args: Vec<String> = vec![
        "worker".into(),
        "--slots".into(),
        spec.workers.slots.to_string(),
        "--addr".into(),
        format!("0.0.0.0:{}", names::WORKER_PORT),
        "--advertised-host".into(),
        "$(POD_IP)".into(),
        "--worker-id".into(),
        "$(POD_NAME)".into(),
        "--metrics-addr".into(),
        format!("0.0.0.0:{}", names::METRICS_PORT),
    ];
    args.extend(command::ha_flags(meta));
    args.extend(["--local-dir".into(), names::LOCAL_DIR.into()]);
    ContainerCommand {
        command: vec!["freshet".into()],
        args,
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// The StatefulSet `N-worker` with [`worker_count`] pods.
pub fn workers(meta: &JobMeta, spec: &StreamJobSpec, spec_hash: &str) -> StatefulSet {
    let overrides = spec.workers.pod_template.as_ref();
    let command = worker_command(meta, spec);
    let mut main = pod::container("worker", spec, spec.workers.resources.as_ref(), overrides);
    main.command = Some(command.command);
    main.args = Some(command.args);
    main.ports = Some(vec![
        container_port("data", names::WORKER_PORT),
        container_port("metrics", names::METRICS_PORT),
    ]);
    StatefulSet {
        metadata: meta.object_meta(names::workers(&meta.name), Component::Worker),
        spec: Some(StatefulSetSpec {
            replicas: Some(worker_count(spec)),
            service_name: Some(names::workers(&meta.name)),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(labels::selector(&meta.name, Component::Worker)),
                match_expressions: None,
            },
            template: pod::pod_template(meta, Component::Worker, main, vec![], overrides, spec_hash),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn worker_count_rounds_up() {
        let cases = [
            (1, 1, 1),
            (4, 1, 4),
            (4, 2, 2),
            (5, 2, 3),
            (3, 4, 1),
            (8, 3, 3),
            (32768, 256, 128),
            (0, 1, 1),
            (4, 0, 4),
        ];
        for (parallelism, slots, want) in cases {
            let mut spec = fixtures::sql_spec();
            spec.parallelism = parallelism;
            spec.workers.slots = slots;
            assert_eq!(worker_count(&spec), want, "parallelism {parallelism}, slots {slots}");
        }
    }

    #[test]
    fn worker_command_line() {
        let mut spec = fixtures::entrypoint_spec();
        spec.workers.slots = 2;
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let c = worker_command(&meta, &spec);
        assert_eq!(c.command, ["freshet"]);
        assert_eq!(
            c.args.join(" "),
            "worker --slots 2 --addr 0.0.0.0:6124 --advertised-host $(POD_IP) --worker-id $(POD_NAME) \
             --metrics-addr 0.0.0.0:9249 --ha kubernetes --ha-lease-name orders-ha --ha-namespace data \
             --local-dir /var/lib/freshet"
        );
    }

    #[test]
    fn stateful_set_shape() {
        let mut spec = fixtures::sql_spec();
        spec.parallelism = 5;
        spec.workers.slots = 2;
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let set = workers(&meta, &spec, "h");
        assert_eq!(set.metadata.name.as_deref(), Some("orders-worker"));
        let s = set.spec.unwrap();
        assert_eq!(s.replicas, Some(3));
        assert_eq!(s.service_name.as_deref(), Some("orders-worker"));
        assert_eq!(s.pod_management_policy.as_deref(), Some("Parallel"));
        assert_eq!(
            s.selector.match_labels,
            Some(labels::selector("orders", Component::Worker))
        );
        let pod = s.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("ghcr.io/freshet/freshet:0.9"));
        assert!(c.liveness_probe.is_none());
        let volumes: Vec<String> = pod.volumes.unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(volumes, ["local", "tmp"]);
    }
}

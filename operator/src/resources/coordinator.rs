//! The coordinator Deployment `N-coordinator`: its container's command line (from the spec,
//! the namespace and the restore location) and the pods around it.
//!
//! The strategy is `Recreate`: the operator stops a job before it deploys a new spec, and two
//! generations of coordinators must never compete for the job (a standby is never ready, so a
//! rolling update would wait for it forever).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, HTTPGetAction, Probe, TCPSocketAction, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::command::{self, ContainerCommand};
use super::error::ResourceError;
use super::labels::{self, Component};
use super::names;
use super::owner::JobMeta;
use super::pod;
use crate::crd::{duration, StreamJobSpec};

/// The coordinator's command line. SQL jobs run `freshet coordinator --job /etc/freshet/job.sql`
/// and the flags; with `spec.job.entrypoint` the command is the entrypoint and the args are
/// `spec.job.args` then the flags (the entrypoint execs `freshet coordinator --job ... "$@"`).
///
/// `--allow-non-restored-state` is passed only with `--restore` (it means nothing without).
pub fn coordinator_command(
    meta: &JobMeta,
    spec: &StreamJobSpec,
    restore_from: Option<&str>,
) -> Result<ContainerCommand, ResourceError> {
    let addr = |port: i32| format!("0.0.0.0:{port}");
    let mut flags: Vec<String> = vec![
        "--parallelism".into(),
        spec.parallelism.to_string(),
        "--rpc-addr".into(),
        addr(names::RPC_PORT),
        "--rest-addr".into(),
        addr(names::REST_PORT),
        "--metrics-addr".into(),
        addr(names::METRICS_PORT),
        "--advertised-host".into(),
        "$(POD_IP)".into(),
        "--identity".into(),
        "$(POD_NAME)".into(),
    ];
    flags.extend(command::ha_flags(meta));
    flags.push("--linger-after-end".into());
    flags.extend(["--local-dir".into(), names::LOCAL_DIR.into()]);
    if let Some(checkpointing) = &spec.checkpointing {
        let interval = duration::parse(&checkpointing.interval).ok_or_else(|| ResourceError::InvalidDuration {
            field: "spec.checkpointing.interval",
            value: checkpointing.interval.clone(),
        })?;
        // In milliseconds: `freshet` does not read compound units such as `1h30m` or days.
        flags.extend([
            "--checkpoint-dir".into(),
            checkpointing.storage.clone(),
            "--checkpoint-interval".into(),
            format!("{}ms", interval.as_millis()),
        ]);
    } else {
        // No checkpointing: the default `./checkpoints` is on the read-only root file system;
        // point it at the pod's writable local directory.
        flags.extend([
            "--checkpoint-dir".into(),
            format!("file://{}/checkpoints", names::LOCAL_DIR),
        ]);
    }
    if let Some(dir) = spec.savepoints.as_ref().and_then(|s| s.directory.clone()) {
        flags.extend(["--savepoint-dir".into(), dir]);
    }
    if let Some(location) = restore_from {
        flags.extend(["--restore".into(), location.into()]);
        if spec.allow_non_restored_state {
            flags.push("--allow-non-restored-state".into());
        }
    }
    Ok(match &spec.job.entrypoint {
        Some(entrypoint) => ContainerCommand {
            command: entrypoint.clone(),
            args: spec.job.args.iter().flatten().cloned().chain(flags).collect(),
        },
        None => ContainerCommand {
            command: vec!["freshet".into()],
            args: ["coordinator", "--job", names::JOB_SCRIPT_PATH]
                .into_iter()
                .map(String::from)
                .chain(flags)
                .collect(),
        },
    })
}

fn http_probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(names::REST_PORT),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
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

/// The coordinator Deployment `N-coordinator` with `spec.coordinator.replicas` pods.
pub fn coordinator(
    meta: &JobMeta,
    spec: &StreamJobSpec,
    restore_from: Option<&str>,
    spec_hash: &str,
) -> Result<Deployment, ResourceError> {
    let overrides = spec.coordinator.pod_template.as_ref();
    let command = coordinator_command(meta, spec, restore_from)?;
    let mut main: Container = pod::container("coordinator", spec, spec.coordinator.resources.as_ref(), overrides);
    main.command = Some(command.command);
    main.args = Some(command.args);
    main.ports = Some(vec![
        container_port("rpc", names::RPC_PORT),
        container_port("rest", names::REST_PORT),
        container_port("metrics", names::METRICS_PORT),
    ]);
    // Liveness by TCP: a standby coordinator binds the REST port at start but serves HTTP only
    // once it leads, so an HTTP liveness probe would restart every standby.
    main.liveness_probe = Some(Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(names::REST_PORT),
            host: None,
        }),
        period_seconds: Some(10),
        failure_threshold: Some(3),
        ..Probe::default()
    });
    main.readiness_probe = Some(http_probe("/readyz"));
    main.volume_mounts
        .get_or_insert_with(Vec::new)
        .push(pod::mount("config", names::CONFIG_DIR, true));
    let config = Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: names::config_map(&meta.name),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let template = pod::pod_template(meta, Component::Coordinator, main, vec![config], overrides, spec_hash);
    Ok(Deployment {
        metadata: meta.object_meta(names::coordinator(&meta.name), Component::Coordinator),
        spec: Some(DeploymentSpec {
            replicas: Some(spec.coordinator.replicas),
            selector: LabelSelector {
                match_labels: Some(labels::selector(&meta.name, Component::Coordinator)),
                match_expressions: None,
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::SavepointSpec;
    use crate::resources::fixtures;

    const BASE: &str = "--parallelism 4 --rpc-addr 0.0.0.0:6123 --rest-addr 0.0.0.0:8081 \
        --metrics-addr 0.0.0.0:9249 --advertised-host $(POD_IP) --identity $(POD_NAME) \
        --ha kubernetes --ha-lease-name orders-ha --ha-namespace data --linger-after-end \
        --local-dir /var/lib/freshet";

    fn command(spec: &StreamJobSpec, restore: Option<&str>) -> (String, String) {
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let c = coordinator_command(&meta, spec, restore).unwrap();
        (c.command.join(" "), c.args.join(" "))
    }

    #[test]
    fn command_lines() {
        let mut full = fixtures::checkpointed_spec("1h30m");
        full.savepoints = Some(SavepointSpec {
            directory: Some("s3://sp/orders".into()),
            ..SavepointSpec::default()
        });
        full.allow_non_restored_state = true;
        let mut no_allow = full.clone();
        no_allow.allow_non_restored_state = false;
        let ckpt = "--checkpoint-dir s3://ckpt/orders --checkpoint-interval 5400000ms";
        let sp = "--savepoint-dir s3://sp/orders";
        let job = "coordinator --job /etc/freshet/job.sql";
        let local = "--checkpoint-dir file:///var/lib/freshet/checkpoints";
        let cases: Vec<(&str, StreamJobSpec, Option<&str>, &str, String)> = vec![
            (
                "sql",
                fixtures::sql_spec(),
                None,
                "freshet",
                format!("{job} {BASE} {local}"),
            ),
            (
                "restore without allow",
                no_allow,
                Some("s3://sp/orders/sp-7"),
                "freshet",
                format!("{job} {BASE} {ckpt} {sp} --restore s3://sp/orders/sp-7"),
            ),
            (
                "allow without restore",
                full.clone(),
                None,
                "freshet",
                format!("{job} {BASE} {ckpt} {sp}"),
            ),
            (
                "restore and allow",
                full,
                Some("latest"),
                "freshet",
                format!("{job} {BASE} {ckpt} {sp} --restore latest --allow-non-restored-state"),
            ),
            (
                "entrypoint",
                fixtures::entrypoint_spec(),
                Some("s3://x"),
                "/opt/run.sh",
                format!("--verbose {BASE} {local} --restore s3://x"),
            ),
        ];
        for (what, spec, restore, want_command, want_args) in cases {
            let (got_command, got_args) = command(&spec, restore);
            assert_eq!(got_command, want_command, "{what}");
            assert_eq!(got_args, want_args, "{what}");
        }
    }

    #[test]
    fn bad_interval_names_the_field() {
        let spec = fixtures::checkpointed_spec("99999999999999999999d");
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let err = coordinator_command(&meta, &spec, None).unwrap_err();
        assert_eq!(err.field(), "spec.checkpointing.interval");
    }

    #[test]
    fn deployment_shape() {
        let mut spec = fixtures::sql_spec();
        spec.coordinator.replicas = 2;
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let d = coordinator(&meta, &spec, None, "hash1").unwrap();
        assert_eq!(d.metadata.name.as_deref(), Some("orders-coordinator"));
        let s = d.spec.unwrap();
        assert_eq!(s.replicas, Some(2));
        assert_eq!(s.strategy.unwrap().type_.as_deref(), Some("Recreate"));
        assert_eq!(
            s.selector.match_labels,
            Some(labels::selector("orders", Component::Coordinator))
        );
        let pod = s.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("ghcr.io/freshet/freshet:0.9"));
        let probe_path = |p: &Option<Probe>| p.as_ref().unwrap().http_get.as_ref().unwrap().path.clone().unwrap();
        let liveness = c
            .liveness_probe
            .as_ref()
            .and_then(|p| p.tcp_socket.as_ref())
            .map(|t| t.port.clone());
        assert_eq!(liveness, Some(IntOrString::Int(names::REST_PORT)));
        assert_eq!(probe_path(&c.readiness_probe), "/readyz");
        let mounts: Vec<(&str, &str)> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("local", "/var/lib/freshet"),
                ("tmp", "/tmp"),
                ("config", "/etc/freshet")
            ]
        );
        let config = pod.volumes.unwrap().into_iter().find(|v| v.name == "config").unwrap();
        assert_eq!(config.config_map.unwrap().name, "orders-config");
    }
}

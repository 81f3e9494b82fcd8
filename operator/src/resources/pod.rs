//! What the coordinator's and the workers' pods share: the main container's image, env
//! (downward API, credentials, user additions), the local volumes, the security contexts (from
//! [`super::security`]), and the merge of `spec.*.podTemplate` (operator labels, env and the
//! spec-hash annotation win over the user's).

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, ResourceRequirements, SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

use super::labels::{self, Component};
use super::names;
use super::owner::JobMeta;
use super::security;
use crate::crd::{PodOverrides, StreamJobSpec};

/// The environment variables set from the downward API, by name and field path.
const DOWNWARD: [(&str, &str); 3] = [
    ("POD_NAME", "metadata.name"),
    ("POD_NAMESPACE", "metadata.namespace"),
    ("POD_IP", "status.podIP"),
];

fn env(overrides: Option<&PodOverrides>) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = DOWNWARD
        .iter()
        .map(|(name, path)| EnvVar {
            name: name.to_string(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: path.to_string(),
                    api_version: None,
                }),
                ..EnvVarSource::default()
            }),
            value: None,
        })
        .collect();
    // Names are unique (server-side apply refuses duplicates): the operator's win, and of the
    // user's the last one, as the kubelet would take it.
    for var in overrides.map(|o| o.env.as_slice()).unwrap_or_default() {
        if DOWNWARD.iter().any(|(name, _)| *name == var.name) {
            continue;
        }
        match env.iter_mut().find(|e| e.name == var.name) {
            Some(existing) => *existing = var.clone(),
            None => env.push(var.clone()),
        }
    }
    env
}

fn env_from(spec: &StreamJobSpec, overrides: Option<&PodOverrides>) -> Option<Vec<EnvFromSource>> {
    let secret = spec.checkpointing.as_ref().and_then(|c| c.credentials_secret.clone());
    let mut sources: Vec<EnvFromSource> = secret
        .map(|name| EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name,
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        })
        .into_iter()
        .collect();
    sources.extend(overrides.map(|o| o.env_from.clone()).unwrap_or_default());
    (!sources.is_empty()).then_some(sources)
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// A volume mount of `volume` at `path`.
pub fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The main container `name` without command, ports or probes: image, pull policy, env,
/// resources, security context and the local volumes' mounts.
pub fn container(
    name: &str,
    spec: &StreamJobSpec,
    resources: Option<&ResourceRequirements>,
    overrides: Option<&PodOverrides>,
) -> Container {
    Container {
        name: name.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().to_string()),
        env: Some(env(overrides)),
        env_from: env_from(spec, overrides),
        resources: resources.cloned(),
        security_context: Some(security::container_security_context()),
        volume_mounts: Some(vec![
            mount("local", names::LOCAL_DIR, false),
            mount("tmp", names::TMP_DIR, false),
        ]),
        ..Container::default()
    }
}

/// The pod template of `component`: `container` (plus `volumes` beside the local ones) with the
/// operator's labels, the spec hash, the job's ServiceAccount and `overrides` merged in.
pub fn pod_template(
    meta: &JobMeta,
    component: Component,
    container: Container,
    volumes: Vec<Volume>,
    overrides: Option<&PodOverrides>,
    spec_hash: &str,
) -> PodTemplateSpec {
    let user = overrides.cloned().unwrap_or_default();
    let mut pod_labels = user.labels;
    pod_labels.extend(labels::labels(&meta.name, component));
    let mut annotations = user.annotations;
    annotations.insert(labels::SPEC_HASH.into(), spec_hash.into());
    let mut all_volumes = vec![empty_dir("local"), empty_dir("tmp")];
    all_volumes.extend(volumes);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(names::service_account(&meta.name)),
            security_context: Some(security::pod_security_context()),
            containers: vec![container],
            volumes: Some(all_volumes),
            node_selector: non_empty(user.node_selector),
            tolerations: (!user.tolerations.is_empty()).then_some(user.tolerations),
            affinity: user.affinity,
            priority_class_name: user.priority_class_name,
            ..PodSpec::default()
        }),
    }
}

fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;
    use k8s_openapi::api::core::v1::{ConfigMapEnvSource, Toleration};

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn overrides() -> PodOverrides {
        PodOverrides {
            labels: BTreeMap::from([
                ("team".into(), "data".into()),
                ("app.kubernetes.io/component".into(), "hijack".into()),
                ("freshet.dev/job".into(), "other".into()),
            ]),
            annotations: BTreeMap::from([
                ("prometheus.io/scrape".into(), "true".into()),
                ("freshet.dev/spec-hash".into(), "forged".into()),
            ]),
            node_selector: BTreeMap::from([("pool".into(), "stream".into())]),
            tolerations: vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Toleration::default()
            }],
            affinity: None,
            priority_class_name: Some("high".into()),
            env: vec![
                var("RUST_LOG", "debug"),
                var("POD_IP", "1.2.3.4"),
                var("RUST_LOG", "info"),
            ],
            env_from: vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "extra".into(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            }],
        }
    }

    #[test]
    fn overrides_merge_and_operator_labels_win() {
        let spec = fixtures::checkpointed_spec("10s");
        let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
        let user = overrides();
        let c = container("worker", &spec, None, Some(&user));
        let template = pod_template(&meta, Component::Worker, c, vec![], Some(&user), "abc");

        let metadata = template.metadata.unwrap();
        let pod_labels = metadata.labels.unwrap();
        assert_eq!(pod_labels["team"], "data");
        assert_eq!(pod_labels["app.kubernetes.io/component"], "worker");
        assert_eq!(pod_labels["freshet.dev/job"], "orders");
        let annotations = metadata.annotations.unwrap();
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["freshet.dev/spec-hash"], "abc");

        let pod = template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["pool"], "stream");
        assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("dedicated"));
        assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
        assert_eq!(pod.service_account_name.as_deref(), Some("orders-job"));

        let main = &pod.containers[0];
        let env: Vec<(&str, Option<&str>, Option<&str>)> = main
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| {
                let path = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.field_ref.as_ref())
                    .map(|f| f.field_path.as_str());
                (e.name.as_str(), e.value.as_deref(), path)
            })
            .collect();
        assert_eq!(
            env,
            [
                ("POD_NAME", None, Some("metadata.name")),
                ("POD_NAMESPACE", None, Some("metadata.namespace")),
                ("POD_IP", None, Some("status.podIP")),
                ("RUST_LOG", Some("info"), None),
            ]
        );
        let env_from = serde_json::to_value(main.env_from.as_ref().unwrap()).unwrap();
        assert_eq!(
            env_from,
            serde_json::json!([
                {"secretRef": {"name": "s3-creds", "optional": false}},
                {"configMapRef": {"name": "extra"}},
            ])
        );
    }

    #[test]
    fn without_overrides_only_the_operator_speaks() {
        let spec = fixtures::sql_spec();
        let meta = JobMeta::of(&fixtures::sql_job()).unwrap();
        let c = container("coordinator", &spec, None, None);
        assert_eq!(c.env_from, None);
        assert_eq!(c.image_pull_policy, None);
        let template = pod_template(&meta, Component::Coordinator, c, vec![], None, "h");
        let metadata = template.metadata.unwrap();
        assert_eq!(metadata.labels, Some(labels::labels("orders", Component::Coordinator)));
        assert_eq!(
            metadata.annotations,
            Some(BTreeMap::from([("freshet.dev/spec-hash".to_string(), "h".to_string())]))
        );
        let pod = template.spec.unwrap();
        assert_eq!((pod.node_selector, pod.tolerations, pod.affinity), (None, None, None));
        let volumes: Vec<String> = pod.volumes.unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(volumes, ["local", "tmp"]);
        let sc = pod.security_context.unwrap();
        assert_eq!(
            (sc.run_as_user, sc.run_as_group, sc.fs_group),
            (Some(10001), Some(10001), Some(10001))
        );
    }
}

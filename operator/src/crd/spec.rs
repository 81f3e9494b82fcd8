//! `StreamJob.spec`: what the user asks for. The controller never writes it.
//!
//! Every field that can be checked without context is checked by the API server through the
//! schema (types, enums, ranges, patterns); cross-field checks are CEL rules
//! (`x-kubernetes-validations`), declared here beside the fields they read. What neither can
//! express (for example that a duration parses) is checked by [`crate::validate`].

use k8s_openapi::api::core::v1::{Affinity, EnvFromSource, EnvVar, ResourceRequirements, Toleration};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::status::StreamJobStatus;

/// A duration such as `500ms`, `30s`, `5m`, `1h` or `1h30m`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h|d))+$";
/// A URL with a scheme, such as `s3://bucket/path` or `file:///data/savepoints`.
pub const URL_PATTERN: &str = r"^[a-z][a-z0-9+.-]*://.+$";

/// A streaming job run by Freshet: a coordinator (one, or more for high availability) and
/// workers, deployed, upgraded, rescaled, suspended and recovered by the operator.
// kube's `printcolumn(...)` attributes repeat `type_ = "string"` by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "freshet.dev",
    version = "v1alpha1",
    kind = "StreamJob",
    plural = "streamjobs",
    shortname = "sj",
    category = "freshet",
    namespaced,
    status = "StreamJobStatus",
    scale(
        spec_replicas_path = ".spec.parallelism",
        status_replicas_path = ".status.parallelism",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Job State",
        type_ = "string",
        json_path = ".status.job.state",
        description = "State reported by the coordinator"
    ),
    printcolumn(
        name = "Parallelism",
        type_ = "integer",
        json_path = ".spec.parallelism",
        description = "Desired parallelism"
    ),
    printcolumn(
        name = "Last Savepoint",
        type_ = "string",
        json_path = ".status.latestSavepoint.location",
        description = "Latest completed savepoint"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A streaming job run by Freshet"
)]
#[x_kube(
    cel,
    validation = Rule::new("self.upgradeMode != 'savepoint' || has(self.checkpointing) || (has(self.savepoints) && has(self.savepoints.directory))").message("upgradeMode savepoint needs spec.savepoints.directory (or spec.checkpointing, whose storage keeps savepoints by default); set upgradeMode: stateless for a job without state").field_path(".savepoints.directory"),
    validation = Rule::new("self.upgradeMode != 'last-state' || has(self.checkpointing)").message("upgradeMode last-state needs spec.checkpointing").field_path(".checkpointing"),
    validation = Rule::new("!has(self.maxParallelism) || self.parallelism <= self.maxParallelism").message("spec.parallelism must not exceed spec.maxParallelism").field_path(".parallelism"),
    validation = Rule::new("!has(self.savepoints) || !has(self.savepoints.periodicInterval) || has(self.savepoints.directory)").message("periodic savepoints need spec.savepoints.directory").field_path(".savepoints.directory"),
    validation = Rule::new("!has(self.savepoints) || !has(self.savepoints.onDeletion) || !self.savepoints.onDeletion || has(self.savepoints.directory)").message("a savepoint on deletion needs spec.savepoints.directory").field_path(".savepoints.directory"),
    validation = Rule::new("!has(self.rollback) || !self.rollback.enabled || self.upgradeMode != 'stateless'").message("rollback restores the last stable spec from a savepoint or checkpoint; it needs upgradeMode savepoint or last-state").field_path(".rollback.enabled")
)]
#[serde(rename_all = "camelCase")]
pub struct StreamJobSpec {
    /// Container image with the `freshet` binary (or a custom image, see `job.entrypoint`).
    #[schemars(length(min = 1))]
    pub image: String,
    /// When the kubelet pulls the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// What the job runs.
    pub job: JobSource,
    /// Parallel subtasks per operator. Changing it rescales the job (state is redistributed
    /// by key groups).
    #[schemars(range(min = 1, max = 32768))]
    pub parallelism: i32,
    /// Number of key groups: the upper bound of parallelism for keyed state, fixed for the
    /// life of the job's state (default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 32768))]
    pub max_parallelism: Option<i32>,
    /// The coordinator (job manager).
    #[serde(default)]
    pub coordinator: CoordinatorSpec,
    /// The workers (task managers).
    #[serde(default)]
    pub workers: WorkerSpec,
    /// Periodic checkpoints: what recovery and `last-state` upgrades restore from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpointing: Option<CheckpointingSpec>,
    /// Savepoints: where they go, periodic ones and their history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoints: Option<SavepointSpec>,
    /// How a change of the spec reaches the running job.
    #[serde(default)]
    pub upgrade_mode: UpgradeMode,
    /// Whether the job should run or be suspended (stopped with a savepoint).
    #[serde(default)]
    pub state: DesiredState,
    /// Savepoint (or retained checkpoint) URL the first deployment starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9+.-]*://.+$"))]
    pub initial_savepoint_path: Option<String>,
    /// Let a restore skip state of operators the job no longer has.
    #[serde(default)]
    pub allow_non_restored_state: bool,
    /// Change this value to take a savepoint now (without stopping the job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_trigger_nonce: Option<i64>,
    /// Change this value to restart the job (per `upgradeMode`, like an upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_nonce: Option<i64>,
    /// What the operator does when the job fails beyond the coordinator's own restarts.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Rolling back an upgrade that does not become healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackSpec>,
    /// Free-form runtime configuration, written as `SET 'key' = 'value';` before the job's SQL
    /// (for example `state.backend.type: rocksdb`, `table.exec.source.idle-timeout: 10s`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// The kubelet's image pull policy.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull only if the node does not have the image.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The job: SQL run by the stock image, or a custom image's own entrypoint.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(
    cel,
    validation = Rule::new("has(self.sql) != has(self.entrypoint)").message("set exactly one of job.sql and job.entrypoint"),
    validation = Rule::new("!has(self.args) || has(self.entrypoint)").message("job.args needs job.entrypoint")
)]
#[serde(rename_all = "camelCase")]
pub struct JobSource {
    /// The job as a SQL script (`CREATE TABLE ...; INSERT INTO ...`), run by
    /// `freshet coordinator --job`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub sql: Option<String>,
    /// The coordinator container's command in a custom image (for example a wrapper that runs
    /// `freshet coordinator --job /opt/job.sql "$@"`); the operator appends its own flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub entrypoint: Option<Vec<String>>,
    /// Arguments placed after `entrypoint`, before the operator's flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// The coordinator's pods.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CoordinatorSpec {
    /// 1, or 2 and more for high availability (a standby takes over within the lease duration).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 5))]
    pub replicas: i32,
    /// CPU and memory of the coordinator container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Additions to the coordinator's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<PodOverrides>,
}

impl Default for CoordinatorSpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            resources: None,
            pod_template: None,
        }
    }
}

/// The workers' pods.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    /// Task slots per worker; the operator runs `ceil(parallelism / slots)` workers.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 256))]
    pub slots: i32,
    /// CPU and memory of a worker container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Additions to the workers' pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<PodOverrides>,
}

impl Default for WorkerSpec {
    fn default() -> Self {
        Self {
            slots: 1,
            resources: None,
            pod_template: None,
        }
    }
}

fn one() -> i32 {
    1
}

/// What a pod template may add to the pods the operator builds. A curated subset of
/// `PodTemplateSpec`, so that every field is validated by the API server and the CRD stays
/// small; the security context is the operator's (restricted Pod Security Standard).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Extra pod labels (the operator's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Node selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Extra environment variables of the main container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Extra environment sources (ConfigMaps, Secrets) of the main container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
}

/// Periodic checkpoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointingSpec {
    /// Interval between checkpoints, e.g. `10s`.
    #[serde(default = "default_checkpoint_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub interval: String,
    /// Checkpoint storage URL (`s3://bucket/path`, `gs://...`, `az://...`, `file:///...` on a
    /// shared volume).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9+.-]*://.+$"))]
    pub storage: String,
    /// A Secret whose keys become environment variables of every pod (for example
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    /// Completed checkpoints kept in storage (older ones are deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub retained: Option<i32>,
}

fn default_checkpoint_interval() -> String {
    "10s".into()
}

/// Savepoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SavepointSpec {
    /// Where savepoints go (a URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9+.-]*://.+$"))]
    pub directory: Option<String>,
    /// Take a savepoint this often while the job runs, e.g. `6h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub periodic_interval: Option<String>,
    /// Savepoints kept in the history (the newest is always kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub history_max_count: Option<i32>,
    /// Savepoints older than this leave the history (the newest is always kept), e.g. `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub history_max_age: Option<String>,
    /// How long a savepoint may take before it counts as failed (default `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub timeout: Option<String>,
    /// Attempts of a savepoint before the operation gives up on it (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: Option<i32>,
    /// Take a final savepoint when the StreamJob is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deletion: Option<bool>,
}

/// How a spec change reaches the running job.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMode {
    /// Stop and start again without state.
    Stateless,
    /// Stop with a savepoint and start from it (the default). Falls back to the latest
    /// checkpoint only when the job is unhealthy and a checkpoint exists; never to empty state.
    #[default]
    Savepoint,
    /// Stop and start from the latest completed checkpoint.
    LastState,
}

impl UpgradeMode {
    /// The spelling in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeMode::Stateless => "stateless",
            UpgradeMode::Savepoint => "savepoint",
            UpgradeMode::LastState => "last-state",
        }
    }
}

/// The desired state of the job.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DesiredState {
    /// Deployed and running.
    #[default]
    Running,
    /// Stopped with a savepoint, pods removed; resuming starts from that savepoint.
    Suspended,
}

/// What the operator does when the job fails (after the coordinator's own restarts).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestartPolicy {
    /// Redeployments from the latest checkpoint before the job stays `Failed` (0: never).
    #[serde(default = "default_max_restarts")]
    #[schemars(range(min = 0, max = 1000))]
    pub max_restarts: i32,
    /// Delay before the first redeployment; it doubles with each further one.
    #[serde(default = "default_backoff")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub backoff: String,
    /// Upper bound of the delay.
    #[serde(default = "default_max_backoff")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub max_backoff: String,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: default_max_restarts(),
            backoff: default_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

fn default_max_restarts() -> i32 {
    3
}
fn default_backoff() -> String {
    "10s".into()
}
fn default_max_backoff() -> String {
    "5m".into()
}

/// Rolling back an upgrade that does not become healthy in time.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RollbackSpec {
    /// Roll back to the last stable spec when an upgrade is not running by the deadline.
    #[serde(default)]
    pub enabled: bool,
    /// How long an upgraded job has to reach RUNNING, e.g. `5m`.
    #[serde(default = "default_readiness_deadline")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub readiness_deadline: String,
}

fn default_readiness_deadline() -> String {
    "5m".into()
}

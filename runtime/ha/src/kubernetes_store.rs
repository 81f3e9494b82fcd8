//! The Kubernetes store: the HA record is one `coordination.k8s.io/v1` Lease (see
//! [`crate::lease_mapping`] for the fields and annotations). Reads are `GET`; the first write is
//! `POST` (409 AlreadyExists if a contender created it first); every later write is a `PUT` of
//! the Lease carrying the `resourceVersion` last read, so a 409 Conflict means someone else wrote
//! in between. Both become [`HaError::Conflict`], which the shared protocol turns into a re-read
//! and, if the lease changed hands, [`HaError::Fenced`].

use crate::error::{HaError, Result};
use crate::lease_mapping::{lease_to_record, record_to_lease};
use crate::record::{HaRecord, StoreVersion, VersionedRecord};
use crate::record_store::RecordStore;
use crate::timing::LeaseTiming;
use freshet_core::Clock;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The conventional Lease name for a job's coordinators.
pub fn lease_name_for_job(job_name: &str) -> String {
    format!("{job_name}-ha")
}

/// The HA record kept in a Kubernetes Lease.
#[derive(Clone)]
pub struct KubernetesStore {
    api: Api<Lease>,
    name: String,
    timing: LeaseTiming,
    clock: Arc<dyn Clock>,
    /// Metadata for a Lease this store creates (labels, owner references).
    template: ObjectMeta,
    /// The Lease last read or written, the base of the next write (keeps foreign fields).
    last_seen: Arc<Mutex<Option<Lease>>>,
}

impl std::fmt::Debug for KubernetesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesStore")
            .field("name", &self.name)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl KubernetesStore {
    /// A store on the Lease `name` in `namespace`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: impl Into<String>,
        timing: LeaseTiming,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let name = name.into();
        Self {
            api: Api::namespaced(client, namespace),
            template: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            name,
            timing,
            clock,
            last_seen: Arc::new(Mutex::new(None)),
        }
    }

    /// A store on the Lease `name` in `namespace` (default: the pod's own namespace, from
    /// `POD_NAMESPACE` or the service account), with the client configuration of the
    /// environment (in-cluster service account, or `KUBECONFIG`).
    pub async fn from_environment(
        namespace: Option<&str>,
        name: impl Into<String>,
        timing: LeaseTiming,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let config = kube::Config::infer()
            .await
            .map_err(|e| HaError::Config(format!("no Kubernetes client configuration: {e}")))?;
        let namespace = namespace
            .map(str::to_string)
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).map_err(|e| HaError::Kube(Box::new(e)))?;
        Ok(Self::new(client, &namespace, name, timing, clock))
    }

    /// Makes a Lease this store creates owned by `owner` (the StreamJob), so it is deleted with
    /// the job but survives coordinator pods. A Lease that already exists keeps its owners.
    pub fn with_owner(mut self, owner: OwnerReference) -> Self {
        self.template.owner_references.get_or_insert_with(Vec::new).push(owner);
        self
    }

    /// Labels for a Lease this store creates.
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.template.labels.get_or_insert_with(BTreeMap::new).extend(labels);
        self
    }

    /// The Lease's name.
    pub fn lease_name(&self) -> &str {
        &self.name
    }

    fn remember(&self, lease: Option<Lease>) {
        let mut last = self.last_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = lease;
    }

    fn remembered(&self, version: &StoreVersion) -> Option<Lease> {
        let last = self.last_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        last.as_ref()
            .filter(|l| l.metadata.resource_version.as_deref() == Some(version.0.as_str()))
            .cloned()
    }

    /// The Lease to build a replacement on: the one last seen at `expected`, else a fresh read.
    async fn base_for(&self, expected: &StoreVersion) -> Result<Lease> {
        if let Some(lease) = self.remembered(expected) {
            return Ok(lease);
        }
        match self.api.get_opt(&self.name).await? {
            Some(lease) if lease.metadata.resource_version.as_deref() == Some(expected.0.as_str()) => Ok(lease),
            Some(lease) => Err(HaError::Conflict(format!(
                "Lease {} is at resourceVersion {}, the write expected {expected}",
                self.name,
                lease.metadata.resource_version.as_deref().unwrap_or("none")
            ))),
            None => Err(HaError::Conflict(format!("Lease {} was deleted", self.name))),
        }
    }
}

/// A kube error as a conflict (409, or 404 on replace: the Lease was deleted), else as is.
fn classify(name: &str, error: kube::Error) -> HaError {
    match &error {
        kube::Error::Api(status) if status.code == 409 => {
            HaError::Conflict(format!("Lease {name}: {} ({})", status.message, status.reason))
        }
        kube::Error::Api(status) if status.code == 404 => HaError::Conflict(format!("Lease {name} was deleted")),
        _ => HaError::from(error),
    }
}

impl RecordStore for KubernetesStore {
    fn timing(&self) -> &LeaseTiming {
        &self.timing
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn read(&self) -> Result<Option<VersionedRecord>> {
        let lease = self.api.get_opt(&self.name).await?;
        let record = lease.as_ref().map(lease_to_record).transpose()?;
        self.remember(lease);
        Ok(record)
    }

    async fn write(&self, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<StoreVersion> {
        let params = PostParams::default();
        let written = match expected {
            None => {
                let base = Lease {
                    metadata: self.template.clone(),
                    spec: None,
                };
                let lease = record_to_lease(base, record, None)?;
                self.api.create(&params, &lease).await
            }
            Some(version) => {
                let lease = record_to_lease(self.base_for(version).await?, record, Some(version))?;
                self.api.replace(&self.name, &params, &lease).await
            }
        }
        .map_err(|e| classify(&self.name, e))?;
        let version = written.metadata.resource_version.clone().ok_or_else(|| {
            HaError::Corrupt(format!(
                "the API server returned Lease {} without resourceVersion",
                self.name
            ))
        })?;
        self.remember(Some(written));
        Ok(StoreVersion(version))
    }
}

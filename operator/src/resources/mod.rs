//! Pure builders: a StreamJob (and the spec to deploy) in, the Kubernetes objects the operator
//! applies with server-side apply out. No API calls; every object is fully described, owned by
//! the StreamJob and labelled (see [`names`] and [`labels`] for the shared contract).
//!
//! Every pod passes [`security::restricted_violations`] (the restricted Pod Security Standard).

mod command;
mod config_map;
mod coordinator;
mod disruption;
mod error;
mod hash;
pub mod labels;
pub mod names;
mod owner;
mod pod;
mod rbac;
pub mod security;
mod services;
mod workers;

#[cfg(test)]
pub(crate) mod fixtures;

pub use command::ContainerCommand;
pub use config_map::{job_script, quote};
pub use coordinator::coordinator_command;
pub use error::ResourceError;
pub use hash::spec_hash;
pub use owner::JobMeta;
pub use workers::{worker_command, worker_count};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use crate::crd::{StreamJob, StreamJobSpec};

/// Everything the operator applies for one deployment of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobObjects {
    /// `N-config`: the job script.
    pub config_map: ConfigMap,
    /// `N-job`: the identity of the job's pods.
    pub service_account: ServiceAccount,
    /// `N-job`: the HA Lease rights.
    pub role: Role,
    /// `N-job`: the Role bound to the ServiceAccount.
    pub role_binding: RoleBinding,
    /// `N-coordinator`: RPC, REST and metrics of the coordinator.
    pub coordinator_service: Service,
    /// `N-worker`: the workers' headless Service.
    pub worker_service: Service,
    /// `N-coordinator`: the coordinator pods.
    pub coordinator: Deployment,
    /// `N-worker`: the worker pods.
    pub workers: StatefulSet,
    /// `N-worker` and, with more than one coordinator, `N-coordinator`.
    pub disruption_budgets: Vec<PodDisruptionBudget>,
}

/// The objects for deploying `spec` as `job`.
///
/// `job` gives name, namespace and uid (owner references); `spec` is the spec to deploy (may
/// differ from `job.spec`, e.g. on rollback); `restore_from` is the snapshot location passed as
/// `--restore` (pass the same value for as long as the deployment lives: it is part of the
/// pods' spec hash).
pub fn job_objects(
    job: &StreamJob,
    spec: &StreamJobSpec,
    restore_from: Option<&str>,
) -> Result<JobObjects, ResourceError> {
    let meta = JobMeta::of(job)?;
    let hash = spec_hash(spec, restore_from);
    Ok(JobObjects {
        config_map: config_map::config_map(&meta, spec),
        service_account: rbac::service_account(&meta),
        role: rbac::role(&meta),
        role_binding: rbac::role_binding(&meta),
        coordinator_service: services::coordinator_service(&meta),
        worker_service: services::worker_service(&meta),
        coordinator: coordinator::coordinator(&meta, spec, restore_from, &hash)?,
        workers: workers::workers(&meta, spec, &hash),
        disruption_budgets: disruption::disruption_budgets(&meta, spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn all(objects: &JobObjects) -> Vec<(&'static str, &ObjectMeta)> {
        let mut list = vec![
            ("ConfigMap", &objects.config_map.metadata),
            ("ServiceAccount", &objects.service_account.metadata),
            ("Role", &objects.role.metadata),
            ("RoleBinding", &objects.role_binding.metadata),
            ("Service", &objects.coordinator_service.metadata),
            ("Service", &objects.worker_service.metadata),
            ("Deployment", &objects.coordinator.metadata),
            ("StatefulSet", &objects.workers.metadata),
        ];
        list.extend(
            objects
                .disruption_budgets
                .iter()
                .map(|b| ("PodDisruptionBudget", &b.metadata)),
        );
        list
    }

    #[test]
    fn every_object_is_owned_labelled_and_named() {
        let mut spec = fixtures::checkpointed_spec("10s");
        spec.coordinator.replicas = 2;
        let job = fixtures::job_with(spec.clone());
        let objects = job_objects(&job, &spec, None).unwrap();
        let owner = JobMeta::of(&job).unwrap().owner;
        let names: Vec<(&str, &str)> = all(&objects)
            .into_iter()
            .map(|(kind, meta)| {
                assert_eq!(meta.owner_references, Some(vec![owner.clone()]), "{kind}");
                assert_eq!(meta.namespace.as_deref(), Some("data"), "{kind}");
                let l = meta.labels.as_ref().unwrap();
                assert_eq!(l["app.kubernetes.io/name"], "freshet", "{kind}");
                assert_eq!(l["app.kubernetes.io/managed-by"], "freshet-operator", "{kind}");
                assert_eq!(l["freshet.dev/job"], "orders", "{kind}");
                (kind, meta.name.as_deref().unwrap())
            })
            .collect();
        assert_eq!(
            names,
            [
                ("ConfigMap", "orders-config"),
                ("ServiceAccount", "orders-job"),
                ("Role", "orders-job"),
                ("RoleBinding", "orders-job"),
                ("Service", "orders-coordinator"),
                ("Service", "orders-worker"),
                ("Deployment", "orders-coordinator"),
                ("StatefulSet", "orders-worker"),
                ("PodDisruptionBudget", "orders-worker"),
                ("PodDisruptionBudget", "orders-coordinator"),
            ]
        );
    }

    #[test]
    fn every_built_pod_is_restricted() {
        let specs = [
            fixtures::sql_spec(),
            fixtures::entrypoint_spec(),
            fixtures::checkpointed_spec("5m"),
        ];
        for spec in specs {
            let objects = job_objects(&fixtures::job_with(spec.clone()), &spec, Some("s3://sp/1")).unwrap();
            let coordinator = objects.coordinator.spec.unwrap().template.spec.unwrap();
            let workers = objects.workers.spec.unwrap().template.spec.unwrap();
            assert_eq!(security::restricted_violations(&coordinator), Vec::<String>::new());
            assert_eq!(security::restricted_violations(&workers), Vec::<String>::new());
        }
    }

    #[test]
    fn both_pod_templates_carry_the_same_spec_hash() {
        let spec = fixtures::sql_spec();
        let job = fixtures::job_with(spec.clone());
        let hash_of = |restore: Option<&str>| {
            let objects = job_objects(&job, &spec, restore).unwrap();
            let annotation = |t: Option<k8s_openapi::api::core::v1::PodTemplateSpec>| {
                t.and_then(|t| t.metadata).and_then(|m| m.annotations).unwrap()["freshet.dev/spec-hash"].clone()
            };
            let c = annotation(objects.coordinator.spec.map(|s| s.template));
            let w = annotation(objects.workers.spec.map(|s| s.template));
            assert_eq!(c, w);
            c
        };
        assert_eq!(hash_of(None), spec_hash(&spec, None));
        assert_ne!(hash_of(None), hash_of(Some("s3://sp/1")));
    }

    #[test]
    fn spec_may_differ_from_the_job_and_errors_surface() {
        let job = fixtures::sql_job();
        let rollback = fixtures::checkpointed_spec("10s");
        let objects = job_objects(&job, &rollback, None).unwrap();
        let args = objects.coordinator.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        assert!(args.contains(&"s3://ckpt/orders".to_string()));

        let bad = fixtures::checkpointed_spec("soon");
        assert_eq!(
            job_objects(&job, &bad, None).unwrap_err().field(),
            "spec.checkpointing.interval"
        );
        let mut anonymous = fixtures::sql_job();
        anonymous.metadata.uid = None;
        assert_eq!(
            job_objects(&anonymous, &anonymous.spec, None),
            Err(ResourceError::MissingMetadata { field: "metadata.uid" })
        );
    }
}

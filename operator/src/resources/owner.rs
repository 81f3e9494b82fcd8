//! The StreamJob as owner: its name, namespace and the owner reference every object it owns
//! carries (controller, and blocking the StreamJob's deletion until it is gone).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use super::error::ResourceError;
use super::labels::{self, Component};
use crate::crd::StreamJob;

/// What every owned object's metadata is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct JobMeta {
    /// The StreamJob's name.
    pub name: String,
    /// The StreamJob's namespace (every owned object lives there).
    pub namespace: String,
    /// The owner reference to the StreamJob.
    pub owner: OwnerReference,
}

impl JobMeta {
    /// Reads name, namespace and uid of `job`; an error names the first one missing.
    pub fn of(job: &StreamJob) -> Result<Self, ResourceError> {
        let meta = job.meta();
        let missing = |field| ResourceError::MissingMetadata { field };
        let name = meta.name.clone().ok_or(missing("metadata.name"))?;
        let namespace = meta.namespace.clone().ok_or(missing("metadata.namespace"))?;
        let uid = meta.uid.clone().ok_or(missing("metadata.uid"))?;
        let owner = OwnerReference {
            api_version: StreamJob::api_version(&()).into_owned(),
            kind: StreamJob::kind(&()).into_owned(),
            name: name.clone(),
            uid,
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        Ok(Self { name, namespace, owner })
    }

    /// Metadata of an owned object: name, namespace, the operator's labels, the owner reference.
    pub fn object_meta(&self, name: String, component: Component) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels::labels(&self.name, component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn owner_reference_points_at_the_stream_job() {
        let meta = JobMeta::of(&fixtures::sql_job()).unwrap();
        assert_eq!(
            meta.owner,
            OwnerReference {
                api_version: "freshet.dev/v1alpha1".into(),
                kind: "StreamJob".into(),
                name: "orders".into(),
                uid: "0f7a-uid".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }
        );
        let object = meta.object_meta("orders-config".into(), Component::Job);
        assert_eq!(object.namespace.as_deref(), Some("data"));
        assert_eq!(object.owner_references, Some(vec![meta.owner.clone()]));
    }

    #[test]
    fn missing_metadata_names_the_field() {
        type Strip = fn(&mut StreamJob);
        let cases: [(Strip, &str); 3] = [
            (|j| j.metadata.name = None, "metadata.name"),
            (|j| j.metadata.namespace = None, "metadata.namespace"),
            (|j| j.metadata.uid = None, "metadata.uid"),
        ];
        for (strip, field) in cases {
            let mut job = fixtures::sql_job();
            strip(&mut job);
            assert_eq!(JobMeta::of(&job), Err(ResourceError::MissingMetadata { field }));
        }
    }
}

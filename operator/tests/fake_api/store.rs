//! The fake API server's memory: objects as JSON, keyed by (resource, namespace, name), with
//! the bookkeeping the real server does on every write (uid, creationTimestamp,
//! resourceVersion, generation) and nothing else.
//!
//! Only the resources the operator touches are known; a request for any other one is
//! unexpected (see `kube_api`).

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One API resource: where it lives and what its objects say they are.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    /// `v1`, `apps/v1`, ...
    pub api_version: &'static str,
    /// The objects' `kind`.
    pub kind: &'static str,
    /// The plural in URLs.
    pub plural: &'static str,
}

/// Every resource the operator reads or writes.
pub const RESOURCES: &[Resource] = &[
    res("v1", "ConfigMap", "configmaps"),
    res("v1", "Service", "services"),
    res("v1", "ServiceAccount", "serviceaccounts"),
    res("v1", "Pod", "pods"),
    res("apps/v1", "Deployment", "deployments"),
    res("apps/v1", "StatefulSet", "statefulsets"),
    res("rbac.authorization.k8s.io/v1", "Role", "roles"),
    res("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    res("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    res("coordination.k8s.io/v1", "Lease", "leases"),
    res("events.k8s.io/v1", "Event", "events"),
    res("freshet.dev/v1alpha1", "StreamJob", "streamjobs"),
];

const fn res(api_version: &'static str, kind: &'static str, plural: &'static str) -> Resource {
    Resource {
        api_version,
        kind,
        plural,
    }
}

impl Resource {
    /// The resource of a URL: `api_version` as in the path (`v1` for `/api/v1`) and `plural`.
    pub fn find(api_version: &str, plural: &str) -> Option<&'static Resource> {
        RESOURCES
            .iter()
            .find(|r| r.api_version == api_version && r.plural == plural)
    }

    /// The resource of `kind`.
    pub fn of_kind(kind: &str) -> &'static Resource {
        RESOURCES
            .iter()
            .find(|r| r.kind == kind)
            .unwrap_or_else(|| panic!("the fake API server does not know kind {kind}"))
    }
}

type Key = (&'static str, String, String);

/// The objects, and the counters behind resourceVersion and uid.
#[derive(Default)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    version: u64,
    uids: u64,
}

impl Store {
    /// The object, as stored.
    pub fn get(&self, resource: &'static Resource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource.plural, namespace.to_string(), name.to_string()))
    }

    /// Every object of `resource` in `namespace`, by name.
    pub fn list(&self, resource: &'static Resource, namespace: &str) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((plural, ns, _), _)| *plural == resource.plural && ns == namespace)
            .map(|(_, object)| object)
            .collect()
    }

    /// Writes `object` as the server would: a new object gets a uid, a creation time and
    /// generation 1; a changed spec bumps the generation; any change gets a new
    /// resourceVersion, while a write that changes nothing keeps the old one (as a no-op
    /// server-side apply does). Returns the stored object and whether it was created.
    pub fn put(
        &mut self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> (Value, bool) {
        let key = (resource.plural, namespace.to_string(), name.to_string());
        let old = self.objects.get(&key).cloned();
        let meta = object["metadata"].as_object_mut().expect("an object has metadata");
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(namespace));
        match &old {
            Some(old) => {
                for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                    match old["metadata"].get(field) {
                        Some(v) => meta.insert(field.into(), v.clone()),
                        None => meta.remove(field),
                    };
                }
                if old.get("spec") != object.get("spec") {
                    let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    object["metadata"]["generation"] = json!(generation);
                }
            }
            None => {
                self.uids += 1;
                meta.insert("uid".into(), json!(format!("uid-{}", self.uids)));
                meta.insert("creationTimestamp".into(), json!("2026-01-05T10:00:00Z"));
                meta.insert("generation".into(), json!(1));
            }
        }
        if old.as_ref() != Some(&object) {
            self.version += 1;
            object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        }
        self.objects.insert(key, object.clone());
        (object, old.is_none())
    }

    /// Removes the object; returns it if it was there.
    /// The store's current resource version.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn remove(&mut self, resource: &'static Resource, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .remove(&(resource.plural, namespace.to_string(), name.to_string()))
    }
}

/// Applies an RFC 7386 JSON merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, value) in fields {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_replaces_lists_and_deletes_nulls() {
        let mut target = json!({"metadata": {"name": "a", "finalizers": ["x", "y"], "labels": {"k": "v"}}});
        merge_patch(&mut target, &json!({"metadata": {"finalizers": ["y"], "labels": null}}));
        assert_eq!(target, json!({"metadata": {"name": "a", "finalizers": ["y"]}}));
    }

    #[test]
    fn writes_bump_versions_and_generations_only_on_change() {
        let leases = Resource::of_kind("Lease");
        let mut store = Store::default();
        let (first, created) = store.put(leases, "ns", "l", json!({"metadata": {}, "spec": {"a": 1}}));
        assert!(created);
        assert_eq!(first["metadata"]["resourceVersion"], "1");
        assert_eq!(first["metadata"]["generation"], 1);
        let (same, created) = store.put(leases, "ns", "l", json!({"metadata": {}, "spec": {"a": 1}}));
        assert!(!created);
        assert_eq!(same, first);
        let (changed, _) = store.put(leases, "ns", "l", json!({"metadata": {}, "spec": {"a": 2}}));
        assert_eq!(changed["metadata"]["resourceVersion"], "2");
        assert_eq!(changed["metadata"]["generation"], 2);
        assert_eq!(changed["metadata"]["uid"], first["metadata"]["uid"]);
    }
}

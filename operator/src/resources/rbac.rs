//! The job's ServiceAccount `N-job` and exactly the rights its HA needs: the coordinators and
//! workers read and renew the Lease `N-ha`, and the first coordinator creates it (creation
//! cannot be limited by name).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::labels::Component;
use super::names;
use super::owner::JobMeta;

/// The ServiceAccount `N-job`.
pub fn service_account(meta: &JobMeta) -> ServiceAccount {
    ServiceAccount {
        metadata: meta.object_meta(names::service_account(&meta.name), Component::Job),
        ..ServiceAccount::default()
    }
}

fn lease_rule(verbs: &[&str], resource_names: Option<Vec<String>>) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec!["coordination.k8s.io".into()]),
        resources: Some(vec!["leases".into()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        resource_names,
        ..PolicyRule::default()
    }
}

/// The Role `N-job`: leases get/update on `N-ha`, leases create.
pub fn role(meta: &JobMeta) -> Role {
    Role {
        metadata: meta.object_meta(names::role(&meta.name), Component::Job),
        rules: Some(vec![
            lease_rule(&["get", "update"], Some(vec![names::ha_lease(&meta.name)])),
            lease_rule(&["create"], None),
        ]),
    }
}

/// The RoleBinding `N-job` of the Role to the ServiceAccount.
pub fn role_binding(meta: &JobMeta) -> RoleBinding {
    RoleBinding {
        metadata: meta.object_meta(names::role_binding(&meta.name), Component::Job),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: names::role(&meta.name),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: names::service_account(&meta.name),
            namespace: Some(meta.namespace.clone()),
            api_group: None,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    fn meta() -> JobMeta {
        JobMeta::of(&fixtures::sql_job()).unwrap()
    }

    #[test]
    fn role_grants_exactly_the_ha_lease_rights() {
        let role = role(&meta());
        assert_eq!(role.metadata.name.as_deref(), Some("orders-job"));
        let rules = serde_json::to_value(role.rules.unwrap()).unwrap();
        assert_eq!(
            rules,
            serde_json::json!([
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                 "resourceNames": ["orders-ha"], "verbs": ["get", "update"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            ])
        );
    }

    #[test]
    fn binding_ties_role_to_service_account() {
        let meta = meta();
        assert_eq!(service_account(&meta).metadata.name.as_deref(), Some("orders-job"));
        let binding = role_binding(&meta);
        assert_eq!(binding.metadata.name.as_deref(), Some("orders-job"));
        assert_eq!(
            serde_json::to_value(&binding.role_ref).unwrap(),
            serde_json::json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "orders-job"})
        );
        assert_eq!(
            serde_json::to_value(binding.subjects.unwrap()).unwrap(),
            serde_json::json!([{"kind": "ServiceAccount", "name": "orders-job", "namespace": "data"}])
        );
    }
}

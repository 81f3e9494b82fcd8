//! The Kubernetes API rights the operator needs, as data.
//!
//! This is the single source of the operator's RBAC: the Helm chart's ClusterRole (or, with
//! `watchNamespaces`, each namespace's Role) must grant exactly [`OPERATOR_RULES`], no more and
//! no less, and `operator/tests/chart.rs` checks the rendered chart against it. When the
//! controller starts to call another API, the rule goes here first, then into
//! `charts/freshet/templates/rbac.yaml`.
//!
//! [`ELECTION_RULES`] are the rights of the operator's own leader election on its Lease in the
//! release namespace; they are a subset of [`OPERATOR_RULES`] and are granted on their own only
//! when the release namespace is not one of the watched namespaces.

/// One RBAC policy rule: `verbs` on `resources` of one API group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The API group (`""` is the core group).
    pub api_group: &'static str,
    /// Resources, with subresources spelled `resource/subresource`.
    pub resources: &'static [&'static str],
    /// Verbs allowed on every resource of the rule.
    pub verbs: &'static [&'static str],
}

/// Verbs on the objects the operator owns (it creates them by server-side apply and deletes
/// them on upgrades and suspension).
const OWNED: &[&str] = &["get", "list", "watch", "create", "patch", "update", "delete"];

/// Everything the operator calls, in the namespaces it watches.
pub const OPERATOR_RULES: &[Rule] = &[
    // The StreamJobs it reconciles; it never creates or deletes them, and only edits metadata
    // (finalizers) on the main resource.
    Rule {
        api_group: "freshet.dev",
        resources: &["streamjobs"],
        verbs: &["get", "list", "watch", "patch", "update"],
    },
    // The status it reports.
    Rule {
        api_group: "freshet.dev",
        resources: &["streamjobs/status"],
        verbs: &["get", "patch", "update"],
    },
    // Owner references with blockOwnerDeletion need update on the owner's finalizers.
    Rule {
        api_group: "freshet.dev",
        resources: &["streamjobs/finalizers"],
        verbs: &["update"],
    },
    // The job's ConfigMap, Services and ServiceAccount.
    Rule {
        api_group: "",
        resources: &["configmaps", "services", "serviceaccounts"],
        verbs: OWNED,
    },
    // The coordinator Deployment and the worker StatefulSet.
    Rule {
        api_group: "apps",
        resources: &["deployments", "statefulsets"],
        verbs: OWNED,
    },
    // The worker and coordinator PodDisruptionBudgets.
    Rule {
        api_group: "policy",
        resources: &["poddisruptionbudgets"],
        verbs: OWNED,
    },
    // The job's Role and RoleBinding (lease rights of its pods; the operator holds those rights
    // itself, so creating the Role is no escalation).
    Rule {
        api_group: "rbac.authorization.k8s.io",
        resources: &["roles", "rolebindings"],
        verbs: OWNED,
    },
    // The jobs' HA Leases (read and deleted) and the operator's own election Lease.
    Rule {
        api_group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    // The job's pods, observed for health.
    Rule {
        api_group: "",
        resources: &["pods"],
        verbs: &["get", "list", "watch"],
    },
    // Events on transitions (both event APIs).
    Rule {
        api_group: "",
        resources: &["events"],
        verbs: &["create", "patch"],
    },
    Rule {
        api_group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
    },
];

/// The operator's leader election on its own Lease (`--lease-name`) in its namespace: read,
/// create when missing, renew or take over.
pub const ELECTION_RULES: &[Rule] = &[Rule {
    api_group: "coordination.k8s.io",
    resources: &["leases"],
    verbs: &["get", "create", "update"],
}];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verb of every rule is one the API server knows, and no rule is empty.
    #[test]
    fn rules_are_well_formed() {
        const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];
        for rule in OPERATOR_RULES.iter().chain(ELECTION_RULES) {
            assert!(!rule.resources.is_empty(), "{rule:?}");
            assert!(!rule.verbs.is_empty(), "{rule:?}");
            for verb in rule.verbs {
                assert!(VERBS.contains(verb), "unknown verb {verb} in {rule:?}");
            }
        }
    }

    /// Leader election needs nothing the operator's namespaced rules do not already grant.
    #[test]
    fn election_rules_are_a_subset() {
        for rule in ELECTION_RULES {
            for resource in rule.resources {
                for verb in rule.verbs {
                    assert!(
                        OPERATOR_RULES.iter().any(|r| r.api_group == rule.api_group
                            && r.resources.contains(resource)
                            && r.verbs.contains(verb)),
                        "{}/{resource} {verb}",
                        rule.api_group
                    );
                }
            }
        }
    }
}

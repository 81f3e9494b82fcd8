//! The labels and annotations the operator puts on what it owns. Selectors use only
//! [`JOB`] and [`COMPONENT`]: they are immutable on Deployments and StatefulSets, so they must
//! never depend on anything that can change.

use std::collections::BTreeMap;

/// `app.kubernetes.io/name`: always `freshet`.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`: the StreamJob's name.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`: always `freshet-operator`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/component`: see [`Component`].
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `freshet.dev/job`: the StreamJob's name.
pub const JOB: &str = "freshet.dev/job";
/// Pod template annotation: hash of what was deployed (see [`super::spec_hash`]); a change
/// rolls the pods.
pub const SPEC_HASH: &str = "freshet.dev/spec-hash";

/// Which part of a job an object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// The coordinator Deployment and what serves it.
    Coordinator,
    /// The worker StatefulSet and what serves it.
    Worker,
    /// Objects of the job as a whole (ConfigMap, RBAC).
    Job,
}

impl Component {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Coordinator => "coordinator",
            Component::Worker => "worker",
            Component::Job => "job",
        }
    }
}

/// The full label set of an object of `job`.
pub fn labels(job: &str, component: Component) -> BTreeMap<String, String> {
    let mut labels = selector(job, component);
    labels.insert(NAME.into(), "freshet".into());
    labels.insert(INSTANCE.into(), job.into());
    labels.insert(MANAGED_BY.into(), "freshet-operator".into());
    labels
}

/// The labels that select the pods of `component` (a subset of [`labels`]).
pub fn selector(job: &str, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (JOB.to_string(), job.to_string()),
        (COMPONENT.to_string(), component.as_str().to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_set_contains_the_selector() {
        let all = labels("orders", Component::Worker);
        let want = [
            ("app.kubernetes.io/component", "worker"),
            ("app.kubernetes.io/instance", "orders"),
            ("app.kubernetes.io/managed-by", "freshet-operator"),
            ("app.kubernetes.io/name", "freshet"),
            ("freshet.dev/job", "orders"),
        ];
        let got: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
        for (key, value) in selector("orders", Component::Worker) {
            assert_eq!(all.get(&key), Some(&value));
        }
        assert_eq!(selector("orders", Component::Coordinator).len(), 2);
    }
}

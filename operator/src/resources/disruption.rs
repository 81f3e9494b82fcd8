//! PodDisruptionBudgets: at most one worker down at a time by voluntary disruption (a drain),
//! and with more than one coordinator at least one of them up.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{self, Component};
use super::names;
use super::owner::JobMeta;
use crate::crd::StreamJobSpec;

fn budget(meta: &JobMeta, component: Component, name: String, spec: PodDisruptionBudgetSpec) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta.object_meta(name, component),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(&meta.name, component)),
                match_expressions: None,
            }),
            ..spec
        }),
        ..PodDisruptionBudget::default()
    }
}

/// `N-worker` (maxUnavailable 1) and, with `coordinator.replicas > 1`, `N-coordinator`
/// (minAvailable 1). A single coordinator gets none: a budget of one pod blocks drains.
pub fn disruption_budgets(meta: &JobMeta, spec: &StreamJobSpec) -> Vec<PodDisruptionBudget> {
    let mut budgets = vec![budget(
        meta,
        Component::Worker,
        names::workers(&meta.name),
        PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            ..PodDisruptionBudgetSpec::default()
        },
    )];
    if spec.coordinator.replicas > 1 {
        budgets.push(budget(
            meta,
            Component::Coordinator,
            names::coordinator(&meta.name),
            PodDisruptionBudgetSpec {
                min_available: Some(IntOrString::Int(1)),
                ..PodDisruptionBudgetSpec::default()
            },
        ));
    }
    budgets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn budgets_per_coordinator_replicas() {
        let worker = ("orders-worker", "worker", Some(1), None);
        let coordinator = ("orders-coordinator", "coordinator", None, Some(1));
        let cases = [
            (1, vec![worker]),
            (2, vec![worker, coordinator]),
            (3, vec![worker, coordinator]),
        ];
        for (replicas, want) in cases {
            let mut spec = fixtures::sql_spec();
            spec.coordinator.replicas = replicas;
            let meta = JobMeta::of(&fixtures::job_with(spec.clone())).unwrap();
            let got: Vec<(String, String, Option<i32>, Option<i32>)> = disruption_budgets(&meta, &spec)
                .into_iter()
                .map(|b| {
                    let s = b.spec.unwrap();
                    let int = |v: Option<IntOrString>| match v {
                        Some(IntOrString::Int(n)) => Some(n),
                        _ => None,
                    };
                    let selector = s.selector.unwrap().match_labels.unwrap();
                    (
                        b.metadata.name.unwrap(),
                        selector["app.kubernetes.io/component"].clone(),
                        int(s.max_unavailable),
                        int(s.min_available),
                    )
                })
                .collect();
            let want: Vec<(String, String, Option<i32>, Option<i32>)> = want
                .into_iter()
                .map(|(n, c, max, min)| (n.to_string(), c.to_string(), max, min))
                .collect();
            assert_eq!(got, want, "replicas {replicas}");
        }
    }
}

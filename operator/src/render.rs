//! `freshet-operator render`: the objects the operator would apply for a StreamJob manifest,
//! without a cluster. The manifest is checked first (the same checks the operator makes, each
//! naming its field path), so it doubles as a linter for StreamJobs in Git.

use crate::crd::StreamJob;
use crate::resources::job_objects;
use crate::validate;
use serde::Serialize;

/// Why a manifest cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The YAML is not a StreamJob.
    #[error("not a StreamJob: {0}")]
    Parse(String),
    /// The spec fails the operator's checks.
    #[error("invalid StreamJob {name}:\n  {}", problems.join("\n  "))]
    Invalid {
        /// The StreamJob's name.
        name: String,
        /// Each problem, with its field path.
        problems: Vec<String>,
    },
    /// Building an object failed.
    #[error("{0}")]
    Resources(#[from] crate::resources::ResourceError),
    /// Writing YAML failed.
    #[error("writing YAML: {0}")]
    Yaml(String),
}

/// Renders the objects of every StreamJob in `manifest` (YAML, one or more documents; other
/// kinds are skipped) as one multi-document YAML stream, restoring from `restore_from`.
pub fn render(manifest: &str, restore_from: Option<&str>) -> Result<String, RenderError> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(manifest).map_err(|e| RenderError::Parse(e.to_string()))?;
    let mut out = String::new();
    for document in documents {
        if document.get("kind").and_then(|k| k.as_str()) != Some("StreamJob") {
            continue;
        }
        let mut job: StreamJob = serde_json::from_value(document).map_err(|e| RenderError::Parse(e.to_string()))?;
        let name = job.metadata.name.clone().unwrap_or_default();
        let problems = validate::problems(&job.spec);
        if !problems.is_empty() {
            return Err(RenderError::Invalid { name, problems });
        }
        job.metadata.namespace.get_or_insert_with(|| "default".into());
        job.metadata
            .uid
            .get_or_insert_with(|| "00000000-0000-0000-0000-000000000000".into());
        let objects = job_objects(&job, &job.spec, restore_from)?;
        push(&mut out, &objects.config_map)?;
        push(&mut out, &objects.service_account)?;
        push(&mut out, &objects.role)?;
        push(&mut out, &objects.role_binding)?;
        push(&mut out, &objects.coordinator_service)?;
        push(&mut out, &objects.worker_service)?;
        for budget in &objects.disruption_budgets {
            push(&mut out, budget)?;
        }
        push(&mut out, &objects.coordinator)?;
        push(&mut out, &objects.workers)?;
    }
    Ok(out)
}

fn push(out: &mut String, object: &impl Serialize) -> Result<(), RenderError> {
    out.push_str("---\n");
    out.push_str(&serde_saphyr::to_string(object).map_err(|e| RenderError::Yaml(e.to_string()))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{render, RenderError};

    const JOB: &str = "apiVersion: freshet.dev/v1alpha1
kind: StreamJob
metadata:
  name: orders
spec:
  image: freshet:0.1.0
  job:
    sql: INSERT INTO o SELECT * FROM i;
  parallelism: 3
  workers:
    slots: 2
  checkpointing:
    storage: s3://bucket/chk
";

    #[test]
    fn renders_every_object_of_a_job() {
        let yaml = render(JOB, Some("s3://bucket/sp/1")).expect("renders");
        for expected in [
            "kind: ConfigMap",
            "kind: Deployment",
            "kind: StatefulSet",
            "name: orders-coordinator",
            "replicas: 2",
            "s3://bucket/sp/1",
        ] {
            assert!(yaml.contains(expected), "{expected} missing in\n{yaml}");
        }
    }

    #[test]
    fn names_the_field_of_an_invalid_spec() {
        let bad = JOB.replace(
            "storage: s3://bucket/chk",
            "storage: s3://bucket/chk\n    interval: 10x",
        );
        match render(&bad, None) {
            Err(RenderError::Invalid { name, problems }) => {
                assert_eq!(name, "orders");
                assert!(
                    problems.iter().any(|p| p.starts_with("spec.checkpointing.interval")),
                    "{problems:?}"
                );
            }
            other => panic!("expected an invalid spec, got {other:?}"),
        }
    }
}

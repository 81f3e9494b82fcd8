//! Checks of a StreamJob spec beyond what the schema and its CEL rules express (and the same
//! cross-field checks again, so an API server without CEL, or an object stored before a rule
//! existed, cannot slip an invalid spec through). Every problem names its field path.

use crate::crd::{duration, StreamJobSpec, UpgradeMode};

/// Every problem of `spec`, each as `field.path: what is wrong`; empty when valid.
pub fn problems(spec: &StreamJobSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut check_duration = |path: &str, value: Option<&str>| {
        if let Some(v) = value {
            if duration::parse(v).is_none_or(|d| d.is_zero()) {
                out.push(format!(
                    "{path}: '{v}' is not a positive duration (e.g. 30s, 5m, 1h30m)"
                ));
            }
        }
    };
    check_duration(
        "spec.checkpointing.interval",
        spec.checkpointing.as_ref().map(|c| c.interval.as_str()),
    );
    if let Some(s) = &spec.savepoints {
        check_duration("spec.savepoints.periodicInterval", s.periodic_interval.as_deref());
        check_duration("spec.savepoints.historyMaxAge", s.history_max_age.as_deref());
        check_duration("spec.savepoints.timeout", s.timeout.as_deref());
    }
    check_duration("spec.restartPolicy.backoff", Some(&spec.restart_policy.backoff));
    check_duration("spec.restartPolicy.maxBackoff", Some(&spec.restart_policy.max_backoff));
    check_duration(
        "spec.rollback.readinessDeadline",
        spec.rollback.as_ref().map(|r| r.readiness_deadline.as_str()),
    );

    if spec.image.trim().is_empty() {
        out.push("spec.image: must not be empty".into());
    }
    match (&spec.job.sql, &spec.job.entrypoint) {
        (Some(_), Some(_)) | (None, None) => out.push("spec.job: set exactly one of job.sql and job.entrypoint".into()),
        (Some(sql), None) if sql.trim().is_empty() => out.push("spec.job.sql: must not be empty".into()),
        (None, Some(e)) if e.is_empty() => out.push("spec.job.entrypoint: must not be empty".into()),
        _ => {}
    }
    if spec.job.args.is_some() && spec.job.entrypoint.is_none() {
        out.push("spec.job.args: needs job.entrypoint".into());
    }
    if spec.job.entrypoint.is_some() {
        // These become `SET` lines of the SQL script in the job's ConfigMap, which a custom
        // entrypoint does not read: refuse rather than ignore them.
        let script_only = [
            ("spec.config", !spec.config.is_empty()),
            ("spec.maxParallelism", spec.max_parallelism.is_some()),
            (
                "spec.checkpointing.retained",
                spec.checkpointing.as_ref().is_some_and(|c| c.retained.is_some()),
            ),
        ];
        for (path, set) in script_only {
            if set {
                out.push(format!(
                    "{path}: only applies to job.sql (a custom entrypoint runs its own script; set it there with SET)"
                ));
            }
        }
    }
    if spec.parallelism < 1 {
        out.push(format!("spec.parallelism: {} is not at least 1", spec.parallelism));
    }
    if let Some(max) = spec.max_parallelism {
        if spec.parallelism > max {
            out.push(format!(
                "spec.parallelism: {} exceeds spec.maxParallelism {max}",
                spec.parallelism
            ));
        }
    }
    if spec.workers.slots < 1 {
        out.push(format!("spec.workers.slots: {} is not at least 1", spec.workers.slots));
    }
    if spec.coordinator.replicas < 1 {
        out.push(format!(
            "spec.coordinator.replicas: {} is not at least 1",
            spec.coordinator.replicas
        ));
    }
    let savepoint_dir = spec.savepoints.as_ref().and_then(|s| s.directory.as_ref());
    if spec.upgrade_mode == UpgradeMode::Savepoint && savepoint_dir.is_none() && spec.checkpointing.is_none() {
        out.push(
            "spec.savepoints.directory: upgradeMode savepoint needs a savepoint directory (or spec.checkpointing)"
                .into(),
        );
    }
    if spec.upgrade_mode == UpgradeMode::LastState && spec.checkpointing.is_none() {
        out.push("spec.checkpointing: upgradeMode last-state needs checkpointing".into());
    }
    if let Some(path) = &spec.initial_savepoint_path {
        if !is_url(path) {
            out.push(format!(
                "spec.initialSavepointPath: '{path}' is not a URL (e.g. s3://bucket/savepoints/sp-1)"
            ));
        }
    }
    for key in spec.config.keys() {
        if key.trim().is_empty() || key.contains('\'') || key.contains('\n') {
            out.push(format!("spec.config: key '{key}' is not a configuration key"));
        }
    }
    out
}

/// `problems` joined into one message, or `None` when the spec is valid.
pub fn check(spec: &StreamJobSpec) -> Option<String> {
    let p = problems(spec);
    (!p.is_empty()).then(|| p.join("; "))
}

fn is_url(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::problems;
    use crate::crd::{StreamJobSpec, UpgradeMode};

    fn valid() -> StreamJobSpec {
        serde_json::from_value(serde_json::json!({
            "image": "freshet:0.1.0",
            "job": {"sql": "INSERT INTO o SELECT * FROM i;"},
            "parallelism": 2,
            "checkpointing": {"storage": "s3://b/chk"},
            "savepoints": {"directory": "s3://b/sp"}
        }))
        .expect("a valid spec")
    }

    #[test]
    fn a_valid_spec_has_no_problems() {
        assert_eq!(problems(&valid()), Vec::<String>::new());
    }

    #[test]
    fn each_problem_names_its_field() {
        type Breaker = fn(&mut StreamJobSpec);
        let cases: Vec<(Breaker, &str)> = vec![
            (
                |s| s.checkpointing.as_mut().unwrap().interval = "10x".into(),
                "spec.checkpointing.interval",
            ),
            (|s| s.restart_policy.backoff = "0s".into(), "spec.restartPolicy.backoff"),
            (
                |s| s.max_parallelism = Some(1),
                "spec.parallelism: 2 exceeds spec.maxParallelism 1",
            ),
            (
                |s| {
                    s.savepoints = None;
                    s.checkpointing = None;
                },
                "spec.savepoints.directory",
            ),
            (
                |s| {
                    s.upgrade_mode = UpgradeMode::LastState;
                    s.checkpointing = None;
                },
                "spec.checkpointing: upgradeMode last-state",
            ),
            (
                |s| s.initial_savepoint_path = Some("/data/sp".into()),
                "spec.initialSavepointPath",
            ),
            (
                |s| s.job.entrypoint = Some(vec!["/run".into()]),
                "spec.job: set exactly one",
            ),
            (|s| s.job.args = Some(vec!["x".into()]), "spec.job.args"),
            (
                |s| {
                    s.job.sql = None;
                    s.job.entrypoint = Some(vec!["/run".into()]);
                    s.max_parallelism = Some(64);
                },
                "spec.maxParallelism: only applies to job.sql",
            ),
            (
                |s| {
                    s.config.insert("a'b".into(), "1".into());
                },
                "spec.config: key 'a'b'",
            ),
        ];
        for (break_it, expected) in cases {
            let mut s = valid();
            break_it(&mut s);
            let found = problems(&s);
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "expected {expected:?} in {found:?}"
            );
        }
    }
}

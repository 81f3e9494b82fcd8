//! The ConfigMap `N-config` with the job script `job.sql`: `SET` lines from the spec, then the
//! job's SQL. Later `SET`s win, so the spec's own fields (max parallelism, retained
//! checkpoints) come after the free-form `spec.config`, and the job's name comes first.

use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;
use std::fmt::Write;

use super::labels::Component;
use super::names;
use super::owner::JobMeta;
use crate::crd::StreamJobSpec;

/// `text` as a SQL string literal: in single quotes, a quote doubled.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn set_line(script: &mut String, key: &str, value: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(script, "SET {} = {};", quote(key), quote(value));
}

/// The job script for `job` (the StreamJob's name) with `spec`. With `spec.job.entrypoint` it
/// holds only the `SET` lines (the custom image brings its own SQL).
pub fn job_script(job: &str, spec: &StreamJobSpec) -> String {
    let mut script = String::new();
    set_line(&mut script, "pipeline.name", job);
    for (key, value) in &spec.config {
        set_line(&mut script, key, value);
    }
    if let Some(max) = spec.max_parallelism {
        set_line(&mut script, "pipeline.max-parallelism", &max.to_string());
    }
    if let Some(retained) = spec.checkpointing.as_ref().and_then(|c| c.retained) {
        set_line(
            &mut script,
            "execution.checkpointing.num-retained",
            &retained.to_string(),
        );
    }
    if let Some(sql) = &spec.job.sql {
        script.push_str(sql);
        if !sql.ends_with('\n') {
            script.push('\n');
        }
    }
    script
}

/// The ConfigMap `N-config`.
pub fn config_map(meta: &JobMeta, spec: &StreamJobSpec) -> ConfigMap {
    ConfigMap {
        metadata: meta.object_meta(names::config_map(&meta.name), Component::Job),
        data: Some(BTreeMap::from([(
            names::JOB_SCRIPT_KEY.to_string(),
            job_script(&meta.name, spec),
        )])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures;

    #[test]
    fn quotes_double_single_quotes() {
        let cases = [("a", "'a'"), ("it's", "'it''s'"), ("''", "''''''"), ("", "''")];
        for (text, want) in cases {
            assert_eq!(quote(text), want, "{text}");
        }
    }

    #[test]
    fn script_has_set_lines_then_sql() {
        let mut spec = fixtures::checkpointed_spec("10s");
        spec.max_parallelism = Some(256);
        spec.config = BTreeMap::from([
            ("state.backend.type".into(), "rocksdb".into()),
            ("table.exec.source.idle-timeout".into(), "10 s".into()),
            ("x.quote".into(), "it's".into()),
        ]);
        assert_eq!(
            job_script("orders", &spec),
            "SET 'pipeline.name' = 'orders';\n\
             SET 'state.backend.type' = 'rocksdb';\n\
             SET 'table.exec.source.idle-timeout' = '10 s';\n\
             SET 'x.quote' = 'it''s';\n\
             SET 'pipeline.max-parallelism' = '256';\n\
             SET 'execution.checkpointing.num-retained' = '5';\n\
             INSERT INTO sink SELECT * FROM source;\n"
        );
    }

    #[test]
    fn entrypoint_job_gets_only_settings() {
        assert_eq!(
            job_script("o'k", &fixtures::entrypoint_spec()),
            "SET 'pipeline.name' = 'o''k';\n"
        );
    }

    #[test]
    fn config_map_holds_the_script() {
        let job = fixtures::sql_job();
        let meta = JobMeta::of(&job).unwrap();
        let cm = config_map(&meta, &job.spec);
        assert_eq!(cm.metadata.name.as_deref(), Some("orders-config"));
        let data = cm.data.unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["job.sql"]);
        assert_eq!(data["job.sql"], job_script("orders", &job.spec));
    }
}

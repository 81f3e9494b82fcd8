//! Test StreamJobs shared by the builders' tests.

use crate::crd::{CheckpointingSpec, JobSource, StreamJob, StreamJobSpec};

/// A spec with only what the schema requires: SQL, parallelism 4, one slot per worker.
pub fn sql_spec() -> StreamJobSpec {
    serde_json::from_value(serde_json::json!({
        "image": "ghcr.io/freshet/freshet:0.9",
        "job": { "sql": "INSERT INTO sink SELECT * FROM source;" },
        "parallelism": 4,
    }))
    .unwrap()
}

/// `orders` in namespace `data` with [`sql_spec`].
pub fn sql_job() -> StreamJob {
    job_with(sql_spec())
}

/// A spec whose coordinator runs a custom image's entrypoint.
pub fn entrypoint_spec() -> StreamJobSpec {
    StreamJobSpec {
        image: "registry.example/orders-job:3".into(),
        job: JobSource {
            sql: None,
            entrypoint: Some(vec!["/opt/run.sh".into()]),
            args: Some(vec!["--verbose".into()]),
        },
        ..sql_spec()
    }
}

/// [`sql_spec`] with checkpointing every `interval` to `s3://ckpt/orders`.
pub fn checkpointed_spec(interval: &str) -> StreamJobSpec {
    StreamJobSpec {
        checkpointing: Some(CheckpointingSpec {
            interval: interval.into(),
            storage: "s3://ckpt/orders".into(),
            credentials_secret: Some("s3-creds".into()),
            retained: Some(5),
        }),
        ..sql_spec()
    }
}

/// `orders` in namespace `data`, uid `0f7a-uid`, with `spec`.
pub fn job_with(spec: StreamJobSpec) -> StreamJob {
    let mut job = StreamJob::new("orders", spec);
    job.metadata.namespace = Some("data".into());
    job.metadata.uid = Some("0f7a-uid".into());
    job
}

//! Test StreamJobs, built like `JobBuilder::orders().parallelism(2).savepoints().build()`.
//!
//! The base job is `orders` in namespace `data`: SQL, parallelism 2, one slot per worker,
//! checkpoints to `s3://ckpt/orders`, upgrade mode savepoint (the default).

use freshet_operator::crd::{CheckpointingSpec, JobSource, PodOverrides, SavepointSpec, StreamJob, StreamJobSpec};

/// The job's name.
pub const NAME: &str = "orders";
/// Its namespace.
pub const NAMESPACE: &str = "data";
/// Where its savepoints go.
pub const SAVEPOINT_DIR: &str = "s3://sp/orders";

/// Builds a [`StreamJob`].
pub struct JobBuilder {
    spec: StreamJobSpec,
}

impl JobBuilder {
    /// `orders`: SQL, parallelism 2, one slot per worker, checkpoints to S3.
    pub fn orders() -> Self {
        let spec = serde_json::from_value(serde_json::json!({
            "image": "ghcr.io/freshet/freshet:0.9",
            "job": {"sql": "INSERT INTO totals SELECT item, count(*) FROM orders GROUP BY item;"},
            "parallelism": 2,
        }))
        .unwrap();
        Self { spec }.checkpoints()
    }

    /// Checkpoints every 10 s to `s3://ckpt/orders`.
    fn checkpoints(mut self) -> Self {
        self.spec.checkpointing = Some(CheckpointingSpec {
            interval: "10s".into(),
            storage: "s3://ckpt/orders".into(),
            credentials_secret: Some("s3-creds".into()),
            retained: Some(3),
        });
        self
    }

    /// Savepoints go to [`SAVEPOINT_DIR`].
    pub fn savepoints(mut self) -> Self {
        self.spec.savepoints = Some(SavepointSpec {
            directory: Some(SAVEPOINT_DIR.into()),
            ..SavepointSpec::default()
        });
        self
    }

    /// A final savepoint when the StreamJob is deleted.
    pub fn savepoint_on_deletion(mut self) -> Self {
        self = self.savepoints();
        if let Some(s) = self.spec.savepoints.as_mut() {
            s.on_deletion = Some(true);
        }
        self
    }

    /// Task slots per worker.
    pub fn slots(mut self, slots: i32) -> Self {
        self.spec.workers.slots = slots;
        self
    }

    /// Coordinator replicas (more than one: HA).
    pub fn coordinators(mut self, replicas: i32) -> Self {
        self.spec.coordinator.replicas = replicas;
        self
    }

    /// A custom image's entrypoint instead of SQL.
    pub fn entrypoint(mut self, command: &[&str]) -> Self {
        self.spec.job = JobSource {
            sql: None,
            entrypoint: Some(command.iter().map(|s| s.to_string()).collect()),
            args: Some(vec!["--verbose".into()]),
        };
        // Retention is a SET line of the SQL script, which a custom entrypoint does not read.
        if let Some(c) = self.spec.checkpointing.as_mut() {
            c.retained = None;
        }
        self
    }

    /// The same additions to both pod templates.
    pub fn pod_overrides(mut self, overrides: PodOverrides) -> Self {
        self.spec.coordinator.pod_template = Some(overrides.clone());
        self.spec.workers.pod_template = Some(overrides);
        self
    }

    /// The StreamJob, as a user would create it (no uid, status or finalizer yet).
    pub fn build(self) -> StreamJob {
        let mut job = StreamJob::new(NAME, self.spec);
        job.metadata.namespace = Some(NAMESPACE.into());
        job
    }
}

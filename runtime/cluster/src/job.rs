//! How a job travels through the cluster. The coordinator sends every worker the job's script
//! and a [`WireConfig`]; each process compiles the script with the same [`JobCompiler`], which
//! must be deterministic (same operators, uids, edges and parallelism), so user code never
//! travels as bytes and every process agrees on the physical graph.

use freshet_dataflow::JobGraph;
use freshet_engine::config::{CheckpointConfig, JobConfig};
use freshet_state::BackendKind;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The `job_graph_format` of a job sent as its SQL script.
pub const SQL_SCRIPT_FORMAT: &str = "freshet-sql-script";

/// Compiles a job script into its graph.
pub trait JobCompiler: Send + Sync {
    /// Compiles `script`, overriding its parallelism with `parallelism` if given and naming the
    /// job `default_name` unless the script names it. Errors name the line and column of what
    /// is wrong.
    fn compile<'a>(
        &'a self,
        script: &'a str,
        parallelism: Option<u32>,
        default_name: Option<&'a str>,
    ) -> BoxFuture<'a, freshet_core::Result<JobGraph>>;
}

/// The settings every worker needs to build its tasks the way the coordinator planned them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireConfig {
    /// Parallelism override given to the compiler (`None`: the script's own).
    pub parallelism: Option<u32>,
    /// Job name given to the compiler for scripts that do not name the job.
    pub default_name: Option<String>,
    /// Target rows per batch.
    pub batch_size: usize,
    /// Flush partly filled buffers after this long (ms).
    pub buffer_timeout_ms: u64,
    /// Capacity of in-process channels, in batches.
    pub channel_capacity: usize,
    /// Keyed state backend.
    pub state_backend: BackendKind,
    /// Checkpoint storage URL or path.
    pub checkpoint_storage: String,
}

impl WireConfig {
    /// The wire form of `config`, for a script compiled with `parallelism` and `default_name`.
    pub fn new(config: &JobConfig, parallelism: Option<u32>, default_name: Option<String>) -> Self {
        Self {
            parallelism,
            default_name,
            batch_size: config.batch_size,
            buffer_timeout_ms: config.buffer_timeout.as_millis() as u64,
            channel_capacity: config.channel_capacity,
            state_backend: config.state_backend,
            checkpoint_storage: config.checkpoint.storage.clone(),
        }
    }

    /// The engine settings a worker builds its tasks with, working in `local_dir`.
    pub fn job_config(&self, local_dir: PathBuf) -> JobConfig {
        JobConfig {
            batch_size: self.batch_size,
            buffer_timeout: Duration::from_millis(self.buffer_timeout_ms),
            channel_capacity: self.channel_capacity,
            state_backend: self.state_backend,
            checkpoint: CheckpointConfig {
                storage: self.checkpoint_storage.clone(),
                ..CheckpointConfig::default()
            },
            local_dir,
            ..JobConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_config_round_trips_through_json() {
        let config = JobConfig {
            batch_size: 100,
            buffer_timeout: Duration::from_millis(20),
            state_backend: BackendKind::Rocksdb,
            ..JobConfig::default()
        };
        let wire = WireConfig::new(&config, Some(3), Some("job".into()));
        let json = serde_json::to_vec(&wire).expect("serializes");
        let back: WireConfig = serde_json::from_slice(&json).expect("parses");
        assert_eq!(back, wire);
        let rebuilt = back.job_config(PathBuf::from("/tmp/x"));
        assert_eq!(rebuilt.batch_size, 100);
        assert_eq!(rebuilt.buffer_timeout, Duration::from_millis(20));
        assert_eq!(rebuilt.state_backend, BackendKind::Rocksdb);
        assert_eq!(rebuilt.local_dir, PathBuf::from("/tmp/x"));
    }
}

//! Job execution settings.

use crate::restart::RestartStrategy;
use freshet_state::BackendKind;
use std::path::PathBuf;
use std::time::Duration;

/// Where a job starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RestoreFrom {
    /// A fresh start with empty state.
    #[default]
    Nothing,
    /// The newest completed checkpoint (or savepoint of the default savepoint directory) in the
    /// checkpoint storage, or a fresh start if there is none.
    Latest,
    /// A checkpoint or savepoint directory (URL or path holding `_metadata`).
    Path(String),
}

/// Checkpointing settings.
#[derive(Clone, Debug)]
pub struct CheckpointConfig {
    /// Interval between periodic checkpoints; `None` disables them.
    pub interval: Option<Duration>,
    /// Checkpoint storage URL or path.
    pub storage: String,
    /// Where savepoints go by default (URL or path); `<storage>/savepoints` if `None`.
    pub savepoint_dir: Option<String>,
    /// How many completed checkpoints to keep.
    pub retained: usize,
    /// A checkpoint not completed within this time fails.
    pub timeout: Duration,
    /// How many consecutive checkpoint failures are tolerated before the job fails.
    pub tolerable_failures: u32,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            interval: None,
            storage: "checkpoints".into(),
            savepoint_dir: None,
            retained: 3,
            timeout: Duration::from_secs(600),
            tolerable_failures: 0,
        }
    }
}

/// Settings of one job execution.
#[derive(Clone, Debug)]
pub struct JobConfig {
    /// Target rows per batch.
    pub batch_size: usize,
    /// A partly filled output buffer is flushed after this long.
    pub buffer_timeout: Duration,
    /// Capacity of each channel, in batches (channels are bounded: this and `batch_size` bound
    /// the memory in flight).
    pub channel_capacity: usize,
    /// Keyed state backend.
    pub state_backend: BackendKind,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
    /// Restart strategy.
    pub restart: RestartStrategy,
    /// Start from a checkpoint or savepoint.
    pub restore: RestoreFrom,
    /// Skip state of operators that no longer exist in the job instead of failing.
    pub allow_non_restored_state: bool,
    /// Local working directory (RocksDB instances, temporary files).
    pub local_dir: PathBuf,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            buffer_timeout: Duration::from_millis(100),
            channel_capacity: 4,
            state_backend: BackendKind::Heap,
            checkpoint: CheckpointConfig::default(),
            restart: RestartStrategy::default(),
            restore: RestoreFrom::Nothing,
            allow_non_restored_state: false,
            local_dir: std::env::temp_dir().join("freshet"),
        }
    }
}

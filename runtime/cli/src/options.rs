//! Flags shared by the commands that run jobs.

use anyhow::{bail, Context};
use clap::Args;
use freshet_engine::{CheckpointConfig, JobConfig, RestoreFrom};
use freshet_state::BackendKind;
use std::path::PathBuf;
use std::time::Duration;

/// Parses durations like `500ms`, `1s`, `2m`, `1h` (a bare number is milliseconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "ms"),
    };
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid duration '{text}': expected e.g. 500ms, 1s, 2m"))?;
    let ms = match unit {
        "ms" => value,
        "s" | "sec" => value * 1e3,
        "m" | "min" => value * 60e3,
        "h" => value * 3600e3,
        other => bail!("invalid duration unit '{other}' in '{text}': use ms, s, m or h"),
    };
    Ok(Duration::from_micros((ms * 1e3) as u64))
}

/// Execution flags of a job.
#[derive(Args, Debug, Clone)]
pub struct JobOptions {
    /// Number of parallel subtasks per operator.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub parallelism: u32,
    /// Checkpoint storage: a path or a file://, s3://, gs://, az:// URL.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoint_dir: String,
    /// Interval between checkpoints (e.g. 1s); none if not given.
    #[arg(long, value_parser = parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// Completed checkpoints to keep.
    #[arg(long, default_value_t = 3)]
    pub retained_checkpoints: usize,
    /// Keyed state backend.
    #[arg(long, default_value = "heap")]
    pub state_backend: BackendKind,
    /// Start from `latest` (the newest checkpoint or savepoint in the checkpoint dir) or from a
    /// checkpoint/savepoint path.
    #[arg(long)]
    pub restore: Option<String>,
    /// Drop state of operators the job no longer has when restoring.
    #[arg(long)]
    pub allow_non_restored_state: bool,
    /// Where savepoints go (default: <checkpoint-dir>/savepoints).
    #[arg(long)]
    pub savepoint_dir: Option<String>,
    /// Local working directory for state (RocksDB) and temporary files.
    #[arg(long)]
    pub local_dir: Option<PathBuf>,
    /// Rows per batch.
    #[arg(long, default_value_t = 8192)]
    pub batch_size: usize,
    /// Flush partly filled batches after this long.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub buffer_timeout: Duration,
}

impl JobOptions {
    /// The engine configuration these flags describe.
    pub fn job_config(&self) -> anyhow::Result<JobConfig> {
        if self.parallelism == 0 {
            bail!("--parallelism must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        let restore = match self.restore.as_deref() {
            None => RestoreFrom::Nothing,
            Some("latest") => RestoreFrom::Latest,
            Some(path) => RestoreFrom::Path(path.to_string()),
        };
        Ok(JobConfig {
            batch_size: self.batch_size,
            buffer_timeout: self.buffer_timeout,
            state_backend: self.state_backend,
            checkpoint: CheckpointConfig {
                interval: self.checkpoint_interval,
                storage: self.checkpoint_dir.clone(),
                savepoint_dir: self.savepoint_dir.clone(),
                retained: self.retained_checkpoints,
                ..CheckpointConfig::default()
            },
            restore,
            allow_non_restored_state: self.allow_non_restored_state,
            local_dir: self
                .local_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join(format!("freshet-{}", std::process::id()))),
            ..JobConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("40").unwrap(), Duration::from_millis(40));
        assert!(parse_duration("1 fortnight").is_err());
    }
}

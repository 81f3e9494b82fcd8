//! Job configuration set by `SET 'key' = 'value'` statements, with Flink's key names.

use crate::error::{Result, SqlError};
use datafusion::sql::sqlparser::tokenizer::Span;
use std::collections::BTreeMap;
use std::time::Duration;

/// The keys `SET` accepts, with what they mean (for errors and `docs/sql.md`).
pub const SUPPORTED_SETTINGS: &[(&str, &str)] = &[
    ("parallelism.default", "parallel subtasks per operator"),
    (
        "pipeline.max-parallelism",
        "key groups: the largest parallelism a job can rescale to",
    ),
    ("pipeline.name", "the job's name"),
    (
        "execution.checkpointing.interval",
        "time between checkpoints, e.g. '10 s'",
    ),
    ("execution.checkpointing.num-retained", "completed checkpoints kept"),
    ("state.backend.type", "'hashmap' (or 'heap') or 'rocksdb'"),
    ("state.checkpoints.dir", "checkpoint storage path or URL"),
    (
        "table.exec.source.idle-timeout",
        "a source split without data for this long is idle",
    ),
    (
        "table.exec.state.ttl",
        "how long idle state of non-windowed operators is kept",
    ),
];

/// State backend names accepted by `state.backend.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateBackendSetting {
    /// `hashmap` / `heap`.
    Heap,
    /// `rocksdb`.
    Rocksdb,
}

/// The settings of a script, after every `SET` and `RESET`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobSettings {
    /// `parallelism.default`.
    pub parallelism: Option<u32>,
    /// `pipeline.max-parallelism`.
    pub max_parallelism: Option<u32>,
    /// `pipeline.name`.
    pub name: Option<String>,
    /// `execution.checkpointing.interval`.
    pub checkpoint_interval: Option<Duration>,
    /// `execution.checkpointing.num-retained`.
    pub retained_checkpoints: Option<usize>,
    /// `state.backend.type`.
    pub state_backend: Option<StateBackendSetting>,
    /// `state.checkpoints.dir`.
    pub checkpoint_dir: Option<String>,
    /// `table.exec.source.idle-timeout`.
    pub idle_timeout: Option<Duration>,
    /// `table.exec.state.ttl`.
    pub state_ttl: Option<Duration>,
    /// Every raw value, by key, as set.
    pub raw: BTreeMap<String, String>,
}

/// Parses a Flink duration: `10 s`, `10s`, `500 ms`, `1 min`, `2 h`, `1 d`, or a bare number of
/// milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim().to_ascii_lowercase());
    let n: u64 = number.parse().ok()?;
    let ms = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => n,
        "s" | "sec" | "secs" | "second" | "seconds" => n.checked_mul(1_000)?,
        "m" | "min" | "mins" | "minute" | "minutes" => n.checked_mul(60_000)?,
        "h" | "hour" | "hours" => n.checked_mul(3_600_000)?,
        "d" | "day" | "days" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

impl JobSettings {
    /// Applies `SET key = value` (the statement at `span`).
    pub fn set(&mut self, key: &str, value: &str, span: Span) -> Result<()> {
        let at = |message: String| SqlError::at(span.start, message);
        let duration = || {
            parse_duration(value).ok_or_else(|| {
                at(format!(
                    "'{key}': invalid duration '{value}' (expected e.g. '10 s', '500 ms', '1 min')"
                ))
            })
        };
        let positive = || -> Result<u32> {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| at(format!("'{key}': expected a positive integer, got '{value}'")))
        };
        match key {
            "parallelism.default" => self.parallelism = Some(positive()?),
            "pipeline.max-parallelism" => {
                let n = positive()?;
                if n > 32_768 {
                    return Err(at(format!("'{key}': at most 32768, got {n}")));
                }
                self.max_parallelism = Some(n);
            }
            "pipeline.name" => self.name = Some(value.to_string()),
            "execution.checkpointing.interval" => self.checkpoint_interval = Some(duration()?),
            "execution.checkpointing.num-retained" | "state.checkpoints.num-retained" => {
                self.retained_checkpoints = Some(positive()? as usize)
            }
            "state.backend.type" | "state.backend" => {
                self.state_backend = Some(match value.trim().to_ascii_lowercase().as_str() {
                    "hashmap" | "heap" => StateBackendSetting::Heap,
                    "rocksdb" => StateBackendSetting::Rocksdb,
                    other => {
                        return Err(at(format!("'{key}': unknown state backend '{other}'"))
                            .with_hint("supported: hashmap (heap), rocksdb"))
                    }
                })
            }
            "state.checkpoints.dir" | "execution.checkpointing.dir" => self.checkpoint_dir = Some(value.to_string()),
            "table.exec.source.idle-timeout" => self.idle_timeout = Some(duration()?),
            "table.exec.state.ttl" => self.state_ttl = Some(duration()?),
            _ => {
                return Err(at(format!("unknown setting '{key}'")).with_hint(format!(
                    "supported: {}",
                    SUPPORTED_SETTINGS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        self.raw.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Applies `RESET key` (`None`: every key).
    pub fn reset(&mut self, key: Option<&str>, span: Span) -> Result<()> {
        match key {
            None => *self = JobSettings::default(),
            Some(key) => {
                if !SUPPORTED_SETTINGS.iter().any(|(k, _)| *k == key) && !self.raw.contains_key(key) {
                    return Err(SqlError::at(span.start, format!("unknown setting '{key}'")));
                }
                let raw = std::mem::take(&mut self.raw);
                *self = JobSettings::default();
                for (k, v) in raw.iter().filter(|(k, _)| k.as_str() != key) {
                    self.set(k, v, span)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_flink_notation() {
        assert_eq!(parse_duration("10 s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2 min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn set_reset_and_unknown_keys() {
        let span = Span::empty();
        let mut s = JobSettings::default();
        s.set("parallelism.default", "3", span).unwrap();
        s.set("state.backend.type", "rocksdb", span).unwrap();
        s.set("execution.checkpointing.interval", "1 s", span).unwrap();
        assert_eq!(s.parallelism, Some(3));
        assert_eq!(s.state_backend, Some(StateBackendSetting::Rocksdb));
        s.reset(Some("parallelism.default"), span).unwrap();
        assert_eq!(s.parallelism, None);
        assert_eq!(s.checkpoint_interval, Some(Duration::from_secs(1)));
        let e = s.set("parallelism.defualt", "2", span).unwrap_err();
        assert!(e.to_string().contains("unknown setting 'parallelism.defualt'"), "{e}");
        assert!(s.set("parallelism.default", "0", span).is_err());
        assert!(s.set("state.backend.type", "memory", span).is_err());
    }
}

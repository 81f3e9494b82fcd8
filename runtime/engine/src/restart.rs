//! Restart strategies: after a failure, how long to wait before restarting from the latest
//! completed checkpoint, and when to give up.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// When and how often a failed job is restarted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RestartStrategy {
    /// Never restart: the first failure fails the job.
    None,
    /// Restart after a fixed delay, at most `attempts` times.
    FixedDelay {
        /// Maximum number of restarts.
        attempts: u32,
        /// Delay before each restart.
        delay_ms: u64,
    },
    /// Restart with a delay that grows by `multiplier` per restart up to `max_delay_ms`, at
    /// most `attempts` times.
    ExponentialBackoff {
        /// Maximum number of restarts.
        attempts: u32,
        /// First delay.
        initial_delay_ms: u64,
        /// Largest delay.
        max_delay_ms: u64,
        /// Growth per restart.
        multiplier: f64,
    },
}

impl Default for RestartStrategy {
    fn default() -> Self {
        RestartStrategy::ExponentialBackoff {
            attempts: 10,
            initial_delay_ms: 100,
            max_delay_ms: 10_000,
            multiplier: 2.0,
        }
    }
}

impl RestartStrategy {
    /// The delay before restart number `restart` (1-based), or `None` if the job must fail.
    pub fn delay_before(&self, restart: u32) -> Option<Duration> {
        match *self {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay_ms } => {
                (restart <= attempts).then(|| Duration::from_millis(delay_ms))
            }
            RestartStrategy::ExponentialBackoff {
                attempts,
                initial_delay_ms,
                max_delay_ms,
                multiplier,
            } => {
                if restart > attempts {
                    return None;
                }
                let factor = multiplier.max(1.0).powi(restart.saturating_sub(1) as i32);
                let ms = (initial_delay_ms as f64 * factor).min(max_delay_ms as f64);
                Some(Duration::from_millis(ms as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_delay_limits_attempts() {
        let s = RestartStrategy::FixedDelay {
            attempts: 2,
            delay_ms: 50,
        };
        assert_eq!(s.delay_before(1), Some(Duration::from_millis(50)));
        assert_eq!(s.delay_before(2), Some(Duration::from_millis(50)));
        assert_eq!(s.delay_before(3), None);
        assert_eq!(RestartStrategy::None.delay_before(1), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let s = RestartStrategy::ExponentialBackoff {
            attempts: 5,
            initial_delay_ms: 100,
            max_delay_ms: 350,
            multiplier: 2.0,
        };
        let d: Vec<_> = (1..=6).map(|i| s.delay_before(i).map(|d| d.as_millis())).collect();
        assert_eq!(d, vec![Some(100), Some(200), Some(350), Some(350), Some(350), None]);
    }
}

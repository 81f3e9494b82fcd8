//! Lease timing: how long a lease lasts, how long a leader keeps trying to renew it, how often
//! contenders retry. Defaults are Kubernetes' (client-go `leaderelection`): 15 s, 10 s, 2 s.

use crate::error::{HaError, Result};
use std::time::Duration;

/// How long leases last and how often they are renewed.
///
/// Invariant (checked by [`LeaseTiming::new`]): `lease_duration > renew_deadline > retry_period > 0`.
/// A leader renews every `retry_period`; if it has not renewed for `renew_deadline` it must step
/// down, which leaves `lease_duration - renew_deadline` of margin before a standby may take the
/// lease, so the old leader has stopped before the new one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl LeaseTiming {
    /// Timing from its three durations, validated.
    pub fn new(lease_duration: Duration, renew_deadline: Duration, retry_period: Duration) -> Result<Self> {
        if retry_period.is_zero() {
            return Err(HaError::Config("retry_period must be positive".into()));
        }
        if renew_deadline <= retry_period {
            return Err(HaError::Config(format!(
                "renew_deadline ({renew_deadline:?}) must exceed retry_period ({retry_period:?})"
            )));
        }
        if lease_duration <= renew_deadline {
            return Err(HaError::Config(format!(
                "lease_duration ({lease_duration:?}) must exceed renew_deadline ({renew_deadline:?})"
            )));
        }
        if i64::try_from(lease_duration.as_millis()).is_err() {
            return Err(HaError::Config("lease_duration is too large".into()));
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// How long a lease is valid after its last renewal.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How long a leader may go without a successful renewal before it must step down.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// How often contenders try to acquire and leaders renew.
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }

    /// The lease duration in milliseconds.
    pub fn lease_duration_ms(&self) -> i64 {
        // `new` checked that it fits.
        i64::try_from(self.lease_duration.as_millis()).unwrap_or(i64::MAX)
    }

    /// The renew deadline in milliseconds.
    pub fn renew_deadline_ms(&self) -> i64 {
        i64::try_from(self.renew_deadline.as_millis()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let t = LeaseTiming::default();
        assert_eq!(t.lease_duration(), Duration::from_secs(15));
        assert_eq!(t.renew_deadline(), Duration::from_secs(10));
        assert_eq!(t.retry_period(), Duration::from_secs(2));
        assert_eq!(t.lease_duration_ms(), 15_000);
        assert_eq!(
            LeaseTiming::new(t.lease_duration(), t.renew_deadline(), t.retry_period()).ok(),
            Some(t)
        );
    }

    #[test]
    fn rejects_inconsistent_timings() {
        let ms = Duration::from_millis;
        assert!(LeaseTiming::new(ms(300), ms(200), ms(0)).is_err());
        assert!(LeaseTiming::new(ms(300), ms(50), ms(50)).is_err());
        assert!(LeaseTiming::new(ms(200), ms(200), ms(50)).is_err());
        assert!(LeaseTiming::new(ms(300), ms(200), ms(50)).is_ok());
    }
}

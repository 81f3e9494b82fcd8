//! The operator's own Prometheus metrics, on their own [`Registry`] (served at `/metrics` by
//! [`crate::server`]): reconciles and their errors and durations, jobs per phase, savepoints,
//! upgrades, and whether this replica leads.
//!
//! Label values are small closed sets chosen by the callers (error kinds, phases, modes,
//! outcomes), never names of jobs, so the series count stays bounded.

use crate::crd::Phase;
use prometheus::{
    Histogram, HistogramOpts, HistogramTimer, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// Buckets of the reconcile duration, seconds: a no-op reconcile takes milliseconds, one that
/// waits on the API server or a coordinator up to its timeouts.
const DURATION_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The operator's metrics.
#[derive(Debug)]
pub struct OperatorMetrics {
    registry: Registry,
    reconciles: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_duration: Histogram,
    jobs: IntGaugeVec,
    /// Each job's phase as last set (`namespace/name` -> phase), so it counts once.
    job_phases: Mutex<HashMap<String, String>>,
    savepoints: IntCounterVec,
    upgrades: IntCounterVec,
    leader: IntGauge,
}

impl OperatorMetrics {
    /// The metrics, registered on a fresh registry. Every phase of [`Phase::ALL`] starts at 0
    /// so dashboards see them before any job is in them.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new("freshet_operator_reconciles_total", "StreamJob reconciles, by result"),
            &["result"],
        )?;
        let reconcile_errors = IntCounterVec::new(
            Opts::new(
                "freshet_operator_reconcile_errors_total",
                "Failed StreamJob reconciles, by error kind",
            ),
            &["kind"],
        )?;
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "freshet_operator_reconcile_duration_seconds",
                "How long one StreamJob reconcile took",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
        )?;
        let jobs = IntGaugeVec::new(
            Opts::new("freshet_operator_jobs", "StreamJobs this operator manages, by phase"),
            &["phase"],
        )?;
        let savepoints = IntCounterVec::new(
            Opts::new(
                "freshet_operator_savepoints_total",
                "Savepoints the operator took, by kind and outcome",
            ),
            &["kind", "outcome"],
        )?;
        let upgrades = IntCounterVec::new(
            Opts::new(
                "freshet_operator_upgrades_total",
                "StreamJob upgrades, by upgrade mode and outcome",
            ),
            &["mode", "outcome"],
        )?;
        let leader = IntGauge::new(
            "freshet_operator_leader",
            "1 if this operator replica is the leader (reconciles), else 0",
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(savepoints.clone()))?;
        registry.register(Box::new(upgrades.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        for phase in Phase::ALL {
            jobs.with_label_values(&[phase.as_str()]).set(0);
        }
        Ok(Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            jobs,
            job_phases: Mutex::new(HashMap::new()),
            savepoints,
            upgrades,
            leader,
        })
    }

    /// The registry, to add more collectors to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one reconcile that ended with `result` (e.g. `ok`, `requeue`, `error`).
    pub fn count_reconcile(&self, result: &str) {
        self.reconciles.with_label_values(&[result]).inc();
    }

    /// Counts one failed reconcile by its error's kind (the error's `kind()`).
    pub fn count_reconcile_error(&self, kind: &str) {
        self.reconcile_errors.with_label_values(&[kind]).inc();
    }

    /// Starts timing a reconcile; the duration is observed when the timer is dropped.
    pub fn start_reconcile(&self) -> ReconcileTimer {
        ReconcileTimer {
            _timer: self.reconcile_duration.start_timer(),
        }
    }

    /// Records the phase of the job `key` (`namespace/name`): `Some(phase)` moves it to that
    /// phase (each job counts in one phase only), `None` forgets it (the job was deleted).
    pub fn set_job_phase(&self, key: &str, phase: Option<&str>) {
        let mut phases = self.job_phases.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = match phase {
            Some(phase) => {
                if phases.get(key).map(String::as_str) == Some(phase) {
                    return;
                }
                self.jobs.with_label_values(&[phase]).inc();
                phases.insert(key.to_string(), phase.to_string())
            }
            None => phases.remove(key),
        };
        if let Some(previous) = previous {
            self.jobs.with_label_values(&[previous.as_str()]).dec();
        }
    }

    /// Counts a savepoint of `kind` (e.g. `Manual`, `Upgrade`) that ended with `outcome`
    /// (e.g. `completed`, `failed`).
    pub fn count_savepoint(&self, kind: &str, outcome: &str) {
        self.savepoints.with_label_values(&[kind, outcome]).inc();
    }

    /// Counts an upgrade in `mode` (`stateless`, `savepoint`, `last-state`) that ended with
    /// `outcome` (e.g. `succeeded`, `rolled_back`).
    pub fn count_upgrade(&self, mode: &str, outcome: &str) {
        self.upgrades.with_label_values(&[mode, outcome]).inc();
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Every metric in the Prometheus text format.
    pub fn encode(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# encoding the metrics failed: {e}\n"))
    }
}

/// Times one reconcile: observes the elapsed time in
/// `freshet_operator_reconcile_duration_seconds` when dropped.
#[must_use = "the duration is observed when the timer is dropped"]
#[derive(Debug)]
pub struct ReconcileTimer {
    _timer: HistogramTimer,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_line(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn counters_and_leader_appear_in_the_text_format() {
        let m = OperatorMetrics::new().unwrap();
        m.count_reconcile("ok");
        m.count_reconcile("ok");
        m.count_reconcile("error");
        m.count_reconcile_error("coordinator_unreachable");
        m.count_savepoint("Upgrade", "completed");
        m.count_upgrade("savepoint", "succeeded");
        m.set_leader(true);
        let text = m.encode();
        for line in [
            r#"freshet_operator_reconciles_total{result="ok"} 2"#,
            r#"freshet_operator_reconciles_total{result="error"} 1"#,
            r#"freshet_operator_reconcile_errors_total{kind="coordinator_unreachable"} 1"#,
            r#"freshet_operator_savepoints_total{kind="Upgrade",outcome="completed"} 1"#,
            r#"freshet_operator_upgrades_total{mode="savepoint",outcome="succeeded"} 1"#,
            "freshet_operator_leader 1",
            "# TYPE freshet_operator_reconcile_duration_seconds histogram",
        ] {
            assert!(has_line(&text, line), "missing {line} in\n{text}");
        }
        m.set_leader(false);
        assert!(has_line(&m.encode(), "freshet_operator_leader 0"));
    }

    #[test]
    fn a_job_counts_in_one_phase_and_leaves_when_deleted() {
        let m = OperatorMetrics::new().unwrap();
        assert!(has_line(&m.encode(), r#"freshet_operator_jobs{phase="Suspended"} 0"#));
        m.set_job_phase("ns/a", Some("Deploying"));
        m.set_job_phase("ns/b", Some("Deploying"));
        m.set_job_phase("ns/a", Some("Running"));
        m.set_job_phase("ns/a", Some("Running"));
        let text = m.encode();
        assert!(
            has_line(&text, r#"freshet_operator_jobs{phase="Deploying"} 1"#),
            "{text}"
        );
        assert!(has_line(&text, r#"freshet_operator_jobs{phase="Running"} 1"#), "{text}");
        m.set_job_phase("ns/a", None);
        m.set_job_phase("ns/a", None);
        m.set_job_phase("ns/unknown", None);
        let text = m.encode();
        assert!(has_line(&text, r#"freshet_operator_jobs{phase="Running"} 0"#), "{text}");
        assert!(
            has_line(&text, r#"freshet_operator_jobs{phase="Deploying"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn the_reconcile_timer_observes_when_dropped() {
        let m = OperatorMetrics::new().unwrap();
        assert!(has_line(
            &m.encode(),
            "freshet_operator_reconcile_duration_seconds_count 0"
        ));
        {
            let _timer = m.start_reconcile();
        }
        let text = m.encode();
        assert!(
            has_line(&text, "freshet_operator_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            has_line(
                &text,
                r#"freshet_operator_reconcile_duration_seconds_bucket{le="+Inf"} 1"#
            ),
            "{text}"
        );
    }
}

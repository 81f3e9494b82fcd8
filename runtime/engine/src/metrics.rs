//! Per-operator-subtask counters, read by the executor for progress reports and (later) by the
//! Prometheus exporter. Operators never count their own records: the chain does it around them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one operator subtask.
#[derive(Debug, Default)]
pub struct OperatorMetrics {
    /// Records received.
    pub records_in: AtomicU64,
    /// Records emitted (main and side outputs).
    pub records_out: AtomicU64,
    /// Current input watermark (ms), `i64::MIN` before the first.
    pub watermark: AtomicI64,
}

/// Counters of one task (a chain subtask).
#[derive(Debug, Default)]
pub struct TaskMetrics {
    /// Nanoseconds spent waiting for downstream channel capacity (backpressure).
    pub backpressured_ns: AtomicU64,
    /// Batches sent downstream.
    pub batches_out: AtomicU64,
}

/// All metrics of a running job.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// `(operator name, subtask, metrics)` for every operator subtask.
    pub operators: parking_lot::Mutex<Vec<(String, u32, Arc<OperatorMetrics>)>>,
    /// `(chain name, subtask, metrics)` for every task.
    pub tasks: parking_lot::Mutex<Vec<(String, u32, Arc<TaskMetrics>)>>,
    /// Number of restarts so far.
    pub restarts: AtomicU64,
    /// Completed checkpoints so far.
    pub checkpoints_completed: AtomicU64,
    /// Failed checkpoints so far.
    pub checkpoints_failed: AtomicU64,
}

impl JobMetrics {
    /// Registers an operator subtask's counters.
    pub fn register_operator(&self, name: &str, subtask: u32) -> Arc<OperatorMetrics> {
        let m = Arc::new(OperatorMetrics {
            watermark: AtomicI64::new(i64::MIN),
            ..Default::default()
        });
        self.operators.lock().push((name.to_string(), subtask, m.clone()));
        m
    }

    /// Registers a task's counters.
    pub fn register_task(&self, name: &str, subtask: u32) -> Arc<TaskMetrics> {
        let m = Arc::new(TaskMetrics::default());
        self.tasks.lock().push((name.to_string(), subtask, m.clone()));
        m
    }

    /// Records in per operator name, summed over subtasks.
    pub fn records_in_by_operator(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for (name, _, m) in self.operators.lock().iter() {
            let v = m.records_in.load(Ordering::Relaxed);
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 += v,
                None => out.push((name.clone(), v)),
            }
        }
        out
    }

    /// Forgets per-attempt counters (on restart).
    pub fn clear_attempt(&self) {
        self.operators.lock().clear();
        self.tasks.lock().clear();
    }
}

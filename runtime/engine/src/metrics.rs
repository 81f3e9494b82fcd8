//! Per-operator-subtask and per-task counters, read by the REST API (job status) and the
//! Prometheus exporter. Operators never count their own records: the chain does it around them,
//! once per batch, so counting costs a few atomic adds per batch, never per row.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The bytes a batch's rows occupy in Arrow buffers (only the sliced part of shared buffers),
/// the measure of `bytes_in` and `bytes_out`.
pub fn batch_bytes(batch: &arrow::record_batch::RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

/// Counters of one operator subtask.
#[derive(Debug, Default)]
pub struct OperatorMetrics {
    /// Records received.
    pub records_in: AtomicU64,
    /// Records emitted (main and side outputs).
    pub records_out: AtomicU64,
    /// Arrow size of the batches received ([`batch_bytes`]), in bytes.
    pub bytes_in: AtomicU64,
    /// Arrow size of the batches emitted ([`batch_bytes`]), in bytes.
    pub bytes_out: AtomicU64,
    /// Current input watermark (ms), `i64::MIN` before the first.
    pub watermark: AtomicI64,
}

impl OperatorMetrics {
    /// Counts one batch received.
    pub fn count_in(&self, rows: usize, bytes: usize) {
        self.records_in.fetch_add(rows as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts one batch emitted.
    pub fn count_out(&self, rows: usize, bytes: usize) {
        self.records_out.fetch_add(rows as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The current watermark, if one has arrived and input has not ended.
    pub fn current_watermark(&self) -> Option<i64> {
        let w = self.watermark.load(Ordering::Relaxed);
        (w != i64::MIN && w != i64::MAX).then_some(w)
    }
}

/// Counters of one task (a chain subtask).
#[derive(Debug)]
pub struct TaskMetrics {
    /// Nanoseconds spent waiting for downstream channel capacity (backpressure).
    pub backpressured_ns: AtomicU64,
    /// Nanoseconds spent processing (polling the source, running the chain on a batch).
    pub busy_ns: AtomicU64,
    /// Batches sent downstream.
    pub batches_out: AtomicU64,
    /// Nanoseconds the last checkpoint barrier alignment took (first barrier to last).
    pub last_alignment_ns: AtomicU64,
    /// When the task was created.
    pub started: Instant,
}

impl Default for TaskMetrics {
    fn default() -> Self {
        Self {
            backpressured_ns: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            batches_out: AtomicU64::new(0),
            last_alignment_ns: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl TaskMetrics {
    /// Fraction of the task's lifetime spent backpressured, in `[0, 1]`.
    pub fn backpressure_ratio(&self) -> f64 {
        let lived = self.started.elapsed().as_nanos() as f64;
        if lived <= 0.0 {
            return 0.0;
        }
        (self.backpressured_ns.load(Ordering::Relaxed) as f64 / lived).clamp(0.0, 1.0)
    }
}

/// An operator subtask's counters with what identifies them.
#[derive(Debug, Clone)]
pub struct OperatorEntry {
    /// The operator's stable uid (the vertex id).
    pub uid: String,
    /// Its display name.
    pub name: String,
    /// Subtask index.
    pub subtask: u32,
    /// The counters.
    pub metrics: Arc<OperatorMetrics>,
}

/// A task's counters with what identifies them.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    /// The chain's display name.
    pub name: String,
    /// Uids of the operators fused in the task.
    pub operators: Vec<String>,
    /// Index of the task's chain in the physical plan.
    pub chain: usize,
    /// Subtask index.
    pub subtask: u32,
    /// The counters.
    pub metrics: Arc<TaskMetrics>,
}

/// All metrics of a running job.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// Every operator subtask of the current attempt.
    pub operators: parking_lot::Mutex<Vec<OperatorEntry>>,
    /// Every task of the current attempt.
    pub tasks: parking_lot::Mutex<Vec<TaskEntry>>,
    /// Number of restarts so far.
    pub restarts: AtomicU64,
    /// Completed checkpoints so far.
    pub checkpoints_completed: AtomicU64,
    /// Failed checkpoints so far.
    pub checkpoints_failed: AtomicU64,
}

impl JobMetrics {
    /// Registers an operator subtask's counters.
    pub fn register_operator(&self, uid: &str, name: &str, subtask: u32) -> Arc<OperatorMetrics> {
        let m = Arc::new(OperatorMetrics {
            watermark: AtomicI64::new(i64::MIN),
            ..Default::default()
        });
        self.operators.lock().push(OperatorEntry {
            uid: uid.to_string(),
            name: name.to_string(),
            subtask,
            metrics: m.clone(),
        });
        m
    }

    /// Registers the counters of subtask `subtask` of chain `chain`; `operators` are the uids
    /// of its fused operators.
    pub fn register_task(&self, name: &str, operators: Vec<String>, chain: usize, subtask: u32) -> Arc<TaskMetrics> {
        let m = Arc::new(TaskMetrics::default());
        self.tasks.lock().push(TaskEntry {
            name: name.to_string(),
            operators,
            chain,
            subtask,
            metrics: m.clone(),
        });
        m
    }

    /// Records in per operator name, summed over subtasks.
    pub fn records_in_by_operator(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for e in self.operators.lock().iter() {
            let v = e.metrics.records_in.load(Ordering::Relaxed);
            match out.iter_mut().find(|(n, _)| *n == e.name) {
                Some(o) => o.1 += v,
                None => out.push((e.name.clone(), v)),
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

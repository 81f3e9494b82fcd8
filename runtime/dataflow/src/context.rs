//! What an operator sees of the world: who it is, its keyed state, its timers, the clock and the
//! current watermark. The engine builds one context per operator subtask.

use crate::timers::{TimeDomain, Timer, TimerService};
use freshet_core::{
    CheckpointId, CheckpointKind, Clock, Error, KeyGroup, KeyGroupRange, OperatorUid, Result, SubtaskIndex,
    WATERMARK_MIN,
};
use freshet_state::{KeyedStateBackend, StateSnapshot};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The identity of one operator subtask.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// The job's name.
    pub job_name: String,
    /// The operator's stable uid.
    pub operator_uid: OperatorUid,
    /// The operator's display name.
    pub operator_name: String,
    /// This subtask's index.
    pub subtask: SubtaskIndex,
    /// The operator's parallelism.
    pub parallelism: u32,
    /// The number of key groups.
    pub max_parallelism: u32,
    /// The key groups this subtask owns.
    pub key_groups: KeyGroupRange,
    /// A string unique to this execution attempt of the job (changes on every restart and every
    /// process start), e.g. for naming files that must not collide with an earlier attempt's.
    pub run_id: String,
    /// The checkpoint this attempt restored from, if any.
    pub restored_checkpoint: Option<CheckpointId>,
    /// Whether the restored checkpoint is the final checkpoint of a finished bounded job.
    pub restored_finished: bool,
}

/// Counters an operator may bump; the engine reads them for metrics.
#[derive(Debug, Default)]
pub struct OperatorCounters {
    /// Records dropped because they were later than the allowed lateness and had no side output.
    pub late_records_dropped: AtomicU64,
    /// Records sent to a late-data side output.
    pub late_records_side_output: AtomicU64,
}

/// The context of one operator subtask.
pub struct OperatorContext {
    info: TaskInfo,
    state: Option<Box<dyn KeyedStateBackend>>,
    timers: TimerService,
    clock: Arc<dyn Clock>,
    watermark: i64,
    restored_operator_state: Vec<serde_json::Value>,
    local_dir: PathBuf,
    counters: Arc<OperatorCounters>,
}

impl OperatorContext {
    /// Builds a context. A keyed operator gets its (possibly restored) backend; its timers are
    /// loaded from it.
    pub fn new(
        info: TaskInfo,
        mut state: Option<Box<dyn KeyedStateBackend>>,
        clock: Arc<dyn Clock>,
        local_dir: PathBuf,
        restored_operator_state: Vec<serde_json::Value>,
    ) -> Result<Self> {
        let timers = match state.as_deref_mut() {
            Some(backend) => TimerService::restore(backend)?,
            None => TimerService::default(),
        };
        Ok(Self {
            info,
            state,
            timers,
            clock,
            watermark: WATERMARK_MIN,
            restored_operator_state,
            local_dir,
            counters: Arc::new(OperatorCounters::default()),
        })
    }

    /// Who this subtask is.
    pub fn info(&self) -> &TaskInfo {
        &self.info
    }

    /// The keyed state backend; an error for a non-keyed operator.
    pub fn state(&mut self) -> Result<&mut dyn KeyedStateBackend> {
        let name = &self.info.operator_name;
        match self.state.as_deref_mut() {
            Some(s) => Ok(s),
            None => Err(Error::Config(format!(
                "operator '{name}' uses keyed state but its input is not keyed (add key_by)"
            ))),
        }
    }

    /// The keyed state backend for reading.
    pub fn state_ref(&self) -> Result<&dyn KeyedStateBackend> {
        match self.state.as_deref() {
            Some(s) => Ok(s),
            None => Err(Error::Config(format!(
                "operator '{}' uses keyed state but its input is not keyed (add key_by)",
                self.info.operator_name
            ))),
        }
    }

    /// Whether the operator is keyed (has a state backend).
    pub fn is_keyed(&self) -> bool {
        self.state.is_some()
    }

    /// Registers a timer for `key` in `namespace`.
    pub fn register_timer(
        &mut self,
        domain: TimeDomain,
        time: i64,
        key_group: KeyGroup,
        key: &[u8],
        namespace: &[u8],
    ) -> Result<()> {
        let timer = Timer {
            time,
            key_group,
            key: key.to_vec(),
            namespace: namespace.to_vec(),
            domain,
        };
        if self.state.is_none() {
            return Err(Error::Config(format!(
                "operator '{}' uses timers but is not keyed",
                self.info.operator_name
            )));
        }
        self.timers.register(timer)
    }

    /// Deletes a timer.
    pub fn delete_timer(&mut self, timer: &Timer) -> Result<()> {
        match self.state {
            Some(_) => self.timers.delete(timer),
            None => Ok(()),
        }
    }

    /// Removes and returns the earliest due timer of `domain` at or before `upto`.
    pub fn pop_due_timer(&mut self, domain: TimeDomain, upto: i64) -> Result<Option<Timer>> {
        match self.state {
            Some(_) => self.timers.pop_due(domain, upto),
            None => Ok(None),
        }
    }

    /// The earliest registered processing-time timer.
    pub fn next_processing_timer(&self) -> Option<i64> {
        self.timers.next_processing_time()
    }

    /// Number of registered timers.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// The current input watermark.
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }

    /// Sets the current watermark (engine only).
    pub fn set_watermark(&mut self, watermark: i64) {
        self.watermark = self.watermark.max(watermark);
    }

    /// Current processing time (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Takes the operator state restored for this subtask (once).
    pub fn take_restored_operator_state(&mut self) -> Vec<serde_json::Value> {
        std::mem::take(&mut self.restored_operator_state)
    }

    /// A private local working directory of this subtask.
    pub fn local_dir(&self) -> &Path {
        &self.local_dir
    }

    /// The subtask's counters.
    pub fn counters(&self) -> &Arc<OperatorCounters> {
        &self.counters
    }

    /// Counts one record dropped as too late.
    pub fn count_late_dropped(&self, n: u64) {
        self.counters.late_records_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// The keyed state backend, if any (engine only: notifications). Timers may not have reached
    /// it yet: snapshot through [`OperatorContext::snapshot_keyed_state`].
    pub fn backend_mut(&mut self) -> Option<&mut (dyn KeyedStateBackend + 'static)> {
        self.state.as_deref_mut()
    }

    /// Snapshots the keyed state (engine only), after writing the timers changed since the last
    /// snapshot into it. `None` for a non-keyed operator.
    pub fn snapshot_keyed_state(
        &mut self,
        checkpoint: CheckpointId,
        kind: CheckpointKind,
    ) -> Result<Option<Box<dyn StateSnapshot>>> {
        match self.state.as_deref_mut() {
            Some(backend) => {
                self.timers.flush(backend)?;
                Ok(Some(backend.snapshot(checkpoint, kind)?))
            }
            None => Ok(None),
        }
    }
}

//! Test support: [`OperatorHarness`] drives one operator exactly as the engine does, without
//! channels or tasks, so operator tests exercise the real delivery order of batches, watermarks,
//! timers, end of input and checkpoint/restore.
//!
//! The harness owns the operator, its [`OperatorContext`] (with a real keyed state backend of
//! the chosen kind in a private temporary directory, when keyed) and a [`ManualClock`]. Time only
//! moves when the test says so:
//! - [`process`](OperatorHarness::process) delivers a batch;
//! - [`watermark`](OperatorHarness::watermark) advances event time through
//!   [`driver::advance_watermark`] (due timers fire in time order, then `on_watermark`);
//! - [`processing_time`](OperatorHarness::processing_time) sets the clock and fires due
//!   processing-time timers through [`driver::advance_processing_time`];
//! - [`finish`](OperatorHarness::finish) ends the input through [`driver::finish_input`];
//! - [`snapshot_and_restore`](OperatorHarness::snapshot_and_restore) takes a checkpoint through
//!   a real [`CheckpointStorage`] and replaces the operator by a fresh instance restored from it.
//!
//! Each method returns the main-output batches it produced; side outputs accumulate until taken
//! with [`take_side_output`](OperatorHarness::take_side_output).
//!
//! ```no_run
//! use freshet_dataflow::testing::{test_task_info, OperatorHarness};
//! use freshet_dataflow::Operator;
//! use freshet_state::BackendKind;
//! # fn my_operator() -> Box<dyn Operator> {
//! #     Box::new(freshet_dataflow::ops::batch_fn::BatchFnOperator::new(std::sync::Arc::new(|b| Ok(Some(b)))))
//! # }
//! # fn main() -> freshet_core::Result<()> {
//! let mut h = OperatorHarness::new(|_: &_| Ok(my_operator()), test_task_info("op"), Some(BackendKind::Heap))?;
//! // h.process(batch)?; h.watermark(10)?; ...
//! h.snapshot_and_restore(BackendKind::Rocksdb)?;
//! let rest = h.finish()?;
//! # Ok(()) }
//! ```

use crate::collector::Collector;
use crate::context::{OperatorContext, TaskInfo};
use crate::driver;
use crate::graph::OperatorFactory;
use crate::operator::Operator;
use arrow::record_batch::RecordBatch;
use freshet_core::{
    CheckpointId, CheckpointKind, Error, KeyGroupRange, ManualClock, OperatorUid, Result, SubtaskIndex,
    DEFAULT_MAX_PARALLELISM,
};
use freshet_state::backend::SnapshotTarget;
use freshet_state::{new_keyed_backend, restore_keyed_backend, BackendKind, CheckpointStorage, KeyedStateBackend};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A [`TaskInfo`] for tests: job `test`, uid and name `operator_name`, subtask 0 of 1, max
/// parallelism 128 owning every key group, run id `test`, not restored.
pub fn test_task_info(operator_name: &str) -> TaskInfo {
    TaskInfo {
        job_name: "test".into(),
        operator_uid: OperatorUid::new(operator_name),
        operator_name: operator_name.into(),
        subtask: SubtaskIndex(0),
        parallelism: 1,
        max_parallelism: DEFAULT_MAX_PARALLELISM,
        key_groups: KeyGroupRange::all(DEFAULT_MAX_PARALLELISM),
        run_id: "test".into(),
        restored_checkpoint: None,
        restored_finished: false,
    }
}

/// A temporary directory removed on drop.
#[derive(Debug)]
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "freshet-harness-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        Ok(Self { path })
    }

    /// A new, empty subdirectory.
    fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs the future made by `make` to completion: on a private runtime, or on a helper thread
/// when called from inside a Tokio runtime (where blocking on another runtime is not allowed).
/// The future is created where it runs, so it need not be `Send`.
fn block_on<M, F>(make: M) -> Result<F::Output>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    let run = move || -> Result<F::Output> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the test harness runtime", e))?;
        Ok(runtime.block_on(make()))
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|s| {
        s.spawn(run)
            .join()
            .map_err(|_| Error::Internal("test harness runtime thread panicked".into()))?
    })
}

/// Drives one operator subtask like the engine does. See the [module documentation](self).
pub struct OperatorHarness {
    operator: Box<dyn Operator>,
    ctx: OperatorContext,
    info: TaskInfo,
    clock: ManualClock,
    backend: Option<BackendKind>,
    factory: Option<Arc<dyn OperatorFactory>>,
    side: Vec<(String, RecordBatch)>,
    next_checkpoint: u64,
    generation: u64,
    dir: ScratchDir,
}

impl std::fmt::Debug for OperatorHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorHarness")
            .field("operator", &self.info.operator_name)
            .field("backend", &self.backend)
            .field("watermark", &self.ctx.current_watermark())
            .finish()
    }
}

impl OperatorHarness {
    /// A harness for the operator built by `factory` for `info`; `backend` is the keyed state
    /// backend kind (`None` for a non-keyed operator). The clock starts at 0. The operator is
    /// opened. Operators built from a factory can be snapshotted and restored.
    pub fn new(factory: impl OperatorFactory + 'static, info: TaskInfo, backend: Option<BackendKind>) -> Result<Self> {
        let factory: Arc<dyn OperatorFactory> = Arc::new(factory);
        let operator = factory.create(&info)?;
        Self::build(operator, Some(factory), info, backend)
    }

    /// A harness for an already built operator (it cannot be restored from a snapshot, since no
    /// fresh instance can be made).
    pub fn from_operator(operator: Box<dyn Operator>, info: TaskInfo, backend: Option<BackendKind>) -> Result<Self> {
        Self::build(operator, None, info, backend)
    }

    fn build(
        operator: Box<dyn Operator>,
        factory: Option<Arc<dyn OperatorFactory>>,
        info: TaskInfo,
        backend: Option<BackendKind>,
    ) -> Result<Self> {
        let dir = ScratchDir::new()?;
        let clock = ManualClock::new(0);
        let state = match backend {
            Some(kind) => Some(new_keyed_backend(kind, info.key_groups, &dir.subdir("state-0")?)?),
            None => None,
        };
        let ctx = OperatorContext::new(
            info.clone(),
            state,
            Arc::new(clock.clone()),
            dir.subdir("local-0")?,
            Vec::new(),
        )?;
        let mut harness = Self {
            operator,
            ctx,
            info,
            clock,
            backend,
            factory,
            side: Vec::new(),
            next_checkpoint: 1,
            generation: 0,
            dir,
        };
        harness.operator.open(&mut harness.ctx)?;
        Ok(harness)
    }

    fn collect(&mut self, mut out: Collector) -> Vec<RecordBatch> {
        self.side.extend(out.take_side());
        out.take_main()
    }

    /// Delivers `batch` on input 0; returns the main output.
    pub fn process(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        self.process_input(0, batch)
    }

    /// Delivers `batch` on input `input` (for multi-input operators); returns the main output.
    pub fn process_input(&mut self, input: usize, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        let mut out = Collector::new();
        self.operator.process_batch(input, batch, &mut self.ctx, &mut out)?;
        Ok(self.collect(out))
    }

    /// Advances the watermark (ignored unless it advances); returns what fired.
    pub fn watermark(&mut self, watermark: i64) -> Result<Vec<RecordBatch>> {
        let mut out = Collector::new();
        driver::advance_watermark(self.operator.as_mut(), &mut self.ctx, watermark, &mut out)?;
        Ok(self.collect(out))
    }

    /// Sets the clock to `now_ms` and fires the processing-time timers due by then.
    pub fn processing_time(&mut self, now_ms: i64) -> Result<Vec<RecordBatch>> {
        self.clock.set(now_ms);
        let mut out = Collector::new();
        driver::advance_processing_time(self.operator.as_mut(), &mut self.ctx, now_ms, &mut out)?;
        Ok(self.collect(out))
    }

    /// Sets the clock without firing timers (e.g. the processing time of the next batch).
    pub fn set_clock(&mut self, now_ms: i64) {
        self.clock.set(now_ms);
    }

    /// Ends the input: the final watermark, every remaining processing-time timer, then
    /// `end_of_input`. Returns what was emitted.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        let mut out = Collector::new();
        driver::finish_input(self.operator.as_mut(), &mut self.ctx, &mut out)?;
        Ok(self.collect(out))
    }

    /// Takes the batches emitted so far on the side output `tag`.
    pub fn take_side_output(&mut self, tag: &str) -> Vec<RecordBatch> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.side).into_iter().partition(|(t, _)| t == tag);
        self.side = kept;
        taken.into_iter().map(|(_, b)| b).collect()
    }

    /// Takes every side-output batch emitted so far, with its tag, in emission order.
    pub fn take_side_outputs(&mut self) -> Vec<(String, RecordBatch)> {
        std::mem::take(&mut self.side)
    }

    /// Checkpoints the operator and replaces it with a fresh instance restored from the
    /// checkpoint, as after a failure: `Operator::snapshot` provides the operator state; the
    /// keyed backend is snapshotted, uploaded to a [`CheckpointStorage`] in the harness's
    /// directory and restored into a new backend of `kind` (with timers). Restoring into the
    /// same kind uses a checkpoint, into the other kind a savepoint (the portable format). The
    /// new instance is made by the factory, gets `restored_checkpoint` in its [`TaskInfo`] and
    /// is opened. As in the engine after a restore, the watermark starts over at its minimum;
    /// the clock keeps its time. `kind` is ignored for non-keyed operators.
    pub fn snapshot_and_restore(&mut self, kind: BackendKind) -> Result<()> {
        let factory = self.factory.clone().ok_or_else(|| {
            Error::Config("snapshot_and_restore needs a harness built with OperatorHarness::new (a factory)".into())
        })?;
        let id = CheckpointId(self.next_checkpoint);
        self.next_checkpoint += 1;
        self.generation += 1;
        let operator_state = self.operator.snapshot(id, &mut self.ctx)?;
        let restored: Option<Box<dyn KeyedStateBackend>> = match self.backend {
            Some(current) => Some(self.snapshot_keyed(id, current, kind)?),
            None => None,
        };
        let mut info = self.info.clone();
        info.restored_checkpoint = Some(id);
        let local = self.dir.subdir(&format!("local-{}", self.generation))?;
        let keyed = restored.is_some();
        let mut ctx = OperatorContext::new(
            info.clone(),
            restored,
            Arc::new(self.clock.clone()),
            local,
            operator_state,
        )?;
        let mut operator = factory.create(&info)?;
        operator.open(&mut ctx)?;
        self.operator = operator;
        self.ctx = ctx;
        self.info = info;
        if keyed {
            self.backend = Some(kind);
        }
        Ok(())
    }

    fn snapshot_keyed(
        &mut self,
        id: CheckpointId,
        current: BackendKind,
        kind: BackendKind,
    ) -> Result<Box<dyn KeyedStateBackend>> {
        let checkpoint_kind = if current == kind {
            CheckpointKind::Checkpoint
        } else {
            CheckpointKind::Savepoint
        };
        let snapshot = self
            .ctx
            .snapshot_keyed_state(id, checkpoint_kind)?
            .ok_or_else(|| Error::Internal("keyed harness without a state backend".into()))?;
        let storage = Arc::new(CheckpointStorage::local(&self.dir.path().join("checkpoints"))?);
        let uid = self.info.operator_uid.clone();
        let subtask = self.info.subtask;
        let (dir, shared_dir) = match checkpoint_kind {
            CheckpointKind::Checkpoint => (
                format!("{}/{uid}/{subtask}", CheckpointStorage::checkpoint_dir(id)),
                Some(format!("shared/{uid}")),
            ),
            CheckpointKind::Savepoint => (format!("savepoint-{}/{uid}/{subtask}", id.0), None),
        };
        let target = SnapshotTarget {
            storage: storage.clone(),
            checkpoint: id,
            operator: uid,
            subtask,
            dir,
            shared_dir,
        };
        let handle = block_on(move || snapshot.upload(target))??;
        let local = self.dir.subdir(&format!("state-{}", self.generation))?;
        let range = self.info.key_groups;
        block_on(move || async move { restore_keyed_backend(kind, range, &[handle], &storage, &local).await })?
    }

    /// The operator's context (state, timers, counters, watermark).
    pub fn ctx(&self) -> &OperatorContext {
        &self.ctx
    }

    /// The operator's context, mutably.
    pub fn ctx_mut(&mut self) -> &mut OperatorContext {
        &mut self.ctx
    }

    /// The operator.
    pub fn operator_mut(&mut self) -> &mut dyn Operator {
        self.operator.as_mut()
    }

    /// The clock the operator reads.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The subtask's identity.
    pub fn info(&self) -> &TaskInfo {
        &self.info
    }

    /// The kind of the current keyed backend (`None` if not keyed).
    pub fn backend_kind(&self) -> Option<BackendKind> {
        self.backend
    }

    /// Records dropped as too late so far (see `OperatorContext::count_late_dropped`).
    pub fn late_records_dropped(&self) -> u64 {
        self.ctx.counters().late_records_dropped.load(Ordering::Relaxed)
    }

    /// Records sent to a late-data side output so far.
    pub fn late_records_side_output(&self) -> u64 {
        self.ctx.counters().late_records_side_output.load(Ordering::Relaxed)
    }
}

//! The task loops: one task runs one subtask of a chain, optionally headed by a source.
//!
//! A source task alternates between control messages (checkpoint triggers, completion notices,
//! cancellation) and polling its source; sending downstream awaits channel capacity, which is
//! how backpressure reaches the source. Other tasks select over control, their input channels
//! (with barrier alignment) and a timer tick that flushes buffers after the buffer timeout and
//! fires processing-time timers. Loops only route: the work is in [`Chain`], [`TaskOutputs`] and
//! [`InputGate`].

use crate::chain::{Chain, Emitted, OperatorSnapshotPart};
use crate::exchange::TaskOutputs;
use crate::input::{Alignment, BarrierAligner, InputGate};
use crate::metrics::OperatorMetrics;
use arrow::array::{Array, Int64Array, TimestampMillisecondArray};
use arrow::record_batch::RecordBatch;
use freshet_core::watermark::{CombinedUpdate, InputWatermarks, SourceWatermarks, WatermarkUpdate};
use freshet_core::SubtaskIndex;
use freshet_core::{
    Barrier, CheckpointId, CheckpointKind, Clock, Error, KeyGroupRange, OperatorUid, Result, StreamElement,
};
use freshet_dataflow::{NodeId, Source, SourcePoll};
use freshet_state::backend::SnapshotTarget;
use freshet_state::metadata::SubtaskSnapshot;
use freshet_state::CheckpointStorage;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Identifies a task: chain index and subtask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskRef {
    /// Index of the chain in the plan.
    pub chain: usize,
    /// Subtask index.
    pub subtask: u32,
}

/// The id a finished source's last snapshot is taken under; the source is notified of it when
/// the job's final checkpoint completes (whatever that checkpoint's own id).
const FINAL_SOURCE_SNAPSHOT: CheckpointId = CheckpointId(u64::MAX);

/// Messages from the coordinator to a task.
#[derive(Debug, Clone)]
pub enum TaskControl {
    /// Sources only: inject this barrier.
    TriggerCheckpoint(Barrier),
    /// The checkpoint completed: sinks may commit.
    CheckpointComplete(CheckpointId),
    /// The job finished with this final checkpoint: notify and exit.
    JobFinished(CheckpointId),
    /// Stop now.
    Cancel,
}

/// Snapshots of a task's operators, by uid.
pub type TaskSnapshots = Vec<(OperatorUid, SubtaskSnapshot)>;

/// Messages from a task to the coordinator.
#[derive(Debug)]
pub enum TaskEvent {
    /// The task's part of a checkpoint is uploaded.
    Acked {
        /// Who.
        task: TaskRef,
        /// Which checkpoint.
        checkpoint: CheckpointId,
        /// The snapshots of its operators.
        snapshots: TaskSnapshots,
    },
    /// The task could not take its part of a checkpoint.
    Declined {
        /// Who.
        task: TaskRef,
        /// Which checkpoint.
        checkpoint: CheckpointId,
        /// Why.
        reason: String,
    },
    /// All inputs ended; the task has flushed everything downstream.
    Finished {
        /// Who.
        task: TaskRef,
        /// Its final (positions-only) snapshots, used for checkpoints taken after it finished.
        snapshots: TaskSnapshots,
        /// The newest checkpoint it took a snapshot for before finishing (0 if none): for that
        /// one and older, its real acknowledgement counts, not the final snapshot.
        snapshotted_up_to: u64,
    },
}

/// Where snapshots of checkpoint `N` go: checkpoints to the checkpoint storage, savepoints to
/// the storage registered for their id.
#[derive(Debug, Clone)]
pub struct SnapshotLocations {
    /// Checkpoint storage.
    pub checkpoints: Arc<CheckpointStorage>,
    /// Savepoint storages by id, registered by the coordinator before triggering.
    pub savepoints: Arc<Mutex<HashMap<CheckpointId, Arc<CheckpointStorage>>>>,
}

impl SnapshotLocations {
    fn target(&self, barrier: &Barrier, uid: &OperatorUid, subtask: u32) -> Result<SnapshotTarget> {
        let (storage, dir, shared_dir) = match barrier.kind {
            CheckpointKind::Checkpoint => (
                self.checkpoints.clone(),
                format!("{}/{}/{}", CheckpointStorage::checkpoint_dir(barrier.id), uid, subtask),
                Some(format!("shared/{uid}")),
            ),
            CheckpointKind::Savepoint => {
                let storage =
                    self.savepoints.lock().get(&barrier.id).cloned().ok_or_else(|| {
                        Error::Internal(format!("no location registered for savepoint {}", barrier.id))
                    })?;
                (storage, format!("{uid}/{subtask}"), None)
            }
        };
        Ok(SnapshotTarget {
            storage,
            checkpoint: barrier.id,
            operator: uid.clone(),
            subtask: SubtaskIndex(subtask),
            dir,
            shared_dir,
        })
    }
}

/// A source at the head of a task.
pub struct SourceHead {
    /// The source's node.
    pub node: NodeId,
    /// Its uid.
    pub uid: OperatorUid,
    /// The source.
    pub source: Box<dyn Source>,
    /// Event-time column index and watermark generation, if event time is used.
    pub watermarks: Option<(usize, SourceWatermarks)>,
    /// Counters.
    pub metrics: Arc<OperatorMetrics>,
}

/// Everything one task needs.
pub struct Task {
    /// Who it is.
    pub id: TaskRef,
    /// Display name (the chain's operators).
    pub name: String,
    /// The source at its head, if any.
    pub source: Option<SourceHead>,
    /// The fused operators.
    pub chain: Chain,
    /// Incoming channels (empty for a source task).
    pub inputs: InputGate,
    /// Outgoing edges.
    pub outputs: TaskOutputs,
    /// Control from the coordinator.
    pub control: UnboundedReceiver<TaskControl>,
    /// Events to the coordinator.
    pub events: UnboundedSender<TaskEvent>,
    /// Where snapshots go.
    pub locations: SnapshotLocations,
    /// Key groups per operator uid (for snapshot records).
    pub key_groups: KeyGroupRange,
    /// Clock for processing time and idleness.
    pub clock: Arc<dyn Clock>,
    /// How often buffers and processing-time timers are checked.
    pub tick: Duration,
    /// The newest checkpoint snapshotted by this task.
    pub last_snapshot: u64,
}

enum Next {
    Control(Option<TaskControl>),
    Input(Option<(usize, Option<StreamElement>)>),
    Tick,
}

/// What ended a task loop.
enum Exit {
    Finished,
    Cancelled,
}

fn max_timestamp(batch: &RecordBatch, column: usize) -> Option<i64> {
    let col = batch.column(column);
    if let Some(a) = col.as_any().downcast_ref::<TimestampMillisecondArray>() {
        return arrow::compute::max(a);
    }
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return arrow::compute::max(a);
    }
    None
}

impl Task {
    /// Runs the task until it finishes (and the job's final checkpoint is acknowledged) or is
    /// cancelled. An error fails the job.
    pub async fn run(mut self) -> Result<()> {
        self.chain.open()?;
        let exit = if self.source.is_some() {
            self.run_source().await?
        } else {
            self.run_operators().await?
        };
        match exit {
            Exit::Cancelled => Ok(()),
            Exit::Finished => self.after_finish().await,
        }
    }

    async fn route(&mut self, emitted: Vec<Emitted>) -> Result<()> {
        for (node, tag, batch) in emitted {
            self.outputs.emit(node, tag.as_deref(), batch).await?;
        }
        Ok(())
    }

    async fn push_head(&mut self, input: usize, batch: RecordBatch, from: Option<NodeId>) -> Result<()> {
        let mut emitted = Vec::new();
        if self.chain.is_empty() {
            if let Some(node) = from {
                emitted.push((node, None, batch));
            }
        } else {
            let started = Instant::now();
            self.chain.push(0, input, batch, &mut emitted)?;
            self.outputs
                .metrics()
                .busy_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        self.route(emitted).await
    }

    async fn advance_watermark(&mut self, watermark: i64) -> Result<()> {
        let mut emitted = Vec::new();
        self.chain.watermark(watermark, &mut emitted)?;
        self.route(emitted).await?;
        self.outputs.broadcast(StreamElement::Watermark(watermark)).await
    }

    async fn on_tick(&mut self) -> Result<()> {
        let now = self.clock.now_ms();
        if self.chain.next_processing_timer().is_some_and(|t| t <= now) {
            let mut emitted = Vec::new();
            self.chain.processing_time(now, &mut emitted)?;
            self.route(emitted).await?;
        }
        self.outputs.flush_expired().await
    }

    /// Snapshot at a barrier: positions and operator state synchronously, barrier forwarded,
    /// keyed state uploaded in the background, then acknowledged.
    async fn checkpoint(&mut self, barrier: Barrier) -> Result<()> {
        let mut parts: Vec<OperatorSnapshotPart> = Vec::new();
        if let Some(head) = self.source.as_mut() {
            let positions = head.source.snapshot(barrier.id)?;
            parts.push(OperatorSnapshotPart {
                uid: head.uid.clone(),
                keyed: None,
                operator_state: positions,
            });
        }
        parts.extend(self.chain.snapshot(barrier.id, barrier.kind)?);
        self.last_snapshot = self.last_snapshot.max(barrier.id.0);
        self.outputs.broadcast(StreamElement::Barrier(barrier)).await?;

        let mut targets = Vec::with_capacity(parts.len());
        for p in &parts {
            targets.push(self.locations.target(&barrier, &p.uid, self.id.subtask)?);
        }
        let events = self.events.clone();
        let task = self.id;
        let key_groups = self.key_groups;
        tokio::spawn(async move {
            let mut snapshots = Vec::with_capacity(parts.len());
            for (part, target) in parts.into_iter().zip(targets) {
                let keyed = match part.keyed {
                    Some(s) => match s.upload(target).await {
                        Ok(h) => Some(h),
                        Err(e) => {
                            let _ = events.send(TaskEvent::Declined {
                                task,
                                checkpoint: barrier.id,
                                reason: e.to_string(),
                            });
                            return;
                        }
                    },
                    None => None,
                };
                snapshots.push((
                    part.uid,
                    SubtaskSnapshot {
                        subtask: task.subtask,
                        key_groups,
                        keyed,
                        operator_state: part.operator_state,
                    },
                ));
            }
            let _ = events.send(TaskEvent::Acked {
                task,
                checkpoint: barrier.id,
                snapshots,
            });
        });
        Ok(())
    }

    /// The snapshots a finished task contributes to every later checkpoint.
    fn final_snapshots(&mut self) -> Result<TaskSnapshots> {
        let mut out = Vec::new();
        if let Some(head) = self.source.as_mut() {
            let positions = head.source.snapshot(FINAL_SOURCE_SNAPSHOT)?;
            out.push((
                head.uid.clone(),
                SubtaskSnapshot {
                    subtask: self.id.subtask,
                    key_groups: self.key_groups,
                    keyed: None,
                    operator_state: positions,
                },
            ));
        }
        for uid in self.chain.uids() {
            out.push((
                uid,
                SubtaskSnapshot {
                    subtask: self.id.subtask,
                    key_groups: self.key_groups,
                    keyed: None,
                    operator_state: Vec::new(),
                },
            ));
        }
        Ok(out)
    }

    /// Handles a control message; `Some(exit)` ends the loop.
    async fn on_control(&mut self, control: Option<TaskControl>) -> Result<Option<Exit>> {
        match control {
            None | Some(TaskControl::Cancel) => Ok(Some(Exit::Cancelled)),
            Some(TaskControl::TriggerCheckpoint(barrier)) => {
                self.checkpoint(barrier).await?;
                Ok(None)
            }
            Some(TaskControl::CheckpointComplete(id)) => {
                if let Some(head) = self.source.as_mut() {
                    head.source.notify_checkpoint_complete(id)?;
                }
                self.chain.notify_complete(id)?;
                Ok(None)
            }
            Some(TaskControl::JobFinished(id)) => {
                // The job's final checkpoint covers the source's final snapshot.
                if let Some(head) = self.source.as_mut() {
                    head.source.notify_checkpoint_complete(FINAL_SOURCE_SNAPSHOT)?;
                }
                self.chain.notify_complete(id)?;
                Ok(Some(Exit::Cancelled))
            }
        }
    }

    async fn run_source(&mut self) -> Result<Exit> {
        let mut last_tick = Instant::now();
        let mut batches_since_yield = 0u32;
        loop {
            while let Ok(control) = self.control.try_recv() {
                if let Some(exit) = self.on_control(Some(control)).await? {
                    return Ok(exit);
                }
            }
            let Some(head) = self.source.as_mut() else {
                return Err(Error::Internal("source task without a source".into()));
            };
            let started = Instant::now();
            let poll = head.source.poll_batch()?;
            self.outputs
                .metrics()
                .busy_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let node = head.node;
            let now = self.clock.now_ms();
            match poll {
                SourcePoll::Batch { split, batch } => {
                    head.metrics
                        .count_out(batch.num_rows(), crate::metrics::batch_bytes(&batch));
                    if let Some((column, wm)) = head.watermarks.as_mut() {
                        if let Some(max) = max_timestamp(&batch, *column) {
                            wm.observe(split, max, now);
                        }
                    }
                    self.push_head(0, batch, Some(node)).await?;
                    self.poll_source_watermark(now).await?;
                    batches_since_yield += 1;
                    if batches_since_yield >= 16 {
                        batches_since_yield = 0;
                        tokio::task::yield_now().await;
                    }
                }
                SourcePoll::SplitFinished(split) => {
                    if let Some((_, wm)) = head.watermarks.as_mut() {
                        wm.finish_split(split);
                    }
                    self.poll_source_watermark(now).await?;
                }
                SourcePoll::Pending => {
                    self.poll_source_watermark(now).await?;
                    self.outputs.flush_expired().await?;
                    tokio::select! {
                        control = self.control.recv() => {
                            if let Some(exit) = self.on_control(control).await? {
                                return Ok(exit);
                            }
                        }
                        _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                    }
                }
                SourcePoll::Finished => {
                    let mut emitted = Vec::new();
                    self.chain.finish(&mut emitted)?;
                    self.route(emitted).await?;
                    self.outputs.broadcast(StreamElement::Watermark(i64::MAX)).await?;
                    self.outputs.broadcast(StreamElement::EndOfInput).await?;
                    return Ok(Exit::Finished);
                }
            }
            if last_tick.elapsed() >= self.tick {
                last_tick = Instant::now();
                self.on_tick().await?;
            }
        }
    }

    async fn poll_source_watermark(&mut self, now: i64) -> Result<()> {
        let update = match self.source.as_mut().and_then(|h| h.watermarks.as_mut()) {
            Some((_, wm)) => wm.poll(now),
            None => return Ok(()),
        };
        match update {
            WatermarkUpdate::Unchanged => Ok(()),
            WatermarkUpdate::Advanced(w) => self.advance_watermark(w).await,
            WatermarkUpdate::BecameIdle => self.outputs.broadcast(StreamElement::Idle(true)).await,
            WatermarkUpdate::BecameActive => self.outputs.broadcast(StreamElement::Idle(false)).await,
        }
    }

    async fn run_operators(&mut self) -> Result<Exit> {
        let mut aligner = BarrierAligner::new(self.inputs.len());
        let mut watermarks = InputWatermarks::new(self.inputs.len());
        // When the first barrier of the checkpoint being aligned arrived.
        let mut alignment_started: Option<Instant> = None;
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = tokio::select! {
                biased;
                control = self.control.recv() => Next::Control(control),
                _ = tick.tick() => Next::Tick,
                item = self.inputs.next(&aligner) => Next::Input(item),
            };
            match next {
                Next::Control(control) => {
                    if let Some(exit) = self.on_control(control).await? {
                        return Ok(exit);
                    }
                }
                Next::Tick => self.on_tick().await?,
                Next::Input(None) => return Err(Error::Internal("input gate drained without end of input".into())),
                Next::Input(Some((channel, None))) => {
                    return Err(Error::ChannelClosed(format!(
                        "input channel {channel} closed before end of input (an upstream task failed)"
                    )))
                }
                Next::Input(Some((channel, Some(element)))) => match element {
                    StreamElement::Batch(batch) => {
                        let input = self.inputs.input_of(channel);
                        self.push_head(input, batch, None).await?;
                    }
                    StreamElement::Watermark(w) => {
                        let update = watermarks.on_watermark(channel, w);
                        self.on_combined(update).await?;
                    }
                    StreamElement::Idle(idle) => {
                        let update = watermarks.on_idle(channel, idle);
                        self.on_combined(update).await?;
                    }
                    StreamElement::Barrier(barrier) => {
                        match aligner.on_barrier(channel, barrier, self.inputs.ended()) {
                            Alignment::Complete(b) => {
                                let took = alignment_started.take().map_or(0, |t| t.elapsed().as_nanos() as u64);
                                self.outputs.metrics().last_alignment_ns.store(took, Ordering::Relaxed);
                                self.checkpoint(b).await?;
                            }
                            Alignment::Waiting => {
                                alignment_started.get_or_insert_with(Instant::now);
                            }
                            Alignment::Stale => {}
                        }
                    }
                    StreamElement::EndOfInput => {
                        self.inputs.mark_ended(channel);
                        if let Alignment::Complete(b) = aligner.on_end(self.inputs.ended()) {
                            alignment_started = None;
                            self.checkpoint(b).await?;
                        }
                        if self.inputs.all_ended() {
                            let mut emitted = Vec::new();
                            self.chain.finish(&mut emitted)?;
                            self.route(emitted).await?;
                            self.outputs.broadcast(StreamElement::Watermark(i64::MAX)).await?;
                            self.outputs.broadcast(StreamElement::EndOfInput).await?;
                            return Ok(Exit::Finished);
                        }
                        let update = watermarks.on_end(channel);
                        self.on_combined(update).await?;
                    }
                },
            }
        }
    }

    async fn on_combined(&mut self, update: CombinedUpdate) -> Result<()> {
        match update {
            CombinedUpdate::Unchanged => Ok(()),
            CombinedUpdate::Advanced(w) => self.advance_watermark(w).await,
            CombinedUpdate::BecameIdle => self.outputs.broadcast(StreamElement::Idle(true)).await,
            CombinedUpdate::BecameActive => self.outputs.broadcast(StreamElement::Idle(false)).await,
        }
    }

    /// After end of input: report, then serve completion notices until the job ends.
    async fn after_finish(&mut self) -> Result<()> {
        let snapshots = self.final_snapshots()?;
        let _ = self.events.send(TaskEvent::Finished {
            task: self.id,
            snapshots,
            snapshotted_up_to: self.last_snapshot,
        });
        loop {
            let control = self.control.recv().await;
            match control {
                Some(TaskControl::TriggerCheckpoint(_)) => {}
                other => {
                    if self.on_control(other).await?.is_some() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

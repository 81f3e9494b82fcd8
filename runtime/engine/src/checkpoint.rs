//! Checkpoint bookkeeping, free of transport: which tasks still owe an acknowledgement, the
//! snapshots collected so far, timeouts, consecutive failures, and which completed checkpoints
//! to retain. The executor feeds it events and performs the I/O it asks for.

use crate::task::{TaskRef, TaskSnapshots};
use freshet_core::{Barrier, CheckpointId, CheckpointKind};
use freshet_state::metadata::{CheckpointMetadata, OperatorSnapshot, SubtaskSnapshot};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Parallelism and max parallelism of an operator, by uid.
pub type OperatorShapes = BTreeMap<String, (u32, u32)>;

/// A checkpoint in progress.
#[derive(Debug)]
pub struct PendingCheckpoint {
    /// Its barrier.
    pub barrier: Barrier,
    awaiting: BTreeSet<TaskRef>,
    snapshots: BTreeMap<String, Vec<SubtaskSnapshot>>,
    started: Instant,
}

impl PendingCheckpoint {
    /// Tasks that have not acknowledged yet.
    pub fn awaiting(&self) -> &BTreeSet<TaskRef> {
        &self.awaiting
    }
}

/// What happened to the pending checkpoint after an event.
#[derive(Debug)]
pub enum Progress {
    /// Nothing decided yet.
    Pending,
    /// Every task acknowledged: here is the metadata to write.
    Complete(Box<CheckpointMetadata>),
    /// The checkpoint failed.
    Failed {
        /// Which one.
        id: CheckpointId,
        /// Why.
        reason: String,
        /// Whether the consecutive failures exceed the tolerated number (fail the job).
        fail_job: bool,
    },
}

/// Tracks checkpoints of one job (across restarts).
#[derive(Debug)]
pub struct CheckpointTracker {
    job_name: String,
    shapes: OperatorShapes,
    next_id: u64,
    pending: Option<PendingCheckpoint>,
    finished: HashMap<TaskRef, (TaskSnapshots, u64)>,
    consecutive_failures: u32,
    tolerable_failures: u32,
    timeout: Duration,
}

fn add_snapshots(into: &mut BTreeMap<String, Vec<SubtaskSnapshot>>, snapshots: &TaskSnapshots) {
    for (uid, s) in snapshots {
        into.entry(uid.to_string()).or_default().push(s.clone());
    }
}

impl CheckpointTracker {
    /// A tracker whose next checkpoint id is `next_id`.
    pub fn new(
        job_name: &str,
        shapes: OperatorShapes,
        next_id: u64,
        tolerable_failures: u32,
        timeout: Duration,
    ) -> Self {
        Self {
            job_name: job_name.to_string(),
            shapes,
            next_id: next_id.max(1),
            pending: None,
            finished: HashMap::new(),
            consecutive_failures: 0,
            tolerable_failures,
            timeout,
        }
    }

    /// Forgets per-attempt state (finished tasks, the pending checkpoint) before a restart.
    pub fn reset_attempt(&mut self) {
        self.pending = None;
        self.finished.clear();
    }

    /// The checkpoint in progress.
    pub fn pending(&self) -> Option<&PendingCheckpoint> {
        self.pending.as_ref()
    }

    /// Takes the next id without starting a checkpoint (the final checkpoint).
    pub fn allocate_id(&mut self) -> CheckpointId {
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Starts a checkpoint over `tasks`; finished tasks count with their final snapshots.
    pub fn begin(&mut self, kind: CheckpointKind, now_ms: i64, tasks: &[TaskRef]) -> Barrier {
        let barrier = Barrier {
            id: self.allocate_id(),
            triggered_at_ms: now_ms,
            kind,
        };
        let mut snapshots = BTreeMap::new();
        let mut awaiting = BTreeSet::new();
        for t in tasks {
            match self.finished.get(t) {
                Some((final_snapshots, _)) => add_snapshots(&mut snapshots, final_snapshots),
                None => {
                    awaiting.insert(*t);
                }
            }
        }
        self.pending = Some(PendingCheckpoint {
            barrier,
            awaiting,
            snapshots,
            started: Instant::now(),
        });
        barrier
    }

    fn try_complete(&mut self, now_ms: i64) -> Progress {
        let done = self.pending.as_ref().is_some_and(|p| p.awaiting.is_empty());
        if !done {
            return Progress::Pending;
        }
        let Some(p) = self.pending.take() else {
            return Progress::Pending;
        };
        self.consecutive_failures = 0;
        Progress::Complete(Box::new(self.metadata(p.barrier, p.snapshots, now_ms, false)))
    }

    /// Builds checkpoint metadata from collected snapshots.
    pub fn metadata(
        &self,
        barrier: Barrier,
        snapshots: BTreeMap<String, Vec<SubtaskSnapshot>>,
        now_ms: i64,
        finished: bool,
    ) -> CheckpointMetadata {
        let operators = snapshots
            .into_iter()
            .map(|(uid, mut subtasks)| {
                subtasks.sort_by_key(|s| s.subtask);
                let (parallelism, max_parallelism) =
                    self.shapes.get(&uid).copied().unwrap_or((subtasks.len() as u32, 128));
                (
                    uid,
                    OperatorSnapshot {
                        parallelism,
                        max_parallelism,
                        subtasks,
                    },
                )
            })
            .collect();
        CheckpointMetadata {
            version: CheckpointMetadata::VERSION,
            id: barrier.id,
            kind: barrier.kind,
            job_name: self.job_name.clone(),
            triggered_at_ms: barrier.triggered_at_ms,
            completed_at_ms: now_ms,
            finished,
            operators,
        }
    }

    /// A task acknowledged checkpoint `id`.
    pub fn on_ack(&mut self, task: TaskRef, id: CheckpointId, snapshots: &TaskSnapshots, now_ms: i64) -> Progress {
        let Some(p) = self.pending.as_mut().filter(|p| p.barrier.id == id) else {
            return Progress::Pending;
        };
        if !p.awaiting.remove(&task) {
            return Progress::Pending;
        }
        add_snapshots(&mut p.snapshots, snapshots);
        self.try_complete(now_ms)
    }

    /// A task finished; it will not acknowledge checkpoints it has not snapshotted.
    pub fn on_finished(
        &mut self,
        task: TaskRef,
        snapshots: TaskSnapshots,
        snapshotted_up_to: u64,
        now_ms: i64,
    ) -> Progress {
        if let Some(p) = self.pending.as_mut() {
            if p.barrier.id.0 > snapshotted_up_to && p.awaiting.remove(&task) {
                add_snapshots(&mut p.snapshots, &snapshots);
            }
        }
        self.finished.insert(task, (snapshots, snapshotted_up_to));
        self.try_complete(now_ms)
    }

    /// Whether `task` has finished.
    pub fn is_finished(&self, task: &TaskRef) -> bool {
        self.finished.contains_key(task)
    }

    /// Number of finished tasks.
    pub fn finished_count(&self) -> usize {
        self.finished.len()
    }

    /// The final snapshots of all finished tasks.
    pub fn final_snapshots(&self) -> BTreeMap<String, Vec<SubtaskSnapshot>> {
        let mut out = BTreeMap::new();
        for (snapshots, _) in self.finished.values() {
            add_snapshots(&mut out, snapshots);
        }
        out
    }

    /// The pending checkpoint failed (declined, or its metadata could not be written).
    pub fn fail(&mut self, id: CheckpointId, reason: String) -> Progress {
        match &self.pending {
            Some(p) if p.barrier.id == id => {
                self.pending = None;
            }
            _ => {}
        }
        self.consecutive_failures += 1;
        Progress::Failed {
            id,
            reason,
            fail_job: self.consecutive_failures > self.tolerable_failures,
        }
    }

    /// Fails the pending checkpoint if it has run longer than the timeout.
    pub fn check_timeout(&mut self) -> Progress {
        let expired = self
            .pending
            .as_ref()
            .filter(|p| p.started.elapsed() >= self.timeout)
            .map(|p| p.barrier.id);
        match expired {
            Some(id) => self.fail(id, format!("checkpoint {id} timed out after {:?}", self.timeout)),
            None => Progress::Pending,
        }
    }
}

/// Completed checkpoints kept for recovery; older ones are discarded.
#[derive(Debug, Default)]
pub struct RetainedCheckpoints {
    retained: VecDeque<CheckpointMetadata>,
    max: usize,
}

/// What to delete after a checkpoint was discarded.
#[derive(Debug, Default, PartialEq)]
pub struct Discard {
    /// Checkpoint directories to delete.
    pub dirs: Vec<String>,
    /// Shared files no retained checkpoint references any more.
    pub shared_files: Vec<String>,
}

impl RetainedCheckpoints {
    /// Keeps at most `max` (at least 1) checkpoints.
    pub fn new(max: usize) -> Self {
        Self {
            retained: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// The newest retained checkpoint.
    pub fn latest(&self) -> Option<&CheckpointMetadata> {
        self.retained.back()
    }

    /// Adds a completed checkpoint; returns what the discarded ones leave to delete.
    pub fn add(&mut self, metadata: CheckpointMetadata) -> Discard {
        self.retained.push_back(metadata);
        let mut discard = Discard::default();
        while self.retained.len() > self.max {
            let Some(old) = self.retained.pop_front() else { break };
            let still_used: BTreeSet<&str> = self
                .retained
                .iter()
                .flat_map(|m| m.operators.values())
                .flat_map(|o| o.subtasks.iter())
                .filter_map(|s| s.keyed.as_ref())
                .flat_map(|k| k.files())
                .map(|f| f.path.as_str())
                .collect();
            let dir = freshet_state::CheckpointStorage::checkpoint_dir(old.id);
            for f in old
                .operators
                .values()
                .flat_map(|o| o.subtasks.iter())
                .filter_map(|s| s.keyed.as_ref())
                .flat_map(|k| k.files())
            {
                if !f.path.starts_with(&format!("{dir}/")) && !still_used.contains(f.path.as_str()) {
                    discard.shared_files.push(f.path.clone());
                }
            }
            discard.dirs.push(dir);
        }
        discard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::KeyGroupRange;
    use freshet_state::metadata::{KeyedStateHandle, StateFile};

    fn task(c: usize, s: u32) -> TaskRef {
        TaskRef { chain: c, subtask: s }
    }

    fn snap(uid: &str, subtask: u32, files: &[&str]) -> TaskSnapshots {
        vec![(
            freshet_core::OperatorUid::new(uid),
            SubtaskSnapshot {
                subtask,
                key_groups: KeyGroupRange::all(128),
                keyed: Some(KeyedStateHandle::Incremental {
                    key_groups: KeyGroupRange::all(128),
                    shared: files
                        .iter()
                        .map(|p| StateFile {
                            path: p.to_string(),
                            size: 1,
                        })
                        .collect(),
                    private: vec![],
                    state_names: vec![],
                }),
                operator_state: vec![],
            },
        )]
    }

    #[test]
    fn completes_when_all_tasks_acked() {
        let mut t = CheckpointTracker::new("j", OperatorShapes::new(), 1, 0, Duration::from_secs(60));
        let tasks = [task(0, 0), task(0, 1)];
        let b = t.begin(CheckpointKind::Checkpoint, 0, &tasks);
        assert_eq!(b.id, CheckpointId(1));
        assert!(matches!(
            t.on_ack(task(0, 0), b.id, &snap("w", 0, &[]), 1),
            Progress::Pending
        ));
        match t.on_ack(task(0, 1), b.id, &snap("w", 1, &[]), 1) {
            Progress::Complete(m) => {
                assert_eq!(m.operators["w"].subtasks.len(), 2);
                assert_eq!(m.operators["w"].subtasks[1].subtask, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn finished_task_counts_only_for_checkpoints_it_did_not_snapshot() {
        let mut t = CheckpointTracker::new("j", OperatorShapes::new(), 1, 0, Duration::from_secs(60));
        let tasks = [task(0, 0), task(1, 0)];
        let b = t.begin(CheckpointKind::Checkpoint, 0, &tasks);
        // task(0,0) snapshotted checkpoint 1 and then finished before its upload was acked.
        assert!(matches!(
            t.on_finished(task(0, 0), snap("src", 0, &[]), 1, 0),
            Progress::Pending
        ));
        assert!(t.pending().is_some_and(|p| p.awaiting().contains(&task(0, 0))));
        assert!(matches!(
            t.on_ack(task(0, 0), b.id, &snap("src", 0, &[]), 0),
            Progress::Pending
        ));
        assert!(matches!(
            t.on_ack(task(1, 0), b.id, &snap("w", 0, &[]), 0),
            Progress::Complete(_)
        ));
        // The next checkpoint uses the final snapshot.
        let b2 = t.begin(CheckpointKind::Checkpoint, 0, &tasks);
        assert!(matches!(
            t.on_ack(task(1, 0), b2.id, &snap("w", 0, &[]), 0),
            Progress::Complete(_)
        ));
    }

    #[test]
    fn tolerates_configured_failures() {
        let mut t = CheckpointTracker::new("j", OperatorShapes::new(), 1, 1, Duration::from_secs(60));
        let b = t.begin(CheckpointKind::Checkpoint, 0, &[task(0, 0)]);
        assert!(matches!(
            t.fail(b.id, "x".into()),
            Progress::Failed { fail_job: false, .. }
        ));
        let b = t.begin(CheckpointKind::Checkpoint, 0, &[task(0, 0)]);
        assert!(matches!(
            t.fail(b.id, "x".into()),
            Progress::Failed { fail_job: true, .. }
        ));
    }

    #[test]
    fn retention_deletes_unreferenced_shared_files() {
        let t = CheckpointTracker::new("j", OperatorShapes::new(), 1, 0, Duration::from_secs(60));
        let mut r = RetainedCheckpoints::new(1);
        let meta = |id: u64, files: &[&str]| {
            let mut m = BTreeMap::new();
            add_snapshots(&mut m, &snap("w", 0, files));
            t.metadata(
                Barrier {
                    id: CheckpointId(id),
                    triggered_at_ms: 0,
                    kind: CheckpointKind::Checkpoint,
                },
                m,
                0,
                false,
            )
        };
        assert_eq!(r.add(meta(1, &["shared/w/a", "shared/w/b"])), Discard::default());
        let d = r.add(meta(2, &["shared/w/b", "shared/w/c"]));
        assert_eq!(d.dirs, vec!["chk-1".to_string()]);
        assert_eq!(d.shared_files, vec!["shared/w/a".to_string()]);
        assert_eq!(r.latest().map(|m| m.id), Some(CheckpointId(2)));
    }
}

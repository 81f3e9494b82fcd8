//! End to end through the connectors' contracts, without the engine: a Nexmark source feeds the
//! exactly-once file sink, checkpoints are taken and completed by hand, the "process" crashes
//! mid-stream, and a new run restores source positions and sink directory. The committed output
//! must equal the failure-free output exactly: no row lost, none duplicated.

use arrow::record_batch::RecordBatch;
use freshet_connectors::file_sink::{FileSink, FileSinkConfig};
use freshet_connectors::nexmark::{generate, NexmarkConfig, NexmarkSource, NexmarkTable};
use freshet_core::{CheckpointId, KeyGroupRange, ManualClock, OperatorUid, SubtaskIndex};
use freshet_dataflow::{Collector, Operator, OperatorContext, Source, SourceContext, SourcePoll, TaskInfo};
use std::path::Path;
use std::sync::Arc;

fn info(subtask: u32, parallelism: u32, run_id: &str, restored: Option<u64>, finished: bool) -> TaskInfo {
    TaskInfo {
        job_name: "exactly-once".into(),
        operator_uid: OperatorUid::new("op"),
        operator_name: "op".into(),
        subtask: SubtaskIndex(subtask),
        parallelism,
        max_parallelism: 128,
        key_groups: KeyGroupRange::for_subtask(128, parallelism, SubtaskIndex(subtask)),
        run_id: run_id.into(),
        restored_checkpoint: restored.map(CheckpointId),
        restored_finished: finished,
    }
}

/// One source subtask chained to one sink subtask.
struct Pipeline {
    source: NexmarkSource,
    sink: FileSink,
    ctx: OperatorContext,
}

impl Pipeline {
    fn start(
        cfg: &NexmarkConfig,
        dir: &Path,
        i: u32,
        p: u32,
        run: &str,
        restored: Option<(u64, Vec<serde_json::Value>)>,
    ) -> Pipeline {
        let mut source = NexmarkSource::new(cfg.clone()).expect("source");
        let checkpoint = restored.as_ref().map(|(c, _)| *c);
        let mut sctx = SourceContext {
            info: info(i, p, run, checkpoint, false),
            clock: Arc::new(ManualClock::new(0)),
            restored: restored.map(|(_, items)| items).unwrap_or_default(),
            batch_size: 700,
        };
        source.open(&mut sctx).expect("open source");
        let mut sink = FileSink::new(FileSinkConfig {
            roll_bytes: 64 << 10,
            ..FileSinkConfig::new(dir.to_path_buf())
        })
        .expect("sink");
        let mut ctx = OperatorContext::new(
            info(i, p, run, checkpoint, false),
            None,
            Arc::new(ManualClock::new(0)),
            dir.to_path_buf(),
            Vec::new(),
        )
        .expect("context");
        sink.open(&mut ctx).expect("open sink");
        Pipeline { source, sink, ctx }
    }

    /// Moves up to `batches` batches; returns false once the source is finished.
    fn run(&mut self, batches: usize) -> bool {
        let mut moved = 0;
        while moved < batches {
            match self.source.poll_batch().expect("poll") {
                SourcePoll::Batch { batch, .. } => {
                    self.sink
                        .process_batch(0, batch, &mut self.ctx, &mut Collector::new())
                        .expect("write");
                    moved += 1;
                }
                SourcePoll::Finished => return false,
                SourcePoll::Pending | SourcePoll::SplitFinished(_) => {}
            }
        }
        true
    }

    /// Barrier `n`: the source's positions and the sink's pre-commit.
    fn checkpoint(&mut self, n: u64) -> Vec<serde_json::Value> {
        let positions = self.source.snapshot(CheckpointId(n)).expect("source snapshot");
        assert!(self
            .sink
            .snapshot(CheckpointId(n), &mut self.ctx)
            .expect("sink snapshot")
            .is_empty());
        positions
    }

    fn complete(&mut self, n: u64) {
        self.sink
            .notify_checkpoint_complete(CheckpointId(n), &mut self.ctx)
            .expect("notify");
    }

    fn finish(&mut self) {
        self.sink
            .end_of_input(&mut self.ctx, &mut Collector::new())
            .expect("end of input");
    }
}

fn json_lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
    for b in batches {
        w.write(b).expect("json");
    }
    w.finish().expect("json");
    let text = String::from_utf8(w.into_inner()).expect("utf8");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        lines.extend(
            std::fs::read_to_string(entry.path())
                .expect("read")
                .lines()
                .map(str::to_string),
        );
    }
    lines.sort();
    lines
}

#[test]
fn crash_and_restore_into_another_parallelism_is_exactly_once() {
    let cfg = NexmarkConfig {
        events: Some(60_000),
        generators: 6,
        table: NexmarkTable::Bid,
        ..NexmarkConfig::default()
    };
    let mut expected = Vec::new();
    generate(&cfg, 1000, |b| {
        expected.push(b);
        Ok(())
    })
    .expect("generate");
    let expected = json_lines(&expected);

    let dir = tempfile::tempdir().expect("tempdir");
    // Run 1: two subtasks; checkpoint 1 completes and is notified, checkpoint 2 completes but
    // the notification is lost, then both crash with more rows written.
    let mut restored_items = Vec::new();
    {
        let mut run1: Vec<Pipeline> = (0..2)
            .map(|i| Pipeline::start(&cfg, dir.path(), i, 2, "run1", None))
            .collect();
        for p in run1.iter_mut() {
            assert!(p.run(7));
            p.checkpoint(1);
        }
        for p in run1.iter_mut() {
            p.complete(1);
            assert!(p.run(9));
            restored_items.extend(p.checkpoint(2));
        }
        for p in run1.iter_mut() {
            assert!(p.run(5));
        }
    }
    assert!(committed_lines(dir.path()).len() < expected.len());

    // Run 2: restored from checkpoint 2 into three subtasks (items dealt round-robin).
    let mut run2: Vec<Pipeline> = (0..3)
        .map(|i| {
            let mine = restored_items.iter().skip(i as usize).step_by(3).cloned().collect();
            Pipeline::start(&cfg, dir.path(), i, 3, "run2", Some((2, mine)))
        })
        .collect();
    for p in run2.iter_mut() {
        p.run(4);
        p.checkpoint(3);
    }
    for p in run2.iter_mut() {
        p.complete(3);
        while p.run(100) {}
        p.finish();
    }
    // The final checkpoint.
    for p in run2.iter_mut() {
        p.checkpoint(4);
        p.complete(4);
    }
    let got = committed_lines(dir.path());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "committed output differs from the failure-free run");
    let hidden: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

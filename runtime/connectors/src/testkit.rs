//! Test fixtures shared by the connectors' unit tests: task identities, contexts, and a loop
//! that drains a source like the engine does.

use arrow::record_batch::RecordBatch;
use freshet_core::{Clock, KeyGroupRange, ManualClock, OperatorUid, Result, SubtaskIndex};
use freshet_dataflow::{OperatorContext, Source, SourceContext, SourcePoll, TaskInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// The identity of subtask `subtask` of `parallelism`, in execution attempt `run_id`.
pub fn task_info(subtask: u32, parallelism: u32, run_id: &str) -> TaskInfo {
    TaskInfo {
        job_name: "test".into(),
        operator_uid: OperatorUid::new("connector"),
        operator_name: "connector".into(),
        subtask: SubtaskIndex(subtask),
        parallelism,
        max_parallelism: 128,
        key_groups: KeyGroupRange::for_subtask(128, parallelism, SubtaskIndex(subtask)),
        run_id: run_id.into(),
        restored_checkpoint: None,
        restored_finished: false,
    }
}

/// A source context for subtask `subtask` of `parallelism` with a manual clock at 0.
pub fn source_ctx(
    subtask: u32,
    parallelism: u32,
    restored: Vec<serde_json::Value>,
    batch_size: usize,
) -> SourceContext {
    SourceContext {
        info: task_info(subtask, parallelism, "run"),
        clock: Arc::new(ManualClock::new(0)),
        restored,
        batch_size,
    }
}

/// A source context with a given clock.
pub fn source_ctx_with_clock(
    subtask: u32,
    parallelism: u32,
    clock: Arc<dyn Clock>,
    batch_size: usize,
) -> SourceContext {
    SourceContext {
        info: task_info(subtask, parallelism, "run"),
        clock,
        restored: Vec::new(),
        batch_size,
    }
}

/// An operator context for `info` (no keyed state).
pub fn op_ctx(info: TaskInfo) -> OperatorContext {
    let ctx = OperatorContext::new(
        info,
        None,
        Arc::new(ManualClock::new(0)),
        PathBuf::from("/tmp"),
        Vec::new(),
    );
    match ctx {
        Ok(c) => c,
        Err(e) => panic!("operator context: {e}"),
    }
}

/// What draining a source saw.
#[derive(Debug, Default)]
pub struct Drained {
    /// Batches with their splits.
    pub batches: Vec<(u32, RecordBatch)>,
    /// Splits reported finished, in order.
    pub finished_splits: Vec<u32>,
    /// Whether the source reported `Finished`.
    pub finished: bool,
}

/// Polls `source` until it finishes, or at most `max_batches` batches, or `max_pending`
/// consecutive `Pending`s.
pub fn drain(source: &mut dyn Source, max_batches: usize, max_pending: usize) -> Result<Drained> {
    let mut out = Drained::default();
    let mut pending = 0;
    while out.batches.len() < max_batches {
        match source.poll_batch()? {
            SourcePoll::Batch { split, batch } => {
                pending = 0;
                out.batches.push((split, batch));
            }
            SourcePoll::SplitFinished(s) => out.finished_splits.push(s),
            SourcePoll::Finished => {
                out.finished = true;
                break;
            }
            SourcePoll::Pending => {
                pending += 1;
                if pending >= max_pending {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Every row of `batch` as one display string (columns joined by `|`), for comparing
/// multisets of rows.
pub fn rows_as_strings(batch: &RecordBatch) -> Vec<String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("null");
    let formatters: Vec<ArrayFormatter<'_>> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<_, _>>()
        .unwrap_or_else(|e| panic!("format: {e}"));
    (0..batch.num_rows())
        .map(|r| {
            formatters
                .iter()
                .map(|f| f.value(r).to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

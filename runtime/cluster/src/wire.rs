//! Engine types to and from `freshet.v1` messages: task ids, channel ids, state handles and
//! counters. Decoding never panics: a malformed message is a protocol error.

use freshet_core::{Error, OperatorUid, Result};
use freshet_engine::build::ChannelKey;
use freshet_engine::metrics::{OperatorMetrics, TaskMetrics};
use freshet_engine::task::{TaskRef, TaskSnapshots};
use freshet_rpc::{proto, ChannelId};
use freshet_state::metadata::SubtaskSnapshot;
use std::sync::atomic::Ordering;

/// How a subtask snapshot travels in an [`proto::OperatorStateHandle`].
pub const SUBTASK_SNAPSHOT_JSON: &str = "freshet-subtask-snapshot-json";

/// The message of a task id.
pub fn task_id(task: TaskRef) -> proto::TaskId {
    proto::TaskId {
        chain: task.chain as u32,
        subtask: task.subtask,
    }
}

/// The task a message names.
pub fn task_ref(id: Option<proto::TaskId>) -> Result<TaskRef> {
    let id = id.ok_or_else(|| Error::Serde("message without a task id".into()))?;
    Ok(TaskRef {
        chain: id.chain as usize,
        subtask: id.subtask,
    })
}

/// The data-plane id of channel `key` of attempt `attempt` of job `job`.
pub fn channel_id(job: &str, attempt: u64, key: ChannelKey) -> ChannelId {
    ChannelId::new(job, attempt, key.edge, key.producer, key.consumer)
}

/// A task's snapshots as state handles.
pub fn encode_snapshots(snapshots: &TaskSnapshots) -> Result<Vec<proto::OperatorStateHandle>> {
    snapshots
        .iter()
        .map(|(uid, s)| {
            let size = s.keyed.as_ref().map_or(0, |k| k.size_bytes());
            Ok(proto::OperatorStateHandle {
                operator_uid: uid.to_string(),
                subtask: s.subtask,
                key_groups: Some(s.key_groups.into()),
                handle_format: SUBTASK_SNAPSHOT_JSON.into(),
                handle: serde_json::to_vec(s).map_err(|e| Error::Serde(e.to_string()))?.into(),
                state_size_bytes: size,
                checkpointed_size_bytes: size,
            })
        })
        .collect()
}

/// State handles as a task's snapshots.
pub fn decode_snapshots(handles: Vec<proto::OperatorStateHandle>) -> Result<TaskSnapshots> {
    handles
        .into_iter()
        .map(|h| {
            if h.handle_format != SUBTASK_SNAPSHOT_JSON {
                return Err(Error::Serde(format!(
                    "state handle of operator '{}' has unknown format '{}'",
                    h.operator_uid, h.handle_format
                )));
            }
            let snapshot: SubtaskSnapshot = serde_json::from_slice(&h.handle)
                .map_err(|e| Error::Serde(format!("state handle of operator '{}': {e}", h.operator_uid)))?;
            Ok((OperatorUid::new(h.operator_uid), snapshot))
        })
        .collect()
}

/// The counters message of an operator subtask.
pub fn operator_counters(attempt: u64, uid: &str, subtask: u32, m: &OperatorMetrics) -> proto::OperatorCounters {
    proto::OperatorCounters {
        attempt,
        operator_uid: uid.to_string(),
        subtask,
        records_in: m.records_in.load(Ordering::Relaxed),
        records_out: m.records_out.load(Ordering::Relaxed),
        bytes_in: m.bytes_in.load(Ordering::Relaxed),
        bytes_out: m.bytes_out.load(Ordering::Relaxed),
        watermark: m.current_watermark(),
    }
}

/// Copies reported operator counters into the coordinator's mirror of them.
pub fn mirror_operator(counters: &proto::OperatorCounters, into: &OperatorMetrics) {
    into.records_in.store(counters.records_in, Ordering::Relaxed);
    into.records_out.store(counters.records_out, Ordering::Relaxed);
    into.bytes_in.store(counters.bytes_in, Ordering::Relaxed);
    into.bytes_out.store(counters.bytes_out, Ordering::Relaxed);
    into.watermark
        .store(counters.watermark.unwrap_or(i64::MIN), Ordering::Relaxed);
}

/// The counters message of a task.
pub fn task_counters(attempt: u64, task: TaskRef, m: &TaskMetrics) -> proto::TaskCounters {
    proto::TaskCounters {
        attempt,
        task: Some(task_id(task)),
        busy_ns: m.busy_ns.load(Ordering::Relaxed),
        backpressured_ns: m.backpressured_ns.load(Ordering::Relaxed),
        last_alignment_ns: m.last_alignment_ns.load(Ordering::Relaxed),
    }
}

/// Copies reported task counters into the coordinator's mirror of them.
pub fn mirror_task(counters: &proto::TaskCounters, into: &TaskMetrics) {
    into.busy_ns.store(counters.busy_ns, Ordering::Relaxed);
    into.backpressured_ns
        .store(counters.backpressured_ns, Ordering::Relaxed);
    into.last_alignment_ns
        .store(counters.last_alignment_ns, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::KeyGroupRange;

    #[test]
    fn snapshots_round_trip() {
        let snapshots: TaskSnapshots = vec![(
            OperatorUid::new("agg"),
            SubtaskSnapshot {
                subtask: 2,
                key_groups: KeyGroupRange { start: 10, end: 20 },
                keyed: None,
                operator_state: vec![serde_json::json!({"offset": 7})],
            },
        )];
        let handles = encode_snapshots(&snapshots).expect("encodes");
        assert_eq!(handles[0].operator_uid, "agg");
        assert_eq!(decode_snapshots(handles).expect("decodes"), snapshots);
    }

    #[test]
    fn unknown_handle_formats_are_rejected() {
        let handle = proto::OperatorStateHandle {
            operator_uid: "x".into(),
            handle_format: "pickle".into(),
            ..Default::default()
        };
        let err = decode_snapshots(vec![handle]).expect_err("unknown format");
        assert!(err.to_string().contains("pickle"), "{err}");
    }
}

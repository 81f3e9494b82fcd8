//! The marker of a multipart upload: a small JSON object `.part-{run}-{subtask}-{seq}.upload`
//! beside the sink's files that records the upload, so that a restore can complete or abort it.
//! It is written when the upload starts (in progress) and rewritten, in one PUT, with the part
//! list at the barrier that closes the file (pending on that checkpoint); it is deleted once the
//! upload is completed or aborted.

use serde::{Deserialize, Serialize};

/// What a marker records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMarker {
    /// The visible name of the object the upload creates, below the sink's path.
    pub object: String,
    /// The store's id of the upload.
    pub upload_id: String,
    /// How far the upload is.
    #[serde(flatten)]
    pub state: UploadState,
}

/// How far an upload is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// Parts are being uploaded; the file is open.
    InProgress,
    /// Every part is uploaded; the file was closed at the barrier of `checkpoint`.
    Pending {
        /// The checkpoint that covers the file.
        checkpoint: u64,
        /// The part ids (ETags), in part order.
        parts: Vec<String>,
    },
}

/// What a restore does with an upload of an earlier run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnRestore {
    /// Complete it: a completed checkpoint covers its data.
    Complete {
        /// The part ids, in order.
        parts: Vec<String>,
    },
    /// Abort it: no completed checkpoint covers its data, which the restored sources replay.
    Abort,
}

impl UploadMarker {
    /// What to do with this upload of an earlier run after a restore from checkpoint
    /// `restored` (`None`: a fresh start, which restores nothing).
    pub fn on_restore(&self, restored: Option<u64>) -> OnRestore {
        match (&self.state, restored) {
            (UploadState::Pending { checkpoint, parts }, Some(c)) if *checkpoint <= c => {
                OnRestore::Complete { parts: parts.clone() }
            }
            _ => OnRestore::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(state: UploadState) -> UploadMarker {
        UploadMarker {
            object: "part-r-0-1.jsonl".into(),
            upload_id: "id".into(),
            state,
        }
    }

    #[test]
    fn only_uploads_pending_on_a_restored_checkpoint_or_earlier_are_completed() {
        let pending = |checkpoint| {
            marker(UploadState::Pending {
                checkpoint,
                parts: vec!["e1".into()],
            })
        };
        let complete = OnRestore::Complete {
            parts: vec!["e1".into()],
        };
        assert_eq!(pending(3).on_restore(Some(3)), complete);
        assert_eq!(pending(2).on_restore(Some(3)), complete);
        assert_eq!(pending(4).on_restore(Some(3)), OnRestore::Abort);
        assert_eq!(pending(1).on_restore(None), OnRestore::Abort);
        assert_eq!(marker(UploadState::InProgress).on_restore(Some(9)), OnRestore::Abort);
    }

    #[test]
    fn the_marker_is_plain_json() {
        let m = marker(UploadState::Pending {
            checkpoint: 4,
            parts: vec!["a".into(), "b".into()],
        });
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "object": "part-r-0-1.jsonl",
                "upload_id": "id",
                "state": "pending",
                "checkpoint": 4,
                "parts": ["a", "b"]
            })
        );
        assert_eq!(serde_json::from_value::<UploadMarker>(json).unwrap(), m);
        let open = serde_json::to_value(marker(UploadState::InProgress)).unwrap();
        assert_eq!(open["state"], "in_progress");
    }
}

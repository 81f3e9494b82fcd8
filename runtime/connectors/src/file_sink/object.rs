//! The sink's part files on an object store (`s3://`, `gs://`, `az://`): one multipart upload
//! per part file, recorded by an [`UploadMarker`] beside the files (see the protocol in the
//! [module docs](super)).
//!
//! Encoded bytes collect in memory and go up as a part whenever `part_bytes` of them are
//! buffered (every part but the last has exactly that size, which all stores accept); the last
//! part goes up at the barrier that closes the file, before the marker is rewritten as pending,
//! so the checkpoint cannot complete before the marker records every part.

use super::encoder::{PartEncoder, SharedBuffer};
use super::names::{PartName, PartState};
use super::upload_marker::{OnRestore, UploadMarker, UploadState};
use super::{FileFormat, PartFiles};
use crate::blocking_store::BlockingStore;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use freshet_core::{Error, Result};
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::MultipartId;

/// The part files of one sink subtask on an object store.
pub struct ObjectParts {
    store: BlockingStore,
    format: FileFormat,
    part_bytes: usize,
    run: String,
    subtask: u32,
    current: Option<(Upload, PartEncoder<SharedBuffer>)>,
    /// Closed files waiting for a checkpoint.
    pending: Vec<PendingUpload>,
}

/// The upload of the open part file.
struct Upload {
    marker: Path,
    /// The object's name below the sink's path.
    visible: String,
    object: Path,
    id: MultipartId,
    /// What the encoder wrote and no part holds yet.
    buffer: SharedBuffer,
    parts: Vec<PartId>,
}

impl Upload {
    /// Uploads the buffered bytes as parts of `part_bytes`; with `last`, also the rest (the
    /// last part; the only one, possibly empty, if there was none before).
    fn send_parts(&mut self, store: &BlockingStore, part_bytes: usize, last: bool) -> Result<()> {
        loop {
            let buffered = self.buffer.len();
            let more = buffered >= part_bytes || (last && (buffered > 0 || self.parts.is_empty()));
            if !more {
                return Ok(());
            }
            let bytes = Bytes::from(self.buffer.take_front(part_bytes));
            let part = store.put_part(&self.object, &self.id, self.parts.len(), bytes)?;
            self.parts.push(part);
        }
    }
}

/// A closed part file: every part is uploaded, the marker says pending on `checkpoint`.
struct PendingUpload {
    checkpoint: u64,
    marker: Path,
    object: Path,
    id: MultipartId,
    parts: Vec<PartId>,
}

impl ObjectParts {
    /// The part files of `subtask` in run `run` below `url`, uploaded in parts of `part_bytes`.
    pub fn open(url: &str, format: FileFormat, part_bytes: usize, run: &str, subtask: u32) -> Result<Self> {
        Ok(Self {
            store: BlockingStore::open(url)?,
            format,
            part_bytes,
            run: run.to_string(),
            subtask,
            current: None,
            pending: Vec::new(),
        })
    }

    fn put_marker(&self, marker: &Path, content: &UploadMarker) -> Result<()> {
        let json = serde_json::to_vec(content)?;
        self.store.put(marker, Bytes::from(json))
    }

    /// Completes upload `id` of `object`. A failure is fine if the object exists: only this
    /// upload creates it, so it was completed before (and the store no longer knows the upload,
    /// which stores report in different ways). `marker` names the record in errors.
    fn complete(&self, object: &Path, id: &MultipartId, parts: Vec<PartId>, marker: &Path) -> Result<()> {
        let Err(e) = self.store.complete_multipart(object, id, parts) else {
            return Ok(());
        };
        if self.store.head(object)?.is_some() {
            tracing::info!(object = %self.store.url_of(object), "file sink: the upload was completed before");
            return Ok(());
        }
        Err(Error::State(format!(
            "file sink: {e}; {} does not exist, so data a completed checkpoint covers is not committed \
             (the task fails and a restore tries again; if the upload is gone, e.g. aborted by a \
             lifecycle rule, the data is lost: delete {} to go on without it)",
            self.store.url_of(object),
            self.store.url_of(marker)
        )))
    }

    /// Completes or aborts the upload `marker` records after a restore from `restored`, then
    /// deletes the marker.
    fn recover_upload(&self, marker: &Path, restored: Option<u64>) -> Result<()> {
        let url = self.store.url_of(marker);
        let content: UploadMarker = serde_json::from_slice(&self.store.get(marker)?)
            .map_err(|e| Error::State(format!("file sink: unreadable upload marker {url}: {e}")))?;
        let object = self.store.path_of(&content.object);
        match content.on_restore(restored) {
            // An object that exists was completed before the crash; only its marker is left.
            OnRestore::Complete { .. } if self.store.head(&object)?.is_some() => {}
            OnRestore::Complete { parts } => {
                let parts = parts.into_iter().map(|content_id| PartId { content_id }).collect();
                self.complete(&object, &content.upload_id, parts, marker)?;
                tracing::info!(object = %self.store.url_of(&object), "file sink: completed an upload of an earlier run");
            }
            OnRestore::Abort => {
                self.store.abort_multipart(&object, &content.upload_id)?;
                tracing::info!(object = %self.store.url_of(&object), "file sink: aborted an upload of an earlier run");
            }
        }
        self.store.delete(marker)
    }
}

impl PartFiles for ObjectParts {
    fn recover(&mut self, restored: Option<u64>) -> Result<()> {
        for meta in self.store.list()? {
            let Some(name) = meta.location.filename().and_then(PartName::parse) else {
                continue;
            };
            if name.state == PartState::Upload && name.run != self.run {
                self.recover_upload(&meta.location, restored)?;
            }
        }
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.current.is_some()
    }

    fn start(&mut self, seq: u64, schema: &SchemaRef) -> Result<()> {
        let name = PartName {
            run: self.run.clone(),
            subtask: self.subtask,
            seq,
            state: PartState::Upload,
        };
        let visible = name.visible(self.format.extension());
        let object = self.store.path_of(&visible);
        let marker = self.store.path_of(&name.hidden());
        let id = self.store.create_multipart(&object)?;
        let content = UploadMarker {
            object: visible.clone(),
            upload_id: id.clone(),
            state: UploadState::InProgress,
        };
        self.put_marker(&marker, &content)?;
        let buffer = SharedBuffer::default();
        let encoder = PartEncoder::new(self.format, schema, buffer.clone(), self.store.url_of(&object))?;
        let upload = Upload {
            marker,
            visible,
            object,
            id,
            buffer,
            parts: Vec::new(),
        };
        self.current = Some((upload, encoder));
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<u64> {
        let (upload, encoder) = self
            .current
            .as_mut()
            .ok_or_else(|| Error::Internal("file sink: no open part file".into()))?;
        let size = encoder.write(batch)?;
        upload.send_parts(&self.store, self.part_bytes, false)?;
        Ok(size)
    }

    fn close(&mut self, checkpoint: u64) -> Result<()> {
        let Some((mut upload, encoder)) = self.current.take() else {
            return Ok(());
        };
        encoder.finish()?;
        upload.send_parts(&self.store, self.part_bytes, true)?;
        let content = UploadMarker {
            object: upload.visible,
            upload_id: upload.id.clone(),
            state: UploadState::Pending {
                checkpoint,
                parts: upload.parts.iter().map(|p| p.content_id.clone()).collect(),
            },
        };
        self.put_marker(&upload.marker, &content)?;
        self.pending.push(PendingUpload {
            checkpoint,
            marker: upload.marker,
            object: upload.object,
            id: upload.id,
            parts: upload.parts,
        });
        Ok(())
    }

    fn commit(&mut self, checkpoint: u64) -> Result<()> {
        let (ready, waiting): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.checkpoint <= checkpoint);
        self.pending = waiting;
        for upload in ready {
            self.complete(&upload.object, &upload.id, upload.parts, &upload.marker)?;
            self.store.delete(&upload.marker)?;
        }
        Ok(())
    }
}

//! Checkpoint storage on `object_store`: `file://` (or a plain path) by default, `s3://`, `gs://`,
//! `az://` by URL, with credentials and endpoints from the usual environment variables.
//!
//! Layout below the root:
//! ```text
//! chk-<id>/_metadata                 written last: a checkpoint without it does not exist
//! chk-<id>/<operator uid>/<subtask>/ private state files of that checkpoint
//! shared/<operator uid>/...          files shared by incremental checkpoints
//! _uploads/<file>                    multipart uploads in progress (object stores only)
//! ```
//! A savepoint is a storage rooted at its own directory, holding `_metadata` and its files.
//!
//! **Multipart uploads** (files over [`PART_SIZE`] on an object store) are journaled: before
//! the first part goes up, a small `_uploads/` entry below the storage's root records the
//! object and its upload id, and it is deleted once the upload completes or is aborted. An
//! upload a crash interrupted is never part of a completed checkpoint (`_metadata` is written
//! last), but it keeps its parts on the server; [`CheckpointStorage::abort_abandoned_uploads`],
//! run when a job starts, aborts every upload the journal still lists.

use crate::metadata::{CheckpointMetadata, METADATA_FILE};
use bytes::Bytes;
use freshet_core::{CheckpointId, Error, Location, ObjectRoot, Result};
use futures::TryStreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Files larger than this go up as multipart uploads, in parts of this size.
pub const PART_SIZE: usize = 16 * 1024 * 1024;

/// The journal directory of multipart uploads in progress, below a storage's root.
const UPLOADS_DIR: &str = "_uploads";

/// A journal entry: an upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEntry {
    /// The object being uploaded (its path in the store).
    pub object: String,
    /// The store's upload id.
    pub upload_id: String,
}

/// A place to write and read checkpoints.
#[derive(Clone)]
pub struct CheckpointStorage {
    store: Arc<dyn ObjectStore>,
    /// The store's multipart API (object stores; `None` for a local directory).
    multipart: Option<Arc<dyn MultipartStore>>,
    root: Path,
    url: String,
    /// Where uploads in progress are journaled: `_uploads` below the root this storage was
    /// opened at (children share it).
    journal: Path,
}

impl std::fmt::Debug for CheckpointStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStorage").field("url", &self.url).finish()
    }
}

fn storage_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::State(format!("{context}: {e}"))
}

impl CheckpointStorage {
    /// Opens storage at a URL (`file:///dir`, `s3://bucket/prefix`, `gs://…`, `az://…`) or a
    /// plain local path (created if missing).
    pub fn from_url(location: &str) -> Result<Self> {
        match Location::parse(location)? {
            Location::Local(dir) => Self::local(&dir),
            Location::Url(url) => Ok(Self::at(ObjectRoot::open(&url)?)),
        }
    }

    /// Opens storage in a local directory, creating it.
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        Ok(Self::at(ObjectRoot::local(dir)?))
    }

    fn at(root: ObjectRoot) -> Self {
        let journal = root.path(UPLOADS_DIR);
        Self {
            store: root.store,
            multipart: root.multipart,
            root: root.root,
            url: root.url,
            journal,
        }
    }

    /// The storage root as a URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a path relative to the root.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{}", self.url.trim_end_matches('/'), rel.trim_start_matches('/'))
    }

    /// A storage rooted at a subdirectory of this one.
    pub fn child(&self, rel: &str) -> Self {
        Self {
            store: self.store.clone(),
            multipart: self.multipart.clone(),
            root: self.path(rel),
            url: self.url_of(rel),
            journal: self.journal.clone(),
        }
    }

    fn path(&self, rel: &str) -> Path {
        let mut parts: Vec<String> = self.root.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(rel.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        Path::from_iter(parts)
    }

    /// Writes a whole file atomically; returns its size.
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<u64> {
        let size = bytes.len() as u64;
        self.store
            .put(&self.path(rel), PutPayload::from(bytes))
            .await
            .map_err(|e| storage_err(&format!("writing {}", self.url_of(rel)), e))?;
        Ok(size)
    }

    /// Uploads a local file, in parts for large ones (journaled, see the module docs); returns
    /// its size.
    pub async fn put_file(&self, rel: &str, local: &std::path::Path) -> Result<u64> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        let size = bytes.len() as u64;
        if bytes.len() <= PART_SIZE {
            return self.put(rel, Bytes::from(bytes)).await;
        }
        let bytes = Bytes::from(bytes);
        match &self.multipart {
            Some(multipart) => self.put_parts(multipart.as_ref(), rel, bytes).await?,
            None => self.put_parts_unjournaled(rel, bytes).await?,
        }
        Ok(size)
    }

    /// A multipart upload with explicit ids, journaled while in progress.
    async fn put_parts(&self, multipart: &dyn MultipartStore, rel: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(rel);
        let upload_id = multipart
            .create_multipart(&path)
            .await
            .map_err(|e| storage_err(&format!("starting upload of {}", self.url_of(rel)), e))?;
        let entry = UploadEntry {
            object: path.to_string(),
            upload_id: upload_id.clone(),
        };
        let entry_path = self.journal.clone().join(journal_name(&entry));
        if let Err(e) = self.journal_upload(&entry).await {
            let _ = multipart.abort_multipart(&path, &upload_id).await;
            return Err(e);
        }
        let mut parts = Vec::new();
        for (index, start) in (0..bytes.len()).step_by(PART_SIZE).enumerate() {
            let end = (start + PART_SIZE).min(bytes.len());
            let part = multipart
                .put_part(&path, &upload_id, index, PutPayload::from(bytes.slice(start..end)))
                .await;
            match part {
                Ok(part) => parts.push(part),
                Err(e) => {
                    let _ = multipart.abort_multipart(&path, &upload_id).await;
                    let _ = self.store.delete(&entry_path).await;
                    return Err(storage_err(&format!("uploading {}", self.url_of(rel)), e));
                }
            }
        }
        multipart
            .complete_multipart(&path, &upload_id, parts)
            .await
            .map_err(|e| storage_err(&format!("completing upload of {}", self.url_of(rel)), e))?;
        match self.store.delete(&entry_path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_err(
                &format!("ending the journal entry of {}", self.url_of(rel)),
                e,
            )),
        }
    }

    /// A multipart upload through the store's generic writer (a local directory: nothing is
    /// left behind by a crash but a temporary file).
    async fn put_parts_unjournaled(&self, rel: &str, bytes: Bytes) -> Result<()> {
        let mut upload = self
            .store
            .put_multipart(&self.path(rel))
            .await
            .map_err(|e| storage_err(&format!("starting upload of {}", self.url_of(rel)), e))?;
        for start in (0..bytes.len()).step_by(PART_SIZE) {
            let end = (start + PART_SIZE).min(bytes.len());
            if let Err(e) = upload.put_part(PutPayload::from(bytes.slice(start..end))).await {
                let _ = upload.abort().await;
                return Err(storage_err(&format!("uploading {}", self.url_of(rel)), e));
            }
        }
        upload
            .complete()
            .await
            .map_err(|e| storage_err(&format!("completing upload of {}", self.url_of(rel)), e))?;
        Ok(())
    }

    /// The uploads the journal lists as in progress.
    pub async fn journaled_uploads(&self) -> Result<Vec<(Path, UploadEntry)>> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.journal))
            .try_collect()
            .await
            .map_err(|e| storage_err(&format!("listing {}/{UPLOADS_DIR}", self.url), e))?;
        let mut entries = Vec::with_capacity(listed.len());
        for meta in listed {
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .map_err(|e| storage_err(&format!("reading upload journal entry {}", meta.location), e))?
                .bytes()
                .await
                .map_err(|e| storage_err(&format!("reading upload journal entry {}", meta.location), e))?;
            let entry: UploadEntry = serde_json::from_slice(&bytes)
                .map_err(|e| Error::State(format!("unreadable upload journal entry {}: {e}", meta.location)))?;
            entries.push((meta.location, entry));
        }
        Ok(entries)
    }

    /// Records that an upload is in progress (what [`put_file`](Self::put_file) does before the
    /// first part; public for tests that stage a crash).
    pub async fn journal_upload(&self, entry: &UploadEntry) -> Result<()> {
        let bytes = serde_json::to_vec(entry).map_err(Error::from)?;
        self.store
            .put(&self.journal.clone().join(journal_name(entry)), PutPayload::from(bytes))
            .await
            .map_err(|e| storage_err(&format!("journaling the upload of {}", entry.object), e))?;
        Ok(())
    }

    /// Aborts every upload the journal lists (left by a process that crashed mid-upload) and
    /// clears the journal; returns how many. Run it when a job starts, before anything uploads:
    /// an upload still running elsewhere on the same storage would be aborted too. An abort
    /// that fails is logged and its entry kept for the next start.
    pub async fn abort_abandoned_uploads(&self) -> Result<usize> {
        let Some(multipart) = &self.multipart else {
            return Ok(0);
        };
        let mut aborted = 0;
        for (entry_path, entry) in self.journaled_uploads().await? {
            let object = Path::from(entry.object.as_str());
            match multipart.abort_multipart(&object, &entry.upload_id).await {
                Ok(()) => {
                    tracing::info!(object = %entry.object, upload = %entry.upload_id, "aborted an upload a crash left open");
                    aborted += 1;
                }
                Err(e) => {
                    tracing::warn!(object = %entry.object, upload = %entry.upload_id, error = %e, "could not abort an upload a crash left open; trying again at the next start");
                    continue;
                }
            }
            match self.store.delete(&entry_path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage_err(&format!("deleting upload journal entry {entry_path}"), e)),
            }
        }
        Ok(aborted)
    }

    /// Reads a whole file.
    pub async fn get(&self, rel: &str) -> Result<Bytes> {
        let r = self
            .store
            .get(&self.path(rel))
            .await
            .map_err(|e| storage_err(&format!("reading {}", self.url_of(rel)), e))?;
        r.bytes()
            .await
            .map_err(|e| storage_err(&format!("reading {}", self.url_of(rel)), e))
    }

    /// Reads a byte range of a file.
    pub async fn get_range(&self, rel: &str, start: u64, len: u64) -> Result<Bytes> {
        self.store
            .get_range(&self.path(rel), start..start + len)
            .await
            .map_err(|e| storage_err(&format!("reading {}", self.url_of(rel)), e))
    }

    /// Whether a file exists.
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        match self.store.head(&self.path(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage_err(&format!("checking {}", self.url_of(rel)), e)),
        }
    }

    /// Relative paths of all files below `rel_dir`.
    pub async fn list_files(&self, rel_dir: &str) -> Result<Vec<String>> {
        let prefix = self.path(rel_dir);
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| storage_err(&format!("listing {}", self.url_of(rel_dir)), e))?;
        let root_parts = self.root.parts().count();
        Ok(metas
            .into_iter()
            .map(|m| {
                m.location
                    .parts()
                    .skip(root_parts)
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect())
    }

    /// Names of the immediate subdirectories of `rel_dir`.
    pub async fn list_dirs(&self, rel_dir: &str) -> Result<Vec<String>> {
        let prefix = self.path(rel_dir);
        let listing = self
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| storage_err(&format!("listing {}", self.url_of(rel_dir)), e))?;
        Ok(listing
            .common_prefixes
            .into_iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Deletes one file (no error if absent).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.path(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_err(&format!("deleting {}", self.url_of(rel)), e)),
        }
    }

    /// Deletes every file below `rel_dir`.
    pub async fn delete_dir(&self, rel_dir: &str) -> Result<()> {
        for f in self.list_files(rel_dir).await? {
            self.delete(&f).await?;
        }
        Ok(())
    }

    /// The directory of checkpoint `id`, relative to the root.
    pub fn checkpoint_dir(id: CheckpointId) -> String {
        format!("chk-{}", id.0)
    }

    /// Writes `dir/_metadata`. Call it after every state file of the checkpoint is written.
    pub async fn write_metadata(&self, dir: &str, metadata: &CheckpointMetadata) -> Result<()> {
        let json = serde_json::to_vec_pretty(metadata)?;
        self.put(&join(dir, METADATA_FILE), Bytes::from(json)).await?;
        Ok(())
    }

    /// Reads `dir/_metadata`.
    pub async fn read_metadata(&self, dir: &str) -> Result<CheckpointMetadata> {
        let bytes = self.get(&join(dir, METADATA_FILE)).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::State(format!(
                "corrupt metadata {}: {e}",
                self.url_of(&join(dir, METADATA_FILE))
            ))
        })
    }

    /// Ids of the completed checkpoints (those with metadata), ascending.
    pub async fn completed_checkpoints(&self) -> Result<Vec<CheckpointId>> {
        let mut ids = Vec::new();
        for d in self.list_dirs("").await? {
            if let Some(n) = d.strip_prefix("chk-").and_then(|n| n.parse::<u64>().ok()) {
                if self.exists(&join(&d, METADATA_FILE)).await? {
                    ids.push(CheckpointId(n));
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The newest completed checkpoint, if any.
    pub async fn latest_completed(&self) -> Result<Option<CheckpointMetadata>> {
        match self.completed_checkpoints().await?.last() {
            Some(id) => Ok(Some(self.read_metadata(&Self::checkpoint_dir(*id)).await?)),
            None => Ok(None),
        }
    }
}

/// The journal file name of an upload: unique per upload id, readable per object.
fn journal_name(entry: &UploadEntry) -> String {
    let object: String = entry
        .object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = freshet_core::key_group::stable_hash(entry.upload_id.as_bytes());
    format!("{object}.{id:016x}.json")
}

/// Joins two relative storage paths.
pub fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

//! Checkpoint storage on `object_store`: `file://` (or a plain path) by default, `s3://`, `gs://`,
//! `az://` by URL, with credentials and endpoints from the usual environment variables.
//!
//! Layout below the root:
//! ```text
//! chk-<id>/_metadata                 written last: a checkpoint without it does not exist
//! chk-<id>/<operator uid>/<subtask>/ private state files of that checkpoint
//! shared/<operator uid>/...          files shared by incremental checkpoints
//! ```
//! A savepoint is a storage rooted at its own directory, holding `_metadata` and its files.

use crate::metadata::{CheckpointMetadata, METADATA_FILE};
use bytes::Bytes;
use freshet_core::{CheckpointId, Error, Location, ObjectRoot, Result};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// A place to write and read checkpoints.
#[derive(Clone)]
pub struct CheckpointStorage {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
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
        Self {
            store: root.store,
            root: root.root,
            url: root.url,
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
            root: self.path(rel),
            url: self.url_of(rel),
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

    /// Uploads a local file, in parts for large ones; returns its size.
    pub async fn put_file(&self, rel: &str, local: &std::path::Path) -> Result<u64> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        let size = bytes.len() as u64;
        const PART: usize = 16 * 1024 * 1024;
        if bytes.len() <= PART {
            return self.put(rel, Bytes::from(bytes)).await;
        }
        let path = self.path(rel);
        let mut upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| storage_err(&format!("starting upload of {}", self.url_of(rel)), e))?;
        let bytes = Bytes::from(bytes);
        let mut offset = 0;
        while offset < bytes.len() {
            let end = (offset + PART).min(bytes.len());
            if let Err(e) = upload.put_part(PutPayload::from(bytes.slice(offset..end))).await {
                let _ = upload.abort().await;
                return Err(storage_err(&format!("uploading {}", self.url_of(rel)), e));
            }
            offset = end;
        }
        upload
            .complete()
            .await
            .map_err(|e| storage_err(&format!("completing upload of {}", self.url_of(rel)), e))?;
        Ok(size)
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

/// Joins two relative storage paths.
pub fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

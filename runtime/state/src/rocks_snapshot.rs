//! Snapshots of the RocksDB backend, and restoring it from them.
//!
//! The synchronous part of every snapshot is a RocksDB checkpoint (memtable flushed, SST files
//! hard-linked) in a fresh local directory. The asynchronous part then either
//! - uploads it **incrementally** (checkpoints with a shared directory): each `*.sst` file goes to
//!   `{shared_dir}/{instance token}-{sst name}` unless a completed checkpoint of this instance
//!   (or the handle it was restored from) already references it — SST files are immutable, so the
//!   name identifies the content; MANIFEST, CURRENT, OPTIONS and WAL files go to
//!   `{dir}/rocksdb/` as private files; or
//! - writes the canonical full format (savepoints, and checkpoints without a shared directory),
//!   reading the checkpoint through a read-only DB.
//!
//! Only files of *completed* checkpoints are reused (see [`SstRegistry`]): a file uploaded for a
//! checkpoint that is later aborted may be deleted by checkpoint cleanup and must not be
//! referenced again. The local checkpoint directory is removed when the snapshot is done (or
//! dropped).

use crate::backend::{KeyedStateBackend, SnapshotTarget, StateId, StateSnapshot};
use crate::metadata::{KeyedStateHandle, StateFile};
use crate::rocks::{decode_db_key, for_each_in_range, for_each_with_prefix, open_read_only, RocksBackend};
use crate::snapshot_format::{FullSnapshot, SnapshotEntry, SnapshotWriter};
use crate::storage::{join, CheckpointStorage};
use freshet_core::{CheckpointId, CheckpointKind, Error, KeyGroupRange, Result};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use rocksdb::DB;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many files are uploaded or downloaded concurrently.
const TRANSFER_CONCURRENCY: usize = 4;

/// A local directory removed (recursively) when dropped.
pub(crate) struct LocalDir(PathBuf);

impl LocalDir {
    /// Creates `path` (and parents) and owns it.
    pub(crate) fn create(path: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        Ok(Self(path))
    }

    /// Owns `path`, which something else is about to create.
    pub(crate) fn reserve(path: PathBuf) -> Self {
        Self(path)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for LocalDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.0) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %self.0.display(), error = %e, "could not remove local state directory")
            }
        }
    }
}

/// Which SST files of an instance are already in shared storage, by local file name.
#[derive(Default, Debug)]
pub(crate) struct SstRegistry {
    /// Files referenced by the last completed checkpoint (or the restored handle): reusable.
    confirmed: HashMap<String, StateFile>,
    /// Files referenced by uploaded checkpoints not yet known to be complete.
    pending: BTreeMap<CheckpointId, HashMap<String, StateFile>>,
}

impl SstRegistry {
    /// Marks `checkpoint` complete: its files become the reusable set.
    pub(crate) fn complete(&mut self, checkpoint: CheckpointId) {
        if let Some(files) = self.pending.remove(&checkpoint) {
            self.confirmed = files;
        }
        self.pending.retain(|id, _| *id > checkpoint);
    }

    /// Seeds the reusable set (after restoring from a handle).
    pub(crate) fn seed(&mut self, files: HashMap<String, StateFile>) {
        self.confirmed = files;
    }
}

/// A taken RocksDB snapshot waiting to be uploaded.
pub(crate) struct RocksSnapshot {
    pub(crate) dir: LocalDir,
    pub(crate) checkpoint: CheckpointId,
    pub(crate) kind: CheckpointKind,
    pub(crate) range: KeyGroupRange,
    pub(crate) state_names: Vec<String>,
    pub(crate) token: String,
    pub(crate) registry: Arc<Mutex<SstRegistry>>,
}

impl StateSnapshot for RocksSnapshot {
    fn upload(self: Box<Self>, target: SnapshotTarget) -> BoxFuture<'static, Result<KeyedStateHandle>> {
        Box::pin(async move {
            let snapshot = *self;
            match (snapshot.kind, target.shared_dir.clone()) {
                (CheckpointKind::Checkpoint, Some(shared_dir)) => {
                    snapshot.upload_incremental(&target, &shared_dir).await
                }
                _ => snapshot.upload_full(&target).await,
            }
        })
    }
}

/// One file of an uploaded checkpoint.
enum Uploaded {
    Shared { local: String, file: StateFile, new: bool },
    Private(StateFile),
}

/// What to do with one file of a local checkpoint.
enum Plan {
    /// Upload as a private file to this path.
    Private(String),
    /// Upload as a shared file to this path.
    Shared(String),
    /// Already in shared storage: reference it.
    Reuse(StateFile),
}

/// Carries out the plan for one local file. Takes everything by value, so the future is
/// `'static`: a stream of closures returning futures that borrow their environment is not
/// provably `Send` for every lifetime, and the engine spawns uploads and restores.
async fn upload_file(storage: Arc<CheckpointStorage>, local: PathBuf, name: String, plan: Plan) -> Result<Uploaded> {
    Ok(match plan {
        Plan::Private(path) => {
            let size = storage.put_file(&path, &local).await?;
            Uploaded::Private(StateFile { path, size })
        }
        Plan::Reuse(file) => Uploaded::Shared {
            local: name,
            file,
            new: false,
        },
        Plan::Shared(path) => {
            let size = storage.put_file(&path, &local).await?;
            Uploaded::Shared {
                local: name,
                file: StateFile { path, size },
                new: true,
            }
        }
    })
}

/// Downloads one remote file to a local path.
async fn download_file(storage: CheckpointStorage, remote: String, local: PathBuf) -> Result<()> {
    let bytes = storage.get(&remote).await?;
    tokio::fs::write(&local, &bytes)
        .await
        .map_err(|e| Error::io(format!("writing {}", local.display()), e))
}

impl RocksSnapshot {
    async fn upload_full(self, target: &SnapshotTarget) -> Result<KeyedStateHandle> {
        let RocksSnapshot {
            dir,
            range,
            state_names,
            ..
        } = self;
        let writer = tokio::task::spawn_blocking(move || {
            let db = open_read_only(dir.path())?;
            let writer = write_full_snapshot(&db, range, &state_names);
            drop(db);
            drop(dir);
            writer
        })
        .await
        .map_err(|e| Error::Internal(format!("full snapshot task failed: {e}")))??;
        FullSnapshot::new(writer).upload_to(&target.storage, &target.dir).await
    }

    async fn upload_incremental(self, target: &SnapshotTarget, shared_dir: &str) -> Result<KeyedStateHandle> {
        let mut local_files = Vec::new();
        let mut listing = tokio::fs::read_dir(self.dir.path())
            .await
            .map_err(|e| Error::io(format!("listing {}", self.dir.path().display()), e))?;
        while let Some(entry) = listing
            .next_entry()
            .await
            .map_err(|e| Error::io(format!("listing {}", self.dir.path().display()), e))?
        {
            if entry.path().is_file() {
                local_files.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        local_files.sort();
        let confirmed = self.registry.lock().confirmed.clone();
        // Owned futures built up front (see `upload_file`).
        let uploads: Vec<_> = local_files
            .into_iter()
            .map(|name| {
                let local = self.dir.path().join(&name);
                let plan = if !name.ends_with(".sst") {
                    Plan::Private(join(&target.dir, &format!("rocksdb/{name}")))
                } else if let Some(file) = confirmed.get(&name) {
                    Plan::Reuse(file.clone())
                } else {
                    Plan::Shared(join(shared_dir, &format!("{}-{name}", self.token)))
                };
                upload_file(target.storage.clone(), local, name, plan)
            })
            .collect();
        let uploaded: Vec<Uploaded> = futures::stream::iter(uploads)
            .buffer_unordered(TRANSFER_CONCURRENCY)
            .try_collect()
            .await?;

        let (mut shared, mut private, mut registered) = (Vec::new(), Vec::new(), HashMap::new());
        let mut new_files = 0usize;
        for u in uploaded {
            match u {
                Uploaded::Shared { local, file, new } => {
                    new_files += usize::from(new);
                    registered.insert(local, file.clone());
                    shared.push(file);
                }
                Uploaded::Private(file) => private.push(file),
            }
        }
        shared.sort_by(|a, b| a.path.cmp(&b.path));
        private.sort_by(|a, b| a.path.cmp(&b.path));
        tracing::debug!(
            checkpoint = self.checkpoint.0,
            shared = shared.len(),
            uploaded = new_files,
            private = private.len(),
            "uploaded incremental rocksdb checkpoint"
        );
        self.registry.lock().pending.insert(self.checkpoint, registered);
        Ok(KeyedStateHandle::Incremental {
            key_groups: self.range,
            shared,
            private,
            state_names: self.state_names,
        })
    }
}

/// Writes every entry of `db` in `range` in the canonical format; `state_names` are in id order.
pub(crate) fn write_full_snapshot(db: &DB, range: KeyGroupRange, state_names: &[String]) -> Result<SnapshotWriter> {
    let mut writer = SnapshotWriter::new(state_names);
    for kg in range.iter() {
        writer.begin_key_group(kg)?;
        for_each_with_prefix(db, &kg.0.to_be_bytes(), |raw, value| {
            let k = decode_db_key(raw)?;
            writer.write(&SnapshotEntry {
                state: k.state,
                key: k.key,
                namespace: k.namespace,
                user_key: k.user_key,
                value,
            })
        })?;
        writer.end_key_group();
    }
    Ok(writer)
}

/// The local file name of a file of an incremental handle: shared files drop their
/// `{token}-` prefix, private files keep theirs.
fn local_name(file: &StateFile, shared: bool) -> Result<String> {
    let last = file.path.rsplit('/').next().unwrap_or(&file.path);
    let name = if shared {
        last.rsplit_once('-').map(|(_, name)| name).unwrap_or(last)
    } else {
        last
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::State(format!("unusable state file path '{}'", file.path)));
    }
    Ok(name.to_string())
}

/// Downloads the files of an incremental handle into `dir` under their RocksDB names; returns
/// the shared files by local name.
async fn download_incremental(
    shared: &[StateFile],
    private: &[StateFile],
    storage: &CheckpointStorage,
    dir: &Path,
) -> Result<HashMap<String, StateFile>> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut files = Vec::new();
    let mut by_local = HashMap::new();
    for f in shared {
        let name = local_name(f, true)?;
        by_local.insert(name.clone(), f.clone());
        files.push((f, name));
    }
    for f in private {
        files.push((f, local_name(f, false)?));
    }
    let downloads: Vec<_> = files
        .into_iter()
        .map(|(file, name)| download_file(storage.clone(), file.path.clone(), dir.join(name)))
        .collect();
    futures::stream::iter(downloads)
        .buffer_unordered(TRANSFER_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(by_local)
}

/// Restores a RocksDB backend owning `range` by opening the DB of `handle` directly. The
/// handle's key groups must contain `range`; groups outside it are deleted. The new instance
/// reuses the handle's shared files in its next incremental checkpoint.
pub(crate) async fn restore_rocks_directly(
    handle: &KeyedStateHandle,
    range: KeyGroupRange,
    storage: &CheckpointStorage,
    local_dir: &Path,
) -> Result<RocksBackend> {
    let KeyedStateHandle::Incremental {
        key_groups,
        shared,
        private,
        state_names,
    } = handle
    else {
        return Err(Error::Internal(
            "direct rocksdb restore needs an incremental handle".into(),
        ));
    };
    let (token, instance_dir) = RocksBackend::new_instance_dir(local_dir)?;
    let reusable = download_incremental(shared, private, storage, &instance_dir.path().join("db")).await?;
    let key_groups = *key_groups;
    let state_names = state_names.clone();
    let local_dir = local_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut backend = RocksBackend::open_in(range, &local_dir, token, instance_dir)?;
        for (i, name) in state_names.iter().enumerate() {
            let id = backend.register_state(name)?;
            if usize::from(id.0) != i {
                return Err(Error::State(format!(
                    "state name '{name}' appears twice in the restored handle"
                )));
            }
        }
        if key_groups != range {
            backend.delete_outside_range()?;
        }
        backend.registry().lock().seed(reusable);
        tracing::info!(
            ?range,
            ?key_groups,
            states = state_names.len(),
            "restored rocksdb backend from its files"
        );
        Ok(backend)
    })
    .await
    .map_err(|e| Error::Internal(format!("rocksdb restore task failed: {e}")))?
}

/// Copies the entries of an incremental handle whose key group lies in `range` into `backend`
/// (through a temporary read-only copy of its DB). Returns the backend and the entry count.
pub(crate) async fn restore_incremental_by_copy(
    handle: &KeyedStateHandle,
    range: KeyGroupRange,
    storage: &CheckpointStorage,
    local_dir: &Path,
    backend: Box<dyn KeyedStateBackend>,
) -> Result<(Box<dyn KeyedStateBackend>, u64)> {
    let KeyedStateHandle::Incremental {
        key_groups,
        shared,
        private,
        state_names,
    } = handle
    else {
        return Err(Error::Internal(
            "rocksdb copy restore needs an incremental handle".into(),
        ));
    };
    let overlap = key_groups.intersect(&range);
    if overlap.is_empty() {
        return Ok((backend, 0));
    }
    let tmp = LocalDir::create(local_dir.join(format!("restore-{}", crate::rocks::unique_token())))?;
    download_incremental(shared, private, storage, tmp.path()).await?;
    let state_names = state_names.clone();
    tokio::task::spawn_blocking(move || {
        let mut backend = backend;
        let db = open_read_only(tmp.path())?;
        let copied = copy_entries(&db, overlap, &state_names, backend.as_mut())?;
        drop(db);
        drop(tmp);
        Ok((backend, copied))
    })
    .await
    .map_err(|e| Error::Internal(format!("rocksdb restore task failed: {e}")))?
}

/// Copies the entries of `db` in `range` into `target`, mapping state ids through their names.
fn copy_entries(
    db: &DB,
    range: KeyGroupRange,
    state_names: &[String],
    target: &mut dyn KeyedStateBackend,
) -> Result<u64> {
    let mut ids: Vec<Option<StateId>> = vec![None; state_names.len()];
    let mut copied = 0u64;
    let upper = Some(range.end.to_be_bytes().to_vec());
    for_each_in_range(db, &range.start.to_be_bytes(), upper, |raw, value| {
        let k = decode_db_key(raw)?;
        let slot = ids
            .get_mut(usize::from(k.state))
            .ok_or_else(|| Error::State(format!("restored entry of unknown state id {}", k.state)))?;
        let state = match *slot {
            Some(id) => id,
            None => {
                let id = target.register_state(&state_names[usize::from(k.state)])?;
                *slot = Some(id);
                id
            }
        };
        match k.user_key {
            None => target.put(state, k.kg, k.key, k.namespace, value)?,
            Some(user_key) => target.map_put(state, k.kg, k.key, k.namespace, user_key, value)?,
        }
        copied += 1;
        Ok(())
    })?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_strip_the_instance_token() {
        let shared = StateFile {
            path: "shared/op/00ab12-000012.sst".into(),
            size: 1,
        };
        assert_eq!(local_name(&shared, true).unwrap(), "000012.sst");
        let private = StateFile {
            path: "chk-3/op/0/rocksdb/MANIFEST-000005".into(),
            size: 1,
        };
        assert_eq!(local_name(&private, false).unwrap(), "MANIFEST-000005");
    }

    #[test]
    fn registry_reuses_only_completed_checkpoints() {
        let mut r = SstRegistry::default();
        let f = StateFile {
            path: "p".into(),
            size: 1,
        };
        r.pending
            .insert(CheckpointId(1), HashMap::from([("1.sst".to_string(), f.clone())]));
        r.pending
            .insert(CheckpointId(2), HashMap::from([("2.sst".to_string(), f)]));
        assert!(r.confirmed.is_empty());
        r.complete(CheckpointId(1));
        assert!(r.confirmed.contains_key("1.sst"));
        assert!(r.pending.contains_key(&CheckpointId(2)));
        r.complete(CheckpointId(3));
        assert!(r.confirmed.contains_key("1.sst") && r.pending.is_empty());
    }
}

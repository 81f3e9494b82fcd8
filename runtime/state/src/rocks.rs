//! The RocksDB backend: keyed state in one local RocksDB instance per backend, with incremental
//! checkpoints (uploaded by the crate-private `rocks_snapshot` module).
//!
//! Key layout (one default column family; every key starts with its key group, big-endian, so a
//! key group — or a run of them — is one contiguous key range):
//! ```text
//! value entry: kg:u16be state:u16be 0x00 varint(len key) key namespace
//! map entry:   kg:u16be state:u16be 0x01 varint(len key) key varint(len ns) namespace user_key
//! ```
//! The prefix of a map entry before its user key is unambiguous (both parts are length-prefixed),
//! so one map is one prefix range, iterated in user-key order. State ids are per instance; the
//! names, in id order, travel in snapshot handles.
//!
//! Writes skip the write-ahead log: a backend never outlives its task, and a restarted task
//! restores from the last checkpoint, which flushes the memtable first.

use crate::addressing::{put_bytes, put_key_namespace, read_varint, split_key_namespace};
use crate::backend::{KeyedStateBackend, StateId, StateSnapshot};
use crate::rocks_snapshot::{LocalDir, RocksSnapshot, SstRegistry};
use crate::state_names::StateNames;
use freshet_core::{CheckpointId, CheckpointKind, Error, KeyGroup, KeyGroupRange, Result};
use parking_lot::Mutex;
use rocksdb::{checkpoint::Checkpoint, DBCompressionType, Options, ReadOptions, WriteBatch, WriteOptions, DB};
use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const TAG_VALUE: u8 = 0;
const TAG_MAP: u8 = 1;

/// Wraps a RocksDB error with what was being done.
pub(crate) fn rocks_err(context: impl std::fmt::Display) -> impl FnOnce(rocksdb::Error) -> Error {
    move |e| Error::State(format!("rocksdb: {context}: {e}"))
}

/// The options every Freshet RocksDB instance is opened with.
pub(crate) fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_max_background_jobs(2);
    opts.set_keep_log_file_num(2);
    opts.set_level_compaction_dynamic_level_bytes(true);
    opts
}

/// Opens a downloaded or checkpointed DB for reading only.
pub(crate) fn open_read_only(dir: &Path) -> Result<DB> {
    DB::open_for_read_only(&db_options(), dir, false).map_err(rocks_err(format!("opening {}", dir.display())))
}

/// A fresh token, unique across instances and processes, naming an instance's directory and
/// its shared files. Hex digits only (shared file names are `{token}-{sst name}`).
pub(crate) fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((nanos, count, std::process::id()));
    format!("{random:016x}{:04x}", count & 0xffff)
}

/// The 5-byte prefix of all entries of one kind of one state in one key group.
#[inline]
fn state_prefix(out: &mut Vec<u8>, kg: KeyGroup, state: StateId, tag: u8) {
    out.extend_from_slice(&kg.0.to_be_bytes());
    out.extend_from_slice(&state.0.to_be_bytes());
    out.push(tag);
}

#[inline]
fn value_key(out: &mut Vec<u8>, kg: KeyGroup, state: StateId, key: &[u8], namespace: &[u8]) {
    out.clear();
    state_prefix(out, kg, state, TAG_VALUE);
    put_key_namespace(out, key, namespace);
}

#[inline]
fn map_prefix(out: &mut Vec<u8>, kg: KeyGroup, state: StateId, key: &[u8], namespace: &[u8]) {
    out.clear();
    state_prefix(out, kg, state, TAG_MAP);
    put_bytes(out, key);
    put_bytes(out, namespace);
}

#[inline]
fn map_entry_key(out: &mut Vec<u8>, kg: KeyGroup, state: StateId, key: &[u8], namespace: &[u8], user_key: &[u8]) {
    map_prefix(out, kg, state, key, namespace);
    out.extend_from_slice(user_key);
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// A decoded DB key.
pub(crate) struct DbKey<'a> {
    pub(crate) kg: KeyGroup,
    pub(crate) state: u16,
    pub(crate) key: &'a [u8],
    pub(crate) namespace: &'a [u8],
    pub(crate) user_key: Option<&'a [u8]>,
}

/// Decodes a key written by this module.
pub(crate) fn decode_db_key(raw: &[u8]) -> Result<DbKey<'_>> {
    let corrupt = || Error::State(format!("rocksdb: undecodable key of {} bytes", raw.len()));
    if raw.len() < 5 {
        return Err(corrupt());
    }
    let kg = KeyGroup(u16::from_be_bytes([raw[0], raw[1]]));
    let state = u16::from_be_bytes([raw[2], raw[3]]);
    let rest = &raw[5..];
    match raw[4] {
        TAG_VALUE => {
            let (key, namespace) = split_key_namespace(rest).ok_or_else(corrupt)?;
            Ok(DbKey {
                kg,
                state,
                key,
                namespace,
                user_key: None,
            })
        }
        TAG_MAP => {
            let (key, rest) = split_key_namespace(rest).ok_or_else(corrupt)?;
            let (ns_len, used) = read_varint(rest).ok_or_else(corrupt)?;
            let rest = &rest[used..];
            let ns_len = usize::try_from(ns_len)
                .ok()
                .filter(|&l| l <= rest.len())
                .ok_or_else(corrupt)?;
            let (namespace, user_key) = rest.split_at(ns_len);
            Ok(DbKey {
                kg,
                state,
                key,
                namespace,
                user_key: Some(user_key),
            })
        }
        _ => Err(corrupt()),
    }
}

/// Calls `visit(key, value)` for every key in `[lower, upper)` in order.
pub(crate) fn for_each_in_range<F>(db: &DB, lower: &[u8], upper: Option<Vec<u8>>, mut visit: F) -> Result<()>
where
    F: FnMut(&[u8], &[u8]) -> Result<()>,
{
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(lower.to_vec());
    if let Some(upper) = upper {
        opts.set_iterate_upper_bound(upper);
    }
    let mut it = db.raw_iterator_opt(opts);
    it.seek(lower);
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        visit(k, v)?;
        it.next();
    }
    it.status().map_err(rocks_err("iterating"))
}

/// Calls `visit(key, value)` for every key starting with `prefix`, in order.
pub(crate) fn for_each_with_prefix<F>(db: &DB, prefix: &[u8], visit: F) -> Result<()>
where
    F: FnMut(&[u8], &[u8]) -> Result<()>,
{
    for_each_in_range(db, prefix, prefix_successor(prefix), visit)
}

/// Keyed state in a local RocksDB.
pub struct RocksBackend {
    // Field order matters: the DB closes before its directory is removed.
    db: DB,
    range: KeyGroupRange,
    names: StateNames,
    write_opts: WriteOptions,
    scratch: RefCell<Vec<u8>>,
    token: String,
    local_dir: PathBuf,
    snapshots_taken: u64,
    registry: Arc<Mutex<SstRegistry>>,
    _instance_dir: LocalDir,
}

impl RocksBackend {
    /// A new, empty backend owning `range`, with its DB in a fresh subdirectory of `local_dir`.
    pub fn open(range: KeyGroupRange, local_dir: &Path) -> Result<Self> {
        let (token, instance_dir) = Self::new_instance_dir(local_dir)?;
        Self::open_in(range, local_dir, token, instance_dir)
    }

    /// Reserves a fresh instance directory below `local_dir`: `(token, dir)`. The DB goes in
    /// `dir/db`.
    pub(crate) fn new_instance_dir(local_dir: &Path) -> Result<(String, LocalDir)> {
        let token = unique_token();
        let dir = LocalDir::create(local_dir.join(format!("rocksdb-{token}")))?;
        Ok((token, dir))
    }

    /// Opens (or creates) the DB in `instance_dir/db`.
    pub(crate) fn open_in(
        range: KeyGroupRange,
        local_dir: &Path,
        token: String,
        instance_dir: LocalDir,
    ) -> Result<Self> {
        let db_dir = instance_dir.path().join("db");
        let db = DB::open(&db_options(), &db_dir).map_err(rocks_err(format!("opening {}", db_dir.display())))?;
        let mut write_opts = WriteOptions::default();
        write_opts.disable_wal(true);
        tracing::debug!(dir = %db_dir.display(), ?range, "opened rocksdb state backend");
        Ok(Self {
            db,
            range,
            names: StateNames::default(),
            write_opts,
            scratch: RefCell::new(Vec::with_capacity(64)),
            token,
            local_dir: local_dir.to_path_buf(),
            snapshots_taken: 0,
            registry: Arc::new(Mutex::new(SstRegistry::default())),
            _instance_dir: instance_dir,
        })
    }

    /// The names of the registered states, in id order.
    pub fn state_names(&self) -> &[String] {
        self.names.as_slice()
    }

    /// The record of shared files already uploaded.
    pub(crate) fn registry(&self) -> &Arc<Mutex<SstRegistry>> {
        &self.registry
    }

    /// Deletes every entry outside the owned range (after opening a DB that held more groups).
    pub(crate) fn delete_outside_range(&self) -> Result<()> {
        let mut batch = WriteBatch::default();
        if self.range.start > 0 {
            batch.delete_range(&[0u8, 0][..], &self.range.start.to_be_bytes()[..]);
        }
        batch.delete_range(&self.range.end.to_be_bytes()[..], &[0xffu8, 0xff, 0xff][..]);
        self.db
            .write_opt(batch, &self.write_opts)
            .map_err(rocks_err("deleting key groups outside the range"))
    }

    #[inline]
    fn check(&self, state: StateId, kg: KeyGroup) -> Result<()> {
        self.names.check_address(self.range, state, kg).map(|_| ())
    }

    /// Keys of the entries of one map, from its prefix.
    fn map_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        for_each_with_prefix(&self.db, prefix, |k, _| {
            keys.push(k.to_vec());
            Ok(())
        })?;
        Ok(keys)
    }
}

impl KeyedStateBackend for RocksBackend {
    fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }

    fn register_state(&mut self, name: &str) -> Result<StateId> {
        let (id, added) = self.names.register(name)?;
        if added {
            tracing::debug!(state = name, id = id.0, "registered rocksdb state");
        }
        Ok(id)
    }

    fn get(&self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<Option<Cow<'_, [u8]>>> {
        self.check(state, kg)?;
        let mut buf = self.scratch.borrow_mut();
        value_key(&mut buf, kg, state, key, namespace);
        let value = self.db.get_pinned(&*buf).map_err(rocks_err("reading a value"))?;
        Ok(value.map(|v| Cow::Owned(v.to_vec())))
    }

    fn put(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8], value: &[u8]) -> Result<()> {
        self.check(state, kg)?;
        let buf = self.scratch.get_mut();
        value_key(buf, kg, state, key, namespace);
        self.db
            .put_opt(&*buf, value, &self.write_opts)
            .map_err(rocks_err("writing a value"))
    }

    fn delete(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()> {
        self.check(state, kg)?;
        let buf = self.scratch.get_mut();
        value_key(buf, kg, state, key, namespace);
        self.db
            .delete_opt(&*buf, &self.write_opts)
            .map_err(rocks_err("deleting a value"))
    }

    fn scan(
        &self,
        state: StateId,
        kg: KeyGroup,
        visit: &mut dyn FnMut(&[u8], &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.check(state, kg)?;
        let mut prefix = Vec::with_capacity(5);
        state_prefix(&mut prefix, kg, state, TAG_VALUE);
        for_each_with_prefix(&self.db, &prefix, |k, v| {
            let (key, namespace) = split_key_namespace(&k[prefix.len()..])
                .ok_or_else(|| Error::State("rocksdb: undecodable value key".into()))?;
            visit(key, namespace, v)
        })
    }

    fn map_get(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
    ) -> Result<Option<Cow<'_, [u8]>>> {
        self.check(state, kg)?;
        let mut buf = self.scratch.borrow_mut();
        map_entry_key(&mut buf, kg, state, key, namespace, user_key);
        let value = self.db.get_pinned(&*buf).map_err(rocks_err("reading a map entry"))?;
        Ok(value.map(|v| Cow::Owned(v.to_vec())))
    }

    fn map_put(
        &mut self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        self.check(state, kg)?;
        let buf = self.scratch.get_mut();
        map_entry_key(buf, kg, state, key, namespace, user_key);
        self.db
            .put_opt(&*buf, value, &self.write_opts)
            .map_err(rocks_err("writing a map entry"))
    }

    fn map_delete(
        &mut self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
    ) -> Result<()> {
        self.check(state, kg)?;
        let buf = self.scratch.get_mut();
        map_entry_key(buf, kg, state, key, namespace, user_key);
        self.db
            .delete_opt(&*buf, &self.write_opts)
            .map_err(rocks_err("deleting a map entry"))
    }

    fn map_entries(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.check(state, kg)?;
        let mut prefix = Vec::new();
        map_prefix(&mut prefix, kg, state, key, namespace);
        let mut out = Vec::new();
        for_each_with_prefix(&self.db, &prefix, |k, v| {
            out.push((k[prefix.len()..].to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    fn map_clear(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()> {
        self.check(state, kg)?;
        let mut prefix = Vec::new();
        map_prefix(&mut prefix, kg, state, key, namespace);
        let keys = self.map_keys(&prefix)?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for k in keys {
            batch.delete(k);
        }
        self.db
            .write_opt(batch, &self.write_opts)
            .map_err(rocks_err("clearing a map"))
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, kind: CheckpointKind) -> Result<Box<dyn StateSnapshot>> {
        let started = std::time::Instant::now();
        self.snapshots_taken += 1;
        self.db.flush().map_err(rocks_err("flushing the memtable"))?;
        let dir = self.local_dir.join(format!(
            "rocksdb-{}-chk-{}-{}",
            self.token, checkpoint.0, self.snapshots_taken
        ));
        let guard = LocalDir::reserve(dir);
        Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(guard.path()))
            .map_err(rocks_err(format!(
                "creating a checkpoint in {}",
                guard.path().display()
            )))?;
        tracing::debug!(
            checkpoint = checkpoint.0,
            ?kind,
            dir = %guard.path().display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rocksdb checkpoint created"
        );
        Ok(Box::new(RocksSnapshot {
            dir: guard,
            checkpoint,
            kind,
            range: self.range,
            state_names: self.names.as_slice().to_vec(),
            token: self.token.clone(),
            registry: self.registry.clone(),
        }))
    }

    fn notify_checkpoint_complete(&mut self, checkpoint: CheckpointId) -> Result<()> {
        self.registry.lock().complete(checkpoint);
        Ok(())
    }

    fn approximate_size_bytes(&self) -> u64 {
        let property = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        property("rocksdb.estimate-live-data-size") + property("rocksdb.cur-size-all-mem-tables")
    }
}

impl std::fmt::Debug for RocksBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksBackend")
            .field("range", &self.range)
            .field("states", &self.names.as_slice())
            .field("dir", &self._instance_dir.path())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_back() {
        let mut buf = Vec::new();
        value_key(&mut buf, KeyGroup(300), StateId(2), b"key", b"ns");
        assert_eq!(&buf[..2], &300u16.to_be_bytes());
        let k = decode_db_key(&buf).unwrap();
        assert_eq!(
            (k.kg, k.state, k.key, k.namespace, k.user_key),
            (KeyGroup(300), 2, &b"key"[..], &b"ns"[..], None)
        );
        map_entry_key(&mut buf, KeyGroup(1), StateId(0), b"k", b"", b"user");
        let k = decode_db_key(&buf).unwrap();
        assert_eq!(
            (k.key, k.namespace, k.user_key),
            (&b"k"[..], &b""[..], Some(&b"user"[..]))
        );
    }

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }
}

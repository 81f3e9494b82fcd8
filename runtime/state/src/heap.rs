//! The heap backend: keyed state in in-memory hash maps, snapshotted in full.
//!
//! Layout: per registered state, per key group of the owned range (a `Vec` indexed by
//! `kg - range.start`), one hash map of value entries and one of maps, both keyed by the
//! composite address `varint(len key) ++ key ++ namespace`. Lookups hash the borrowed
//! `(key, namespace)` pair the same way the stored address hashes, so `get`, `put` of an
//! existing entry and `map_get` allocate nothing. Map entries are `BTreeMap`s, ordered by user key.
//!
//! Snapshots serialize synchronously into the canonical format ([`crate::snapshot_format`]);
//! only the upload is asynchronous.

use crate::addressing::{put_key_namespace, split_key_namespace};
use crate::backend::{KeyedStateBackend, StateId, StateSnapshot};
use crate::snapshot_format::{FullSnapshot, SnapshotEntry, SnapshotWriter};
use crate::state_names::StateNames;
use freshet_core::{CheckpointId, CheckpointKind, KeyGroup, KeyGroupRange, Result};
use hashbrown::{Equivalent, HashMap};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// The stored address of an entry: `varint(len key) ++ key ++ namespace`.
#[derive(PartialEq, Eq)]
struct EntryAddr(Box<[u8]>);

impl EntryAddr {
    #[inline]
    fn parts(&self) -> (&[u8], &[u8]) {
        // Built only by `From<&AddrRef>`, so it always splits.
        split_key_namespace(&self.0).unwrap_or((&[], &[]))
    }
}

impl Hash for EntryAddr {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (key, namespace) = self.parts();
        AddrRef { key, namespace }.hash(state);
    }
}

/// A borrowed address, for lookups without building an [`EntryAddr`].
#[derive(Clone, Copy)]
struct AddrRef<'a> {
    key: &'a [u8],
    namespace: &'a [u8],
}

impl Hash for AddrRef<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.key.len());
        state.write(self.key);
        state.write(self.namespace);
    }
}

impl Equivalent<EntryAddr> for AddrRef<'_> {
    #[inline]
    fn equivalent(&self, stored: &EntryAddr) -> bool {
        stored.parts() == (self.key, self.namespace)
    }
}

impl From<&AddrRef<'_>> for EntryAddr {
    fn from(addr: &AddrRef<'_>) -> Self {
        let mut out = Vec::with_capacity(addr.key.len() + addr.namespace.len() + 2);
        put_key_namespace(&mut out, addr.key, addr.namespace);
        EntryAddr(out.into_boxed_slice())
    }
}

/// The entries of one state in one key group.
#[derive(Default)]
struct GroupTable {
    values: HashMap<EntryAddr, Vec<u8>>,
    maps: HashMap<EntryAddr, BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// In-memory keyed state backend.
pub struct HeapBackend {
    range: KeyGroupRange,
    /// Per state id, per key group of the range (one entry per registered name).
    states: Vec<Vec<GroupTable>>,
    names: StateNames,
    size_bytes: u64,
}

impl HeapBackend {
    /// An empty backend owning `range`.
    pub fn new(range: KeyGroupRange) -> Self {
        Self {
            range,
            states: Vec::new(),
            names: StateNames::default(),
            size_bytes: 0,
        }
    }

    /// The names of the registered states, in id order.
    pub fn state_names(&self) -> &[String] {
        self.names.as_slice()
    }

    // `states` has a full row of groups per registered name, so a checked slot indexes it.
    #[inline]
    fn group(&self, state: StateId, kg: KeyGroup) -> Result<&GroupTable> {
        let slot = self.names.check_address(self.range, state, kg)?;
        Ok(&self.states[slot.state][slot.group])
    }

    #[inline]
    fn group_mut(&mut self, state: StateId, kg: KeyGroup) -> Result<&mut GroupTable> {
        let slot = self.names.check_address(self.range, state, kg)?;
        Ok(&mut self.states[slot.state][slot.group])
    }

    /// Serializes every entry into the canonical format.
    fn write_snapshot(&self) -> Result<SnapshotWriter> {
        let mut writer = SnapshotWriter::new(self.names.as_slice());
        for (index, kg) in self.range.iter().enumerate() {
            writer.begin_key_group(kg)?;
            for (id, groups) in self.states.iter().enumerate() {
                let state = id as u16;
                let group = &groups[index];
                for (addr, value) in &group.values {
                    let (key, namespace) = addr.parts();
                    writer.write(&SnapshotEntry {
                        state,
                        key,
                        namespace,
                        user_key: None,
                        value,
                    })?;
                }
                for (addr, map) in &group.maps {
                    let (key, namespace) = addr.parts();
                    for (user_key, value) in map {
                        writer.write(&SnapshotEntry {
                            state,
                            key,
                            namespace,
                            user_key: Some(user_key),
                            value,
                        })?;
                    }
                }
            }
            writer.end_key_group();
        }
        Ok(writer)
    }
}

/// Replaces `existing` with `value` in place; returns the change in bytes.
#[inline]
fn overwrite(existing: &mut Vec<u8>, value: &[u8]) -> i64 {
    let old = existing.len() as i64;
    existing.clear();
    existing.extend_from_slice(value);
    value.len() as i64 - old
}

impl KeyedStateBackend for HeapBackend {
    fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }

    fn register_state(&mut self, name: &str) -> Result<StateId> {
        let (id, added) = self.names.register(name)?;
        if added {
            self.states
                .push((0..self.range.len()).map(|_| GroupTable::default()).collect());
            tracing::debug!(state = name, id = id.0, "registered heap state");
        }
        Ok(id)
    }

    #[inline]
    fn get(&self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<Option<Cow<'_, [u8]>>> {
        let group = self.group(state, kg)?;
        Ok(group
            .values
            .get(&AddrRef { key, namespace })
            .map(|v| Cow::Borrowed(v.as_slice())))
    }

    #[inline]
    fn put(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8], value: &[u8]) -> Result<()> {
        let group = self.group_mut(state, kg)?;
        let addr = AddrRef { key, namespace };
        let added = match group.values.get_mut(&addr) {
            Some(existing) => overwrite(existing, value),
            None => {
                group.values.insert(EntryAddr::from(&addr), value.to_vec());
                (key.len() + namespace.len() + value.len()) as i64
            }
        };
        self.size_bytes = self.size_bytes.saturating_add_signed(added);
        Ok(())
    }

    fn delete(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()> {
        let group = self.group_mut(state, kg)?;
        if let Some(old) = group.values.remove(&AddrRef { key, namespace }) {
            let freed = (key.len() + namespace.len() + old.len()) as u64;
            self.size_bytes = self.size_bytes.saturating_sub(freed);
        }
        Ok(())
    }

    fn scan(
        &self,
        state: StateId,
        kg: KeyGroup,
        visit: &mut dyn FnMut(&[u8], &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let group = self.group(state, kg)?;
        for (addr, value) in &group.values {
            let (key, namespace) = addr.parts();
            visit(key, namespace, value)?;
        }
        Ok(())
    }

    #[inline]
    fn map_get(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
    ) -> Result<Option<Cow<'_, [u8]>>> {
        let group = self.group(state, kg)?;
        Ok(group
            .maps
            .get(&AddrRef { key, namespace })
            .and_then(|map| map.get(user_key))
            .map(|v| Cow::Borrowed(v.as_slice())))
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
        let group = self.group_mut(state, kg)?;
        let addr = AddrRef { key, namespace };
        let map = match group.maps.get_mut(&addr) {
            Some(map) => map,
            None => group.maps.entry(EntryAddr::from(&addr)).or_default(),
        };
        let added = match map.get_mut(user_key) {
            Some(existing) => overwrite(existing, value),
            None => {
                map.insert(user_key.to_vec(), value.to_vec());
                (key.len() + namespace.len() + user_key.len() + value.len()) as i64
            }
        };
        self.size_bytes = self.size_bytes.saturating_add_signed(added);
        Ok(())
    }

    fn map_delete(
        &mut self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
        user_key: &[u8],
    ) -> Result<()> {
        let group = self.group_mut(state, kg)?;
        let addr = AddrRef { key, namespace };
        let Some(map) = group.maps.get_mut(&addr) else {
            return Ok(());
        };
        let Some(old) = map.remove(user_key) else {
            return Ok(());
        };
        if map.is_empty() {
            group.maps.remove(&addr);
        }
        let freed = (key.len() + namespace.len() + user_key.len() + old.len()) as u64;
        self.size_bytes = self.size_bytes.saturating_sub(freed);
        Ok(())
    }

    fn map_entries(
        &self,
        state: StateId,
        kg: KeyGroup,
        key: &[u8],
        namespace: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let group = self.group(state, kg)?;
        Ok(group
            .maps
            .get(&AddrRef { key, namespace })
            .map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn map_clear(&mut self, state: StateId, kg: KeyGroup, key: &[u8], namespace: &[u8]) -> Result<()> {
        let group = self.group_mut(state, kg)?;
        if let Some(map) = group.maps.remove(&AddrRef { key, namespace }) {
            let prefix = (key.len() + namespace.len()) as u64;
            let freed: u64 = map.iter().map(|(k, v)| prefix + (k.len() + v.len()) as u64).sum();
            self.size_bytes = self.size_bytes.saturating_sub(freed);
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint: CheckpointId, kind: CheckpointKind) -> Result<Box<dyn StateSnapshot>> {
        let started = std::time::Instant::now();
        let writer = self.write_snapshot()?;
        let snapshot = FullSnapshot::new(writer);
        tracing::debug!(
            checkpoint = checkpoint.0,
            ?kind,
            states = self.states.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "heap snapshot serialized"
        );
        Ok(Box::new(snapshot))
    }

    fn approximate_size_bytes(&self) -> u64 {
        self.size_bytes
    }
}

impl std::fmt::Debug for HeapBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeapBackend")
            .field("range", &self.range)
            .field("states", &self.names.as_slice())
            .field("size_bytes", &self.size_bytes)
            .finish()
    }
}

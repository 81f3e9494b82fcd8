//! The canonical full snapshot format: what heap checkpoints, every savepoint (of either
//! backend) and RocksDB checkpoints without a shared directory are written in, and what either
//! backend can restore from.
//!
//! A file is a header followed by one section per non-empty key group, in key-group order:
//! ```text
//! file    := MAGIC(8) version:u16le section*
//! section := "KG" version:u8 key_group:u16le body_len:u64le crc32(body):u32le body
//! body    := varint(#names) (bytes name)* entry*
//! entry   := kind:u8 (0 value | 1 map) varint(state) bytes(key) bytes(namespace)
//!            [bytes(user_key) if map] bytes(value)
//! bytes   := varint(len) len*u8
//! ```
//! `state` indexes the section's own name table, so a section read alone (with
//! `CheckpointStorage::get_range`, using the `(key group, offset, length)` triples recorded in
//! [`KeyedStateHandle::Full`]) carries everything needed to restore it: state ids are per backend
//! instance, names are what survive. Each section is checksummed.

use crate::addressing::{put_bytes, put_varint, ByteReader};
use crate::backend::{KeyedStateBackend, SnapshotTarget, StateId, StateSnapshot};
use crate::metadata::{KeyedStateHandle, StateFile};
use crate::storage::{join, CheckpointStorage};
use bytes::Bytes;
use freshet_core::{Error, KeyGroup, KeyGroupRange, Result};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};

/// First bytes of every full snapshot file.
pub const MAGIC: &[u8; 8] = b"FRSHTKS\0";
/// Version of the file layout written by this build.
pub const VERSION: u16 = 1;
/// Length of the file header: magic and version.
const HEADER_LEN: u64 = MAGIC.len() as u64 + 2;
/// Name of the full snapshot file inside a snapshot's private directory.
pub const FULL_SNAPSHOT_FILE: &str = "keyed-state";

const SECTION_MAGIC: &[u8; 2] = b"KG";
const SECTION_VERSION: u8 = 1;
/// magic(2) + version(1) + key group(2) + body length(8) + crc(4).
const SECTION_HEADER_LEN: usize = 17;
const KIND_VALUE: u8 = 0;
const KIND_MAP: u8 = 1;
/// How many sections a restore fetches concurrently.
const FETCH_CONCURRENCY: usize = 8;

/// One entry of a snapshot. `state` indexes the state-name table of the writer (or section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotEntry<'a> {
    /// Index into the state-name table.
    pub state: u16,
    /// The entry's key.
    pub key: &'a [u8],
    /// The entry's namespace.
    pub namespace: &'a [u8],
    /// `Some` for a map entry (its user key), `None` for a value entry.
    pub user_key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
}

/// Builds a full snapshot file in memory, one key-group section at a time.
pub struct SnapshotWriter {
    buf: Vec<u8>,
    names: Vec<String>,
    offsets: Vec<(u16, u64, u64)>,
    open: Option<OpenSection>,
}

struct OpenSection {
    kg: u16,
    start: usize,
    body_start: usize,
    entries: usize,
}

impl SnapshotWriter {
    /// A writer whose entries refer to `state_names` by index (normally: by state id).
    pub fn new(state_names: &[String]) -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        Self {
            buf,
            names: state_names.to_vec(),
            offsets: Vec::new(),
            open: None,
        }
    }

    /// Starts the section of `kg` (ending the open one). Key groups must come in ascending order.
    pub fn begin_key_group(&mut self, kg: KeyGroup) -> Result<()> {
        self.end_key_group();
        if let Some(&(last, _, _)) = self.offsets.last() {
            if kg.0 <= last {
                return Err(Error::Internal(format!(
                    "snapshot sections out of order: key group {kg} after {last}"
                )));
            }
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(SECTION_MAGIC);
        self.buf.push(SECTION_VERSION);
        self.buf.extend_from_slice(&kg.0.to_le_bytes());
        self.buf.extend_from_slice(&[0u8; 12]); // body length and crc, patched at the end
        let body_start = self.buf.len();
        put_varint(&mut self.buf, self.names.len() as u64);
        for name in &self.names {
            put_bytes(&mut self.buf, name.as_bytes());
        }
        self.open = Some(OpenSection {
            kg: kg.0,
            start,
            body_start,
            entries: 0,
        });
        Ok(())
    }

    /// Appends an entry to the open section.
    pub fn write(&mut self, entry: &SnapshotEntry<'_>) -> Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Err(Error::Internal(
                "snapshot entry written outside a key-group section".into(),
            ));
        };
        if usize::from(entry.state) >= self.names.len() {
            return Err(Error::Internal(format!(
                "snapshot entry of unknown state index {} ({} states)",
                entry.state,
                self.names.len()
            )));
        }
        open.entries += 1;
        let buf = &mut self.buf;
        buf.push(if entry.user_key.is_some() { KIND_MAP } else { KIND_VALUE });
        put_varint(buf, u64::from(entry.state));
        put_bytes(buf, entry.key);
        put_bytes(buf, entry.namespace);
        if let Some(user_key) = entry.user_key {
            put_bytes(buf, user_key);
        }
        put_bytes(buf, entry.value);
        Ok(())
    }

    /// Ends the open section: records its offset, or drops it if it holds no entry.
    pub fn end_key_group(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.entries == 0 {
            self.buf.truncate(open.start);
            return;
        }
        let body_len = (self.buf.len() - open.body_start) as u64;
        let crc = crc32(&self.buf[open.body_start..]);
        self.buf[open.start + 5..open.start + 13].copy_from_slice(&body_len.to_le_bytes());
        self.buf[open.start + 13..open.start + 17].copy_from_slice(&crc.to_le_bytes());
        let len = (self.buf.len() - open.start) as u64;
        self.offsets.push((open.kg, open.start as u64, len));
    }

    /// Writes the whole section of `kg` from an iterator of its entries.
    pub fn write_key_group<'e>(
        &mut self,
        kg: KeyGroup,
        entries: impl IntoIterator<Item = SnapshotEntry<'e>>,
    ) -> Result<()> {
        self.begin_key_group(kg)?;
        for entry in entries {
            self.write(&entry)?;
        }
        self.end_key_group();
        Ok(())
    }

    /// The finished file and the `(key group, offset, length)` of each non-empty section.
    pub fn finish(mut self) -> (Bytes, Vec<(u16, u64, u64)>) {
        self.end_key_group();
        (Bytes::from(self.buf), self.offsets)
    }
}

/// Checks the header of a whole full snapshot file.
pub fn check_file_header(file: &[u8]) -> Result<()> {
    let mut r = ByteReader::new(file, "snapshot file header");
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Error::State("not a Freshet keyed-state snapshot (bad magic)".into()));
    }
    let version = u16::from_le_bytes(r.array()?);
    if version != VERSION {
        return Err(Error::State(format!(
            "unsupported keyed-state snapshot version {version} (this build reads {VERSION})"
        )));
    }
    Ok(())
}

/// Reads one key-group section (the bytes of one `(key group, offset, length)` range).
pub struct SectionReader<'a> {
    kg: KeyGroup,
    names: Vec<&'a str>,
    body: ByteReader<'a>,
}

impl<'a> SectionReader<'a> {
    /// Checks the section's header and checksum and reads its name table.
    pub fn open(section: &'a [u8]) -> Result<Self> {
        let mut r = ByteReader::new(section, "snapshot section header");
        if r.take(2)? != SECTION_MAGIC {
            return Err(Error::State("corrupt snapshot section: bad magic".into()));
        }
        let version = r.u8()?;
        if version != SECTION_VERSION {
            return Err(Error::State(format!("unsupported snapshot section version {version}")));
        }
        let kg = KeyGroup(u16::from_le_bytes(r.array()?));
        let body_len = u64::from_le_bytes(r.array()?);
        let crc = u32::from_le_bytes(r.array()?);
        let body_len = usize::try_from(body_len)
            .ok()
            .filter(|&len| len == section.len() - SECTION_HEADER_LEN)
            .ok_or_else(|| {
                Error::State(format!(
                    "corrupt snapshot section of key group {kg}: body length {body_len} does not match {} bytes read",
                    section.len() - SECTION_HEADER_LEN
                ))
            })?;
        let body = r.take(body_len)?;
        if crc32(body) != crc {
            return Err(Error::State(format!(
                "corrupt snapshot section of key group {kg}: checksum mismatch"
            )));
        }
        let mut body = ByteReader::new(body, "snapshot section");
        let count = body.varint()?;
        let mut names = Vec::new();
        for _ in 0..count {
            let name = std::str::from_utf8(body.bytes()?).map_err(|_| {
                Error::State(format!(
                    "corrupt snapshot section of key group {kg}: state name not UTF-8"
                ))
            })?;
            names.push(name);
        }
        Ok(Self { kg, names, body })
    }

    /// The section's key group.
    pub fn key_group(&self) -> KeyGroup {
        self.kg
    }

    /// The section's state names; entries refer to them by index.
    pub fn state_names(&self) -> &[&'a str] {
        &self.names
    }

    /// The next entry, or `None` at the end of the section.
    pub fn next_entry(&mut self) -> Result<Option<SnapshotEntry<'a>>> {
        if self.body.is_empty() {
            return Ok(None);
        }
        let kind = self.body.u8()?;
        let state = self.body.varint()?;
        let state = u16::try_from(state)
            .ok()
            .filter(|&s| usize::from(s) < self.names.len())
            .ok_or_else(|| Error::State(format!("corrupt snapshot section: unknown state index {state}")))?;
        let key = self.body.bytes()?;
        let namespace = self.body.bytes()?;
        let user_key = match kind {
            KIND_VALUE => None,
            KIND_MAP => Some(self.body.bytes()?),
            other => return Err(Error::State(format!("corrupt snapshot section: entry kind {other}"))),
        };
        let value = self.body.bytes()?;
        Ok(Some(SnapshotEntry {
            state,
            key,
            namespace,
            user_key,
            value,
        }))
    }
}

impl<'a> Iterator for SectionReader<'a> {
    type Item = Result<SnapshotEntry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

/// A snapshot already serialized in the canonical format, waiting to be uploaded.
pub struct FullSnapshot {
    bytes: Bytes,
    key_group_offsets: Vec<(u16, u64, u64)>,
}

impl FullSnapshot {
    /// Wraps a finished [`SnapshotWriter`].
    pub fn new(writer: SnapshotWriter) -> Self {
        let (bytes, key_group_offsets) = writer.finish();
        Self {
            bytes,
            key_group_offsets,
        }
    }

    /// Writes the file to `{dir}/keyed-state` and returns its handle.
    pub async fn upload_to(self, storage: &CheckpointStorage, dir: &str) -> Result<KeyedStateHandle> {
        let path = join(dir, FULL_SNAPSHOT_FILE);
        let size = storage.put(&path, self.bytes).await?;
        tracing::debug!(
            path,
            size,
            groups = self.key_group_offsets.len(),
            "uploaded full keyed-state snapshot"
        );
        Ok(KeyedStateHandle::Full {
            file: StateFile { path, size },
            key_group_offsets: self.key_group_offsets,
        })
    }
}

impl StateSnapshot for FullSnapshot {
    fn upload(self: Box<Self>, target: SnapshotTarget) -> BoxFuture<'static, Result<KeyedStateHandle>> {
        Box::pin(async move { self.upload_to(&target.storage, &target.dir).await })
    }
}

/// Loads the sections of a full snapshot file that fall in `range` into `backend`, reading only
/// those byte ranges. Returns the number of entries loaded.
pub async fn restore_full_file(
    file: &StateFile,
    key_group_offsets: &[(u16, u64, u64)],
    range: KeyGroupRange,
    storage: &CheckpointStorage,
    backend: &mut dyn KeyedStateBackend,
) -> Result<u64> {
    let wanted: Vec<(u16, u64, u64)> = key_group_offsets
        .iter()
        .copied()
        .filter(|&(kg, _, _)| range.contains(KeyGroup(kg)))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let header = storage.get_range(&file.path, 0, HEADER_LEN).await?;
    check_file_header(&header).map_err(|e| Error::State(format!("{}: {e}", file.path)))?;
    // Owned futures built up front: a stream of closures returning futures that borrow their
    // environment is not provably `Send` for every lifetime, and callers spawn restores.
    let fetches: Vec<_> = wanted
        .into_iter()
        .map(|(kg, offset, len)| fetch_section(storage.clone(), file.path.clone(), kg, offset, len))
        .collect();
    let mut sections = futures::stream::iter(fetches).buffered(FETCH_CONCURRENCY);
    let mut loaded = 0u64;
    while let Some((kg, bytes)) = sections.try_next().await? {
        loaded += load_section(&bytes, KeyGroup(kg), backend)
            .map_err(|e| Error::State(format!("restoring key group {kg} from {}: {e}", file.path)))?;
    }
    Ok(loaded)
}

/// Reads the bytes of one section.
async fn fetch_section(
    storage: CheckpointStorage,
    path: String,
    kg: u16,
    offset: u64,
    len: u64,
) -> Result<(u16, Bytes)> {
    Ok((kg, storage.get_range(&path, offset, len).await?))
}

/// Loads one section (which must belong to `kg`) into `backend`; returns the entry count.
pub fn load_section(section: &[u8], kg: KeyGroup, backend: &mut dyn KeyedStateBackend) -> Result<u64> {
    let mut reader = SectionReader::open(section)?;
    if reader.key_group() != kg {
        return Err(Error::State(format!(
            "section holds key group {} where the handle says {kg}",
            reader.key_group()
        )));
    }
    let ids: Vec<StateId> = reader
        .state_names()
        .iter()
        .map(|name| backend.register_state(name))
        .collect::<Result<_>>()?;
    let mut loaded = 0u64;
    while let Some(e) = reader.next_entry()? {
        let state = ids[usize::from(e.state)];
        match e.user_key {
            None => backend.put(state, kg, e.key, e.namespace, e.value)?,
            Some(user_key) => backend.map_put(state, kg, e.key, e.namespace, user_key, e.value)?,
        }
        loaded += 1;
    }
    Ok(loaded)
}

/// CRC-32 (IEEE 802.3, as in zlib) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["counts".to_string(), "windows".to_string()]
    }

    #[test]
    fn crc_matches_zlib() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn sections_round_trip_and_skip_empty_groups() {
        let mut w = SnapshotWriter::new(&names());
        let entries = [
            SnapshotEntry {
                state: 0,
                key: b"k1",
                namespace: b"n",
                user_key: None,
                value: b"v1",
            },
            SnapshotEntry {
                state: 1,
                key: b"k2",
                namespace: b"",
                user_key: Some(b"u"),
                value: b"",
            },
        ];
        w.write_key_group(KeyGroup(3), entries).unwrap();
        w.write_key_group(KeyGroup(4), []).unwrap();
        w.write_key_group(KeyGroup(9), entries[..1].iter().copied()).unwrap();
        let (file, offsets) = w.finish();
        check_file_header(&file).unwrap();
        assert_eq!(offsets.iter().map(|o| o.0).collect::<Vec<_>>(), vec![3, 9]);
        let (_, off, len) = offsets[0];
        let section = &file[off as usize..(off + len) as usize];
        let reader = SectionReader::open(section).unwrap();
        assert_eq!(reader.key_group(), KeyGroup(3));
        assert_eq!(reader.state_names(), &["counts", "windows"]);
        let read: Vec<_> = reader.collect::<Result<_>>().unwrap();
        assert_eq!(read, entries.to_vec());
    }

    #[test]
    fn corruption_is_detected() {
        let mut w = SnapshotWriter::new(&names());
        w.write_key_group(
            KeyGroup(0),
            [SnapshotEntry {
                state: 0,
                key: b"k",
                namespace: b"n",
                user_key: None,
                value: b"v",
            }],
        )
        .unwrap();
        let (file, offsets) = w.finish();
        let (_, off, len) = offsets[0];
        let mut section = file[off as usize..(off + len) as usize].to_vec();
        let last = section.len() - 1;
        section[last] ^= 0xff;
        let err = SectionReader::open(&section)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("checksum"), "{err}");
        assert!(check_file_header(b"nonsense!!").is_err());
    }

    #[test]
    fn out_of_order_sections_are_rejected() {
        let mut w = SnapshotWriter::new(&names());
        w.write_key_group(
            KeyGroup(5),
            [SnapshotEntry {
                state: 0,
                key: b"k",
                namespace: b"",
                user_key: None,
                value: b"v",
            }],
        )
        .unwrap();
        assert!(w.begin_key_group(KeyGroup(5)).is_err());
    }
}

//! Listing the files a file source reads, and which subtask reads which.
//!
//! A source path is a file or a directory (not descended into). Names starting with `.` or
//! `_` are skipped: they are hidden or in-progress files, such as the file sink's.
//!
//! Continuous mode partitions files by key group: a file belongs to the key group of its
//! name's stable hash, and exactly one subtask owns each key group ([`OwnedGroups`]). The owner
//! alone adopts the group's new files and snapshots the group as one [`KeyGroupFiles`] item, so
//! whichever subtask a restore hands that item to knows every file the group ever adopted.
//! Invariant: the items of one snapshot cover every key group exactly once.

use super::FilePosition;
use freshet_core::key_group::{key_group_for_hash, stable_hash};
use freshet_core::{Error, KeyGroup, Result};
use freshet_dataflow::TaskInfo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A listed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its path (the source path joined with the file name).
    pub path: PathBuf,
}

/// The visible regular files at `root`, sorted by path.
pub fn list(root: &Path) -> Result<Vec<Listed>> {
    let meta =
        std::fs::metadata(root).map_err(|e| Error::io(format!("file source: reading '{}'", root.display()), e))?;
    if meta.is_file() {
        return Ok(vec![Listed {
            path: root.to_path_buf(),
        }]);
    }
    let entries =
        std::fs::read_dir(root).map_err(|e| Error::io(format!("file source: listing '{}'", root.display()), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("file source: listing '{}'", root.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        // A file may vanish between listing and stat; it is simply not listed.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() {
            out.push(Listed { path });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The stable hash of a file's name: the same in every subtask and every run, whatever order
/// files are discovered in.
fn name_hash(path: &Path) -> u64 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    stable_hash(name.as_bytes())
}

/// The index of a file in continuous mode (its split id, unless taken): from its name's hash.
pub fn path_index(path: &Path) -> u32 {
    (name_hash(path) >> 33) as u32
}

/// The key group of a file in continuous mode, among `key_groups` groups.
pub fn key_group_of(path: &Path, key_groups: u32) -> KeyGroup {
    key_group_for_hash(name_hash(path), key_groups.max(1))
}

/// Continuous mode's snapshot item: one key group of file names, with the position of every
/// file of the group adopted so far (finished ones included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupFiles {
    /// The key group.
    pub key_group: u16,
    /// How many key groups file names hash into: the job's max parallelism at the first start.
    pub key_groups: u32,
    /// The group's files.
    pub files: Vec<FilePosition>,
}

/// The key groups whose new files one subtask adopts (continuous mode).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedGroups {
    key_groups: u32,
    owned: BTreeSet<u16>,
}

impl OwnedGroups {
    /// A fresh subtask's groups: its key-group range.
    pub fn fresh(info: &TaskInfo) -> Self {
        Self {
            key_groups: info.max_parallelism.max(1),
            owned: info.key_groups.iter().map(|kg| kg.0).collect(),
        }
    }

    /// A restored subtask's groups: those of the items it was handed (at any parallelism),
    /// with the positions of their files.
    pub fn restore(items: &[serde_json::Value]) -> Result<(Self, Vec<FilePosition>)> {
        let mut groups = Self::default();
        let mut files = Vec::new();
        for item in items {
            let group: KeyGroupFiles = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("file source: unreadable restored key group {item}: {e}")))?;
            if groups.key_groups == 0 {
                groups.key_groups = group.key_groups;
            }
            if group.key_groups != groups.key_groups || u32::from(group.key_group) >= group.key_groups {
                return Err(Error::State(format!(
                    "file source: restored key group {} of {} does not fit key groups of {}",
                    group.key_group, group.key_groups, groups.key_groups
                )));
            }
            if !groups.owned.insert(group.key_group) {
                return Err(Error::State(format!(
                    "file source: key group {} restored twice",
                    group.key_group
                )));
            }
            files.extend(group.files);
        }
        Ok((groups, files))
    }

    /// Whether the file at `path` belongs to an owned group.
    pub fn owns(&self, path: &Path) -> bool {
        self.owned.contains(&key_group_of(path, self.key_groups).0)
    }

    /// One item per owned group (empty groups included, so that ownership survives a restore),
    /// each with the positions of its files among `files`.
    pub fn snapshot<'a>(&self, files: impl IntoIterator<Item = &'a FilePosition>) -> Result<Vec<serde_json::Value>> {
        let mut by_group: BTreeMap<u16, Vec<FilePosition>> = self.owned.iter().map(|&g| (g, Vec::new())).collect();
        for pos in files {
            let group = key_group_of(Path::new(&pos.path), self.key_groups).0;
            let Some(group_files) = by_group.get_mut(&group) else {
                return Err(Error::Internal(format!(
                    "file source: '{}' is in key group {group}, which this subtask does not own",
                    pos.path
                )));
            };
            group_files.push(pos.clone());
        }
        by_group
            .into_iter()
            .map(|(key_group, files)| {
                let item = KeyGroupFiles {
                    key_group,
                    key_groups: self.key_groups,
                    files,
                };
                serde_json::to_value(item).map_err(Error::from)
            })
            .collect()
    }
}

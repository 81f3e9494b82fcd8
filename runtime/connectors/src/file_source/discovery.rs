//! Listing the files a file source reads, and which subtask reads which.
//!
//! A source path is a file or a directory (not descended into); on an object store, an object
//! or the objects directly below a prefix. Names starting with `.` or `_` are skipped: they
//! are hidden or in-progress files, such as the file sink's.
//!
//! Continuous mode partitions files by key group: a file belongs to the key group of its
//! name's stable hash, and exactly one subtask owns each key group ([`OwnedGroups`], the scheme
//! of [`crate::key_groups`]). The owner alone adopts the group's new files and snapshots the
//! group as one [`KeyGroupFiles`] item, so whichever subtask a restore hands that item to knows
//! every file the group ever adopted.
//! Invariant: the items of one snapshot cover every key group exactly once.

use super::files::Files;
use super::FilePosition;
use crate::blocking_store::BlockingStore;
use crate::key_groups::OwnedKeyGroups;
use freshet_core::key_group::stable_hash;
use freshet_core::{Error, Result};
use freshet_dataflow::TaskInfo;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A listed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its path (the source path joined with the file name), or its URL.
    pub path: String,
}

/// The visible files of a source's storage, sorted by path.
pub fn list(files: &Files) -> Result<Vec<Listed>> {
    let mut out = match files {
        Files::Local(root) => list_local(root)?,
        Files::Object(store) => list_objects(store)?,
    };
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Whether a file named `name` is read (not hidden or in progress).
fn visible(name: &str) -> bool {
    !(name.starts_with('.') || name.starts_with('_'))
}

/// The visible regular files at `root`.
fn list_local(root: &Path) -> Result<Vec<Listed>> {
    let meta =
        std::fs::metadata(root).map_err(|e| Error::io(format!("file source: reading '{}'", root.display()), e))?;
    if meta.is_file() {
        return Ok(vec![Listed {
            path: root.to_string_lossy().into_owned(),
        }]);
    }
    let entries =
        std::fs::read_dir(root).map_err(|e| Error::io(format!("file source: listing '{}'", root.display()), e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("file source: listing '{}'", root.display()), e))?;
        if !visible(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        // A file may vanish between listing and stat; it is simply not listed.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() {
            out.push(Listed {
                path: path.to_string_lossy().into_owned(),
            });
        }
    }
    Ok(out)
}

/// The visible objects directly below the store's root, or the root object itself if nothing
/// is below it.
fn list_objects(store: &BlockingStore) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for meta in store.list()? {
        if meta.location.filename().is_some_and(visible) {
            out.push(Listed {
                path: store.url_of(&meta.location),
            });
        }
    }
    if out.is_empty() && !store.root().is_root() && store.head(store.root())?.is_some() {
        out.push(Listed {
            path: store.url().to_string(),
        });
    }
    Ok(out)
}

/// A file's name: what its key group and index are derived from, the same in every subtask
/// and every run, whatever order files are discovered in.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The index of a file in continuous mode (its split id, unless taken): from its name's hash.
pub fn path_index(path: &Path) -> u32 {
    (stable_hash(file_name(path).as_bytes()) >> 33) as u32
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

/// The key groups whose new files one subtask adopts (continuous mode): files are split by
/// name ([`OwnedKeyGroups`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedGroups(OwnedKeyGroups);

const SOURCE: &str = "file source";

impl OwnedGroups {
    /// A fresh subtask's groups: its key-group range.
    pub fn fresh(info: &TaskInfo) -> Self {
        Self(OwnedKeyGroups::fresh(info))
    }

    /// A restored subtask's groups: those of the items it was handed (at any parallelism),
    /// with the positions of their files.
    pub fn restore(items: &[serde_json::Value]) -> Result<(Self, Vec<FilePosition>)> {
        let mut groups = OwnedKeyGroups::default();
        let mut files = Vec::new();
        for item in items {
            let group: KeyGroupFiles = serde_json::from_value(item.clone())
                .map_err(|e| Error::State(format!("{SOURCE}: unreadable restored key group {item}: {e}")))?;
            groups.restore_group(SOURCE, group.key_group, group.key_groups)?;
            files.extend(group.files);
        }
        Ok((Self(groups), files))
    }

    /// Whether the file at `path` belongs to an owned group.
    pub fn owns(&self, path: &Path) -> bool {
        self.0.owns(&file_name(path))
    }

    /// One item per owned group (empty groups included, so that ownership survives a restore),
    /// each with the positions of its files among `files`.
    pub fn snapshot<'a>(&self, files: impl IntoIterator<Item = &'a FilePosition>) -> Result<Vec<serde_json::Value>> {
        let groups = self.0.group(SOURCE, files, |f| file_name(Path::new(&f.path)))?;
        groups
            .into_iter()
            .map(|(key_group, files)| {
                let item = KeyGroupFiles {
                    key_group,
                    key_groups: self.0.key_groups(),
                    files: files.into_iter().cloned().collect(),
                };
                serde_json::to_value(item).map_err(Error::from)
            })
            .collect()
    }
}

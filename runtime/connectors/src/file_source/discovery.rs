//! Listing the files a file source reads, and which subtask reads which.
//!
//! A source path is a file or a directory (not descended into). Names starting with `.` or
//! `_` are skipped: they are hidden or in-progress files, such as the file sink's.

use freshet_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A listed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its path (the source path joined with the file name).
    pub path: PathBuf,
    /// Modification time, ms since the epoch (0 if unknown).
    pub modified_ms: i64,
}

/// The visible regular files at `root`, sorted by path.
pub fn list(root: &Path) -> Result<Vec<Listed>> {
    let meta =
        std::fs::metadata(root).map_err(|e| Error::io(format!("file source: reading '{}'", root.display()), e))?;
    if meta.is_file() {
        return Ok(vec![Listed {
            path: root.to_path_buf(),
            modified_ms: modified_ms(&meta),
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
            out.push(Listed {
                path,
                modified_ms: modified_ms(&meta),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

/// The stable index of a file in continuous mode: a hash of its name, the same in every
/// subtask and every run, whatever order files are discovered in.
pub fn path_index(path: &Path) -> u32 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (freshet_core::key_group::stable_hash(name.as_bytes()) >> 33) as u32
}

//! The file store (`file:DIR`), for local runs and tests, without locks: every version of the
//! record is its own file, `DIR/ha.<version>.json`, and the newest version is the record.
//!
//! A write that expects version `N` writes a temporary file, syncs it, and hard-links it as
//! `ha.<N+1>.json`. The link is the compare-and-swap: it fails if another writer created that
//! version first. Readers take no lock and always see a whole record. No process ever holds
//! anything, so a writer that is paused or killed mid-write cannot block the others (with
//! `flock`, a leader paused while holding the lock would have stopped every standby from taking
//! over). Old versions are removed, keeping the newest [`KEPT_VERSIONS`]; a writer paused for so
//! long that the version it creates was already removed notices that a newer version exists and
//! reports a conflict, so its write never counts. Lease expiry is by wall time, so contenders must
//! share a host (or closely synchronised clocks) and a filesystem with atomic hard links.

use crate::error::{HaError, Result};
use crate::record::{HaRecord, StoreVersion, VersionedRecord};
use crate::record_store::RecordStore;
use crate::timing::LeaseTiming;
use freshet_core::Clock;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many of the newest record versions stay on disk.
pub const KEPT_VERSIONS: u64 = 16;

/// The file holding version `version` of the record.
fn version_file(dir: &Path, version: u64) -> PathBuf {
    dir.join(format!("ha.{version}.json"))
}

/// The versions present in `dir`.
fn versions(dir: &Path) -> Result<Vec<u64>> {
    let entries = fs::read_dir(dir).map_err(|e| HaError::io(format!("listing {}", dir.display()), e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| HaError::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(v) = name
            .strip_prefix("ha.")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|v| v.parse::<u64>().ok())
        {
            found.push(v);
        }
    }
    Ok(found)
}

/// The HA record kept in a local directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
    timing: LeaseTiming,
    clock: Arc<dyn Clock>,
}

/// One version of the record on disk.
#[derive(Serialize, Deserialize)]
struct FileRecord {
    version: u64,
    record: HaRecord,
}

impl FileStore {
    /// A store in `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>, timing: LeaseTiming, clock: Arc<dyn Clock>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| HaError::io(format!("creating HA directory {}", dir.display()), e))?;
        Ok(Self { dir, timing, clock })
    }

    /// A store at an address `file:DIR` (or `file://DIR`), created if missing.
    pub fn from_address(address: &str, timing: LeaseTiming, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::new(parse_file_address(address)?, timing, clock)
    }

    /// The directory the record lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_blocking(dir: &Path) -> Result<Option<(FileRecord, StoreVersion)>> {
        // The newest version may be removed between listing and reading only if even newer
        // ones exist: list again.
        for _ in 0..5 {
            let Some(newest) = versions(dir)?.into_iter().max() else {
                return Ok(None);
            };
            let path = version_file(dir, newest);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(HaError::io(format!("reading {}", path.display()), e)),
            };
            let file: FileRecord =
                serde_json::from_slice(&bytes).map_err(|e| HaError::Corrupt(format!("{}: {e}", path.display())))?;
            if file.version != newest {
                return Err(HaError::Corrupt(format!(
                    "{} holds version {}",
                    path.display(),
                    file.version
                )));
            }
            return Ok(Some((file, StoreVersion(newest.to_string()))));
        }
        Err(HaError::Conflict(format!(
            "the record in {} kept changing while being read",
            dir.display()
        )))
    }

    fn write_blocking(dir: &Path, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<StoreVersion> {
        let stored = Self::read_blocking(dir)?.map(|(file, _)| file.version);
        let next = match (stored, expected) {
            (None, None) => 1,
            (Some(version), Some(expected)) if version.to_string() == expected.0 => version.saturating_add(1),
            (stored, expected) => {
                return Err(HaError::Conflict(format!(
                    "the record in {} is at version {}, the write expected {}",
                    dir.display(),
                    stored.map_or_else(|| "none".to_string(), |v| v.to_string()),
                    expected.map_or_else(|| "none".to_string(), |v| v.0.clone()),
                )))
            }
        };
        Self::create_version(dir, next, record)
    }

    /// Creates version `next` of the record, unless it or a newer one exists.
    fn create_version(dir: &Path, next: u64, record: &HaRecord) -> Result<StoreVersion> {
        let bytes = serde_json::to_vec_pretty(&FileRecord {
            version: next,
            record: record.clone(),
        })
        .map_err(|e| HaError::Corrupt(format!("encoding the HA record: {e}")))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let temp = dir.join(format!(".ha.{next}.{}.{nanos}.tmp", std::process::id()));
        let written = File::create(&temp)
            .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()))
            .map_err(|e| HaError::io(format!("writing {}", temp.display()), e));
        let target = version_file(dir, next);
        let linked = written.and_then(|()| match fs::hard_link(&temp, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(HaError::Conflict(format!(
                "another writer created version {next} in {} first",
                dir.display()
            ))),
            Err(e) => Err(HaError::io(format!("linking {}", target.display()), e)),
        });
        let _ = fs::remove_file(&temp);
        linked?;
        // A writer paused past the removal of old versions may have re-created one: it only
        // counts if nothing newer exists.
        let all = versions(dir)?;
        if all.iter().any(|v| *v > next) {
            let _ = fs::remove_file(&target);
            return Err(HaError::Conflict(format!(
                "version {next} in {} was superseded while it was written",
                dir.display()
            )));
        }
        // Make the link durable; failure to sync a directory is not fatal on every platform.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::debug!(dir = %dir.display(), error = %e, "could not sync the HA directory");
        }
        for old in all.into_iter().filter(|v| v.saturating_add(KEPT_VERSIONS) <= next) {
            let _ = fs::remove_file(version_file(dir, old));
        }
        Ok(StoreVersion(next.to_string()))
    }
}

/// The directory of a `file:DIR` or `file://DIR` address.
pub fn parse_file_address(address: &str) -> Result<PathBuf> {
    let dir = address
        .strip_prefix("file://")
        .or_else(|| address.strip_prefix("file:"))
        .ok_or_else(|| HaError::Config(format!("HA store address '{address}' does not start with 'file:'")))?;
    if dir.is_empty() {
        return Err(HaError::Config(format!(
            "HA store address '{address}' names no directory"
        )));
    }
    Ok(PathBuf::from(dir))
}

impl RecordStore for FileStore {
    fn timing(&self) -> &LeaseTiming {
        &self.timing
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn read(&self) -> Result<Option<VersionedRecord>> {
        let dir = self.dir.clone();
        let read = tokio::task::spawn_blocking(move || Self::read_blocking(&dir))
            .await
            .map_err(|e| HaError::io("HA file read task", std::io::Error::other(e)))??;
        Ok(read.map(|(file, version)| VersionedRecord {
            record: file.record,
            version,
        }))
    }

    async fn write(&self, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<StoreVersion> {
        let dir = self.dir.clone();
        let record = record.clone();
        let expected = expected.cloned();
        tokio::task::spawn_blocking(move || Self::write_blocking(&dir, &record, expected.as_ref()))
            .await
            .map_err(|e| HaError::io("HA file write task", std::io::Error::other(e)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{HaMetadata, LeaseRecord};
    use freshet_core::ManualClock;

    fn record(holder: &str) -> HaRecord {
        HaRecord {
            lease: LeaseRecord {
                holder_identity: Some(holder.into()),
                lease_duration_ms: 300,
                acquire_time_ms: Some(1),
                renew_time_ms: Some(1),
                lease_transitions: 0,
            },
            leader: None,
            metadata: HaMetadata::default(),
        }
    }

    #[tokio::test]
    async fn versions_grow_and_stale_writes_conflict() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| HaError::io("tempdir", e))?;
        let store = FileStore::new(dir.path(), LeaseTiming::default(), Arc::new(ManualClock::new(0)))?;
        assert_eq!(store.read().await?, None);
        let v1 = store.write(&record("a"), None).await?;
        assert!(matches!(
            store.write(&record("b"), None).await,
            Err(HaError::Conflict(_))
        ));
        let v2 = store.write(&record("b"), Some(&v1)).await?;
        assert_ne!(v1, v2);
        assert!(matches!(
            store.write(&record("c"), Some(&v1)).await,
            Err(HaError::Conflict(_))
        ));
        let read = store.read().await?;
        assert_eq!(read.as_ref().map(|r| &r.version), Some(&v2));
        assert_eq!(read.and_then(|r| r.record.lease.holder_identity), Some("b".to_string()));
        Ok(())
    }

    #[tokio::test]
    async fn old_versions_are_removed_and_a_recreated_one_does_not_count() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| HaError::io("tempdir", e))?;
        let store = FileStore::new(dir.path(), LeaseTiming::default(), Arc::new(ManualClock::new(0)))?;
        let first = store.write(&record("a"), None).await?;
        let mut version = first.clone();
        for _ in 0..40 {
            version = store.write(&record("b"), Some(&version)).await?;
        }
        let kept = versions(dir.path())?;
        assert_eq!(kept.len() as u64, KEPT_VERSIONS);
        assert_eq!(kept.iter().max().map(|v| v.to_string()), Some(version.0.clone()));
        // A writer that read version 1, then paused, wakes up: version 2 is long gone, so its
        // link succeeds, but newer versions exist and its write is refused (and undone).
        assert!(matches!(
            FileStore::write_blocking(dir.path(), &record("a"), Some(&first)),
            Err(HaError::Conflict(_))
        ));
        assert!(matches!(
            FileStore::create_version(dir.path(), 2, &record("a")),
            Err(HaError::Conflict(_))
        ));
        assert!(!version_file(dir.path(), 2).exists());
        let read = store.read().await?;
        assert_eq!(read.map(|r| r.version), Some(version));
        Ok(())
    }

    #[test]
    fn file_addresses_name_a_directory() {
        assert_eq!(parse_file_address("file:/var/ha").ok(), Some(PathBuf::from("/var/ha")));
        assert_eq!(
            parse_file_address("file:///var/ha").ok(),
            Some(PathBuf::from("/var/ha"))
        );
        assert_eq!(parse_file_address("file:ha-dir").ok(), Some(PathBuf::from("ha-dir")));
        assert!(matches!(parse_file_address("file:"), Err(HaError::Config(_))));
        assert!(matches!(parse_file_address("s3://bucket/ha"), Err(HaError::Config(_))));
    }

    #[tokio::test]
    async fn a_corrupt_record_is_reported_not_overwritten() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| HaError::io("tempdir", e))?;
        fs::write(version_file(dir.path(), 1), b"{not json").map_err(|e| HaError::io("seeding", e))?;
        let store = FileStore::new(dir.path(), LeaseTiming::default(), Arc::new(ManualClock::new(0)))?;
        assert!(matches!(store.read().await, Err(HaError::Corrupt(_))));
        assert!(matches!(
            store.write(&record("a"), None).await,
            Err(HaError::Corrupt(_))
        ));
        Ok(())
    }
}

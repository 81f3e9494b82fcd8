//! The file store (`file:DIR`), for local runs and tests: the record is `DIR/ha.json`, a JSON
//! document with a version counter. Writes take an exclusive `flock` on `DIR/ha.lock`, compare
//! the stored version with the expected one, then write a temporary file, sync it and rename it
//! over `ha.json`, so readers (who take no lock) always see a whole record. The lock is released
//! by the kernel if a process dies holding it. Lease expiry is by wall time, so contenders must
//! share a host (or closely synchronised clocks) and a local filesystem with working `flock`.

use crate::error::{HaError, Result};
use crate::record::{HaRecord, StoreVersion, VersionedRecord};
use crate::record_store::RecordStore;
use crate::timing::LeaseTiming;
use freshet_core::Clock;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const RECORD_FILE: &str = "ha.json";
const TEMP_FILE: &str = "ha.json.tmp";
const LOCK_FILE: &str = "ha.lock";

/// The HA record kept in a local directory.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
    timing: LeaseTiming,
    clock: Arc<dyn Clock>,
}

/// `ha.json` on disk.
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
        let path = dir.join(RECORD_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HaError::io(format!("reading {}", path.display()), e)),
        };
        let file: FileRecord =
            serde_json::from_slice(&bytes).map_err(|e| HaError::Corrupt(format!("{}: {e}", path.display())))?;
        let version = StoreVersion(file.version.to_string());
        Ok(Some((file, version)))
    }

    fn write_blocking(dir: &Path, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<StoreVersion> {
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| HaError::io(format!("opening {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| HaError::io(format!("locking {}", lock_path.display()), e))?;
        let stored = Self::read_blocking(dir)?;
        let next = match (stored, expected) {
            (None, None) => 1,
            (Some((file, version)), Some(expected)) if &version == expected => file.version.saturating_add(1),
            (stored, expected) => {
                return Err(HaError::Conflict(format!(
                    "{} is at version {}, the write expected {}",
                    dir.join(RECORD_FILE).display(),
                    stored.map_or_else(|| "none".to_string(), |(_, v)| v.0),
                    expected.map_or_else(|| "none".to_string(), |v| v.0.clone()),
                )))
            }
        };
        let bytes = serde_json::to_vec_pretty(&FileRecord {
            version: next,
            record: record.clone(),
        })
        .map_err(|e| HaError::Corrupt(format!("encoding the HA record: {e}")))?;
        let temp = dir.join(TEMP_FILE);
        let mut file = File::create(&temp).map_err(|e| HaError::io(format!("creating {}", temp.display()), e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| HaError::io(format!("writing {}", temp.display()), e))?;
        let target = dir.join(RECORD_FILE);
        fs::rename(&temp, &target).map_err(|e| HaError::io(format!("renaming onto {}", target.display()), e))?;
        // Make the rename durable; failure to sync a directory is not fatal on every platform.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::debug!(dir = %dir.display(), error = %e, "could not sync the HA directory");
        }
        drop(lock);
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
        fs::write(dir.path().join(RECORD_FILE), b"{not json").map_err(|e| HaError::io("seeding", e))?;
        let store = FileStore::new(dir.path(), LeaseTiming::default(), Arc::new(ManualClock::new(0)))?;
        assert!(matches!(store.read().await, Err(HaError::Corrupt(_))));
        assert!(matches!(
            store.write(&record("a"), None).await,
            Err(HaError::Corrupt(_))
        ));
        Ok(())
    }
}

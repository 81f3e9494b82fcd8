//! Either store, chosen at run time from configuration, behind one concrete type (the
//! [`crate::HaStore`] trait's async methods are not object-safe, so there is no `dyn HaStore`).

use crate::error::Result;
use crate::file_store::FileStore;
use crate::kubernetes_store::KubernetesStore;
use crate::record::{HaRecord, StoreVersion, VersionedRecord};
use crate::record_store::RecordStore;
use crate::timing::LeaseTiming;
use freshet_core::Clock;

/// The file store or the Kubernetes store.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// `file:DIR`.
    File(FileStore),
    /// A Kubernetes Lease.
    Kubernetes(Box<KubernetesStore>),
}

impl From<FileStore> for AnyStore {
    fn from(store: FileStore) -> Self {
        AnyStore::File(store)
    }
}

impl From<KubernetesStore> for AnyStore {
    fn from(store: KubernetesStore) -> Self {
        AnyStore::Kubernetes(Box::new(store))
    }
}

impl RecordStore for AnyStore {
    fn timing(&self) -> &LeaseTiming {
        match self {
            AnyStore::File(s) => s.timing(),
            AnyStore::Kubernetes(s) => s.timing(),
        }
    }

    fn clock(&self) -> &dyn Clock {
        match self {
            AnyStore::File(s) => s.clock(),
            AnyStore::Kubernetes(s) => s.clock(),
        }
    }

    async fn read(&self) -> Result<Option<VersionedRecord>> {
        match self {
            AnyStore::File(s) => s.read().await,
            AnyStore::Kubernetes(s) => s.read().await,
        }
    }

    async fn write(&self, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<StoreVersion> {
        match self {
            AnyStore::File(s) => s.write(record, expected).await,
            AnyStore::Kubernetes(s) => s.write(record, expected).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HaError;
    use crate::record::{Candidate, LeaderAddresses};
    use crate::HaStore;
    use freshet_core::ManualClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_file_store_behind_any_store_elects() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| HaError::io("tempdir", e))?;
        let address = format!("file:{}", dir.path().display());
        let store: AnyStore =
            FileStore::from_address(&address, LeaseTiming::default(), Arc::new(ManualClock::new(5)))?.into();
        let candidate = Candidate {
            identity: "a".into(),
            addresses: LeaderAddresses {
                rpc: "a:1".into(),
                rest: "http://a:2".into(),
            },
        };
        assert!(store.try_acquire_or_renew(&candidate).await?.is_leader());
        let leader = store.current_leader().await?.map(|l| (l.identity, l.expires_at_ms));
        assert_eq!(leader, Some(("a".to_string(), 15_005)));
        Ok(())
    }
}

//! The storage seam under the HA protocol: one record, read with its version and written only
//! if the version still matches. Each store (file, Kubernetes Lease) implements just this; the
//! election and fencing logic on top is shared ([`crate::HaStore`]).

use crate::error::Result;
use crate::record::{HaRecord, StoreVersion, VersionedRecord};
use crate::timing::LeaseTiming;
use freshet_core::Clock;
use std::future::Future;

/// A single versioned record with compare-and-swap writes.
pub trait RecordStore: Send + Sync {
    /// The lease timing this store's contenders use.
    fn timing(&self) -> &LeaseTiming;

    /// The wall clock lease times are read from and written with.
    fn clock(&self) -> &dyn Clock;

    /// Reads the record and its version; `None` if there is no record yet.
    fn read(&self) -> impl Future<Output = Result<Option<VersionedRecord>>> + Send;

    /// Writes `record` if the stored version is still `expected` (`None`: only if there is no
    /// record yet), returning the new version. A mismatch is [`crate::HaError::Conflict`] and
    /// writes nothing.
    fn write(
        &self,
        record: &HaRecord,
        expected: Option<&StoreVersion>,
    ) -> impl Future<Output = Result<StoreVersion>> + Send;
}

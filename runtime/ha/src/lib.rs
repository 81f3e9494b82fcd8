//! # freshet-ha
//!
//! Coordinator high availability: leader election and the HA metadata (leader addresses, job
//! id, latest completed checkpoint), written with optimistic concurrency so that a deposed
//! leader cannot overwrite it (fencing).
//!
//! It sits beside the coordinator, below nothing of the data path: it depends on
//! `freshet-core` (ids, clocks) and on Kubernetes client crates, never on the engine.
//!
//! - [`HaStore`] (`ha_store`): the interface — `try_acquire_or_renew`, `release`,
//!   `current_leader`, `read_metadata`, `write_metadata` — implemented once for every
//!   [`RecordStore`] (`record_store`), the storage seam: one record, compare-and-swap writes.
//! - [`election`]: the decisions as pure functions (expiry, who may take the lease, the next
//!   lease, is a leadership still valid). Invariant: a term (`lease_transitions`) only grows,
//!   and a write by a leadership whose holder or term differs from the stored one is fenced.
//! - [`FileStore`] (`file_store`): one file per record version, `DIR/ha.<n>.json`, created by
//!   hard link (the compare-and-swap); no locks.
//! - [`KubernetesStore`] (`kubernetes_store`, `lease_mapping`): a `coordination.k8s.io/v1`
//!   Lease, the metadata in its annotations, every write a `replace` on the resourceVersion.
//! - [`AnyStore`] (`any_store`): either store, chosen at run time.
//! - [`LeaseTiming`] (`timing`): lease duration, renew deadline, retry period (15 s, 10 s, 2 s).
#![warn(missing_docs)]

mod any_store;
pub mod election;
mod error;
mod file_store;
mod ha_store;
mod kubernetes_store;
mod leadership;
pub mod lease_mapping;
mod record;
mod record_store;
mod timing;

pub use any_store::AnyStore;
pub use error::{HaError, Result};
pub use file_store::{parse_file_address, FileStore};
pub use ha_store::HaStore;
pub use kubernetes_store::{lease_name_for_job, KubernetesStore};
pub use leadership::{Election, Leadership};
pub use record::{
    Candidate, CheckpointPointer, HaMetadata, HaRecord, LeaderAddresses, LeaderInfo, LeaseRecord, StoreVersion,
    VersionedRecord,
};
pub use record_store::RecordStore;
pub use timing::LeaseTiming;

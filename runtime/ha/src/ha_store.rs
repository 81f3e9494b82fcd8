//! The HA interface the coordinator uses — leader election, leader discovery, fenced metadata —
//! implemented once for every [`RecordStore`].
//!
//! Each call reads the record, asks [`crate::election`] what to do, and writes conditionally on
//! the version it read (a metadata write first tries the version the leader last saw, without a
//! read). A conflicting write is re-read and re-decided a few times; if the lease changed hands
//! meanwhile the answer is [`HaError::Fenced`], so a deposed leader's write never lands.

use crate::election::{self, LeaseDecision};
use crate::error::{HaError, Result};
use crate::leadership::{Election, Leadership};
use crate::record::{Candidate, HaMetadata, HaRecord, LeaderInfo, VersionedRecord};
use crate::record_store::RecordStore;
use std::future::Future;

/// How many times a call re-reads and retries after a version conflict.
const CONFLICT_ATTEMPTS: usize = 3;

/// Leader election and HA metadata with fencing.
pub trait HaStore: Send + Sync {
    /// One election round for `candidate`: renews its lease if it holds it, takes it if it is
    /// free (publishing the candidate's addresses, keeping the metadata), else reports the
    /// current leader. Call every `retry_period`; a leader that has not renewed successfully
    /// for `renew_deadline` must step down ([`crate::election::must_step_down`]).
    fn try_acquire_or_renew(&self, candidate: &Candidate) -> impl Future<Output = Result<Election>> + Send;

    /// Gives the lease up so a standby can take it at once. Fenced if `leadership` is stale.
    fn release(&self, leadership: &Leadership) -> impl Future<Output = Result<()>> + Send;

    /// The current leader, if its lease is unexpired: for workers and standbys to find it.
    fn current_leader(&self) -> impl Future<Output = Result<Option<LeaderInfo>>> + Send;

    /// The HA metadata, read by the current leader (fenced otherwise) — what a new leader
    /// restores from.
    fn read_metadata(&self, leadership: &Leadership) -> impl Future<Output = Result<HaMetadata>> + Send;

    /// Replaces the HA metadata, if `leadership` still holds the lease; returns the leadership
    /// to use next. [`HaError::Fenced`] if another contender took over, and
    /// [`HaError::CheckpointRegression`] if the checkpoint would go backwards.
    fn write_metadata(
        &self,
        leadership: &Leadership,
        metadata: &HaMetadata,
    ) -> impl Future<Output = Result<Leadership>> + Send;
}

impl<S: RecordStore> HaStore for S {
    async fn try_acquire_or_renew(&self, candidate: &Candidate) -> Result<Election> {
        if candidate.identity.is_empty() {
            return Err(HaError::Config("a candidate's identity must not be empty".into()));
        }
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = self.read().await?;
            let now = self.clock().now_ms();
            let lease = match election::decide(
                current.as_ref().map(|c| &c.record.lease),
                &candidate.identity,
                now,
                self.timing(),
            ) {
                LeaseDecision::Follow => {
                    return Ok(Election::Follower(current.and_then(|c| leader_of(&c, now))));
                }
                LeaseDecision::Acquire(lease) | LeaseDecision::Renew(lease) => lease,
            };
            let record = HaRecord {
                lease,
                leader: Some(candidate.addresses.clone()),
                metadata: current.as_ref().map(|c| c.record.metadata.clone()).unwrap_or_default(),
            };
            match self.write(&record, current.as_ref().map(|c| &c.version)).await {
                Ok(version) => {
                    return Ok(Election::Leader(Leadership {
                        identity: candidate.identity.clone(),
                        record,
                        version,
                    }))
                }
                Err(HaError::Conflict(reason)) => {
                    tracing::debug!(identity = %candidate.identity, %reason, "election write conflicted; re-reading");
                }
                Err(other) => return Err(other),
            }
        }
        let now = self.clock().now_ms();
        Ok(Election::Follower(self.read().await?.and_then(|c| leader_of(&c, now))))
    }

    async fn release(&self, leadership: &Leadership) -> Result<()> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = read_existing(self).await?;
            let now = self.clock().now_ms();
            let lease = &current.record.lease;
            if election::holder(lease) != Some(leadership.identity()) || lease.lease_transitions != leadership.term() {
                return Err(HaError::Fenced(format!(
                    "'{}' cannot release a lease it no longer holds",
                    leadership.identity()
                )));
            }
            let record = HaRecord {
                lease: election::released(lease, now),
                leader: None,
                metadata: current.record.metadata.clone(),
            };
            match self.write(&record, Some(&current.version)).await {
                Ok(_) => return Ok(()),
                Err(HaError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(HaError::Conflict("release kept conflicting".into()))
    }

    async fn current_leader(&self) -> Result<Option<LeaderInfo>> {
        let now = self.clock().now_ms();
        Ok(self.read().await?.and_then(|c| leader_of(&c, now)))
    }

    async fn read_metadata(&self, leadership: &Leadership) -> Result<HaMetadata> {
        let current = read_existing(self).await?;
        election::check_still_leader(&current.record.lease, leadership, self.clock().now_ms())?;
        Ok(current.record.metadata)
    }

    async fn write_metadata(&self, leadership: &Leadership, metadata: &HaMetadata) -> Result<Leadership> {
        // First try on the record this leader last saw; only if it moved, re-read.
        let mut base = VersionedRecord {
            record: leadership.record.clone(),
            version: leadership.version.clone(),
        };
        for _ in 0..CONFLICT_ATTEMPTS {
            election::check_still_leader(&base.record.lease, leadership, self.clock().now_ms())?;
            election::check_metadata_update(&base.record.metadata, metadata)?;
            let record = HaRecord {
                metadata: metadata.clone(),
                ..base.record.clone()
            };
            match self.write(&record, Some(&base.version)).await {
                Ok(version) => {
                    return Ok(Leadership {
                        identity: leadership.identity.clone(),
                        record,
                        version,
                    })
                }
                Err(HaError::Conflict(_)) => base = read_existing(self).await?,
                Err(other) => return Err(other),
            }
        }
        Err(HaError::Conflict("metadata write kept conflicting".into()))
    }
}

/// The leader a read record shows at `now_ms`.
fn leader_of(current: &VersionedRecord, now_ms: i64) -> Option<LeaderInfo> {
    election::current_leader(&current.record.lease, current.record.leader.as_ref(), now_ms)
}

/// Reads a record that must exist: a leader's record vanishing means it lost its lease.
async fn read_existing<S: RecordStore>(store: &S) -> Result<VersionedRecord> {
    store
        .read()
        .await?
        .ok_or_else(|| HaError::Fenced("the HA record no longer exists".into()))
}

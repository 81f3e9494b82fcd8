//! What an HA store keeps: the lease (who leads, until when, in which term), the leader's
//! addresses, and the job's HA metadata. All three live in one record, changed by one
//! compare-and-swap, so the addresses always belong to the lease holder and metadata is only
//! ever written together with a check of who holds the lease.

use freshet_core::CheckpointId;
use serde::{Deserialize, Serialize};

/// The lease part of the record, shaped like a Kubernetes `LeaseSpec` (times in ms since the
/// epoch, by the writer's wall clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRecord {
    /// The identity of the holder; `None` when the lease is free (never taken or released).
    pub holder_identity: Option<String>,
    /// How long the lease is valid after `renew_time_ms`.
    pub lease_duration_ms: i64,
    /// When the current holder acquired the lease.
    pub acquire_time_ms: Option<i64>,
    /// When the current holder last renewed it.
    pub renew_time_ms: Option<i64>,
    /// How many times the lease changed hands. It is the leadership's term, and only grows.
    pub lease_transitions: u64,
}

/// Where workers and standbys reach the leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaderAddresses {
    /// The coordinator's RPC address (`host:port`) that workers connect to.
    pub rpc: String,
    /// The coordinator's REST base URL.
    pub rest: String,
}

/// The latest completed checkpoint: what a new leader restores from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPointer {
    /// The checkpoint's id.
    pub id: CheckpointId,
    /// Where its metadata lives (a checkpoint-storage URL or path).
    pub path: String,
}

/// The job's HA metadata, written only by the current leader.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HaMetadata {
    /// The job this coordinator runs.
    pub job_id: Option<String>,
    /// The latest completed checkpoint, if any.
    pub latest_checkpoint: Option<CheckpointPointer>,
    /// How the job ended (e.g. `FINISHED`, `CANCELLED`, `STOPPED at <savepoint>`), once it did:
    /// a coordinator that takes over an ended job does not run it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_ended: Option<String>,
}

/// The whole stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaRecord {
    /// Who leads, until when, in which term.
    pub lease: LeaseRecord,
    /// The holder's addresses, written when it acquires or renews.
    pub leader: Option<LeaderAddresses>,
    /// The job's metadata; kept across changes of leader.
    pub metadata: HaMetadata,
}

/// A store's version of its record: a Kubernetes `resourceVersion` or the file store's counter.
/// Opaque; only compared for equality.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreVersion(pub String);

impl std::fmt::Display for StoreVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record as read, with the version a conditional write must name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedRecord {
    /// The record.
    pub record: HaRecord,
    /// Its version in the store.
    pub version: StoreVersion,
}

/// Who wants to lead: a unique identity (one per process incarnation, e.g. pod name plus a
/// random suffix) and the addresses it will publish when it leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The identity written as the lease holder.
    pub identity: String,
    /// Where workers and standbys will reach it.
    pub addresses: LeaderAddresses,
}

/// The current leader as seen by anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    /// The holder's identity.
    pub identity: String,
    /// Its addresses, if it published them.
    pub addresses: Option<LeaderAddresses>,
    /// Its term (the lease's transition count when it acquired).
    pub term: u64,
    /// When its lease expires unless renewed, ms since the epoch.
    pub expires_at_ms: i64,
}

//! What a successful election hands the leader: its term (the fencing token) and the version
//! of the record it last wrote, which its next write must match.

use crate::record::{HaRecord, LeaderInfo, StoreVersion};

/// Proof of leadership, returned by every successful acquire, renew or metadata write. The
/// leader passes the latest one to its next call; a stale one is fenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leadership {
    pub(crate) identity: String,
    pub(crate) record: HaRecord,
    pub(crate) version: StoreVersion,
}

impl Leadership {
    /// The leader's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The fencing token: the lease's transition count at acquisition. It grows with every
    /// change of leader, so anything the leader writes elsewhere (checkpoint metadata, sink
    /// transactions) can carry it and reject a lower one.
    pub fn term(&self) -> u64 {
        self.record.lease.lease_transitions
    }

    /// The store version of the record this leader last wrote.
    pub fn version(&self) -> &StoreVersion {
        &self.version
    }

    /// The record as this leader last wrote it (lease, addresses, metadata).
    pub fn record(&self) -> &HaRecord {
        &self.record
    }

    /// When the leader last renewed, ms since the epoch.
    pub fn renewed_at_ms(&self) -> i64 {
        self.record.lease.renew_time_ms.unwrap_or(i64::MIN)
    }

    /// When the lease expires unless renewed, ms since the epoch.
    pub fn expires_at_ms(&self) -> i64 {
        self.renewed_at_ms().saturating_add(self.record.lease.lease_duration_ms)
    }

    /// The leader as others see it.
    pub fn leader_info(&self) -> LeaderInfo {
        LeaderInfo {
            identity: self.identity.clone(),
            addresses: self.record.leader.clone(),
            term: self.term(),
            expires_at_ms: self.expires_at_ms(),
        }
    }
}

/// The outcome of one election round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Election {
    /// The caller holds the lease (newly acquired or renewed).
    Leader(Leadership),
    /// Someone else holds an unexpired lease (shown here), or nobody could be determined.
    Follower(Option<LeaderInfo>),
}

impl Election {
    /// The leadership, if the caller leads.
    pub fn leadership(&self) -> Option<&Leadership> {
        match self {
            Election::Leader(l) => Some(l),
            Election::Follower(_) => None,
        }
    }

    /// Whether the caller leads.
    pub fn is_leader(&self) -> bool {
        matches!(self, Election::Leader(_))
    }
}

//! The decisions of leader election, as pure functions of the stored lease, the caller and the
//! time: is the lease expired, may the caller take it, what is the next lease, is a write by a
//! given leadership still legitimate. The stores only read, call these, and write conditionally.
//!
//! Rules (those of client-go's `leaderelection`):
//! - a lease is free when it has no holder, or when `renew_time + lease_duration <= now`;
//! - the holder renews at any time, even after expiry if nobody took it meanwhile (same term);
//! - anyone else may take a free lease, which starts a new term (`lease_transitions + 1`);
//! - a leader whose last renewal is `renew_deadline` old must step down.

use crate::error::{HaError, Result};
use crate::leadership::Leadership;
use crate::record::{HaMetadata, LeaderInfo, LeaseRecord};
use crate::timing::LeaseTiming;

/// When the lease expires, or `None` if it has no holder or was never renewed (it is free).
pub fn expires_at_ms(lease: &LeaseRecord) -> Option<i64> {
    holder(lease)?;
    lease
        .renew_time_ms
        .map(|renewed| renewed.saturating_add(lease.lease_duration_ms))
}

/// Whether nobody holds the lease at `now_ms`.
pub fn is_free(lease: &LeaseRecord, now_ms: i64) -> bool {
    expires_at_ms(lease).is_none_or(|expiry| expiry <= now_ms)
}

/// The holder's identity, if any (an empty identity, as Kubernetes tools write on release,
/// counts as none).
pub fn holder(lease: &LeaseRecord) -> Option<&str> {
    lease.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The current leader according to a stored lease, if its lease is unexpired at `now_ms`.
pub fn current_leader(
    lease: &LeaseRecord,
    addresses: Option<&crate::record::LeaderAddresses>,
    now_ms: i64,
) -> Option<LeaderInfo> {
    let identity = holder(lease)?;
    let expires_at_ms = expires_at_ms(lease)?;
    (expires_at_ms > now_ms).then(|| LeaderInfo {
        identity: identity.to_string(),
        addresses: addresses.cloned(),
        term: lease.lease_transitions,
        expires_at_ms,
    })
}

/// What a contender should do with the lease it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Take the lease: write this record (a new term).
    Acquire(LeaseRecord),
    /// Keep the lease: write this record (same term, new renew time).
    Renew(LeaseRecord),
    /// Someone else holds it: do nothing.
    Follow,
}

/// Decides what `identity` does with the stored lease (`None`: there is no lease yet).
pub fn decide(current: Option<&LeaseRecord>, identity: &str, now_ms: i64, timing: &LeaseTiming) -> LeaseDecision {
    let duration = timing.lease_duration_ms();
    let Some(current) = current else {
        return LeaseDecision::Acquire(LeaseRecord {
            holder_identity: Some(identity.to_string()),
            lease_duration_ms: duration,
            acquire_time_ms: Some(now_ms),
            renew_time_ms: Some(now_ms),
            lease_transitions: 0,
        });
    };
    if holder(current) == Some(identity) {
        return LeaseDecision::Renew(LeaseRecord {
            lease_duration_ms: duration,
            renew_time_ms: Some(now_ms),
            ..current.clone()
        });
    }
    if !is_free(current, now_ms) {
        return LeaseDecision::Follow;
    }
    LeaseDecision::Acquire(LeaseRecord {
        holder_identity: Some(identity.to_string()),
        lease_duration_ms: duration,
        acquire_time_ms: Some(now_ms),
        renew_time_ms: Some(now_ms),
        lease_transitions: current.lease_transitions.saturating_add(1),
    })
}

/// The lease after its holder releases it: no holder, so anyone may take it at once; the term
/// count is kept so the next holder's term is higher.
pub fn released(current: &LeaseRecord, now_ms: i64) -> LeaseRecord {
    LeaseRecord {
        holder_identity: None,
        acquire_time_ms: None,
        renew_time_ms: Some(now_ms),
        ..current.clone()
    }
}

/// Checks that `leadership` still holds the stored lease at `now_ms`: same holder, same term,
/// unexpired. Anything else means another contender took over (or could have), so the caller
/// is fenced.
pub fn check_still_leader(stored: &LeaseRecord, leadership: &Leadership, now_ms: i64) -> Result<()> {
    let holder = holder(stored);
    if holder != Some(leadership.identity()) {
        return Err(HaError::Fenced(format!(
            "'{}' no longer holds the lease; holder is {}",
            leadership.identity(),
            holder.map_or_else(|| "nobody".to_string(), |h| format!("'{h}'"))
        )));
    }
    if stored.lease_transitions != leadership.term() {
        return Err(HaError::Fenced(format!(
            "'{}' led in term {}, the lease is in term {}",
            leadership.identity(),
            leadership.term(),
            stored.lease_transitions
        )));
    }
    check_unexpired(stored, leadership.identity(), now_ms)
}

/// Checks that the lease has not expired at `now_ms`; an expired leader must renew before it
/// writes metadata, because a standby may already be taking over.
pub fn check_unexpired(lease: &LeaseRecord, identity: &str, now_ms: i64) -> Result<()> {
    match expires_at_ms(lease) {
        Some(expiry) if expiry > now_ms => Ok(()),
        Some(expiry) => Err(HaError::Fenced(format!(
            "the lease of '{identity}' expired at {expiry} ms (now {now_ms} ms); renew first"
        ))),
        None => Err(HaError::Fenced(format!("'{identity}' holds no lease"))),
    }
}

/// Whether a leader that last renewed at `renewed_at_ms` must step down at `now_ms`, because
/// it failed to renew within the renew deadline.
pub fn must_step_down(renewed_at_ms: i64, now_ms: i64, timing: &LeaseTiming) -> bool {
    now_ms.saturating_sub(renewed_at_ms) >= timing.renew_deadline_ms()
}

/// Checks a metadata update: the latest completed checkpoint never goes backwards.
pub fn check_metadata_update(stored: &HaMetadata, proposed: &HaMetadata) -> Result<()> {
    match (&stored.latest_checkpoint, &proposed.latest_checkpoint) {
        (Some(old), Some(new)) if new.id < old.id => Err(HaError::CheckpointRegression {
            stored: old.id.0,
            proposed: new.id.0,
        }),
        (Some(old), None) => Err(HaError::CheckpointRegression {
            stored: old.id.0,
            proposed: 0,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CheckpointPointer, HaRecord, StoreVersion};
    use freshet_core::CheckpointId;
    use std::time::Duration;

    fn timing() -> LeaseTiming {
        LeaseTiming::new(
            Duration::from_millis(300),
            Duration::from_millis(200),
            Duration::from_millis(50),
        )
        .unwrap_or_default()
    }

    fn held_by(holder: &str, renewed: i64, transitions: u64) -> LeaseRecord {
        LeaseRecord {
            holder_identity: Some(holder.into()),
            lease_duration_ms: 300,
            acquire_time_ms: Some(renewed - 10),
            renew_time_ms: Some(renewed),
            lease_transitions: transitions,
        }
    }

    fn leadership(identity: &str, lease: LeaseRecord) -> Leadership {
        Leadership {
            identity: identity.into(),
            record: HaRecord {
                lease,
                leader: None,
                metadata: HaMetadata::default(),
            },
            version: StoreVersion("1".into()),
        }
    }

    #[test]
    fn first_contender_acquires_a_missing_lease_in_term_zero() {
        let LeaseDecision::Acquire(lease) = decide(None, "a", 1_000, &timing()) else {
            panic!("expected acquire");
        };
        assert_eq!(lease.holder_identity.as_deref(), Some("a"));
        assert_eq!(lease.lease_transitions, 0);
        assert_eq!((lease.acquire_time_ms, lease.renew_time_ms), (Some(1_000), Some(1_000)));
        assert_eq!(lease.lease_duration_ms, 300);
    }

    #[test]
    fn others_follow_until_expiry_then_take_over_in_a_new_term() {
        let lease = held_by("a", 1_000, 4);
        assert_eq!(decide(Some(&lease), "b", 1_299, &timing()), LeaseDecision::Follow);
        let LeaseDecision::Acquire(next) = decide(Some(&lease), "b", 1_300, &timing()) else {
            panic!("expected acquire at expiry");
        };
        assert_eq!(next.holder_identity.as_deref(), Some("b"));
        assert_eq!(next.lease_transitions, 5);
        assert_eq!(next.acquire_time_ms, Some(1_300));
    }

    #[test]
    fn holder_renews_in_the_same_term_even_after_expiry() {
        let lease = held_by("a", 1_000, 4);
        for now in [1_100, 5_000] {
            let LeaseDecision::Renew(next) = decide(Some(&lease), "a", now, &timing()) else {
                panic!("expected renew");
            };
            assert_eq!(next.lease_transitions, 4);
            assert_eq!(next.acquire_time_ms, Some(990));
            assert_eq!(next.renew_time_ms, Some(now));
        }
    }

    #[test]
    fn a_released_lease_is_free_at_once_and_keeps_its_term_count() {
        let lease = released(&held_by("a", 1_000, 4), 1_050);
        assert!(is_free(&lease, 1_050));
        assert_eq!(current_leader(&lease, None, 1_050), None);
        let LeaseDecision::Acquire(next) = decide(Some(&lease), "a", 1_060, &timing()) else {
            panic!("expected acquire of a released lease");
        };
        assert_eq!(next.lease_transitions, 5);
    }

    #[test]
    fn empty_holder_identity_counts_as_free() {
        let mut lease = held_by("a", 1_000, 1);
        lease.holder_identity = Some(String::new());
        assert!(is_free(&lease, 1_001));
        assert!(matches!(
            decide(Some(&lease), "b", 1_001, &timing()),
            LeaseDecision::Acquire(_)
        ));
    }

    #[test]
    fn current_leader_reports_holder_until_expiry() {
        let lease = held_by("a", 1_000, 2);
        let info = current_leader(&lease, None, 1_200);
        assert_eq!(
            info.as_ref().map(|i| (i.identity.as_str(), i.term, i.expires_at_ms)),
            Some(("a", 2, 1_300))
        );
        assert_eq!(current_leader(&lease, None, 1_300), None);
    }

    #[test]
    fn still_leader_requires_same_holder_same_term_unexpired() {
        let mine = held_by("a", 1_000, 2);
        let me = leadership("a", mine.clone());
        assert!(check_still_leader(&mine, &me, 1_100).is_ok());
        assert!(check_still_leader(&held_by("b", 1_050, 3), &me, 1_100).is_err_and(|e| e.is_fenced()));
        // Same identity, later term (it lost and re-acquired): the old leadership is stale.
        assert!(check_still_leader(&held_by("a", 1_050, 3), &me, 1_100).is_err_and(|e| e.is_fenced()));
        assert!(check_still_leader(&mine, &me, 1_300).is_err_and(|e| e.is_fenced()));
        assert!(check_still_leader(&released(&mine, 1_050), &me, 1_100).is_err_and(|e| e.is_fenced()));
    }

    #[test]
    fn step_down_after_renew_deadline() {
        assert!(!must_step_down(1_000, 1_199, &timing()));
        assert!(must_step_down(1_000, 1_200, &timing()));
    }

    #[test]
    fn checkpoint_pointer_never_goes_backwards() {
        let at = |id| HaMetadata {
            job_id: Some("j".into()),
            latest_checkpoint: Some(CheckpointPointer {
                id: CheckpointId(id),
                path: format!("file:///cp/{id}"),
            }),
            job_ended: None,
        };
        assert!(check_metadata_update(&HaMetadata::default(), &at(3)).is_ok());
        assert!(check_metadata_update(&at(3), &at(3)).is_ok());
        assert!(check_metadata_update(&at(3), &at(4)).is_ok());
        assert!(matches!(
            check_metadata_update(&at(4), &at(3)),
            Err(HaError::CheckpointRegression { stored: 4, proposed: 3 })
        ));
        assert!(check_metadata_update(&at(4), &HaMetadata::default()).is_err());
    }
}

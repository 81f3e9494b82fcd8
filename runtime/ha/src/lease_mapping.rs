//! How the HA record maps onto a Kubernetes `coordination.k8s.io/v1` Lease, both ways, as pure
//! functions.
//!
//! The lease fields are the Lease's own spec (`holderIdentity`, `leaseDurationSeconds`,
//! `acquireTime`, `renewTime`, `leaseTransitions`), so `kubectl get lease` and other Kubernetes
//! tooling read them as usual. What the spec cannot hold goes into annotations:
//! - `freshet.dev/ha-metadata`: the job's [`HaMetadata`] as JSON;
//! - `freshet.dev/leader-addresses`: the holder's [`LeaderAddresses`] as JSON;
//! - `freshet.dev/lease-duration-ms`: the duration in ms, because `leaseDurationSeconds` is
//!   whole seconds (rounded up there); it is used only while it agrees with the seconds field.
//!
//! Writing starts from the Lease last read, so labels, other annotations and owner references
//! (the operator makes the StreamJob own the Lease) are kept.

use crate::error::{HaError, Result};
use crate::record::{HaMetadata, HaRecord, LeaderAddresses, LeaseRecord, StoreVersion, VersionedRecord};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

/// Annotation holding the job's HA metadata.
pub const METADATA_ANNOTATION: &str = "freshet.dev/ha-metadata";
/// Annotation holding the leader's addresses.
pub const LEADER_ANNOTATION: &str = "freshet.dev/leader-addresses";
/// Annotation holding the lease duration in milliseconds.
pub const DURATION_MS_ANNOTATION: &str = "freshet.dev/lease-duration-ms";

/// Reads the HA record from a Lease as returned by the API server.
pub fn lease_to_record(lease: &Lease) -> Result<VersionedRecord> {
    let name = lease.metadata.name.as_deref().unwrap_or("<unnamed>");
    let version = lease
        .metadata
        .resource_version
        .clone()
        .ok_or_else(|| HaError::Corrupt(format!("Lease {name} has no resourceVersion")))?;
    let spec = lease.spec.clone().unwrap_or_default();
    let annotations = lease.metadata.annotations.clone().unwrap_or_default();
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let lease_duration_ms = annotations
        .get(DURATION_MS_ANNOTATION)
        .and_then(|ms| ms.parse::<i64>().ok())
        .filter(|&ms| ms > 0 && duration_seconds(ms) == seconds)
        .unwrap_or(seconds.saturating_mul(1000));
    let lease_transitions = u64::try_from(spec.lease_transitions.unwrap_or(0))
        .map_err(|_| HaError::Corrupt(format!("Lease {name} has negative leaseTransitions")))?;
    let leader = annotations
        .get(LEADER_ANNOTATION)
        .map(|json| serde_json::from_str::<LeaderAddresses>(json))
        .transpose()
        .map_err(|e| HaError::Corrupt(format!("Lease {name} annotation {LEADER_ANNOTATION}: {e}")))?;
    let metadata = annotations
        .get(METADATA_ANNOTATION)
        .map(|json| serde_json::from_str::<HaMetadata>(json))
        .transpose()
        .map_err(|e| HaError::Corrupt(format!("Lease {name} annotation {METADATA_ANNOTATION}: {e}")))?
        .unwrap_or_default();
    Ok(VersionedRecord {
        record: HaRecord {
            lease: LeaseRecord {
                holder_identity: spec.holder_identity.filter(|h| !h.is_empty()),
                lease_duration_ms,
                acquire_time_ms: spec.acquire_time.map(|t| t.0.as_millisecond()),
                renew_time_ms: spec.renew_time.map(|t| t.0.as_millisecond()),
                lease_transitions,
            },
            leader,
            metadata,
        },
        version: StoreVersion(version),
    })
}

/// The Lease to send for `record`: `base` (the Lease last read, or a new one) with the spec and
/// our annotations replaced and `resourceVersion` set to `expected`.
pub fn record_to_lease(mut base: Lease, record: &HaRecord, expected: Option<&StoreVersion>) -> Result<Lease> {
    let lease = &record.lease;
    let lease_transitions = i32::try_from(lease.lease_transitions)
        .map_err(|_| HaError::Corrupt(format!("leaseTransitions {} exceeds i32", lease.lease_transitions)))?;
    let lease_duration_seconds = i32::try_from(duration_seconds(lease.lease_duration_ms))
        .map_err(|_| HaError::Config(format!("lease duration {} ms is too long", lease.lease_duration_ms)))?;
    base.spec = Some(LeaseSpec {
        holder_identity: lease.holder_identity.clone(),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: lease.acquire_time_ms.map(micro_time).transpose()?,
        renew_time: lease.renew_time_ms.map(micro_time).transpose()?,
        lease_transitions: Some(lease_transitions),
        ..base.spec.unwrap_or_default()
    });
    let annotations = base.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(DURATION_MS_ANNOTATION.into(), lease.lease_duration_ms.to_string());
    annotations.insert(METADATA_ANNOTATION.into(), to_json(&record.metadata)?);
    match &record.leader {
        Some(addresses) => {
            annotations.insert(LEADER_ANNOTATION.into(), to_json(addresses)?);
        }
        None => {
            annotations.remove(LEADER_ANNOTATION);
        }
    }
    base.metadata.resource_version = expected.map(|v| v.0.clone());
    Ok(base)
}

/// Whole seconds for `leaseDurationSeconds`: rounded up, at least 1.
fn duration_seconds(ms: i64) -> i64 {
    ms.saturating_add(999).div_euclid(1000).max(1)
}

fn micro_time(ms: i64) -> Result<MicroTime> {
    Timestamp::from_millisecond(ms)
        .map(MicroTime)
        .map_err(|e| HaError::Corrupt(format!("time {ms} ms is out of range: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| HaError::Corrupt(format!("encoding an annotation: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CheckpointPointer;
    use freshet_core::CheckpointId;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn record() -> HaRecord {
        HaRecord {
            lease: LeaseRecord {
                holder_identity: Some("coord-0-x1".into()),
                lease_duration_ms: 300,
                acquire_time_ms: Some(1_763_700_000_123),
                renew_time_ms: Some(1_763_700_001_456),
                lease_transitions: 7,
            },
            leader: Some(LeaderAddresses {
                rpc: "10.0.0.5:6123".into(),
                rest: "http://10.0.0.5:8081".into(),
            }),
            metadata: HaMetadata {
                job_id: Some("orders".into()),
                latest_checkpoint: Some(CheckpointPointer {
                    id: CheckpointId(42),
                    path: "s3://cp/orders/chk-42".into(),
                }),
                job_ended: None,
            },
        }
    }

    fn served(mut lease: Lease, rv: &str) -> Lease {
        lease.metadata.resource_version = Some(rv.into());
        lease
    }

    #[test]
    fn record_round_trips_through_a_lease_and_keeps_foreign_metadata() -> Result<()> {
        let owner = OwnerReference {
            api_version: "freshet.dev/v1alpha1".into(),
            kind: "StreamJob".into(),
            name: "orders".into(),
            uid: "u-1".into(),
            ..Default::default()
        };
        let base = Lease {
            metadata: ObjectMeta {
                name: Some("orders-ha".into()),
                annotations: Some([("team".to_string(), "data".to_string())].into()),
                owner_references: Some(vec![owner.clone()]),
                ..Default::default()
            },
            spec: None,
        };
        let lease = record_to_lease(base, &record(), Some(&StoreVersion("5".into())))?;
        let spec = lease.spec.clone().unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some("coord-0-x1"));
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(spec.lease_transitions, Some(7));
        assert_eq!(lease.metadata.resource_version.as_deref(), Some("5"));
        assert_eq!(lease.metadata.owner_references, Some(vec![owner]));
        let annotations = lease.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.get("team").map(String::as_str), Some("data"));
        assert_eq!(annotations.get(DURATION_MS_ANNOTATION).map(String::as_str), Some("300"));

        let back = lease_to_record(&served(lease, "6"))?;
        assert_eq!(back.record, record());
        assert_eq!(back.version, StoreVersion("6".into()));
        Ok(())
    }

    #[test]
    fn times_serialise_as_kubernetes_micro_time() -> Result<()> {
        let lease = record_to_lease(Lease::default(), &record(), None)?;
        let json = serde_json::to_value(&lease).map_err(|e| HaError::Corrupt(e.to_string()))?;
        assert_eq!(json["spec"]["renewTime"], "2025-11-21T04:40:01.456000Z");
        assert_eq!(json["spec"]["holderIdentity"], "coord-0-x1");
        assert_eq!(json["metadata"].get("resourceVersion"), None);
        Ok(())
    }

    #[test]
    fn a_lease_written_by_other_tools_reads_in_whole_seconds() -> Result<()> {
        let mut lease = record_to_lease(Lease::default(), &record(), None)?;
        if let Some(spec) = lease.spec.as_mut() {
            spec.lease_duration_seconds = Some(15);
            spec.holder_identity = Some(String::new());
        }
        let back = lease_to_record(&served(lease, "9"))?;
        assert_eq!(back.record.lease.lease_duration_ms, 15_000);
        assert_eq!(back.record.lease.holder_identity, None);
        Ok(())
    }

    #[test]
    fn released_record_drops_the_leader_annotation() -> Result<()> {
        let lease = record_to_lease(Lease::default(), &record(), None)?;
        let released = HaRecord {
            leader: None,
            ..record()
        };
        let lease = record_to_lease(lease, &released, None)?;
        let annotations = lease.metadata.annotations.unwrap_or_default();
        assert!(!annotations.contains_key(LEADER_ANNOTATION));
        assert!(annotations.contains_key(METADATA_ANNOTATION));
        Ok(())
    }

    #[test]
    fn missing_resource_version_and_bad_annotations_are_corrupt() {
        assert!(matches!(lease_to_record(&Lease::default()), Err(HaError::Corrupt(_))));
        let mut lease = served(Lease::default(), "1");
        lease.metadata.annotations = Some([(METADATA_ANNOTATION.to_string(), "{".to_string())].into());
        assert!(matches!(lease_to_record(&lease), Err(HaError::Corrupt(_))));
    }
}

//! What is specific to the Kubernetes store: the Lease the API server holds is a proper
//! `coordination.k8s.io/v1` Lease, a Lease created by the operator keeps its owner references
//! and labels, every update is conditional, and fencing is the API server's 409.

use crate::harness::{candidate, expect_leader, kubernetes_harness, TestResult, LEASE, NAMESPACE};
use freshet_core::{CheckpointId, Clock, ManualClock};
use freshet_ha::{lease_mapping, CheckpointPointer, HaError, HaMetadata, HaStore};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn checkpoint(id: u64) -> HaMetadata {
    HaMetadata {
        job_id: Some("orders".into()),
        latest_checkpoint: Some(CheckpointPointer {
            id: CheckpointId(id),
            path: format!("s3://cp/chk-{id}"),
        }),
        job_ended: None,
    }
}

#[tokio::test]
async fn the_api_server_holds_a_kubernetes_lease() -> TestResult {
    let (h, api) = kubernetes_harness().await?;
    let a = h.store();
    let la = expect_leader(a.try_acquire_or_renew(&candidate("a")).await?)?;
    let metadata = checkpoint(12);
    a.write_metadata(&la, &metadata).await?;

    let lease = api.lease(NAMESPACE, LEASE).ok_or("no Lease in the API server")?;
    assert_eq!(lease["kind"], "Lease");
    assert_eq!(lease["metadata"]["name"], LEASE);
    let spec = &lease["spec"];
    assert_eq!(spec["holderIdentity"], "a");
    assert_eq!(spec["leaseDurationSeconds"], 1);
    assert_eq!(spec["leaseTransitions"], 0);
    assert_eq!(spec["renewTime"], spec["acquireTime"]);
    assert!(
        spec["renewTime"].as_str().is_some_and(|t| t.ends_with('Z')),
        "renewTime {}",
        spec["renewTime"]
    );
    let annotations = &lease["metadata"]["annotations"];
    assert_eq!(annotations[lease_mapping::DURATION_MS_ANNOTATION], "300");
    let stored: HaMetadata =
        serde_json::from_str(annotations[lease_mapping::METADATA_ANNOTATION].as_str().unwrap_or(""))?;
    assert_eq!(stored, metadata);
    assert_eq!(api.unconditional_puts.load(Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn an_operator_created_lease_keeps_its_owner_and_labels() -> TestResult {
    let (h, api) = kubernetes_harness().await?;
    let owner = json!([{
        "apiVersion": "freshet.dev/v1alpha1", "kind": "StreamJob", "name": "orders",
        "uid": "0b5e-job", "controller": true, "blockOwnerDeletion": true
    }]);
    api.insert(
        NAMESPACE,
        json!({
            "metadata": {
                "name": LEASE,
                "labels": { "app.kubernetes.io/managed-by": "freshet-operator" },
                "ownerReferences": owner,
            },
            "spec": {}
        }),
    )
    .ok_or("seeding the Lease")?;
    let (a, b) = (h.store(), h.store());
    let la = expect_leader(a.try_acquire_or_renew(&candidate("a")).await?)?;
    a.release(&la).await?;
    expect_leader(b.try_acquire_or_renew(&candidate("b")).await?)?;

    let lease = api.lease(NAMESPACE, LEASE).ok_or("no Lease in the API server")?;
    assert_eq!(lease["metadata"]["ownerReferences"], owner);
    assert_eq!(
        lease["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "freshet-operator"
    );
    assert_eq!(
        lease["metadata"]["uid"], "uid-1",
        "the Lease was replaced in place, not recreated"
    );
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    // The pre-created, holderless Lease made a's acquisition the first transition, b's the second.
    assert_eq!(lease["spec"]["leaseTransitions"], 2);
    Ok(())
}

#[tokio::test]
async fn a_lease_the_store_creates_carries_the_owner_reference() -> TestResult {
    let (h, api) = kubernetes_harness().await?;
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "freshet.dev/v1alpha1".into(),
        kind: "StreamJob".into(),
        name: "orders".into(),
        uid: "0b5e-job".into(),
        ..Default::default()
    };
    let store = h.store().with_owner(owner);
    expect_leader(store.try_acquire_or_renew(&candidate("a")).await?)?;
    let lease = api.lease(NAMESPACE, LEASE).ok_or("no Lease in the API server")?;
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "StreamJob");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], "0b5e-job");
    Ok(())
}

/// A deposed leader whose clock lags believes its lease is still valid, so only the API
/// server's resourceVersion check can stop its write: it must, and the leader is fenced.
#[tokio::test]
async fn a_lagging_deposed_leaders_write_is_refused_by_the_api_server() -> TestResult {
    let (h, api) = kubernetes_harness().await?;
    let lagging = ManualClock::new(h.clock.now_ms());
    let (a, b) = (h.store_with_clock(Arc::new(lagging)), h.store());
    let la = expect_leader(a.try_acquire_or_renew(&candidate("a")).await?)?;
    h.clock.advance(300);
    let lb = expect_leader(b.try_acquire_or_renew(&candidate("b")).await?)?;
    let conflicts_before = api.conflicts.load(Ordering::SeqCst);
    let put = a.write_metadata(&la, &checkpoint(1)).await;
    assert!(matches!(put, Err(HaError::Fenced(_))), "got {put:?}");
    assert_eq!(
        api.conflicts.load(Ordering::SeqCst),
        conflicts_before + 1,
        "the stale PUT reached the server"
    );
    assert_eq!(
        b.read_metadata(&lb).await?,
        HaMetadata::default(),
        "the fenced write did not land"
    );
    Ok(())
}

#[tokio::test]
async fn a_deleted_lease_fences_its_leader() -> TestResult {
    let (h, api) = kubernetes_harness().await?;
    let a = h.store();
    let la = expect_leader(a.try_acquire_or_renew(&candidate("a")).await?)?;
    api.remove(NAMESPACE, LEASE);
    let put = a.write_metadata(&la, &HaMetadata::default()).await;
    assert!(matches!(put, Err(HaError::Fenced(_))), "got {put:?}");
    Ok(())
}

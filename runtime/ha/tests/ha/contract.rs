//! The HA contract, one generic function per property, run against every store: the file store
//! on a temporary directory and the Kubernetes store on the mock API server. Stores made by one
//! harness share a backend and play separate coordinator processes.

use crate::harness::{candidate, expect_follower_of, expect_leader, Harness, TestResult};
use freshet_core::{CheckpointId, SystemClock};
use freshet_ha::{CheckpointPointer, Election, HaError, HaMetadata, HaStore};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Metadata recording checkpoint `id`.
fn metadata(id: u64) -> HaMetadata {
    HaMetadata {
        job_id: Some("orders".into()),
        latest_checkpoint: Some(CheckpointPointer {
            id: CheckpointId(id),
            path: format!("s3://checkpoints/orders/chk-{id}"),
        }),
        job_ended: None,
    }
}

fn assert_fenced<T: std::fmt::Debug>(result: Result<T, HaError>, what: &str) -> TestResult {
    match result {
        Err(HaError::Fenced(_)) => Ok(()),
        other => Err(format!("{what}: expected Fenced, got {other:?}").into()),
    }
}

/// Three contenders racing round after round: exactly one leads, always the same one while it
/// renews, and the others name it.
pub async fn one_leader_at_a_time<S: HaStore>(h: Harness<S>) -> TestResult {
    let stores = [h.store(), h.store(), h.store()];
    let candidates = [candidate("a"), candidate("b"), candidate("c")];
    let mut first_leader: Option<String> = None;
    for round in 0..6 {
        let (x, y, z) = tokio::join!(
            stores[0].try_acquire_or_renew(&candidates[0]),
            stores[1].try_acquire_or_renew(&candidates[1]),
            stores[2].try_acquire_or_renew(&candidates[2]),
        );
        let elections = [x?, y?, z?];
        let leaders: Vec<String> = elections
            .iter()
            .filter_map(Election::leadership)
            .map(|l| l.identity().to_string())
            .collect();
        assert_eq!(leaders.len(), 1, "round {round}: leaders {leaders:?}");
        let leader = leaders[0].clone();
        if let Some(first) = &first_leader {
            assert_eq!(
                &leader, first,
                "round {round}: leadership moved while the leader renewed"
            );
        }
        for election in elections.iter().filter(|e| !e.is_leader()) {
            assert_eq!(expect_follower_of(election)?, leader, "round {round}");
        }
        first_leader = Some(leader);
        h.clock.advance(100);
    }
    Ok(())
}

/// A standby follows while the lease is valid and takes it, in a new term, once the leader
/// stops renewing; the old leader then follows.
pub async fn standby_acquires_after_leader_stops_renewing<S: HaStore>(h: Harness<S>) -> TestResult {
    let (a, b) = (h.store(), h.store());
    let (ca, cb) = (candidate("a"), candidate("b"));
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    h.clock.advance(299);
    assert_eq!(expect_follower_of(&b.try_acquire_or_renew(&cb).await?)?, "a");
    h.clock.advance(1);
    let lb = expect_leader(b.try_acquire_or_renew(&cb).await?)?;
    assert_eq!(lb.term(), la.term() + 1);
    assert_eq!(expect_follower_of(&a.try_acquire_or_renew(&ca).await?)?, "b");
    Ok(())
}

/// Once a standby took over, everything the deposed leader does with its old leadership is
/// fenced, and none of it lands.
pub async fn deposed_leader_is_fenced<S: HaStore>(h: Harness<S>) -> TestResult {
    let (a, b) = (h.store(), h.store());
    let (ca, cb) = (candidate("a"), candidate("b"));
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    let la = a.write_metadata(&la, &metadata(1)).await?;
    h.clock.advance(300);
    let lb = expect_leader(b.try_acquire_or_renew(&cb).await?)?;

    assert_fenced(
        a.write_metadata(&la, &metadata(2)).await,
        "deposed leader's metadata write",
    )?;
    assert_fenced(a.read_metadata(&la).await, "deposed leader's metadata read")?;
    assert_fenced(a.release(&la).await, "deposed leader's release")?;

    assert_eq!(b.read_metadata(&lb).await?, metadata(1));
    let leader = b.current_leader().await?.map(|l| l.identity);
    assert_eq!(leader.as_deref(), Some("b"));
    Ok(())
}

/// A leader whose lease ran out may not write metadata before renewing, even if nobody took
/// the lease; after renewing (same term) it may.
pub async fn expired_leader_must_renew_before_writing<S: HaStore>(h: Harness<S>) -> TestResult {
    let a = h.store();
    let ca = candidate("a");
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    h.clock.advance(300);
    assert_fenced(a.write_metadata(&la, &metadata(1)).await, "expired leader's write")?;
    let renewed = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    assert_eq!(renewed.term(), la.term());
    let written = a.write_metadata(&renewed, &metadata(1)).await?;
    assert_eq!(a.read_metadata(&written).await?, metadata(1));
    Ok(())
}

/// Metadata written by the leader reads back equal, survives renewals, accepts a leadership
/// from before the leader's own renewal (same term), and never moves the checkpoint backwards.
pub async fn metadata_round_trips<S: HaStore>(h: Harness<S>) -> TestResult {
    let a = h.store();
    let ca = candidate("a");
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    assert_eq!(a.read_metadata(&la).await?, HaMetadata::default());
    let la = a.write_metadata(&la, &metadata(7)).await?;
    assert_eq!(a.read_metadata(&la).await?, metadata(7));

    h.clock.advance(100);
    let renewed = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    assert_eq!(
        a.read_metadata(&renewed).await?,
        metadata(7),
        "renewal keeps the metadata"
    );
    assert_ne!(renewed.version(), la.version());
    // `la` predates the renewal: the write meets a newer version of its own term and succeeds.
    let after = a.write_metadata(&la, &metadata(8)).await?;
    assert_eq!(a.read_metadata(&after).await?, metadata(8));
    assert_eq!(after.record().lease.renew_time_ms, renewed.record().lease.renew_time_ms);

    match a.write_metadata(&after, &metadata(5)).await {
        Err(HaError::CheckpointRegression { stored: 8, proposed: 5 }) => {}
        other => return Err(format!("expected a checkpoint regression, got {other:?}").into()),
    }
    assert_eq!(a.read_metadata(&after).await?, metadata(8));
    Ok(())
}

/// `current_leader` shows nobody, then the leader with its addresses and term, then nobody
/// once the lease expires.
pub async fn current_leader_reports_addresses<S: HaStore>(h: Harness<S>) -> TestResult {
    let (a, observer) = (h.store(), h.store());
    assert_eq!(observer.current_leader().await?, None);
    let ca = candidate("a");
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    let Some(info) = observer.current_leader().await? else {
        return Err("no leader reported".into());
    };
    assert_eq!(info.identity, "a");
    assert_eq!(info.addresses.as_ref(), Some(&ca.addresses));
    assert_eq!(info.term, la.term());
    assert_eq!(info.expires_at_ms, la.expires_at_ms());
    h.clock.advance(300);
    assert_eq!(observer.current_leader().await?, None);
    Ok(())
}

/// After a release a standby takes over at once (no waiting for expiry), in a higher term, and
/// finds the metadata the old leader wrote; the released leadership is fenced.
pub async fn release_lets_standby_take_over_at_once<S: HaStore>(h: Harness<S>) -> TestResult {
    let (a, b) = (h.store(), h.store());
    let (ca, cb) = (candidate("a"), candidate("b"));
    let la = expect_leader(a.try_acquire_or_renew(&ca).await?)?;
    let la = a.write_metadata(&la, &metadata(3)).await?;
    a.release(&la).await?;
    assert_eq!(b.current_leader().await?, None);

    let lb = expect_leader(b.try_acquire_or_renew(&cb).await?)?;
    assert!(lb.term() > la.term(), "term {} after {}", lb.term(), la.term());
    assert_eq!(b.read_metadata(&lb).await?, metadata(3));
    let addresses = a.current_leader().await?.and_then(|l| l.addresses);
    assert_eq!(addresses, Some(cb.addresses));
    assert_fenced(a.write_metadata(&la, &metadata(4)).await, "released leadership's write")?;
    Ok(())
}

/// With the system clock and a 300 ms lease: a renewing leader keeps the lease against a
/// polling standby; when it stops renewing, the standby takes over no sooner than the lease
/// allows and well within a generous deadline.
pub async fn standby_takes_over_in_real_time<S: HaStore + Clone + 'static>(h: Harness<S>) -> TestResult {
    let a = h.store_with_clock(Arc::new(SystemClock));
    let b = h.store_with_clock(Arc::new(SystemClock));
    let (ca, cb) = (candidate("a"), candidate("b"));
    expect_leader(a.try_acquire_or_renew(&ca).await?)?;

    let stop = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (stop, a, ca) = (stop.clone(), a.clone(), ca.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match a.try_acquire_or_renew(&ca).await {
                    Ok(Election::Leader(_)) => {}
                    other => return Err(format!("the renewing leader lost its lease: {other:?}")),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        })
    };
    let watch_until = Instant::now() + Duration::from_millis(700);
    while Instant::now() < watch_until {
        assert_eq!(expect_follower_of(&b.try_acquire_or_renew(&cb).await?)?, "a");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    renewer.await??;
    let stopped = Instant::now();

    let deadline = stopped + Duration::from_secs(10);
    loop {
        if b.try_acquire_or_renew(&cb).await?.is_leader() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the standby did not take over within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = stopped.elapsed();
    assert!(waited >= Duration::from_millis(150), "took over after only {waited:?}");
    Ok(())
}

/// Runs every contract function against one backend.
macro_rules! contract_tests {
    ($backend:ident, $harness:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use crate::harness::*;

            contract_tests!(@each $harness;
                one_leader_at_a_time,
                standby_acquires_after_leader_stops_renewing,
                deposed_leader_is_fenced,
                expired_leader_must_renew_before_writing,
                metadata_round_trips,
                current_leader_reports_addresses,
                release_lets_standby_take_over_at_once,
                standby_takes_over_in_real_time,
            );
        }
    };
    (@each $harness:expr; $($property:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $property() -> TestResult {
                crate::contract::$property($harness).await
            }
        )*
    };
}

contract_tests!(file, file_harness().await?);
contract_tests!(kubernetes, kubernetes_harness().await?.0);

//! Test fixtures: a store factory per backend (several stores on one backend play several
//! coordinator processes), a shared manual clock, short lease timings, candidates.

use crate::mock_apiserver::{self, ApiState};
use freshet_core::{Clock, ManualClock};
use freshet_ha::{Candidate, Election, FileStore, KubernetesStore, LeaderAddresses, Leadership, LeaseTiming};
use std::sync::Arc;
use std::time::Duration;

/// Test outcome; `?` works on every error.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The namespace and Lease name the Kubernetes harness uses.
pub const NAMESPACE: &str = "streaming";
/// The Lease name the Kubernetes harness uses.
pub const LEASE: &str = "orders-ha";

/// Lease 300 ms, renew deadline 200 ms, retry period 50 ms.
pub fn fast_timing() -> TestResult<LeaseTiming> {
    Ok(LeaseTiming::new(
        Duration::from_millis(300),
        Duration::from_millis(200),
        Duration::from_millis(50),
    )?)
}

type MakeStore<S> = Box<dyn Fn(Arc<dyn Clock>) -> S + Send + Sync>;

/// Makes stores on one backend.
pub struct Harness<S> {
    /// The clock the stores from [`Harness::store`] read.
    pub clock: ManualClock,
    make: MakeStore<S>,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl<S> Harness<S> {
    /// A store (one "process") reading the harness's manual clock.
    pub fn store(&self) -> S {
        (self.make)(Arc::new(self.clock.clone()))
    }

    /// A store reading the given clock.
    pub fn store_with_clock(&self, clock: Arc<dyn Clock>) -> S {
        (self.make)(clock)
    }
}

/// A file backend in a fresh temporary directory.
pub async fn file_harness() -> TestResult<Harness<FileStore>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ha");
    let timing = fast_timing()?;
    // Fail early on a bad directory rather than in every factory call.
    FileStore::new(&path, timing, Arc::new(ManualClock::new(0)))?;
    Ok(Harness {
        clock: ManualClock::new(1_700_000_000_000),
        make: Box::new(move |clock| FileStore::new(&path, timing, clock).unwrap_or_else(|e| panic!("file store: {e}"))),
        _keep: Box::new(dir),
    })
}

/// A Kubernetes backend: a fresh mock API server and one kube client per store.
pub async fn kubernetes_harness() -> TestResult<(Harness<KubernetesStore>, Arc<ApiState>)> {
    let (url, state) = mock_apiserver::start().await?;
    let uri: axum::http::Uri = url.parse()?;
    let timing = fast_timing()?;
    // Fail early on a bad client configuration rather than in every factory call.
    kube::Client::try_from(kube::Config::new(uri.clone()))?;
    let harness = Harness {
        clock: ManualClock::new(1_700_000_000_000),
        make: Box::new(move |clock| {
            let client =
                kube::Client::try_from(kube::Config::new(uri.clone())).unwrap_or_else(|e| panic!("kube client: {e}"));
            KubernetesStore::new(client, NAMESPACE, LEASE, timing, clock)
        }),
        _keep: Box::new(()),
    };
    Ok((harness, state))
}

/// A candidate named `name` with addresses derived from it.
pub fn candidate(name: &str) -> Candidate {
    Candidate {
        identity: name.to_string(),
        addresses: LeaderAddresses {
            rpc: format!("{name}.coordinator:6123"),
            rest: format!("http://{name}.coordinator:8081"),
        },
    }
}

/// The leadership of an election won, or an error naming who leads instead.
pub fn expect_leader(election: Election) -> TestResult<Leadership> {
    match election {
        Election::Leader(leadership) => Ok(leadership),
        Election::Follower(leader) => Err(format!("expected to lead, but the leader is {leader:?}").into()),
    }
}

/// The identity an election reports as leader, for a follower.
pub fn expect_follower_of(election: &Election) -> TestResult<String> {
    match election {
        Election::Follower(Some(info)) => Ok(info.identity.clone()),
        other => Err(format!("expected to follow a known leader, got {other:?}").into()),
    }
}

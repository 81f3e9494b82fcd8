//! Leader election among operator replicas, on a Kubernetes Lease (`--lease-name`), reusing
//! the coordinators' HA store (`freshet-ha`): only the leader reconciles; standbys wait.
//!
//! A task runs election rounds every retry period ([`LeaseTiming`]) and publishes whether this
//! replica leads on a `watch` channel. A leader that cannot renew within the renew deadline,
//! or finds the lease held by another replica (or in another term), has lost: the task
//! publishes `false` and ends with the reason ([`ElectionHandle::lost`]); the binary then exits,
//! so nothing of the old leadership survives into a new one, and a standby takes over once the
//! lease expires. The library never exits the process.
//!
//! The decision, round outcome -> next state, is the plain function [`step`]; the task only
//! runs rounds, applies it and publishes.

use freshet_core::SystemClock;
use freshet_ha::election::must_step_down;
use freshet_ha::{
    Candidate, Election, HaStore, KubernetesStore, LeaderAddresses, Leadership, LeaseTiming, RecordStore,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Where this replica stands in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectorState {
    /// No round has answered yet.
    Starting,
    /// Another replica leads (or nobody could be determined); this one waits.
    Standby,
    /// This replica leads in `term`, last renewed at `renewed_at_ms` (store clock).
    Leading {
        /// The lease's term when it was acquired.
        term: u64,
        /// The last successful renewal, ms since the epoch.
        renewed_at_ms: i64,
    },
    /// This replica led and lost the lease; it must stop (terminal).
    Lost(String),
}

impl ElectorState {
    /// Whether this replica leads.
    pub fn is_leading(&self) -> bool {
        matches!(self, ElectorState::Leading { .. })
    }

    /// Whether this replica knows its role: it leads or is a standby that reaches the store.
    pub fn is_ready(&self) -> bool {
        matches!(self, ElectorState::Leading { .. } | ElectorState::Standby)
    }
}

/// What one election round answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundOutcome {
    /// This replica holds the lease in `term`, renewed at `renewed_at_ms`.
    Leader {
        /// The lease's term.
        term: u64,
        /// The renewal just written, ms since the epoch.
        renewed_at_ms: i64,
    },
    /// Another replica (named, if known) holds the lease.
    Follower(Option<String>),
    /// The round failed (API server unreachable, timeout, conflict); nothing is known.
    Failed(String),
}

/// The next state after a round that answered `outcome` at `now_ms`.
///
/// - a starting or standby replica leads once a round makes it leader, and stands by when
///   another leads; a failed round changes nothing;
/// - a leader stays leader when it renewed in the same term; it has lost when another replica
///   holds the lease, when it holds it in another term (someone led in between), or when its
///   rounds failed until the renew deadline passed since its last renewal;
/// - lost is final.
pub fn step(state: &ElectorState, outcome: RoundOutcome, now_ms: i64, timing: &LeaseTiming) -> ElectorState {
    match (state, outcome) {
        (ElectorState::Lost(reason), _) => ElectorState::Lost(reason.clone()),
        (
            ElectorState::Leading { term, .. },
            RoundOutcome::Leader {
                term: new,
                renewed_at_ms,
            },
        ) => {
            if *term == new {
                ElectorState::Leading {
                    term: new,
                    renewed_at_ms,
                }
            } else {
                ElectorState::Lost(format!(
                    "the lease moved from term {term} to term {new}: another replica led in between"
                ))
            }
        }
        (ElectorState::Leading { .. }, RoundOutcome::Follower(holder)) => ElectorState::Lost(format!(
            "the lease is held by {}",
            holder.map_or_else(|| "another replica".to_string(), |h| format!("'{h}'"))
        )),
        (ElectorState::Leading { renewed_at_ms, .. }, RoundOutcome::Failed(reason)) => {
            if must_step_down(*renewed_at_ms, now_ms, timing) {
                ElectorState::Lost(format!(
                    "the lease could not be renewed within the renew deadline ({:?}); last error: {reason}",
                    timing.renew_deadline()
                ))
            } else {
                state.clone()
            }
        }
        (_, RoundOutcome::Leader { term, renewed_at_ms }) => ElectorState::Leading { term, renewed_at_ms },
        (_, RoundOutcome::Follower(_)) => ElectorState::Standby,
        (ElectorState::Starting | ElectorState::Standby, RoundOutcome::Failed(_)) => state.clone(),
    }
}

/// How long the next round may take at `now_ms`: a leader only until its renew deadline
/// (`None`: it has passed, the round cannot help), anyone else one renew deadline.
pub fn round_timeout(state: &ElectorState, now_ms: i64, timing: &LeaseTiming) -> Option<Duration> {
    match state {
        ElectorState::Leading { renewed_at_ms, .. } => {
            let left = renewed_at_ms
                .saturating_add(timing.renew_deadline_ms())
                .saturating_sub(now_ms);
            u64::try_from(left)
                .ok()
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms).min(timing.renew_deadline()))
        }
        _ => Some(timing.renew_deadline()),
    }
}

/// A running election (or the no-op one): whether this replica leads and is ready, and how the
/// election ended.
#[derive(Debug)]
pub struct ElectionHandle {
    leading: watch::Receiver<bool>,
    ready: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Option<String>>>,
    /// The disabled election's senders, kept so its channels never close.
    _fixed: Option<(watch::Sender<bool>, watch::Sender<bool>)>,
}

impl ElectionHandle {
    /// No election (`--leader-election false`): this replica leads and is ready at once, and
    /// never loses.
    pub fn disabled() -> Self {
        let (leading_tx, leading) = watch::channel(true);
        let (ready_tx, ready) = watch::channel(true);
        Self {
            leading,
            ready,
            stop: None,
            task: None,
            _fixed: Some((leading_tx, ready_tx)),
        }
    }

    /// Whether this replica leads, now and as it changes. `false` until it acquires the
    /// lease, `false` again once it lost it. The channel closes when the election ends
    /// (after a loss, or [`ElectionHandle::shutdown`]): treat a closed channel as not leading.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Whether this replica knows its role (leader, or standby that reaches the API server):
    /// what `/readyz` reports.
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.clone()
    }

    /// Waits until this replica leads; `false` if the election ended first.
    pub async fn acquired(&self) -> bool {
        let mut leading = self.leading.clone();
        let acquired = leading.wait_for(|leads| *leads).await.is_ok();
        acquired
    }

    /// Waits until leadership is lost and returns why. Never resolves for the disabled
    /// election, nor after [`ElectionHandle::shutdown`].
    pub async fn lost(&mut self) -> String {
        let Some(task) = self.task.as_mut() else {
            return std::future::pending().await;
        };
        let ended = task.await;
        self.task = None;
        match ended {
            Ok(Some(reason)) => reason,
            Ok(None) => std::future::pending().await,
            Err(e) => format!("the election task failed: {e}"),
        }
    }

    /// Stops the election; a leader releases the lease, so a standby takes over at once.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Starts the election for `identity` on the Lease `lease_name` in `namespace`, with the
/// system clock.
pub fn spawn_kubernetes_election(
    client: kube::Client,
    namespace: &str,
    lease_name: &str,
    identity: &str,
    timing: LeaseTiming,
) -> ElectionHandle {
    let store = KubernetesStore::new(client, namespace, lease_name, timing, Arc::new(SystemClock));
    spawn_election(store, identity)
}

/// Starts the election for `identity` on any HA store (tests use the file store).
pub fn spawn_election<S: RecordStore + 'static>(store: S, identity: &str) -> ElectionHandle {
    let candidate = Candidate {
        identity: identity.to_string(),
        // Nobody connects to an operator replica through the lease.
        addresses: LeaderAddresses {
            rpc: String::new(),
            rest: String::new(),
        },
    };
    let (leading_tx, leading) = watch::channel(false);
    let (ready_tx, ready) = watch::channel(false);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(run(store, candidate, leading_tx, ready_tx, stopped));
    ElectionHandle {
        leading,
        ready,
        stop: Some(stop),
        task: Some(task),
        _fixed: None,
    }
}

/// The election loop: a round, [`step`], publish, sleep. Returns the reason when leadership is
/// lost, `None` when stopped.
async fn run<S: RecordStore>(
    store: S,
    candidate: Candidate,
    leading: watch::Sender<bool>,
    ready: watch::Sender<bool>,
    mut stopped: oneshot::Receiver<()>,
) -> Option<String> {
    let timing = *store.timing();
    let mut state = ElectorState::Starting;
    let mut leadership: Option<Leadership> = None;
    loop {
        let outcome = match round_timeout(&state, store.clock().now_ms(), &timing) {
            None => RoundOutcome::Failed("the renew deadline passed".into()),
            Some(limit) => match tokio::time::timeout(limit, store.try_acquire_or_renew(&candidate)).await {
                Ok(Ok(Election::Leader(won))) => {
                    let outcome = RoundOutcome::Leader {
                        term: won.term(),
                        renewed_at_ms: won.renewed_at_ms(),
                    };
                    leadership = Some(won);
                    outcome
                }
                Ok(Ok(Election::Follower(leader))) => RoundOutcome::Follower(leader.map(|l| l.identity)),
                Ok(Err(e)) => RoundOutcome::Failed(e.to_string()),
                Err(_) => RoundOutcome::Failed(format!("no answer within {limit:?}")),
            },
        };
        if let RoundOutcome::Failed(reason) = &outcome {
            tracing::warn!(identity = %candidate.identity, %reason, "operator election round failed");
        }
        let next = step(&state, outcome, store.clock().now_ms(), &timing);
        report_transition(&state, &next, &candidate.identity);
        state = next;
        leading.send_if_modified(|l| replace(l, state.is_leading()));
        ready.send_if_modified(|r| replace(r, state.is_ready()));
        if let ElectorState::Lost(reason) = &state {
            return Some(reason.clone());
        }
        tokio::select! {
            _ = tokio::time::sleep(timing.retry_period()) => {}
            _ = &mut stopped => {
                if let (true, Some(held)) = (state.is_leading(), leadership.as_ref()) {
                    match store.release(held).await {
                        Ok(()) => tracing::info!(identity = %candidate.identity, "released the operator lease"),
                        Err(e) => tracing::warn!(error = %e, "could not release the operator lease"),
                    }
                }
                leading.send_replace(false);
                ready.send_replace(false);
                return None;
            }
        }
    }
}

/// Sets `slot` to `value`, saying whether it changed.
fn replace(slot: &mut bool, value: bool) -> bool {
    std::mem::replace(slot, value) != value
}

/// Logs a change of role.
fn report_transition(from: &ElectorState, to: &ElectorState, identity: &str) {
    match (from, to) {
        (ElectorState::Leading { .. }, ElectorState::Leading { .. }) => {}
        (_, ElectorState::Leading { term, .. }) => {
            tracing::info!(%identity, term, "this operator replica leads");
        }
        (ElectorState::Starting, ElectorState::Standby) => {
            tracing::info!(%identity, "this operator replica stands by");
        }
        (_, ElectorState::Lost(reason)) => {
            tracing::error!(%identity, %reason, "this operator replica lost the lead");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::ManualClock;
    use freshet_ha::FileStore;

    fn timing() -> LeaseTiming {
        LeaseTiming::new(
            Duration::from_millis(300),
            Duration::from_millis(200),
            Duration::from_millis(10),
        )
        .unwrap()
    }

    fn leading(term: u64, renewed_at_ms: i64) -> ElectorState {
        ElectorState::Leading { term, renewed_at_ms }
    }

    fn failed() -> RoundOutcome {
        RoundOutcome::Failed("api down".into())
    }

    #[test]
    fn a_starting_replica_leads_or_stands_by_and_waits_out_failures() {
        let t = timing();
        let won = RoundOutcome::Leader {
            term: 3,
            renewed_at_ms: 1_000,
        };
        assert_eq!(step(&ElectorState::Starting, won.clone(), 1_000, &t), leading(3, 1_000));
        assert_eq!(step(&ElectorState::Standby, won, 1_000, &t), leading(3, 1_000));
        let other = RoundOutcome::Follower(Some("b".into()));
        assert_eq!(step(&ElectorState::Starting, other, 1_000, &t), ElectorState::Standby);
        assert_eq!(
            step(&ElectorState::Starting, failed(), 9_000, &t),
            ElectorState::Starting
        );
        assert_eq!(step(&ElectorState::Standby, failed(), 9_000, &t), ElectorState::Standby);
        assert!(!ElectorState::Starting.is_ready() && ElectorState::Standby.is_ready());
    }

    #[test]
    fn a_leader_renews_in_its_term_and_rides_out_failures_until_the_renew_deadline() {
        let t = timing();
        let renewed = RoundOutcome::Leader {
            term: 3,
            renewed_at_ms: 1_050,
        };
        assert_eq!(step(&leading(3, 1_000), renewed, 1_050, &t), leading(3, 1_050));
        assert_eq!(step(&leading(3, 1_000), failed(), 1_199, &t), leading(3, 1_000));
        let ElectorState::Lost(reason) = step(&leading(3, 1_000), failed(), 1_200, &t) else {
            panic!("a leader past its renew deadline must step down");
        };
        assert!(
            reason.contains("renew deadline") && reason.contains("api down"),
            "{reason}"
        );
    }

    #[test]
    fn a_leader_loses_to_another_holder_or_another_term_for_good() {
        let t = timing();
        let taken = step(&leading(3, 1_000), RoundOutcome::Follower(Some("b".into())), 1_100, &t);
        assert_eq!(taken, ElectorState::Lost("the lease is held by 'b'".into()));
        let retaken = step(
            &leading(3, 1_000),
            RoundOutcome::Leader {
                term: 5,
                renewed_at_ms: 1_100,
            },
            1_100,
            &t,
        );
        assert!(matches!(retaken, ElectorState::Lost(_)), "{retaken:?}");
        let again = step(
            &retaken,
            RoundOutcome::Leader {
                term: 5,
                renewed_at_ms: 1_200,
            },
            1_200,
            &t,
        );
        assert_eq!(again, retaken);
    }

    #[test]
    fn a_leaders_round_may_only_use_the_time_left_to_its_deadline() {
        let t = timing();
        assert_eq!(
            round_timeout(&leading(1, 1_000), 1_150, &t),
            Some(Duration::from_millis(50))
        );
        assert_eq!(round_timeout(&leading(1, 1_000), 1_200, &t), None);
        assert_eq!(
            round_timeout(&ElectorState::Standby, 5_000, &t),
            Some(Duration::from_millis(200))
        );
    }

    async fn wait_for(rx: &mut watch::Receiver<bool>, value: bool) {
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|v| *v == value))
            .await
            .expect("the election did not publish in time")
            .expect("the election ended");
    }

    #[tokio::test]
    async fn a_standby_takes_over_an_expired_lease_and_the_old_leader_learns_it_lost() {
        let dir = tempfile::tempdir().unwrap();
        // Each replica has its own clock: `a`'s stands still, so its renewals stop counting
        // for `b`, whose clock is past `a`'s lease.
        let clock_a = ManualClock::new(1_000);
        let clock_b = ManualClock::new(1_000);
        let store = |clock: &ManualClock| FileStore::new(dir.path(), timing(), Arc::new(clock.clone())).unwrap();
        let mut a = spawn_election(store(&clock_a), "a");
        wait_for(&mut a.leading(), true).await;
        assert!(a.acquired().await);
        assert!(*a.ready().borrow());

        let b = spawn_election(store(&clock_b), "b");
        wait_for(&mut b.ready(), true).await;
        assert!(!*b.leading().borrow(), "b must stand by while a leads");

        clock_b.set(1_000 + 10_000);
        wait_for(&mut b.leading(), true).await;
        let reason = tokio::time::timeout(Duration::from_secs(5), a.lost()).await.unwrap();
        assert!(reason.contains("'b'"), "{reason}");
        assert!(!*a.leading().borrow());
        b.shutdown().await;
    }

    #[tokio::test]
    async fn a_leader_that_shuts_down_releases_the_lease_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_000);
        let store = || FileStore::new(dir.path(), timing(), Arc::new(clock.clone())).unwrap();
        let a = spawn_election(store(), "a");
        assert!(a.acquired().await);
        let b = spawn_election(store(), "b");
        wait_for(&mut b.ready(), true).await;
        let mut a_leading = a.leading();
        a.shutdown().await;
        assert!(!*a_leading.borrow_and_update());
        // Without the clock moving: only the release lets `b` take the lease.
        wait_for(&mut b.leading(), true).await;
        b.shutdown().await;
    }

    #[tokio::test]
    async fn the_disabled_election_leads_at_once_and_never_loses() {
        let mut handle = ElectionHandle::disabled();
        assert!(handle.acquired().await);
        assert!(*handle.ready().borrow());
        assert!(handle.leading().has_changed().is_ok(), "its channels stay open");
        let lost = tokio::time::timeout(Duration::from_millis(50), handle.lost()).await;
        assert!(lost.is_err());
    }
}

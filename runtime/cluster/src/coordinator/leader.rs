//! Leading through the HA store: wait for the lease, keep renewing it, step down when renewal
//! fails for the renew deadline, and record every completed checkpoint with fencing, so that a
//! deposed leader can neither record a checkpoint nor let its sinks commit one.

use freshet_core::{CheckpointId, Error, Result};
use freshet_engine::CompletionRecorder;
use freshet_ha::election::must_step_down;
use freshet_ha::{
    AnyStore, Candidate, CheckpointPointer, Election, HaError, HaMetadata, HaStore, Leadership, RecordStore,
};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::watch;

/// This process's leadership, kept current by [`Leader::keep_renewing`].
pub struct Leader {
    store: AnyStore,
    candidate: Candidate,
    leadership: Mutex<Leadership>,
    metadata: Mutex<HaMetadata>,
    lost: watch::Sender<Option<String>>,
}

impl Leader {
    /// Waits until `candidate` leads (logging who leads meanwhile).
    pub async fn acquire(store: AnyStore, candidate: Candidate) -> Result<Arc<Leader>> {
        let mut reported: Option<String> = None;
        loop {
            match store.try_acquire_or_renew(&candidate).await {
                Ok(Election::Leader(leadership)) => {
                    let metadata = store.read_metadata(&leadership).await.map_err(ha_error)?;
                    tracing::info!(identity = %candidate.identity, term = leadership.term(), "acquired leadership");
                    let (lost, _) = watch::channel(None);
                    return Ok(Arc::new(Leader {
                        store,
                        candidate,
                        leadership: Mutex::new(leadership),
                        metadata: Mutex::new(metadata),
                        lost,
                    }));
                }
                Ok(Election::Follower(leader)) => {
                    let who = leader.map(|l| l.identity).unwrap_or_else(|| "nobody".into());
                    if reported.as_deref() != Some(who.as_str()) {
                        tracing::info!(leader = %who, "standing by");
                        eprintln!("standby: the leader is {who}");
                        reported = Some(who);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "election round failed"),
            }
            tokio::time::sleep(store.timing().retry_period()).await;
        }
    }

    /// The leadership term (the fencing token).
    pub fn term(&self) -> u64 {
        self.leadership.lock().term()
    }

    /// The HA metadata as read at acquisition (and as written since).
    pub fn metadata(&self) -> HaMetadata {
        self.metadata.lock().clone()
    }

    /// Writes `metadata` if this process still leads.
    pub async fn write_metadata(&self, metadata: HaMetadata) -> Result<()> {
        let leadership = self.leadership.lock().clone();
        match self.store.write_metadata(&leadership, &metadata).await {
            Ok(next) => {
                *self.leadership.lock() = next;
                *self.metadata.lock() = metadata;
                Ok(())
            }
            Err(e) => {
                if e.is_fenced() {
                    self.step_down(&e.to_string());
                }
                Err(ha_error(e))
            }
        }
    }

    /// Gives the lease up, so a standby can take over at once.
    pub async fn release(&self) -> Result<()> {
        let leadership = self.leadership.lock().clone();
        self.store.release(&leadership).await.map_err(ha_error)
    }

    /// Why leadership was lost, if it was.
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.borrow().clone()
    }

    /// Resolves with the reason once leadership is lost.
    pub async fn lost(&self) -> String {
        let mut rx = self.lost.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                return "the leadership watch closed".into();
            }
        }
    }

    fn step_down(&self, reason: &str) {
        tracing::error!(%reason, "lost leadership");
        self.lost.send_replace(Some(reason.to_string()));
    }

    /// Renews the lease every retry period; steps down when it could not renew for the renew
    /// deadline or another contender holds the lease. Runs until then.
    pub async fn keep_renewing(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.store.timing().retry_period()).await;
            let renewed_at = self.leadership.lock().renewed_at_ms();
            match self.store.try_acquire_or_renew(&self.candidate).await {
                Ok(Election::Leader(l)) if l.term() == self.term() => *self.leadership.lock() = l,
                Ok(Election::Leader(_)) | Ok(Election::Follower(_)) => {
                    self.step_down("another coordinator holds the lease");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
            }
            if must_step_down(renewed_at, self.store.clock().now_ms(), self.store.timing())
                && self.leadership.lock().renewed_at_ms() == renewed_at
            {
                self.step_down("the lease could not be renewed within the renew deadline");
                return;
            }
        }
    }
}

fn ha_error(e: HaError) -> Error {
    Error::State(format!("HA store: {e}"))
}

/// Records completed checkpoints in the HA store (fenced).
pub struct HaRecorder {
    /// The leadership to write with.
    pub leader: Arc<Leader>,
}

impl CompletionRecorder for HaRecorder {
    fn record(&self, id: CheckpointId, location: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut metadata = self.leader.metadata();
            metadata.latest_checkpoint = Some(CheckpointPointer { id, path: location });
            self.leader.write_metadata(metadata).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_core::ManualClock;
    use freshet_ha::{FileStore, LeaderAddresses, LeaseTiming};
    use std::time::Duration;

    fn candidate(id: &str) -> Candidate {
        Candidate {
            identity: id.into(),
            addresses: LeaderAddresses {
                rpc: format!("{id}:1"),
                rest: format!("http://{id}:2"),
            },
        }
    }

    #[tokio::test]
    async fn a_deposed_leader_cannot_record_a_checkpoint() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let clock = Arc::new(ManualClock::new(1_000));
        let timing = LeaseTiming::new(
            Duration::from_secs(2),
            Duration::from_millis(1_500),
            Duration::from_millis(10),
        )
        .map_err(ha_error)?;
        let store: AnyStore = FileStore::new(dir.path(), timing, clock.clone())
            .map_err(ha_error)?
            .into();
        let a = Leader::acquire(store.clone(), candidate("a")).await?;
        let recorder_a = HaRecorder { leader: a.clone() };
        recorder_a.record(CheckpointId(3), "file:///chk/3".into()).await?;

        // `a` stalls past its lease; `b` takes over and sees a's last record.
        clock.advance(2_500);
        let b = Leader::acquire(store.clone(), candidate("b")).await?;
        assert!(b.term() > a.term());
        assert_eq!(b.metadata().latest_checkpoint.map(|p| p.id), Some(CheckpointId(3)));
        HaRecorder { leader: b.clone() }
            .record(CheckpointId(4), "file:///chk/4".into())
            .await?;

        // `a` wakes up: its record is fenced and it knows it lost the lead.
        let err = recorder_a
            .record(CheckpointId(5), "file:///chk/5".into())
            .await
            .expect_err("a deposed leader's record must fail");
        assert!(err.to_string().contains("fenced"), "{err}");
        assert!(a.lost_reason().is_some());
        let reader = Leader::acquire(store, candidate("b")).await?;
        assert_eq!(reader.metadata().latest_checkpoint.map(|p| p.id), Some(CheckpointId(4)));
        Ok(())
    }
}

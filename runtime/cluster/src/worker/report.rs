//! Reports from this worker's tasks to the coordinator, sent in order on the current
//! coordinator connection. A report that cannot be delivered (no coordinator, or it died) is
//! dropped: the coordinator that replaces it restarts the job, which makes it moot.

use freshet_rpc::proto;
use freshet_rpc::proto::coordinator_client::CoordinatorClient;
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// A report for the coordinator.
#[derive(Debug)]
pub enum Report {
    /// A checkpoint acknowledgement.
    Ack(proto::AcknowledgeCheckpointRequest),
    /// A declined checkpoint.
    Decline(proto::DeclineCheckpointRequest),
    /// A task reached the end of its input.
    Finished(proto::TaskFinishedReport),
    /// A task failed.
    Failure(proto::TaskFailureReport),
    /// A task exited without failing.
    Exited(proto::TaskExitReport),
}

/// The coordinator connection reports go to, replaced on every (re-)registration.
pub type CurrentCoordinator = Arc<Mutex<Option<CoordinatorClient<Channel>>>>;

/// Queues reports for the coordinator.
#[derive(Clone, Debug)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<Report>,
}

impl Reporter {
    /// A reporter sending on whatever `coordinator` holds, and its sending task.
    pub fn start(coordinator: CurrentCoordinator) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(rx, coordinator));
        Self { tx }
    }

    /// Queues `report`.
    pub fn send(&self, report: Report) {
        let _ = self.tx.send(report);
    }
}

async fn deliver(mut reports: mpsc::UnboundedReceiver<Report>, coordinator: CurrentCoordinator) {
    while let Some(report) = reports.recv().await {
        let Some(mut client) = coordinator.lock().clone() else {
            tracing::warn!(?report, "no coordinator to report to; dropped");
            continue;
        };
        let result = match report {
            Report::Ack(r) => client.acknowledge_checkpoint(r).await.map(drop),
            Report::Decline(r) => client.decline_checkpoint(r).await.map(drop),
            Report::Finished(r) => client.report_task_finished(r).await.map(drop),
            Report::Failure(r) => client.report_task_failure(r).await.map(drop),
            Report::Exited(r) => client.report_task_exited(r).await.map(drop),
        };
        if let Err(status) = result {
            tracing::warn!(%status, "a report to the coordinator failed");
        }
    }
}

//! What every reconcile pass shares: the Kubernetes client, the coordinator REST client,
//! metrics and the event recorder.

use crate::coordinator_client::CoordinatorClient;
use crate::metrics::OperatorMetrics;
use kube::runtime::events::{Recorder, Reporter};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "freshet-operator";
/// The finalizer the operator puts on every StreamJob.
pub const FINALIZER: &str = "freshet.dev/finalizer";

/// Shared dependencies of the controller.
#[derive(Clone)]
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// The coordinators' REST client.
    pub coordinator: CoordinatorClient,
    /// The operator's metrics.
    pub metrics: Arc<OperatorMetrics>,
    /// Records Kubernetes events.
    pub recorder: Recorder,
}

impl Context {
    /// A context over `client`.
    pub fn new(client: kube::Client, metrics: Arc<OperatorMetrics>) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            coordinator: CoordinatorClient::new(Duration::from_secs(5)),
            client,
            metrics,
        }
    }
}

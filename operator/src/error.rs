//! The controller's errors. Each knows its kind (a metric label) and how soon a retry makes
//! sense.

use std::time::Duration;

/// What went wrong in a reconcile pass.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API refused or failed a call.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The coordinator's REST API failed a call the decision depends on.
    #[error("coordinator: {0}")]
    Coordinator(#[from] crate::coordinator_client::ClientError),
    /// The job's objects could not be built from its spec.
    #[error("building the job's objects: {0}")]
    Resources(#[from] crate::resources::ResourceError),
    /// A StreamJob without a namespace (the resource is namespaced, so only a broken client
    /// sends one).
    #[error("the StreamJob has no namespace")]
    MissingNamespace,
    /// Serializing an object failed.
    #[error("serializing {what}: {source}")]
    Serialize {
        /// What was serialized.
        what: &'static str,
        /// Why it failed.
        source: serde_json::Error,
    },
}

/// The controller's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_)) => "kube_api",
            Error::Kube(_) => "kube_client",
            Error::Coordinator(_) => "coordinator",
            Error::Resources(_) => "resources",
            Error::MissingNamespace => "missing_namespace",
            Error::Serialize { .. } => "serialize",
        }
    }

    /// How long to wait before the next pass.
    pub fn retry_after(&self) -> Duration {
        match self {
            Error::Coordinator(_) => Duration::from_secs(5),
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => Duration::from_secs(1),
            Error::Resources(_) | Error::MissingNamespace | Error::Serialize { .. } => Duration::from_secs(60),
            Error::Kube(_) => Duration::from_secs(10),
        }
    }
}

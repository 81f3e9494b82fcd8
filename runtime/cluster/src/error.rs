//! Errors of the cluster roles.

use thiserror::Error;

/// What can go wrong running a coordinator or a worker.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// Bad settings (flags, addresses, job script).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The engine failed (planning, state, checkpoint storage, ...).
    #[error(transparent)]
    Engine(#[from] freshet_core::Error),
    /// The cluster protocol failed (connection, call, data plane).
    #[error(transparent)]
    Rpc(#[from] freshet_rpc::Error),
    /// The HA store failed, or this process lost its leadership.
    #[error(transparent)]
    Ha(#[from] freshet_ha::HaError),
    /// Serving gRPC failed.
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Binding or serving a socket failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ClusterError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ClusterError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result of the cluster roles.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

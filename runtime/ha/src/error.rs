//! The HA store's error, which tells fencing apart from failures of the storage underneath.

use freshet_core::ErrorClass;

/// Errors of leader election and HA metadata.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    /// The caller no longer holds the lease: another contender acquired it since (or the
    /// caller's lease expired, or it released it). The caller must stop acting as leader; its
    /// write was not applied.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The record kept changing under the caller's writes (an optimistic-concurrency conflict
    /// that retrying a few times did not resolve). Nothing was written; retry later.
    #[error("conflicting concurrent update: {0}")]
    Conflict(String),
    /// A metadata write would move the latest completed checkpoint backwards.
    #[error("checkpoint regression: the HA record holds checkpoint {stored}, refusing to record {proposed}")]
    CheckpointRegression {
        /// The checkpoint id already recorded.
        stored: u64,
        /// The smaller id the write proposed.
        proposed: u64,
    },
    /// Invalid configuration: lease timing, store address, identity.
    #[error("invalid HA configuration: {0}")]
    Config(String),
    /// A file-store I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Kubernetes API failed (other than a version conflict, which is [`HaError::Conflict`]).
    #[error("kubernetes API: {0}")]
    Kube(#[source] Box<kube::Error>),
    /// The stored record could not be read back: bad JSON or out-of-range fields.
    #[error("corrupt HA record: {0}")]
    Corrupt(String),
}

impl HaError {
    /// Whose fault the error is, in the runtime's terms.
    pub fn class(&self) -> ErrorClass {
        match self {
            HaError::Config(_) => ErrorClass::User,
            HaError::Fenced(_) | HaError::Conflict(_) | HaError::Io { .. } | HaError::Kube(_) => ErrorClass::External,
            HaError::CheckpointRegression { .. } | HaError::Corrupt(_) => ErrorClass::Internal,
        }
    }

    /// A short, stable name of the variant, for metric labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            HaError::Fenced(_) => "fenced",
            HaError::Conflict(_) => "conflict",
            HaError::CheckpointRegression { .. } => "checkpoint_regression",
            HaError::Config(_) => "config",
            HaError::Io { .. } => "io",
            HaError::Kube(_) => "kube",
            HaError::Corrupt(_) => "corrupt",
        }
    }

    /// Whether this error means the caller has lost leadership.
    pub fn is_fenced(&self) -> bool {
        matches!(self, HaError::Fenced(_))
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HaError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<kube::Error> for HaError {
    fn from(e: kube::Error) -> Self {
        HaError::Kube(Box::new(e))
    }
}

/// Result with [`HaError`].
pub type Result<T, E = HaError> = std::result::Result<T, E>;

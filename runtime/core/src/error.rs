//! The error shared by the runtime crates.
//!
//! Every error knows its class — whose fault it is — because the restart strategy acts on it:
//! a user error (bad configuration, a failing user function) will fail again on restart, an
//! external one (storage, network) may not.

use std::fmt;

/// Whose fault an error is, and so whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input, configuration or user code.
    User,
    /// An external system: storage, network, another process.
    External,
    /// A bug or broken invariant in Freshet itself.
    Internal,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::User => "user",
            ErrorClass::External => "external",
            ErrorClass::Internal => "internal",
        })
    }
}

/// Errors of the Freshet runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid job definition or configuration; names what and where.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An input record cannot be read (e.g. a malformed Kafka record); names where it is.
    #[error("bad input record: {0}")]
    BadRecord(String),
    /// A user function failed.
    #[error("user function failed: {0}")]
    UserFunction(String),
    /// Arrow failed (schema mismatch, cast, IPC).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Reading or writing state or checkpoints failed.
    #[error("state: {0}")]
    State(String),
    /// A file or storage I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// (De)serialization of metadata or records failed.
    #[error("serialization: {0}")]
    Serde(String),
    /// A channel or task went away (the job is cancelled or a peer failed).
    #[error("channel closed: {0}")]
    ChannelClosed(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A broken internal invariant.
    #[error("internal error: {0}")]
    Internal(String),
    /// An error with the operator and subtask it happened in.
    #[error("in operator '{operator}' subtask {subtask}: {source}")]
    InOperator {
        /// Operator name or uid.
        operator: String,
        /// Subtask index.
        subtask: u32,
        /// The underlying error.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Whose fault the error is.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_) | Error::UserFunction(_) | Error::BadRecord(_) => ErrorClass::User,
            Error::State(_) | Error::Io { .. } | Error::ChannelClosed(_) | Error::Cancelled => ErrorClass::External,
            Error::Arrow(_) | Error::Serde(_) | Error::Internal(_) => ErrorClass::Internal,
            Error::InOperator { source, .. } => source.class(),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Attaches the operator and subtask the error happened in.
    pub fn in_operator(self, operator: impl Into<String>, subtask: u32) -> Self {
        match self {
            already @ Error::InOperator { .. } => already,
            other => Error::InOperator {
                operator: operator.into(),
                subtask,
                source: Box::new(other),
            },
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Serde(e.to_string())
    }
}

/// Result with the runtime [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The coordinator client's error: the coordinator could not be reached, refused the request,
//! or answered something the operator cannot read.

use freshet_core::ErrorClass;
use http::StatusCode;

/// Errors of [`super::CoordinatorClient`]. Each names the URL it was about.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, DNS failure, reset, or no complete answer within the
    /// request timeout. The coordinator may be starting, gone, or partitioned; retrying helps.
    #[error("coordinator unreachable at {url}: {reason}")]
    Unreachable {
        /// The request's URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A non-2xx answer; `message` is the `error` of its `{"error": ...}` body (or the body's
    /// start if it is not one).
    #[error("coordinator answered {status} to {url}: {message}")]
    Status {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The coordinator's message.
        message: String,
    },
    /// A 2xx answer whose body is not what the API describes (another API version?).
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The request's URL.
        url: String,
        /// What did not match.
        reason: String,
    },
    /// The base URL is not a plain `http://host:port` URL.
    #[error("invalid coordinator URL {url}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ClientError {
    /// Whether the coordinator did not answer at all (as opposed to answering an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }

    /// The HTTP status of a non-2xx answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// `404`: an unknown job or savepoint trigger.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// `409`: the job is not in a state that allows the request.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }

    /// A short, stable name of the variant, for metric labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Status { .. } => "status",
            ClientError::Decode { .. } => "decode",
            ClientError::InvalidUrl { .. } => "invalid_url",
        }
    }

    /// Whose fault it is: the coordinator's side (external) for unreachable and refused
    /// requests; ours for a URL we built or an answer we cannot read.
    pub fn class(&self) -> ErrorClass {
        match self {
            ClientError::Unreachable { .. } | ClientError::Status { .. } => ErrorClass::External,
            ClientError::Decode { .. } | ClientError::InvalidUrl { .. } => ErrorClass::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_helpers_tell_404_and_409_apart() {
        let e = |status| ClientError::Status {
            url: "http://c:8081/v1/jobs/x".into(),
            status,
            message: "m".into(),
        };
        assert!(e(StatusCode::CONFLICT).is_conflict());
        assert!(e(StatusCode::NOT_FOUND).is_not_found());
        assert!(!e(StatusCode::CONFLICT).is_unreachable());
        assert_eq!(e(StatusCode::CONFLICT).kind(), "status");
        assert_eq!(
            e(StatusCode::CONFLICT).to_string(),
            "coordinator answered 409 Conflict to http://c:8081/v1/jobs/x: m"
        );
    }
}

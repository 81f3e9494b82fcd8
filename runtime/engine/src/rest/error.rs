//! Errors of the REST API, each with its HTTP status, answered as `{"error": "message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No job with this id (404).
    #[error("no job with id '{0}'")]
    UnknownJob(String),
    /// No savepoint trigger with this id for the job (404).
    #[error("no savepoint trigger '{trigger}' for job '{job}'")]
    UnknownTrigger {
        /// The job.
        job: String,
        /// The trigger id asked for.
        trigger: String,
    },
    /// No such route (404).
    #[error("no route for {0}")]
    NoRoute(String),
    /// The route exists, not with this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request body or parameters are invalid (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The job is not in a state that allows the request (409).
    #[error("job '{job}' is {state}; the request needs a running job")]
    NotRunning {
        /// The job.
        job: String,
        /// Its state.
        state: &'static str,
    },
    /// Not ready to serve (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownJob(_) | Self::UnknownTrigger { .. } | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotRunning { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

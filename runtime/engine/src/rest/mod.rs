//! The REST API (axum, JSON): jobs, vertices, checkpoints, savepoints, cancel and health.
//!
//! The HTTP layer only routes: every decision is made by a [`JobService`], implemented for the
//! single-process runner by [`LocalJobService`] and, later, by the coordinator. Routes and their
//! bodies are described in `docs/rest-api.md` and `docs/openapi.yaml`.

mod error;
mod local;
mod model;

pub use error::{ApiError, ErrorBody};
pub use local::{cancel_allowed, savepoint_allowed, vertex_details, LocalJobService};
pub use model::{
    CheckpointCounts, CheckpointsView, DisposeRequest, DisposeResponse, JobDetail, JobList, JobSummary,
    SavepointRequest, SavepointStatus, StatusBody, TriggerResponse, VertexDetail,
};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use std::sync::Arc;

/// A result of the API.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// What the REST API asks of whoever runs the jobs.
pub trait JobService: Send + Sync + 'static {
    /// Every job.
    fn jobs(&self) -> BoxFuture<'_, ApiResult<Vec<JobSummary>>>;
    /// One job's status and vertices.
    fn job(&self, id: String) -> BoxFuture<'_, ApiResult<JobDetail>>;
    /// One job's checkpoint counts and history.
    fn checkpoints(&self, id: String) -> BoxFuture<'_, ApiResult<CheckpointsView>>;
    /// Starts a savepoint; answers its trigger id at once.
    fn trigger_savepoint(&self, id: String, request: SavepointRequest) -> BoxFuture<'_, ApiResult<TriggerResponse>>;
    /// Where a triggered savepoint is.
    fn savepoint_status(&self, id: String, trigger_id: String) -> BoxFuture<'_, ApiResult<SavepointStatus>>;
    /// Requests cancellation (without a savepoint).
    fn cancel(&self, id: String) -> BoxFuture<'_, ApiResult<()>>;
    /// Deletes the files of a savepoint (never of a checkpoint) with this process's storage
    /// credentials.
    fn dispose_savepoint(&self, id: String, location: String) -> BoxFuture<'_, ApiResult<()>>;
    /// `Ok` once the process serves running jobs.
    fn ready(&self) -> BoxFuture<'_, ApiResult<()>>;
}

/// The routes: method and path (axum syntax), as documented in `docs/openapi.yaml`.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", HEALTHZ),
    ("get", READYZ),
    ("get", JOBS),
    ("get", JOB),
    ("get", CHECKPOINTS),
    ("post", SAVEPOINTS),
    ("post", DISPOSE),
    ("get", SAVEPOINT),
    ("post", CANCEL),
];

const HEALTHZ: &str = "/healthz";
const READYZ: &str = "/readyz";
const JOBS: &str = "/v1/jobs";
const JOB: &str = "/v1/jobs/{id}";
const CHECKPOINTS: &str = "/v1/jobs/{id}/checkpoints";
const SAVEPOINTS: &str = "/v1/jobs/{id}/savepoints";
const SAVEPOINT: &str = "/v1/jobs/{id}/savepoints/{trigger_id}";
const DISPOSE: &str = "/v1/jobs/{id}/savepoints/dispose";
const CANCEL: &str = "/v1/jobs/{id}/cancel";

type Service = State<Arc<dyn JobService>>;

/// The API's router over `service`.
pub fn router(service: Arc<dyn JobService>) -> Router {
    Router::new()
        .route(HEALTHZ, get(healthz))
        .route(READYZ, get(readyz))
        .route(JOBS, get(list_jobs))
        .route(JOB, get(job))
        .route(CHECKPOINTS, get(checkpoints))
        .route(SAVEPOINTS, post(trigger_savepoint))
        .route(SAVEPOINT, get(savepoint_status))
        .route(DISPOSE, post(dispose_savepoint))
        .route(CANCEL, post(cancel))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service)
}

/// Parses a savepoint request; an empty body asks for the defaults.
pub fn parse_savepoint_request(body: &[u8]) -> ApiResult<SavepointRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SavepointRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(e.to_string()))
}

async fn healthz() -> Json<StatusBody> {
    Json(StatusBody { status: "ok".into() })
}

async fn readyz(State(s): Service) -> ApiResult<Json<StatusBody>> {
    s.ready().await?;
    Ok(Json(StatusBody { status: "ready".into() }))
}

async fn list_jobs(State(s): Service) -> ApiResult<Json<JobList>> {
    Ok(Json(JobList { jobs: s.jobs().await? }))
}

async fn job(State(s): Service, Path(id): Path<String>) -> ApiResult<Json<JobDetail>> {
    Ok(Json(s.job(id).await?))
}

async fn checkpoints(State(s): Service, Path(id): Path<String>) -> ApiResult<Json<CheckpointsView>> {
    Ok(Json(s.checkpoints(id).await?))
}

async fn trigger_savepoint(
    State(s): Service,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<TriggerResponse>)> {
    let request = parse_savepoint_request(&body)?;
    Ok((StatusCode::ACCEPTED, Json(s.trigger_savepoint(id, request).await?)))
}

async fn savepoint_status(
    State(s): Service,
    Path((id, trigger_id)): Path<(String, String)>,
) -> ApiResult<Json<SavepointStatus>> {
    Ok(Json(s.savepoint_status(id, trigger_id).await?))
}

async fn dispose_savepoint(State(s): Service, Path(id): Path<String>, body: Bytes) -> ApiResult<Json<DisposeResponse>> {
    let request: DisposeRequest = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    s.dispose_savepoint(id, request.location.clone()).await?;
    Ok(Json(DisposeResponse {
        disposed: request.location,
    }))
}

async fn cancel(State(s): Service, Path(id): Path<String>) -> ApiResult<(StatusCode, Json<StatusBody>)> {
    s.cancel(id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(StatusBody {
            status: "CANCELLING".into(),
        }),
    ))
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_string())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests;

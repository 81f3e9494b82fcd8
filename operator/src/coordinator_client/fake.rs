//! A fake coordinator for tests: an axum server on `127.0.0.1:0` answering the REST API with
//! the exact JSON shapes of docs/rest-api.md, for one running job ([`JOB_ID`]) and one
//! finished job ([`FINISHED_JOB_ID`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The running job's id.
pub(crate) const JOB_ID: &str = "187a0c3e1f2b4c5d0000a1b200000000";
/// A finished job's id (savepoints and cancel are refused with 409).
pub(crate) const FINISHED_JOB_ID: &str = "187a0c3e1f2b4c5d0000a1b2000000ff";
/// The trigger id every savepoint request gets; its status is `COMPLETED`. The triggers
/// `in-progress` and `failed` answer those statuses.
pub(crate) const TRIGGER_ID: &str = "187a0c3e5a7c0e110000a1b200000001";

#[derive(Default)]
struct FakeState {
    cancelling: bool,
    savepoint_requests: Vec<Value>,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake coordinator; stops when dropped.
pub(crate) struct FakeCoordinator {
    /// Its REST base URL, `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCoordinator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCoordinator {
    /// Starts one on a free port.
    pub(crate) async fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route("/v1/jobs", get(jobs))
            .route("/v1/jobs/{id}", get(job))
            .route("/v1/jobs/{id}/checkpoints", get(checkpoints))
            .route("/v1/jobs/{id}/savepoints", post(trigger_savepoint))
            .route("/v1/jobs/{id}/savepoints/{trigger}", get(savepoint_status))
            .route("/v1/jobs/{id}/cancel", post(cancel))
            .route("/garbage/v1/jobs", get(|| async { Json(json!({"unexpected": true})) }))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "unknown route") })
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, task }
    }

    /// The body of the last savepoint request, as JSON.
    pub(crate) fn last_savepoint_request(&self) -> Option<Value> {
        self.state.lock().unwrap().savepoint_requests.last().cloned()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn state_of(state: &Shared, id: &str) -> Option<&'static str> {
    match id {
        JOB_ID if state.lock().unwrap().cancelling => Some("CANCELLING"),
        JOB_ID => Some("RUNNING"),
        FINISHED_JOB_ID => Some("FINISHED"),
        _ => None,
    }
}

async fn jobs(State(state): State<Shared>) -> Response {
    let running = state_of(&state, JOB_ID);
    Json(json!({"jobs": [{"id": JOB_ID, "name": "hot_items", "state": running}]})).into_response()
}

async fn job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(job_state) = state_of(&state, &id) else {
        return error(StatusCode::NOT_FOUND, &format!("unknown job {id}"));
    };
    Json(json!({
        "id": id,
        "name": "hot_items",
        "state": job_state,
        "start_time_ms": 1763708400000_i64,
        "end_time_ms": null,
        "duration_ms": 5230,
        "restarts": 0,
        "last_failure": null,
        "status_message": null,
        "vertices": [
            {"id": "source-bid", "name": "bid", "parallelism": 2,
             "records_in": 0, "records_out": 10240, "bytes_in": 0, "bytes_out": 1310720,
             "backpressure_ratio": 0.0, "watermark_ms": null},
            {"id": "window-agg-1", "name": "window aggregate", "parallelism": 2,
             "records_in": 10240, "records_out": 96, "bytes_in": 1310720, "bytes_out": 4608,
             "backpressure_ratio": 0.02, "watermark_ms": 1763708399000_i64}
        ]
    }))
    .into_response()
}

async fn checkpoints(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if state_of(&state, &id).is_none() {
        return error(StatusCode::NOT_FOUND, &format!("unknown job {id}"));
    }
    let completed = json!({"id": 12, "kind": "checkpoint", "status": "COMPLETED",
        "trigger_time_ms": 1763708405000_i64, "duration_ms": 31,
        "path": "file:///data/chk/chk-12", "size_bytes": 48213, "failure_reason": null});
    Json(json!({
        "counts": {"completed": 12, "failed": 0, "in_progress": 1},
        "latest_completed": completed,
        "history": [
            {"id": 13, "kind": "checkpoint", "status": "IN_PROGRESS", "trigger_time_ms": 1763708405200_i64,
             "duration_ms": null, "path": null, "size_bytes": null, "failure_reason": null},
            completed
        ]
    }))
    .into_response()
}

async fn trigger_savepoint(State(state): State<Shared>, Path(id): Path<String>, body: String) -> Response {
    let request: Value = if body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid request body: {e}")),
        }
    };
    match state_of(&state, &id) {
        None => return error(StatusCode::NOT_FOUND, &format!("unknown job {id}")),
        Some("RUNNING") => {}
        Some(other) => return error(StatusCode::CONFLICT, &format!("the job is {other}, not RUNNING")),
    }
    state.lock().unwrap().savepoint_requests.push(request);
    (StatusCode::ACCEPTED, Json(json!({"trigger_id": TRIGGER_ID}))).into_response()
}

async fn savepoint_status(State(state): State<Shared>, Path((id, trigger)): Path<(String, String)>) -> Response {
    if state_of(&state, &id).is_none() {
        return error(StatusCode::NOT_FOUND, &format!("unknown job {id}"));
    }
    match trigger.as_str() {
        TRIGGER_ID => Json(json!({"status": "COMPLETED",
            "location": "file:///data/savepoints/savepoint-14-19a8f3c2e01"}))
        .into_response(),
        "in-progress" => Json(json!({"status": "IN_PROGRESS"})).into_response(),
        "failed" => Json(json!({"status": "FAILED",
            "reason": "savepoint 14 failed: checkpoint timed out"}))
        .into_response(),
        _ => error(StatusCode::NOT_FOUND, &format!("unknown savepoint trigger {trigger}")),
    }
}

async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match state_of(&state, &id) {
        None => error(StatusCode::NOT_FOUND, &format!("unknown job {id}")),
        Some("RUNNING") => {
            state.lock().unwrap().cancelling = true;
            (StatusCode::ACCEPTED, Json(json!({"status": "CANCELLING"}))).into_response()
        }
        Some(other) => error(StatusCode::CONFLICT, &format!("the job is already {other}")),
    }
}

//! A fake coordinator REST server (docs/rest-api.md) on `127.0.0.1:0`: one job whose state,
//! latest checkpoint and savepoints the test sets. Savepoint triggers are recorded and stay
//! `IN_PROGRESS` until the test completes them; completing a stop-with-savepoint finishes the
//! job, as the real coordinator does. Requests it does not serve are recorded as unexpected.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The job the coordinator runs.
struct Job {
    id: String,
    state: &'static str,
}

/// A savepoint trigger and what became of it.
struct Trigger {
    id: String,
    request: Value,
    location: Option<String>,
}

#[derive(Default)]
struct CoordinatorState {
    job: Option<Job>,
    latest_checkpoint: Option<(u64, String)>,
    triggers: Vec<Trigger>,
    disposed: Vec<String>,
    unexpected: Vec<String>,
}

type Shared = Arc<Mutex<CoordinatorState>>;

/// A running fake coordinator; stops when dropped.
pub struct FakeCoordinator {
    /// Its REST base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCoordinator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCoordinator {
    /// Starts one on a free port, running no job.
    pub async fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route("/v1/jobs/{id}", get(job))
            .route("/v1/jobs/{id}/checkpoints", get(checkpoints))
            .route("/v1/jobs/{id}/savepoints", post(trigger_savepoint))
            .route("/v1/jobs/{id}/savepoints/dispose", post(dispose_savepoint))
            .route("/v1/jobs/{id}/savepoints/{trigger}", get(savepoint_status))
            .fallback(unexpected)
            .method_not_allowed_fallback(unexpected)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, state, task }
    }

    /// The coordinator runs job `id` in `state` (`RUNNING`, ...).
    pub fn runs(&self, id: &str, state: &'static str) {
        self.state.lock().unwrap().job = Some(Job { id: id.into(), state });
    }

    /// The coordinator is gone (its pod was deleted): no job.
    pub fn stops(&self) {
        self.state.lock().unwrap().job = None;
    }

    /// The latest completed checkpoint it reports.
    pub fn checkpointed(&self, id: u64, path: &str) {
        self.state.lock().unwrap().latest_checkpoint = Some((id, path.into()));
    }

    /// The bodies of the savepoint requests so far, with the job id each was for.
    pub fn savepoint_requests(&self) -> Vec<(String, Value)> {
        let state = self.state.lock().unwrap();
        state
            .triggers
            .iter()
            .map(|t| {
                (
                    t.request["job"].as_str().unwrap_or_default().to_string(),
                    t.request["body"].clone(),
                )
            })
            .collect()
    }

    /// The trigger id of the last savepoint request.
    pub fn last_trigger(&self) -> Option<String> {
        self.state.lock().unwrap().triggers.last().map(|t| t.id.clone())
    }

    /// The last savepoint completes at `location`; a stop-with-savepoint ends the job
    /// (`FINISHED`).
    pub fn completes_savepoint(&self, location: &str) {
        let mut state = self.state.lock().unwrap();
        let trigger = state.triggers.last_mut().expect("a savepoint was triggered");
        trigger.location = Some(location.into());
        let stop = trigger.request["body"]["stop"] == true;
        if let (true, Some(job)) = (stop, state.job.as_mut()) {
            job.state = "FINISHED";
        }
    }

    /// The savepoint locations it was asked to dispose, in order.
    pub fn disposed(&self) -> Vec<String> {
        self.state.lock().unwrap().disposed.clone()
    }

    /// What it was asked that it does not serve.
    pub fn unexpected(&self) -> Vec<String> {
        self.state.lock().unwrap().unexpected.clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn no_such_job(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no job {id}"))
}

async fn job(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let state = state.lock().unwrap();
    match &state.job {
        Some(job) if job.id == id => Json(json!({
            "id": job.id,
            "name": "orders",
            "state": job.state,
            "restarts": 0,
        }))
        .into_response(),
        _ => no_such_job(&id),
    }
}

async fn checkpoints(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let state = state.lock().unwrap();
    if state.job.as_ref().is_none_or(|j| j.id != id) {
        return no_such_job(&id);
    }
    let latest = state.latest_checkpoint.as_ref().map(|(n, path)| {
        json!({
            "id": n,
            "kind": "checkpoint",
            "status": "COMPLETED",
            "trigger_time_ms": 1_767_607_200_000_i64,
            "duration_ms": 120,
            "path": path,
            "size_bytes": 4096,
        })
    });
    let completed = u64::from(latest.is_some());
    Json(json!({
        "counts": {"completed": completed, "failed": 0, "in_progress": 0},
        "latest_completed": latest,
        "history": latest.iter().collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn trigger_savepoint(State(state): State<Shared>, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap();
    let job_state = match &state.job {
        Some(job) if job.id == id => job.state,
        _ => return no_such_job(&id),
    };
    if job_state != "RUNNING" {
        return error(StatusCode::CONFLICT, &format!("the job is {job_state}, not RUNNING"));
    }
    let trigger = format!("trigger-{}", state.triggers.len() + 1);
    state.triggers.push(Trigger {
        id: trigger.clone(),
        request: json!({"job": id, "body": body}),
        location: None,
    });
    (StatusCode::ACCEPTED, Json(json!({"trigger_id": trigger}))).into_response()
}

async fn savepoint_status(State(state): State<Shared>, Path((id, trigger)): Path<(String, String)>) -> Response {
    let state = state.lock().unwrap();
    if state.job.as_ref().is_none_or(|j| j.id != id) {
        return no_such_job(&id);
    }
    match state.triggers.iter().find(|t| t.id == trigger) {
        Some(Trigger { location: Some(l), .. }) => Json(json!({"status": "COMPLETED", "location": l})).into_response(),
        Some(_) => Json(json!({"status": "IN_PROGRESS"})).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no savepoint {trigger}")),
    }
}

async fn unexpected(State(state): State<Shared>, uri: Uri) -> Response {
    let message = format!("fake coordinator: unexpected request {uri}");
    eprintln!("{message}");
    state.lock().unwrap().unexpected.push(message.clone());
    error(StatusCode::INTERNAL_SERVER_ERROR, &message)
}

async fn dispose_savepoint(State(state): State<Shared>, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap();
    if state.job.as_ref().is_none_or(|j| j.id != id) {
        return no_such_job(&id);
    }
    let Some(location) = body["location"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "missing field `location`");
    };
    state.disposed.push(location.to_string());
    Json(json!({"disposed": location})).into_response()
}

//! A thin Kubernetes API server for Leases: GET, POST and PUT of
//! `/apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]`, with the real server's
//! optimistic concurrency (a global, growing resourceVersion; 409 Conflict on a stale one,
//! 409 AlreadyExists on a second create, 404 NotFound) and its JSON shapes (`Status` errors).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const BASE: &str = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases";

/// The server's state, shared with the test for inspection.
#[derive(Default)]
pub struct ApiState {
    objects: Mutex<HashMap<(String, String), Value>>,
    revision: AtomicU64,
    /// PUTs that carried no resourceVersion (allowed for Leases, but our client must not send them).
    pub unconditional_puts: AtomicU64,
    /// Requests answered 409.
    pub conflicts: AtomicU64,
}

impl ApiState {
    /// The stored Lease, as the server would return it.
    pub fn lease(&self, ns: &str, name: &str) -> Option<Value> {
        self.objects().get(&(ns.to_string(), name.to_string())).cloned()
    }

    /// Stores a Lease as if another client had created it.
    pub fn insert(&self, ns: &str, mut lease: Value) -> Option<Value> {
        let name = lease["metadata"]["name"].as_str()?.to_string();
        self.stamp_new(ns, &mut lease);
        self.objects().insert((ns.to_string(), name), lease.clone());
        Some(lease)
    }

    /// Deletes a Lease, as if someone ran `kubectl delete lease`.
    pub fn remove(&self, ns: &str, name: &str) -> Option<Value> {
        self.objects().remove(&(ns.to_string(), name.to_string()))
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Value>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_revision(&self) -> String {
        (self.revision.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    }

    fn stamp_new(&self, ns: &str, lease: &mut Value) {
        let revision = self.next_revision();
        let meta = &mut lease["metadata"];
        meta["namespace"] = json!(ns);
        meta["resourceVersion"] = json!(revision);
        meta["uid"] = json!(format!("uid-{revision}"));
        meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        lease["apiVersion"] = json!("coordination.k8s.io/v1");
        lease["kind"] = json!("Lease");
    }
}

type Reply = (StatusCode, Json<Value>);

/// Starts the server on 127.0.0.1:0; returns its base URL and state.
pub async fn start() -> std::io::Result<(String, Arc<ApiState>)> {
    let state = Arc::new(ApiState::default());
    let app = Router::new()
        .route(BASE, post(create))
        .route(&format!("{BASE}/{{name}}"), get(read).put(replace))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("mock API server stopped: {e}");
        }
    });
    Ok((url, state))
}

async fn read(State(state): State<Arc<ApiState>>, Path((ns, name)): Path<(String, String)>) -> Reply {
    match state.lease(&ns, &name) {
        Some(lease) => (StatusCode::OK, Json(lease)),
        None => not_found(&name),
    }
}

async fn create(State(state): State<Arc<ApiState>>, Path(ns): Path<String>, Json(mut lease): Json<Value>) -> Reply {
    let Some(name) = lease["metadata"]["name"].as_str().map(str::to_string) else {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "metadata.name: Required value",
            "",
        );
    };
    if lease["metadata"].get("resourceVersion").is_some_and(|v| !v.is_null()) {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "resourceVersion should not be set on objects to be created",
            &name,
        );
    }
    let mut objects = state.objects();
    let key = (ns.clone(), name.clone());
    if objects.contains_key(&key) {
        state.conflicts.fetch_add(1, Ordering::SeqCst);
        return status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("leases.coordination.k8s.io \"{name}\" already exists"),
            &name,
        );
    }
    state.stamp_new(&ns, &mut lease);
    objects.insert(key, lease.clone());
    (StatusCode::CREATED, Json(lease))
}

async fn replace(
    State(state): State<Arc<ApiState>>,
    Path((ns, name)): Path<(String, String)>,
    Json(mut lease): Json<Value>,
) -> Reply {
    if lease["metadata"]["name"].as_str() != Some(name.as_str()) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("the name of the object does not match the name on the URL ({name})"),
            &name,
        );
    }
    let mut objects = state.objects();
    let key = (ns.clone(), name.clone());
    let Some(stored) = objects.get(&key) else {
        return not_found(&name);
    };
    match lease["metadata"]["resourceVersion"].as_str() {
        None => {
            state.unconditional_puts.fetch_add(1, Ordering::SeqCst);
        }
        Some(rv) if Some(rv) != stored["metadata"]["resourceVersion"].as_str() => {
            state.conflicts.fetch_add(1, Ordering::SeqCst);
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been \
                     modified; please apply your changes to the latest version and try again"
                ),
                &name,
            );
        }
        Some(_) => {}
    }
    // The server owns these fields.
    for field in ["uid", "creationTimestamp"] {
        lease["metadata"][field] = stored["metadata"][field].clone();
    }
    lease["metadata"]["namespace"] = json!(ns);
    lease["metadata"]["resourceVersion"] = json!(state.next_revision());
    lease["apiVersion"] = json!("coordination.k8s.io/v1");
    lease["kind"] = json!("Lease");
    objects.insert(key, lease.clone());
    (StatusCode::OK, Json(lease))
}

fn not_found(name: &str) -> Reply {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("leases.coordination.k8s.io \"{name}\" not found"),
        name,
    )
}

fn status(code: StatusCode, reason: &str, message: &str, name: &str) -> Reply {
    (
        code,
        Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": { "name": name, "group": "coordination.k8s.io", "kind": "leases" },
            "code": code.as_u16(),
        })),
    )
}

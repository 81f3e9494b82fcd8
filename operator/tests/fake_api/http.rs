//! The fake API server over real HTTP on loopback, for the `freshet-operator` process: the
//! same answers as in-process ([`super::kube_api`], with `serve_process` on), plus WATCH
//! streams for the controller's watches. A watch polls the store every 100 ms and sends
//! `ADDED`, `MODIFIED` and `DELETED` events for what changed since the resource version it
//! started from, one JSON object a line, as the API server does.

use super::kube_api::{parse_path, parse_query, FakeKube, Selector};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

/// Serves `kube` on `127.0.0.1:0`; returns the address.
pub async fn serve(kube: FakeKube) -> SocketAddr {
    kube.state.lock().unwrap().serve_process = true;
    let app = Router::new().fallback(handle).with_state(kube);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

async fn handle(State(kube): State<FakeKube>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap_or_default();
    let query = parse_query(parts.uri.query().unwrap_or_default());
    let watching = query.iter().any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    if watching {
        return watch(kube, parts.uri.path(), &query);
    }
    let answer = kube.state.lock().unwrap().answer(&parts, &bytes);
    let (answer_parts, answer_body) = answer.into_parts();
    let bytes = answer_body.collect_bytes().await.unwrap_or_default();
    Response::from_parts(answer_parts, Body::from(bytes))
}

/// What a watch has seen: the objects by name.
type Seen = BTreeMap<String, Value>;

fn watch(kube: FakeKube, path: &str, query: &[(String, String)]) -> Response {
    let Some(target) = parse_path(path) else {
        kube.state
            .lock()
            .unwrap()
            .unexpected
            .push(format!("a watch of an unknown path {path}"));
        return Response::builder().status(500).body(Body::empty()).unwrap();
    };
    let selector = query
        .iter()
        .find(|(k, _)| k == "labelSelector")
        .and_then(|(_, v)| Selector::parse(v));
    let from: u64 = query
        .iter()
        .find(|(k, _)| k == "resourceVersion")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let matching = std::sync::Arc::new(move |kube: &FakeKube| -> BTreeMap<String, Value> {
        let state = kube.state.lock().unwrap();
        state
            .store
            .list(target.resource, &target.namespace)
            .into_iter()
            .filter(|o| selector.as_ref().is_none_or(|s| s.matches(&o["metadata"]["labels"])))
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                    o.clone(),
                )
            })
            .collect()
    });
    // Objects at or below the watch's resource version were in the list before it.
    let seen: Seen = matching(&kube)
        .into_iter()
        .filter(|(_, o)| version(o) <= from)
        .collect();
    let stream = futures::stream::unfold((kube, seen), move |(kube, mut seen)| {
        let matching = matching.clone();
        async move {
            loop {
                let now = matching(&kube);
                let mut lines = Vec::new();
                for (name, object) in &now {
                    match seen.get(name) {
                        None => lines.push(event("ADDED", object)),
                        Some(old) if version(old) != version(object) => lines.push(event("MODIFIED", object)),
                        _ => {}
                    }
                }
                for (name, object) in &seen {
                    if !now.contains_key(name) {
                        lines.push(event("DELETED", object));
                    }
                }
                seen = now;
                if !lines.is_empty() {
                    return Some((Ok::<Bytes, Infallible>(Bytes::from(lines.concat())), (kube, seen)));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn event(kind: &str, object: &Value) -> String {
    let mut line = serde_json::to_string(&json!({"type": kind, "object": object})).unwrap();
    line.push('\n');
    line
}

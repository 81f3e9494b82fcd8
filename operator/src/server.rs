//! The operator's own HTTP endpoints (`--metrics-addr`): `GET /metrics` (Prometheus text
//! format), `GET /healthz` (liveness: the process serves HTTP), `GET /readyz` (readiness: the
//! replica knows its role, leader or standby; `503` while it starts).

use crate::metrics::OperatorMetrics;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The Prometheus text format's content type.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the endpoints read.
#[derive(Clone, Debug)]
pub struct ServerState {
    /// The metrics `/metrics` encodes.
    pub metrics: Arc<OperatorMetrics>,
    /// Whether the replica is ready (e.g. [`crate::election::ElectionHandle::ready`]); a
    /// closed channel keeps its last value.
    pub ready: watch::Receiver<bool>,
}

/// The router of the operator's endpoints.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the endpoints on `listener` until the server fails.
pub async fn serve(listener: TcpListener, state: ServerState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending()).await
}

/// Serves the endpoints on `listener` until `shutdown` resolves (then finishes the requests in
/// flight) or the server fails.
pub async fn serve_until(
    listener: TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], state.metrics.encode())
}

async fn readyz(State(state): State<ServerState>) -> impl IntoResponse {
    if *state.ready.borrow() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: the leader election has not answered yet",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    /// GETs `url`: status, content type, body.
    async fn get(url: &str) -> (StatusCode, String, String) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let response = client.get(url.parse().unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let metrics = Arc::new(OperatorMetrics::new().unwrap());
        metrics.set_leader(true);
        let (ready_tx, ready) = watch::channel(false);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(listener, ServerState { metrics, ready }, async {
            let _ = stop.await;
        }));

        let (status, _, body) = get(&format!("{base}/healthz")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

        let (status, _, _) = get(&format!("{base}/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        ready_tx.send_replace(true);
        let (status, _, body) = get(&format!("{base}/readyz")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ready"));

        let (status, content_type, body) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, METRICS_CONTENT_TYPE);
        assert!(body.lines().any(|l| l == "freshet_operator_leader 1"), "{body}");

        let (status, _, _) = get(&format!("{base}/nothing")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}

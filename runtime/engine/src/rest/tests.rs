//! The router over real loopback HTTP with the local service of a job that has not started:
//! error codes and bodies, routes documented in `docs/openapi.yaml`, and the pure decisions.

use super::*;
use crate::metrics::JobMetrics;
use crate::status::VertexInfo;
use crate::{JobConfig, LocalExecutor};
use std::io::{Read, Write};

const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

/// Sends one HTTP/1.1 request and returns the status code and body.
fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn serve_unstarted() -> (std::net::SocketAddr, String) {
    let executor = LocalExecutor::new(JobConfig::default());
    let id = executor.status().id().to_string();
    let service: Arc<dyn JobService> = Arc::new(LocalJobService::new(&executor));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _keep = executor;
        let _ = axum::serve(listener, router(service)).await;
    });
    (addr, id)
}

fn error_of(body: &str) -> String {
    let v: ErrorBody = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v.error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_fitting_codes_and_json_bodies() {
    let (addr, id) = serve_unstarted().await;
    let checks = tokio::task::spawn_blocking(move || {
        assert_eq!(http(addr, "GET", "/healthz", "").0, 200);
        let (code, body) = http(addr, "GET", "/readyz", "");
        assert_eq!(code, 503);
        assert!(error_of(&body).contains("CREATED"), "{body}");

        let (code, body) = http(addr, "GET", "/v1/jobs", "");
        assert_eq!(code, 200);
        let list: JobList = serde_json::from_str(&body).unwrap();
        assert_eq!(list.jobs.len(), 1);
        assert_eq!(list.jobs[0].id, id);

        let (code, body) = http(addr, "GET", "/v1/jobs/nope", "");
        assert_eq!(code, 404);
        assert!(error_of(&body).contains("nope"));
        assert_eq!(http(addr, "GET", "/v1/jobs/nope/checkpoints", "").0, 404);
        assert_eq!(http(addr, "GET", &format!("/v1/jobs/{id}/savepoints/t1"), "").0, 404);
        assert_eq!(http(addr, "GET", "/v2/nothing", "").0, 404);
        assert_eq!(http(addr, "DELETE", "/v1/jobs", "").0, 405);

        let savepoints = format!("/v1/jobs/{id}/savepoints");
        let (code, body) = http(addr, "POST", &savepoints, "{not json");
        assert_eq!(code, 400, "{body}");
        assert!(error_of(&body).starts_with("bad request"));
        let (code, body) = http(addr, "POST", &savepoints, r#"{"target_dir": "/x"}"#);
        assert_eq!(code, 400, "unknown fields are refused: {body}");
        let (code, body) = http(addr, "POST", &savepoints, r#"{"stop": false}"#);
        assert_eq!(code, 409, "{body}");
        assert!(error_of(&body).contains("CREATED"));
        assert_eq!(http(addr, "POST", &format!("/v1/jobs/{id}/cancel"), "").0, 202);
        assert_eq!(http(addr, "POST", &format!("/v1/jobs/{id}/cancel"), "").0, 409);
    });
    checks.await.expect("checks pass");
}

#[test]
fn every_route_is_in_the_openapi_description() {
    for (method, path) in ROUTES {
        let at = OPENAPI
            .find(&format!("\n  {path}:\n"))
            .unwrap_or_else(|| panic!("{path} is not in docs/openapi.yaml"));
        let rest = &OPENAPI[at + 1..];
        let block = &rest[..rest.find("\n  /").unwrap_or(rest.len())];
        assert!(
            block.contains(&format!("\n    {method}:")),
            "{method} {path} is not in docs/openapi.yaml"
        );
    }
}

#[test]
fn empty_savepoint_body_means_defaults() {
    assert_eq!(parse_savepoint_request(b"").unwrap(), SavepointRequest::default());
    let r = parse_savepoint_request(br#"{"target_directory": "/sp", "stop": true}"#).unwrap();
    assert_eq!((r.target_directory.as_deref(), r.stop), (Some("/sp"), true));
    assert!(matches!(parse_savepoint_request(b"42"), Err(ApiError::BadRequest(_))));
}

#[test]
fn only_running_jobs_take_savepoints() {
    assert!(savepoint_allowed("j", crate::status::JobState::Running).is_ok());
    for state in [
        crate::status::JobState::Created,
        crate::status::JobState::Restarting,
        crate::status::JobState::Finished,
    ] {
        assert_eq!(
            savepoint_allowed("j", state).unwrap_err().status(),
            StatusCode::CONFLICT
        );
    }
}

#[test]
fn vertices_sum_subtasks_and_take_the_lowest_watermark() {
    let metrics = JobMetrics::default();
    let a0 = metrics.register_operator("a", "map", 0);
    let a1 = metrics.register_operator("a", "map", 1);
    let b0 = metrics.register_operator("b", "sink", 0);
    a0.count_in(10, 100);
    a1.count_in(5, 50);
    a0.count_out(3, 30);
    a0.watermark.store(2_000, std::sync::atomic::Ordering::Relaxed);
    a1.watermark.store(1_000, std::sync::atomic::Ordering::Relaxed);
    b0.watermark.store(i64::MAX, std::sync::atomic::Ordering::Relaxed);
    metrics.register_task("map -> sink", vec!["a".into(), "b".into()], 0, 0);
    let vertices = vec![
        VertexInfo {
            id: "a".into(),
            name: "map".into(),
            parallelism: 2,
        },
        VertexInfo {
            id: "b".into(),
            name: "sink".into(),
            parallelism: 1,
        },
    ];
    let d = vertex_details(&vertices, &metrics.operators.lock(), &metrics.tasks.lock());
    assert_eq!((d[0].records_in, d[0].records_out, d[0].bytes_in), (15, 3, 150));
    assert_eq!(d[0].watermark_ms, Some(1_000));
    assert_eq!(d[1].watermark_ms, None, "an ended input has no current watermark");
    assert!((0.0..=1.0).contains(&d[0].backpressure_ratio));
}

/// Writes a snapshot directory of `kind` with a state file in it.
async fn snapshot_dir(dir: &std::path::Path, kind: freshet_core::CheckpointKind) -> String {
    let storage = freshet_state::CheckpointStorage::local(dir).expect("local storage");
    let metadata = freshet_state::CheckpointMetadata {
        version: freshet_state::CheckpointMetadata::VERSION,
        id: freshet_core::CheckpointId(7),
        kind,
        job_name: "j".into(),
        triggered_at_ms: 1,
        completed_at_ms: 2,
        finished: false,
        operators: Default::default(),
    };
    storage
        .put("op-1/state.bin", axum::body::Bytes::from_static(b"state"))
        .await
        .expect("put");
    storage.write_metadata("", &metadata).await.expect("metadata");
    storage.url().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposes_savepoints_and_refuses_checkpoints() {
    let (addr, id) = serve_unstarted().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let savepoint = dir.path().join("savepoint-7");
    let checkpoint = dir.path().join("chk-7");
    let savepoint_url = snapshot_dir(&savepoint, freshet_core::CheckpointKind::Savepoint).await;
    let checkpoint_url = snapshot_dir(&checkpoint, freshet_core::CheckpointKind::Checkpoint).await;
    let (savepoint_c, checkpoint_c) = (savepoint.clone(), checkpoint.clone());
    tokio::task::spawn_blocking(move || {
        let path = format!("/v1/jobs/{id}/savepoints/dispose");
        let (code, body) = http(addr, "POST", &path, &format!("{{\"location\": \"{checkpoint_url}\"}}"));
        assert_eq!(code, 400, "{body}");
        assert!(error_of(&body).contains("is a checkpoint"), "{body}");
        assert!(checkpoint_c.join("_metadata").exists(), "a checkpoint is never deleted");
        let missing = savepoint_c.with_file_name("nothing-here");
        let (code, body) = http(
            addr,
            "POST",
            &path,
            &format!("{{\"location\": \"{}\"}}", missing.display()),
        );
        assert_eq!(code, 400, "{body}");
        let (code, body) = http(addr, "POST", &path, &format!("{{\"location\": \"{savepoint_url}\"}}"));
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(&savepoint_url), "{body}");
        assert!(!savepoint_c.join("_metadata").exists());
        assert!(!savepoint_c.join("op-1/state.bin").exists());
        let (code, _) = http(
            addr,
            "POST",
            "/v1/jobs/nope/savepoints/dispose",
            &format!("{{\"location\": \"{savepoint_url}\"}}"),
        );
        assert_eq!(code, 404);
        let (code, _) = http(addr, "POST", &path, "{\"where\": 1}");
        assert_eq!(code, 400);
    })
    .await
    .expect("checks");
}

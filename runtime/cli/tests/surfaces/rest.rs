//! The REST API of `freshet run --rest-addr` on a throttled Nexmark SQL job.

use super::client::{http, poll, RunningJob};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A throttled job that runs until stopped (60,000 events at 2,000 per second).
fn throttled_job(dir: &Path) -> std::path::PathBuf {
    crate::sql_script(dir, "rest", true, false, Some(2_000))
}

fn start(dir: &Path, extra: &[&str]) -> RunningJob {
    let script = throttled_job(dir);
    let chk = dir.join("chk");
    let mut args = vec![
        "--rest-addr",
        "127.0.0.1:0",
        "--checkpoint-dir",
        chk.to_str().unwrap(),
        "--checkpoint-interval",
        "200ms",
    ];
    args.extend_from_slice(extra);
    let job = RunningJob::start(&script, &args);
    poll("the job to be ready", Duration::from_secs(20), || {
        (job.api("GET", "/readyz", "").0 == 200).then_some(())
    });
    job
}

fn job_id(job: &RunningJob) -> String {
    let (code, list) = job.api("GET", "/v1/jobs", "");
    assert_eq!(code, 200, "{list}");
    let jobs = list["jobs"].as_array().expect("a job list");
    assert_eq!(jobs.len(), 1, "{list}");
    assert_eq!(jobs[0]["state"], "RUNNING", "{list}");
    assert_eq!(jobs[0]["name"], "rest", "the job is named after its script: {list}");
    jobs[0]["id"].as_str().expect("an id").to_string()
}

fn records_out(detail: &Value) -> u64 {
    detail["vertices"]
        .as_array()
        .expect("vertices")
        .iter()
        .map(|v| v["records_out"].as_u64().expect("records_out"))
        .sum()
}

#[test]
fn rest_reports_job_vertices_checkpoints_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = start(dir.path(), &[]);
    let (code, health) = job.api("GET", "/healthz", "");
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    let id = job_id(&job);

    // Vertices with their counters, growing while the job runs.
    let (code, first) = job.api("GET", &format!("/v1/jobs/{id}"), "");
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["state"], "RUNNING");
    assert_eq!(first["restarts"], 0);
    assert!(first["last_failure"].is_null());
    assert!(first["start_time_ms"].as_i64().unwrap() > 1_600_000_000_000, "{first}");
    let vertices = first["vertices"].as_array().unwrap();
    assert!(vertices.len() >= 3, "source, window, sink at least: {first}");
    for v in vertices {
        assert_eq!(v["parallelism"], 1, "{v}");
        assert!(!v["id"].as_str().unwrap().is_empty() && !v["name"].as_str().unwrap().is_empty());
        let ratio = v["backpressure_ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{v}");
    }
    let before = records_out(&first);
    let later = poll("records and a watermark", Duration::from_secs(15), || {
        let (_, d) = job.api("GET", &format!("/v1/jobs/{id}"), "");
        let vertices = d["vertices"].as_array().unwrap();
        let grown = records_out(&d) > before && vertices.iter().any(|v| v["records_in"].as_u64() > Some(0));
        let watermark = vertices.iter().any(|v| v["watermark_ms"].as_i64().is_some());
        (grown && watermark).then_some(d)
    });
    assert!(later["duration_ms"].as_u64().unwrap() > 0);
    let source = &later["vertices"][0];
    let (rows, bytes) = (
        source["records_out"].as_u64().unwrap(),
        source["bytes_out"].as_u64().unwrap(),
    );
    assert!(
        bytes >= rows * 8 && bytes < rows * 4_096,
        "bytes count the rows' data: {source}"
    );

    // Completed checkpoints with their sizes and paths.
    let checkpoints = poll("two completed checkpoints", Duration::from_secs(15), || {
        let (code, c) = job.api("GET", &format!("/v1/jobs/{id}/checkpoints"), "");
        assert_eq!(code, 200, "{c}");
        (c["counts"]["completed"].as_u64() >= Some(2)).then_some(c)
    });
    let history = checkpoints["history"].as_array().unwrap();
    let completed: Vec<&Value> = history.iter().filter(|c| c["status"] == "COMPLETED").collect();
    assert!(completed.len() >= 2, "{checkpoints}");
    for c in &completed {
        assert_eq!(c["kind"], "checkpoint");
        assert!(
            c["size_bytes"].as_u64().is_some() && c["duration_ms"].as_u64().is_some(),
            "{c}"
        );
        assert!(c["failure_reason"].is_null());
    }
    assert!(
        completed.iter().any(|c| c["size_bytes"].as_u64() > Some(0)),
        "window state has a size: {checkpoints}"
    );
    let latest = &checkpoints["latest_completed"];
    assert_eq!(latest["id"], completed[0]["id"], "history is newest first");
    let path = latest["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_string();
    assert!(
        Path::new(&path).join("_metadata").exists() || checkpoints["counts"]["completed"].as_u64() > Some(3),
        "{path} holds the checkpoint (unless already discarded by retention)"
    );

    // Errors.
    let (code, err) = job.api("GET", "/v1/jobs/not-a-job", "");
    assert_eq!(code, 404);
    assert!(err["error"].as_str().unwrap().contains("not-a-job"), "{err}");
    let (code, _) = job.api("GET", &format!("/v1/jobs/{id}/savepoints/unknown"), "");
    assert_eq!(code, 404);
    let (code, err) = job.api("POST", &format!("/v1/jobs/{id}/savepoints"), "{\"stop\": \"yes\"}");
    assert_eq!(code, 400, "{err}");
    assert!(err["error"].is_string());

    // Cancel.
    let (code, body) = job.api("POST", &format!("/v1/jobs/{id}/cancel"), "");
    assert_eq!((code, body["status"].as_str()), (202, Some("CANCELLING")));
    let (status, _) = job.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{}", job.stderr());
    assert!(job.stderr().contains("job cancelled"), "{}", job.stderr());
}

/// Polls a savepoint trigger until it completes; `None` if the process stopped serving first
/// (a stopping savepoint ends the job, and the API with it).
/// Polls a savepoint trigger until it completes; `None` if the job went away meanwhile.
pub fn await_savepoint(job: &RunningJob, id: &str, trigger: &str) -> Option<String> {
    let addr = job.rest.expect("REST");
    poll("the savepoint", Duration::from_secs(20), || {
        let Ok((code, body)) = http(addr, "GET", &format!("/v1/jobs/{id}/savepoints/{trigger}"), "") else {
            return Some(None);
        };
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        match v["status"].as_str() {
            Some("IN_PROGRESS") => None,
            Some("COMPLETED") => Some(Some(v["location"].as_str().unwrap().to_string())),
            _ => panic!("savepoint failed: {v}"),
        }
    })
}

#[test]
fn rest_savepoint_then_stop_then_restore() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = start(dir.path(), &[]);
    let id = job_id(&job);
    let target = dir.path().join("savepoints");
    let body = format!("{{\"target_directory\": \"{}\", \"stop\": false}}", target.display());
    let (code, trigger) = job.api("POST", &format!("/v1/jobs/{id}/savepoints"), &body);
    assert_eq!(code, 202, "{trigger}");
    let trigger = trigger["trigger_id"].as_str().unwrap().to_string();
    let location = await_savepoint(&job, &id, &trigger).expect("the job still runs");
    assert!(location.contains(target.to_str().unwrap()), "{location}");
    let on_disk = location.trim_start_matches("file://");
    assert!(Path::new(on_disk).join("_metadata").exists(), "{on_disk}");
    let (_, c) = job.api("GET", &format!("/v1/jobs/{id}/checkpoints"), "");
    assert!(
        c["history"].as_array().unwrap().iter().any(|r| r["kind"] == "savepoint"
            && r["status"] == "COMPLETED"
            && r["path"].as_str() == Some(location.as_str())),
        "{c}"
    );

    // Stop with a savepoint: the trigger completes and the process exits, printing it.
    let (code, trigger) = job.api("POST", &format!("/v1/jobs/{id}/savepoints"), "{\"stop\": true}");
    assert_eq!(code, 202, "{trigger}");
    let polled = await_savepoint(&job, &id, trigger["trigger_id"].as_str().unwrap());
    let (status, stdout) = job.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{}", job.stderr());
    let stopped_at = stdout.trim().to_string();
    if let Some(polled) = polled {
        assert_eq!(polled, stopped_at);
    }
    assert!(
        Path::new(stopped_at.trim_start_matches("file://"))
            .join("_metadata")
            .exists(),
        "{stopped_at}"
    );

    // Restore from it.
    let restored = start(dir.path(), &["--restore", &stopped_at]);
    let id = job_id(&restored);
    assert!(restored.stderr().contains("restoring"), "{}", restored.stderr());
    let (code, _) = restored.api("POST", &format!("/v1/jobs/{id}/cancel"), "");
    assert_eq!(code, 202);
}

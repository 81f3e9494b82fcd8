//! The coordinator's REST API and the Prometheus endpoints of a coordinator and a worker: a job
//! waiting for slots says so, counters of the workers' tasks show on the coordinator, a
//! stop-with-savepoint through REST ends the job, and a new coordinator restores from it.

use super::{coordinator, throttled_script, worker};
use crate::surfaces::client::{http, poll, RunningJob};
use crate::surfaces::metrics::{promtool_check, total};
use crate::surfaces::rest::await_savepoint;
use serde_json::Value;
use std::time::Duration;

fn job_id(coord: &RunningJob) -> String {
    poll("the job id", Duration::from_secs(10), || {
        let (_, jobs) = coord.api("GET", "/v1/jobs", "");
        jobs["jobs"][0]["id"].as_str().map(str::to_string)
    })
}

fn detail(coord: &RunningJob, id: &str) -> Value {
    let (code, d) = coord.api("GET", &format!("/v1/jobs/{id}"), "");
    assert_eq!(code, 200, "{d}");
    d
}

fn records_out(d: &Value) -> u64 {
    d["vertices"]
        .as_array()
        .map(|vs| vs.iter().filter_map(|v| v["records_out"].as_u64()).sum())
        .unwrap_or(0)
}

fn scrape(addr: std::net::SocketAddr) -> String {
    let (code, text) = http(addr, "GET", "/metrics", "").expect("scrape");
    assert_eq!(code, 200, "{text}");
    text
}

#[test]
fn coordinator_rest_and_metrics_cover_the_cluster_and_restore_from_a_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cluster");
    let script = throttled_script(&run, 2_000);
    let chk = run.join("chk");
    let endpoints = ["--rest-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"];
    let mut coord = coordinator(&script, &chk, 2, &endpoints);
    let rpc = coord.address("rpc", Duration::from_secs(30)).to_string();
    let id = job_id(&coord);

    // No worker yet: the job waits for slots, and says so.
    let waiting = poll("the slot wait", Duration::from_secs(10), || {
        let d = detail(&coord, &id);
        d["status_message"]
            .as_str()
            .map(|m| (d["state"].clone(), m.to_string()))
    });
    assert_eq!(waiting.0, "CREATED");
    assert!(waiting.1.contains("waiting for 2 more task slots"), "{}", waiting.1);

    // One worker with two slots runs both subtasks; its counters reach the coordinator.
    let mut w = worker(
        dir.path(),
        "w0",
        2,
        &["--coordinator", &rpc, "--metrics-addr", "127.0.0.1:0"],
    );
    w.await_endpoints(&["--metrics-addr"]);
    let running = poll("records on the coordinator", Duration::from_secs(30), || {
        let d = detail(&coord, &id);
        (d["state"] == "RUNNING" && records_out(&d) > 0).then_some(d)
    });
    assert!(running["status_message"].is_null(), "{running}");
    poll("a completed checkpoint", Duration::from_secs(30), || {
        let (_, c) = coord.api("GET", &format!("/v1/jobs/{id}/checkpoints"), "");
        (c["counts"]["completed"].as_u64().unwrap_or(0) >= 1).then_some(())
    });

    // Both processes' metrics pass promtool and count records.
    let coordinator_metrics = scrape(coord.metrics.expect("coordinator metrics"));
    promtool_check(&coordinator_metrics);
    assert!(total(&coordinator_metrics, "freshet_operator_records_out_total") > 0.0);
    let worker_metrics = scrape(w.metrics.expect("worker metrics"));
    promtool_check(&worker_metrics);
    assert!(total(&worker_metrics, "freshet_operator_records_out_total") > 0.0);

    // A savepoint while the job goes on: every worker writes its part into the directory.
    let target = dir.path().join("savepoints");
    let body = format!("{{\"target_directory\": \"{}\", \"stop\": false}}", target.display());
    let (code, trigger) = coord.api("POST", &format!("/v1/jobs/{id}/savepoints"), &body);
    assert_eq!(code, 202, "{trigger}");
    let trigger = trigger["trigger_id"].as_str().expect("a trigger id").to_string();
    let taken = await_savepoint(&coord, &id, &trigger).expect("the job still runs");
    assert!(
        std::path::Path::new(taken.trim_start_matches("file://"))
            .join("_metadata")
            .exists(),
        "{taken}"
    );
    assert_eq!(detail(&coord, &id)["state"], "RUNNING");

    // Stop with a savepoint through REST: the coordinator prints it and exits.
    let body = format!("{{\"target_directory\": \"{}\", \"stop\": true}}", target.display());
    let (code, trigger) = coord.api("POST", &format!("/v1/jobs/{id}/savepoints"), &body);
    assert_eq!(code, 202, "{trigger}");
    let (status, stdout) = coord.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{}", coord.stderr());
    let savepoint = stdout.trim().to_string();
    assert!(savepoint.contains(target.to_str().unwrap()), "{savepoint}");
    assert!(
        std::path::Path::new(savepoint.trim_start_matches("file://"))
            .join("_metadata")
            .exists(),
        "{savepoint}"
    );

    // A new coordinator on the same RPC address restores from it on the same worker, which
    // registers with it; cancelling through REST ends it.
    let mut restored = coordinator(
        &script,
        &chk,
        2,
        &[
            "--rest-addr",
            "127.0.0.1:0",
            "--restore",
            &savepoint,
            "--rpc-addr",
            &rpc,
            "--linger-after-end",
        ],
    );
    let id = job_id(&restored);
    poll("the restored job to run", Duration::from_secs(30), || {
        (detail(&restored, &id)["state"] == "RUNNING").then_some(())
    });
    assert!(restored.stderr().contains("restoring"), "{}", restored.stderr());
    let (code, _) = restored.api("POST", &format!("/v1/jobs/{id}/cancel"), "");
    assert_eq!(code, 202);
    // With --linger-after-end the final state stays readable until the process is stopped.
    poll("the cancelled state", Duration::from_secs(30), || {
        (detail(&restored, &id)["state"] == "CANCELLED").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(detail(&restored, &id)["state"], "CANCELLED", "{}", restored.stderr());
    super::signal(&restored, "INT");
    let (status, _) = restored.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{}", restored.stderr());
    assert!(restored.stderr().contains("job cancelled"), "{}", restored.stderr());
    drop(w.child.kill());
}

#[test]
fn ctrl_c_on_the_coordinator_stops_the_job_with_a_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cluster");
    let script = throttled_script(&run, 2_000);
    let chk = run.join("chk");
    let mut coord = coordinator(&script, &chk, 1, &["--rest-addr", "127.0.0.1:0"]);
    let rpc = coord.address("rpc", Duration::from_secs(30)).to_string();
    let _worker = worker(dir.path(), "w0", 1, &["--coordinator", &rpc]);
    let id = job_id(&coord);
    poll("the job to run", Duration::from_secs(30), || {
        (detail(&coord, &id)["state"] == "RUNNING").then_some(())
    });
    super::signal(&coord, "INT");
    let (status, stdout) = coord.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{}", coord.stderr());
    let savepoint = stdout.trim();
    assert!(
        std::path::Path::new(savepoint.trim_start_matches("file://"))
            .join("_metadata")
            .exists(),
        "{savepoint}\n{}",
        coord.stderr()
    );
}

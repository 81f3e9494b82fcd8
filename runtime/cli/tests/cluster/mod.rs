//! The cluster roles through the real binary on loopback: `freshet coordinator` and
//! `freshet worker` processes run a keyed windowed SQL job into the exactly-once file sink while
//! workers are killed with SIGKILL (`failover`), the leading coordinator is killed or paused and a
//! standby takes over through the file HA store (`failover`), and the coordinator's REST API and
//! the Prometheus endpoints of every process are used (`surfaces`).

mod failover;
mod surfaces;

use crate::surfaces::client::RunningJob;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Test-friendly timing: fast heartbeats, quick restarts.
const COORDINATOR_TIMING: [&str; 8] = [
    "--heartbeat-interval",
    "300ms",
    "--heartbeat-timeout",
    "3s",
    "--restart-attempts",
    "30",
    "--restart-delay",
    "100ms",
];

/// Short leases, so a standby takes over within a few seconds.
const HA_TIMING: [&str; 6] = [
    "--ha-lease-duration",
    "2s",
    "--ha-renew-deadline",
    "1500ms",
    "--ha-retry-period",
    "250ms",
];

/// Starts `freshet coordinator` for `script` with `extra` flags.
fn coordinator(script: &Path, chk: &Path, parallelism: u32, extra: &[&str]) -> RunningJob {
    let p = parallelism.to_string();
    let mut args = vec!["coordinator", "--job", script.to_str().unwrap(), "-p", &p];
    if !extra.contains(&"--rpc-addr") {
        args.extend_from_slice(&["--rpc-addr", "127.0.0.1:0"]);
    }
    args.extend_from_slice(&[
        "--checkpoint-dir",
        chk.to_str().unwrap(),
        "--checkpoint-interval",
        "300ms",
    ]);
    args.extend_from_slice(&COORDINATOR_TIMING);
    args.extend_from_slice(extra);
    let mut job = RunningJob::spawn(&args);
    job.await_endpoints(extra);
    job
}

/// Starts `freshet worker` with `slots` slots, finding the coordinator with `find` (e.g.
/// `["--coordinator", addr]` or `["--ha", "file:DIR"]`).
fn worker(dir: &Path, id: &str, slots: u32, find: &[&str]) -> RunningJob {
    let local = dir.join(format!("local-{id}"));
    let slots = slots.to_string();
    let mut args = vec![
        "worker",
        "--addr",
        "127.0.0.1:0",
        "--slots",
        &slots,
        "--worker-id",
        id,
        "--local-dir",
        local.to_str().unwrap(),
    ];
    args.extend_from_slice(find);
    RunningJob::spawn(&args)
}

/// Sends `signal` (e.g. "STOP", "CONT") to a process.
fn signal(job: &RunningJob, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &job.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal}");
}

/// The uninterrupted output of the hot-items and bidders script, from `freshet run` at p=1.
fn reference(dir: &Path) -> (Vec<String>, Vec<String>) {
    let script = crate::sql_script(dir, "cluster", true, true, None);
    let out = crate::freshet(&[
        "run",
        script.to_str().unwrap(),
        "--checkpoint-dir",
        dir.join("chk").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hot = crate::data_lines(&dir.join("hot"));
    let bidders = crate::data_lines(&dir.join("bidders"));
    assert!(!hot.is_empty() && !bidders.is_empty(), "the reference run wrote output");
    (hot, bidders)
}

/// The committed output of a run of the script in `dir`.
fn output(dir: &Path) -> (Vec<String>, Vec<String>) {
    (
        crate::data_lines(&dir.join("hot")),
        crate::data_lines(&dir.join("bidders")),
    )
}

/// A throttled script (runs about `60_000 / rate` seconds) writing into `dir`.
fn throttled_script(dir: &Path, rate: u64) -> PathBuf {
    crate::sql_script(dir, "cluster", true, true, Some(rate))
}

/// The number of restarts the coordinator's final line reports.
fn restarts(stderr: &str) -> u32 {
    stderr
        .lines()
        .find_map(|l| l.split("job finished (").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no 'job finished' line:\n{stderr}"))
}

/// Waits for the coordinator to finish the job; returns its stderr.
fn finished(coordinator: &mut RunningJob, timeout: Duration) -> String {
    let (status, _) = coordinator.wait_exit(timeout);
    let stderr = coordinator.stderr();
    assert!(status.success(), "the coordinator failed:\n{stderr}");
    stderr
}

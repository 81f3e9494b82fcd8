//! The Prometheus endpoint of `freshet run --metrics-addr`: a real scrape passes
//! `promtool check metrics` and carries the expected series with values.

use super::client::{http, poll, RunningJob};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `promtool check metrics` on `text`; panics when promtool is missing (scripts/test.sh
/// installs it) or finds a problem.
pub fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs the Debian package prometheus)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}\n{text}"
    );
}

/// The value of the first sample of `name` whose labels contain `with`.
fn sample(text: &str, name: &str, with: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| l.contains(with))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

pub fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_scrape_passes_promtool_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let script = crate::sql_script(dir.path(), "metrics", true, false, Some(2_000));
    let chk = dir.path().join("chk");
    let job = RunningJob::start(
        &script,
        &[
            "--metrics-addr",
            "127.0.0.1:0",
            "--checkpoint-dir",
            chk.to_str().unwrap(),
            "--checkpoint-interval",
            "200ms",
        ],
    );
    let addr = job.metrics.expect("metrics address");
    let text = poll("records and two checkpoints", Duration::from_secs(20), || {
        let (code, text) = http(addr, "GET", "/metrics", "").ok()?;
        assert_eq!(code, 200, "{text}");
        let ready = total(&text, "freshet_operator_records_in_total") > 0.0
            && sample(&text, "freshet_checkpoints_completed_total", "job_name=\"metrics\"") >= Some(2.0);
        ready.then_some(text)
    });
    promtool_check(&text);
    assert!(total(&text, "freshet_operator_records_out_total") > 0.0, "{text}");
    assert!(total(&text, "freshet_operator_bytes_in_total") > 0.0, "{text}");
    assert!(total(&text, "freshet_task_busy_seconds_total") > 0.0, "{text}");
    assert!(sample(&text, "freshet_job_uptime_seconds", "").unwrap() > 0.0, "{text}");
    assert_eq!(sample(&text, "freshet_job_running", ""), Some(1.0), "{text}");
    assert_eq!(sample(&text, "freshet_job_restarts_total", ""), Some(0.0), "{text}");
    assert!(
        sample(&text, "freshet_checkpoint_last_size_bytes", "").unwrap() > 0.0,
        "{text}"
    );
    assert!(
        sample(&text, "freshet_checkpoint_last_duration_seconds", "").is_some(),
        "{text}"
    );
    let lag = sample(&text, "freshet_operator_watermark_lag_seconds", "").expect("a watermark lag");
    assert!(lag.is_finite(), "{text}");
    assert!(
        text.contains("# TYPE freshet_task_backpressured_seconds_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE freshet_task_checkpoint_alignment_seconds gauge"),
        "{text}"
    );
    assert!(text.contains("subtask=\"0\""), "{text}");
    let (code, _) = http(addr, "GET", "/nothing", "").expect("answers");
    assert_eq!(code, 404);
}

#[test]
fn an_address_in_use_fails_before_the_job_starts() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().map(|a| a.to_string()).unwrap();
    let out = Command::new(crate::BIN)
        .args(["example", "hot-items", "--events", "1000", "--rest-addr", "127.0.0.1:0"])
        .args(["--metrics-addr", &taken, "--out"])
        .arg(dir.path().join("out"))
        .arg("--checkpoint-dir")
        .arg(dir.path().join("chk"))
        .output()
        .expect("freshet runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("REST API listening on http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains(&format!("serving metrics on {taken}")), "{stderr}");
}

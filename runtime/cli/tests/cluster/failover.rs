//! Exactly-once output through worker kills, a leader kill and a paused (deposed) leader.

use super::{coordinator, finished, output, reference, restarts, signal, throttled_script, worker, HA_TIMING};
use crate::surfaces::client::{poll, RunningJob};
use std::time::{Duration, Instant};

/// A small deterministic pseudo-random sequence (xorshift), so failures are reproducible.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[test]
fn workers_killed_at_random_points_leave_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let expected = reference(&dir.path().join("reference"));
    let run = dir.path().join("cluster");
    let script = throttled_script(&run, 5_000);
    let chk = run.join("chk");
    let mut coord = coordinator(
        &script,
        &chk,
        3,
        &["--state-backend", "rocksdb", "--rest-addr", "127.0.0.1:0"],
    );
    let rpc = coord.address("rpc", Duration::from_secs(30)).to_string();
    let find = ["--coordinator", rpc.as_str()];
    let mut workers: Vec<RunningJob> = (0..3).map(|i| worker(dir.path(), &format!("w{i}"), 1, &find)).collect();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(800 + dice.next(1_200)));
        if coord.child.try_wait().unwrap().is_some() {
            break;
        }
        let victim = dice.next(3) as usize;
        workers[victim].child.kill().unwrap();
        let _ = workers[victim].child.wait();
        // A replacement comes up a moment later (the job waits for its slot meanwhile).
        std::thread::sleep(Duration::from_millis(dice.next(500)));
        workers[victim] = worker(dir.path(), &format!("w{victim}-{round}"), 1, &find);
        if round == 0 {
            // The restart and its reason are visible through the REST API.
            let id = poll("the job id", Duration::from_secs(10), || {
                let (_, jobs) = coord.api("GET", "/v1/jobs", "");
                jobs["jobs"][0]["id"].as_str().map(str::to_string)
            });
            let detail = poll("the restart", Duration::from_secs(20), || {
                let (_, d) = coord.api("GET", &format!("/v1/jobs/{id}"), "");
                (d["restarts"].as_u64().unwrap_or(0) >= 1).then_some(d)
            });
            let reason = detail["last_failure"].as_str().unwrap_or_default().to_string();
            assert!(!reason.is_empty(), "{detail}");
        }
    }
    let stderr = finished(&mut coord, Duration::from_secs(180));
    assert!(restarts(&stderr) >= 1, "the kills caused restarts:\n{stderr}");
    let got = output(&run);
    assert_eq!(got.0.len(), expected.0.len(), "hot-items rows");
    assert_eq!(got, expected);
}

/// Starts leader `a` and standby `b` sharing the file HA store in `ha`, and two workers that
/// find the leader through it.
fn leader_and_standby(dir: &std::path::Path, run: &std::path::Path) -> (RunningJob, RunningJob, Vec<RunningJob>) {
    let script = throttled_script(run, 5_000);
    let chk = run.join("chk");
    let ha = format!("file:{}", dir.join("ha").display());
    let mut flags = vec!["--ha", ha.as_str()];
    flags.extend_from_slice(&HA_TIMING);
    let with_identity = |id: &'static str| {
        let mut f = flags.clone();
        f.extend_from_slice(&["--identity", id]);
        f
    };
    let a = coordinator(&script, &chk, 2, &with_identity("a"));
    a.address("rpc", Duration::from_secs(30));
    let b = coordinator(&script, &chk, 2, &with_identity("b"));
    poll("b to stand by", Duration::from_secs(20), || {
        b.stderr().contains("standby: the leader is a").then_some(())
    });
    let workers = (0..2).map(|i| worker(dir, &format!("w{i}"), 1, &flags)).collect();
    poll("a checkpoint", Duration::from_secs(30), || {
        (crate::completed_checkpoints(&chk) >= 2).then_some(())
    });
    (a, b, workers)
}

#[test]
fn leader_killed_mid_run_is_replaced_by_the_standby_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let expected = reference(&dir.path().join("reference"));
    let run = dir.path().join("cluster");
    let (mut a, mut b, _workers) = leader_and_standby(dir.path(), &run);
    a.child.kill().unwrap();
    let killed = Instant::now();
    b.address("rpc", Duration::from_secs(20));
    let takeover = killed.elapsed();
    // The lease lasts 2 s and is retried every 250 ms.
    assert!(takeover < Duration::from_secs(10), "takeover took {takeover:?}");
    let stderr = finished(&mut b, Duration::from_secs(180));
    assert!(
        stderr.contains("restoring from the checkpoint the HA store records"),
        "{stderr}"
    );
    assert_eq!(output(&run), expected);

    // The end is recorded and the lease released: a late coordinator leads at once and runs
    // nothing.
    let script = throttled_script(&run, 5_000);
    let ha = format!("file:{}", dir.path().join("ha").display());
    let mut late_flags = vec!["--ha", ha.as_str(), "--identity", "c"];
    late_flags.extend_from_slice(&HA_TIMING);
    let mut c = coordinator(&script, &run.join("chk"), 2, &late_flags);
    let stderr = finished(&mut c, Duration::from_secs(10));
    assert!(stderr.contains("the job already ended (FINISHED)"), "{stderr}");
    assert_eq!(output(&run), expected);
}

#[test]
fn a_paused_leader_is_deposed_and_fenced_when_it_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let expected = reference(&dir.path().join("reference"));
    let run = dir.path().join("cluster");
    let (mut a, mut b, _workers) = leader_and_standby(dir.path(), &run);
    signal(&a, "STOP");
    b.address("rpc", Duration::from_secs(20));
    // Let the new leader record checkpoints of its own before the old one wakes up.
    poll("b's checkpoint", Duration::from_secs(30), || {
        b.stderr().contains("checkpoint completed").then_some(())
    });
    signal(&a, "CONT");
    let (status, _) = a.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "the deposed leader must stop:\n{}", a.stderr());
    assert!(a.stderr().contains("lost its leadership"), "{}", a.stderr());
    let stderr = finished(&mut b, Duration::from_secs(180));
    assert!(stderr.contains("job finished"), "{stderr}");
    assert_eq!(output(&run), expected);
}

//! End-to-end tests of the `freshet` binary and the example job: determinism across
//! parallelism, exactly-once output under injected task failures, SIGKILL of the process and
//! `--restore latest` (also of SQL changelogs written as upsert files), savepoints with rescaling,
//! and Ctrl-C stop-with-savepoint; the HTTP surfaces (`surfaces`) and the cluster roles with
//! worker kills and coordinator failover (`cluster`).

use freshet_cli::examples::hot_items::{self, HotItemsJob};
use freshet_connectors::nexmark::NexmarkConfig;
use freshet_dataflow::ops::troublemaker::FailurePlan;
use freshet_engine::{CheckpointConfig, JobConfig, JobEnd, LocalExecutor, RestartStrategy, RestoreFrom};
use freshet_state::BackendKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_freshet");

#[path = "surfaces/mod.rs"]
mod surfaces;

#[path = "cluster/mod.rs"]
mod cluster;

#[path = "s3/mod.rs"]
mod s3;

#[path = "kafka/mod.rs"]
mod kafka;

/// The committed output: every line of every visible file, sorted.
fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return lines;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("readable output");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

fn freshet(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("freshet runs")
}

fn reference_output(dir: &Path, events: u64) -> Vec<String> {
    let out = dir.join("reference");
    let status = freshet(&[
        "example",
        "hot-items",
        "--events",
        &events.to_string(),
        "--parallelism",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--checkpoint-dir",
        dir.join("ref-chk").to_str().unwrap(),
        "--checkpoint-interval",
        "1s",
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let lines = committed_lines(&out);
    assert!(!lines.is_empty(), "the reference run wrote output");
    lines
}

#[test]
fn example_list_names_hot_items() {
    let out = freshet(&["example", "--list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hot-items"));
}

#[test]
fn bad_flag_is_a_clear_error() {
    let out = freshet(&["example", "hot-items", "--state-backend", "leveldb", "--events", "10"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leveldb"), "{err}");
}

#[test]
fn bounded_run_is_identical_at_every_parallelism_and_backend() {
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_output(dir.path(), 60_000);
    for (p, backend) in [("3", "heap"), ("2", "rocksdb")] {
        let out = dir.path().join(format!("p{p}-{backend}"));
        let status = freshet(&[
            "example",
            "hot-items",
            "--events",
            "60000",
            "--parallelism",
            p,
            "--state-backend",
            backend,
            "--out",
            out.to_str().unwrap(),
            "--checkpoint-dir",
            dir.path().join(format!("chk-{p}")).to_str().unwrap(),
            "--checkpoint-interval",
            "200ms",
        ]);
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        assert_eq!(committed_lines(&out), reference, "parallelism {p}, {backend}");
    }
    // Spot-check the content: every line is a window count of one auction.
    let first: serde_json::Value = serde_json::from_str(&reference[0]).unwrap();
    assert!(
        first["auction"].is_i64() && first["bids"].as_i64().unwrap() > 0,
        "{first}"
    );
}

fn job_config(dir: &Path, backend: BackendKind) -> JobConfig {
    JobConfig {
        batch_size: 1024,
        buffer_timeout: Duration::from_millis(10),
        state_backend: backend,
        checkpoint: CheckpointConfig {
            interval: Some(Duration::from_millis(100)),
            storage: dir.join("chk").to_string_lossy().into_owned(),
            ..CheckpointConfig::default()
        },
        restart: RestartStrategy::FixedDelay {
            attempts: 10,
            delay_ms: 20,
        },
        local_dir: dir.join("local"),
        ..JobConfig::default()
    }
}

fn nexmark(events: u64, rate: Option<u64>) -> NexmarkConfig {
    NexmarkConfig {
        events: Some(events),
        max_events_per_second: rate,
        ..NexmarkConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_task_failures_leave_exactly_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_output(dir.path(), 60_000);
    for backend in [BackendKind::Heap, BackendKind::Rocksdb] {
        let out = dir.path().join(format!("failures-{backend}"));
        let plan = FailurePlan::new(vec![9_000, 23_000, 41_000]);
        let job = HotItemsJob {
            nexmark: nexmark(60_000, Some(40_000)),
            parallelism: 2,
            out: out.clone(),
            failures: Some(plan.clone()),
        };
        let graph = hot_items::build(&job, None).unwrap();
        let run_dir = dir.path().join(format!("run-{backend}"));
        let outcome = LocalExecutor::new(job_config(&run_dir, backend))
            .run(&graph)
            .await
            .unwrap();
        assert_eq!(outcome.end, JobEnd::Finished);
        assert_eq!(plan.remaining(), 0, "all failures were injected");
        assert_eq!(outcome.restarts, 3);
        assert_eq!(committed_lines(&out), reference, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoint_then_restore_with_other_parallelism_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_output(dir.path(), 60_000);
    let out = dir.path().join("rescaled");
    let job = HotItemsJob {
        nexmark: nexmark(60_000, Some(20_000)),
        parallelism: 2,
        out: out.clone(),
        failures: None,
    };
    let graph = hot_items::build(&job, None).unwrap();
    let run_dir = dir.path().join("run");
    let executor = LocalExecutor::new(job_config(&run_dir, BackendKind::Rocksdb));
    let handle = executor.handle();
    let running = tokio::spawn(async move { executor.run(&graph).await });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let savepoint = handle.savepoint(None, true).await.expect("savepoint");
    let outcome = running.await.unwrap().unwrap();
    assert!(matches!(outcome.end, JobEnd::Stopped { .. }), "{:?}", outcome.end);
    assert!(committed_lines(&out).len() < reference.len(), "stopped before the end");

    // Restore into parallelism 3 and the heap backend (savepoints are backend-independent).
    let job = HotItemsJob {
        nexmark: nexmark(60_000, None),
        parallelism: 3,
        out: out.clone(),
        failures: None,
    };
    let graph = hot_items::build(&job, None).unwrap();
    let mut config = job_config(&run_dir, BackendKind::Heap);
    config.restore = RestoreFrom::Path(savepoint);
    let outcome = LocalExecutor::new(config).run(&graph).await.unwrap();
    assert_eq!(outcome.end, JobEnd::Finished);
    assert_eq!(committed_lines(&out), reference);
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn completed_checkpoints(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("_metadata").exists())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn sigkill_then_restore_latest_finishes_with_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let reference = reference_output(dir.path(), 60_000);
    let out: PathBuf = dir.path().join("killed");
    let chk = dir.path().join("chk-killed");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "example".to_string(),
            "hot-items".into(),
            "--events".into(),
            "60000".into(),
            "--parallelism".into(),
            "2".into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--checkpoint-dir".into(),
            chk.to_string_lossy().into_owned(),
            "--checkpoint-interval".into(),
            "200ms".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    for round in 0..2 {
        let extra: Vec<&str> = if round == 0 {
            vec!["--rate-limit", "15000"]
        } else {
            vec!["--rate-limit", "15000", "--restore", "latest"]
        };
        let mut child = Command::new(BIN)
            .args(args(&extra))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let before = completed_checkpoints(&chk);
        wait_for("a new completed checkpoint", Duration::from_secs(60), || {
            completed_checkpoints(&chk) > before || chk.join("chk-2").exists()
        });
        std::thread::sleep(Duration::from_millis(400));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let status = Command::new(BIN).args(args(&["--restore", "latest"])).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(committed_lines(&out), reference);
}

#[test]
fn ctrl_c_stops_with_a_savepoint_and_prints_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unbounded");
    let chk = dir.path().join("chk");
    let child = Command::new(BIN)
        .args([
            "example",
            "hot-items",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint-dir",
            chk.to_str().unwrap(),
            "--checkpoint-interval",
            "500ms",
            "--rate-limit",
            "200000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first checkpoint", Duration::from_secs(60), || {
        completed_checkpoints(&chk) > 0
    });
    // At 200k events/s event time runs 20x faster than the wall clock, so windows fire soon.
    wait_for("committed output", Duration::from_secs(60), || {
        !committed_lines(&out).is_empty()
    });
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .last()
        .expect("a savepoint path")
        .trim()
        .trim_start_matches("file://")
        .to_string();
    assert!(Path::new(&path).join("_metadata").exists(), "no savepoint at '{path}'");
    let hidden_left = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pending-1"))
        .count();
    assert_eq!(hidden_left, 0, "checkpoint 1's files were committed");
}

/// Runs `script` at parallelism 2 on RocksDB with 200 ms checkpoints into `chk`, kills it with
/// SIGKILL once more than `checkpoints` checkpoints completed (and `grace` later), then resumes
/// it with `--restore latest` until it finishes.
fn run_killed_then_restored(script: &Path, chk: &Path, checkpoints: usize, grace: Duration) {
    let args = |restore: bool| {
        let mut a = vec![
            "run".to_string(),
            script.to_string_lossy().into_owned(),
            "--parallelism".into(),
            "2".into(),
            "--state-backend".into(),
            "rocksdb".into(),
            "--checkpoint-dir".into(),
            chk.to_string_lossy().into_owned(),
            "--checkpoint-interval".into(),
            "200ms".into(),
        ];
        if restore {
            a.extend(["--restore".to_string(), "latest".into()]);
        }
        a
    };
    let mut child = Command::new(BIN)
        .args(args(false))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a completed checkpoint", Duration::from_secs(60), || {
        completed_checkpoints(chk) > checkpoints
    });
    std::thread::sleep(grace);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Resume from the newest completed checkpoint; the sink's files of the killed run that no
    // checkpoint covers are discarded.
    let status = Command::new(BIN).args(args(true)).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
}

#[test]
fn sql_run_killed_and_restored_gives_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let reference_dir = dir.path().join("reference");
    let reference = sql_script(&reference_dir, "reference", true, false, None);
    let status = freshet(&[
        "run",
        reference.to_str().unwrap(),
        "--checkpoint-dir",
        dir.path().join("ref-chk").to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let expected = data_lines(&reference_dir.join("hot"));
    assert!(expected.len() > 1_000, "{} lines", expected.len());

    let killed_dir = dir.path().join("killed");
    let chk = dir.path().join("sql-chk");
    let throttled = sql_script(&killed_dir, "throttled", true, false, Some(15_000));
    run_killed_then_restored(&throttled, &chk, 0, Duration::from_millis(400));
    assert_eq!(data_lines(&killed_dir.join("hot")), expected);
}

#[test]
fn sql_explain_shows_uids_and_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let job = sql_script(dir.path(), "job", true, false, None);
    let explained = freshet(&["explain", job.to_str().unwrap(), "-p", "3"]);
    assert!(
        explained.status.success(),
        "{}",
        String::from_utf8_lossy(&explained.stderr)
    );
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(text.contains("uid 'source-bid'"), "{text}");
    assert!(text.contains("uid 'window-agg-"), "{text}");
    assert!(text.contains("via hash(auction)"), "{text}");
    assert!(text.contains("parallelism 3"), "{text}");

    let bad = dir.path().join("bad.sql");
    std::fs::write(
        &bad,
        "CREATE TABLE t (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\nCREATE TABLE o (a BIGINT) WITH ('connector' = 'print');\nINSERT INTO o\nSELECT b FROM t;",
    )
    .unwrap();
    let failed = freshet(&["run", bad.to_str().unwrap()]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("bad.sql:4:8:"), "{stderr}");
    assert!(stderr.contains("No field named b"), "{stderr}");
}

/// A SQL script with the hot-items INSERT (`hot`) and/or a second one counting bids per
/// bidder in tumbling windows (`bidders`).
fn sql_script(dir: &Path, name: &str, with_hot: bool, with_bidders: bool, throttle: Option<u64>) -> PathBuf {
    let throttle = throttle
        .map(|rate| format!(", 'max-events-per-second' = '{rate}'"))
        .unwrap_or_default();
    let mut sql = format!(
        "CREATE TABLE bid (
            auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
            date_time TIMESTAMP(3), extra STRING,
            WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
        ) WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '60000'{throttle});
        CREATE TABLE hot (auction BIGINT, num BIGINT, window_end TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{0}/hot', 'format' = 'csv');
        CREATE TABLE bidders (bidder BIGINT, num BIGINT, window_end TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{0}/bidders', 'format' = 'csv');",
        dir.display()
    );
    if with_hot {
        sql.push_str(
            "INSERT INTO hot SELECT auction, COUNT(*), window_end
             FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
             GROUP BY auction, window_start, window_end;",
        );
    }
    if with_bidders {
        sql.push_str(
            "INSERT INTO bidders SELECT bidder, COUNT(*), window_end
             FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '5' SECOND))
             GROUP BY bidder, window_start, window_end;",
        );
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(&path, sql).unwrap();
    path
}

fn data_lines(dir: &Path) -> Vec<String> {
    let mut lines = committed_lines(dir);
    lines.retain(|l| !l.contains("num,window_end"));
    lines
}

#[test]
fn sql_changed_script_restores_its_unchanged_operators_from_a_savepoint() {
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = sql_script(reference_dir.path(), "v1", true, false, None);
    let status = freshet(&[
        "run",
        reference.to_str().unwrap(),
        "--checkpoint-dir",
        reference_dir.path().join("chk").to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let expected = data_lines(&reference_dir.path().join("hot"));
    assert!(expected.len() > 1_000);

    // v1, throttled, stopped with a savepoint (Ctrl-C) part-way.
    let dir = tempfile::tempdir().unwrap();
    let chk = dir.path().join("chk");
    let v1 = sql_script(dir.path(), "v1", true, false, Some(15_000));
    let child = Command::new(BIN)
        .args([
            "run",
            v1.to_str().unwrap(),
            "--checkpoint-dir",
            chk.to_str().unwrap(),
            "--checkpoint-interval",
            "200ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a completed checkpoint", Duration::from_secs(60), || {
        completed_checkpoints(&chk) > 0
    });
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let savepoint = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .expect("savepoint path")
        .trim()
        .to_string();

    // v3 drops the hot-items INSERT: its state has no operator to go to.
    let v3 = sql_script(dir.path(), "v3", false, true, None);
    let refused = freshet(&[
        "run",
        v3.to_str().unwrap(),
        "--checkpoint-dir",
        chk.to_str().unwrap(),
        "--restore",
        &savepoint,
    ]);
    assert!(
        !refused.status.success(),
        "restoring without the hot-items operator must be refused"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("window-agg-"),
        "the error names the operator's uid: {stderr}"
    );

    // v2 adds an INSERT: the window aggregation keeps its uid, restores its state, and the
    // hot-items output over both runs equals the uninterrupted run's.
    let v2 = sql_script(dir.path(), "v2", true, true, None);
    let status = freshet(&[
        "run",
        v2.to_str().unwrap(),
        "--checkpoint-dir",
        chk.to_str().unwrap(),
        "--restore",
        &savepoint,
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(data_lines(&dir.path().join("hot")), expected);
    assert!(!data_lines(&dir.path().join("bidders")).is_empty());
}

/// A script of updating queries into upsert files: per auction its bid count and top price
/// (a GROUP BY), and per auction its three highest bids with their rank (a Top-N), both on
/// tables with a primary key.
fn changelog_script(dir: &Path, name: &str, throttle: Option<u64>) -> PathBuf {
    let throttle = throttle
        .map(|rate| format!(", 'max-events-per-second' = '{rate}'"))
        .unwrap_or_default();
    let sql = format!(
        "CREATE TABLE bid (
            auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
            date_time TIMESTAMP(3), extra STRING,
            WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
        ) WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '60000'{throttle});
        CREATE TABLE per_auction (auction BIGINT, bids BIGINT, top BIGINT, PRIMARY KEY (auction) NOT ENFORCED)
        WITH ('connector' = 'filesystem', 'path' = '{0}/per_auction', 'format' = 'csv');
        CREATE TABLE top_bids (auction BIGINT, rn BIGINT, price BIGINT, bidder BIGINT, PRIMARY KEY (auction, rn) NOT ENFORCED)
        WITH ('connector' = 'filesystem', 'path' = '{0}/top_bids', 'format' = 'csv');
        INSERT INTO per_auction SELECT auction, COUNT(*), MAX(price) FROM bid GROUP BY auction;
        INSERT INTO top_bids SELECT auction, rn, price, bidder FROM (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder) AS rn FROM bid
        ) WHERE rn <= 3;",
        dir.display()
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(&path, sql).unwrap();
    path
}

/// The table an upsert directory describes: its committed CSV files replayed in the order
/// they were written (modification time, then name), the last row of each key (the first
/// `key_columns` values) kept unless it is a deletion.
fn upsert_table(dir: &Path, key_columns: usize) -> std::collections::BTreeMap<String, String> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.ends_with(".csv") && !name.starts_with('.')
        })
        .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap(), p))
        .collect();
    files.sort();
    let mut table = std::collections::BTreeMap::new();
    for (_, path) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().skip(1) {
            let (row, deleted) = line.rsplit_once(',').unwrap();
            let key = row.split(',').take(key_columns).collect::<Vec<_>>().join(",");
            match deleted {
                "false" => table.insert(key, row.to_string()),
                "true" => table.remove(&key),
                other => panic!("__deleted is {other} in {}", path.display()),
            };
        }
    }
    table
}

#[test]
fn sql_changelog_into_upsert_files_killed_and_restored_gives_the_uninterrupted_table() {
    let dir = tempfile::tempdir().unwrap();
    let reference_dir = dir.path().join("reference");
    let reference = changelog_script(&reference_dir, "reference", None);
    let status = freshet(&[
        "run",
        reference.to_str().unwrap(),
        "--checkpoint-dir",
        dir.path().join("ref-chk").to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let per_auction = upsert_table(&reference_dir.join("per_auction"), 1);
    let top_bids = upsert_table(&reference_dir.join("top_bids"), 2);
    assert!(per_auction.len() > 100, "{} auctions", per_auction.len());
    assert!(top_bids.len() > per_auction.len(), "{} top bids", top_bids.len());

    let killed_dir = dir.path().join("killed");
    let chk = dir.path().join("chk");
    let throttled = changelog_script(&killed_dir, "throttled", Some(15_000));
    run_killed_then_restored(&throttled, &chk, 1, Duration::from_millis(300));
    assert_eq!(upsert_table(&killed_dir.join("per_auction"), 1), per_auction);
    assert_eq!(upsert_table(&killed_dir.join("top_bids"), 2), top_bids);
}

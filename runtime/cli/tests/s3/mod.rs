//! Checkpoints and savepoints on a real S3-compatible server: moto's server (PyPI
//! `moto[server]`, installed by `scripts/test.sh`), started here on loopback. `freshet` reaches
//! it through the usual environment (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, keys, region), as a
//! deployment reaches any S3-compatible store. A missing `moto_server` fails the tests.

use super::{data_lines, sql_script, wait_for, BIN};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A moto S3 server on loopback, stopped when dropped.
struct S3Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// Starts one on a free port and creates `bucket`.
    fn start(bucket: &str) -> S3Server {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with `pip install 'moto[server]'` (scripts/test.sh does)")
            });
        let server = S3Server { child, addr };
        wait_for("moto_server to listen", Duration::from_secs(30), || {
            TcpStream::connect(addr).is_ok()
        });
        let (code, body) = server.request("PUT", &format!("/{bucket}"));
        assert_eq!(code, 200, "creating bucket {bucket}: {body}");
        server
    }

    /// The environment `freshet` needs to reach it.
    fn env(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ENDPOINT", format!("http://{}", self.addr)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Every key in `bucket` under `prefix`.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{bucket}?list-type=2&prefix={prefix}");
            if let Some(t) = &token {
                path.push_str(&format!(
                    "&continuation-token={}",
                    t.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
                ));
            }
            let (code, body) = self.request("GET", &path);
            assert_eq!(code, 200, "{body}");
            keys.extend(tag_values(&body, "Key"));
            token = tag_values(&body, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                return keys;
            }
        }
    }

    /// One plain HTTP/1.0 request (moto checks no signatures).
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }
}

/// The texts of every `<tag>...</tag>` in `xml`.
fn tag_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next().map(str::to_string))
        .collect()
}

/// Completed checkpoints under `prefix` (those whose `_metadata` exists).
fn completed(s3: &S3Server, bucket: &str, prefix: &str) -> usize {
    s3.keys(bucket, prefix)
        .iter()
        .filter(|k| k.ends_with("/_metadata") && k.contains("/chk-"))
        .count()
}

fn run_args(script: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        script.to_string_lossy().into_owned(),
        "--parallelism".into(),
        "2".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn reference(dir: &Path) -> Vec<String> {
    let reference_dir = dir.join("reference");
    let script = sql_script(&reference_dir, "reference", true, false, None);
    let out = Command::new(BIN)
        .args(run_args(
            &script,
            &["--checkpoint-dir", dir.join("ref-chk").to_str().unwrap()],
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = data_lines(&reference_dir.join("hot"));
    assert!(lines.len() > 1_000, "{} lines", lines.len());
    lines
}

#[test]
fn rocksdb_checkpoints_on_s3_survive_a_kill_during_uploads_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let expected = reference(dir.path());
    let s3 = S3Server::start("freshet");
    let killed_dir = dir.path().join("killed");
    let script = sql_script(&killed_dir, "throttled", true, false, Some(15_000));
    let flags = [
        "--state-backend",
        "rocksdb",
        "--checkpoint-dir",
        "s3://freshet/jobs/hot/chk",
        "--checkpoint-interval",
        "200ms",
    ];
    let mut child = Command::new(BIN)
        .args(run_args(&script, &flags))
        .envs(s3.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A chain of incremental checkpoints, then SIGKILL while the next ones upload.
    wait_for("three checkpoints on S3", Duration::from_secs(90), || {
        completed(&s3, "freshet", "jobs/hot/chk/") >= 3
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = s3.keys("freshet", "jobs/hot/chk/");
    let shared = keys
        .iter()
        .filter(|k| k.ends_with(".sst") && !k.contains("/chk-"))
        .count();
    assert!(
        shared > 0,
        "incremental RocksDB checkpoints keep shared SST files outside chk-N: {keys:?}"
    );

    let mut restore_flags = flags.to_vec();
    restore_flags.extend(["--restore", "latest"]);
    let out = Command::new(BIN)
        .args(run_args(&script, &restore_flags))
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restoring"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(data_lines(&killed_dir.join("hot")), expected);
}

#[test]
fn savepoint_on_s3_then_restore_from_it_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let expected = reference(dir.path());
    let s3 = S3Server::start("savepoints");
    let run_dir = dir.path().join("stopped");
    let script = sql_script(&run_dir, "throttled", true, false, Some(15_000));
    let flags = [
        "--checkpoint-dir",
        "s3://savepoints/chk",
        "--savepoint-dir",
        "s3://savepoints/sp",
        "--checkpoint-interval",
        "300ms",
    ];
    let child = Command::new(BIN)
        .args(run_args(&script, &flags))
        .envs(s3.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a checkpoint on S3", Duration::from_secs(90), || {
        completed(&s3, "savepoints", "chk/") >= 1
    });
    // Ctrl-C stops the job with a savepoint and prints where it is.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let savepoint = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(savepoint.starts_with("s3://savepoints/sp/"), "{savepoint}");
    let key = format!("{}/_metadata", savepoint.trim_start_matches("s3://savepoints/"));
    assert!(s3.keys("savepoints", "sp/").contains(&key), "no {key} in the bucket");

    let mut restore = flags.to_vec();
    restore.extend(["--restore", &savepoint]);
    let out = Command::new(BIN)
        .args(run_args(&script, &restore))
        .envs(s3.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(data_lines(&run_dir.join("hot")), expected);
}

#[tokio::test]
async fn large_files_go_up_in_parts_and_come_back_whole() {
    let s3 = S3Server::start("large");
    // This test process only: object_store's builders read the environment (nextest runs
    // each test in its own process).
    for (key, value) in s3.env() {
        std::env::set_var(key, value);
    }
    let storage = freshet_state::CheckpointStorage::from_url("s3://large/chk").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.sst");
    // 40 MiB of non-repeating bytes: three parts of at most 16 MiB.
    let data: Vec<u8> = (0..40u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&local, &data).unwrap();
    let size = storage.put_file("shared/big.sst", &local).await.unwrap();
    assert_eq!(size, data.len() as u64);
    let back = storage.get("shared/big.sst").await.unwrap();
    assert!(back.as_ref() == data.as_slice(), "the object differs from the file");
    // S3 marks an object assembled from parts with an ETag ending in `-<parts>`.
    let (code, listing) = s3.request("GET", "/large?list-type=2&prefix=chk/shared/");
    assert_eq!(code, 200, "{listing}");
    let etags = tag_values(&listing, "ETag");
    assert_eq!(etags.len(), 1, "{listing}");
    let etag = etags[0].replace("&#34;", "").replace("&quot;", "").replace('"', "");
    assert!(etag.ends_with("-3"), "{etags:?}");
    // A small file is one plain PUT.
    std::fs::write(dir.path().join("small"), b"small").unwrap();
    storage
        .put_file("shared/small", &dir.path().join("small"))
        .await
        .unwrap();
    let (_, listing) = s3.request("GET", "/large?list-type=2&prefix=chk/shared/small");
    assert!(
        tag_values(&listing, "ETag").iter().all(|e| !e.contains('-')),
        "{listing}"
    );
}

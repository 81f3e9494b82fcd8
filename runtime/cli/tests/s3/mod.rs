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
    // A completed upload leaves neither an open upload nor a journal entry.
    assert!(storage.journaled_uploads().await.unwrap().is_empty());
    assert!(open_uploads(&s3, "large").is_empty());
}

/// The uploads `bucket` has open (ListMultipartUploads).
fn open_uploads(s3: &S3Server, bucket: &str) -> Vec<String> {
    let (code, body) = s3.request("GET", &format!("/{bucket}?uploads"));
    assert_eq!(code, 200, "{body}");
    tag_values(&body, "UploadId")
}

/// What a crash in the middle of a multipart upload leaves (an open upload with a part, and
/// its journal entry) is aborted when the next job opens the storage.
#[tokio::test]
async fn uploads_a_crash_left_open_are_aborted_when_a_job_starts() {
    let s3 = S3Server::start("crashed");
    for (key, value) in s3.env() {
        std::env::set_var(key, value);
    }
    let root = freshet_core::ObjectRoot::open("s3://crashed/chk").unwrap();
    let multipart = root.multipart.clone().expect("S3 has a multipart API");
    let object = root.path("shared/op/000042.sst");
    let upload_id = multipart.create_multipart(&object).await.unwrap();
    multipart
        .put_part(&object, &upload_id, 0, vec![7u8; 5 * 1024 * 1024].into())
        .await
        .unwrap();
    let storage = freshet_state::CheckpointStorage::from_url("s3://crashed/chk").unwrap();
    storage
        .journal_upload(&freshet_state::storage::UploadEntry {
            object: object.to_string(),
            upload_id: upload_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(open_uploads(&s3, "crashed"), vec![upload_id]);

    // What `freshet run` does first with its checkpoint storage.
    assert_eq!(storage.abort_abandoned_uploads().await.unwrap(), 1);
    assert!(open_uploads(&s3, "crashed").is_empty(), "the upload is aborted");
    assert!(
        storage.journaled_uploads().await.unwrap().is_empty(),
        "the journal is cleared"
    );
    assert_eq!(storage.abort_abandoned_uploads().await.unwrap(), 0);
}

/// `filesystem` tables on `s3://` through `freshet run`, with the S3 settings read from the
/// AWS shared files of a `HOME` (no `AWS_*` variable set): a throttled job writes bids into
/// `s3://lake/bids`, is killed with SIGKILL after some checkpoints and restored to its end;
/// a second job reads `s3://lake/bids` back into a local directory. What it reads is exactly
/// the bids a reference run writes locally, and no multipart upload is left open.
#[test]
fn filesystem_tables_on_s3_with_settings_from_aws_files_survive_a_kill_exactly_once() {
    let s3 = S3Server::start("lake");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[lake]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[profile lake]\nregion = us-east-1\nendpoint_url = http://{}\n",
            s3.addr
        ),
    )
    .unwrap();
    let freshet = |args: &[&str]| {
        let mut command = Command::new(BIN);
        command.args(args).env("HOME", &home).env("AWS_PROFILE", "lake");
        for (key, _) in s3.env() {
            command.env_remove(key);
        }
        command
    };
    let write_sql = |name: &str, sink: &str, throttle: &str| {
        let path = dir.path().join(format!("{name}.sql"));
        std::fs::write(
            &path,
            format!(
                "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
                    date_time TIMESTAMP(3), extra STRING)
                 WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '40000'{throttle});
                 CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT)
                 WITH ('connector' = 'filesystem', 'path' = '{sink}', 'format' = 'json');
                 INSERT INTO bids SELECT auction, bidder, price FROM bid;"
            ),
        )
        .unwrap();
        path
    };
    let reference_dir = dir.path().join("reference");
    let reference = write_sql("reference", reference_dir.to_str().unwrap(), "");
    let out = freshet(&[
        "run",
        reference.to_str().unwrap(),
        "--checkpoint-dir",
        dir.path().join("ref-chk").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut expected = super::committed_lines(&reference_dir);
    expected.sort();
    assert_eq!(expected.len(), 36_800, "the bids of 40,000 Nexmark events");

    let to_s3 = write_sql("to-s3", "s3://lake/bids", ", 'max-events-per-second' = '10000'");
    let run_to_s3 = |restore: bool| {
        let mut args = vec![
            "run",
            to_s3.to_str().unwrap(),
            "--parallelism",
            "2",
            "--checkpoint-dir",
            "s3://lake/chk",
            "--checkpoint-interval",
            "300ms",
        ];
        if restore {
            args.extend(["--restore", "latest"]);
        }
        freshet(&args)
    };
    let mut child = run_to_s3(false)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("two checkpoints on S3", Duration::from_secs(60), || {
        completed(&s3, "lake", "chk/") >= 2
    });
    child.kill().unwrap(); // SIGKILL, with part files and uploads in flight
    child.wait().unwrap();
    let out = run_to_s3(true).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (code, uploads) = s3.request("GET", "/lake?uploads");
    assert_eq!(code, 200, "{uploads}");
    assert!(
        tag_values(&uploads, "UploadId").is_empty(),
        "the restore completed or aborted every upload: {uploads}"
    );

    let back_dir = dir.path().join("back");
    let back = dir.path().join("back.sql");
    std::fs::write(
        &back,
        format!(
            "CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT)
             WITH ('connector' = 'filesystem', 'path' = 's3://lake/bids', 'format' = 'json');
             CREATE TABLE copy (auction BIGINT, bidder BIGINT, price BIGINT)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             INSERT INTO copy SELECT * FROM bids;",
            back_dir.display()
        ),
    )
    .unwrap();
    let out = freshet(&[
        "run",
        back.to_str().unwrap(),
        "--checkpoint-dir",
        dir.path().join("back-chk").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut seen = super::committed_lines(&back_dir);
    seen.sort();
    assert_eq!(seen.len(), expected.len(), "every bid once, none twice");
    assert!(seen == expected, "the bids read back from S3 differ from the reference");
}

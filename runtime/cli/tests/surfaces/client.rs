//! A running `freshet run` with its HTTP surfaces, and a minimal HTTP/1.1 client for them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `freshet` process (`run`, `coordinator` or `worker`); killed when dropped.
pub struct RunningJob {
    pub child: Child,
    /// The REST API's address, if it was asked for.
    pub rest: Option<SocketAddr>,
    /// The metrics endpoint's address, if it was asked for.
    pub metrics: Option<SocketAddr>,
    /// Everything written to stderr so far.
    pub stderr: Arc<Mutex<String>>,
    /// Addresses the process announced on stderr, by kind (`rest`, `metrics`, `rpc`, `worker`).
    announced: Arc<Mutex<Vec<(&'static str, SocketAddr)>>>,
    /// The thread copying stderr; joined once the process exited, so `stderr()` then holds
    /// every line (a test reading it right after the exit must not miss the last ones).
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn address_after(line: &str, prefix: &str) -> Option<SocketAddr> {
    let rest = line.split(prefix).nth(1)?;
    rest.trim().trim_end_matches("/metrics").parse().ok()
}

/// What the process prints when it listens: (kind, the text before the address).
const ANNOUNCEMENTS: [(&str, &str); 4] = [
    ("rest", "REST API listening on http://"),
    ("metrics", "Metrics listening on http://"),
    ("rpc", "Coordinator RPC listening on "),
    ("worker", " listening on "),
];

impl RunningJob {
    /// Starts `freshet run script args...` and waits until the asked-for endpoints listen.
    pub fn start(script: &Path, args: &[&str]) -> Self {
        let mut full = vec!["run", script.to_str().expect("a UTF-8 path")];
        full.extend_from_slice(args);
        let mut job = Self::spawn(&full);
        job.await_endpoints(args);
        job
    }

    /// Starts `freshet args...` without waiting for anything.
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(crate::BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("freshet starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let announced = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr piped");
        let (sink, seen) = (stderr.clone(), announced.clone());
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                for (kind, prefix) in ANNOUNCEMENTS {
                    if let Some(a) = address_after(&line, prefix) {
                        seen.lock().unwrap().push((kind, a));
                        break;
                    }
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        RunningJob {
            child,
            rest: None,
            metrics: None,
            stderr,
            announced,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Waits for the endpoints `args` ask for (`--rest-addr`, `--metrics-addr`).
    pub fn await_endpoints(&mut self, args: &[&str]) {
        if args.contains(&"--rest-addr") {
            self.rest = Some(self.address("rest", Duration::from_secs(30)));
        }
        if args.contains(&"--metrics-addr") {
            self.metrics = Some(self.address("metrics", Duration::from_secs(30)));
        }
    }

    /// The address the process announced for `kind`, waiting up to `timeout` for it.
    pub fn address(&self, kind: &str, timeout: Duration) -> SocketAddr {
        poll(&format!("the {kind} address"), timeout, || {
            self.announced
                .lock()
                .unwrap()
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, a)| *a)
        })
    }

    /// Stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A REST request; panics if the REST API was not asked for.
    pub fn api(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let addr = self.rest.expect("started with --rest-addr");
        let (code, text) = http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        (code, json)
    }

    /// Waits for the process to exit; returns its status and stdout.
    pub fn wait_exit(&mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                let mut out = String::new();
                if let Some(mut pipe) = self.child.stdout.take() {
                    let _ = pipe.read_to_string(&mut out);
                }
                return (status, out);
            }
            assert!(
                Instant::now() < deadline,
                "freshet did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends one HTTP/1.1 request; returns the status code and body.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// Polls `check` every 50 ms until it gives a value.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

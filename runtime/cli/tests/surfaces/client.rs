//! A running `freshet run` with its HTTP surfaces, and a minimal HTTP/1.1 client for them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `freshet run` process; killed when dropped.
pub struct RunningJob {
    pub child: Child,
    /// The REST API's address, if it was asked for.
    pub rest: Option<SocketAddr>,
    /// The metrics endpoint's address, if it was asked for.
    pub metrics: Option<SocketAddr>,
    /// Everything written to stderr so far.
    pub stderr: Arc<Mutex<String>>,
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

impl RunningJob {
    /// Starts `freshet run script args...` and waits until the asked-for endpoints listen.
    pub fn start(script: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(crate::BIN)
            .arg("run")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("freshet starts");
        let want_rest = args.contains(&"--rest-addr");
        let want_metrics = args.contains(&"--metrics-addr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(a) = address_after(&line, "REST API listening on http://") {
                    let _ = tx.send(("rest", a));
                }
                if let Some(a) = address_after(&line, "Metrics listening on http://") {
                    let _ = tx.send(("metrics", a));
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut job = RunningJob {
            child,
            rest: None,
            metrics: None,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while (want_rest && job.rest.is_none()) || (want_metrics && job.metrics.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(("rest", a)) => job.rest = Some(a),
                Ok((_, a)) => job.metrics = Some(a),
                Err(_) => panic!("the endpoints never listened; stderr:\n{}", job.stderr()),
            }
        }
        job
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

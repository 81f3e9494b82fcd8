//! A real S3-compatible server for the object store tests of the file source and sink: moto's
//! server (PyPI `moto[server]`, installed by `scripts/test.sh`), one per test process, started
//! on loopback on first use. The connectors reach it through the environment a deployment
//! would set (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, keys, region), set here once before any store
//! is opened; each test uses a bucket of its own. The tests inspect the bucket with plain
//! HTTP/1.0 requests: moto checks no signatures, but only serves objects that are not public to
//! requests that carry one, so they carry a dummy. A missing `moto_server` fails the tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// An `Authorization` header moto accepts (it does not check it) as an authenticated request.
const DUMMY_SIGNATURE: &str =
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// The test process's moto server.
pub struct S3Server {
    addr: SocketAddr,
    /// Kept open while the process lives: the wrapper shell stops moto when it closes.
    _lifeline: Mutex<(Child, ChildStdin)>,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();

/// The server, started (and the environment set) on first use.
pub fn s3() -> &'static S3Server {
    SERVER.get_or_init(S3Server::start)
}

impl S3Server {
    fn start() -> S3Server {
        if let Err(e) = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            panic!("cannot run moto_server ({e}); install it with `pip install 'moto[server]==5.2.1'` (scripts/test.sh does)");
        }
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        // moto runs in the background of a shell that kills it once this process's end of the
        // pipe closes, so no server outlives the test process, however it ends.
        let script = format!(
            "moto_server -H 127.0.0.1 -p {} >/dev/null 2>&1 & pid=$!; read _; kill $pid; wait $pid",
            addr.port()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
        let stdin = child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("no stdin pipe to the moto wrapper"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for (key, value) in [
            ("AWS_ENDPOINT", format!("http://{addr}")),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ] {
            std::env::set_var(key, value);
        }
        S3Server {
            addr,
            _lifeline: Mutex::new((child, stdin)),
        }
    }

    /// Creates `bucket`; returns its name.
    pub fn bucket(&self, bucket: &str) -> String {
        let (code, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(
            code,
            200,
            "creating bucket {bucket}: {}",
            String::from_utf8_lossy(&body)
        );
        bucket.to_string()
    }

    /// Writes an object.
    pub fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let (code, body) = self.request("PUT", &format!("/{bucket}/{key}"), data);
        assert_eq!(code, 200, "writing {bucket}/{key}: {}", String::from_utf8_lossy(&body));
    }

    /// Reads an object.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let (code, body) = self.request("GET", &format!("/{bucket}/{key}"), b"");
        assert_eq!(code, 200, "reading {bucket}/{key}: {}", String::from_utf8_lossy(&body));
        body
    }

    /// The keys in `bucket` under `prefix`, each with its ETag (unquoted), sorted.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        let (code, body) = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"), b"");
        let xml = String::from_utf8_lossy(&body);
        assert_eq!(code, 200, "listing {bucket}: {xml}");
        assert!(!xml.contains("<IsTruncated>true"), "more keys than one page: {xml}");
        let mut objects: Vec<(String, String)> = tag_values(&xml, "Contents")
            .iter()
            .map(|c| {
                let key = tag_values(c, "Key").concat();
                let etag = tag_values(c, "ETag").concat();
                (key, etag.replace("&#34;", "").replace("&quot;", "").replace('"', ""))
            })
            .collect();
        objects.sort();
        objects
    }

    /// The keys in `bucket` under `prefix`, sorted.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.objects(bucket, prefix).into_iter().map(|(k, _)| k).collect()
    }

    /// The keys of the multipart uploads in progress in `bucket` (S3 ListMultipartUploads).
    pub fn uploads(&self, bucket: &str) -> Vec<String> {
        let (code, body) = self.request("GET", &format!("/{bucket}?uploads"), b"");
        let xml = String::from_utf8_lossy(&body);
        assert_eq!(code, 200, "listing uploads of {bucket}: {xml}");
        let mut keys: Vec<String> = tag_values(&xml, "Upload")
            .iter()
            .map(|u| tag_values(u, "Key").concat())
            .collect();
        keys.sort();
        keys
    }

    /// One plain HTTP/1.0 request; returns the status code and the body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(self.addr).unwrap_or_else(|e| panic!("connecting to moto: {e}"));
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nAuthorization: {DUMMY_SIGNATURE}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .unwrap_or_else(|e| panic!("sending {method} {path}: {e}"));
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .unwrap_or_else(|e| panic!("reading the answer to {method} {path}: {e}"));
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(response.len());
        let head = String::from_utf8_lossy(&response[..split]);
        let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (code, response[(split + 4).min(response.len())..].to_vec())
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

//! The client of a coordinator's REST API (docs/rest-api.md): how the operator observes a job
//! and asks for savepoints and cancellation.
//!
//! Plain HTTP/1 through hyper's pooled client; every call is given the coordinator's REST base
//! URL (e.g. `http://10.0.0.5:8081`, the coordinator Service or the leader's published address),
//! so one client serves every job. Each request, from connecting to the last body byte, has one
//! timeout; a request that misses it is [`ClientError::Unreachable`], like a refused connection.
//! The client never retries: the reconcile loop decides what a failure means.

mod error;
mod model;

pub use error::ClientError;
pub use model::{
    CheckpointCounts, CheckpointEntry, CheckpointKind, CheckpointStatus, CheckpointsView, JobDetails, JobState,
    JobSummary, SavepointStatus,
};

use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use model::{ErrorBody, JobList, SavepointRequest, TriggerResponse};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer body read (the checkpoint history is the largest, well below this).
const MAX_BODY_BYTES: usize = 4 << 20;

/// How much of a non-JSON error body goes into [`ClientError::Status`].
const MAX_MESSAGE_CHARS: usize = 200;

/// Result with [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A client of coordinators' REST APIs. Cheap to clone (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct CoordinatorClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Default for CoordinatorClient {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl CoordinatorClient {
    /// A client whose every request must complete within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { http, timeout }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `GET /v1/jobs`: the jobs the coordinator runs (one, for a Freshet coordinator).
    pub async fn jobs(&self, base: &str) -> Result<Vec<JobSummary>> {
        let list: JobList = self.call(Method::GET, base, &["v1", "jobs"], None).await?;
        Ok(list.jobs)
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, base: &str, id: &str) -> Result<JobDetails> {
        self.call(Method::GET, base, &["v1", "jobs", id], None).await
    }

    /// `GET /v1/jobs/{id}/checkpoints`.
    pub async fn checkpoints(&self, base: &str, id: &str) -> Result<CheckpointsView> {
        self.call(Method::GET, base, &["v1", "jobs", id, "checkpoints"], None)
            .await
    }

    /// `POST /v1/jobs/{id}/savepoints`: triggers a savepoint into `target_directory` (the
    /// coordinator's `--savepoint-dir` if `None`), stopping the job once it completed if
    /// `stop`. Returns the trigger id to poll with [`CoordinatorClient::savepoint_status`].
    /// `409` ([`ClientError::is_conflict`]) unless the job is `RUNNING`.
    pub async fn trigger_savepoint(
        &self,
        base: &str,
        id: &str,
        target_directory: Option<&str>,
        stop: bool,
    ) -> Result<String> {
        let body =
            serde_json::to_vec(&SavepointRequest { target_directory, stop }).map_err(|e| ClientError::Decode {
                url: base.to_string(),
                reason: format!("encoding the savepoint request: {e}"),
            })?;
        let answer: TriggerResponse = self
            .call(Method::POST, base, &["v1", "jobs", id, "savepoints"], Some(body))
            .await?;
        Ok(answer.trigger_id)
    }

    /// `GET /v1/jobs/{id}/savepoints/{trigger}`.
    pub async fn savepoint_status(&self, base: &str, id: &str, trigger: &str) -> Result<SavepointStatus> {
        self.call(Method::GET, base, &["v1", "jobs", id, "savepoints", trigger], None)
            .await
    }

    /// `POST /v1/jobs/{id}/savepoints/dispose`: deletes a savepoint's files with the
    /// coordinator's storage credentials. `400` if `location` holds no savepoint.
    pub async fn dispose_savepoint(&self, base: &str, id: &str, location: &str) -> Result<()> {
        let body =
            serde_json::to_vec(&serde_json::json!({ "location": location })).map_err(|e| ClientError::Decode {
                url: base.to_string(),
                reason: format!("encoding the disposal: {e}"),
            })?;
        let _: serde_json::Value = self
            .call(
                Method::POST,
                base,
                &["v1", "jobs", id, "savepoints", "dispose"],
                Some(body),
            )
            .await?;
        Ok(())
    }

    /// `POST /v1/jobs/{id}/cancel`: cancels without a savepoint (the job ends `CANCELLED`).
    /// `409` if it is already cancelling or ended.
    pub async fn cancel(&self, base: &str, id: &str) -> Result<()> {
        let _: serde_json::Value = self
            .call(Method::POST, base, &["v1", "jobs", id, "cancel"], Some(Vec::new()))
            .await?;
        Ok(())
    }

    /// One request: `method` on `base` + `segments`, with a JSON `body` if given; a 2xx
    /// answer's body decoded as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        base: &str,
        segments: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let url = join_url(base, segments)?;
        let uri: Uri = url.parse().map_err(|e| ClientError::InvalidUrl {
            url: url.clone(),
            reason: format!("{e}"),
        })?;
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::InvalidUrl {
                url: url.clone(),
                reason: format!("{e}"),
            })?;
        let (status, bytes) = match tokio::time::timeout(self.timeout, self.send(request, &url)).await {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(ClientError::Unreachable {
                    url,
                    reason: format!("no answer within {:?}", self.timeout),
                })
            }
        };
        if !status.is_success() {
            return Err(ClientError::Status {
                message: error_message(&bytes),
                url,
                status,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// Sends `request` and reads the whole answer.
    async fn send(&self, request: Request<Full<Bytes>>, url: &str) -> Result<(StatusCode, Bytes)> {
        let unreachable = |reason: String| ClientError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ClientError::Decode {
                        url: url.to_string(),
                        reason: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
                    }
                } else {
                    unreachable(format!("reading the answer: {e}"))
                }
            })?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// `base` (`http://host:port`, optionally with a path prefix) joined with percent-encoded path
/// `segments`.
fn join_url(base: &str, segments: &[&str]) -> Result<String> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: base.to_string(),
        reason: reason.to_string(),
    };
    let Some(rest) = base.strip_prefix("http://") else {
        return Err(invalid("only plain http:// URLs are supported"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("no host"));
    }
    if base.contains(['?', '#']) {
        return Err(invalid("a base URL has no query or fragment"));
    }
    let mut url = base.trim_end_matches('/').to_string();
    for segment in segments {
        if segment.is_empty() {
            return Err(invalid("an empty path segment (job or trigger id)"));
        }
        url.push('/');
        encode_segment(segment, &mut url);
    }
    Ok(url)
}

/// Appends `segment` to `out`, percent-encoding everything but RFC 3986 unreserved characters.
fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The message of an error answer: its `{"error": ...}`, else the start of its body.
fn error_message(body: &[u8]) -> String {
    if let Ok(ErrorBody { error }) = serde_json::from_slice(body) {
        return error;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// An error with its sources, `a: b: c` (hyper's own message alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;
    use fake::{FakeCoordinator, JOB_ID};

    #[test]
    fn urls_join_and_encode_segments() {
        assert_eq!(
            join_url("http://10.0.0.5:8081/", &["v1", "jobs", "a b/c"]).unwrap(),
            "http://10.0.0.5:8081/v1/jobs/a%20b%2Fc"
        );
        assert_eq!(
            join_url("http://c.ns.svc:8081/prefix", &["v1"]).unwrap(),
            "http://c.ns.svc:8081/prefix/v1"
        );
        for bad in ["https://c:8081", "c:8081", "http://", "http://c:8081?x=1"] {
            assert!(
                matches!(join_url(bad, &["v1"]), Err(ClientError::InvalidUrl { .. })),
                "{bad}"
            );
        }
        assert!(join_url("http://c:1", &["v1", "jobs", ""]).is_err());
    }

    #[test]
    fn error_messages_come_from_the_error_body_or_the_text() {
        assert_eq!(
            error_message(br#"{"error": "the job is CREATED"}"#),
            "the job is CREATED"
        );
        assert_eq!(error_message(b"  plain failure \n"), "plain failure");
        assert_eq!(error_message(b""), "(empty body)");
    }

    #[tokio::test]
    async fn reads_jobs_details_and_checkpoints() {
        let fake = FakeCoordinator::start().await;
        let client = CoordinatorClient::default();
        let jobs = client.jobs(&fake.base).await.unwrap();
        assert_eq!(
            jobs,
            vec![JobSummary {
                id: JOB_ID.into(),
                name: "hot_items".into(),
                state: JobState::Running,
            }]
        );

        let job = client.job(&fake.base, JOB_ID).await.unwrap();
        assert_eq!(
            job,
            JobDetails {
                id: JOB_ID.into(),
                name: "hot_items".into(),
                state: JobState::Running,
                restarts: 0,
                last_failure: None,
                status_message: None,
            }
        );

        let view = client.checkpoints(&fake.base, JOB_ID).await.unwrap();
        assert_eq!(
            view.counts,
            CheckpointCounts {
                completed: 12,
                failed: 0,
                in_progress: 1
            }
        );
        let latest = view.latest_completed.unwrap();
        assert_eq!(
            (latest.id, latest.kind, latest.status, latest.trigger_time_ms),
            (
                12,
                CheckpointKind::Checkpoint,
                CheckpointStatus::Completed,
                1_763_708_405_000
            )
        );
        assert_eq!(latest.path.as_deref(), Some("file:///data/chk/chk-12"));
        let history: Vec<_> = view.history.iter().map(|c| (c.id, c.status)).collect();
        assert_eq!(
            history,
            vec![(13, CheckpointStatus::InProgress), (12, CheckpointStatus::Completed)]
        );
    }

    #[tokio::test]
    async fn triggers_and_polls_a_savepoint() {
        let fake = FakeCoordinator::start().await;
        let client = CoordinatorClient::default();
        let trigger = client
            .trigger_savepoint(&fake.base, JOB_ID, Some("s3://bucket/savepoints"), true)
            .await
            .unwrap();
        assert_eq!(trigger, fake::TRIGGER_ID);
        assert_eq!(
            fake.last_savepoint_request(),
            Some(serde_json::json!({"target_directory": "s3://bucket/savepoints", "stop": true}))
        );
        client.trigger_savepoint(&fake.base, JOB_ID, None, false).await.unwrap();
        assert_eq!(fake.last_savepoint_request(), Some(serde_json::json!({"stop": false})));

        let status = |trigger: &'static str| {
            let client = client.clone();
            let base = fake.base.clone();
            async move { client.savepoint_status(&base, JOB_ID, trigger).await.unwrap() }
        };
        assert_eq!(status("in-progress").await, SavepointStatus::InProgress);
        assert_eq!(
            status(fake::TRIGGER_ID).await,
            SavepointStatus::Completed {
                location: "file:///data/savepoints/savepoint-14-19a8f3c2e01".into()
            }
        );
        assert_eq!(
            status("failed").await,
            SavepointStatus::Failed {
                reason: "savepoint 14 failed: checkpoint timed out".into()
            }
        );
        let err = client.savepoint_status(&fake.base, JOB_ID, "nope").await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[tokio::test]
    async fn refusals_carry_the_status_and_the_error_message() {
        let fake = FakeCoordinator::start().await;
        let client = CoordinatorClient::default();
        let err = client
            .trigger_savepoint(&fake.base, fake::FINISHED_JOB_ID, None, false)
            .await
            .unwrap_err();
        assert!(err.is_conflict() && !err.is_unreachable(), "{err}");
        let ClientError::Status { message, url, .. } = &err else {
            panic!("expected a status error, got {err}");
        };
        assert_eq!(message, "the job is FINISHED, not RUNNING");
        assert!(url.ends_with("/savepoints"), "{url}");

        let err = client.job(&fake.base, "unknown").await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert_eq!(err.kind(), "status");
    }

    #[tokio::test]
    async fn cancel_is_accepted_then_refused_once_cancelling() {
        let fake = FakeCoordinator::start().await;
        let client = CoordinatorClient::default();
        client.cancel(&fake.base, JOB_ID).await.unwrap();
        let err = client.cancel(&fake.base, JOB_ID).await.unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(
            client.job(&fake.base, JOB_ID).await.unwrap().state,
            JobState::Cancelling
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_api_is_a_decode_error() {
        let fake = FakeCoordinator::start().await;
        let err = CoordinatorClient::default()
            .jobs(&format!("{}/garbage", fake.base))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Decode { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        // Bind, note the port, close it: nothing listens there any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let err = CoordinatorClient::default().jobs(&base).await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert!(err.to_string().contains(&base), "{err}");
    }

    #[tokio::test]
    async fn a_coordinator_that_does_not_answer_in_time_is_unreachable() {
        // Accepts connections (the kernel backlog does) but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let err = CoordinatorClient::new(Duration::from_millis(200))
            .jobs(&base)
            .await
            .unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert!(err.to_string().contains("no answer within"), "{err}");
        drop(listener);
    }
}

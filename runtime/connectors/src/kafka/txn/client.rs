//! The blocking client: connections with negotiated versions, FindCoordinator, EndTxn and
//! the retry loop.

use super::codec::WireError;
use super::net::{self, BrokerAddr, Deadline};
use super::wire::{self, EndTxnRequest};
use super::{code, error_name, PreparedTransaction, ResumeOutcome, TxnClientConfig};
use freshet_core::{Error, Result};
use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The first wait before a retry; it doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The newest EndTxn version sent: v5 would switch to transactions V2 semantics (see the
/// module documentation).
const MAX_END_TXN_VERSION: i16 = 4;

/// Why an attempt failed.
enum Failure {
    /// Worth another attempt: a network error or a retriable error code. `refind` drops the
    /// coordinator connection, so that the next attempt looks the coordinator up again.
    Retry { message: String, refind: bool },
    /// Not worth another attempt.
    Fatal(Error),
}

/// An external-class error with what was being done.
fn external(context: String, kind: ErrorKind, message: String) -> Error {
    Error::io(context, io::Error::new(kind, message))
}

/// One operation: what it is about, for logs and errors, and its deadline.
struct Op<'a> {
    config: &'a TxnClientConfig,
    request: EndTxnRequest,
    deadline: Deadline,
}

impl Op<'_> {
    fn describe(&self) -> String {
        let r = &self.request;
        format!(
            "kafka: {} of transactional id '{}' (producer id {}, epoch {})",
            if r.committed { "commit" } else { "abort" },
            r.transactional_id,
            r.producer_id,
            r.producer_epoch
        )
    }

    /// The fatal error for an error code from `broker`.
    fn broker_error(&self, api: &str, broker: &BrokerAddr, code: i16, message: Option<&str>) -> Failure {
        let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
        Failure::Fatal(external(
            self.describe(),
            ErrorKind::Other,
            format!(
                "{api} at {broker} failed with error code {code} ({}){detail}",
                error_name(code)
            ),
        ))
    }
}

/// A connection to one broker, with the versions negotiated with it.
struct Connection {
    stream: TcpStream,
    addr: BrokerAddr,
    next_correlation_id: i32,
    find_coordinator_version: Option<i16>,
    end_txn_version: Option<i16>,
}

impl Connection {
    /// Connects to `addr` and asks for its API versions.
    fn open(op: &Op<'_>, addr: &BrokerAddr) -> std::result::Result<Self, Failure> {
        let stream = net::connect(addr, op.deadline).map_err(|e| Failure::Retry {
            message: format!("cannot connect to {addr}: {e}"),
            refind: true,
        })?;
        let mut conn = Connection {
            stream,
            addr: addr.clone(),
            next_correlation_id: 1,
            find_coordinator_version: None,
            end_txn_version: None,
        };
        let client_id = &op.config.client_id;
        let body = conn.round_trip(op, "ApiVersions", false, |id| {
            wire::encode_api_versions_request(id, client_id)
        })?;
        let versions = wire::decode_api_versions_response(&body).map_err(|e| conn.malformed(op, "ApiVersions", e))?;
        if versions.error_code != code::NONE {
            return Err(op.broker_error("ApiVersions", addr, versions.error_code, None));
        }
        conn.find_coordinator_version = versions.pick(wire::FIND_COORDINATOR, wire::FIND_COORDINATOR_VERSIONS);
        conn.end_txn_version = versions.pick(wire::END_TXN, *wire::END_TXN_VERSIONS.start()..=MAX_END_TXN_VERSION);
        tracing::debug!(
            broker = %addr,
            find_coordinator = ?conn.find_coordinator_version,
            end_txn = ?conn.end_txn_version,
            "kafka transaction recovery: negotiated versions"
        );
        Ok(conn)
    }

    fn malformed(&self, op: &Op<'_>, api: &str, e: WireError) -> Failure {
        Failure::Fatal(external(
            op.describe(),
            ErrorKind::InvalidData,
            format!("malformed {api} response from {}: {e}", self.addr),
        ))
    }

    fn unsupported(&self, op: &Op<'_>, api: &str, ours: &str) -> Failure {
        Failure::Fatal(external(
            op.describe(),
            ErrorKind::Unsupported,
            format!(
                "broker {} supports none of {api} {ours} (UNSUPPORTED_VERSION)",
                self.addr
            ),
        ))
    }

    /// Sends the frame `encode` builds for a fresh correlation id and returns the body of the
    /// response, after checking its correlation id.
    fn round_trip(
        &mut self,
        op: &Op<'_>,
        api: &str,
        flexible: bool,
        encode: impl FnOnce(i32) -> std::result::Result<Vec<u8>, WireError>,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode(correlation_id)
            .map_err(|e| Failure::Fatal(Error::Internal(format!("{}: cannot encode {api}: {e}", op.describe()))))?;
        let network = |e: io::Error| Failure::Retry {
            message: format!("{api} to {}: {e}", self.addr),
            refind: true,
        };
        net::write_all(&mut self.stream, &frame, op.deadline).map_err(network)?;
        let mut len = [0u8; 4];
        net::read_exact(&mut self.stream, &mut len, op.deadline).map_err(network)?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > wire::MAX_FRAME_BYTES {
            let message = format!(
                "response length {len} is out of range (0..={} bytes)",
                wire::MAX_FRAME_BYTES
            );
            return Err(self.malformed(op, api, WireError(format!("{message}; is this a Kafka broker?"))));
        }
        let mut response = vec![0u8; len as usize];
        net::read_exact(&mut self.stream, &mut response, op.deadline).map_err(network)?;
        let (got, body) = wire::decode_response_header(&response, flexible).map_err(|e| self.malformed(op, api, e))?;
        if got != correlation_id {
            let e = WireError(format!("correlation id {got}, expected {correlation_id}"));
            return Err(self.malformed(op, api, e));
        }
        Ok(body.to_vec())
    }
}

/// See [`super::end_prepared_transaction`].
pub(super) fn end_prepared_transaction(
    config: &TxnClientConfig,
    txn: &PreparedTransaction,
    commit: bool,
) -> Result<ResumeOutcome> {
    let bootstrap = validate(config, txn)?;
    let op = Op {
        config,
        request: EndTxnRequest {
            transactional_id: txn.transactional_id.clone(),
            producer_id: txn.producer_id,
            producer_epoch: txn.producer_epoch,
            committed: commit,
        },
        deadline: Deadline(Instant::now() + config.timeout),
    };
    let mut coordinator: Option<Connection> = None;
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let failure = match attempt(&op, &bootstrap, &mut coordinator) {
            Ok(outcome) => {
                tracing::info!(?outcome, "{}: done", op.describe());
                return Ok(outcome);
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry { message, refind }) => {
                if refind {
                    coordinator = None;
                }
                message
            }
        };
        let left = op.deadline.left();
        if !left.is_zero() {
            tracing::warn!("{}: will retry in {backoff:?}: {failure}", op.describe());
            std::thread::sleep(backoff.min(left));
        }
        if op.deadline.left().is_zero() {
            return Err(external(
                op.describe(),
                ErrorKind::TimedOut,
                format!("did not complete within {:?}; last error: {failure}", config.timeout),
            ));
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn validate(config: &TxnClientConfig, txn: &PreparedTransaction) -> Result<Vec<BrokerAddr>> {
    let bad = |what: String| Err(Error::Config(format!("kafka transaction recovery: {what}")));
    if config.bootstrap_servers.is_empty() {
        return bad("no bootstrap servers".into());
    }
    if txn.transactional_id.is_empty() || txn.transactional_id.len() > i16::MAX as usize {
        return bad(format!(
            "transactional id of {} bytes (1..=32767)",
            txn.transactional_id.len()
        ));
    }
    if config.client_id.len() > i16::MAX as usize {
        return bad(format!("client id of {} bytes (at most 32767)", config.client_id.len()));
    }
    if txn.producer_id < 0 || txn.producer_epoch < 0 {
        return bad(format!(
            "transactional id '{}' has no valid producer id/epoch ({}/{})",
            txn.transactional_id, txn.producer_id, txn.producer_epoch
        ));
    }
    if config.timeout.is_zero() {
        return bad("zero timeout".into());
    }
    let parsed: std::result::Result<Vec<_>, _> =
        config.bootstrap_servers.iter().map(|s| net::parse_broker(s)).collect();
    parsed.or_else(|e| bad(format!("bootstrap server {e}")))
}

/// One attempt: find the coordinator unless connected to it, then send EndTxn.
fn attempt(
    op: &Op<'_>,
    bootstrap: &[BrokerAddr],
    coordinator: &mut Option<Connection>,
) -> std::result::Result<ResumeOutcome, Failure> {
    let conn = match coordinator {
        Some(conn) => conn,
        None => coordinator.insert(find_coordinator(op, bootstrap)?),
    };
    let version = conn
        .end_txn_version
        .ok_or_else(|| conn.unsupported(op, "EndTxn", "v0-v4"))?;
    let flexible = wire::is_flexible(wire::END_TXN, version);
    let client_id = &op.config.client_id;
    let body = conn.round_trip(op, "EndTxn", flexible, |id| {
        wire::encode_end_txn_request(version, id, client_id, &op.request)
    })?;
    let response = wire::decode_end_txn_response(version, &body).map_err(|e| conn.malformed(op, "EndTxn", e))?;
    let retry = |refind| {
        let code = response.error_code;
        let message = format!("EndTxn at {}: error code {code} ({})", conn.addr, error_name(code));
        Err(Failure::Retry { message, refind })
    };
    match response.error_code {
        code::NONE => Ok(ResumeOutcome::Committed),
        code::INVALID_TXN_STATE => Ok(ResumeOutcome::NothingPending),
        code::PRODUCER_FENCED | code::INVALID_PRODUCER_EPOCH | code::INVALID_PRODUCER_ID_MAPPING => {
            Ok(ResumeOutcome::Fenced)
        }
        code::COORDINATOR_LOAD_IN_PROGRESS | code::CONCURRENT_TRANSACTIONS | code::REQUEST_TIMED_OUT => retry(false),
        code::COORDINATOR_NOT_AVAILABLE | code::NOT_COORDINATOR => retry(true),
        other => Err(op.broker_error(&format!("EndTxn v{version}"), &conn.addr, other, None)),
    }
}

/// Asks the bootstrap servers in turn for the transaction coordinator and connects to it.
fn find_coordinator(op: &Op<'_>, bootstrap: &[BrokerAddr]) -> std::result::Result<Connection, Failure> {
    let mut last = String::new();
    for addr in bootstrap {
        match ask_coordinator(op, addr) {
            Ok((conn, coordinator)) if conn.addr == coordinator => return Ok(conn),
            Ok((_, coordinator)) => return Connection::open(op, &coordinator),
            Err(Failure::Retry { message, .. }) => {
                tracing::debug!("{}: {message}", op.describe());
                last = message;
            }
            Err(fatal) => return Err(fatal),
        }
    }
    Err(Failure::Retry {
        message: last,
        refind: true,
    })
}

/// Sends FindCoordinator to `addr`; returns the connection and the coordinator's address.
fn ask_coordinator(op: &Op<'_>, addr: &BrokerAddr) -> std::result::Result<(Connection, BrokerAddr), Failure> {
    let mut conn = Connection::open(op, addr)?;
    let version = conn
        .find_coordinator_version
        .ok_or_else(|| conn.unsupported(op, "FindCoordinator", "v1-v4"))?;
    let flexible = wire::is_flexible(wire::FIND_COORDINATOR, version);
    let (client_id, key) = (&op.config.client_id, &op.request.transactional_id);
    let body = conn.round_trip(op, "FindCoordinator", flexible, |id| {
        wire::encode_find_coordinator_request(version, id, client_id, key)
    })?;
    let response =
        wire::decode_find_coordinator_response(version, &body).map_err(|e| conn.malformed(op, "FindCoordinator", e))?;
    let found = response.coordinator_for(key).ok_or_else(|| {
        conn.malformed(
            op,
            "FindCoordinator",
            WireError(format!("no coordinator for key '{key}'")),
        )
    })?;
    match found.error_code {
        code::NONE => {}
        code::COORDINATOR_LOAD_IN_PROGRESS
        | code::COORDINATOR_NOT_AVAILABLE
        | code::NOT_COORDINATOR
        | code::REQUEST_TIMED_OUT => {
            let code = found.error_code;
            let message = format!("FindCoordinator at {addr}: error code {code} ({})", error_name(code));
            return Err(Failure::Retry { message, refind: true });
        }
        other => {
            let api = format!("FindCoordinator v{version}");
            return Err(op.broker_error(&api, addr, other, found.error_message.as_deref()));
        }
    }
    let Some(coordinator) = BrokerAddr::from_metadata(&found.host, found.port) else {
        let e = WireError(format!("coordinator address '{}:{}'", found.host, found.port));
        return Err(conn.malformed(op, "FindCoordinator", e));
    };
    tracing::debug!(coordinator = %coordinator, node_id = found.node_id, "{}: found the coordinator", op.describe());
    Ok((conn, coordinator))
}

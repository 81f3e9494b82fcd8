//! The Kafka wire format of the three requests the recovery sends — ApiVersions v0,
//! FindCoordinator v1–v4, EndTxn v0–v5 — and of their responses, as pure functions from
//! values to bytes and back.
//!
//! Encoders return a whole frame, 4-byte length prefix included. Response decoders take a
//! frame without its length prefix. Decoders never panic: a short, malformed or oversized
//! input is a [`WireError`]. The primitive types are in [`super::codec`].

use super::codec::{Reader, WireError, Writer};
use std::ops::RangeInclusive;

type Result<T> = std::result::Result<T, WireError>;

/// API key of ApiVersions.
pub const API_VERSIONS: i16 = 18;
/// API key of FindCoordinator.
pub const FIND_COORDINATOR: i16 = 10;
/// API key of EndTxn.
pub const END_TXN: i16 = 26;
/// FindCoordinator's key type for a transactional id.
pub const KEY_TYPE_TRANSACTION: i8 = 1;
/// The FindCoordinator versions encoded and decoded here.
pub const FIND_COORDINATOR_VERSIONS: RangeInclusive<i16> = 1..=4;
/// The EndTxn versions encoded and decoded here.
pub const END_TXN_VERSIONS: RangeInclusive<i16> = 0..=5;
/// The largest frame a peer may send; a longer one is refused before allocating.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Whether a version of one of the APIs here is flexible (compact strings and tagged fields,
/// request header v2, response header v1). ApiVersions responses keep header v0 regardless.
pub fn is_flexible(api_key: i16, api_version: i16) -> bool {
    matches!(api_key, API_VERSIONS | FIND_COORDINATOR | END_TXN) && api_version >= 3
}

/// The header of a request, as the fake broker of the tests decodes it.
#[cfg(test)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    /// Which API.
    pub api_key: i16,
    /// Which version of it.
    pub api_version: i16,
    /// Echoed in the response.
    pub correlation_id: i32,
    /// The client's name (nullable).
    pub client_id: Option<String>,
}

/// The body of an EndTxn request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndTxnRequest {
    /// The transactional id whose transaction ends.
    pub transactional_id: String,
    /// The producer id the transaction belongs to.
    pub producer_id: i64,
    /// The producer epoch the transaction belongs to.
    pub producer_epoch: i16,
    /// Commit (true) or abort (false).
    pub committed: bool,
}

/// One API's supported version range, from an ApiVersions response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersionRange {
    /// Which API.
    pub api_key: i16,
    /// The oldest version the broker accepts.
    pub min_version: i16,
    /// The newest version the broker accepts.
    pub max_version: i16,
}

/// An ApiVersions v0 response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// The top-level error code (0: none).
    pub error_code: i16,
    /// The APIs the broker supports.
    pub api_keys: Vec<ApiVersionRange>,
}

impl ApiVersionsResponse {
    /// The highest version in `ours` that the broker also supports for `api_key`.
    pub fn pick(&self, api_key: i16, ours: RangeInclusive<i16>) -> Option<i16> {
        let range = self.api_keys.iter().find(|range| range.api_key == api_key)?;
        let high = range.max_version.min(*ours.end());
        let low = range.min_version.max(*ours.start());
        (high >= low).then_some(high)
    }
}

/// One coordinator of a FindCoordinator response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    /// The key it coordinates (v4+; before, the response is for the one key asked about).
    pub key: Option<String>,
    /// The coordinator's broker id.
    pub node_id: i32,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: i32,
    /// The error code for this key (0: none).
    pub error_code: i16,
    /// The broker's description of the error.
    pub error_message: Option<String>,
}

/// A FindCoordinator response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    /// How long the broker throttled the request.
    pub throttle_time_ms: i32,
    /// One coordinator per key asked about (exactly one before v4).
    pub coordinators: Vec<Coordinator>,
}

impl FindCoordinatorResponse {
    /// The answer for `key`: the v4+ entry naming it, or the single entry of v1–v3.
    pub fn coordinator_for(&self, key: &str) -> Option<&Coordinator> {
        self.coordinators
            .iter()
            .find(|c| c.key.as_deref().is_none_or(|k| k == key))
    }
}

/// An EndTxn response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndTxnResponse {
    /// How long the broker throttled the request.
    pub throttle_time_ms: i32,
    /// The error code (0: none).
    pub error_code: i16,
    /// The producer id after the transaction (v5+).
    pub producer_id: Option<i64>,
    /// The producer epoch after the transaction (v5+).
    pub producer_epoch: Option<i16>,
}

/// Starts a request frame with its header: v1, or v2 (tagged fields) for flexible versions.
fn request(api_key: i16, api_version: i16, correlation_id: i32, client_id: &str) -> Result<Writer> {
    let mut w = Writer::frame();
    w.i16(api_key);
    w.i16(api_version);
    w.i32(correlation_id);
    w.string(client_id)?; // a nullable int16-length string in every header version
    if is_flexible(api_key, api_version) {
        w.empty_tagged_fields();
    }
    Ok(w)
}

fn check_version(api: &str, version: i16, supported: RangeInclusive<i16>) -> Result<()> {
    if supported.contains(&version) {
        Ok(())
    } else {
        Err(WireError(format!("{api} v{version} is not implemented")))
    }
}

/// An ApiVersions v0 request (empty body).
pub fn encode_api_versions_request(correlation_id: i32, client_id: &str) -> Result<Vec<u8>> {
    request(API_VERSIONS, 0, correlation_id, client_id)?.finish()
}

/// A FindCoordinator request for the transaction coordinator of `transactional_id`.
pub fn encode_find_coordinator_request(
    version: i16,
    correlation_id: i32,
    client_id: &str,
    transactional_id: &str,
) -> Result<Vec<u8>> {
    check_version("FindCoordinator", version, FIND_COORDINATOR_VERSIONS)?;
    let mut w = request(FIND_COORDINATOR, version, correlation_id, client_id)?;
    match version {
        1 | 2 => {
            w.string(transactional_id)?;
            w.i8(KEY_TYPE_TRANSACTION);
        }
        3 => {
            w.compact_string(transactional_id)?;
            w.i8(KEY_TYPE_TRANSACTION);
            w.empty_tagged_fields();
        }
        _ => {
            w.i8(KEY_TYPE_TRANSACTION);
            w.compact_len(1)?; // CoordinatorKeys: one key
            w.compact_string(transactional_id)?;
            w.empty_tagged_fields();
        }
    }
    w.finish()
}

/// An EndTxn request.
pub fn encode_end_txn_request(
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &EndTxnRequest,
) -> Result<Vec<u8>> {
    check_version("EndTxn", version, END_TXN_VERSIONS)?;
    let flexible = is_flexible(END_TXN, version);
    let mut w = request(END_TXN, version, correlation_id, client_id)?;
    if flexible {
        w.compact_string(&body.transactional_id)?;
    } else {
        w.string(&body.transactional_id)?;
    }
    w.i64(body.producer_id);
    w.i16(body.producer_epoch);
    w.bool(body.committed);
    if flexible {
        w.empty_tagged_fields();
    }
    w.finish()
}

/// Splits a response frame (without its length prefix) into the correlation id and the body:
/// header v0 is the correlation id, v1 (`flexible`) adds a tagged-field section.
pub fn decode_response_header(frame: &[u8], flexible: bool) -> Result<(i32, &[u8])> {
    let mut r = Reader::new(frame);
    let correlation_id = r.i32("correlation id")?;
    if flexible {
        r.skip_tagged_fields("response header tagged fields")?;
    }
    Ok((correlation_id, r.rest()))
}

/// An ApiVersions v0 response body.
pub fn decode_api_versions_response(body: &[u8]) -> Result<ApiVersionsResponse> {
    let mut r = Reader::new(body);
    let error_code = r.i16("ApiVersions error code")?;
    let count = r.array_len("ApiVersions api keys")?;
    let mut api_keys = Vec::with_capacity(count);
    for _ in 0..count {
        api_keys.push(ApiVersionRange {
            api_key: r.i16("api key")?,
            min_version: r.i16("min version")?,
            max_version: r.i16("max version")?,
        });
    }
    Ok(ApiVersionsResponse { error_code, api_keys })
}

/// A FindCoordinator response body of `version` (1–4).
pub fn decode_find_coordinator_response(version: i16, body: &[u8]) -> Result<FindCoordinatorResponse> {
    check_version("FindCoordinator", version, FIND_COORDINATOR_VERSIONS)?;
    let mut r = Reader::new(body);
    let throttle_time_ms = r.i32("throttle time")?;
    let mut coordinators = Vec::new();
    if version < 4 {
        let flexible = version >= 3;
        let error_code = r.i16("error code")?;
        let error_message = if flexible {
            r.compact_nullable_string("error message")?
        } else {
            r.nullable_string("error message")?
        };
        let node_id = r.i32("node id")?;
        let host = if flexible {
            r.compact_string("host")?
        } else {
            r.string("host")?
        };
        let port = r.i32("port")?;
        coordinators.push(Coordinator {
            key: None,
            node_id,
            host,
            port,
            error_code,
            error_message,
        });
    } else {
        let count = r
            .compact_len("coordinators")?
            .ok_or_else(|| WireError("coordinators: null".into()))?;
        for _ in 0..count {
            coordinators.push(Coordinator {
                key: Some(r.compact_string("coordinator key")?),
                node_id: r.i32("node id")?,
                host: r.compact_string("host")?,
                port: r.i32("port")?,
                error_code: r.i16("error code")?,
                error_message: r.compact_nullable_string("error message")?,
            });
            r.skip_tagged_fields("coordinator tagged fields")?;
        }
    }
    if version >= 3 {
        r.skip_tagged_fields("FindCoordinator tagged fields")?;
    }
    Ok(FindCoordinatorResponse {
        throttle_time_ms,
        coordinators,
    })
}

/// An EndTxn response body of `version` (0–5).
pub fn decode_end_txn_response(version: i16, body: &[u8]) -> Result<EndTxnResponse> {
    check_version("EndTxn", version, END_TXN_VERSIONS)?;
    let mut r = Reader::new(body);
    let throttle_time_ms = r.i32("throttle time")?;
    let error_code = r.i16("error code")?;
    let (producer_id, producer_epoch) = if version >= 5 {
        (Some(r.i64("producer id")?), Some(r.i16("producer epoch")?))
    } else {
        (None, None)
    };
    if is_flexible(END_TXN, version) {
        r.skip_tagged_fields("EndTxn tagged fields")?;
    }
    Ok(EndTxnResponse {
        throttle_time_ms,
        error_code,
        producer_id,
        producer_epoch,
    })
}

/// A request frame (without its length prefix) split into its header and body.
#[cfg(test)]
pub fn decode_request_header(frame: &[u8]) -> Result<(RequestHeader, &[u8])> {
    let mut r = Reader::new(frame);
    let api_key = r.i16("api key")?;
    let api_version = r.i16("api version")?;
    let correlation_id = r.i32("correlation id")?;
    let client_id = r.nullable_string("client id")?;
    if is_flexible(api_key, api_version) {
        r.skip_tagged_fields("request header tagged fields")?;
    }
    Ok((
        RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        },
        r.rest(),
    ))
}

/// A FindCoordinator request body of `version` (1–4): the key type and the keys.
#[cfg(test)]
pub fn decode_find_coordinator_request(version: i16, body: &[u8]) -> Result<(i8, Vec<String>)> {
    check_version("FindCoordinator", version, FIND_COORDINATOR_VERSIONS)?;
    let mut r = Reader::new(body);
    let parsed = match version {
        1 | 2 => {
            let key = r.string("key")?;
            (r.i8("key type")?, vec![key])
        }
        3 => {
            let key = r.compact_string("key")?;
            (r.i8("key type")?, vec![key])
        }
        _ => {
            let key_type = r.i8("key type")?;
            let count = r.compact_len("coordinator keys")?.unwrap_or(0);
            let keys = (0..count)
                .map(|_| r.compact_string("coordinator key"))
                .collect::<Result<_>>()?;
            (key_type, keys)
        }
    };
    if version >= 3 {
        r.skip_tagged_fields("FindCoordinator tagged fields")?;
    }
    Ok(parsed)
}

/// An EndTxn request body of `version` (0–5).
#[cfg(test)]
pub fn decode_end_txn_request(version: i16, body: &[u8]) -> Result<EndTxnRequest> {
    check_version("EndTxn", version, END_TXN_VERSIONS)?;
    let flexible = is_flexible(END_TXN, version);
    let mut r = Reader::new(body);
    let request = EndTxnRequest {
        transactional_id: if flexible {
            r.compact_string("transactional id")?
        } else {
            r.string("transactional id")?
        },
        producer_id: r.i64("producer id")?,
        producer_epoch: r.i16("producer epoch")?,
        committed: r.bool("committed")?,
    };
    if flexible {
        r.skip_tagged_fields("EndTxn tagged fields")?;
    }
    Ok(request)
}

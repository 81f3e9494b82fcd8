//! Ending a Kafka transaction that another, possibly dead, producer prepared.
//!
//! # Role in recovery
//!
//! The exactly-once Kafka sink writes each checkpoint's records in one librdkafka
//! transaction and commits it once the checkpoint has completed. It keeps
//! `(transactional_id, producer_id, producer_epoch)` of that transaction in the checkpoint
//! (librdkafka reports the id and epoch in its statistics). If the process dies after the
//! checkpoint completed but before the commit, the restored job must commit the transaction
//! itself. librdkafka cannot do that: `init_transactions` with the same transactional id
//! bumps the epoch, which aborts the pending transaction. So, like Flink, this module sends
//! the commit with raw protocol requests under the stored producer id and epoch:
//! [`end_prepared_transaction`].
//!
//! # Protocol
//!
//! Plain blocking TCP (no TLS, no SASL), one overall deadline for everything:
//!
//! 1. connect to a bootstrap server (each in turn) and send ApiVersions v0 (header v1,
//!    response header v0; every broker answers it) to learn the version ranges;
//! 2. FindCoordinator with key type 1 (transaction), at the highest version in v1–v4 the
//!    broker supports: v1/v2 (int16 strings), v3 (flexible: compact strings, tagged fields,
//!    request header v2 and response header v1), v4 (keys batched in `CoordinatorKeys`,
//!    answers in `Coordinators`; one key here). v0 has no key type, and Kafka 4.0 removed it;
//!    v5 and v6 have v4's layout and only allow new error codes or key types, so they are
//!    not needed: every broker with v5+ also has v4;
//! 3. at the coordinator (the same connection if it is the bootstrap server), after its own
//!    ApiVersions, EndTxn at the highest version in v0–v4 it supports: v0–v2 (int16 strings)
//!    or v3/v4 (flexible). The wire functions also know v5, but it is never chosen: v5 means
//!    "transactions V2" (KIP-890), under which the coordinator bumps the epoch on every end
//!    and judges retries by epoch, while the transactions to end here were begun by
//!    librdkafka with the classic protocol, whose coordinator answers a repeated commit at
//!    the same epoch with success. Every broker with v5 keeps v4 for such clients.
//!
//! Retriable answers — `COORDINATOR_LOAD_IN_PROGRESS`, `COORDINATOR_NOT_AVAILABLE`,
//! `NOT_COORDINATOR` (which also re-finds the coordinator), `CONCURRENT_TRANSACTIONS`,
//! `REQUEST_TIMED_OUT` — and network errors are retried with a growing backoff until the
//! deadline. See [`ResumeOutcome`] for the answers that end the operation.

mod client;
mod codec;
mod net;
mod wire;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod fake_broker;
#[cfg(test)]
mod tests;

use std::time::Duration;

/// A transaction prepared by a producer that may no longer exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedTransaction {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id the coordinator gave the producer.
    pub producer_id: i64,
    /// The producer epoch the transaction was written with.
    pub producer_epoch: i16,
}

/// How ending a prepared transaction went, when the coordinator gave a definite answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// EndTxn(commit) succeeded (also when the commit had already completed: Kafka answers a
    /// repeated commit with the same epoch with success). With `commit = false`, the abort
    /// succeeded (or had already completed).
    Committed,
    /// The coordinator has no ongoing transaction for that id and epoch (INVALID_TXN_STATE):
    /// nothing was pending. Caveat: the coordinator answers the same when the last
    /// transaction of that epoch already ended the other way, e.g. for a commit when the
    /// producer itself had aborted it.
    NothingPending,
    /// The producer id/epoch was fenced (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH /
    /// INVALID_PRODUCER_ID_MAPPING): a newer producer took over the id, so the transaction
    /// was aborted by the broker.
    Fenced,
}

/// Where and how to reach the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnClientConfig {
    /// Bootstrap servers as `host:port` (IPv6 literals as `[addr]:port`), tried in turn.
    pub bootstrap_servers: Vec<String>,
    /// The client id sent in every request header.
    pub client_id: String,
    /// Overall deadline for the operation, retries included.
    pub timeout: Duration,
}

/// Commits (or, with `commit = false`, aborts) a prepared transaction with FindCoordinator +
/// EndTxn under its stored producer id and epoch.
///
/// Errors: [`freshet_core::Error::Config`] for a bad configuration or transaction (no
/// bootstrap server, an entry without a valid port, an empty transactional id, a negative
/// producer id or epoch, a zero timeout); otherwise [`freshet_core::Error::Io`] (class
/// external, so a restart retries) for network failures, a deadline that passed, malformed
/// responses, missing protocol versions, and broker error codes other than those of
/// [`ResumeOutcome`] — naming the code, its name, the transactional id and the broker.
pub fn end_prepared_transaction(
    config: &TxnClientConfig,
    txn: &PreparedTransaction,
    commit: bool,
) -> freshet_core::Result<ResumeOutcome> {
    client::end_prepared_transaction(config, txn, commit)
}

/// The error codes this module knows by name.
const ERROR_NAMES: &[(i16, &str)] = &[
    (-1, "UNKNOWN_SERVER_ERROR"),
    (0, "NONE"),
    (7, "REQUEST_TIMED_OUT"),
    (14, "COORDINATOR_LOAD_IN_PROGRESS"),
    (15, "COORDINATOR_NOT_AVAILABLE"),
    (16, "NOT_COORDINATOR"),
    (31, "CLUSTER_AUTHORIZATION_FAILED"),
    (35, "UNSUPPORTED_VERSION"),
    (42, "INVALID_REQUEST"),
    (47, "INVALID_PRODUCER_EPOCH"),
    (48, "INVALID_TXN_STATE"),
    (49, "INVALID_PRODUCER_ID_MAPPING"),
    (51, "CONCURRENT_TRANSACTIONS"),
    (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
    (90, "PRODUCER_FENCED"),
];

/// The name of a Kafka error code, or `UNKNOWN` for codes not in the table.
fn error_name(code: i16) -> &'static str {
    ERROR_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("UNKNOWN", |(_, name)| name)
}

/// Kafka error codes with a meaning here.
mod code {
    pub const NONE: i16 = 0;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const PRODUCER_FENCED: i16 = 90;
}

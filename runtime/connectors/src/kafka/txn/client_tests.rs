//! The client against the fake broker on loopback.

use super::fake_broker::{FakeBroker, Received, Script};
use super::net::parse_broker;
use super::wire::{self, EndTxnRequest, RequestHeader};
use super::*;
use freshet_core::{Error, ErrorClass};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Instant;

const TXN_ID: &str = "sink-0-7";

fn config(servers: &[String]) -> TxnClientConfig {
    TxnClientConfig {
        bootstrap_servers: servers.to_vec(),
        client_id: "freshet-test".into(),
        timeout: Duration::from_secs(10),
    }
}

fn txn() -> PreparedTransaction {
    PreparedTransaction {
        transactional_id: TXN_ID.into(),
        producer_id: 4242,
        producer_epoch: 3,
    }
}

fn end(broker: &FakeBroker, commit: bool) -> freshet_core::Result<ResumeOutcome> {
    end_prepared_transaction(&config(&[broker.bootstrap()]), &txn(), commit)
}

fn expected_request(committed: bool) -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: TXN_ID.into(),
        producer_id: 4242,
        producer_epoch: 3,
        committed,
    }
}

/// The broker got `finds` FindCoordinator requests at `find_version` and `ends` EndTxn
/// requests at `end_version`, all for the test transaction, and nothing it could not decode.
fn assert_received(got: &Received, find_version: i16, finds: usize, end_version: i16, ends: usize, commit: bool) {
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let find = (find_version, wire::KEY_TYPE_TRANSACTION, vec![TXN_ID.to_string()]);
    assert_eq!(got.find_coordinator, vec![find; finds]);
    assert_eq!(got.end_txn, vec![(end_version, expected_request(commit)); ends]);
    assert!(
        got.client_ids.iter().all(|id| id.as_deref() == Some("freshet-test")),
        "{:?}",
        got.client_ids
    );
}

fn error_text(result: freshet_core::Result<ResumeOutcome>) -> (ErrorClass, String) {
    let error = result.expect_err("expected an error");
    (error.class(), error.to_string())
}

#[test]
fn commits_at_a_kafka4_broker_with_v4_and_reuses_the_bootstrap_connection() {
    let broker = FakeBroker::start(Script::kafka4());
    assert_eq!(end(&broker, true).unwrap(), ResumeOutcome::Committed);
    let got = broker.received();
    assert_received(&got, 4, 1, 4, 1, true);
    assert_eq!((got.connections, got.api_versions), (1, 1));
}

#[test]
fn picks_the_highest_common_versions() {
    // (FindCoordinator range, EndTxn range) → (versions used)
    let cases = [
        ((0, 2), (0, 1), 2, 1),
        ((0, 3), (0, 3), 3, 3),
        ((1, 1), (0, 0), 1, 0),
        ((3, 9), (2, 9), 4, 4),
    ];
    for (find, end_range, find_version, end_version) in cases {
        let broker = FakeBroker::start(Script::versions(find, end_range));
        assert_eq!(
            end(&broker, true).unwrap(),
            ResumeOutcome::Committed,
            "{find:?} {end_range:?}"
        );
        assert_received(&broker.received(), find_version, 1, end_version, 1, true);
    }
}

#[test]
fn aborts_with_committed_false() {
    let broker = FakeBroker::start(Script::versions((0, 2), (0, 2)));
    assert_eq!(end(&broker, false).unwrap(), ResumeOutcome::Committed);
    assert_received(&broker.received(), 2, 1, 2, 1, false);
}

#[test]
fn follows_find_coordinator_to_another_broker() {
    let coordinator = FakeBroker::start(Script::kafka4());
    let bootstrap = FakeBroker::start(Script::kafka4().coordinator(coordinator.addr));
    assert_eq!(end(&bootstrap, true).unwrap(), ResumeOutcome::Committed);
    assert_received(&bootstrap.received(), 4, 1, 4, 0, true);
    let got = coordinator.received();
    assert_received(&got, 4, 0, 4, 1, true);
    assert_eq!(got.api_versions, 1);
}

#[test]
fn not_coordinator_finds_the_coordinator_again() {
    let broker = FakeBroker::start(Script::kafka4().end_txn_errors(&[code::NOT_COORDINATOR]));
    assert_eq!(end(&broker, true).unwrap(), ResumeOutcome::Committed);
    let got = broker.received();
    assert_received(&got, 4, 2, 4, 2, true);
    assert_eq!(got.connections, 2);
}

#[test]
fn concurrent_transactions_retries_on_the_same_connection() {
    let errors = [code::CONCURRENT_TRANSACTIONS, code::CONCURRENT_TRANSACTIONS];
    let broker = FakeBroker::start(Script::versions((0, 2), (0, 2)).end_txn_errors(&errors));
    assert_eq!(end(&broker, true).unwrap(), ResumeOutcome::Committed);
    let got = broker.received();
    assert_received(&got, 2, 1, 2, 3, true);
    assert_eq!(got.connections, 1);
}

#[test]
fn retriable_find_coordinator_errors_are_retried() {
    let errors = [code::COORDINATOR_NOT_AVAILABLE, code::COORDINATOR_LOAD_IN_PROGRESS];
    let broker = FakeBroker::start(Script::versions((0, 3), (0, 3)).find_errors(&errors));
    assert_eq!(end(&broker, true).unwrap(), ResumeOutcome::Committed);
    assert_received(&broker.received(), 3, 3, 3, 1, true);
}

#[test]
fn definite_answers_map_to_outcomes_without_retry() {
    let cases = [
        (code::INVALID_TXN_STATE, ResumeOutcome::NothingPending),
        (code::PRODUCER_FENCED, ResumeOutcome::Fenced),
        (code::INVALID_PRODUCER_EPOCH, ResumeOutcome::Fenced),
        (code::INVALID_PRODUCER_ID_MAPPING, ResumeOutcome::Fenced),
    ];
    for (error, outcome) in cases {
        let broker = FakeBroker::start(Script::kafka4().end_txn_errors(&[error]));
        assert_eq!(end(&broker, true).unwrap(), outcome, "error code {error}");
        assert_received(&broker.received(), 4, 1, 4, 1, true);
    }
}

#[test]
fn other_end_txn_errors_name_code_transaction_and_coordinator() {
    for (error, name) in [(999, "UNKNOWN"), (53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED")] {
        let coordinator = FakeBroker::start(Script::kafka4().end_txn_errors(&[error]));
        let bootstrap = FakeBroker::start(Script::kafka4().coordinator(coordinator.addr));
        let (class, text) = error_text(end(&bootstrap, true));
        assert_eq!(class, ErrorClass::External);
        for part in [
            &format!("error code {error} ({name})"),
            TXN_ID,
            &coordinator.bootstrap(),
        ] {
            assert!(text.contains(part), "'{part}' missing in: {text}");
        }
        assert_eq!(coordinator.received().end_txn.len(), 1, "not retried");
    }
}

#[test]
fn fatal_find_coordinator_error_names_code_and_message() {
    let broker = FakeBroker::start(Script::kafka4().find_errors(&[53]));
    let (class, text) = error_text(end(&broker, true));
    assert_eq!(class, ErrorClass::External);
    assert!(
        text.contains("error code 53 (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): scripted"),
        "{text}"
    );
    assert!(text.contains(TXN_ID), "{text}");
}

#[test]
fn refused_bootstrap_server_is_skipped() {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let broker = FakeBroker::start(Script::kafka4());
    let servers = [dead_addr, broker.bootstrap()];
    assert_eq!(
        end_prepared_transaction(&config(&servers), &txn(), true).unwrap(),
        ResumeOutcome::Committed
    );
    assert_received(&broker.received(), 4, 1, 4, 1, true);
}

#[test]
fn silent_broker_fails_within_the_deadline() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap(); // connects via the backlog, never answers
    let mut config = config(&[silent.local_addr().unwrap().to_string()]);
    config.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (class, text) = error_text(end_prepared_transaction(&config, &txn(), true));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(class, ErrorClass::External);
    assert!(
        text.contains("did not complete within 300ms") && text.contains(TXN_ID),
        "{text}"
    );
}

#[test]
fn unreachable_cluster_fails_within_the_deadline() {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(&[dead.local_addr().unwrap().to_string()]);
    drop(dead);
    config.timeout = Duration::from_millis(400);
    let started = Instant::now();
    let (class, text) = error_text(end_prepared_transaction(&config, &txn(), true));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(class, ErrorClass::External);
    assert!(text.contains("cannot connect"), "{text}");
}

#[test]
fn missing_versions_are_unsupported() {
    let mut no_end_txn = Script::kafka4();
    no_end_txn.api_versions.retain(|&(key, _, _)| key != wire::END_TXN);
    // Only EndTxn v5, which is never sent; and FindCoordinator only v0.
    for script in [
        no_end_txn,
        Script::versions((1, 4), (5, 5)),
        Script::versions((0, 0), (0, 4)),
    ] {
        let broker = FakeBroker::start(script);
        let (class, text) = error_text(end(&broker, true));
        assert_eq!(class, ErrorClass::External);
        assert!(
            text.contains("UNSUPPORTED_VERSION") && text.contains(&broker.bootstrap()),
            "{text}"
        );
        assert!(broker.received().end_txn.is_empty());
    }
}

#[test]
fn something_that_is_not_kafka_is_refused() {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = http.accept() {
            let _ = stream.read(&mut [0u8; 64]);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let (class, text) = error_text(end_prepared_transaction(&config(&[addr]), &txn(), true));
    assert_eq!(class, ErrorClass::External);
    assert!(text.contains("is this a Kafka broker?"), "{text}");
}

#[test]
fn bad_configuration_is_a_config_error() {
    let good = config(&["localhost:9092".to_string()]);
    let mut cases: Vec<(TxnClientConfig, PreparedTransaction)> = Vec::new();
    for servers in [
        vec![],
        vec!["localhost"],
        vec!["localhost:9092", ":9092"],
        vec!["h:0"],
        vec!["h:x"],
    ] {
        let servers: Vec<String> = servers.into_iter().map(String::from).collect();
        cases.push((config(&servers), txn()));
    }
    cases.push((
        TxnClientConfig {
            timeout: Duration::ZERO,
            ..good.clone()
        },
        txn(),
    ));
    cases.push((
        good.clone(),
        PreparedTransaction {
            transactional_id: String::new(),
            ..txn()
        },
    ));
    cases.push((
        good.clone(),
        PreparedTransaction {
            producer_id: -1,
            ..txn()
        },
    ));
    cases.push((
        good,
        PreparedTransaction {
            producer_epoch: -1,
            ..txn()
        },
    ));
    for (config, txn) in cases {
        let result = end_prepared_transaction(&config, &txn, true);
        assert!(
            matches!(result, Err(Error::Config(_))),
            "{config:?} {txn:?}: {result:?}"
        );
    }
}

#[test]
fn parses_broker_addresses() {
    assert_eq!(
        parse_broker(" kafka-0.kafka:9092 ").unwrap().to_string(),
        "kafka-0.kafka:9092"
    );
    assert_eq!(parse_broker("[::1]:9093").unwrap().to_string(), "[::1]:9093");
    assert!(parse_broker("::1:9092").is_err(), "IPv6 needs brackets");
    assert!(parse_broker("host:65536").is_err());
}

/// The fake broker decodes what the client encodes, at every version.
#[test]
fn requests_decode_back() {
    for version in wire::END_TXN_VERSIONS {
        let frame = wire::encode_end_txn_request(version, 9, "freshet", &expected_request(true)).unwrap();
        let (header, body) = wire::decode_request_header(&frame[4..]).unwrap();
        let expected = RequestHeader {
            api_key: wire::END_TXN,
            api_version: version,
            correlation_id: 9,
            client_id: Some("freshet".into()),
        };
        assert_eq!(header, expected);
        assert_eq!(
            wire::decode_end_txn_request(version, body).unwrap(),
            expected_request(true)
        );
    }
    for version in wire::FIND_COORDINATOR_VERSIONS {
        let frame = wire::encode_find_coordinator_request(version, 9, "freshet", TXN_ID).unwrap();
        let (header, body) = wire::decode_request_header(&frame[4..]).unwrap();
        assert_eq!((header.api_key, header.api_version), (wire::FIND_COORDINATOR, version));
        assert_eq!(
            wire::decode_find_coordinator_request(version, body).unwrap(),
            (1, vec![TXN_ID.to_string()])
        );
    }
}

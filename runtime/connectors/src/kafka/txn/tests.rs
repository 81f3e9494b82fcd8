//! Byte-exact fixtures of the wire format, written by hand from the Kafka protocol
//! definitions (the `*Request.json` / `*Response.json` message specs). The client against a
//! fake broker is tested in `client_tests.rs`.

use super::codec::{Reader, Writer};
use super::wire::*;

/// Concatenates fixture pieces.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Request header v1 for client id "freshet": api key, version, correlation id, client id.
fn header_v1(api_key: u8, version: u8, correlation_id: u8) -> Vec<u8> {
    cat(&[
        &[0, api_key],
        &[0, version],
        &[0, 0, 0, correlation_id],
        &[0, 7],
        b"freshet",
    ])
}

/// Request header v2: v1 plus an empty tagged-field section.
fn header_v2(api_key: u8, version: u8, correlation_id: u8) -> Vec<u8> {
    cat(&[&header_v1(api_key, version, correlation_id), &[0]])
}

/// Prefixes a frame with its int32 length.
fn framed(frame: Vec<u8>) -> Vec<u8> {
    cat(&[&(frame.len() as u32).to_be_bytes(), &frame])
}

fn end_txn(committed: bool) -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: "txn-1".into(),
        producer_id: 4242,
        producer_epoch: 3,
        committed,
    }
}

const PRODUCER_ID_4242: &[u8] = &[0, 0, 0, 0, 0, 0, 0x10, 0x92]; // int64 4242 = 0x1092
const PORT_9092: &[u8] = &[0, 0, 0x23, 0x84]; // int32 9092 = 0x2384

#[test]
fn api_versions_v0_request() {
    let expected = cat(&[
        &[0, 0, 0, 17], // length: 2 + 2 + 4 + (2 + 7); ApiVersions v0 has an empty body
        &[0, 18],       // api key 18 (ApiVersions)
        &[0, 0],        // version 0
        &[0, 0, 0, 1],  // correlation id 1
        &[0, 7],        // client id: int16 length 7
        b"freshet",
    ]);
    assert_eq!(encode_api_versions_request(1, "freshet").unwrap(), expected);
}

#[test]
fn find_coordinator_v1_to_v4_requests() {
    for version in [1u8, 2] {
        // v1/v2: Key (int16 string), KeyType (int8); header v1
        let body: &[u8] = &[0, 5, b't', b'x', b'n', b'-', b'1', 1];
        let expected = framed(cat(&[&header_v1(10, version, 2), body]));
        assert_eq!(
            encode_find_coordinator_request(version.into(), 2, "freshet", "txn-1").unwrap(),
            expected
        );
    }
    // v3: Key (compact string: length + 1 = 6), KeyType, tagged fields; header v2
    let v3 = framed(cat(&[&header_v2(10, 3, 2), &[6], b"txn-1", &[1], &[0]]));
    assert_eq!(v3.len(), 4 + 26);
    assert_eq!(encode_find_coordinator_request(3, 2, "freshet", "txn-1").unwrap(), v3);
    // v4: KeyType, CoordinatorKeys (compact array of 1: 2; compact string), tagged fields
    let v4 = framed(cat(&[&header_v2(10, 4, 2), &[1], &[2], &[6], b"txn-1", &[0]]));
    assert_eq!(encode_find_coordinator_request(4, 2, "freshet", "txn-1").unwrap(), v4);
}

#[test]
fn end_txn_requests() {
    for version in [0u8, 1, 2] {
        // TransactionalId (int16 string), ProducerId int64, ProducerEpoch int16, Committed bool
        let body = cat(&[&[0, 5], b"txn-1", PRODUCER_ID_4242, &[0, 3], &[1]]);
        let expected = framed(cat(&[&header_v1(26, version, 3), &body]));
        assert_eq!(expected[..4], [0, 0, 0, 35]);
        assert_eq!(
            encode_end_txn_request(version.into(), 3, "freshet", &end_txn(true)).unwrap(),
            expected
        );
    }
    for version in [3u8, 4, 5] {
        // flexible: compact string, same fixed fields, then tagged fields; abort this time
        let body = cat(&[&[6], b"txn-1", PRODUCER_ID_4242, &[0, 3], &[0], &[0]]);
        let expected = framed(cat(&[&header_v2(26, version, 3), &body]));
        assert_eq!(expected[..4], [0, 0, 0, 36]);
        assert_eq!(
            encode_end_txn_request(version.into(), 3, "freshet", &end_txn(false)).unwrap(),
            expected
        );
    }
}

#[test]
fn long_compact_strings_use_multi_byte_varints() {
    let id = "t".repeat(200);
    let request = EndTxnRequest {
        transactional_id: id.clone(),
        ..end_txn(true)
    };
    let frame = encode_end_txn_request(3, 3, "freshet", &request).unwrap();
    let body = &frame[4 + 18..]; // after the length and header v2
    assert_eq!(body[..2], [0xc9, 0x01]); // 201 = 0b1_1001001 → 0xc9 0x01
    assert_eq!(&body[2..202], id.as_bytes());
}

#[test]
fn unimplemented_versions_and_oversized_strings_are_refused() {
    assert!(encode_find_coordinator_request(0, 1, "c", "t").is_err());
    assert!(encode_find_coordinator_request(5, 1, "c", "t").is_err());
    assert!(encode_end_txn_request(6, 1, "c", &end_txn(true)).is_err());
    assert!(encode_end_txn_request(-1, 1, "c", &end_txn(true)).is_err());
    assert!(decode_end_txn_response(6, &[0; 16]).is_err());
    assert!(encode_api_versions_request(1, &"c".repeat(40_000)).is_err());
}

#[test]
fn varints() {
    let cases: [(u32, &[u8]); 5] = [
        (0, &[0]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (300, &[0xac, 0x02]),
        (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ];
    for (value, bytes) in cases {
        let mut w = Writer::frame();
        w.uvarint(value);
        assert_eq!(&w.finish().unwrap()[4..], bytes, "{value}");
        assert_eq!(Reader::new(bytes).uvarint("v"), Ok(value));
    }
    for bad in [&[0xff, 0xff, 0xff, 0xff, 0x1f][..], &[0x80; 6], &[0x80]] {
        assert!(Reader::new(bad).uvarint("v").is_err(), "{bad:?}");
    }
}

/// An ApiVersions v0 response frame, without its length prefix.
fn api_versions_response() -> Vec<u8> {
    cat(&[
        &[0, 0, 0, 1],        // correlation id 1 (header v0)
        &[0, 0],              // error code 0
        &[0, 0, 0, 3],        // 3 api keys
        &[0, 18, 0, 0, 0, 4], // ApiVersions 0..4
        &[0, 10, 0, 1, 0, 6], // FindCoordinator 1..6
        &[0, 26, 0, 0, 0, 5], // EndTxn 0..5
    ])
}

#[test]
fn api_versions_v0_response() {
    let frame = api_versions_response();
    let (correlation_id, body) = decode_response_header(&frame, false).unwrap();
    assert_eq!(correlation_id, 1);
    let response = decode_api_versions_response(body).unwrap();
    assert_eq!(response.error_code, 0);
    assert_eq!(
        response.api_keys[1],
        ApiVersionRange {
            api_key: 10,
            min_version: 1,
            max_version: 6
        }
    );
    assert_eq!(response.pick(FIND_COORDINATOR, FIND_COORDINATOR_VERSIONS), Some(4));
    assert_eq!(response.pick(END_TXN, 0..=4), Some(4));
    assert_eq!(response.pick(END_TXN, 6..=7), None);
    assert_eq!(response.pick(22, 0..=4), None); // not advertised
                                                // An error answer (UNSUPPORTED_VERSION) with the ApiVersions range only.
    let error = decode_api_versions_response(&[0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3]).unwrap();
    assert_eq!((error.error_code, error.api_keys.len()), (35, 1));
}

fn coordinator(node_id: i32, host: &str, port: i32, error_code: i16, message: Option<&str>) -> Coordinator {
    let error_message = message.map(String::from);
    Coordinator {
        key: None,
        node_id,
        host: host.into(),
        port,
        error_code,
        error_message,
    }
}

#[test]
fn find_coordinator_v1_and_v2_responses() {
    // ThrottleTimeMs, ErrorCode, ErrorMessage (nullable int16 string), NodeId, Host, Port
    let ok = cat(&[
        &[0, 0, 0, 0],
        &[0, 0],
        &[0xff, 0xff],
        &[0, 0, 0, 2],
        &[0, 8],
        b"broker-2",
        PORT_9092,
    ]);
    let response = decode_find_coordinator_response(1, &ok).unwrap();
    assert_eq!(response.coordinators, vec![coordinator(2, "broker-2", 9092, 0, None)]);
    assert_eq!(response.coordinator_for("any key"), Some(&response.coordinators[0]));
    let minus_one: &[u8] = &[0xff; 4];
    let error = cat(&[
        &[0, 0, 0, 10],
        &[0, 15],
        &[0, 7],
        b"not yet",
        minus_one,
        &[0, 0],
        minus_one,
    ]);
    let response = decode_find_coordinator_response(2, &error).unwrap();
    assert_eq!(response.throttle_time_ms, 10);
    assert_eq!(
        response.coordinators,
        vec![coordinator(-1, "", -1, 15, Some("not yet"))]
    );
}

#[test]
fn find_coordinator_v3_response_skips_unknown_tagged_fields() {
    let frame = cat(&[
        &[0, 0, 0, 7],          // correlation id 7
        &[1, 3, 2, 0xab, 0xcd], // header tagged fields: 1 field, tag 3, 2 bytes
        &[0, 0, 0, 0],          // throttle time
        &[0, 0],                // error code
        &[0],                   // error message: compact null
        &[0, 0, 0, 2],          // node id
        &[9],                   // host: compact length 8 + 1
        b"broker-2",
        PORT_9092,
        &[2, 0, 1, 0x01, 0xac, 0x02, 0], // 2 tagged fields: tag 0 (1 byte), tag 300 (empty)
    ]);
    let (correlation_id, body) = decode_response_header(&frame, true).unwrap();
    assert_eq!(correlation_id, 7);
    let response = decode_find_coordinator_response(3, body).unwrap();
    assert_eq!(response.coordinators, vec![coordinator(2, "broker-2", 9092, 0, None)]);
}

#[test]
fn find_coordinator_v4_response_has_one_entry_per_key() {
    let body = cat(&[
        &[0, 0, 0, 0], // throttle time
        &[3],          // Coordinators: compact array of 2
        &[6],
        b"txn-1",
        &[0, 0, 0, 2],
        &[9],
        b"broker-2",
        PORT_9092,
        &[0, 0],
        &[0],
        &[0],
        &[6],
        b"txn-2",
        &[0xff; 4],
        &[1],
        &[0xff; 4],
        &[0, 14],
        &[8],
        b"loading",
        &[1, 9, 1, 0x00], // this entry's tagged fields: tag 9, 1 byte
        &[0],             // top-level tagged fields
    ]);
    let response = decode_find_coordinator_response(4, &body).unwrap();
    let first = Coordinator {
        key: Some("txn-1".into()),
        ..coordinator(2, "broker-2", 9092, 0, None)
    };
    let second = Coordinator {
        key: Some("txn-2".into()),
        ..coordinator(-1, "", -1, 14, Some("loading"))
    };
    assert_eq!(response.coordinator_for("txn-1"), Some(&first));
    assert_eq!(response.coordinator_for("txn-2"), Some(&second));
    assert_eq!(response.coordinator_for("txn-3"), None);
}

#[test]
fn end_txn_responses() {
    let decode = |version, body: &[u8]| decode_end_txn_response(version, body).unwrap();
    let plain = |error_code| EndTxnResponse {
        throttle_time_ms: 0,
        error_code,
        producer_id: None,
        producer_epoch: None,
    };
    // v0–v2: ThrottleTimeMs, ErrorCode
    assert_eq!(decode(0, &[0, 0, 0, 0, 0, 0]), plain(0));
    assert_eq!(
        decode(2, &[0, 0, 0, 5, 0, 48]),
        EndTxnResponse {
            throttle_time_ms: 5,
            ..plain(48)
        }
    );
    // v3/v4: + tagged fields (here an unknown one: tag 2, 2 bytes)
    assert_eq!(decode(3, &[0, 0, 0, 0, 0, 90, 1, 2, 2, 0xde, 0xad]), plain(90));
    assert_eq!(decode(4, &[0, 0, 0, 0, 0, 51, 0]), plain(51));
    // v5: + ProducerId int64, ProducerEpoch int16 before the tagged fields
    let v5 = cat(&[&[0, 0, 0, 0], &[0, 0], PRODUCER_ID_4242, &[0, 4], &[0]]);
    let expected = EndTxnResponse {
        producer_id: Some(4242),
        producer_epoch: Some(4),
        ..plain(0)
    };
    assert_eq!(decode(5, &v5), expected);
}

/// Response frames without their length prefix, as (api key, version, frame).
fn response_fixtures() -> Vec<(i16, i16, Vec<u8>)> {
    let mut frames = vec![(API_VERSIONS, 0, api_versions_response())];
    let end_v3 = cat(&[&[0, 0, 0, 9], &[0], &[0, 0, 0, 0, 0, 90, 1, 2, 2, 0xde, 0xad]]);
    frames.push((END_TXN, 3, end_v3));
    let end_v5 = cat(&[&[0, 0, 0, 9], &[0], &[0, 0, 0, 0, 0, 0], PRODUCER_ID_4242, &[0, 4, 0]]);
    frames.push((END_TXN, 5, end_v5));
    let find_v1 = cat(&[
        &[0, 0, 0, 9],
        &[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 2, 0, 1, b'b'],
        PORT_9092,
    ]);
    frames.push((FIND_COORDINATOR, 1, find_v1));
    let entry = cat(&[&[6], b"txn-1", &[0, 0, 0, 2, 2, b'b'], PORT_9092, &[0, 0, 0, 0]]);
    let find_v4 = cat(&[&[0, 0, 0, 9], &[1, 3, 2, 0xab, 0xcd], &[0, 0, 0, 0, 2], &entry, &[0]]);
    frames.push((FIND_COORDINATOR, 4, find_v4));
    frames
}

fn decode_any(api_key: i16, version: i16, frame: &[u8]) -> Result<(), super::codec::WireError> {
    let flexible = api_key != API_VERSIONS && is_flexible(api_key, version);
    let (_, body) = decode_response_header(frame, flexible)?;
    match api_key {
        API_VERSIONS => decode_api_versions_response(body).map(drop),
        FIND_COORDINATOR => decode_find_coordinator_response(version, body).map(drop),
        _ => decode_end_txn_response(version, body).map(drop),
    }
}

#[test]
fn truncated_responses_are_errors() {
    for (api_key, version, frame) in response_fixtures() {
        decode_any(api_key, version, &frame).unwrap();
        for len in 0..frame.len() {
            assert!(
                decode_any(api_key, version, &frame[..len]).is_err(),
                "api {api_key} v{version}, {len} bytes"
            );
        }
    }
}

#[test]
fn corrupted_responses_never_panic() {
    for (api_key, version, frame) in response_fixtures() {
        for i in 0..frame.len() {
            for byte in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut corrupt = frame.clone();
                corrupt[i] = byte;
                let _ = decode_any(api_key, version, &corrupt);
            }
        }
    }
}

#[test]
fn absurd_lengths_are_refused_without_allocating() {
    let huge_array = [0, 0, 0x7f, 0xff, 0xff, 0xff];
    assert!(decode_api_versions_response(&huge_array).is_err());
    let huge_compact = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(decode_find_coordinator_response(4, &huge_compact).is_err());
    let negative_host = cat(&[&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 2], &[0xff, 0xfe], PORT_9092]);
    assert!(decode_find_coordinator_response(1, &negative_host).is_err());
    let not_utf8 = cat(&[&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 2], &[0, 1, 0xc3], PORT_9092]);
    assert!(decode_find_coordinator_response(1, &not_utf8).is_err());
}

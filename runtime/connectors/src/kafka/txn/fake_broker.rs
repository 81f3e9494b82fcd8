//! A scripted fake Kafka broker on loopback for the client tests. It decodes every request
//! with the module's own decoders, records it, and answers ApiVersions, FindCoordinator and
//! EndTxn as its [`Script`] says.

use super::codec::Writer;
use super::wire::{self, EndTxnRequest};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

/// What the fake answers.
#[derive(Clone, Debug)]
pub struct Script {
    /// `(api key, min version, max version)` advertised by ApiVersions.
    pub api_versions: Vec<(i16, i16, i16)>,
    /// Where FindCoordinator points; `None`: at this broker.
    pub coordinator: Option<SocketAddr>,
    /// Error codes of the first FindCoordinator answers; 0 once used up.
    pub find_errors: VecDeque<i16>,
    /// Error codes of the first EndTxn answers; 0 once used up.
    pub end_txn_errors: VecDeque<i16>,
    /// Whether flexible responses carry an unknown tagged field (tag 7, 3 bytes) in every
    /// tagged-field section, header included.
    pub unknown_tagged_field: bool,
}

impl Script {
    /// A broker advertising FindCoordinator `find` and EndTxn `end` (min, max) ranges.
    pub fn versions(find: (i16, i16), end: (i16, i16)) -> Self {
        Script {
            api_versions: vec![
                (0, 3, 11), // Produce: ignored by the client
                (wire::API_VERSIONS, 0, 4),
                (wire::FIND_COORDINATOR, find.0, find.1),
                (wire::END_TXN, end.0, end.1),
            ],
            coordinator: None,
            find_errors: VecDeque::new(),
            end_txn_errors: VecDeque::new(),
            unknown_tagged_field: true,
        }
    }

    /// The ranges of a Kafka 4.0 broker: FindCoordinator v1–v6, EndTxn v0–v5.
    pub fn kafka4() -> Self {
        Script::versions((1, 6), (0, 5))
    }

    /// Answers EndTxn with these error codes first.
    pub fn end_txn_errors(mut self, codes: &[i16]) -> Self {
        self.end_txn_errors = codes.iter().copied().collect();
        self
    }

    /// Answers FindCoordinator with these error codes first.
    pub fn find_errors(mut self, codes: &[i16]) -> Self {
        self.find_errors = codes.iter().copied().collect();
        self
    }

    /// Points FindCoordinator at another broker.
    pub fn coordinator(mut self, addr: SocketAddr) -> Self {
        self.coordinator = Some(addr);
        self
    }
}

/// What the fake received.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// Connections accepted.
    pub connections: usize,
    /// ApiVersions requests.
    pub api_versions: usize,
    /// FindCoordinator requests: version, key type, keys.
    pub find_coordinator: Vec<(i16, i8, Vec<String>)>,
    /// EndTxn requests: version, body.
    pub end_txn: Vec<(i16, EndTxnRequest)>,
    /// The client id of every request.
    pub client_ids: Vec<Option<String>>,
    /// Requests the fake could not decode or did not expect.
    pub problems: Vec<String>,
}

struct State {
    addr: SocketAddr,
    script: Script,
    received: Received,
}

/// A running fake broker. Its threads live until the test process ends.
pub struct FakeBroker {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeBroker {
    /// Starts listening on an ephemeral loopback port.
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake broker");
        let addr = listener.local_addr().expect("fake broker address");
        let state = Arc::new(Mutex::new(State {
            addr,
            script,
            received: Received::default(),
        }));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                lock(&shared).received.connections += 1;
                let shared = Arc::clone(&shared);
                thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeBroker { addr, state }
    }

    /// `host:port` for the bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// What it received so far.
    pub fn received(&self) -> Received {
        lock(&self.state).received.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(len).clamp(0, 1 << 20) as usize];
        if stream.read_exact(&mut frame).is_err() {
            return;
        }
        let answer = answer(&mut lock(state), &frame);
        match answer {
            Ok(bytes) if stream.write_all(&bytes).is_ok() => {}
            Ok(_) => return,
            Err(problem) => {
                lock(state).received.problems.push(problem);
                return;
            }
        }
    }
}

fn answer(state: &mut State, frame: &[u8]) -> Result<Vec<u8>, String> {
    let (header, body) = wire::decode_request_header(frame).map_err(|e| e.to_string())?;
    let version = header.api_version;
    let flexible = wire::is_flexible(header.api_key, version);
    let tagged = state.script.unknown_tagged_field;
    state.received.client_ids.push(header.client_id.clone());
    let bad = |e: super::codec::WireError| format!("api {} v{version}: {e}", header.api_key);
    match header.api_key {
        wire::API_VERSIONS => {
            state.received.api_versions += 1;
            let mut w = response(header.correlation_id, false, false); // always header v0
            w.i16(0);
            w.i32(state.script.api_versions.len() as i32);
            for &(key, min, max) in &state.script.api_versions {
                w.i16(key);
                w.i16(min);
                w.i16(max);
            }
            w.finish().map_err(bad)
        }
        wire::FIND_COORDINATOR => {
            let (key_type, keys) = wire::decode_find_coordinator_request(version, body).map_err(bad)?;
            state.received.find_coordinator.push((version, key_type, keys.clone()));
            let error = state.script.find_errors.pop_front().unwrap_or(0);
            let target = state.script.coordinator.unwrap_or(state.addr);
            let mut w = response(header.correlation_id, flexible, tagged);
            w.i32(0); // throttle time
            let host = target.ip().to_string();
            let port = i32::from(target.port());
            if version < 4 {
                w.i16(error);
                if flexible {
                    w.uvarint(0); // null error message
                    w.i32(1);
                    w.compact_string(&host).map_err(bad)?;
                } else {
                    w.i16(-1); // null error message
                    w.i32(1);
                    w.string(&host).map_err(bad)?;
                }
                w.i32(port);
            } else {
                w.compact_len(keys.len()).map_err(bad)?;
                for key in &keys {
                    w.compact_string(key).map_err(bad)?;
                    w.i32(1);
                    w.compact_string(&host).map_err(bad)?;
                    w.i32(port);
                    w.i16(error);
                    w.compact_string("scripted").map_err(bad)?;
                    tagged_fields(&mut w, tagged);
                }
            }
            if flexible {
                tagged_fields(&mut w, tagged);
            }
            w.finish().map_err(bad)
        }
        wire::END_TXN => {
            let request = wire::decode_end_txn_request(version, body).map_err(bad)?;
            let error = state.script.end_txn_errors.pop_front().unwrap_or(0);
            let mut w = response(header.correlation_id, flexible, tagged);
            w.i32(0); // throttle time
            w.i16(error);
            if version >= 5 {
                w.i64(request.producer_id);
                w.i16(request.producer_epoch + 1);
            }
            if flexible {
                tagged_fields(&mut w, tagged);
            }
            state.received.end_txn.push((version, request));
            w.finish().map_err(bad)
        }
        other => Err(format!("unexpected api key {other}")),
    }
}

/// A response frame with its header: v0, or v1 (tagged fields) when `flexible`.
fn response(correlation_id: i32, flexible: bool, tagged: bool) -> Writer {
    let mut w = Writer::frame();
    w.i32(correlation_id);
    if flexible {
        tagged_fields(&mut w, tagged);
    }
    w
}

fn tagged_fields(w: &mut Writer, unknown: bool) {
    if unknown {
        w.uvarint(1); // one field
        w.uvarint(7); // tag
        w.uvarint(3); // size
        w.raw(b"xyz");
    } else {
        w.empty_tagged_fields();
    }
}

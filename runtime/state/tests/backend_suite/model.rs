//! Model check: random operation sequences against a `BTreeMap` reference, with snapshot and
//! restore as one of the operations.

use crate::support::*;
use freshet_core::{CheckpointKind, KeyGroup};
use freshet_state::BackendKind;
use proptest::prelude::*;
use std::collections::BTreeMap;

const KEYS: [&[u8]; 4] = [b"", b"a", b"ab", b"b"];
const NAMESPACES: [&[u8]; 3] = [b"", b"b", b"\x00"];
const STATES: [&str; 2] = ["values", "maps"];

#[derive(Clone, Debug)]
enum Op {
    Put {
        s: usize,
        kg: u16,
        k: usize,
        n: usize,
        v: Vec<u8>,
    },
    Delete {
        s: usize,
        kg: u16,
        k: usize,
        n: usize,
    },
    MapPut {
        s: usize,
        kg: u16,
        k: usize,
        n: usize,
        uk: u8,
        v: Vec<u8>,
    },
    MapDelete {
        s: usize,
        kg: u16,
        k: usize,
        n: usize,
        uk: u8,
    },
    MapClear {
        s: usize,
        kg: u16,
        k: usize,
        n: usize,
    },
    SnapshotRestore {
        savepoint: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let addr = (0..2usize, 0..4u16, 0..KEYS.len(), 0..NAMESPACES.len());
    let value = proptest::collection::vec(any::<u8>(), 0..6);
    prop_oneof![
        4 => (addr.clone(), value.clone()).prop_map(|((s, kg, k, n), v)| Op::Put { s, kg, k, n, v }),
        2 => addr.clone().prop_map(|(s, kg, k, n)| Op::Delete { s, kg, k, n }),
        4 => (addr.clone(), 0..4u8, value).prop_map(|((s, kg, k, n), uk, v)| Op::MapPut { s, kg, k, n, uk, v }),
        2 => (addr.clone(), 0..4u8).prop_map(|((s, kg, k, n), uk)| Op::MapDelete { s, kg, k, n, uk }),
        1 => addr.prop_map(|(s, kg, k, n)| Op::MapClear { s, kg, k, n }),
        1 => any::<bool>().prop_map(|savepoint| Op::SnapshotRestore { savepoint }),
    ]
}

type Addr = (usize, u16, usize, usize);

#[derive(Default)]
struct Model {
    values: BTreeMap<Addr, Vec<u8>>,
    maps: BTreeMap<Addr, BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn run_model(kind: BackendKind, ops: &[Op]) -> Result<(), TestCaseError> {
    block_on(async {
        let env = env();
        let r = range(0, 4);
        let mut b = backend(kind, r, &env);
        let ids: Vec<_> = STATES.iter().map(|s| b.register_state(s).unwrap()).collect();
        let mut model = Model::default();
        for op in ops {
            match op.clone() {
                Op::Put { s, kg, k, n, v } => {
                    b.put(ids[s], KeyGroup(kg), KEYS[k], NAMESPACES[n], &v).unwrap();
                    model.values.insert((s, kg, k, n), v);
                }
                Op::Delete { s, kg, k, n } => {
                    b.delete(ids[s], KeyGroup(kg), KEYS[k], NAMESPACES[n]).unwrap();
                    model.values.remove(&(s, kg, k, n));
                }
                Op::MapPut { s, kg, k, n, uk, v } => {
                    b.map_put(ids[s], KeyGroup(kg), KEYS[k], NAMESPACES[n], &[uk], &v)
                        .unwrap();
                    model.maps.entry((s, kg, k, n)).or_default().insert(vec![uk], v);
                }
                Op::MapDelete { s, kg, k, n, uk } => {
                    b.map_delete(ids[s], KeyGroup(kg), KEYS[k], NAMESPACES[n], &[uk])
                        .unwrap();
                    if let Some(m) = model.maps.get_mut(&(s, kg, k, n)) {
                        m.remove(&vec![uk]);
                    }
                }
                Op::MapClear { s, kg, k, n } => {
                    b.map_clear(ids[s], KeyGroup(kg), KEYS[k], NAMESPACES[n]).unwrap();
                    model.maps.remove(&(s, kg, k, n));
                }
                Op::SnapshotRestore { savepoint } => {
                    let kind_of = if savepoint {
                        CheckpointKind::Savepoint
                    } else {
                        CheckpointKind::Checkpoint
                    };
                    let handle = snapshot(b.as_mut(), &env, kind_of).await;
                    b = restore(kind, r, &[handle], &env).await;
                    for (i, s) in STATES.iter().enumerate() {
                        prop_assert_eq!(b.register_state(s).unwrap(), ids[i]);
                    }
                }
            }
        }
        for (s, &id) in ids.iter().enumerate() {
            for kg in 0..4u16 {
                let mut scanned = BTreeMap::new();
                b.scan(id, KeyGroup(kg), &mut |k, n, v| {
                    scanned.insert((k.to_vec(), n.to_vec()), v.to_vec());
                    Ok(())
                })
                .unwrap();
                let want: BTreeMap<_, _> = model
                    .values
                    .iter()
                    .filter(|(a, _)| a.0 == s && a.1 == kg)
                    .map(|(a, v)| ((KEYS[a.2].to_vec(), NAMESPACES[a.3].to_vec()), v.clone()))
                    .collect();
                prop_assert_eq!(&scanned, &want, "scan of state {} kg {}", s, kg);
                for (k, key) in KEYS.iter().enumerate() {
                    for (n, ns) in NAMESPACES.iter().enumerate() {
                        let got = b.get(id, KeyGroup(kg), key, ns).unwrap().map(|v| v.into_owned());
                        prop_assert_eq!(got.as_ref(), model.values.get(&(s, kg, k, n)));
                        let entries = b.map_entries(id, KeyGroup(kg), key, ns).unwrap();
                        let want: Vec<_> = model
                            .maps
                            .get(&(s, kg, k, n))
                            .map(|m| m.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
                            .unwrap_or_default();
                        prop_assert_eq!(&entries, &want);
                        for uk in 0..4u8 {
                            let got = b.map_get(id, KeyGroup(kg), key, ns, &[uk]).unwrap();
                            let want = model.maps.get(&(s, kg, k, n)).and_then(|m| m.get(&vec![uk]));
                            prop_assert_eq!(got.as_deref(), want.map(Vec::as_slice));
                        }
                    }
                }
            }
        }
        Ok(())
    })
}

pub fn model_check(kind: BackendKind) {
    let cases = match kind {
        BackendKind::Heap => 128,
        BackendKind::Rocksdb => 24,
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    runner
        .run(&proptest::collection::vec(op(), 1..60), |ops| run_model(kind, &ops))
        .unwrap();
}

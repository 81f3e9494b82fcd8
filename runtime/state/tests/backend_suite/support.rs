//! Shared helpers: environments, snapshot/restore round trips, deterministic test data.

use freshet_core::{CheckpointId, CheckpointKind, KeyGroup, KeyGroupRange, OperatorUid, SubtaskIndex};
use freshet_state::backend::SnapshotTarget;
use freshet_state::snapshot_format::{check_file_header, SectionReader};
use freshet_state::{
    new_keyed_backend, restore_keyed_backend, BackendKind, CheckpointStorage, KeyedStateBackend, KeyedStateHandle,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub type Backend = Box<dyn KeyedStateBackend>;

/// A scratch local dir and a checkpoint storage on its own temp dir.
pub struct Env {
    pub local: tempfile::TempDir,
    _remote: tempfile::TempDir,
    pub storage: Arc<CheckpointStorage>,
}

pub fn env() -> Env {
    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let storage = Arc::new(CheckpointStorage::local(remote.path()).unwrap());
    Env {
        local,
        _remote: remote,
        storage,
    }
}

pub fn range(start: u16, end: u16) -> KeyGroupRange {
    KeyGroupRange { start, end }
}

pub fn backend(kind: BackendKind, r: KeyGroupRange, env: &Env) -> Backend {
    new_keyed_backend(kind, r, env.local.path()).unwrap()
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Ids for snapshots taken by helpers; tests that pick ids themselves use ones below 1000.
pub static NEXT_ID: AtomicU64 = AtomicU64::new(1000);

/// Snapshots `b` as checkpoint `id` of subtask `subtask` and uploads it. Checkpoints get a
/// shared directory, savepoints do not.
pub async fn snapshot_as(
    b: &mut dyn KeyedStateBackend,
    env: &Env,
    id: u64,
    kind: CheckpointKind,
    subtask: u32,
) -> KeyedStateHandle {
    let snapshot = b.snapshot(CheckpointId(id), kind).unwrap();
    let dir = match kind {
        CheckpointKind::Checkpoint => format!("chk-{id}/op/{subtask}"),
        CheckpointKind::Savepoint => format!("savepoint-{id}/op/{subtask}"),
    };
    let target = SnapshotTarget {
        storage: env.storage.clone(),
        checkpoint: CheckpointId(id),
        operator: OperatorUid::new("op"),
        subtask: SubtaskIndex(subtask),
        dir,
        shared_dir: (kind == CheckpointKind::Checkpoint).then(|| "shared/op".to_string()),
    };
    snapshot.upload(target).await.unwrap()
}

pub async fn snapshot(b: &mut dyn KeyedStateBackend, env: &Env, kind: CheckpointKind) -> KeyedStateHandle {
    snapshot_as(b, env, NEXT_ID.fetch_add(1, Ordering::Relaxed), kind, 0).await
}

/// (state, key group, key, namespace, user key) -> value.
pub type Dump = BTreeMap<(String, u16, Vec<u8>, Vec<u8>, Option<Vec<u8>>), Vec<u8>>;

/// Every entry of a backend, read back from a savepoint in the canonical format.
pub async fn dump(b: &mut dyn KeyedStateBackend, env: &Env) -> Dump {
    let handle = snapshot(b, env, CheckpointKind::Savepoint).await;
    let KeyedStateHandle::Full {
        file,
        key_group_offsets,
    } = handle
    else {
        panic!("a savepoint must be in the full format, got {handle:?}");
    };
    let bytes = env.storage.get(&file.path).await.unwrap();
    assert_eq!(bytes.len() as u64, file.size);
    check_file_header(&bytes).unwrap();
    let mut out = Dump::new();
    for (kg, offset, len) in key_group_offsets {
        let section = &bytes[offset as usize..(offset + len) as usize];
        let reader = SectionReader::open(section).unwrap();
        assert_eq!(reader.key_group(), KeyGroup(kg));
        let names: Vec<String> = reader.state_names().iter().map(|s| s.to_string()).collect();
        for e in reader {
            let e = e.unwrap();
            let k = (
                names[e.state as usize].clone(),
                kg,
                e.key.to_vec(),
                e.namespace.to_vec(),
                e.user_key.map(<[u8]>::to_vec),
            );
            assert!(
                out.insert(k.clone(), e.value.to_vec()).is_none(),
                "entry twice in a snapshot: {k:?}"
            );
        }
    }
    out
}

pub async fn restore(kind: BackendKind, r: KeyGroupRange, handles: &[KeyedStateHandle], env: &Env) -> Backend {
    restore_keyed_backend(kind, r, handles, &env.storage, env.local.path())
        .await
        .unwrap()
}

/// Reads the "values" state, which [`load`] always registers first (id 0).
pub fn get_value(b: &dyn KeyedStateBackend, kg: u16, key: &[u8], ns: &[u8]) -> Option<Vec<u8>> {
    b.get(freshet_state::StateId(0), KeyGroup(kg), key, ns)
        .unwrap()
        .map(|v| v.into_owned())
}

/// Deterministic test data: value entries and map entries spread over `r`.
pub fn expected_data(r: KeyGroupRange, per_group: usize) -> Dump {
    let mut out = Dump::new();
    for kg in r.iter() {
        for i in 0..per_group {
            let key = format!("key-{}-{i}", kg.0).into_bytes();
            let ns = format!("w{}", i % 3).into_bytes();
            out.insert(
                ("values".into(), kg.0, key.clone(), ns.clone(), None),
                format!("value-{}-{i}", kg.0).into_bytes(),
            );
            for u in 0..(i % 3) {
                out.insert(
                    (
                        "maps".into(),
                        kg.0,
                        key.clone(),
                        ns.clone(),
                        Some(format!("u{u}").into_bytes()),
                    ),
                    format!("m-{}-{i}-{u}", kg.0).into_bytes(),
                );
            }
        }
    }
    out
}

/// Registers "values" (id 0) and "maps" (id 1) and writes `data`.
pub fn load(b: &mut dyn KeyedStateBackend, data: &Dump) {
    let values = b.register_state("values").unwrap();
    let maps = b.register_state("maps").unwrap();
    assert_eq!((values.0, maps.0), (0, 1));
    for ((state, kg, key, ns, uk), v) in data {
        match uk {
            None => {
                assert_eq!(state, "values");
                b.put(values, KeyGroup(*kg), key, ns, v).unwrap()
            }
            Some(uk) => b.map_put(maps, KeyGroup(*kg), key, ns, uk, v).unwrap(),
        }
    }
}

/// The entries of one map, as `map_entries` returns them.
pub type MapEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// Checks through the read API that `b` holds exactly `expected` (restricted to its range).
pub fn assert_holds(b: &dyn KeyedStateBackend, expected: &Dump, context: &str) {
    let r = b.key_group_range();
    let mut seen_values = 0usize;
    for kg in r.iter() {
        b.scan(freshet_state::StateId(0), kg, &mut |_, _, _| {
            seen_values += 1;
            Ok(())
        })
        .unwrap();
    }
    let mut want_values = 0usize;
    let mut maps: BTreeMap<(u16, Vec<u8>, Vec<u8>), MapEntries> = BTreeMap::new();
    for ((_, kg, key, ns, uk), v) in expected.iter().filter(|(k, _)| r.contains(KeyGroup(k.1))) {
        match uk {
            None => {
                want_values += 1;
                assert_eq!(
                    get_value(b, *kg, key, ns).as_ref(),
                    Some(v),
                    "{context}: value at kg {kg}"
                );
            }
            Some(uk) => maps
                .entry((*kg, key.clone(), ns.clone()))
                .or_default()
                .push((uk.clone(), v.clone())),
        }
    }
    assert_eq!(seen_values, want_values, "{context}: number of value entries");
    for ((kg, key, ns), entries) in maps {
        let got = b
            .map_entries(freshet_state::StateId(1), KeyGroup(kg), &key, &ns)
            .unwrap();
        assert_eq!(got, entries, "{context}: map at kg {kg}");
    }
}

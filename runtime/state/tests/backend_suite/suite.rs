//! The shared suite: each function runs against one backend kind (see `shared_suite!`).

use crate::support::*;
use freshet_core::{CheckpointId, CheckpointKind, KeyGroup, OperatorUid, SubtaskIndex};
use freshet_state::backend::SnapshotTarget;
use freshet_state::{BackendKind, KeyedStateHandle};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

pub fn value_put_get_delete_overwrite(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(0, 8), &env);
    let s = b.register_state("values").unwrap();
    let kg = KeyGroup(3);
    assert_eq!(b.get(s, kg, b"k", b"n").unwrap(), None);
    b.put(s, kg, b"k", b"n", b"one").unwrap();
    assert_eq!(b.get(s, kg, b"k", b"n").unwrap().as_deref(), Some(&b"one"[..]));
    b.put(s, kg, b"k", b"n", b"a longer second value").unwrap();
    assert_eq!(
        b.get(s, kg, b"k", b"n").unwrap().as_deref(),
        Some(&b"a longer second value"[..])
    );
    b.put(s, kg, b"k", b"n", b"").unwrap();
    assert_eq!(
        b.get(s, kg, b"k", b"n").unwrap().as_deref(),
        Some(&b""[..]),
        "empty values are values"
    );
    b.delete(s, kg, b"k", b"n").unwrap();
    assert_eq!(b.get(s, kg, b"k", b"n").unwrap(), None);
    b.delete(s, kg, b"k", b"n").unwrap(); // absent: no error
    b.put(s, kg, b"", b"", b"empty key").unwrap();
    assert_eq!(b.get(s, kg, b"", b"").unwrap().as_deref(), Some(&b"empty key"[..]));
    assert_eq!(b.get(s, KeyGroup(4), b"", b"").unwrap(), None, "key groups isolate");
    assert!(b.approximate_size_bytes() > 0 || kind == BackendKind::Rocksdb);
}

pub fn namespaces_and_states_isolate(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(0, 4), &env);
    let s = b.register_state("a").unwrap();
    let t = b.register_state("b").unwrap();
    let kg = KeyGroup(1);
    b.put(s, kg, b"k", b"ns1", b"1").unwrap();
    b.put(s, kg, b"k", b"ns2", b"2").unwrap();
    b.put(t, kg, b"k", b"ns1", b"other state").unwrap();
    // Key/namespace boundaries are part of the address: ("ab", "c") is not ("a", "bc").
    b.put(s, kg, b"ab", b"c", b"ab|c").unwrap();
    b.put(s, kg, b"a", b"bc", b"a|bc").unwrap();
    assert_eq!(b.get(s, kg, b"k", b"ns1").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(b.get(s, kg, b"k", b"ns2").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(
        b.get(t, kg, b"k", b"ns1").unwrap().as_deref(),
        Some(&b"other state"[..])
    );
    assert_eq!(b.get(t, kg, b"k", b"ns2").unwrap(), None);
    assert_eq!(b.get(s, kg, b"ab", b"c").unwrap().as_deref(), Some(&b"ab|c"[..]));
    assert_eq!(b.get(s, kg, b"a", b"bc").unwrap().as_deref(), Some(&b"a|bc"[..]));
    b.delete(s, kg, b"k", b"ns1").unwrap();
    assert_eq!(b.get(s, kg, b"k", b"ns2").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(
        b.get(t, kg, b"k", b"ns1").unwrap().as_deref(),
        Some(&b"other state"[..])
    );
    // Value and map entries of the same address are distinct.
    b.map_put(s, kg, b"k", b"ns2", b"u", b"map").unwrap();
    assert_eq!(b.get(s, kg, b"k", b"ns2").unwrap().as_deref(), Some(&b"2"[..]));
}

pub fn map_operations(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(0, 4), &env);
    let m = b.register_state("maps").unwrap();
    let kg = KeyGroup(2);
    for uk in [&b"zeta"[..], b"alpha", b"mid", b"", b"alpha2", b"\xff"] {
        b.map_put(m, kg, b"key", b"ns", uk, &[uk, b"!"].concat()).unwrap();
    }
    b.map_put(m, kg, b"key", b"ns2", b"other", b"x").unwrap();
    b.map_put(m, kg, b"key2", b"ns", b"other", b"y").unwrap();
    b.map_put(m, kg, b"key", b"ns", b"mid", b"overwritten").unwrap();
    assert_eq!(
        b.map_get(m, kg, b"key", b"ns", b"mid").unwrap().as_deref(),
        Some(&b"overwritten"[..])
    );
    assert_eq!(b.map_get(m, kg, b"key", b"ns", b"missing").unwrap(), None);
    let entries = b.map_entries(m, kg, b"key", b"ns").unwrap();
    let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        keys,
        vec![&b""[..], b"alpha", b"alpha2", b"mid", b"zeta", b"\xff"],
        "ordered by user key bytes"
    );
    assert_eq!(entries[1].1, b"alpha!");
    b.map_delete(m, kg, b"key", b"ns", b"alpha").unwrap();
    b.map_delete(m, kg, b"key", b"ns", b"never there").unwrap();
    assert_eq!(b.map_get(m, kg, b"key", b"ns", b"alpha").unwrap(), None);
    assert_eq!(b.map_entries(m, kg, b"key", b"ns").unwrap().len(), 5);
    b.map_clear(m, kg, b"key", b"ns").unwrap();
    assert!(b.map_entries(m, kg, b"key", b"ns").unwrap().is_empty());
    assert_eq!(b.map_get(m, kg, b"key", b"ns", b"zeta").unwrap(), None);
    // Neighbouring maps survive a clear.
    assert_eq!(
        b.map_entries(m, kg, b"key", b"ns2").unwrap(),
        vec![(b"other".to_vec(), b"x".to_vec())]
    );
    assert_eq!(
        b.map_entries(m, kg, b"key2", b"ns").unwrap(),
        vec![(b"other".to_vec(), b"y".to_vec())]
    );
    b.map_clear(m, kg, b"absent", b"ns").unwrap();
}

pub fn scan_visits_one_key_group_and_state(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(10, 14), &env);
    let s = b.register_state("s").unwrap();
    let t = b.register_state("t").unwrap();
    for kg in 10..14u16 {
        for i in 0..5u8 {
            b.put(s, KeyGroup(kg), &[i], &kg.to_be_bytes(), &[kg as u8, i]).unwrap();
            b.put(t, KeyGroup(kg), &[i], b"", b"t").unwrap();
        }
        b.map_put(s, KeyGroup(kg), b"map", b"", b"u", b"not a value entry")
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    b.scan(s, KeyGroup(12), &mut |key, ns, value| {
        assert_eq!(ns, 12u16.to_be_bytes());
        assert_eq!(value, [12, key[0]]);
        assert!(seen.insert(key.to_vec()), "visited twice");
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (0..5u8).map(|i| vec![i]).collect::<BTreeSet<_>>());
    // Errors from the visitor stop the scan and come back.
    let mut calls = 0;
    let err = b
        .scan(s, KeyGroup(11), &mut |_, _, _| {
            calls += 1;
            Err(freshet_core::Error::State("stop".into()))
        })
        .unwrap_err();
    assert_eq!((calls, err.to_string()), (1, "state: stop".to_string()));
    let mut empty = 0;
    b.scan(t, KeyGroup(13), &mut |_, _, v| {
        assert_eq!(v, b"t");
        empty += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(empty, 5);
}

pub fn out_of_range_key_group_is_an_error(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(10, 20), &env);
    let s = b.register_state("s").unwrap();
    for kg in [KeyGroup(9), KeyGroup(20), KeyGroup(500)] {
        let errors = [
            b.put(s, kg, b"k", b"", b"v").unwrap_err(),
            b.get(s, kg, b"k", b"").unwrap_err(),
            b.delete(s, kg, b"k", b"").unwrap_err(),
            b.scan(s, kg, &mut |_, _, _| Ok(())).unwrap_err(),
            b.map_put(s, kg, b"k", b"", b"u", b"v").unwrap_err(),
            b.map_get(s, kg, b"k", b"", b"u").unwrap_err(),
            b.map_delete(s, kg, b"k", b"", b"u").unwrap_err(),
            b.map_entries(s, kg, b"k", b"").unwrap_err(),
            b.map_clear(s, kg, b"k", b"").unwrap_err(),
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(matches!(e, freshet_core::Error::State(_)), "{msg}");
            assert!(
                msg.contains(&format!("key group {kg}")) && msg.contains("[10, 20)"),
                "{msg}"
            );
        }
    }
    let unknown = freshet_state::StateId(7);
    assert!(b
        .get(unknown, KeyGroup(10), b"k", b"")
        .unwrap_err()
        .to_string()
        .contains("unknown state id 7"));
    assert!(b.put(unknown, KeyGroup(10), b"k", b"", b"v").is_err());
}

pub fn register_state_is_idempotent(kind: BackendKind) {
    let env = env();
    let mut b = backend(kind, range(0, 2), &env);
    let a = b.register_state("a").unwrap();
    let c = b.register_state("c").unwrap();
    assert_ne!(a, c);
    assert_eq!(b.register_state("a").unwrap(), a);
    assert_eq!(b.register_state("c").unwrap(), c);
    b.put(a, KeyGroup(0), b"k", b"", b"v").unwrap();
    let again = b.register_state("a").unwrap();
    assert_eq!(
        b.get(again, KeyGroup(0), b"k", b"").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

pub fn snapshot_restore_round_trip(kind: BackendKind) {
    block_on(async {
        let env = env();
        let r = range(0, 16);
        let data = expected_data(r, 6);
        for snap_kind in [CheckpointKind::Checkpoint, CheckpointKind::Savepoint] {
            let mut b = backend(kind, r, &env);
            load(b.as_mut(), &data);
            let snap = b
                .snapshot(CheckpointId(NEXT_ID.fetch_add(1, Ordering::Relaxed)), snap_kind)
                .unwrap();
            // Writes after the synchronous part do not leak into the snapshot.
            b.put(freshet_state::StateId(0), KeyGroup(0), b"late", b"", b"late")
                .unwrap();
            b.delete(freshet_state::StateId(0), KeyGroup(1), b"key-1-0", b"w0")
                .unwrap();
            let target = SnapshotTarget {
                storage: env.storage.clone(),
                checkpoint: CheckpointId(0),
                operator: OperatorUid::new("op"),
                subtask: SubtaskIndex(0),
                dir: format!("round-trip-{snap_kind:?}"),
                shared_dir: Some("shared/op".into()),
            };
            let handle = snap.upload(target).await.unwrap();
            assert!(handle.size_bytes() > 0);
            for f in handle.files() {
                assert!(env.storage.exists(&f.path).await.unwrap(), "{} missing", f.path);
            }
            let mut restored = restore(kind, r, &[handle], &env).await;
            let context = format!("{kind} {snap_kind:?}");
            assert_holds(restored.as_ref(), &data, &context);
            assert_eq!(dump(restored.as_mut(), &env).await, data, "{context}");
        }
    })
}

pub fn rescale_restore(kind: BackendKind) {
    block_on(async {
        for snap_kind in [CheckpointKind::Checkpoint, CheckpointKind::Savepoint] {
            for target_kind in [BackendKind::Heap, BackendKind::Rocksdb] {
                rescale_case(kind, snap_kind, target_kind).await;
            }
        }
    })
}

/// Two instances [0,64) and [64,128) restored into [0,32), [32,96), [96,128).
pub async fn rescale_case(source: BackendKind, snap_kind: CheckpointKind, target: BackendKind) {
    let env = env();
    let data = expected_data(range(0, 128), 3);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut handles = Vec::new();
    for (subtask, r) in [range(0, 64), range(64, 128)].into_iter().enumerate() {
        let mut b = backend(source, r, &env);
        let part: Dump = data
            .iter()
            .filter(|(k, _)| r.contains(KeyGroup(k.1)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        load(b.as_mut(), &part);
        handles.push(snapshot_as(b.as_mut(), &env, id, snap_kind, subtask as u32).await);
    }
    let context = format!("{source} {snap_kind:?} -> {target}");
    let mut union = Dump::new();
    for r in [range(0, 32), range(32, 96), range(96, 128)] {
        let mut b = restore(target, r, &handles, &env).await;
        assert_holds(b.as_ref(), &data, &format!("{context} into {r:?}"));
        let got = dump(b.as_mut(), &env).await;
        for k in got.keys() {
            assert!(
                r.contains(KeyGroup(k.1)),
                "{context}: key group {} restored into {r:?}",
                k.1
            );
        }
        let before = union.len();
        let n = got.len();
        union.extend(got);
        assert_eq!(union.len(), before + n, "{context}: an entry landed twice");
    }
    assert_eq!(union, data, "{context}: every entry lands exactly once");
}

pub fn cross_backend_savepoint(kind: BackendKind) {
    block_on(async {
        let env = env();
        let r = range(0, 8);
        let data = expected_data(r, 10);
        let mut b = backend(kind, r, &env);
        load(b.as_mut(), &data);
        let handle = snapshot(b.as_mut(), &env, CheckpointKind::Savepoint).await;
        assert!(matches!(handle, KeyedStateHandle::Full { .. }));
        let other = match kind {
            BackendKind::Heap => BackendKind::Rocksdb,
            BackendKind::Rocksdb => BackendKind::Heap,
        };
        let mut restored = restore(other, r, &[handle], &env).await;
        assert_holds(restored.as_ref(), &data, &format!("{kind} savepoint -> {other}"));
        // And back again.
        let handle = snapshot(restored.as_mut(), &env, CheckpointKind::Savepoint).await;
        let back = restore(kind, r, &[handle], &env).await;
        assert_holds(back.as_ref(), &data, &format!("{kind} -> {other} -> {kind}"));
    })
}

pub fn corrupt_full_snapshot_is_rejected(kind: BackendKind) {
    block_on(async {
        let env = env();
        let r = range(0, 4);
        let mut b = backend(kind, r, &env);
        load(b.as_mut(), &expected_data(r, 4));
        let handle = snapshot(b.as_mut(), &env, CheckpointKind::Savepoint).await;
        let KeyedStateHandle::Full {
            file,
            key_group_offsets,
        } = &handle
        else {
            panic!("savepoints are full: {handle:?}");
        };
        let original = env.storage.get(&file.path).await.unwrap();
        let restore_err = || async {
            freshet_state::restore_keyed_backend(kind, r, std::slice::from_ref(&handle), &env.storage, env.local.path())
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "restore succeeded".into())
        };
        // A flipped byte inside the last section fails its checksum.
        let (kg, offset, len) = *key_group_offsets.last().unwrap();
        let mut bytes = original.to_vec();
        bytes[(offset + len - 1) as usize] ^= 0x55;
        env.storage.put(&file.path, bytes.into()).await.unwrap();
        let err = restore_err().await;
        assert!(
            err.contains("checksum") && err.contains(&format!("key group {kg}")),
            "{err}"
        );
        // A file that is not a snapshot at all is named as such.
        let mut bytes = original.to_vec();
        bytes[0] = b'X';
        env.storage.put(&file.path, bytes.into()).await.unwrap();
        let err = restore_err().await;
        assert!(err.contains("bad magic") && err.contains(&file.path), "{err}");
    })
}

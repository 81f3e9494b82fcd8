//! RocksDB incremental checkpoints, and the heap backend's full checkpoints.

use crate::support::*;
use freshet_core::{CheckpointId, CheckpointKind, KeyGroup, OperatorUid, SubtaskIndex};
use freshet_state::backend::SnapshotTarget;
use freshet_state::metadata::StateFile;
use freshet_state::{BackendKind, KeyedStateHandle};
use std::collections::BTreeSet;

fn shared_paths(handle: &KeyedStateHandle) -> BTreeSet<String> {
    match handle {
        KeyedStateHandle::Incremental { shared, .. } => shared.iter().map(|f: &StateFile| f.path.clone()).collect(),
        other => panic!("expected an incremental handle, got {other:?}"),
    }
}

const MARKER: &[u8] = b"left alone since the earlier checkpoint";

/// Overwrites remote files with [`MARKER`], so a later upload of them is visible; returns the
/// original contents.
async fn mark(env: &Env, paths: &BTreeSet<String>) -> Vec<(String, bytes::Bytes)> {
    let mut originals = Vec::new();
    for p in paths {
        originals.push((p.clone(), env.storage.get(p).await.unwrap()));
        env.storage.put(p, bytes::Bytes::from_static(MARKER)).await.unwrap();
    }
    originals
}

/// How many of `paths` still hold [`MARKER`] (were not uploaded again).
async fn still_marked(env: &Env, paths: &BTreeSet<String>) -> usize {
    let mut n = 0;
    for p in paths {
        n += usize::from(env.storage.get(p).await.unwrap() == MARKER);
    }
    n
}

async fn unmark(env: &Env, originals: Vec<(String, bytes::Bytes)>) {
    for (p, bytes) in originals {
        env.storage.put(&p, bytes).await.unwrap();
    }
}

#[test]
fn rocksdb_second_checkpoint_uploads_only_new_ssts() {
    block_on(async {
        let env = env();
        let r = range(0, 16);
        let data = expected_data(r, 50);
        let mut b = backend(BackendKind::Rocksdb, r, &env);
        load(b.as_mut(), &data);
        let first = snapshot_as(b.as_mut(), &env, 1, CheckpointKind::Checkpoint, 0).await;
        let KeyedStateHandle::Incremental {
            key_groups,
            private,
            state_names,
            ..
        } = &first
        else {
            panic!("checkpoint of rocksdb must be incremental: {first:?}");
        };
        assert_eq!(*key_groups, r);
        assert_eq!(state_names, &vec!["values".to_string(), "maps".to_string()]);
        assert!(private.iter().any(|f| f.path.contains("MANIFEST-")), "{private:?}");
        assert!(private.iter().all(|f| f.path.starts_with("chk-1/op/0/")), "{private:?}");
        let first_shared = shared_paths(&first);
        assert!(!first_shared.is_empty());
        assert!(first_shared
            .iter()
            .all(|p| p.starts_with("shared/op/") && p.ends_with(".sst")));
        b.notify_checkpoint_complete(CheckpointId(1)).unwrap();
        let originals = mark(&env, &first_shared).await;

        b.put(freshet_state::StateId(0), KeyGroup(3), b"one more", b"", b"entry")
            .unwrap();
        let second = snapshot_as(b.as_mut(), &env, 2, CheckpointKind::Checkpoint, 0).await;
        let second_shared = shared_paths(&second);
        assert!(
            first_shared.is_subset(&second_shared),
            "second must reference the first's SSTs"
        );
        let new: Vec<_> = second_shared.difference(&first_shared).collect();
        assert!(!new.is_empty(), "the change must be in a new SST");
        assert!(
            new.len() < second_shared.len(),
            "only new SSTs are uploaded: {new:?} of {second_shared:?}"
        );
        let remote = env.storage.list_files("shared/op").await.unwrap();
        assert_eq!(
            remote.len(),
            first_shared.len() + new.len(),
            "no SST uploaded twice: {remote:?}"
        );
        assert_eq!(
            still_marked(&env, &first_shared).await,
            first_shared.len(),
            "the first checkpoint's SSTs were uploaded again"
        );
        unmark(&env, originals).await;

        // Restoring the second checkpoint gives the data plus the change.
        let mut expected = data.clone();
        expected.insert(
            ("values".into(), 3, b"one more".to_vec(), vec![], None),
            b"entry".to_vec(),
        );
        let restored = restore(BackendKind::Rocksdb, r, std::slice::from_ref(&second), &env).await;
        assert_holds(restored.as_ref(), &expected, "restored second checkpoint");
        let heap = restore(BackendKind::Heap, r, &[second], &env).await;
        assert_holds(heap.as_ref(), &expected, "incremental checkpoint into heap");
    })
}

#[test]
fn rocksdb_reuses_only_files_of_completed_checkpoints() {
    block_on(async {
        let env = env();
        let mut b = backend(BackendKind::Rocksdb, range(0, 4), &env);
        load(b.as_mut(), &expected_data(range(0, 4), 20));
        let first = shared_paths(&snapshot_as(b.as_mut(), &env, 1, CheckpointKind::Checkpoint, 0).await);
        // Checkpoint 1 never completes: its files may be cleaned up, so checkpoint 2 uploads
        // them again rather than referencing them.
        mark(&env, &first).await;
        b.put(freshet_state::StateId(0), KeyGroup(0), b"x", b"", b"y").unwrap();
        let second = shared_paths(&snapshot_as(b.as_mut(), &env, 2, CheckpointKind::Checkpoint, 0).await);
        assert!(first.is_subset(&second));
        assert_eq!(first.len() + 1, second.len());
        assert_eq!(still_marked(&env, &first).await, 0, "uncompleted files reused");

        // Checkpoint 2 completes: checkpoint 3 references its files.
        b.notify_checkpoint_complete(CheckpointId(2)).unwrap();
        let originals = mark(&env, &second).await;
        b.put(freshet_state::StateId(0), KeyGroup(0), b"x", b"", b"z").unwrap();
        let third_handle = snapshot_as(b.as_mut(), &env, 3, CheckpointKind::Checkpoint, 0).await;
        let third = shared_paths(&third_handle);
        assert!(second.is_subset(&third));
        assert_eq!(third.len(), second.len() + 1);
        assert_eq!(
            still_marked(&env, &second).await,
            second.len(),
            "completed files re-uploaded"
        );
        unmark(&env, originals).await;
        let mut expected = expected_data(range(0, 4), 20);
        expected.insert(("values".into(), 0, b"x".to_vec(), vec![], None), b"z".to_vec());
        let restored = restore(BackendKind::Rocksdb, range(0, 4), &[third_handle], &env).await;
        assert_holds(restored.as_ref(), &expected, "third checkpoint");
    })
}

#[test]
fn rocksdb_savepoint_and_checkpoint_without_shared_dir_are_full() {
    block_on(async {
        let env = env();
        let r = range(0, 4);
        let mut b = backend(BackendKind::Rocksdb, r, &env);
        load(b.as_mut(), &expected_data(r, 5));
        let savepoint = snapshot(b.as_mut(), &env, CheckpointKind::Savepoint).await;
        let KeyedStateHandle::Full {
            file,
            key_group_offsets,
        } = &savepoint
        else {
            panic!("savepoint must be full: {savepoint:?}");
        };
        assert!(
            file.path.starts_with("savepoint-") && file.path.ends_with("/op/0/keyed-state"),
            "{}",
            file.path
        );
        assert_eq!(
            key_group_offsets.iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert!(
            savepoint.files().iter().all(|f| !f.path.starts_with("shared/")),
            "no shared files"
        );
        assert!(env.storage.list_files("shared").await.unwrap().is_empty());

        let snap = b.snapshot(CheckpointId(9), CheckpointKind::Checkpoint).unwrap();
        let target = SnapshotTarget {
            storage: env.storage.clone(),
            checkpoint: CheckpointId(9),
            operator: OperatorUid::new("op"),
            subtask: SubtaskIndex(0),
            dir: "chk-9/op/0".into(),
            shared_dir: None,
        };
        let handle = snap.upload(target).await.unwrap();
        assert!(matches!(&handle, KeyedStateHandle::Full { file, .. } if file.path == "chk-9/op/0/keyed-state"));
        let restored = restore(BackendKind::Rocksdb, r, &[handle], &env).await;
        assert_holds(restored.as_ref(), &expected_data(r, 5), "full fallback");
    })
}

#[test]
fn rocksdb_restored_instance_does_not_reupload_restored_ssts() {
    block_on(async {
        let env = env();
        let r = range(0, 8);
        let data = expected_data(r, 30);
        let mut b = backend(BackendKind::Rocksdb, r, &env);
        load(b.as_mut(), &data);
        let handle = snapshot_as(b.as_mut(), &env, 1, CheckpointKind::Checkpoint, 0).await;
        drop(b);
        let before = shared_paths(&handle);

        let mut restored = restore(BackendKind::Rocksdb, r, std::slice::from_ref(&handle), &env).await;
        restored
            .put(freshet_state::StateId(0), KeyGroup(5), b"after", b"restore", b"!")
            .unwrap();
        let next = shared_paths(&snapshot_as(restored.as_mut(), &env, 2, CheckpointKind::Checkpoint, 0).await);
        assert!(
            before.is_subset(&next),
            "restored SSTs are referenced: {before:?} vs {next:?}"
        );
        assert_eq!(next.len(), before.len() + 1);

        // Scale up from the same handle: a sub-range opens the DB directly and drops the rest.
        let mut half = restore(BackendKind::Rocksdb, range(2, 6), &[handle], &env).await;
        assert_holds(half.as_ref(), &data, "sub-range restore");
        let got = dump(half.as_mut(), &env).await;
        assert!(
            got.keys().all(|k| (2..6).contains(&k.1)),
            "entries outside the range were dropped"
        );
        let want = data.iter().filter(|(k, _)| (2..6).contains(&k.1)).count();
        assert_eq!(got.len(), want);
    })
}

#[test]
fn heap_checkpoint_is_full_and_counts_size() {
    block_on(async {
        let env = env();
        let mut b = backend(BackendKind::Heap, range(0, 4), &env);
        let s = b.register_state("values").unwrap();
        b.put(s, KeyGroup(1), b"key", b"ns", b"value").unwrap();
        assert_eq!(b.approximate_size_bytes(), 3 + 2 + 5);
        b.put(s, KeyGroup(1), b"key", b"ns", b"v").unwrap();
        assert_eq!(b.approximate_size_bytes(), 3 + 2 + 1);
        b.map_put(s, KeyGroup(2), b"k", b"", b"uk", b"vv").unwrap();
        assert_eq!(b.approximate_size_bytes(), 6 + 1 + 2 + 2);
        b.map_clear(s, KeyGroup(2), b"k", b"").unwrap();
        b.delete(s, KeyGroup(1), b"key", b"ns").unwrap();
        assert_eq!(b.approximate_size_bytes(), 0);
        b.put(s, KeyGroup(3), b"k", b"", b"v").unwrap();
        let handle = snapshot_as(b.as_mut(), &env, 4, CheckpointKind::Checkpoint, 2).await;
        let KeyedStateHandle::Full {
            file,
            key_group_offsets,
        } = handle
        else {
            panic!("heap checkpoints are full");
        };
        assert_eq!(file.path, "chk-4/op/2/keyed-state");
        assert_eq!(key_group_offsets.len(), 1, "only non-empty key groups get a section");
        assert_eq!(key_group_offsets[0].0, 3);
    })
}

/// The engine spawns restores and uploads on a multi-threaded runtime: their futures must be
/// `Send` for any borrow of their arguments (a compile-time check; it also runs them).
#[test]
fn restore_and_upload_futures_can_be_spawned() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for kind in [BackendKind::Heap, BackendKind::Rocksdb] {
            let env = env();
            let r = range(0, 4);
            let mut b = backend(kind, r, &env);
            load(b.as_mut(), &expected_data(r, 3));
            let snapshot = b.snapshot(CheckpointId(1), CheckpointKind::Checkpoint).unwrap();
            let target = SnapshotTarget {
                storage: env.storage.clone(),
                checkpoint: CheckpointId(1),
                operator: OperatorUid::new("op"),
                subtask: SubtaskIndex(0),
                dir: "chk-1/op/0".into(),
                shared_dir: Some("shared/op".into()),
            };
            let handle = tokio::spawn(snapshot.upload(target)).await.unwrap().unwrap();
            let storage = env.storage.clone();
            let local = env.local.path().to_path_buf();
            for target_kind in [BackendKind::Heap, BackendKind::Rocksdb] {
                let (storage, local, handles) = (storage.clone(), local.clone(), vec![handle.clone()]);
                let restored = tokio::spawn(async move {
                    freshet_state::restore_keyed_backend(target_kind, r, &handles, &storage, &local).await
                })
                .await
                .unwrap()
                .unwrap();
                assert_holds(restored.as_ref(), &expected_data(r, 3), "spawned restore");
            }
        }
    })
}

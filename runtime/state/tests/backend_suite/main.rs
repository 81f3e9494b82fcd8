//! One behavioural suite run against both keyed state backends, plus snapshot/restore across
//! backends and key-group splits, a model check, and the RocksDB incremental checkpoint
//! specifics. One test binary; its modules live beside this file.

mod incremental;
mod model;
mod suite;
mod support;

use model::model_check;
use suite::*;

macro_rules! shared_suite {
    ($($test:ident),* $(,)?) => {
        mod heap {
            $( #[test] fn $test() { super::$test(freshet_state::BackendKind::Heap) } )*
        }
        mod rocksdb {
            $( #[test] fn $test() { super::$test(freshet_state::BackendKind::Rocksdb) } )*
        }
    };
}

shared_suite!(
    value_put_get_delete_overwrite,
    namespaces_and_states_isolate,
    map_operations,
    scan_visits_one_key_group_and_state,
    out_of_range_key_group_is_an_error,
    register_state_is_idempotent,
    snapshot_restore_round_trip,
    rescale_restore,
    cross_backend_savepoint,
    corrupt_full_snapshot_is_rejected,
    model_check,
);

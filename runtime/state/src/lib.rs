//! # freshet-state
//!
//! Keyed and operator state, the two state backends, and where snapshots go.
//!
//! Place in the runtime: operators (in `freshet-dataflow`) read and write keyed state through
//! [`KeyedStateBackend`]; the engine asks backends for snapshots at checkpoint barriers and uploads
//! them through [`CheckpointStorage`]; on restore it rebuilds backends from the handles recorded
//! in [`CheckpointMetadata`]. This crate knows nothing about operators, channels or SQL.
//!
//! Invariants:
//! - every keyed entry is addressed by (state, key group, key, namespace[, user key]); a backend
//!   instance owns one contiguous [`KeyGroupRange`](freshet_core::KeyGroupRange);
//! - snapshots are organised by key group, so a restore with another parallelism reads only the
//!   key groups it now owns;
//! - a checkpoint exists only once its `_metadata` file is written, and that file is written last.
#![warn(missing_docs)]

mod addressing;
pub mod backend;
pub mod heap;
pub mod metadata;
pub mod rocks;
mod rocks_snapshot;
pub mod snapshot_format;
mod state_names;
pub mod storage;
pub mod ttl;

pub use backend::{BackendKind, KeyedStateBackend, StateId, StateSnapshot};
pub use metadata::{CheckpointMetadata, KeyedStateHandle, OperatorSnapshot, SubtaskSnapshot};
pub use storage::CheckpointStorage;
pub mod factory;
pub use factory::{new_keyed_backend, restore_keyed_backend};

//! # freshet-core
//!
//! The vocabulary every other Freshet crate speaks. It sits at the bottom of the runtime: it
//! depends on Arrow (and, with the `object-store` feature, `object_store`) and nothing of
//! Freshet's own.
//!
//! - [`element`]: what flows on a channel — Arrow record batches with in-band watermarks,
//!   checkpoint barriers, idleness markers and end-of-input ([`StreamElement`]).
//! - [`ids`]: newtype identifiers (`OperatorUid`, `SubtaskIndex`, `CheckpointId`, `KeyGroup`).
//! - [`key_group`]: how keys map to key groups and key groups to subtasks. Invariant: a subtask
//!   owns one contiguous key-group range, so rescaling reassigns ranges and never splits a group.
//! - [`keys`]: encoding key columns into stable bytes and hashing them.
//! - [`time`]: clocks (system and manual, so idleness and processing time are testable).
//! - [`watermark`]: watermark generation (bounded out-of-orderness, idleness, per-split minimum)
//!   and combination across inputs (the minimum over active inputs).
//! - [`partition`]: how an edge distributes records to downstream subtasks.
//! - [`error`]: the shared error type, which knows whose fault an error is.
//! - [`location`]: local paths and object store URLs.
//! - `object_root` (feature `object-store`): opening the object store of a URL, shared by
//!   checkpoint storage and the `filesystem` connectors.
#![warn(missing_docs)]

pub mod aws_profile;
pub mod element;
pub mod error;
pub mod ids;
pub mod key_group;
pub mod keys;
pub mod location;
#[cfg(feature = "object-store")]
pub mod object_root;
pub mod partition;
pub mod time;
pub mod watermark;

pub use element::{Barrier, CheckpointKind, StreamElement};
pub use error::{Error, ErrorClass, Result};
pub use ids::{CheckpointId, KeyGroup, OperatorUid, SubtaskIndex};
pub use key_group::{KeyGroupRange, DEFAULT_MAX_PARALLELISM};
pub use location::Location;
#[cfg(feature = "object-store")]
pub use object_root::ObjectRoot;
pub use partition::Partitioning;
pub use time::{Clock, ManualClock, SystemClock};
pub use watermark::{Watermark, WATERMARK_MAX, WATERMARK_MIN};

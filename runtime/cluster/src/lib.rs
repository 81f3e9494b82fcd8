//! # freshet-cluster
//!
//! The two cluster roles of the `freshet` binary, built on the transport-free engine
//! (`freshet-engine`), the cluster protocol (`freshet-rpc`) and the HA store (`freshet-ha`):
//!
//! - [`coordinator`]: accepts worker registrations, places the job's subtasks on their slots,
//!   deploys them, drives checkpoints and savepoints through the engine's executor, detects
//!   lost workers by heartbeat timeout and restarts the job from its latest completed
//!   checkpoint, and (with HA) runs only while it leads, recording every completed checkpoint
//!   in the HA store before any sink may commit it.
//! - [`worker`]: registers with the (current leader) coordinator, runs the tasks deployed to
//!   it, moves records to tasks on other workers over the credit-based data plane, and reports
//!   checkpoint acknowledgements and task exits.
//!
//! Shared pieces: [`job`] (how a job travels: its script, compiled on every process, and the
//! settings that go with it), [`placement`] (which subtask runs in which slot; pure),
//! [`wire`] (engine types to and from protocol messages), [`address`] (what a process
//! publishes as its host), [`error`].
#![warn(missing_docs)]

pub mod address;
pub mod coordinator;
pub mod error;
pub mod job;
pub mod placement;
pub mod wire;
pub mod worker;

pub use error::{ClusterError, Result};
pub use job::{JobCompiler, WireConfig};

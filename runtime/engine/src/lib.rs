//! # freshet-engine
//!
//! Runs a [`JobGraph`](freshet_dataflow::JobGraph): expands it into parallel subtasks, fuses
//! forward-connected operators into chains, connects tasks with bounded channels (so a slow
//! operator backpressures its sources), coordinates aligned-barrier checkpoints and savepoints,
//! restores from them (with another parallelism if asked), and restarts a failed job from its
//! latest completed checkpoint following a restart strategy.
//!
//! Place in the runtime: above `freshet-dataflow` (operators, sources, graph) and
//! `freshet-state` (backends, checkpoint storage). Operators never see what is here.
//!
//! Modules: [`plan`] (graph → chains, pure), [`chain`] (running fused operators), [`exchange`]
//! (partitioning and buffering outputs), [`input`] (receiving, barrier alignment), [`task`] (the
//! task loops), [`checkpoint`] (checkpoint bookkeeping, metadata, retention), [`restore`]
//! (mapping a snapshot onto new subtasks), [`restart`] (restart strategies), [`deployment`] (where
//! an attempt's tasks run), [`executor`] (the job runner), [`config`], [`metrics`] (counters), [`status`] (state and checkpoint
//! history), [`rest`] (the REST API), [`http`] (serving it), [`exporter`] (Prometheus `/metrics`).
#![warn(missing_docs)]

pub mod build;
pub mod chain;
pub mod checkpoint;
pub mod config;
pub mod deployment;
pub mod exchange;
pub mod executor;
pub mod exporter;
pub mod http;
pub mod input;
pub mod metrics;
pub mod plan;
pub mod rest;
pub mod restart;
pub mod restore;
pub mod status;
pub mod task;

pub use config::{CheckpointConfig, JobConfig, RestoreFrom};
pub use deployment::{DeployRequest, Deployer, Deployment, LocalDeployer};
pub use executor::{CompletionRecorder, Executor, JobCommand, JobEnd, JobHandle, JobOutcome, LocalExecutor};
pub use restart::RestartStrategy;

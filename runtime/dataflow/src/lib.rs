//! # freshet-dataflow
//!
//! The dataflow layer: the [`Operator`] and [`Source`] contracts, the logical [`JobGraph`], the
//! built-in operators (map/filter/flat_map, windows, keyed process functions) and the typed Rust
//! DataStream API that builds graphs from user code.
//!
//! Place in the runtime: above `freshet-core` (records, time, keys) and `freshet-state` (keyed
//! state); below `freshet-engine`, which runs a [`JobGraph`]'s operators in tasks. Operators here
//! never see channels, threads or checkpoint storage: they get batches, watermarks, timers and
//! state through an [`OperatorContext`], and emit through a [`Collector`].
#![warn(missing_docs)]

pub mod api;
pub mod collector;
pub mod context;
pub mod driver;
pub mod graph;
pub mod operator;
pub mod ops;
pub mod source;
pub mod state;
pub mod testing;
pub mod timers;
pub mod typed;
pub mod window;

pub use collector::Collector;
pub use context::{OperatorContext, TaskInfo};
pub use graph::{Edge, JobGraph, Node, NodeId, NodeKind, OperatorFactory, SourceFactory};
pub use operator::Operator;
pub use source::{Source, SourceContext, SourcePoll};
pub use timers::{TimeDomain, Timer, TimerService};

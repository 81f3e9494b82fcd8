//! Keyed windows: assigners, aggregates and the window operator.
//!
//! Place in the dataflow: a [`WindowOperator`] consumes a stream hash-partitioned by its key
//! columns and emits one row per (key, window) with the window bounds and the aggregates. Its
//! state (accumulators, session sets, count progress) and timers live in the keyed state backend
//! of its [`OperatorContext`](crate::OperatorContext), so they are checkpointed and rescaled by
//! key group like any keyed state.
//!
//! - Assigners are pure functions of a timestamp: [`TumblingWindows`], [`SlidingWindows`],
//!   [`SessionWindows`] (merging), [`CumulateWindows`], and [`CountWindows`] (per-key record
//!   counts), gathered in [`WindowAssigner`]. Window starts use floor semantics, so negative
//!   timestamps are assigned like positive ones.
//! - Aggregates: the built-ins of [`Aggregate`] (count, sum, min, max, avg) and user-defined
//!   ones written as an [`AggregateFunction`] and wrapped by [`udaf`].
//! - [`WindowOperator`] is configured by a [`WindowConfig`]; see its module for the firing,
//!   lateness and late-output rules (Flink's).

mod acc_encoding;
mod accumulator;
pub mod aggregate;
mod aligned;
pub mod assigner;
pub mod config;
pub mod count;
mod counting;
pub mod cumulate;
mod merging;
mod rows;
pub mod session;
pub mod sliding;
pub mod time_window;
pub mod tumbling;
pub mod udaf;
pub mod window_operator;

pub use aggregate::{Aggregate, AggregateSpec, UdafCall};
pub use assigner::WindowAssigner;
pub use config::{WindowConfig, WindowTime, WINDOW_END, WINDOW_START};
pub use count::CountWindows;
pub use cumulate::CumulateWindows;
pub use session::{add_to_sessions, merge_windows, SessionMerge, SessionWindows};
pub use sliding::SlidingWindows;
pub use time_window::{window_start_with_offset, TimeWindow};
pub use tumbling::TumblingWindows;
pub use udaf::{udaf, AggregateFunction, DynAggregateFunction, FromArrowValue, ToArrowValue};
pub use window_operator::WindowOperator;

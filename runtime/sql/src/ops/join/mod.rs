//! Joins: regular, window and interval inner joins of two append-only streams
//! ([`JoinOperator`]), and updating regular joins ([`UpdatingJoinOperator`]: outer joins and
//! joins of changelog inputs, emitting a changelog) and lookup joins against a bounded table
//! ([`LookupJoinOperator`]).
//!
//! The three append-only joins are one keyed two-input operator, [`JoinOperator`]: both inputs are hash-partitioned
//! by their equi-join keys (which therefore have the same types on both sides), each side's rows
//! are kept in keyed map state (row bytes -> multiplicity), and each arriving row is joined at
//! once with the other side's rows of its key; a residual condition then filters the joined
//! rows. The output is append-only: left's columns, then right's.
//!
//! What differs is when state is dropped ([`JoinKind`]):
//! - a regular join keeps every row, or each for the state TTL (`table.exec.state.ttl`) after it
//!   arrived;
//! - a window join has the window's start and end among its keys; both sides of a window are
//!   complete once the watermark passes the window's last millisecond (later rows are late), so
//!   a timer at the window end then drops the key's rows. Rows are joined as they arrive, which
//!   for an inner join gives the rows Flink emits at the window end;
//! - an interval join bounds `right.time - left.time` to `[lower, upper]`: a left row is dropped
//!   once the watermark passes `time + upper`, a right row once it passes `time - lower`.
//!
//! Rows whose key has a NULL never match (SQL equality) and are not stored.

mod lookup;
mod matching;
mod operator;
mod rows;
mod updating;
mod window_assign;

pub use lookup::{DimensionStep, DimensionTable, LookupJoinOperator, LookupJoinSpec};
pub use matching::{apply_change, Emission, Stored};
pub use operator::{JoinKind, JoinOperator, JoinSpec};
pub use rows::RowCodec;
pub use updating::{UpdatingJoinOperator, UpdatingJoinSpec, UpdatingSide};
pub use window_assign::{WindowAssignOperator, WindowAssignSpec};

#[cfg(test)]
mod tests;

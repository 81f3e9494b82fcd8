//! The streaming operators SQL jobs use beyond those of `freshet-dataflow`.

pub mod calc;
pub mod changelog;
pub mod computed_source;

pub use calc::{CalcOperator, CalcProgram, UnionOperator};
pub use computed_source::ComputedSource;

//! The streaming operators SQL jobs use beyond those of `freshet-dataflow`.

pub mod accumulate;
pub mod calc;
pub mod changelog;
pub mod changelog_print;
pub mod computed_source;
pub mod group_aggregate;
pub mod join;
pub mod over;
pub mod rank;
pub mod upsert;

pub use accumulate::window::{window_output_supported, WindowAccumulate};
pub use accumulate::{AccumulateConfig, AccumulateOperator, AccumulateSpec};
pub use calc::{CalcOperator, CalcProgram, UnionOperator};
pub use changelog_print::ChangelogPrintSink;
pub use computed_source::ComputedSource;
pub use group_aggregate::{GroupAggKind, GroupAggSpec, GroupAggregateConfig, GroupAggregateOperator, ValueType};
pub use rank::{RankConfig, RankEmit, RankOperator};
pub use upsert::{upsert_schema, UpsertEncoder, DELETED_COLUMN};

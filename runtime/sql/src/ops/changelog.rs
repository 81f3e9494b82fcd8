//! Changelog streams: what an updating SQL operator emits.
//!
//! A changelog batch carries the plan's columns followed by one trailing `Int8` column named
//! [`ROW_KIND_COLUMN`], whose value is the row's [`RowKind`] (Flink's `+I`, `-U`, `+U`, `-D`).
//! Append-only streams have no such column: every row is an insert.

/// The name of the trailing row-kind column of a changelog batch.
pub const ROW_KIND_COLUMN: &str = "__row_kind";

/// The kind of change a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum RowKind {
    /// `+I`: a new row.
    Insert = 0,
    /// `-U`: the previous version of an updated row (retracted).
    UpdateBefore = 1,
    /// `+U`: the new version of an updated row.
    UpdateAfter = 2,
    /// `-D`: a deleted row (retracted).
    Delete = 3,
}

impl RowKind {
    /// The kind for a stored value.
    pub fn from_i8(value: i8) -> Option<Self> {
        Some(match value {
            0 => Self::Insert,
            1 => Self::UpdateBefore,
            2 => Self::UpdateAfter,
            3 => Self::Delete,
            _ => return None,
        })
    }

    /// Flink's short form: `+I`, `-U`, `+U`, `-D`.
    pub fn short(self) -> &'static str {
        match self {
            Self::Insert => "+I",
            Self::UpdateBefore => "-U",
            Self::UpdateAfter => "+U",
            Self::Delete => "-D",
        }
    }

    /// Whether the row adds to the result (`+I`, `+U`) rather than retracting (`-U`, `-D`).
    pub fn is_addition(self) -> bool {
        matches!(self, Self::Insert | Self::UpdateAfter)
    }
}

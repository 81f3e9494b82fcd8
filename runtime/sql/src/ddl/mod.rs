//! Flink-style `CREATE TABLE`, which sqlparser cannot parse as a whole (computed, metadata and
//! watermark columns, `NOT ENFORCED`, Flink types), parsed by driving sqlparser's `Parser`
//! over the statement's tokens:
//!
//! ```text
//! CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (
//!     element, ...
//! ) [COMMENT 'text'] [PARTITIONED BY (column, ...)] WITH ('key' = 'value', ...)
//!
//! element:
//!     column TYPE [NOT NULL] [PRIMARY KEY NOT ENFORCED] [COMMENT 'text']    -- physical
//!     column AS expression [COMMENT 'text']                                  -- computed
//!     column TYPE METADATA [FROM 'key'] [VIRTUAL] [COMMENT 'text']           -- metadata
//!     WATERMARK FOR column AS expression
//!     [CONSTRAINT name] PRIMARY KEY (column, ...) NOT ENFORCED
//! ```
//!
//! Types are Flink's (see [`crate::types`]). What is checked here, each with its location:
//! duplicate columns; a second `WATERMARK` or `PRIMARY KEY`; watermark, primary-key and
//! partition columns that do not exist; a watermark on a column that is not a timestamp; a
//! primary key on a computed or metadata column or without `NOT ENFORCED`; duplicate option
//! keys; a missing `'connector'` option. Like Flink, primary-key columns become `NOT NULL`.
//! Identifiers compare case-sensitively, as in Flink. Expressions (computed columns,
//! watermarks) are kept as sqlparser ASTs for the planner; nothing here resolves them.

mod parse;

use crate::error::SqlError;
use crate::interval::interval_to_duration;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Ident, ObjectName};
use datafusion::sql::sqlparser::tokenizer::Span;
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) use parse::parse_create_table;

/// The option naming a table's connector.
pub const CONNECTOR_OPTION: &str = "connector";

/// A `CREATE TABLE` statement.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDdl {
    /// The table name, possibly qualified.
    pub name: ObjectName,
    /// `CREATE TEMPORARY TABLE`.
    pub temporary: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Columns in declaration order.
    pub columns: Vec<ColumnDdl>,
    /// The event-time attribute and its watermark, if declared.
    pub watermark: Option<WatermarkDdl>,
    /// Primary-key columns (empty if none); all are physical columns declared `NOT NULL`.
    pub primary_key: Vec<Ident>,
    /// `PARTITIONED BY` columns (empty if none).
    pub partitioned_by: Vec<Ident>,
    /// The `WITH` options; always holds [`CONNECTOR_OPTION`].
    pub options: BTreeMap<String, String>,
    /// Where each option is written (`'key' = 'value'`), to report errors about an option.
    pub option_spans: BTreeMap<String, Span>,
    /// The table comment.
    pub comment: Option<String>,
    /// The whole statement.
    pub span: Span,
}

/// One column of a [`TableDdl`].
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDdl {
    /// The column name.
    pub name: Ident,
    /// Physical, computed or metadata.
    pub kind: ColumnKind,
    /// The column comment.
    pub comment: Option<String>,
    /// The column definition.
    pub span: Span,
}

/// What a column is.
// Parsed once per table: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    /// Read from (or written to) the connector's records.
    Physical {
        /// Arrow type of the values.
        data_type: DataType,
        /// False when declared `NOT NULL` (and for primary-key columns).
        nullable: bool,
    },
    /// `name AS expr`: computed from the other columns, never written by sinks.
    Computed {
        /// The expression, e.g. `PROCTIME()` or `TO_TIMESTAMP(s)`.
        expr: Expr,
    },
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: connector metadata such as a Kafka
    /// timestamp.
    Metadata {
        /// Arrow type of the values.
        data_type: DataType,
        /// False when declared `NOT NULL`.
        nullable: bool,
        /// The metadata key; `None` means the column name is the key.
        key: Option<String>,
        /// `VIRTUAL`: read-only, sinks do not write it.
        is_virtual: bool,
    },
}

/// `WATERMARK FOR column AS expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct WatermarkDdl {
    /// The event-time column.
    pub column: Ident,
    /// The watermark expression, e.g. `date_time - INTERVAL '4' SECOND`.
    pub expr: Expr,
    /// The whole `WATERMARK ...` element.
    pub span: Span,
}

impl TableDdl {
    /// The `'connector'` option.
    pub fn connector(&self) -> &str {
        self.options.get(CONNECTOR_OPTION).map_or("", String::as_str)
    }

    /// The column called `name` (case-sensitive).
    pub fn column(&self, name: &str) -> Option<&ColumnDdl> {
        self.columns.iter().find(|c| c.name.value == name)
    }

    /// The physical columns as an Arrow schema: what a source produces and a sink consumes,
    /// apart from metadata.
    pub fn physical_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .filter_map(|c| match &c.kind {
                    ColumnKind::Physical { data_type, nullable } => {
                        Some(Field::new(c.name.value.clone(), data_type.clone(), *nullable))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )
    }

    /// The columns a source produces: physical and metadata columns, in declaration order.
    pub fn read_schema(&self) -> Schema {
        self.schema_of(|kind| !matches!(kind, ColumnKind::Computed { .. }))
    }

    /// The columns a sink consumes: physical and non-`VIRTUAL` metadata columns, in
    /// declaration order.
    pub fn write_schema(&self) -> Schema {
        self.schema_of(|kind| match kind {
            ColumnKind::Physical { .. } => true,
            ColumnKind::Metadata { is_virtual, .. } => !is_virtual,
            ColumnKind::Computed { .. } => false,
        })
    }

    /// The metadata columns as (column, metadata key) pairs.
    pub fn metadata_columns(&self) -> Vec<(String, String)> {
        self.columns
            .iter()
            .filter_map(|c| match &c.kind {
                ColumnKind::Metadata { key, .. } => Some((
                    c.name.value.clone(),
                    key.clone().unwrap_or_else(|| c.name.value.clone()),
                )),
                _ => None,
            })
            .collect()
    }

    fn schema_of(&self, include: impl Fn(&ColumnKind) -> bool) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .filter(|c| include(&c.kind))
                .filter_map(|c| match &c.kind {
                    ColumnKind::Physical { data_type, nullable }
                    | ColumnKind::Metadata {
                        data_type, nullable, ..
                    } => Some(Field::new(c.name.value.clone(), data_type.clone(), *nullable)),
                    ColumnKind::Computed { .. } => None,
                })
                .collect::<Vec<_>>(),
        )
    }

    /// An error about option `key`, placed at the option (or at the table if it has no such
    /// option); for connectors rejecting an option or its value.
    pub fn option_error(&self, key: &str, message: impl Into<String>) -> SqlError {
        let span = self.option_spans.get(key).copied().unwrap_or(self.span);
        SqlError::at(span.start, message)
    }
}

impl WatermarkDdl {
    /// The delay of a bounded-out-of-orderness watermark: `Some(d)` for `column - INTERVAL d`
    /// and `Some(0)` for `column` itself; `None` for any other expression.
    pub fn bounded_delay(&self) -> Option<Duration> {
        let is_column = |e: &Expr| matches!(e, Expr::Identifier(i) if i.value == self.column.value);
        match &self.expr {
            e if is_column(e) => Some(Duration::ZERO),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Minus,
                right,
            } if is_column(left) => interval_to_duration(right, self.span.start).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

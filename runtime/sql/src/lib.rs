//! Freshet's SQL front end: from the text of a script (`freshet run job.sql`) to typed
//! statements, with every error at a line and column of the script.
//!
//! Place in the data path: this crate only reads text. It sits before the planner, which turns
//! the statements into a DataFusion `LogicalPlan` and then into a streaming job graph; it does
//! not depend on the engine, state or connectors, only on `freshet-core` (error classes) and
//! DataFusion (whose re-exported `sqlparser` and Arrow types appear in the statements).
//!
//! - [`script`]: splitting a script into statements, tokenized once so every location is a
//!   script location;
//! - [`statement`]: the [`Statement`] enum (`CREATE TABLE`, `CREATE VIEW`, `SET`, `RESET`,
//!   `INSERT`, `EXPLAIN`, queries) and [`parse_script`];
//! - [`ddl`]: Flink-style `CREATE TABLE` ([`TableDdl`]) with computed, metadata and watermark
//!   columns, primary keys and `WITH` options;
//! - [`types`]: Flink SQL types as Arrow types;
//! - [`dialect`]: [`FreshetDialect`], sqlparser's generic dialect plus Flink's `TABLE name`
//!   argument of window functions;
//! - [`window_tvf`]: `TUMBLE`, `HOP`, `CUMULATE` and `SESSION` table functions decoded for the
//!   planner ([`WindowTvf`]);
//! - [`interval`]: constant intervals as durations;
//! - [`error`]: the one error type, [`SqlError`].
//!
//! Identifiers keep their case and quote style (`Ident`); Freshet, like Flink, treats them
//! case-sensitively (a planner on DataFusion should turn identifier normalization off).
//!
//! ```
//! use freshet_sql::{parse_script, Statement};
//!
//! let statements = parse_script(
//!     "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
//!          WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
//!      ) WITH ('connector' = 'nexmark', 'table' = 'bid');
//!      SET 'parallelism.default' = '2';
//!      INSERT INTO out SELECT auction, price FROM bid WHERE auction % 123 = 0;",
//! )?;
//! let Statement::CreateTable(bid) = &statements[0] else { unreachable!() };
//! assert_eq!(bid.connector(), "nexmark");
//! assert_eq!(bid.watermark.as_ref().and_then(|w| w.bounded_delay()), Some(std::time::Duration::from_secs(4)));
//! assert!(matches!(&statements[1], Statement::Set { key, value, .. } if key == "parallelism.default" && value == "2"));
//!
//! let error = parse_script("CREATE TABLE t (\n  a STRNG\n) WITH ('connector' = 'print')").unwrap_err();
//! assert_eq!((error.line, error.column), (2, 5));
//! # Ok::<(), freshet_sql::SqlError>(())
//! ```
#![warn(missing_docs)]

mod cursor;
pub mod ddl;
pub mod dialect;
pub mod error;
pub mod interval;
pub mod ops;
pub mod planner;
pub mod script;
pub mod statement;
pub mod types;
pub mod window_tvf;

pub use ddl::{ColumnDdl, ColumnKind, TableDdl, WatermarkDdl};
pub use dialect::FreshetDialect;
pub use error::{Result, SqlError};
pub use interval::interval_to_duration;
pub use planner::{PlanOptions, Planner, SqlJob};
pub use script::{split_script, StatementSource};
pub use statement::{parse_script, parse_statement, Statement};
pub use types::{parse_sql_type, SqlType};
pub use window_tvf::{WindowKind, WindowTvf};

/// The sqlparser version the statements' ASTs come from (DataFusion's re-export).
pub use datafusion::sql::sqlparser;

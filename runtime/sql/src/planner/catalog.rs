//! The tables of a script as DataFusion sees them while planning: their schemas and, for
//! window table functions, what they window. Nothing here is ever scanned by DataFusion; the
//! planner turns the `TableScan`s into Freshet sources.

use crate::ddl::TableDdl;
use crate::window_tvf::WindowTvf;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// Names of the columns a window table function adds.
pub const WINDOW_START: &str = "window_start";
/// See [`WINDOW_START`].
pub const WINDOW_END: &str = "window_end";
/// See [`WINDOW_START`].
pub const WINDOW_TIME: &str = "window_time";

fn not_executable(what: &str) -> DataFusionError {
    DataFusionError::Plan(format!(
        "{what} is a streaming table: it is executed by Freshet's engine, not scanned by DataFusion"
    ))
}

/// A table declared by `CREATE TABLE`: a source, a sink, or both.
#[derive(Debug)]
pub struct StreamTable {
    /// Its declaration.
    pub ddl: TableDdl,
    /// Every column (physical, computed, metadata) in declaration order.
    pub schema: SchemaRef,
    /// One expression per column over the physical columns (qualified by
    /// `physical_qualifier`): the column itself, or its computed expression.
    pub columns: Vec<Expr>,
    /// The name the physical columns are qualified with in `columns`.
    pub physical_qualifier: String,
}

#[async_trait]
impl TableProvider for StreamTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(not_executable(&self.ddl.name.to_string()))
    }
}

/// `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ...))` after the rewrite: the input's columns plus
/// `window_start`, `window_end` and `window_time`.
#[derive(Debug)]
pub struct WindowTvfTable {
    /// The window function as written.
    pub tvf: WindowTvf,
    /// The plan of the windowed table or view (a scan of it).
    pub input: LogicalPlan,
    /// The input's columns, then the three window columns.
    pub schema: SchemaRef,
}

impl WindowTvfTable {
    /// The output schema for an input schema: the window columns have the time column's
    /// timestamp type (`TIMESTAMP(3)` when the time column is not a timestamp).
    pub fn output_schema(input: &Schema, time_type: &DataType) -> SchemaRef {
        let ts = match time_type {
            DataType::Timestamp(unit, tz) => DataType::Timestamp(*unit, tz.clone()),
            _ => DataType::Timestamp(TimeUnit::Millisecond, None),
        };
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(WINDOW_START, ts.clone(), false));
        fields.push(Field::new(WINDOW_END, ts.clone(), false));
        fields.push(Field::new(WINDOW_TIME, ts, false));
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl TableProvider for WindowTvfTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(not_executable("a window table function"))
    }
}

/// A table read `FOR SYSTEM_TIME AS OF` (a lookup join's dimension table) after the rewrite:
/// the table's columns. The join translator loads the table into its lookup operator.
#[derive(Clone, Debug)]
pub struct LookupTable {
    /// The table.
    pub table: Arc<StreamTable>,
    /// Its name as written.
    pub name: String,
    /// The `AS OF` expression as written.
    pub as_of: String,
}

#[async_trait]
impl TableProvider for LookupTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(not_executable("a lookup table"))
    }
}

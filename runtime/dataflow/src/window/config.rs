//! The configuration of a keyed window operator and the schemas it implies.

use super::aggregate::AggregateSpec;
use super::assigner::WindowAssigner;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use freshet_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// The name of the output column holding the window start.
pub const WINDOW_START: &str = "window_start";
/// The name of the output column holding the window end.
pub const WINDOW_END: &str = "window_end";

/// Which clock windows follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowTime {
    /// Event time read from a column (Int64 ms or Timestamp(Millisecond)); windows fire on
    /// watermarks.
    EventTime {
        /// The timestamp column.
        timestamp_column: String,
    },
    /// The operator's clock when a batch arrives; windows fire on processing-time timers.
    ProcessingTime,
}

/// The configuration of a [`WindowOperator`](super::WindowOperator).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WindowConfig {
    /// The key columns (the input is hash-partitioned by them).
    pub key_columns: Vec<String>,
    /// Event or processing time.
    pub time: WindowTime,
    /// The windows.
    pub assigner: WindowAssigner,
    /// The aggregates, in output order.
    #[serde(default)]
    pub aggregates: Vec<AggregateSpec>,
    /// How long (ms, event time) after a window fires its state is kept for late records, which
    /// then update it and emit the updated result again. Non-negative.
    #[serde(default)]
    pub allowed_lateness_ms: i64,
    /// The side output that receives records too late for every one of their windows; without
    /// it such records are dropped and counted.
    #[serde(default)]
    pub late_output: Option<String>,
}

impl WindowConfig {
    /// Event-time windows over `timestamp_column`, keyed by `key_columns`, without aggregates.
    pub fn event_time(
        key_columns: impl IntoIterator<Item = impl Into<String>>,
        timestamp_column: impl Into<String>,
        assigner: WindowAssigner,
    ) -> Self {
        Self {
            key_columns: key_columns.into_iter().map(Into::into).collect(),
            time: WindowTime::EventTime {
                timestamp_column: timestamp_column.into(),
            },
            assigner,
            aggregates: Vec::new(),
            allowed_lateness_ms: 0,
            late_output: None,
        }
    }

    /// Processing-time windows keyed by `key_columns`, without aggregates.
    pub fn processing_time(key_columns: impl IntoIterator<Item = impl Into<String>>, assigner: WindowAssigner) -> Self {
        Self {
            key_columns: key_columns.into_iter().map(Into::into).collect(),
            time: WindowTime::ProcessingTime,
            assigner,
            aggregates: Vec::new(),
            allowed_lateness_ms: 0,
            late_output: None,
        }
    }

    /// Adds an aggregate column.
    pub fn aggregate(mut self, spec: AggregateSpec) -> Self {
        self.aggregates.push(spec);
        self
    }

    /// Sets the allowed lateness.
    pub fn allowed_lateness(mut self, ms: i64) -> Self {
        self.allowed_lateness_ms = ms;
        self
    }

    /// Sends records too late for all their windows to the side output `tag`.
    pub fn late_output(mut self, tag: impl Into<String>) -> Self {
        self.late_output = Some(tag.into());
        self
    }

    /// Whether windows follow event time.
    pub fn is_event_time(&self) -> bool {
        matches!(self.time, WindowTime::EventTime { .. })
    }

    /// Checks the options that do not depend on the input schema.
    pub fn validate(&self) -> Result<()> {
        self.assigner.validate()?;
        if self.allowed_lateness_ms < 0 {
            return Err(Error::Config(format!(
                "window option 'allowed_lateness_ms' must not be negative, got {}",
                self.allowed_lateness_ms
            )));
        }
        if self.key_columns.is_empty() {
            return Err(Error::Config(
                "window option 'key_columns' must name at least one column".into(),
            ));
        }
        if let Some(tag) = &self.late_output {
            if tag.is_empty() {
                return Err(Error::Config("window option 'late_output' must not be empty".into()));
            }
        }
        Ok(())
    }

    /// The index of the event-time column in `input` (checking its type), if event time.
    pub(crate) fn time_column(&self, input: &Schema) -> Result<Option<usize>> {
        let WindowTime::EventTime { timestamp_column } = &self.time else {
            return Ok(None);
        };
        let idx = input.index_of(timestamp_column).map_err(|_| {
            Error::Config(format!(
                "window option 'time.timestamp_column': column '{timestamp_column}' not found in the input schema"
            ))
        })?;
        match input.field(idx).data_type() {
            DataType::Int64 | DataType::Timestamp(TimeUnit::Millisecond, _) => Ok(Some(idx)),
            other => Err(Error::Config(format!(
                "window option 'time.timestamp_column': column '{timestamp_column}' has type {other}; \
                 expected Int64 (ms) or Timestamp(Millisecond)"
            ))),
        }
    }

    /// The output schema: key columns, `window_start`, `window_end`, then `aggregate_fields`.
    pub(crate) fn build_output_schema<'a>(
        &self,
        input: &Schema,
        aggregate_fields: impl Iterator<Item = &'a Field>,
    ) -> Result<SchemaRef> {
        let mut fields = Vec::new();
        for name in &self.key_columns {
            let field = input.field_with_name(name).map_err(|_| {
                Error::Config(format!(
                    "window option 'key_columns': column '{name}' not found in the input schema"
                ))
            })?;
            fields.push(field.clone());
        }
        // Count windows of processing time have no bounds.
        let nullable_bounds = !self.assigner.is_time_based();
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        fields.push(Field::new(WINDOW_START, ts.clone(), nullable_bounds));
        fields.push(Field::new(WINDOW_END, ts, nullable_bounds));
        fields.extend(aggregate_fields.cloned());
        let mut seen = HashSet::new();
        for f in &fields {
            if !seen.insert(f.name().as_str()) {
                return Err(Error::Config(format!(
                    "window option 'aggregates': output column '{}' appears twice in the window output",
                    f.name()
                )));
            }
        }
        Ok(Arc::new(Schema::new(fields)))
    }
}

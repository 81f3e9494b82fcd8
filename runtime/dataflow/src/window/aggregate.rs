//! Which aggregates a window computes: the built-in functions (serializable) and user-defined
//! ones (through [`DynAggregateFunction`]).
//!
//! Input types: `count` takes any column; `sum`, `min`, `max` and `avg` take Int64, Float64 or
//! Timestamp (read as its Int64 value). Output types: `count` is Int64 (never null); `sum` is
//! Int64 (for Int64/Timestamp input) or Float64; `min`/`max` keep the input type; `avg` is
//! Float64. `sum`, `min`, `max` and `avg` of a window without non-null input are null. Integer
//! sums wrap on overflow (as Flink's `BIGINT` sums).

use super::udaf::DynAggregateFunction;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// An aggregate function and its input column.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "function", content = "column", rename_all = "snake_case")]
pub enum Aggregate {
    /// The number of records (`COUNT(*)`).
    Count,
    /// The number of non-null values of a column (`COUNT(col)`).
    CountNonNull(String),
    /// The sum of a column.
    Sum(String),
    /// The minimum of a column.
    Min(String),
    /// The maximum of a column.
    Max(String),
    /// The mean of a column.
    Avg(String),
    /// A user-defined aggregate (not serializable: build it in code).
    #[serde(skip)]
    Udaf(UdafCall),
}

/// A user-defined aggregate applied to a column.
#[derive(Clone)]
pub struct UdafCall {
    /// The input column.
    pub column: String,
    /// The function.
    pub function: Arc<dyn DynAggregateFunction>,
}

impl fmt::Debug for UdafCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.function.name(), self.column)
    }
}

impl Aggregate {
    /// The input column, if the function reads one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Aggregate::Count => None,
            Aggregate::CountNonNull(c)
            | Aggregate::Sum(c)
            | Aggregate::Min(c)
            | Aggregate::Max(c)
            | Aggregate::Avg(c) => Some(c),
            Aggregate::Udaf(u) => Some(&u.column),
        }
    }

    /// The function's name, e.g. `sum`.
    pub fn function_name(&self) -> &str {
        match self {
            Aggregate::Count | Aggregate::CountNonNull(_) => "count",
            Aggregate::Sum(_) => "sum",
            Aggregate::Min(_) => "min",
            Aggregate::Max(_) => "max",
            Aggregate::Avg(_) => "avg",
            Aggregate::Udaf(u) => u.function.name(),
        }
    }
}

/// One output column of a window: an aggregate and the column's name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggregateSpec {
    /// What to compute.
    pub function: Aggregate,
    /// The output column name.
    pub name: String,
}

impl AggregateSpec {
    /// `function` written to the output column `name`.
    pub fn new(function: Aggregate, name: impl Into<String>) -> Self {
        Self {
            function,
            name: name.into(),
        }
    }

    /// `COUNT(*)` as `name`.
    pub fn count(name: impl Into<String>) -> Self {
        Self::new(Aggregate::Count, name)
    }

    /// `SUM(column)` as `name`.
    pub fn sum(column: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(Aggregate::Sum(column.into()), name)
    }

    /// `MIN(column)` as `name`.
    pub fn min(column: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(Aggregate::Min(column.into()), name)
    }

    /// `MAX(column)` as `name`.
    pub fn max(column: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(Aggregate::Max(column.into()), name)
    }

    /// `AVG(column)` as `name`.
    pub fn avg(column: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(Aggregate::Avg(column.into()), name)
    }

    /// A user-defined aggregate of `column` as `name`.
    pub fn udaf(function: Arc<dyn DynAggregateFunction>, column: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(
            Aggregate::Udaf(UdafCall {
                column: column.into(),
                function,
            }),
            name,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_specs_serialize() {
        let specs = vec![AggregateSpec::count("n"), AggregateSpec::sum("price", "total")];
        let json = serde_json::to_string(&specs).unwrap();
        assert_eq!(
            json,
            r#"[{"function":{"function":"count"},"name":"n"},{"function":{"function":"sum","column":"price"},"name":"total"}]"#
        );
        let back: Vec<AggregateSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back[1].function.column(), Some("price"));
        assert_eq!(back[1].function.function_name(), "sum");
    }
}

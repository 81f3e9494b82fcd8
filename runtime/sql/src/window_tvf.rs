//! Windowing table-valued functions: `FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time),
//! INTERVAL '10' SECOND))` decoded from the sqlparser AST into a [`WindowTvf`].
//!
//! DataFusion does not plan `TableFactor::TableFunction` relations, so the planner finds them
//! (e.g. with a `VisitorMut` over the query), decodes them with
//! [`WindowTvf::from_table_factor`] and replaces them by its own window node. The signatures
//! are Flink's, with positional or named (`SIZE => ...`) arguments:
//!
//! ```text
//! TUMBLE(DATA, TIMECOL, SIZE [, OFFSET])
//! HOP(DATA, TIMECOL, SLIDE, SIZE [, OFFSET])
//! CUMULATE(DATA, TIMECOL, STEP, SIZE [, OFFSET])
//! SESSION(DATA [PARTITION BY key | PARTITION BY (key, ...)], TIMECOL, GAP)
//! ```
//!
//! `DATA` is `TABLE name` (see [`crate::dialect`] for its AST), `TIMECOL` is
//! `DESCRIPTOR(column)`, and the durations are constant intervals. Checked here: sizes, slides,
//! steps and gaps are positive; a hop's size is a multiple of its slide and a cumulate's size
//! a multiple of its step (as Flink requires). Offsets may be negative; they are normalized
//! into `[0, period)` where the period is the size (tumble, cumulate) or the slide (hop),
//! which yields the same windows.

use crate::dialect::TABLE_ARGUMENT_FUNCTION;
use crate::error::{Result, SqlError};
use crate::interval::{interval_nanos, interval_to_duration};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, Spanned, TableAlias,
    TableFactor, WindowType,
};
use datafusion::sql::sqlparser::tokenizer::{Location, Span};
use std::time::Duration;

/// A window table function in a `FROM` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowTvf {
    /// The kind of window and its durations.
    pub window: WindowKind,
    /// The windowed table (`TABLE name`).
    pub table: ObjectName,
    /// `SESSION`'s partition keys (empty for the other kinds, and for unpartitioned sessions).
    pub partition_by: Vec<Expr>,
    /// The time attribute (`DESCRIPTOR(column)`).
    pub time_column: Ident,
    /// `AS alias` after `TABLE(...)`.
    pub alias: Option<TableAlias>,
    /// The function call.
    pub span: Span,
}

/// The window assigned by a [`WindowTvf`]. Offsets are normalized into `[0, period)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size`.
    Tumble {
        /// Window length.
        size: Duration,
        /// Shift of window starts from the epoch.
        offset: Duration,
    },
    /// Windows of `size` starting every `slide`.
    Hop {
        /// Distance between window starts.
        slide: Duration,
        /// Window length, a multiple of `slide`.
        size: Duration,
        /// Shift of window starts from the epoch.
        offset: Duration,
    },
    /// Windows growing by `step` from each multiple of `size` up to `size`.
    Cumulate {
        /// Growth of the window end.
        step: Duration,
        /// Maximum window length, a multiple of `step`.
        size: Duration,
        /// Shift of window starts from the epoch.
        offset: Duration,
    },
    /// Windows of activity separated by more than `gap`.
    Session {
        /// Inactivity that closes a session.
        gap: Duration,
    },
}

/// Parameter names of each function, in positional order; `true` marks optional ones.
fn parameters(function: &str) -> Option<&'static [(&'static str, bool)]> {
    Some(match function {
        "TUMBLE" => &[("DATA", false), ("TIMECOL", false), ("SIZE", false), ("OFFSET", true)],
        "HOP" => &[
            ("DATA", false),
            ("TIMECOL", false),
            ("SLIDE", false),
            ("SIZE", false),
            ("OFFSET", true),
        ],
        "CUMULATE" => &[
            ("DATA", false),
            ("TIMECOL", false),
            ("STEP", false),
            ("SIZE", false),
            ("OFFSET", true),
        ],
        "SESSION" => &[("DATA", false), ("TIMECOL", false), ("GAP", false)],
        _ => return None,
    })
}

impl WindowTvf {
    /// Decodes `relation` if it is `TABLE(TUMBLE|HOP|CUMULATE|SESSION(...))`; `Ok(None)` for
    /// any other relation, an error for a window function with bad arguments.
    pub fn from_table_factor(relation: &TableFactor) -> Result<Option<WindowTvf>> {
        let TableFactor::TableFunction {
            expr: Expr::Function(function),
            alias,
        } = relation
        else {
            return Ok(None);
        };
        let name = last_part(&function.name).to_ascii_uppercase();
        let Some(parameters) = parameters(&name) else {
            return Ok(None);
        };
        let here = function.name.span().start;
        let args = bind_arguments(function, &name, parameters, here)?;
        let arg = |parameter: &str| -> Option<&Expr> {
            let index = parameters.iter().position(|(p, _)| *p == parameter)?;
            args[index]
        };
        let positive = |parameter: &str| -> Result<Duration> {
            let expr = arg(parameter).ok_or_else(|| SqlError::at(here, format!("{name} needs {parameter}")))?;
            let duration = interval_to_duration(expr, here)?;
            match duration.is_zero() {
                true => Err(SqlError::at_node(
                    expr,
                    here,
                    format!("{name} {parameter} must be positive"),
                )),
                false => Ok(duration),
            }
        };
        let offset = |period: Duration| -> Result<Duration> {
            let Some(expr) = arg("OFFSET") else {
                return Ok(Duration::ZERO);
            };
            let period_nanos = period.as_nanos() as i128;
            let normalized = interval_nanos(expr, here)?.rem_euclid(period_nanos);
            // Less than `period`, which is a `Duration`, so it fits.
            Ok(Duration::from_nanos(normalized as u64))
        };
        let multiple = |size: Duration, unit: Duration, what: &str| -> Result<()> {
            match size.as_nanos() % unit.as_nanos() {
                0 => Ok(()),
                _ => Err(SqlError::at(
                    arg("SIZE").map_or(here, |e| e.span().start),
                    format!("{name} SIZE must be a multiple of {what}"),
                )),
            }
        };
        let window = match name.as_str() {
            "TUMBLE" => {
                let size = positive("SIZE")?;
                WindowKind::Tumble {
                    size,
                    offset: offset(size)?,
                }
            }
            "HOP" => {
                let (slide, size) = (positive("SLIDE")?, positive("SIZE")?);
                multiple(size, slide, "SLIDE")?;
                WindowKind::Hop {
                    slide,
                    size,
                    offset: offset(slide)?,
                }
            }
            "CUMULATE" => {
                let (step, size) = (positive("STEP")?, positive("SIZE")?);
                multiple(size, step, "STEP")?;
                WindowKind::Cumulate {
                    step,
                    size,
                    offset: offset(size)?,
                }
            }
            _ => WindowKind::Session { gap: positive("GAP")? },
        };
        let data = arg("DATA").ok_or_else(|| SqlError::at(here, format!("{name} needs DATA")))?;
        let (table, partition_by) = decode_table_argument(data, &name, here)?;
        if !partition_by.is_empty() && name != "SESSION" {
            return Err(
                SqlError::at_node(data, here, format!("{name} does not take PARTITION BY"))
                    .with_hint("only SESSION windows are partitioned"),
            );
        }
        let time = arg("TIMECOL").ok_or_else(|| SqlError::at(here, format!("{name} needs TIMECOL")))?;
        Ok(Some(WindowTvf {
            window,
            table,
            partition_by,
            time_column: decode_descriptor(time, here)?,
            alias: alias.clone(),
            span: function.span(),
        }))
    }
}

fn last_part(name: &ObjectName) -> String {
    name.0.last().map(|p| p.to_string()).unwrap_or_default()
}

/// The argument of each parameter (positional first, then named), checking that required
/// ones are given and nothing is given twice or unknown.
fn bind_arguments<'f>(
    function: &'f Function,
    name: &str,
    parameters: &[(&str, bool)],
    here: Location,
) -> Result<Vec<Option<&'f Expr>>> {
    let signature: Vec<&str> = parameters.iter().map(|(p, _)| *p).collect();
    let hint = format!("{name}({})", signature.join(", "));
    let FunctionArguments::List(list) = &function.args else {
        return Err(SqlError::at(here, format!("{name} needs arguments")).with_hint(hint));
    };
    let mut bound: Vec<Option<&Expr>> = vec![None; parameters.len()];
    for (position, arg) in list.args.iter().enumerate() {
        let (index, expr, at) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => {
                if position >= parameters.len() {
                    return Err(SqlError::at_node(expr, here, format!("too many arguments for {name}")).with_hint(hint));
                }
                (position, expr, expr.span().start)
            }
            FunctionArg::Named {
                name: param,
                arg: FunctionArgExpr::Expr(expr),
                ..
            } => {
                let upper = param.value.to_ascii_uppercase();
                let Some(index) = signature.iter().position(|p| *p == upper) else {
                    return Err(
                        SqlError::at(param.span.start, format!("{name} has no parameter {}", param.value))
                            .with_hint(hint),
                    );
                };
                (index, expr, param.span.start)
            }
            other => {
                return Err(
                    SqlError::at_node(other, here, format!("unexpected argument '{other}' of {name}")).with_hint(hint),
                );
            }
        };
        if bound[index].is_some() {
            return Err(SqlError::at(at, format!("{name} {} is given twice", signature[index])));
        }
        bound[index] = Some(expr);
    }
    for ((parameter, optional), value) in parameters.iter().zip(&bound) {
        if value.is_none() && !optional {
            return Err(SqlError::at(here, format!("{name} is missing {parameter}")).with_hint(hint));
        }
    }
    Ok(bound)
}

/// `TABLE name [PARTITION BY ...]` (the pseudo call of [`crate::dialect`]).
fn decode_table_argument(expr: &Expr, function: &str, here: Location) -> Result<(ObjectName, Vec<Expr>)> {
    let error = || {
        SqlError::at_node(
            expr,
            here,
            format!("the first argument of {function} must be TABLE <name>"),
        )
        .with_hint(format!("e.g. {function}(TABLE bid, DESCRIPTOR(date_time), ...)"))
    };
    let Expr::Function(call) = expr else {
        return Err(error());
    };
    if last_part(&call.name) != TABLE_ARGUMENT_FUNCTION {
        return Err(error());
    }
    let name = match single_argument(call) {
        Some(Expr::Identifier(ident)) => ObjectName::from(vec![ident.clone()]),
        Some(Expr::CompoundIdentifier(idents)) => ObjectName::from(idents.clone()),
        _ => return Err(error()),
    };
    let partition_by = match &call.over {
        Some(WindowType::WindowSpec(spec)) => spec.partition_by.clone(),
        _ => Vec::new(),
    };
    Ok((name, partition_by))
}

/// `DESCRIPTOR(column)`.
fn decode_descriptor(expr: &Expr, here: Location) -> Result<Ident> {
    if let Expr::Function(call) = expr {
        if last_part(&call.name).eq_ignore_ascii_case("DESCRIPTOR") {
            if let Some(Expr::Identifier(column)) = single_argument(call) {
                return Ok(column.clone());
            }
        }
    }
    Err(
        SqlError::at_node(expr, here, "the time attribute must be DESCRIPTOR(<column>)")
            .with_hint("e.g. DESCRIPTOR(date_time)"),
    )
}

fn single_argument(call: &Function) -> Option<&Expr> {
    match &call.args {
        FunctionArguments::List(list) => match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))] => Some(expr),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests;

//! Constant day-time intervals (`INTERVAL '10' SECOND`) as durations: window sizes, slides,
//! gaps and offsets, and watermark delays.
//!
//! Accepted forms: `INTERVAL '<n>' <unit>` and `INTERVAL <n> <unit>` with `<n>` a decimal
//! (`'0.5' SECOND`), and `INTERVAL '<n> <unit>'`. Units: NANOSECOND, MICROSECOND, MILLISECOND,
//! SECOND, MINUTE, HOUR, DAY, each also in the plural (Flink accepts `INTERVAL '10' MINUTES`).
//! Months and years have no fixed length and are rejected, as are `X TO Y` ranges.

use crate::error::{Result, SqlError};
use datafusion::sql::sqlparser::ast::{DateTimeField, Expr, Interval, UnaryOperator, Value};
use datafusion::sql::sqlparser::tokenizer::Location;
use std::time::Duration;

const UNITS_HINT: &str =
    "write e.g. INTERVAL '10' SECOND; units: NANOSECOND, MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY";

/// The duration of a constant, non-negative interval expression. Errors point at `expr`, or at
/// `fallback` if sqlparser recorded no location for it.
pub fn interval_to_duration(expr: &Expr, fallback: Location) -> Result<Duration> {
    let nanos = interval_nanos(expr, fallback)?;
    if nanos < 0 {
        return Err(SqlError::at_node(expr, fallback, "the interval must not be negative"));
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| SqlError::at_node(expr, fallback, "the interval is too long"))
}

/// The signed length in nanoseconds of a constant interval expression.
pub(crate) fn interval_nanos(expr: &Expr, fallback: Location) -> Result<i128> {
    let error = |message: &str| SqlError::at_node(expr, fallback, message).with_hint(UNITS_HINT);
    let interval = match expr {
        Expr::Interval(interval) => interval,
        Expr::Nested(inner) => return interval_nanos(inner, fallback),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } => return Ok(-interval_nanos(inner, fallback)?),
        _ => return Err(error(&format!("expected a constant interval, found '{expr}'"))),
    };
    let Interval {
        value,
        leading_field,
        last_field,
        ..
    } = interval;
    if last_field.is_some() {
        return Err(error("interval ranges (X TO Y) are not supported"));
    }
    let text = match value.as_ref() {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::Number(s, _) => s.trim().to_string(),
            _ => return Err(error("expected a number or a string as the interval value")),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: inner,
        } => match inner.as_ref() {
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => format!("-{}", v.value),
            _ => return Err(error("expected a number or a string as the interval value")),
        },
        _ => return Err(error("expected a number or a string as the interval value")),
    };
    let (amount, unit_nanos) = match leading_field {
        Some(field) => (
            text.as_str(),
            field_nanos(field).ok_or_else(|| error(&unit_message(field)))?,
        ),
        None => {
            let mut words = text.split_whitespace();
            let (Some(amount), Some(unit), None) = (words.next(), words.next(), words.next()) else {
                return Err(error(&format!("cannot read interval '{text}'")));
            };
            (
                amount,
                unit_name_nanos(unit).ok_or_else(|| error(&format!("unknown interval unit '{unit}'")))?,
            )
        }
    };
    scaled(amount, unit_nanos).ok_or_else(|| error(&format!("'{amount}' is not a number")))
}

fn unit_message(field: &DateTimeField) -> String {
    format!("interval unit {field} is not supported (it has no fixed length or is not a time unit)")
}

fn field_nanos(field: &DateTimeField) -> Option<i128> {
    use DateTimeField as F;
    Some(match field {
        F::Nanosecond | F::Nanoseconds => 1,
        F::Microsecond | F::Microseconds => 1_000,
        F::Millisecond | F::Milliseconds => 1_000_000,
        F::Second | F::Seconds => 1_000_000_000,
        F::Minute | F::Minutes => 60_000_000_000,
        F::Hour | F::Hours => 3_600_000_000_000,
        F::Day | F::Days => 86_400_000_000_000,
        _ => return None,
    })
}

fn unit_name_nanos(unit: &str) -> Option<i128> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "ns" | "nanosecond" | "nanoseconds" => 1,
        "us" | "microsecond" | "microseconds" => 1_000,
        "ms" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "min" | "minute" | "minutes" => 60_000_000_000,
        "h" | "hour" | "hours" => 3_600_000_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        _ => return None,
    })
}

/// `amount` (a decimal like `-1.5`) times `unit_nanos`, exactly; fractions below a nanosecond
/// are dropped.
fn scaled(amount: &str, unit_nanos: i128) -> Option<i128> {
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount.strip_prefix('+').unwrap_or(amount)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 18 {
        return None;
    }
    let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    if !fraction.is_empty() {
        let denominator = 10_i128.pow(fraction.len() as u32);
        nanos = nanos.checked_add(fraction.parse::<i128>().ok()?.checked_mul(unit_nanos)? / denominator)?;
    }
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::FreshetDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn duration(sql: &str) -> Result<Duration> {
        let expr = Parser::new(&FreshetDialect)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| SqlError::from_parser(e, Location::new(1, 1)))?;
        interval_to_duration(&expr, Location::new(1, 1))
    }

    #[test]
    fn flink_interval_forms() {
        let s = Duration::from_secs;
        assert_eq!(duration("INTERVAL '10' SECOND"), Ok(s(10)));
        assert_eq!(duration("INTERVAL '10' SECONDS"), Ok(s(10)));
        assert_eq!(duration("INTERVAL '2' MINUTE"), Ok(s(120)));
        assert_eq!(duration("INTERVAL '10' MINUTES"), Ok(s(600)));
        assert_eq!(duration("INTERVAL '1' HOUR"), Ok(s(3600)));
        assert_eq!(duration("INTERVAL '1' DAY"), Ok(s(86_400)));
        assert_eq!(duration("INTERVAL '500' MILLISECOND"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("INTERVAL '0.001' SECOND"), Ok(Duration::from_millis(1)));
        assert_eq!(duration("INTERVAL 4 SECOND"), Ok(s(4)));
        assert_eq!(duration("INTERVAL '10 seconds'"), Ok(s(10)));
        assert_eq!(duration("INTERVAL '1 minute'"), Ok(s(60)));
        assert_eq!(duration("(INTERVAL '3' SECOND)"), Ok(s(3)));
    }

    #[test]
    fn rejected_intervals() {
        let message = |sql: &str| duration(sql).map_err(|e| e.message);
        assert_eq!(
            message("INTERVAL '1' MONTH"),
            Err("interval unit MONTH is not supported (it has no fixed length or is not a time unit)".into())
        );
        assert_eq!(
            message("INTERVAL '1:30' MINUTE TO SECOND"),
            Err("interval ranges (X TO Y) are not supported".into())
        );
        assert_eq!(message("INTERVAL 'x' SECOND"), Err("'x' is not a number".into()));
        assert_eq!(
            message("-INTERVAL '1' SECOND"),
            Err("the interval must not be negative".into())
        );
        assert_eq!(message("5"), Err("expected a constant interval, found '5'".into()));
    }
}

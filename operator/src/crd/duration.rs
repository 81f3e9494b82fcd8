//! Durations as the StreamJob spec writes them: `500ms`, `30s`, `5m`, `1h`, `7d`, `1h30m`
//! (the schema's [`super::DURATION_PATTERN`]).

use std::time::Duration;

/// Parses a duration such as `1h30m`; `None` if it is malformed or overflows.
pub fn parse(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, unit_len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('d') {
            (86_400_000, 1)
        } else {
            return None;
        };
        total = total.checked_add(value.checked_mul(unit_ms)?)?;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("7d"), Some(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn refuses_malformed() {
        for bad in ["", "s", "10", "10x", "1.5s", "-1s", "99999999999999999999d"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

//! Parsing of connector options given as string key/value pairs, the form in which the SQL layer
//! passes `WITH ('key' = 'value', ...)`. Every connector config has a `from_options` that walks
//! its keys through an [`OptionReader`], which names the connector and the key in every error
//! and rejects keys the connector does not know, listing the supported ones.

use freshet_core::{Error, Result};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The key every connector accepts and ignores: it selected the connector.
pub const CONNECTOR_KEY: &str = "connector";

/// Reads typed values out of a string option map for one connector.
pub struct OptionReader<'a> {
    connector: &'a str,
    options: &'a BTreeMap<String, String>,
}

impl<'a> OptionReader<'a> {
    /// A reader for `connector`, which supports the keys in `supported` (plus `connector`).
    /// Fails on the first unknown key, unless `is_dynamic` accepts it (e.g. per-field keys).
    pub fn new(
        connector: &'a str,
        options: &'a BTreeMap<String, String>,
        supported: &[&str],
        is_dynamic: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        for key in options.keys() {
            if key != CONNECTOR_KEY && !supported.contains(&key.as_str()) && !is_dynamic(key) {
                return Err(Error::Config(format!(
                    "{connector}: unknown option '{key}'; supported options: {}",
                    supported.join(", ")
                )));
            }
        }
        Ok(Self { connector, options })
    }

    /// The raw value of `key`, if set.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.options.get(key).map(|s| s.trim())
    }

    /// Parses `key` with [`FromStr`].
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| self.invalid(key, v, &e.to_string())),
        }
    }

    /// Parses a boolean (`true`/`false`, case-insensitive).
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(self.invalid(key, v, "expected true or false")),
            },
        }
    }

    /// Parses a duration such as `500ms`, `10s`, `1 min`, `2h` (a bare number is milliseconds).
    pub fn duration_ms(&self, key: &str) -> Result<Option<u64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_duration_ms(v).map(Some).map_err(|e| self.invalid(key, v, &e)),
        }
    }

    /// Parses a size such as `128MB`, `64 kb`, `1gb` (a bare number is bytes).
    pub fn bytes(&self, key: &str) -> Result<Option<u64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_size_bytes(v).map(Some).map_err(|e| self.invalid(key, v, &e)),
        }
    }

    /// A single-byte character (e.g. a CSV delimiter; `\t` is accepted for tab).
    pub fn byte_char(&self, key: &str) -> Result<Option<u8>> {
        match self.raw_untrimmed(key) {
            None => Ok(None),
            Some("\\t") => Ok(Some(b'\t')),
            Some(v) if v.len() == 1 => Ok(Some(v.as_bytes()[0])),
            Some(v) => Err(self.invalid(key, v, "expected a single ASCII character")),
        }
    }

    fn raw_untrimmed(&self, key: &str) -> Option<&'a str> {
        self.options.get(key).map(String::as_str)
    }

    /// An error for a bad value of `key`.
    pub fn invalid(&self, key: &str, value: &str, why: &str) -> Error {
        Error::Config(format!(
            "{}: invalid value '{value}' for option '{key}': {why}",
            self.connector
        ))
    }
}

/// Parses a duration to milliseconds: a number with an optional unit `ms`, `s`, `min`, `h`.
pub fn parse_duration_ms(text: &str) -> std::result::Result<u64, String> {
    let (number, unit) = split_number_unit(text)?;
    let factor = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        other => return Err(format!("unknown duration unit '{other}' (use ms, s, min, h or d)")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| "duration too large".to_string())
}

/// Parses a size to bytes: a number with an optional unit `b`, `kb`, `mb`, `gb` (powers of 1024).
pub fn parse_size_bytes(text: &str) -> std::result::Result<u64, String> {
    let (number, unit) = split_number_unit(text)?;
    let factor: u64 = match unit.as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}' (use b, kb, mb or gb)")),
    };
    number.checked_mul(factor).ok_or_else(|| "size too large".to_string())
}

fn split_number_unit(text: &str) -> std::result::Result<(u64, String), String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if digits == 0 {
        return Err("expected a number with an optional unit".into());
    }
    let number = text[..digits].parse::<u64>().map_err(|e| e.to_string())?;
    Ok((number, text[digits..].trim().to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("1 min"), Ok(60_000));
        assert!(parse_duration_ms("fast").is_err());
        assert!(parse_duration_ms("3 weeks").is_err());
        assert_eq!(parse_size_bytes("128MB"), Ok(128 << 20));
        assert_eq!(parse_size_bytes("7"), Ok(7));
        assert!(parse_size_bytes("1tb").is_err());
    }

    #[test]
    fn unknown_keys_are_listed() {
        let o = opts(&[("connector", "x"), ("speed", "1")]);
        let err = OptionReader::new("x", &o, &["a", "b"], |_| false)
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("unknown option 'speed'") && err.contains("a, b"), "{err}");
    }

    #[test]
    fn typed_values_name_the_key() {
        let o = opts(&[("a", "nope"), ("b", "TRUE"), ("c", "\\t")]);
        let r = OptionReader::new("x", &o, &["a", "b", "c"], |_| false).expect("reader");
        let err = r.parse::<u64>("a").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("'a'") && err.contains("nope"), "{err}");
        assert_eq!(r.bool("b").ok().flatten(), Some(true));
        assert_eq!(r.byte_char("c").ok().flatten(), Some(b'\t'));
    }
}

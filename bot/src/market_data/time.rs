//! Timestamps: unit detection by magnitude, `--from/--to` parsing, display.
//!
//! Candles carry Unix **milliseconds**. Files carry seconds, milliseconds or
//! (Binance spot data since 2025) microseconds; the unit is told apart by
//! magnitude, row by row, so a file concatenated across the switch still loads.

use super::MarketDataError;
use chrono::{DateTime, NaiveDate, Utc};

/// Unit of an integer Unix timestamp found in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Seconds,
    Millis,
    Micros,
}

/// Below this a timestamp is seconds (1e11 s is the year 5138; 1e11 ms is 1973).
const SECONDS_BELOW: i64 = 100_000_000_000;
/// Below this (and above the seconds bound) it is milliseconds (1e14 ms is year 5138).
const MILLIS_BELOW: i64 = 100_000_000_000_000;
/// Below this it is microseconds; anything larger (nanoseconds) is refused.
const MICROS_BELOW: i64 = 100_000_000_000_000_000;

impl TimeUnit {
    /// Tells the unit of a positive Unix timestamp by its magnitude. Any date
    /// between 1973 and 5138 is classified correctly in every unit; `None` for
    /// zero, negative or nanosecond-sized values.
    pub fn detect(raw: i64) -> Option<TimeUnit> {
        match raw {
            ..=0 => None,
            1..SECONDS_BELOW => Some(TimeUnit::Seconds),
            SECONDS_BELOW..MILLIS_BELOW => Some(TimeUnit::Millis),
            MILLIS_BELOW..MICROS_BELOW => Some(TimeUnit::Micros),
            _ => None,
        }
    }

    /// Converts a timestamp in this unit to milliseconds (microseconds are
    /// floored: a candle's open time never has a sub-millisecond part in practice).
    pub fn to_millis(self, raw: i64) -> i64 {
        match self {
            TimeUnit::Seconds => raw * 1000,
            TimeUnit::Millis => raw,
            TimeUnit::Micros => raw.div_euclid(1000),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "s",
            TimeUnit::Millis => "ms",
            TimeUnit::Micros => "µs",
        }
    }
}

/// Integer timestamp of any supported unit to milliseconds; `None` when out of range.
pub fn unix_to_millis(raw: i64) -> Option<i64> {
    TimeUnit::detect(raw).map(|unit| unit.to_millis(raw))
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2024-01-31T12:00:00Z`) for
/// messages and labels; falls back to the raw number when out of range.
pub fn format_millis(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ms} ms"),
    }
}

/// Parses an RFC 3339 time (`2024-01-31T12:00:00Z`, `...+02:00`) to Unix ms.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// [`parse_time_arg`] as a clap value parser (`#[arg(value_parser = parse_time_flag)]`).
pub fn parse_time_flag(value: &str) -> Result<i64, String> {
    parse_time_arg(value).map_err(|e| e.to_string())
}

/// Parses a `--from/--to` argument to Unix milliseconds: a date
/// (`2024-01-31`, midnight UTC), an RFC 3339 time, or an integer Unix
/// timestamp in s, ms or µs (told apart by magnitude).
pub fn parse_time_arg(value: &str) -> Result<i64, MarketDataError> {
    let s = value.trim();
    let err = |problem: &str| MarketDataError::Time {
        value: value.to_string(),
        problem: problem.to_string(),
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if let Ok(raw) = s.parse::<i64>() {
        return unix_to_millis(raw)
            .ok_or_else(|| err("not a positive Unix timestamp in s, ms or µs"));
    }
    if let Some(ms) = parse_rfc3339_millis(s) {
        return Ok(ms);
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(midnight.and_utc().timestamp_millis());
    }
    Err(err("not a date, an RFC 3339 time or a Unix timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01T00:00:00Z
    const T_S: i64 = 1_704_067_200;

    #[test]
    fn detects_unit_by_magnitude() {
        assert_eq!(TimeUnit::detect(T_S), Some(TimeUnit::Seconds));
        assert_eq!(TimeUnit::detect(T_S * 1000), Some(TimeUnit::Millis));
        assert_eq!(TimeUnit::detect(T_S * 1_000_000), Some(TimeUnit::Micros));
        assert_eq!(
            TimeUnit::detect(T_S * 1_000_000_000),
            None,
            "nanoseconds refused"
        );
        assert_eq!(TimeUnit::detect(0), None);
        assert_eq!(TimeUnit::detect(-5), None);
        for raw in [T_S, T_S * 1000, T_S * 1_000_000] {
            assert_eq!(unix_to_millis(raw), Some(T_S * 1000));
        }
        // Microseconds with a sub-millisecond part are floored.
        assert_eq!(unix_to_millis(T_S * 1_000_000 + 999), Some(T_S * 1000));
    }

    #[test]
    fn parses_time_arguments() {
        let ms = T_S * 1000;
        assert_eq!(parse_time_arg("2024-01-01").unwrap(), ms);
        assert_eq!(parse_time_arg("2024-01-01T00:00:00Z").unwrap(), ms);
        assert_eq!(parse_time_arg("2024-01-01T02:00:00+02:00").unwrap(), ms);
        assert_eq!(parse_time_arg(&ms.to_string()).unwrap(), ms);
        assert_eq!(parse_time_arg(&T_S.to_string()).unwrap(), ms);
        let e = parse_time_arg("yesterday").unwrap_err().to_string();
        assert!(e.contains("yesterday") && e.contains("2024-01-31"), "{e}");
        assert!(parse_time_arg("-1").is_err());
    }

    #[test]
    fn formats_millis() {
        assert_eq!(format_millis(T_S * 1000), "2024-01-01T00:00:00Z");
        assert_eq!(format_millis(T_S * 1000 + 5), "2024-01-01T00:00:00.005Z");
    }
}

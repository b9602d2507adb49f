//! The candles of `GET /api/v3/brokerage/market/products/{id}/candles`:
//! `{"candles":[{"start":"1712192400","low":"66055.14","high":"66331.99",
//! "open":"66312.4","close":"66181.6","volume":"355.82896243"}, …]}`,
//! newest first, `start` in Unix seconds as a string, prices and volume as
//! decimal strings (parsed exactly, never through f64).
//!
//! Coinbase publishes no candle for an interval without a trade, so a
//! series may skip intervals. Its granularities are ONE_MINUTE,
//! FIVE_MINUTE, FIFTEEN_MINUTE, THIRTY_MINUTE, ONE_HOUR, TWO_HOUR,
//! SIX_HOUR and ONE_DAY: a 4h bot reads ONE_HOUR candles and merges each
//! four (aligned to 00:00 UTC, as Binance's 4h klines are).

use crate::binance::wire::{self, Fields, WireError};
use crate::domain::{Candle, Price, Quantity, Timeframe};
use crate::market_data::format_millis;
use serde_json::{Value, json};

/// Most candles one request may ask for (a wider `start..end` is refused).
pub const MAX_CANDLES_PER_REQUEST: i64 = 350;

/// What to ask Coinbase for to make candles of one timeframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granularity {
    /// The `granularity` query value, e.g. `ONE_HOUR`.
    pub name: &'static str,
    /// Length of the candles Coinbase returns, ms.
    pub source_ms: i64,
    /// Length of the bot's candles, ms (a multiple of `source_ms`).
    pub candle_ms: i64,
}

/// The granularity that gives `timeframe`'s candles.
pub fn granularity(timeframe: Timeframe) -> Granularity {
    let (name, source_ms) = match timeframe {
        Timeframe::M1 => ("ONE_MINUTE", 60_000),
        Timeframe::M5 => ("FIVE_MINUTE", 300_000),
        Timeframe::M15 => ("FIFTEEN_MINUTE", 900_000),
        Timeframe::H1 => ("ONE_HOUR", 3_600_000),
        // Coinbase has no FOUR_HOUR: four ONE_HOUR candles make one.
        Timeframe::H4 => ("ONE_HOUR", 3_600_000),
        Timeframe::D1 => ("ONE_DAY", 86_400_000),
    };
    Granularity {
        name,
        source_ms,
        candle_ms: timeframe.millis(),
    }
}

/// Parses a candles response body into candles, oldest first.
pub fn parse_candles(body: &str) -> Result<Vec<Candle>, WireError> {
    let value = wire::parse_json(body, "candles response")?;
    let Some(rows) = value.get("candles").and_then(Value::as_array) else {
        return Err(WireError::new(
            "candles response",
            format!(
                "expected an object with a `candles` array, found {}: {}",
                wire::kind(&value),
                wire::excerpt(body)
            ),
        ));
    };
    let mut candles = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        candles.push(parse_candle(row, i)?);
    }
    candles.sort_by_key(|c| c.open_time);
    if let Some(w) = candles
        .windows(2)
        .find(|w| w[0].open_time == w[1].open_time)
    {
        return Err(WireError::new(
            "candles response",
            format!(
                "two candles start at {} ({}); each interval has one candle",
                format_millis(w[0].open_time),
                w[0].open_time / 1000
            ),
        ));
    }
    Ok(candles)
}

/// One element of `candles`; `i` is its index, for errors.
fn parse_candle(row: &Value, i: usize) -> Result<Candle, WireError> {
    let Some(map) = row.as_object() else {
        return Err(WireError::new(
            format!("candles[{i}]"),
            format!("expected an object, found {}", wire::kind(row)),
        ));
    };
    // Fields wants a 'static context; the index goes into each error below.
    let f = Fields {
        map,
        context: "candle",
    };
    let at = |e: WireError| WireError::new(format!("candles[{i}] {}", e.context), e.problem);
    let start = f.get("start", "start time").map_err(at)?;
    let seconds = match start {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| {
        WireError::new(
            format!("candles[{i}] field `start` (start time)"),
            format!("expected Unix seconds like \"1712192400\", found `{start}`"),
        )
    })?;
    let candle = Candle {
        open_time: seconds.checked_mul(1000).ok_or_else(|| {
            WireError::new(
                format!("candles[{i}] field `start` (start time)"),
                format!("{seconds} is out of range"),
            )
        })?,
        open: f.decimal("open", "open price").map_err(at)?,
        high: f.decimal("high", "high price").map_err(at)?,
        low: f.decimal("low", "low price").map_err(at)?,
        close: f.decimal("close", "close price").map_err(at)?,
        volume: f.decimal::<Quantity>("volume", "volume").map_err(at)?,
    };
    for (key, price) in [
        ("open", candle.open),
        ("high", candle.high),
        ("low", candle.low),
        ("close", candle.close),
    ] {
        if price <= Price::ZERO {
            return Err(WireError::new(
                format!("candles[{i}] field `{key}` ({key} price)"),
                format!(
                    "price {price} of the candle starting {} ({seconds}) is not positive; a \
                     candle's prices are always above 0, so this one is refused (fix: check \
                     that the market data URL points at Coinbase or a faithful mirror)",
                    format_millis(candle.open_time)
                ),
            ));
        }
    }
    Ok(candle)
}

/// The response body Coinbase sends for `candles` (newest first), for
/// simulators, fixtures and tests.
pub fn encode_candles(candles: &[Candle]) -> String {
    let rows: Vec<Value> = candles
        .iter()
        .rev()
        .map(|c| {
            json!({
                "start": (c.open_time / 1000).to_string(),
                "low": c.low.0.to_string(),
                "high": c.high.0.to_string(),
                "open": c.open.0.to_string(),
                "close": c.close.0.to_string(),
                "volume": c.volume.0.to_string(),
            })
        })
        .collect();
    json!({ "candles": rows }).to_string()
}

/// Merges candles of `g.source_ms` (oldest first) into candles of
/// `g.candle_ms`: first open, highest high, lowest low, last close, summed
/// volume. Without merging (same length) the candles pass unchanged.
pub fn merge(source: Vec<Candle>, g: Granularity) -> Vec<Candle> {
    if g.candle_ms == g.source_ms {
        return source;
    }
    let mut out: Vec<Candle> = Vec::new();
    for c in source {
        let open_time = c.open_time - c.open_time.rem_euclid(g.candle_ms);
        match out.last_mut() {
            Some(m) if m.open_time == open_time => {
                m.high = m.high.max(c.high);
                m.low = m.low.min(c.low);
                m.close = c.close;
                m.volume = Quantity(m.volume.0 + c.volume.0);
            }
            _ => out.push(Candle { open_time, ..c }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/coinbase/market/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn candle(open_time: i64, o: i64, h: i64, l: i64, c: i64, v: i64) -> Candle {
        Candle {
            open_time,
            open: Price::from(o),
            high: Price::from(h),
            low: Price::from(l),
            close: Price::from(c),
            volume: Quantity::from(v),
        }
    }

    #[test]
    fn documented_candles_response_parses_exactly_oldest_first() {
        let candles = parse_candles(&fixture("candles.json")).unwrap();
        assert_eq!(candles.len(), 2);
        assert_eq!(candles[0].open_time, 1_712_188_800_000);
        assert_eq!(candles[1].open_time, 1_712_192_400_000);
        let newest = &candles[1];
        assert_eq!(newest.open.to_string(), "66312.4");
        assert_eq!(newest.high.to_string(), "66331.99");
        assert_eq!(newest.low.to_string(), "66055.14");
        assert_eq!(newest.close.to_string(), "66181.6");
        assert_eq!(newest.volume.to_string(), "355.82896243");
    }

    #[test]
    fn empty_candles_is_an_empty_series() {
        assert!(parse_candles(r#"{"candles":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn encode_round_trips_and_is_newest_first() {
        let cs = vec![
            candle(3_600_000, 10, 12, 9, 11, 5),
            candle(7_200_000, 11, 13, 10, 12, 6),
        ];
        let body = encode_candles(&cs);
        assert!(
            body.find("\"3600\"").unwrap() > body.find("\"7200\"").unwrap(),
            "{body}"
        );
        assert_eq!(parse_candles(&body).unwrap(), cs);
    }

    #[test]
    fn prices_at_or_below_zero_are_refused_naming_the_field_and_time() {
        let body = r#"{"candles":[{"start":"1712192400","low":"0","high":"2","open":"1","close":"1","volume":"1"}]}"#;
        let err = parse_candles(body).unwrap_err();
        assert_eq!(err.context, "candles[0] field `low` (low price)");
        assert!(err.problem.contains("is not positive"), "{err}");
        assert!(err.problem.contains("2024-04-04"), "{err}");
        let negative = body.replace("\"low\":\"0\"", "\"low\":\"-1\"");
        let err = parse_candles(&negative).unwrap_err();
        assert!(err.problem.contains("negative"), "{err}");
    }

    #[test]
    fn malformed_bodies_name_what_is_wrong() {
        let err = parse_candles("[]").unwrap_err();
        assert!(err.problem.contains("`candles` array"), "{err}");
        let err = parse_candles(r#"{"candles":[{"start":"soon"}]}"#).unwrap_err();
        assert!(err.context.contains("`start`"), "{err}");
        let err = parse_candles(
            r#"{"candles":[{"start":"60","low":"1","high":"1","open":"1","close":1,"volume":"1"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.context, "candles[0] candle field `close` (close price)");
        let twice = r#"{"candles":[{"start":"60","low":"1","high":"1","open":"1","close":"1","volume":"1"},{"start":"60","low":"1","high":"1","open":"1","close":"1","volume":"1"}]}"#;
        assert!(
            parse_candles(twice)
                .unwrap_err()
                .problem
                .contains("two candles")
        );
    }

    #[test]
    fn every_timeframe_has_a_granularity_that_divides_it() {
        for tf in Timeframe::ALL {
            let g = granularity(tf);
            assert_eq!(g.candle_ms, tf.millis());
            assert_eq!(g.candle_ms % g.source_ms, 0, "{tf:?}");
        }
        assert_eq!(granularity(Timeframe::H1).name, "ONE_HOUR");
        assert_eq!(granularity(Timeframe::H4).name, "ONE_HOUR");
        assert_eq!(granularity(Timeframe::D1).name, "ONE_DAY");
    }

    #[test]
    fn four_hour_candles_merge_aligned_hours_and_tolerate_missing_ones() {
        const H: i64 = 3_600_000;
        let hours = vec![
            candle(4 * H, 10, 12, 9, 11, 1),
            candle(5 * H, 11, 15, 10, 14, 2),
            // 6h: no trade, no candle.
            candle(7 * H, 14, 14, 8, 9, 3),
            candle(8 * H, 9, 10, 9, 10, 4),
        ];
        let merged = merge(hours, granularity(Timeframe::H4));
        assert_eq!(
            merged,
            vec![
                candle(4 * H, 10, 15, 8, 9, 6),
                candle(8 * H, 9, 10, 9, 10, 4)
            ]
        );
    }
}

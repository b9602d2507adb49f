//! The simulator's market data: every candle the test feeds becomes a closed
//! kline of its symbol, served by `GET /api/v3/klines` (the documented
//! array-of-arrays rows) and pushed on the kline WebSocket streams
//! ([`super::stream`]) as `"e": "kline"` events. Pure: no I/O here.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Binance's maximum and default `limit` of `GET /api/v3/klines`.
pub const MAX_KLINES_LIMIT: usize = 1000;
const DEFAULT_KLINES_LIMIT: usize = 500;
/// Klines kept per symbol; older ones are forgotten (a test that feeds
/// candles in a loop for minutes must not grow without bound).
const KEPT_KLINES: usize = 100_000;
/// Where the first kline of a symbol opens when the test gives no time:
/// this many intervals before now, so a fast feed stays in the past (a
/// closed kline) for a long while.
pub const AUTO_START_INTERVALS: i64 = 10_000;

/// One closed kline as the simulator serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimKline {
    pub open_time: i64,
    /// `open_time + interval - 1`, as Binance reports it.
    pub close_time: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

/// Nominal volume of a fed candle (Binance never reports a traded kline
/// with volume 0; the engine does not trade on volume).
const VOLUME: i64 = 10;
const TRADES_PER_KLINE: i64 = 10;

impl SimKline {
    /// The `GET /api/v3/klines` row: `[openTime, "open", "high", "low",
    /// "close", "volume", closeTime, "quoteVolume", trades, "takerBuyBase",
    /// "takerBuyQuote", "ignore"]`.
    pub fn rest_row(&self) -> Value {
        json!([
            self.open_time,
            dec(self.open),
            dec(self.high),
            dec(self.low),
            dec(self.close),
            dec(self.volume),
            self.close_time,
            dec(self.quote_volume()),
            TRADES_PER_KLINE,
            dec(self.volume / Decimal::TWO),
            dec(self.quote_volume() / Decimal::TWO),
            "0"
        ])
    }

    /// The `<symbol>@kline_<interval>` event; `closed` is its `"x"` flag.
    pub fn stream_event(&self, symbol: &str, interval: &str, closed: bool, now: i64) -> Value {
        let first = self.open_time / 1000;
        json!({
            "e": "kline", "E": now, "s": symbol,
            "k": {
                "t": self.open_time, "T": self.close_time, "s": symbol, "i": interval,
                "f": first, "L": first + TRADES_PER_KLINE - 1,
                "o": dec(self.open), "c": dec(self.close), "h": dec(self.high), "l": dec(self.low),
                "v": dec(self.volume), "n": TRADES_PER_KLINE, "x": closed,
                "q": dec(self.quote_volume()), "V": dec(self.volume / Decimal::TWO),
                "Q": dec(self.quote_volume() / Decimal::TWO), "B": "0"
            }
        })
    }

    fn quote_volume(&self) -> Decimal {
        (self.volume * self.close).round_dp(8)
    }
}

fn dec(d: Decimal) -> String {
    format!("{:.8}", d)
}

/// Binance's interval string for a length in ms (`1m`, `1h`, `1d`, ...).
pub fn interval_name(ms: i64) -> Option<&'static str> {
    const NAMES: [(i64, &str); 15] = [
        (1_000, "1s"),
        (60_000, "1m"),
        (180_000, "3m"),
        (300_000, "5m"),
        (900_000, "15m"),
        (1_800_000, "30m"),
        (3_600_000, "1h"),
        (7_200_000, "2h"),
        (14_400_000, "4h"),
        (21_600_000, "6h"),
        (28_800_000, "8h"),
        (43_200_000, "12h"),
        (86_400_000, "1d"),
        (259_200_000, "3d"),
        (604_800_000, "1w"),
    ];
    NAMES.iter().find(|(m, _)| *m == ms).map(|(_, n)| *n)
}

/// Why a kline was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KlineRefused(pub String);

impl std::fmt::Display for KlineRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kline history of every symbol, one interval for all.
#[derive(Clone, Debug)]
pub struct Market {
    pub interval_ms: i64,
    pub klines: BTreeMap<String, Vec<SimKline>>,
}

impl Market {
    pub fn new(interval_ms: i64) -> Self {
        Self {
            interval_ms,
            klines: BTreeMap::new(),
        }
    }

    /// The open time the next kline of `symbol` gets when the test gives none.
    pub fn next_open(&self, symbol: &str, now: i64) -> i64 {
        match self.klines.get(symbol).and_then(|k| k.last()) {
            Some(last) => last.open_time + self.interval_ms,
            None => {
                now - now.rem_euclid(self.interval_ms) - AUTO_START_INTERVALS * self.interval_ms
            }
        }
    }

    /// Checks a kline before the matching engine sees its prices: aligned
    /// to the interval and after the symbol's last kline.
    pub fn check(&self, symbol: &str, open_time: i64) -> Result<(), KlineRefused> {
        if open_time.rem_euclid(self.interval_ms) != 0 {
            return Err(KlineRefused(format!(
                "{symbol} kline open time {open_time} is not a multiple of the interval \
                 ({} ms); klines open on interval boundaries",
                self.interval_ms
            )));
        }
        if let Some(last) = self.klines.get(symbol).and_then(|k| k.last())
            && open_time <= last.open_time
        {
            return Err(KlineRefused(format!(
                "{symbol} kline open time {open_time} is not after the last one ({}); \
                 feed klines in time order",
                last.open_time
            )));
        }
        Ok(())
    }

    /// Appends a checked kline: opens at the previous close (clamped into
    /// the candle's range).
    pub fn push(
        &mut self,
        symbol: &str,
        open_time: i64,
        low: Decimal,
        high: Decimal,
        close: Decimal,
    ) -> SimKline {
        let series = self.klines.entry(symbol.to_string()).or_default();
        let open = series
            .last()
            .map_or(close, |k| k.close)
            .clamp(low.min(high), high.max(low));
        let kline = SimKline {
            open_time,
            close_time: open_time + self.interval_ms - 1,
            open,
            high,
            low,
            close,
            volume: Decimal::from(VOLUME),
        };
        series.push(kline.clone());
        if series.len() > KEPT_KLINES {
            series.drain(..series.len() - KEPT_KLINES);
        }
        kline
    }

    /// `GET /api/v3/klines`: with `start`, the first `limit` klines opening
    /// at or after it (and at or before `end`); else the last `limit`
    /// opening at or before `end` (or the most recent ones).
    pub fn query(
        &self,
        symbol: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: Option<usize>,
    ) -> Vec<&SimKline> {
        let limit = limit
            .unwrap_or(DEFAULT_KLINES_LIMIT)
            .clamp(1, MAX_KLINES_LIMIT);
        let series = self.klines.get(symbol).map(Vec::as_slice).unwrap_or(&[]);
        let in_range = |k: &&SimKline| {
            start.is_none_or(|s| k.open_time >= s) && end.is_none_or(|e| k.open_time <= e)
        };
        if start.is_some() {
            series.iter().filter(in_range).take(limit).collect()
        } else {
            let matching: Vec<&SimKline> = series.iter().filter(in_range).collect();
            let skip = matching.len().saturating_sub(limit);
            matching.into_iter().skip(skip).collect()
        }
    }
}

/// A stream name `<symbol>@kline_<interval>` split into the symbol (upper
/// case) and the interval; `None` for any other stream.
pub fn parse_stream_name(name: &str) -> Option<(String, String)> {
    let (symbol, interval) = name.split_once("@kline_")?;
    if symbol.is_empty() || symbol.chars().any(|c| !c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((symbol.to_ascii_uppercase(), interval.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn market(n: i64) -> Market {
        let mut m = Market::new(H);
        for i in 0..n {
            let p = Decimal::from(100 + i);
            m.push("BTCUSDT", i * H, p - Decimal::ONE, p + Decimal::ONE, p);
        }
        m
    }

    fn opens(ks: &[&SimKline]) -> Vec<i64> {
        ks.iter().map(|k| k.open_time / H).collect()
    }

    #[test]
    fn query_follows_binances_start_end_limit_rules() {
        let m = market(10);
        assert_eq!(opens(&m.query("BTCUSDT", None, None, Some(3))), [7, 8, 9]);
        assert_eq!(
            opens(&m.query("BTCUSDT", Some(2 * H), None, Some(3))),
            [2, 3, 4]
        );
        assert_eq!(
            opens(&m.query("BTCUSDT", Some(2 * H), Some(3 * H), None)),
            [2, 3]
        );
        assert_eq!(
            opens(&m.query("BTCUSDT", None, Some(4 * H), Some(2))),
            [3, 4]
        );
        assert!(m.query("ETHUSDT", None, None, None).is_empty());
    }

    #[test]
    fn klines_open_at_the_previous_close_and_must_follow_in_time() {
        let m = market(3);
        let k = &m.klines["BTCUSDT"];
        assert_eq!(k[1].open, k[0].close);
        assert_eq!(k[2].close_time, 3 * H - 1);
        assert!(
            m.check("BTCUSDT", 2 * H)
                .unwrap_err()
                .0
                .contains("not after")
        );
        assert!(
            m.check("BTCUSDT", 3 * H + 5)
                .unwrap_err()
                .0
                .contains("multiple")
        );
        assert!(m.check("BTCUSDT", 3 * H).is_ok());
    }

    #[test]
    fn stream_names_are_kline_streams_only() {
        assert_eq!(
            parse_stream_name("btcusdt@kline_1h"),
            Some(("BTCUSDT".into(), "1h".into()))
        );
        assert_eq!(parse_stream_name("btcusdt@trade"), None);
        assert_eq!(parse_stream_name("@kline_1h"), None);
    }
}

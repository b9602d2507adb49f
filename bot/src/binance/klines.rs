//! Wire types of `GET /api/v3/klines`: each kline is a 12-element JSON array
//! `[openTime, "open", "high", "low", "close", "volume", closeTime,
//! "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "ignore"]`, times in
//! ms, prices and volumes as decimal strings. Parsed exactly into the domain's
//! decimal types; encoded back the same way for simulators and tests.

use super::wire::{self, WireError};
use crate::domain::{Candle, Money, Price, Quantity};
use crate::market_data::format_millis;
use serde_json::Value;

/// One Binance kline with everything the REST row carries (the stream's
/// kline carries the same fields plus trade ids and the closed flag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kline {
    /// Open time, Unix ms UTC. Klines are identified by it.
    pub open_time: i64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Base asset volume.
    pub volume: Quantity,
    /// Close time, Unix ms: `open_time + interval - 1`.
    pub close_time: i64,
    /// Quote asset volume.
    pub quote_volume: Money,
    pub trades: u64,
    pub taker_buy_base_volume: Quantity,
    pub taker_buy_quote_volume: Money,
}

impl Kline {
    /// The engine's OHLCV view of this kline.
    pub fn candle(&self) -> Candle {
        Candle {
            open_time: self.open_time,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
        }
    }

    /// The REST row form, as Binance sends it (for simulators and tests).
    pub fn to_rest_row(&self) -> Value {
        Value::Array(vec![
            self.open_time.into(),
            self.open.0.to_string().into(),
            self.high.0.to_string().into(),
            self.low.0.to_string().into(),
            self.close.0.to_string().into(),
            self.volume.0.to_string().into(),
            self.close_time.into(),
            self.quote_volume.0.to_string().into(),
            self.trades.into(),
            self.taker_buy_base_volume.0.to_string().into(),
            self.taker_buy_quote_volume.0.to_string().into(),
            "0".into(),
        ])
    }
}

impl Kline {
    /// Refuses a kline with a price ≤ 0: no market trades at 0, and a 0
    /// would reach the engine's divisions and mark a position worthless
    /// (a false drawdown halt). `at(i)` names price `i` (1 open, 2 high,
    /// 3 low, 4 close) in the error.
    pub(crate) fn check_prices(&self, at: impl Fn(usize) -> String) -> Result<(), WireError> {
        let prices = [
            (1, self.open),
            (2, self.high),
            (3, self.low),
            (4, self.close),
        ];
        for (i, price) in prices {
            if price <= Price::ZERO {
                return Err(WireError::new(
                    at(i),
                    format!(
                        "price {price} at open time {} ({}) is not positive; a kline's prices \
                         are always above 0, so this one is refused (fix: check that the market \
                         data URL points at Binance or a faithful mirror)",
                        format_millis(self.open_time),
                        self.open_time
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl From<&Kline> for Candle {
    fn from(k: &Kline) -> Self {
        k.candle()
    }
}

/// Column names of a REST kline row, for error messages.
const COLUMNS: [&str; 11] = [
    "open time",
    "open price",
    "high price",
    "low price",
    "close price",
    "volume",
    "close time",
    "quote asset volume",
    "number of trades",
    "taker buy base asset volume",
    "taker buy quote asset volume",
];

/// Parses a `/api/v3/klines` response body (a JSON array of rows).
pub fn parse_klines(body: &str) -> Result<Vec<Kline>, WireError> {
    let value = wire::parse_json(body, "klines response")?;
    let Value::Array(rows) = value else {
        return Err(WireError::new(
            "klines response",
            format!(
                "expected an array of kline rows, found {}: {}",
                wire::kind(&value),
                wire::excerpt(body)
            ),
        ));
    };
    rows.iter()
        .enumerate()
        .map(|(i, row)| parse_kline_row(row, i))
        .collect()
}

/// Parses one REST kline row; `index` is its position, named in errors.
/// Extra trailing columns are ignored (Binance may add some); missing ones are errors.
pub fn parse_kline_row(row: &Value, index: usize) -> Result<Kline, WireError> {
    let Value::Array(cols) = row else {
        return Err(WireError::new(
            format!("klines row {index}"),
            format!("expected an array of 12 columns, found {}", wire::kind(row)),
        ));
    };
    if cols.len() < COLUMNS.len() {
        return Err(WireError::new(
            format!("klines row {index}"),
            format!(
                "expected 12 columns, found {}; the first missing one is column {} ({})",
                cols.len(),
                cols.len(),
                COLUMNS[cols.len()]
            ),
        ));
    }
    let at = |i: usize| move || format!("klines row {index}, column {i} ({})", COLUMNS[i]);
    let kline = Kline {
        open_time: wire::int_value(&cols[0], at(0))?,
        open: wire::decimal_value(&cols[1], at(1))?,
        high: wire::decimal_value(&cols[2], at(2))?,
        low: wire::decimal_value(&cols[3], at(3))?,
        close: wire::decimal_value(&cols[4], at(4))?,
        volume: wire::decimal_value(&cols[5], at(5))?,
        close_time: wire::int_value(&cols[6], at(6))?,
        quote_volume: wire::decimal_value(&cols[7], at(7))?,
        trades: wire::count_value(&cols[8], at(8))?,
        taker_buy_base_volume: wire::decimal_value(&cols[9], at(9))?,
        taker_buy_quote_volume: wire::decimal_value(&cols[10], at(10))?,
    };
    kline.check_prices(|i| at(i)())?;
    if kline.close_time < kline.open_time {
        return Err(WireError::new(
            format!("klines row {index}"),
            format!(
                "close time {} is before open time {}",
                kline.close_time, kline.open_time
            ),
        ));
    }
    Ok(kline)
}

/// A `/api/v3/klines` response body for these klines (for simulators and tests).
pub fn encode_klines(klines: &[Kline]) -> String {
    Value::Array(klines.iter().map(Kline::to_rest_row).collect()).to_string()
}

/// The klines of a REST answer that are certainly closed at `now_ms`.
///
/// A REST range ending "now" may end with the kline still in progress. Every
/// row followed by another is closed (a later kline exists); the last row is
/// taken only if its close time is more than `skew_margin_ms` in the past, so
/// a local clock running slightly ahead of Binance's does not emit a partial
/// candle. A closed kline left out here still arrives: the stream sends it
/// when it closes, or the next gap check fetches it.
pub fn closed_prefix(klines: &[Kline], now_ms: i64, skew_margin_ms: i64) -> &[Kline] {
    match klines.last() {
        Some(last) if last.close_time.saturating_add(skew_margin_ms) >= now_ms => {
            &klines[..klines.len() - 1]
        }
        _ => klines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binance::test_support::arb_json;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::json;

    const DOC_EXAMPLE: &str = include_str!("../../tests/fixtures/binance/klines_response.json");

    #[test]
    fn parses_the_documented_example_response() {
        let klines = parse_klines(DOC_EXAMPLE).unwrap();
        assert_eq!(klines.len(), 1);
        let k = &klines[0];
        assert_eq!(k.open_time, 1_499_040_000_000);
        assert_eq!(k.open, "0.01634790".parse().unwrap());
        assert_eq!(k.high, "0.80000000".parse().unwrap());
        assert_eq!(k.low, "0.01575800".parse().unwrap());
        assert_eq!(k.close, "0.01577100".parse().unwrap());
        assert_eq!(k.volume, "148976.11427815".parse().unwrap());
        assert_eq!(k.close_time, 1_499_644_799_999);
        assert_eq!(k.quote_volume, "2434.19055334".parse().unwrap());
        assert_eq!(k.trades, 308);
        assert_eq!(k.taker_buy_base_volume, "1756.87402397".parse().unwrap());
        assert_eq!(k.taker_buy_quote_volume, "28.46694368".parse().unwrap());
        let c = k.candle();
        assert_eq!(
            (c.open_time, c.close, c.volume),
            (k.open_time, k.close, k.volume)
        );
    }

    #[test]
    fn empty_array_is_no_klines() {
        assert_eq!(parse_klines("[]").unwrap(), vec![]);
    }

    #[test]
    fn malformed_rows_name_row_and_column() {
        let cases: &[(&str, &str, &str)] = &[
            ("{}", "klines response", "expected an array of kline rows"),
            ("[[1]", "klines response", "not valid JSON"),
            ("[42]", "klines row 0", "found a number"),
            (
                r#"[[1,"1","1","1","1","1",2,"1",3,"1"]]"#,
                "klines row 0",
                "found 10; the first missing one is column 10 (taker buy quote",
            ),
            (
                r#"[[1,"1","1","1","1","1",2,"1",3,"1","1","0"],[1,1.5,"1","1","1","1",2,"1",3,"1","1","0"]]"#,
                "klines row 1, column 1 (open price)",
                "decimal string",
            ),
            (
                r#"[["x","1","1","1","1","1",2,"1",3,"1","1","0"]]"#,
                "klines row 0, column 0 (open time)",
                "expected an integer",
            ),
            (
                r#"[[1,"1","1","1","1","1",2,"1",-3,"1","1","0"]]"#,
                "klines row 0, column 8 (number of trades)",
                "non-negative integer",
            ),
            (
                r#"[[5,"1","1","1","1","1",2,"1",3,"1","1","0"]]"#,
                "klines row 0",
                "before open time",
            ),
        ];
        for (body, context, problem) in cases {
            let err = parse_klines(body).unwrap_err();
            assert!(err.context.starts_with(context), "{body}: {err}");
            assert!(err.problem.contains(problem), "{body}: {err}");
        }
    }

    #[test]
    fn prices_at_or_below_zero_are_refused_naming_row_column_and_time() {
        // 2024-01-01T00:00:00Z
        let body = |o: &str, h: &str, l: &str, c: &str| {
            format!(
                r#"[[1704067200000,"{o}","{h}","{l}","{c}","1",1704067259999,"1",3,"1","1","0"]]"#
            )
        };
        for (row, column) in [
            (body("0", "2", "1", "1.5"), "column 1 (open price)"),
            (body("1", "0.00000000", "1", "1"), "column 2 (high price)"),
            (body("1", "2", "0", "1.5"), "column 3 (low price)"),
            (body("1", "2", "1", "0"), "column 4 (close price)"),
        ] {
            let err = parse_klines(&row).unwrap_err();
            assert_eq!(err.context, format!("klines row 0, {column}"), "{err}");
            assert!(err.problem.contains("is not positive"), "{err}");
            assert!(
                err.problem.contains("2024-01-01T00:00:00Z (1704067200000)"),
                "{err}"
            );
        }
        // Negative prices were refused before (as negative decimals).
        let err = parse_klines(&body("1", "2", "-1", "1.5")).unwrap_err();
        assert!(err.problem.contains("negative"), "{err}");
    }

    #[test]
    fn extra_trailing_columns_are_ignored() {
        let body = r#"[[1,"1","2","0.5","1.5","10",59999,"15",3,"4","6","0","new"]]"#;
        assert_eq!(parse_klines(body).unwrap()[0].high, Price::from(2));
    }

    fn kline(open_time: i64, close_time: i64) -> Kline {
        Kline {
            open_time,
            open: Price::from(1),
            high: Price::from(1),
            low: Price::from(1),
            close: Price::from(1),
            volume: Quantity::ZERO,
            close_time,
            quote_volume: Money::ZERO,
            trades: 0,
            taker_buy_base_volume: Quantity::ZERO,
            taker_buy_quote_volume: Money::ZERO,
        }
    }

    #[test]
    fn closed_prefix_drops_only_a_last_kline_that_may_still_be_open() {
        let ks = [kline(0, 59_999), kline(60_000, 119_999)];
        // Last kline closes at 119_999; at 120_500 with a 1 s margin it may still be open.
        assert_eq!(closed_prefix(&ks, 120_500, 1_000).len(), 1);
        assert_eq!(closed_prefix(&ks, 121_000, 1_000).len(), 2);
        // Still in progress: dropped.
        assert_eq!(closed_prefix(&ks, 90_000, 0).len(), 1);
        assert!(closed_prefix(&[], 0, 0).is_empty());
    }

    fn arb_decimal() -> impl Strategy<Value = Decimal> {
        (0i64..i64::MAX / 4, 0u32..12).prop_map(|(m, s)| Decimal::new(m, s))
    }

    fn arb_price() -> impl Strategy<Value = Decimal> {
        (1i64..i64::MAX / 4, 0u32..12).prop_map(|(m, s)| Decimal::new(m, s))
    }

    proptest! {
        #[test]
        fn encode_then_parse_is_identity(
            open_time in 0i64..4_000_000_000_000,
            len in 1i64..1_000_000,
            trades in any::<u64>(),
            p in proptest::collection::vec(arb_price(), 4),
            d in proptest::collection::vec(arb_decimal(), 9),
        ) {
            let k = Kline {
                open_time,
                open: Price(p[0]), high: Price(p[1]), low: Price(p[2]), close: Price(p[3]),
                volume: Quantity(d[4]),
                close_time: open_time + len,
                quote_volume: Money(d[5]),
                trades,
                taker_buy_base_volume: Quantity(d[6]),
                taker_buy_quote_volume: Money(d[7]),
            };
            let parsed = parse_klines(&encode_klines(std::slice::from_ref(&k))).unwrap();
            prop_assert_eq!(parsed, vec![k]);
        }

        #[test]
        fn arbitrary_json_never_panics(v in arb_json()) {
            let _ = parse_klines(&v.to_string());
            let _ = parse_klines(&json!([v]).to_string());
        }
    }
}

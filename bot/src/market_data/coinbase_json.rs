//! Coinbase Advanced Trade's candles JSON as a backtest file: the body of
//! `GET /api/v3/brokerage/market/products/{id}/candles` saved as is
//! (`{"candles":[{"start":"1712192400","low":…,"high":…,"open":…,
//! "close":…,"volume":…}, …]}`, newest first), or several pages' candles
//! in one `candles` array. Each candle is checked as a CSV row is (the same
//! rules, [`super::loader`]); errors name the file, the line of the
//! candle's `start`, the field and the fix.

use super::MarketDataError;
use super::format::{COINBASE_COLUMNS, CsvFormat};
use super::loader::parse_row;
use super::time::format_millis;
use crate::domain::Candle;
use serde_json::Value;

const SHAPE_FIX: &str = "a file starting with `{` is read as Coinbase's candles JSON \
     ({\"candles\":[{\"start\":\"1712192400\",\"low\":\"…\",\"high\":\"…\",\"open\":\"…\",\
     \"close\":\"…\",\"volume\":\"…\"}]}); save the candles endpoint's answer unchanged, \
     or use a CSV";

/// The candles of a Coinbase candles JSON text, oldest first.
pub(super) fn parse_coinbase_json(text: &str, name: &str) -> Result<Vec<Candle>, MarketDataError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        MarketDataError::row(
            name,
            e.line() as u64,
            None,
            format!("not valid JSON: {e}"),
            SHAPE_FIX,
        )
    })?;
    let Some(rows) = value.get("candles").and_then(Value::as_array) else {
        return Err(MarketDataError::row(
            name,
            1,
            None,
            "the JSON has no `candles` array",
            SHAPE_FIX,
        ));
    };
    let starts = start_lines(text);
    let mut candles: Vec<(u64, Candle)> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        // The i-th `"start"` key is the i-th candle's (one per candle).
        let line = starts.get(i).copied().unwrap_or(1);
        let Some(obj) = row.as_object() else {
            return Err(MarketDataError::row(
                name,
                line,
                None,
                format!("candles[{i}] is not an object"),
                SHAPE_FIX,
            ));
        };
        let mut fields = Vec::with_capacity(COINBASE_COLUMNS.len());
        for key in COINBASE_COLUMNS {
            let text = match obj.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(MarketDataError::row(
                        name,
                        line,
                        Some(format!("field `{key}`")),
                        format!("candles[{i}] has no `{key}` string"),
                        SHAPE_FIX,
                    ));
                }
            };
            fields.push(text);
        }
        let record = csv::StringRecord::from(fields);
        candles.push((
            line,
            parse_row(name, line, CsvFormat::CoinbaseJson, &record)?,
        ));
    }
    candles.sort_by_key(|(_, c)| c.open_time);
    if let Some(w) = candles
        .windows(2)
        .find(|w| w[0].1.open_time == w[1].1.open_time)
    {
        return Err(MarketDataError::row(
            name,
            w[1].0,
            Some("field `start`".into()),
            format!(
                "a second candle starting {} (the other is on line {})",
                format_millis(w[0].1.open_time),
                w[0].0
            ),
            "remove the duplicate candle (pages fetched twice overlap)",
        ));
    }
    if candles.is_empty() {
        return Err(MarketDataError::Empty {
            file: name.to_string(),
        });
    }
    Ok(candles.into_iter().map(|(_, c)| c).collect())
}

/// The 1-based line of each `"start"` key, in text order.
fn start_lines(text: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(at) = rest.find("\"start\"") {
        line += rest[..at].matches('\n').count() as u64;
        lines.push(line);
        rest = &rest[at + 7..];
    }
    lines
}

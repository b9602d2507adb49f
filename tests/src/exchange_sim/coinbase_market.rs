//! The simulator's market data in Coinbase Advanced Trade's REST format:
//! `GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=`
//! serves the fed candles of `product_id` (a simulator symbol such as
//! `BTC-USD`) whose start is in `start..=end` (Unix seconds), newest first,
//! as `{"candles":[{"start","low","high","open","close","volume"}]}` with
//! every number a string. The one granularity served is the simulator's
//! interval; more than 350 candles in the range is refused, as Coinbase
//! refuses it. Pure: no I/O here.

use super::market::{Market, SimKline};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Path prefix of the candles endpoint.
pub const CANDLES_PREFIX: &str = "/api/v3/brokerage/market/products/";
/// Most candles one request may cover.
pub const MAX_CANDLES: i64 = 350;

/// Coinbase's granularity name of an interval in ms.
pub fn granularity_name(ms: i64) -> Option<&'static str> {
    const NAMES: [(i64, &str); 8] = [
        (60_000, "ONE_MINUTE"),
        (300_000, "FIVE_MINUTE"),
        (900_000, "FIFTEEN_MINUTE"),
        (1_800_000, "THIRTY_MINUTE"),
        (3_600_000, "ONE_HOUR"),
        (7_200_000, "TWO_HOUR"),
        (21_600_000, "SIX_HOUR"),
        (86_400_000, "ONE_DAY"),
    ];
    NAMES.iter().find(|(m, _)| *m == ms).map(|(_, n)| *n)
}

/// Coinbase's error body.
fn refuse(status: StatusCode, error: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": error, "error_details": message, "message": message}),
    )
}

/// One candle as the endpoint sends it.
pub fn candle_json(k: &SimKline) -> Value {
    let s = |d: Decimal| d.normalize().to_string();
    json!({
        "start": (k.open_time / 1000).to_string(),
        "low": s(k.low),
        "high": s(k.high),
        "open": s(k.open),
        "close": s(k.close),
        "volume": s(k.volume),
    })
}

/// Answers `GET {CANDLES_PREFIX}{product_id}/candles`; `known` says
/// whether the simulator lists the product.
pub fn candles(
    market: &Market,
    path: &str,
    params: &[(String, String)],
    known: impl Fn(&str) -> bool,
) -> (StatusCode, Value) {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(product) = path
        .strip_prefix(CANDLES_PREFIX)
        .and_then(|rest| rest.strip_suffix("/candles"))
        .filter(|p| !p.is_empty() && !p.contains('/'))
    else {
        return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "Unknown endpoint.");
    };
    if !known(product) {
        return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "ProductID not found");
    }
    let Some(served) = granularity_name(market.interval_ms) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "the simulator's interval is not a Coinbase granularity",
        );
    };
    match get("granularity") {
        Some(g) if g == served => {}
        Some(g) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &format!("granularity {g} is not served (the simulator serves {served})"),
            );
        }
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "granularity is required",
            );
        }
    }
    let seconds = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (seconds("start"), seconds("end")) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "start and end must be Unix seconds",
        );
    };
    if end < start {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "start must be before end",
        );
    }
    let step = market.interval_ms / 1000;
    if (end - start) / step + 1 > MAX_CANDLES {
        return refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            &format!("number of candles requested should be less than {MAX_CANDLES}"),
        );
    }
    let rows: Vec<Value> = market
        .klines
        .get(product)
        .map(|ks| {
            ks.iter()
                .rev()
                .filter(|k| (start..=end).contains(&(k.open_time / 1000)))
                .map(candle_json)
                .collect()
        })
        .unwrap_or_default();
    (StatusCode::OK, json!({ "candles": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn market(n: i64) -> Market {
        let mut m = Market::new(H);
        for i in 0..n {
            let p = Decimal::from(100 + i);
            m.push("BTC-USD", i * H, p - Decimal::ONE, p + Decimal::ONE, p);
        }
        m
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn starts(body: &Value) -> Vec<i64> {
        body["candles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["start"].as_str().unwrap().parse::<i64>().unwrap() / 3600)
            .collect()
    }

    #[test]
    fn candles_are_newest_first_within_start_and_end() {
        let m = market(10);
        let path = format!("{CANDLES_PREFIX}BTC-USD/candles");
        let (status, body) = candles(
            &m,
            &path,
            &params(&[
                ("start", "7200"),
                ("end", "18000"),
                ("granularity", "ONE_HOUR"),
            ]),
            |p| p == "BTC-USD",
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(starts(&body), [5, 4, 3, 2]);
        assert_eq!(body["candles"][0]["close"], "105");
    }

    #[test]
    fn refusals_use_coinbases_error_body() {
        let m = market(3);
        let path = format!("{CANDLES_PREFIX}BTC-USD/candles");
        let (status, body) = candles(
            &m,
            &path,
            &params(&[
                ("start", "0"),
                ("end", "1260000"),
                ("granularity", "ONE_HOUR"),
            ]),
            |_| true,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "INVALID_ARGUMENT");
        let (status, _) = candles(
            &m,
            &path,
            &params(&[
                ("start", "0"),
                ("end", "3600"),
                ("granularity", "ONE_MINUTE"),
            ]),
            |_| true,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = candles(
            &m,
            &format!("{CANDLES_PREFIX}DOGE-EUR/candles"),
            &params(&[("start", "0"), ("end", "3600"), ("granularity", "ONE_HOUR")]),
            |p| p == "BTC-USD",
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "NOT_FOUND");
        // 350 candles fit exactly.
        let (status, _) = candles(
            &m,
            &path,
            &params(&[
                ("start", "0"),
                ("end", &(349 * 3600 + 3599).to_string()),
                ("granularity", "ONE_HOUR"),
            ]),
            |_| true,
        );
        assert_eq!(status, StatusCode::OK);
    }
}

//! OHLCV candles.

use super::{Price, Quantity};
use serde::{Deserialize, Serialize};

/// Candle interval. Mirrors the Strategy resource's `timeframe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timeframe {
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "4h")]
    H4,
    #[serde(rename = "1d")]
    D1,
}

impl Timeframe {
    pub fn millis(self) -> i64 {
        const MIN: i64 = 60_000;
        match self {
            Timeframe::M1 => MIN,
            Timeframe::M5 => 5 * MIN,
            Timeframe::M15 => 15 * MIN,
            Timeframe::H1 => 60 * MIN,
            Timeframe::H4 => 240 * MIN,
            Timeframe::D1 => 1440 * MIN,
        }
    }

    /// Binance's interval string (`1m`, `1h`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::H1 => "1h",
            Timeframe::H4 => "4h",
            Timeframe::D1 => "1d",
        }
    }

    /// Candles per year, for annualizing per-candle returns (365-day crypto year).
    pub fn periods_per_year(self) -> f64 {
        365.0 * 86_400_000.0 / self.millis() as f64
    }
}

/// One OHLCV bar. `open_time` is Unix milliseconds, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: i64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: Quantity,
}

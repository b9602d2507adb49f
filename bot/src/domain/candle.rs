//! OHLCV candles.

use super::{Price, Quantity};
use serde::{Deserialize, Serialize};

/// Candle interval: the Strategy resource's `timeframe` type, shared so the
/// engine and the manifests can never disagree on the set or the spelling.
pub use botfleet_crds::Timeframe;

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

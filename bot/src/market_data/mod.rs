//! Market data: where candles come from.
//!
//! A backtest loads everything up front into a [`CandleSeries`] (a
//! `Vec<Candle>` plus its [`DataOrigin`]) and replays it; per-candle work is a
//! copy. Sources:
//!
//! - **CSV files** — [`load_csv`] reads Binance's 12-column kline dumps (open
//!   time in ms or µs, told apart per row: Binance spot switched to µs in
//!   2025) or a plain `timestamp,open,high,low,close,volume` file (header
//!   optional; time in s/ms/µs or RFC 3339). The format is detected from the
//!   first row. Every row is validated — positive prices, `high ≥ max(open,
//!   close)`, `low ≤ min(open, close)`, `volume ≥ 0`, strictly increasing time —
//!   and the first bad row fails the load with file, line, column and the fix
//!   ([`RowError`]).
//! - **Synthetic** — [`generate`] / [`SyntheticSource`] make a deterministic
//!   series from a [`SyntheticConfig`] (seed, regimes: trend, range, crash).
//!   Its [`DataOrigin::Synthetic`] label says "synthetic" wherever it is shown.
//! - **Live** — the Binance feed lives in `crate::binance` and plugs in through
//!   [`CandleSource`] or its own channel.
//!
//! [`CandleSource`] is the pull interface a replay loop consumes
//! (`next_candle() -> Result<Option<Candle>, _>`); [`SeriesSource`] and
//! [`SyntheticSource`] implement it (and `Iterator<Item = Candle>`).
//! [`CandleSeries::restrict`] applies `--from/--to` (parsed by
//! [`parse_time_arg`]); [`write_binance_csv`] writes kline CSV for sample
//! data and tests.
//!
//! All times are Unix **milliseconds** UTC, as in [`Candle::open_time`](crate::domain::Candle::open_time).
//!
//! ```
//! use botfleet_bot::market_data::{generate, SyntheticConfig, CandleSource};
//! let series = generate(&SyntheticConfig::new(42, 1000)).unwrap();
//! assert!(series.label().starts_with("synthetic (seed 42"));
//! let mut source = series.into_source();
//! while let Some(candle) = source.next_candle().unwrap() {
//!     assert!(candle.low <= candle.high);
//! }
//! ```

mod cache;
mod candle_digest;
mod coinbase_json;
mod digest;
mod error;
mod fast_csv;
mod format;
mod loader;
mod series;
mod synthetic;
mod time;
mod writer;

pub use cache::{CacheError, CachedReader, CachedSeries, CandleFile, default_cache_dir};
pub use candle_digest::CandleDigest;
pub use error::{MarketDataError, RowError};
pub use format::CsvFormat;
pub use loader::{load_csv, parse_csv};
pub use series::{CandleSeries, CandleSource, DataOrigin, SeriesSource, time_range};
pub use synthetic::{Regime, RegimeSpan, SyntheticConfig, SyntheticSource, generate};
pub use time::{TimeUnit, format_millis, parse_time_arg, parse_time_flag, unix_to_millis};
pub use writer::{write_binance_csv, write_binance_csv_file};

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod loader_tests;
#[cfg(test)]
mod synthetic_tests;

//! The two CSV layouts the loader accepts, and their column names. Apart
//! from the loader because a [`super::DataOrigin`] names the layout too.

/// The two accepted CSV layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CsvFormat {
    /// Binance kline dump: open time, open, high, low, close, volume, close
    /// time, quote volume, trades, taker buy base, taker buy quote, ignore.
    /// Usually no header (a header row, as in Binance futures dumps, is accepted).
    /// Times in ms or µs, per row.
    BinanceKline,
    /// `timestamp,open,high,low,close,volume` (header optional); the timestamp
    /// in s, ms or µs (by magnitude) or RFC 3339.
    Plain,
}

impl CsvFormat {
    pub fn describe(self) -> &'static str {
        match self {
            CsvFormat::BinanceKline => "Binance klines",
            CsvFormat::Plain => "timestamp,open,high,low,close,volume",
        }
    }

    pub(super) fn columns(self) -> usize {
        match self {
            CsvFormat::BinanceKline => BINANCE_COLUMNS.len(),
            CsvFormat::Plain => PLAIN_COLUMNS.len(),
        }
    }

    pub(super) fn column_name(self, index: usize) -> &'static str {
        match self {
            CsvFormat::BinanceKline => BINANCE_COLUMNS[index],
            CsvFormat::Plain => PLAIN_COLUMNS[index],
        }
    }
}

const BINANCE_COLUMNS: [&str; 12] = [
    "open time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close time",
    "quote volume",
    "trades",
    "taker buy base volume",
    "taker buy quote volume",
    "ignore",
];
pub(super) const PLAIN_COLUMNS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

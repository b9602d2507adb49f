//! The layouts the loader accepts, and their column names. Apart from the
//! loader because a [`super::DataOrigin`] names the layout too.

/// The accepted file layouts.
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
    /// Coinbase's candle fields as CSV columns, in the API's order, told
    /// apart from `Plain` by its header `start,low,high,open,close,volume`
    /// (required); `start` in Unix seconds (or ms/µs, or RFC 3339).
    CoinbaseCandles,
    /// The JSON body of Coinbase Advanced Trade's candles endpoint,
    /// `{"candles":[{"start","low","high","open","close","volume"}, …]}`
    /// (newest first, as Coinbase sends it); told apart by its leading `{`.
    CoinbaseJson,
}

impl CsvFormat {
    pub fn describe(self) -> &'static str {
        match self {
            CsvFormat::BinanceKline => "Binance klines",
            CsvFormat::Plain => "timestamp,open,high,low,close,volume",
            CsvFormat::CoinbaseCandles => "Coinbase candles CSV (start,low,high,open,close,volume)",
            CsvFormat::CoinbaseJson => "Coinbase candles JSON",
        }
    }

    /// Column indices of open, high, low and close.
    pub(super) fn ohlc(self) -> [usize; 4] {
        match self {
            CsvFormat::BinanceKline | CsvFormat::Plain => [1, 2, 3, 4],
            CsvFormat::CoinbaseCandles | CsvFormat::CoinbaseJson => [3, 2, 1, 4],
        }
    }

    pub(super) fn columns(self) -> usize {
        match self {
            CsvFormat::BinanceKline => BINANCE_COLUMNS.len(),
            CsvFormat::Plain => PLAIN_COLUMNS.len(),
            CsvFormat::CoinbaseCandles | CsvFormat::CoinbaseJson => COINBASE_COLUMNS.len(),
        }
    }

    pub(super) fn column_name(self, index: usize) -> &'static str {
        match self {
            CsvFormat::BinanceKline => BINANCE_COLUMNS[index],
            CsvFormat::Plain => PLAIN_COLUMNS[index],
            CsvFormat::CoinbaseCandles | CsvFormat::CoinbaseJson => COINBASE_COLUMNS[index],
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
/// Coinbase's candle fields in the order its API sends them.
pub(super) const COINBASE_COLUMNS: [&str; 6] = ["start", "low", "high", "open", "close", "volume"];

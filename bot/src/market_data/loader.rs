//! Candle file loader: Binance klines (12 columns), plain
//! `timestamp,open,high,low,close,volume`, or Coinbase's candle columns
//! (`start,low,high,open,close,volume`, header required), told apart by the
//! first row; or Coinbase's candles JSON, told apart by its leading `{`
//! ([`super::coinbase_json`]).
//!
//! Every row is validated (numbers, OHLC consistency, strictly increasing
//! time) and the first bad row stops the load with an error naming the file,
//! line and column and saying the fix: a backtest on silently repaired data
//! would report results for a market that never existed.

use super::MarketDataError;
use super::format::{COINBASE_COLUMNS, CsvFormat, PLAIN_COLUMNS};
use super::series::{CandleSeries, DataOrigin};
use super::time::{TimeUnit, format_millis, parse_rfc3339_millis};
use crate::domain::{Candle, Price, Quantity};
use std::io::Read;
use std::path::Path;

/// Accepted names for the plain format's first column.
const TIME_HEADERS: [&str; 7] = [
    "timestamp",
    "time",
    "open_time",
    "open time",
    "date",
    "datetime",
    "ts",
];

/// Loads and validates a candle file: Coinbase's candles JSON when the file
/// starts with `{`, else CSV (layout auto-detected). The common CSV shape
/// takes the byte-level fast path; anything else, and every error, goes
/// through [`parse_csv`].
pub fn load_csv(path: impl AsRef<Path>) -> Result<CandleSeries, MarketDataError> {
    let path = path.as_ref();
    let io_error = |source| MarketDataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.display().to_string();
    let open = || std::fs::File::open(path).map_err(io_error);
    let json = is_json(open()?).map_err(io_error)?;
    let (format, candles) = if json {
        let bytes = std::fs::read(path).map_err(io_error)?;
        let text = String::from_utf8_lossy(&bytes);
        let candles = super::coinbase_json::parse_coinbase_json(&text, &name)?;
        (CsvFormat::CoinbaseJson, candles)
    } else {
        // Streamed in blocks: the file's bytes are never all in memory.
        let len = open()?.metadata().map_or(0, |m| m.len());
        let mut candles = Vec::with_capacity((len / 60) as usize);
        let fast = super::fast_csv::stream(open()?, |c| {
            candles.push(*c);
            Ok(())
        })
        .map_err(io_error)?;
        match fast {
            Some(format) => (format, candles),
            None => {
                drop(candles);
                let reader = std::io::BufReader::with_capacity(1 << 20, open()?);
                parse_csv(reader, &name)?
            }
        }
    };
    Ok(CandleSeries::new(
        DataOrigin::File {
            path: path.to_path_buf(),
            format,
        },
        candles,
    ))
}

/// Whether the file's first byte that is not white space or a UTF-8 BOM is `{`.
pub(super) fn is_json(file: std::fs::File) -> std::io::Result<bool> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(4096, file);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        if let Some(b) = buf
            .iter()
            .find(|b| !b.is_ascii_whitespace() && !matches!(**b, 0xEF | 0xBB | 0xBF))
        {
            return Ok(*b == b'{');
        }
        let n = buf.len();
        reader.consume(n);
    }
}

/// Parses candle CSV text from any reader; `name` is used in error messages.
pub fn parse_csv<R: Read>(
    reader: R,
    name: &str,
) -> Result<(CsvFormat, Vec<Candle>), MarketDataError> {
    let mut candles = Vec::new();
    let format = parse_csv_with(reader, name, |c| {
        candles.push(c);
        Ok(())
    })?;
    Ok((format, candles))
}

/// [`parse_csv`] handing each candle to `sink` instead of collecting them
/// (the candle cache writes them out as they come).
pub(super) fn parse_csv_with<R: Read>(
    reader: R,
    name: &str,
    mut sink: impl FnMut(Candle) -> Result<(), MarketDataError>,
) -> Result<CsvFormat, MarketDataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut format: Option<CsvFormat> = None;
    let mut header: Option<csv::StringRecord> = None;
    let mut prev: Option<(i64, u64)> = None;
    let mut count = 0u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(name, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if line == 1
            && let Some(first) = record.get(0)
            && first.starts_with('\u{feff}')
        {
            let fields: Vec<String> = record
                .iter()
                .map(|f| f.trim_start_matches('\u{feff}').to_string())
                .collect();
            record = csv::StringRecord::from(fields);
        }
        let fmt = match format {
            Some(fmt) => fmt,
            None => {
                let mut fmt = detect_format(name, line, &record)?;
                if is_header(&record) && is_coinbase_header(&record) {
                    fmt = CsvFormat::CoinbaseCandles;
                }
                format = Some(fmt);
                if is_header(&record) {
                    check_header(name, line, fmt, &record)?;
                    header = Some(record.clone());
                    continue;
                }
                fmt
            }
        };
        if header.as_ref() == Some(&record) {
            continue; // the header repeated by concatenated dumps
        }
        let candle = parse_row(name, line, fmt, &record)?;
        if let Some((prev_time, prev_line)) = prev
            && candle.open_time <= prev_time
        {
            return Err(MarketDataError::row(
                name,
                line,
                Some(column_label(fmt, 0)),
                format!(
                    "time {} is not after the previous row's {} (line {prev_line})",
                    format_millis(candle.open_time),
                    format_millis(prev_time)
                ),
                "sort the rows by time and remove duplicate rows",
            ));
        }
        prev = Some((candle.open_time, line));
        sink(candle)?;
        count += 1;
    }
    match format {
        Some(fmt) if count > 0 => Ok(fmt),
        _ => Err(MarketDataError::Empty {
            file: name.to_string(),
        }),
    }
}

fn csv_error(name: &str, e: csv::Error) -> MarketDataError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => MarketDataError::Io {
            path: name.into(),
            source,
        },
        csv::ErrorKind::Utf8 { .. } => MarketDataError::row(
            name,
            line,
            None,
            "the row is not UTF-8 text",
            "check that the file is a CSV text file, not a zip archive or spreadsheet",
        ),
        other => MarketDataError::row(name, line, None, format!("{other:?}"), "repair the row"),
    }
}

fn column_label(fmt: CsvFormat, index: usize) -> String {
    match fmt {
        CsvFormat::CoinbaseJson => format!("field `{}`", fmt.column_name(index)),
        _ => format!("column {} ({})", index + 1, fmt.column_name(index)),
    }
}

fn normalized(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace(['_', '-'], " ")
}

/// `start,low,high,open,close,volume`: Coinbase's fields, in its order.
fn is_coinbase_header(record: &csv::StringRecord) -> bool {
    record.len() == COINBASE_COLUMNS.len()
        && record
            .iter()
            .zip(COINBASE_COLUMNS)
            .all(|(got, want)| normalized(got) == want)
}

/// A row is a header when its first field is neither an integer timestamp nor an RFC 3339 time.
fn is_header(record: &csv::StringRecord) -> bool {
    let first = record.get(0).unwrap_or("");
    first.parse::<i64>().is_err() && parse_rfc3339_millis(first).is_none()
}

fn detect_format(
    name: &str,
    line: u64,
    record: &csv::StringRecord,
) -> Result<CsvFormat, MarketDataError> {
    match record.len() {
        12 => Ok(CsvFormat::BinanceKline),
        6 => Ok(CsvFormat::Plain),
        n => Err(MarketDataError::row(
            name,
            line,
            None,
            format!("the first row has {n} columns, so the format is unknown"),
            "use Binance's 12-column kline CSV (open time, open, high, low, close, volume, close time, \
             quote volume, trades, taker buy base, taker buy quote, ignore), 6 columns \
             `timestamp,open,high,low,close,volume`, Coinbase's columns with their header \
             `start,low,high,open,close,volume`, or Coinbase's candles JSON",
        )),
    }
}

fn check_header(
    name: &str,
    line: u64,
    fmt: CsvFormat,
    record: &csv::StringRecord,
) -> Result<(), MarketDataError> {
    let norm = normalized;
    let first_ok = match fmt {
        CsvFormat::Plain => TIME_HEADERS.iter().any(|h| norm(h) == norm(&record[0])),
        CsvFormat::BinanceKline => true,
        CsvFormat::CoinbaseCandles | CsvFormat::CoinbaseJson => return Ok(()),
    };
    let ohlcv_ok = (1..=5).all(|i| norm(&record[i]) == PLAIN_COLUMNS[i]);
    if first_ok && ohlcv_ok {
        return Ok(());
    }
    let expected = match fmt {
        CsvFormat::BinanceKline => {
            "open_time,open,high,low,close,volume,... (12 columns)".to_string()
        }
        _ => {
            "timestamp,open,high,low,close,volume (or Coinbase's start,low,high,open,close,volume)"
                .to_string()
        }
    };
    Err(MarketDataError::row(
        name,
        line,
        None,
        format!(
            "the header `{}` does not match the expected columns",
            record.iter().collect::<Vec<_>>().join(",")
        ),
        format!("use the header `{expected}` with the columns in that order, or no header"),
    ))
}

pub(super) fn parse_row(
    name: &str,
    line: u64,
    fmt: CsvFormat,
    rec: &csv::StringRecord,
) -> Result<Candle, MarketDataError> {
    if rec.len() != fmt.columns() {
        return Err(MarketDataError::row(
            name,
            line,
            None,
            format!(
                "{} columns, but the file is {} with {} columns",
                rec.len(),
                fmt.describe(),
                fmt.columns()
            ),
            "repair or remove the row (every row needs the same columns as the first)",
        ));
    }
    let open_time = parse_time(name, line, fmt, 0, &rec[0])?;
    let price = |i: usize| -> Result<Price, MarketDataError> {
        let value: Price = rec[i].parse().map_err(|_| {
            MarketDataError::row(
                name,
                line,
                Some(column_label(fmt, i)),
                format!("{:?} is not a number", &rec[i]),
                "write a plain decimal number such as 42000.50",
            )
        })?;
        if value.0 <= rust_decimal::Decimal::ZERO {
            return Err(MarketDataError::row(
                name,
                line,
                Some(column_label(fmt, i)),
                format!("price {value} is not positive"),
                "prices must be greater than 0; repair or remove the row",
            ));
        }
        Ok(value)
    };
    let [io, ih, il, ic] = fmt.ohlc();
    let (open, high, low, close) = (price(io)?, price(ih)?, price(il)?, price(ic)?);
    let volume: Quantity = rec[5].parse().map_err(|_| {
        MarketDataError::row(
            name,
            line,
            Some(column_label(fmt, 5)),
            format!("{:?} is not a number", &rec[5]),
            "write a plain decimal number such as 12.5",
        )
    })?;
    if volume.is_sign_negative() {
        return Err(MarketDataError::row(
            name,
            line,
            Some(column_label(fmt, 5)),
            format!("volume {volume} is negative"),
            "volume must be 0 or more; repair or remove the row",
        ));
    }
    let column_order_fix = match fmt {
        CsvFormat::BinanceKline => {
            "check the columns are open time, open, high, low, close, volume, ...; repair or remove the row"
        }
        CsvFormat::Plain => {
            "check the columns are timestamp,open,high,low,close,volume; repair or remove the row"
        }
        CsvFormat::CoinbaseCandles => {
            "check the columns are start,low,high,open,close,volume (Coinbase's order); repair or remove the row"
        }
        CsvFormat::CoinbaseJson => "repair or remove the candle",
    };
    if high < open.max(close) {
        return Err(MarketDataError::row(
            name,
            line,
            Some(column_label(fmt, ih)),
            format!("high {high} is below max(open {open}, close {close})"),
            column_order_fix,
        ));
    }
    if low > open.min(close) {
        return Err(MarketDataError::row(
            name,
            line,
            Some(column_label(fmt, il)),
            format!("low {low} is above min(open {open}, close {close})"),
            column_order_fix,
        ));
    }
    if fmt == CsvFormat::BinanceKline {
        let close_time = parse_time(name, line, fmt, 6, &rec[6])?;
        if close_time < open_time {
            return Err(MarketDataError::row(
                name,
                line,
                Some(column_label(fmt, 6)),
                format!(
                    "close time {} is before open time {}",
                    format_millis(close_time),
                    format_millis(open_time)
                ),
                column_order_fix,
            ));
        }
    }
    Ok(Candle {
        open_time,
        open,
        high,
        low,
        close,
        volume,
    })
}

/// An integer Unix time in s/ms/µs (by magnitude, per row), or for the plain
/// format also RFC 3339; returns milliseconds.
fn parse_time(
    name: &str,
    line: u64,
    fmt: CsvFormat,
    index: usize,
    s: &str,
) -> Result<i64, MarketDataError> {
    if let Ok(raw) = s.parse::<i64>() {
        if let Some(unit) = TimeUnit::detect(raw) {
            return Ok(unit.to_millis(raw));
        }
        return Err(MarketDataError::row(
            name,
            line,
            Some(column_label(fmt, index)),
            format!("{raw} is not a Unix time in seconds, milliseconds or microseconds"),
            "write the time as Unix milliseconds (e.g. 1704067200000 for 2024-01-01T00:00:00Z)",
        ));
    }
    if fmt != CsvFormat::BinanceKline
        && let Some(ms) = parse_rfc3339_millis(s)
    {
        return Ok(ms);
    }
    let fix = match fmt {
        CsvFormat::Plain | CsvFormat::CoinbaseCandles | CsvFormat::CoinbaseJson => {
            "write Unix milliseconds (e.g. 1704067200000) or an RFC 3339 time (e.g. 2024-01-01T00:00:00Z)"
        }
        CsvFormat::BinanceKline => {
            "write Unix milliseconds or microseconds as an integer (e.g. 1704067200000)"
        }
    };
    Err(MarketDataError::row(
        name,
        line,
        Some(column_label(fmt, index)),
        format!("{s:?} is not a time"),
        fix,
    ))
}

//! Writes candles as Binance kline CSV (12 columns, no header), the format
//! the loader reads first: for shipping sample data and for tests.

use super::MarketDataError;
use super::time::TimeUnit;
use crate::domain::{Candle, Timeframe};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes one kline row per candle. `close time` is `open time + interval - 1 ms`
/// as Binance writes it; `quote volume` is `close × volume` (exact); trades and
/// taker volumes are not modelled and are written as 0. Times are written in
/// `unit` (`Millis` like Binance before 2025, `Micros` like Binance spot since;
/// `Seconds` is refused as Binance never used it and it would drop precision).
pub fn write_binance_csv<W: Write>(
    mut out: W,
    candles: &[Candle],
    timeframe: Timeframe,
    unit: TimeUnit,
) -> std::io::Result<()> {
    let scale = match unit {
        TimeUnit::Millis => 1,
        TimeUnit::Micros => 1000,
        TimeUnit::Seconds => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "Binance klines are written in ms or µs, not seconds",
            ));
        }
    };
    for c in candles {
        let close_time = c.open_time + timeframe.millis() - 1;
        let quote = c.close * c.volume;
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},0,0,0,0",
            c.open_time * scale,
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            close_time * scale + (scale - 1),
            quote
        )?;
    }
    out.flush()
}

/// Writes a kline CSV file atomically: into a temporary file beside it, then
/// renamed over `path`, so a failure never leaves a half-written data file.
pub fn write_binance_csv_file(
    path: impl AsRef<Path>,
    candles: &[Candle],
    timeframe: Timeframe,
    unit: TimeUnit,
) -> Result<(), MarketDataError> {
    let path = path.as_ref();
    let io_err = |source| MarketDataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        ))
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp)
        .and_then(|f| write_binance_csv(BufWriter::new(f), candles, timeframe, unit))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(())
}

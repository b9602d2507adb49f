//! The fast path of the CSV loader: one pass over the file's bytes for the
//! common shape — plain `timestamp,open,high,low,close,volume` or Binance
//! klines, integer times, unsigned decimal numbers, no quoting — with the
//! same checks as the full parser. Anything else, or any row the checks
//! reject, returns `None` and the full parser (`loader::parse_csv`) reads the
//! file again: it accepts the rest and names the bad row and its fix, so
//! errors and results never depend on which path ran.

use rust_decimal::Decimal;

use super::format::CsvFormat;
use super::time::TimeUnit;
use crate::domain::{Candle, Price, Quantity};

/// The candles of `bytes`, or `None` to leave the file to the full parser.
pub(super) fn parse(bytes: &[u8]) -> Option<(CsvFormat, Vec<Candle>)> {
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    let first = trim_cr(lines.peek()?);
    let columns = first.iter().filter(|b| **b == b',').count() + 1;
    let format = match columns {
        6 => CsvFormat::Plain,
        12 => CsvFormat::BinanceKline,
        _ => return None,
    };
    if first.first().is_some_and(|b| !b.is_ascii_digit()) {
        // A header: only the exact lower-case names are taken here.
        let expected: &[u8] = match format {
            CsvFormat::Plain => b"timestamp,open,high,low,close,volume",
            _ => return None,
        };
        if first != expected {
            return None;
        }
        lines.next();
    }
    let mut candles = Vec::with_capacity(bytes.len() / 60);
    let mut prev_time = i64::MIN;
    for line in lines {
        let line = trim_cr(line);
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(|b| *b == b',');
        let open_time = time(fields.next()?)?;
        let open = price(fields.next()?)?;
        let high = price(fields.next()?)?;
        let low = price(fields.next()?)?;
        let close = price(fields.next()?)?;
        let volume = Quantity(decimal(fields.next()?)?);
        if format == CsvFormat::BinanceKline {
            let close_time = time(fields.next()?)?;
            if close_time < open_time || fields.count() != 5 {
                return None;
            }
        } else if fields.next().is_some() {
            return None;
        }
        if open_time <= prev_time || high < open.max(close) || low > open.min(close) {
            return None;
        }
        prev_time = open_time;
        candles.push(Candle {
            open_time,
            open,
            high,
            low,
            close,
            volume,
        });
    }
    (!candles.is_empty()).then_some((format, candles))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn time(field: &[u8]) -> Option<i64> {
    if field.is_empty() || field.len() > 18 {
        return None;
    }
    let mut raw: i64 = 0;
    for b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        raw = raw * 10 + i64::from(b - b'0');
    }
    TimeUnit::detect(raw).map(|unit| unit.to_millis(raw))
}

/// A positive price.
fn price(field: &[u8]) -> Option<Price> {
    let d = decimal(field)?;
    (d > Decimal::ZERO).then_some(Price(d))
}

/// An unsigned decimal of at most 18 digits, keeping its scale (as
/// `"1.50".parse::<Decimal>()` does: 1.50, not 1.5).
fn decimal(field: &[u8]) -> Option<Decimal> {
    let mut mantissa: i64 = 0;
    let mut digits = 0u32;
    let mut scale: Option<u32> = None;
    for b in field {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i64::from(b - b'0');
                digits += 1;
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
        if digits > 18 {
            return None;
        }
    }
    if digits == 0 || field.first() == Some(&b'.') || field.last() == Some(&b'.') {
        return None;
    }
    Some(Decimal::new(mantissa, scale.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market_data::parse_csv;

    /// The fast path must give exactly what the full parser gives.
    #[test]
    fn the_fast_path_reads_what_the_full_parser_reads() {
        let files = [
            "timestamp,open,high,low,close,volume\n1704067200000,100.50,101,99.25,100.00,12.5\n1704067260000,100.00,100.10,99.90,100.05,0\n",
            "1704067200,100.5,101,99.25,100,12.5\r\n1704067260,100,100.1,99.9,100.05,3\r\n\n",
            "1704067200000000,1.5,2,1,1.75,100,1704067259999999,175,10,50,87.5,0\n1704067260000000,1.75,1.8,1.7,1.7,5,1704067319999999,8.5,2,1,1.7,0\n",
        ];
        for text in files {
            let fast = parse(text.as_bytes()).expect("the fast path takes it");
            let full = parse_csv(text.as_bytes(), "t.csv").unwrap();
            assert_eq!(fast, full, "{text}");
            // Same decimals, same scale: the input hash and every report agree.
            for (a, b) in fast.1.iter().zip(&full.1) {
                assert_eq!(a.close.value().scale(), b.close.value().scale());
            }
        }
    }

    /// Anything unusual or wrong goes to the full parser (which accepts it or
    /// names the row and the fix).
    #[test]
    fn unusual_or_bad_files_are_left_to_the_full_parser() {
        for text in [
            "Timestamp,Open,High,Low,Close,Volume\n1704067200000,1,1,1,1,1\n", // other header spelling
            "2024-01-01T00:00:00Z,1,1,1,1,1\n",                                // RFC 3339 time
            "1704067200000, 1,1,1,1,1\n",                                      // spaces
            "1704067200000,1,1,1,1,-1\n",                                      // negative volume
            "1704067200000,1,0.5,1,1,1\n",                                     // high below open
            "1704067200000,0,1,0,1,1\n",                                       // zero price
            "1704067260000,1,1,1,1,1\n1704067200000,1,1,1,1,1\n",              // time goes back
            "1704067200000,1e2,1,1,1,1\n",                                     // exponent
            "1704067200000,.5,1,0.5,1,1\n",                                    // leading dot
            "1704067200000,1,1,1,1\n",                                         // 5 columns
            "",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
    }
}

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

/// The candles of `bytes`, or `None` to leave the file to the full parser
/// (the tests' reference for [`stream`]).
#[cfg(test)]
pub(super) fn parse(bytes: &[u8]) -> Option<(CsvFormat, Vec<Candle>)> {
    let mut candles = Vec::with_capacity(bytes.len() / 60);
    let mut parser = LineParser::default();
    for line in bytes.split(|b| *b == b'\n') {
        if let Some(candle) = parser.line(line)? {
            candles.push(candle);
        }
    }
    let format = parser.format?;
    (!candles.is_empty()).then_some((format, candles))
}

/// Reads `reader` in blocks and hands each candle to `sink`, without holding
/// the file: `Ok(None)` when the fast path leaves the file to the full
/// parser (nothing is known about what `sink` got so far then).
pub(super) fn stream(
    mut reader: impl std::io::Read,
    mut sink: impl FnMut(&Candle) -> std::io::Result<()>,
) -> std::io::Result<Option<CsvFormat>> {
    const BLOCK: usize = 1 << 20;
    let mut parser = LineParser::default();
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    let mut count = 0u64;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the block
        }
        let n = reader.read(&mut buf[filled..])?;
        let eof = n == 0;
        filled += n;
        let end = if eof {
            filled
        } else {
            match buf[..filled].iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None => continue,
            }
        };
        for line in buf[..end].split(|b| *b == b'\n') {
            match parser.line(line) {
                None => return Ok(None),
                Some(Some(candle)) => {
                    sink(&candle)?;
                    count += 1;
                }
                Some(None) => {}
            }
        }
        if eof {
            return Ok(parser.format.filter(|_| count > 0));
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
}

/// The fast path's state between lines: the layout (from the first line)
/// and the previous row's time.
struct LineParser {
    format: Option<CsvFormat>,
    first: bool,
    prev_time: i64,
}

impl Default for LineParser {
    fn default() -> Self {
        Self {
            format: None,
            first: true,
            prev_time: i64::MIN,
        }
    }
}

impl LineParser {
    /// `Some(Some(candle))`, `Some(None)` for a line without one (blank, the
    /// header), `None` to leave the file to the full parser.
    #[inline]
    fn line(&mut self, line: &[u8]) -> Option<Option<Candle>> {
        let line = trim_cr(line);
        if self.first {
            self.first = false;
            let columns = line.iter().filter(|b| **b == b',').count() + 1;
            let format = match columns {
                6 => CsvFormat::Plain,
                12 => CsvFormat::BinanceKline,
                _ => return None,
            };
            self.format = Some(format);
            if line.first().is_some_and(|b| !b.is_ascii_digit()) {
                // A header: only the exact lower-case names are taken here.
                let expected: &[u8] = match format {
                    CsvFormat::Plain => b"timestamp,open,high,low,close,volume",
                    _ => return None,
                };
                return (line == expected).then_some(None);
            }
        }
        if line.is_empty() {
            return Some(None);
        }
        let format = self.format?;
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
        if open_time <= self.prev_time || high < open.max(close) || low > open.min(close) {
            return None;
        }
        self.prev_time = open_time;
        Some(Some(Candle {
            open_time,
            open,
            high,
            low,
            close,
            volume,
        }))
    }
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
            // Streamed in blocks, the same candles.
            let mut streamed = Vec::new();
            let format = stream(text.as_bytes(), |c| {
                streamed.push(*c);
                Ok(())
            })
            .unwrap();
            assert_eq!(format, Some(fast.0), "{text}");
            assert_eq!(streamed, fast.1, "{text}");
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
            assert_eq!(
                stream(text.as_bytes(), |_| Ok(())).unwrap(),
                None,
                "{text:?}"
            );
        }
    }
}

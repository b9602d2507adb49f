//! Tests of the CSV loader and writer.

use super::*;
use crate::domain::{Candle, Price, Quantity, Timeframe};

// 2024-01-01T00:00:00Z and one hour later, in ms.
const T0: i64 = 1_704_067_200_000;
const T1: i64 = T0 + 3_600_000;

fn parse(text: &str) -> Result<(CsvFormat, Vec<Candle>), MarketDataError> {
    parse_csv(text.as_bytes(), "data.csv")
}

fn row_err(text: &str) -> RowError {
    match parse(text) {
        Err(MarketDataError::Row(row)) => *row,
        other => panic!("expected a row error, got {other:?}"),
    }
}

fn p(s: &str) -> Price {
    s.parse().unwrap()
}

fn kline(t: i64, o: &str, h: &str, l: &str, c: &str, v: &str) -> String {
    format!(
        "{t},{o},{h},{l},{c},{v},{},1.0,10,0.5,0.5,0\n",
        t + 3_599_999
    )
}

#[test]
fn reads_binance_klines_in_ms_exactly() {
    let text = kline(
        T0,
        "42000.01000000",
        "42100.5",
        "41900",
        "42050.25",
        "12.345",
    ) + &kline(T1, "42050.25", "42060", "42000", "42001", "0");
    let (format, candles) = parse(&text).unwrap();
    assert_eq!(format, CsvFormat::BinanceKline);
    assert_eq!(candles.len(), 2);
    let c = candles[0];
    assert_eq!(c.open_time, T0);
    assert_eq!(
        (c.open, c.high, c.low, c.close),
        (p("42000.01"), p("42100.5"), p("41900"), p("42050.25"))
    );
    assert_eq!(c.volume, "12.345".parse::<Quantity>().unwrap());
    assert_eq!(candles[1].open_time, T1);
    assert!(candles[1].volume.is_zero(), "zero volume is valid");
}

#[test]
fn detects_microseconds_per_row() {
    // Binance spot files switched to µs in 2025: a concatenation mixes both.
    let text = format!(
        "{},1,2,1,2,5,{},0,0,0,0,0\n{},2,3,2,3,5,{},0,0,0,0,0\n",
        T0,
        T0 + 3_599_999,
        T1 * 1000,
        T1 * 1000 + 3_599_999_999
    );
    let (_, candles) = parse(&text).unwrap();
    assert_eq!(
        candles.iter().map(|c| c.open_time).collect::<Vec<_>>(),
        vec![T0, T1]
    );
}

#[test]
fn accepts_binance_header_and_repeated_headers_from_concatenated_dumps() {
    let header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";
    let text = format!(
        "{header}{}{header}{}",
        kline(T0, "1", "2", "1", "2", "1"),
        kline(T1, "2", "2", "1", "1", "1")
    );
    let (format, candles) = parse(&text).unwrap();
    assert_eq!(format, CsvFormat::BinanceKline);
    assert_eq!(candles.len(), 2);
}

#[test]
fn reads_plain_format_in_every_time_form() {
    let expect = vec![T0, T1];
    for (t0, t1) in [
        (T0.to_string(), T1.to_string()),
        ((T0 / 1000).to_string(), (T1 / 1000).to_string()),
        ((T0 * 1000).to_string(), (T1 * 1000).to_string()),
        (
            "2024-01-01T00:00:00Z".to_string(),
            "2024-01-01T03:00:00+02:00".to_string(),
        ),
    ] {
        let text = format!(
            "timestamp,open,high,low,close,volume\n{t0},10,11,9,10.5,3\n{t1},10.5,12,10,11,4\n"
        );
        let (format, candles) = parse(&text).unwrap();
        assert_eq!(format, CsvFormat::Plain);
        assert_eq!(
            candles.iter().map(|c| c.open_time).collect::<Vec<_>>(),
            expect,
            "{t0}"
        );
        assert_eq!(candles[1].close, p("11"));
    }
    // No header, CRLF line endings, a BOM, blank lines and spaces are fine.
    let text = format!("\u{feff}{T0}, 10, 11, 9, 10.5, 3\r\n\r\n{T1},10.5,12,10,11,4\r\n");
    assert_eq!(parse(&text).unwrap().1.len(), 2);
    // Header names are matched loosely (case, `time` alias).
    let text = format!("Time,Open,High,Low,Close,Volume\n{T0},10,11,9,10.5,3\n");
    assert_eq!(parse(&text).unwrap().1.len(), 1);
}

#[test]
fn bad_number_names_line_column_and_fix() {
    let text = kline(T0, "1", "2", "1", "2", "1") + &kline(T1, "2", "abc", "1", "2", "1");
    let e = row_err(&text);
    assert_eq!((e.file.as_str(), e.line), ("data.csv", 2));
    assert_eq!(e.column.as_deref(), Some("column 3 (high)"));
    assert!(e.problem.contains("\"abc\" is not a number"), "{e}");
    let shown = MarketDataError::Row(Box::new(e)).to_string();
    assert!(
        shown.starts_with("data.csv:2: column 3 (high): "),
        "{shown}"
    );
    assert!(shown.contains("fix:"), "{shown}");
}

#[test]
fn inconsistent_ohlc_is_refused() {
    let header = "timestamp,open,high,low,close,volume\n";
    // high below close
    let e = row_err(&format!("{header}{T0},10,10.4,9,10.5,1\n"));
    assert_eq!((e.line, e.column.as_deref()), (2, Some("column 3 (high)")));
    assert!(
        e.problem
            .contains("high 10.4 is below max(open 10, close 10.5)"),
        "{e}"
    );
    // low above open
    let e = row_err(&format!("{header}{T0},10,11,10.1,10.5,1\n"));
    assert_eq!(e.column.as_deref(), Some("column 4 (low)"));
    assert!(
        e.problem
            .contains("low 10.1 is above min(open 10, close 10.5)"),
        "{e}"
    );
    // non-positive price
    let e = row_err(&format!("{header}{T0},0,11,9,10.5,1\n"));
    assert_eq!(e.column.as_deref(), Some("column 2 (open)"));
    assert!(e.problem.contains("not positive"), "{e}");
    assert!(e.fix.contains("greater than 0"), "{e}");
    let e = row_err(&format!("{header}{T0},10,11,-9,10.5,1\n"));
    assert_eq!(e.column.as_deref(), Some("column 4 (low)"));
    assert!(e.problem.contains("price -9 is not positive"), "{e}");
    let e = row_err(&format!("{header}{T0},10,11,9,0.000,1\n"));
    assert_eq!(e.column.as_deref(), Some("column 5 (close)"));
    // negative volume
    let e = row_err(&format!("{header}{T0},10,11,9,10.5,-1\n"));
    assert_eq!(e.column.as_deref(), Some("column 6 (volume)"));
    assert!(e.problem.contains("negative"), "{e}");
}

#[test]
fn time_must_strictly_increase() {
    let dup = kline(T0, "1", "2", "1", "2", "1")
        + &kline(T1, "1", "2", "1", "2", "1")
        + &kline(T1, "1", "2", "1", "2", "1");
    let e = row_err(&dup);
    assert_eq!(
        (e.line, e.column.as_deref()),
        (3, Some("column 1 (open time)"))
    );
    assert!(
        e.problem
            .contains("not after the previous row's 2024-01-01T01:00:00Z (line 2)"),
        "{e}"
    );
    assert!(e.fix.contains("sort"), "{e}");
    let backwards = kline(T1, "1", "2", "1", "2", "1") + &kline(T0, "1", "2", "1", "2", "1");
    assert_eq!(row_err(&backwards).line, 2);
}

#[test]
fn bad_times_are_refused() {
    let e = row_err(&format!("{},1,2,1,2,1\n", T0 * 1_000_000));
    assert_eq!(e.column.as_deref(), Some("column 1 (timestamp)"));
    assert!(e.problem.contains("not a Unix time"), "{e}");
    // Binance rows need integer times (no RFC 3339).
    let e = row_err(&format!("{T0},1,2,1,2,1,2024-01-01T00:59:59Z,0,0,0,0,0\n"));
    assert_eq!(e.column.as_deref(), Some("column 7 (close time)"));
    // Close time before open time: columns are mixed up.
    let e = row_err(&format!("{T0},1,2,1,2,1,{},0,0,0,0,0\n", T0 - 1));
    assert!(e.problem.contains("before open time"), "{e}");
}

#[test]
fn column_count_and_header_problems() {
    let e = row_err(&format!("{T0},1,2,1,2,1,7\n"));
    assert_eq!(e.line, 1);
    assert!(
        e.problem.contains("7 columns") && e.fix.contains("12-column"),
        "{e}"
    );
    let e = row_err(&(kline(T0, "1", "2", "1", "2", "1") + &format!("{T1},1,2,1,2,1\n")));
    assert_eq!(e.line, 2);
    assert!(
        e.problem.contains("6 columns") && e.problem.contains("12 columns"),
        "{e}"
    );
    let e = row_err("time,high,open,low,close,volume\n");
    assert_eq!(e.line, 1);
    assert!(
        e.fix.contains("timestamp,open,high,low,close,volume"),
        "{e}"
    );
}

#[test]
fn empty_input_and_missing_file() {
    assert!(matches!(parse(""), Err(MarketDataError::Empty { .. })));
    assert!(matches!(
        parse("timestamp,open,high,low,close,volume\n\n"),
        Err(MarketDataError::Empty { .. })
    ));
    let e = load_csv("/nonexistent/dir/klines.csv").unwrap_err();
    assert!(matches!(e, MarketDataError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/dir/klines.csv"), "{e}");
}

#[test]
fn writer_round_trips_through_loader_in_ms_and_us() {
    let series = generate(&SyntheticConfig::new(7, 500)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for unit in [TimeUnit::Millis, TimeUnit::Micros] {
        let path = dir.path().join(format!("klines-{}.csv", unit.as_str()));
        write_binance_csv_file(&path, &series.candles, Timeframe::H1, unit).unwrap();
        let loaded = load_csv(&path).unwrap();
        assert_eq!(loaded.candles, series.candles, "{unit:?}");
        assert_eq!(loaded.timeframe(), Some(Timeframe::H1));
        assert!(!loaded.is_synthetic(), "a file is labelled by its path");
        assert!(
            loaded
                .label()
                .contains("(Binance klines), 500 candles, 2024-01-01T00:00:00Z → "),
            "{}",
            loaded.label()
        );
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[test]
fn writer_writes_binance_columns() {
    let c = Candle {
        open_time: T0,
        open: p("100.5"),
        high: p("101"),
        low: p("100"),
        close: p("100.25"),
        volume: "2".parse().unwrap(),
    };
    let mut out = Vec::new();
    write_binance_csv(&mut out, &[c], Timeframe::M1, TimeUnit::Millis).unwrap();
    // close time = open + 60 000 − 1; quote volume = 100.25 × 2 = 200.5.
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "{T0},100.5,101,100,100.25,2,{},200.5,0,0,0,0\n",
            T0 + 59_999
        )
    );
    let mut out = Vec::new();
    write_binance_csv(&mut out, &[c], Timeframe::M1, TimeUnit::Micros).unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with(&format!("{}000,", T0))
    );
    assert!(write_binance_csv(Vec::new(), &[c], Timeframe::M1, TimeUnit::Seconds).is_err());
}

#[test]
fn failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-subdir").join("out.csv");
    assert!(write_binance_csv_file(&path, &[], Timeframe::H1, TimeUnit::Millis).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn coinbase_columns_are_read_in_coinbases_order_when_the_header_names_them() {
    let text = "start,low,high,open,close,volume\n\
                1704067200,41900,42100.5,42000.01,42050.25,12.345\n\
                1704070800,41800,42200,42050.25,41900,3\n";
    let (format, candles) = parse(text).unwrap();
    assert_eq!(format, CsvFormat::CoinbaseCandles);
    assert_eq!(candles[0].open_time, T0);
    assert_eq!(candles[0].open, p("42000.01"));
    assert_eq!(candles[0].high, p("42100.5"));
    assert_eq!(candles[0].low, p("41900"));
    assert_eq!(candles[0].close, p("42050.25"));
    assert_eq!(candles[1].open_time, T1);
}

#[test]
fn a_bad_coinbase_row_is_named_by_its_coinbase_column() {
    // high and low swapped: the row names Coinbase's `high` column (3).
    let e = row_err("start,low,high,open,close,volume\n1704067200,42100,41900,42000,42050,1\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.column.as_deref(), Some("column 3 (high)"));
    assert!(e.fix.contains("start,low,high,open,close,volume"), "{e}");
    // Without the header, six columns are the plain layout: no guessing.
    let (format, _) = parse("1704067200,42000,42100,41900,42050,1\n").unwrap();
    assert_eq!(format, CsvFormat::Plain);
}

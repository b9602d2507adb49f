//! `backtest --data` on Coinbase candle exports, as a user runs it: the
//! real binary on the candles endpoint's JSON (saved as is, newest first)
//! and on a CSV with Coinbase's columns. The same candles as the sample
//! Binance file must give the same backtest; a bad candle is refused with
//! the file, the line and the fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use botfleet_bot::report::BacktestReport;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const SAMPLE: &str = "manifests/examples/data/btcusdt-1h-synthetic.csv";

fn backtest(data: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botfleet-bot"))
        .current_dir(repo())
        // The candle cache in the test's target dir, not the user's ~/.cache.
        .env(
            "BOTFLEET_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("candle-cache"),
        )
        .args([
            "backtest",
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .expect("the binary runs")
}

fn report(data: &Path) -> BacktestReport {
    let out = tempfile::tempdir().unwrap();
    let o = backtest(data, out.path());
    assert!(
        o.status.success(),
        "{}: {}",
        data.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap()
}

/// The sample's rows as (start seconds, open, high, low, close, volume).
fn sample_rows() -> Vec<[String; 6]> {
    std::fs::read_to_string(repo().join(SAMPLE))
        .unwrap()
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let start = (c[0].parse::<i64>().unwrap() / 1000).to_string();
            [
                start,
                c[1].into(),
                c[2].into(),
                c[3].into(),
                c[4].into(),
                c[5].into(),
            ]
        })
        .collect()
}

/// The candles endpoint's body for the sample: newest first, all strings.
fn coinbase_json(rows: &[[String; 6]]) -> String {
    let candles: Vec<Value> = rows
        .iter()
        .rev()
        .map(|[start, open, high, low, close, volume]| {
            json!({"start": start, "low": low, "high": high, "open": open, "close": close, "volume": volume})
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "candles": candles })).unwrap()
}

fn same_backtest(a: &BacktestReport, b: &BacktestReport) {
    assert_eq!(a.candles, b.candles);
    assert_eq!((a.from, a.to), (b.from, b.to));
    assert_eq!(a.balances, b.balances);
    assert_eq!(a.trades, b.trades);
    assert_eq!(a.equity_curve, b.equity_curve);
}

#[test]
fn coinbase_json_and_csv_exports_backtest_like_the_same_candles_from_binance() {
    let dir = tempfile::tempdir().unwrap();
    let rows = sample_rows();
    let json_file = dir.path().join("btc-usd-1h.json");
    std::fs::write(&json_file, coinbase_json(&rows)).unwrap();
    let csv_file = dir.path().join("btc-usd-1h.csv");
    let mut csv = String::from("start,low,high,open,close,volume\n");
    for [start, open, high, low, close, volume] in &rows {
        csv.push_str(&format!("{start},{low},{high},{open},{close},{volume}\n"));
    }
    std::fs::write(&csv_file, csv).unwrap();

    let binance = report(&repo().join(SAMPLE));
    assert!(binance.performance.overall.trades > 0, "the sample trades");
    let from_json = report(&json_file);
    same_backtest(&binance, &from_json);
    assert!(
        from_json.data.contains("Coinbase candles JSON"),
        "{}",
        from_json.data
    );
    let from_csv = report(&csv_file);
    same_backtest(&binance, &from_csv);
    assert!(
        from_csv.data.contains("Coinbase candles CSV"),
        "{}",
        from_csv.data
    );
}

#[test]
fn a_bad_coinbase_candle_is_refused_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = sample_rows();
    rows.truncate(100);
    // Newest first: row 97 is the 3rd candle of the file.
    rows[97][3] = "0".into();
    let file = dir.path().join("bad.json");
    let text = coinbase_json(&rows);
    std::fs::write(&file, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains(&format!("\"start\": \"{}\"", rows[97][0])))
        .unwrap()
        + 1;
    let out = tempfile::tempdir().unwrap();
    let o = backtest(&file, out.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    for want in [
        format!("bad.json:{line}"),
        "field `low`".into(),
        "not positive".into(),
    ] {
        assert!(err.contains(&want), "error should mention `{want}`: {err}");
    }
    assert!(!out.path().join("report.json").exists());

    let not_candles = dir.path().join("other.json");
    std::fs::write(&not_candles, r#"{"klines": []}"#).unwrap();
    let o = backtest(&not_candles, out.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("other.json:1") && err.contains("`candles` array"),
        "{err}"
    );
}

//! The `backtest` command as a user runs it: the real binary, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use botfleet_bot::report::BacktestReport;
use rust_decimal::Decimal;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn backtest(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botfleet-bot"))
        .current_dir(repo())
        .arg("backtest")
        // The candle cache in the test's target dir, not the user's ~/.cache.
        .env(
            "BOTFLEET_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("candle-cache"),
        )
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .expect("the binary runs")
}

/// The text of the example hourly CSV the tests edit copies of.
fn example_rows() -> String {
    std::fs::read_to_string(repo().join("manifests/examples/data/btcusdt-1h-synthetic.csv"))
        .expect("the example CSV is in the repo")
}

fn read_report(out: &Path) -> BacktestReport {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json written"))
        .expect("report.json parses")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn quickstart_writes_a_consistent_report() {
    let out = tempfile::tempdir().unwrap();
    let o = backtest(&["-f", "manifests/examples/quickstart.yaml"], out.path());
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("Backtest of quickstart"), "{stdout}");
    assert!(
        stdout.contains("synthetic"),
        "synthetic data must say so: {stdout}"
    );

    let r = read_report(out.path());
    assert!(r.synthetic_data);
    assert_eq!(r.candles, 8_760);
    assert!(r.performance.overall.trades > 0, "the quickstart trades");
    assert_eq!(r.trades.len() as u64, r.performance.overall.trades);

    // The books balance exactly: equity = cash + positions, and equity − capital
    // = net P&L = realized − fees + unrealized.
    let b = &r.balances;
    assert_eq!(b.equity, b.cash + b.positions_value);
    assert_eq!(b.equity - r.capital, b.net_pnl);
    assert_eq!(b.net_pnl, b.realized_pnl - b.fees_paid + b.unrealized_pnl);
    if b.open_positions == 0 {
        // Flat: every cent of P&L is in the closed trades (each net of its fees).
        let trades: Decimal = r.trades.iter().map(|t| t.pnl.value()).sum();
        assert_eq!(trades, b.net_pnl.value());
    }

    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("polyline"),
        "charts are inline SVG"
    );
    assert!(
        html.contains("Synthetic data"),
        "the page warns about synthetic data"
    );
    assert!(!html.contains("<script"), "self-contained, no scripts");
}

#[test]
fn same_input_same_report() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let o = backtest(
            &[
                "-f",
                "manifests/examples/quickstart.yaml",
                "--data",
                "manifests/examples/data/btcusdt-1h-synthetic.csv",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "stderr: {}", stderr(&o));
    }
    let read = |d: &tempfile::TempDir, f: &str| std::fs::read(d.path().join(f)).unwrap();
    assert_eq!(read(&a, "report.json"), read(&b, "report.json"));
    assert_eq!(read(&a, "report.html"), read(&b, "report.html"));
    let r = read_report(a.path());
    assert!(
        !r.synthetic_data,
        "a CSV file is not labelled synthetic by the engine"
    );
    assert!(r.data.contains("btcusdt-1h-synthetic.csv"));
}

#[test]
fn from_to_restricts_the_replay() {
    let out = tempfile::tempdir().unwrap();
    let o = backtest(
        &[
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
            "manifests/examples/data/btcusdt-1h-synthetic.csv",
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-02",
        ],
        out.path(),
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let r = read_report(out.path());
    assert_eq!(r.candles, 24);
    assert_eq!(r.from, 1_706_745_600_000);
}

/// The candle cache of a CSV whose rows changed but not its size is read
/// while the CSV is re-hashed; the stale verdict re-runs on the new rows,
/// so the report is the one a run without the cache gives.
#[test]
fn a_csv_edited_since_its_cache_was_built_is_backtested_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("btc.csv");
    let original = example_rows();
    std::fs::write(&csv, &original).unwrap();
    let cache = dir.path().join("cache");
    let run = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec![
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
            csv.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = backtest(&args, out.path());
        assert!(o.status.success(), "stderr: {}", stderr(&o));
        std::fs::read(out.path().join("report.json")).unwrap()
    };
    let cache_flag = ["--candle-cache", cache.to_str().unwrap()];
    let before = run(&cache_flag);

    // Every price 10,000 higher (each is 2xxxx–4xxxx): same size, same order.
    let edited: String = original
        .lines()
        .map(|row| {
            let mut fields: Vec<String> = row.split(',').map(str::to_string).collect();
            for f in &mut fields[1..5] {
                let lead = f.as_bytes()[0] - b'0';
                assert!((2..=4).contains(&lead) && f.split('.').next().unwrap().len() == 5);
                f.replace_range(..1, &(lead + 1).to_string());
            }
            fields.join(",") + "\n"
        })
        .collect();
    assert_eq!(edited.len(), original.len());
    std::fs::write(&csv, &edited).unwrap();

    let after = run(&cache_flag);
    assert_ne!(after, before, "the new prices are backtested");
    assert_eq!(after, run(&["--no-candle-cache"]));
}

/// Every bad input: non-zero exit, a message naming the place, no report files.
fn assert_refused(args: &[&str], expect: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let o = backtest(args, out.path());
    let err = stderr(&o);
    assert!(!o.status.success(), "must fail: {args:?}");
    for e in expect {
        assert!(err.contains(e), "error should mention `{e}`: {err}");
    }
    assert!(
        !out.path().join("report.json").exists(),
        "no report on failure"
    );
    assert!(
        !out.path().join("report.html").exists(),
        "no report on failure"
    );
}

#[test]
fn malformed_csv_row_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    let good = example_rows();
    let mut lines: Vec<String> = good.lines().take(50).map(str::to_string).collect();
    let mut cols: Vec<&str> = lines[41].split(',').collect();
    cols[2] = "not-a-price";
    lines[41] = cols.join(",");
    std::fs::write(&csv, lines.join("\n")).unwrap();
    assert_refused(
        &[
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
            csv.to_str().unwrap(),
        ],
        &["bad.csv", ":42", "not-a-price"],
    );
}

#[test]
fn unknown_field_and_impossible_limits_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let qs = std::fs::read_to_string(repo().join("manifests/examples/quickstart.yaml")).unwrap();
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        qs.replace("  capital: 10000", "  capital: 10000\n  leverage: 5"),
    )
    .unwrap();
    assert_refused(
        &["-f", unknown.to_str().unwrap()],
        &["unknown.yaml", "leverage"],
    );

    let impossible = dir.path().join("impossible.yaml");
    std::fs::write(&impossible, qs.replace("fast: 10", "fast: 50")).unwrap();
    assert_refused(
        &["-f", impossible.to_str().unwrap()],
        &["impossible.yaml", "smaCrossover.fast"],
    );
}

#[test]
fn missing_files_are_named() {
    assert_refused(&["-f", "no/such/bot.yaml"], &["no/such/bot.yaml"]);
    assert_refused(
        &[
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
            "no/such/data.csv",
        ],
        &["no/such/data.csv"],
    );
}

#[test]
fn data_for_a_symbol_the_bot_does_not_trade_is_refused() {
    assert_refused(
        &[
            "-f",
            "manifests/examples/quickstart.yaml",
            "--data",
            "ETHUSDT=manifests/examples/data/btcusdt-1h-synthetic.csv",
        ],
        &["ETHUSDT", "BTCUSDT"],
    );
}

/// Every strategy kind runs end to end: each paper bot of manifests/examples
/// backtests on synthetic data and its books balance.
#[test]
fn every_example_paper_bot_backtests() {
    use botfleet_bot::backtest::{self, BacktestOptions, DataSelection};
    use botfleet_bot::config::EngineConfig;

    let files = [
        "risk-policy-seed.yaml",
        "strategy-bollinger-reversion.yaml",
        "strategy-committee.yaml",
        "strategy-macd-trend.yaml",
        "strategy-rsi-reversion.yaml",
        "strategy-sma-crossover.yaml",
        "paper-bots.yaml",
    ];
    let text: String = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(repo().join("manifests/examples").join(f)).unwrap() + "\n---\n"
        })
        .collect();
    let m = botfleet_crds::Manifests::from_yaml(&text).expect("examples parse");
    m.validate().expect("examples validate together");
    let names: Vec<String> = m
        .trading_bots
        .iter()
        .filter_map(|b| b.metadata.name.clone())
        .filter(|n| n.starts_with("paper-"))
        .collect();
    assert_eq!(names.len(), 5, "one paper bot per strategy kind: {names:?}");
    for name in names {
        let cfg = EngineConfig::from_manifests(&m, Some(&name), text.as_bytes()).unwrap();
        let selection = DataSelection {
            data: vec![],
            seed: 3,
            synthetic_candles: 3_000,
            from: None,
            to: None,
        };
        let series = backtest::load_series(&cfg, &selection).unwrap();
        let r = backtest::run(&cfg, series, &BacktestOptions::default()).unwrap();
        assert_eq!(r.candles, 3_000 * cfg.symbols.len() as u64, "{name}");
        let b = &r.balances;
        assert_eq!(b.equity, b.cash + b.positions_value, "{name}");
        assert_eq!(
            b.net_pnl,
            b.realized_pnl - b.fees_paid + b.unrealized_pnl,
            "{name}"
        );
    }
}

/// What a trader reads: money to the cent and prices to the data's tick in
/// the page (report.json keeps every digit), buy-and-hold beside the equity,
/// the price chart with entries and exits, monthly returns, paged trades.
#[test]
fn the_page_shows_rounded_money_buy_and_hold_monthly_returns_and_paged_trades() {
    let out = tempfile::tempdir().unwrap();
    let o = backtest(&["-f", "manifests/examples/quickstart.yaml"], out.path());
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let r = read_report(out.path());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("buy &amp; hold BTCUSDT"), "buy-and-hold line");
    assert!(html.contains("<h2>Price: BTCUSDT</h2>"));
    assert!(html.contains("<h2>Monthly returns (%)</h2>"));
    // 8,760 hourly candles: a year, 12 or 13 calendar months.
    assert!(
        (12..=13).contains(&r.monthly_returns.len()),
        "{}",
        r.monthly_returns.len()
    );
    assert!(html.contains("<details open><summary>Trades 1–"));
    let t = r.trades.first().expect("the quickstart trades");
    // The JSON keeps the exact P&L; the page shows it to the cent.
    assert!(
        t.pnl.value().scale() > 2,
        "exact P&L in report.json: {}",
        t.pnl
    );
    let cents = format!("{:.2}", t.pnl.round_dp(2).value());
    let first_row = html.split("<td>1</td>").nth(1).expect("trade row 1");
    let row = &first_row[..first_row.find("</tr>").unwrap()];
    assert!(row.ends_with(&format!(">{cents}</td>")), "{row}");
    assert!(!row.contains(&t.pnl.value().to_string()), "{row}");
    // Prices to the tick of the data (its closes' decimals).
    let tick = r.price_decimals as usize;
    assert!(
        row.contains(&format!(
            "<td>{:.tick$}</td>",
            t.entry_price.round_dp(r.price_decimals).value()
        )),
        "{row}"
    );
}

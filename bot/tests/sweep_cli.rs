//! `botfleet-bot sweep` as a user runs it: the real binary on a small file.

use std::path::Path;
use std::process::{Command, Output};

use botfleet_bot::domain::Timeframe;
use botfleet_bot::market_data::{SyntheticConfig, TimeUnit, generate, write_binance_csv_file};

const MANIFESTS: &str = r#"
apiVersion: botfleet.dev/v1alpha1
kind: Strategy
metadata: {name: sweep-sma}
spec:
  timeframe: 1h
  smaCrossover: {fast: 10, slow: 30}
---
apiVersion: botfleet.dev/v1alpha1
kind: RiskPolicy
metadata: {name: sweep}
spec:
  limits:
    paper:
      maxPositionPct: 50
      stopLossPct: 5
      maxDrawdownPct: 100
      maxTotalLossPct: 100
      maxLosingDaysInRow: 1000
---
apiVersion: botfleet.dev/v1alpha1
kind: TradingBot
metadata: {name: sweep}
spec:
  strategyRef: {name: sweep-sma}
  riskPolicyRef: {name: sweep}
  exchange: {venue: binance, symbols: [BTCUSDT]}
  phase: Paper
  capital: 10000
"#;

fn sweep(dir: &Path, params: &[&str]) -> Output {
    let manifest = dir.join("bot.yaml");
    std::fs::write(&manifest, MANIFESTS).unwrap();
    let data = dir.join("candles.csv");
    if !data.exists() {
        // 60 days of hourly candles.
        let series = generate(&SyntheticConfig::for_timeframe(5, 1_440, Timeframe::H1)).unwrap();
        write_binance_csv_file(&data, &series.candles, Timeframe::H1, TimeUnit::Millis).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_botfleet-bot"));
    cmd.arg("sweep")
        .arg("-f")
        .arg(&manifest)
        .arg("--data")
        .arg(&data)
        .args([
            "--train-days",
            "20",
            "--test-days",
            "10",
            "--quiet",
            "--out",
        ])
        .arg(dir);
    for p in params {
        cmd.args(["--param", p]);
    }
    cmd.output().expect("the binary runs")
}

#[test]
fn a_grid_sweep_ranks_every_set_walk_forward_and_writes_the_heatmap() {
    let dir = tempfile::tempdir().unwrap();
    let o = sweep(
        dir.path(),
        &["smaCrossover.fast=5,10,15", "smaCrossover.slow=20:40:10"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // 60 days, train 20, test 10: tests start on days 20, 30, 40, 50.
    assert!(
        stdout.starts_with("9 sets, 4 walk-forward windows"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sweep.json")).unwrap()).unwrap();
    let sets = json["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 9);
    let oos: Vec<f64> = sets
        .iter()
        .map(|s| s["outOfSamplePct"].as_f64().unwrap())
        .collect();
    assert!(
        oos.windows(2).all(|w| w[0] >= w[1]),
        "ranked by out-of-sample: {oos:?}"
    );
    let wins: u64 = sets.iter().map(|s| s["wins"].as_u64().unwrap()).sum();
    assert_eq!(wins, 4, "one winner per walk-forward step");
    assert_eq!(json["steps"].as_array().unwrap().len(), 4);
    let html = std::fs::read_to_string(dir.path().join("sweep.html")).unwrap();
    assert!(
        html.contains("smaCrossover.fast ↓ / smaCrossover.slow →"),
        "a 3×3 heatmap"
    );
    assert_eq!(html.matches("<td style=\"background:").count(), 9);
}

#[test]
fn a_field_the_strategy_lacks_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let o = sweep(dir.path(), &["smaCrossover.fats=5,10"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "--param smaCrossover.fats: Strategy `sweep-sma` has no field spec.smaCrossover.fats"
        ),
        "{err}"
    );
}

#[test]
fn sets_the_strategy_rejects_are_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    // fast 30 is not below slow 20: invalid, the rest runs.
    let o = sweep(
        dir.path(),
        &["smaCrossover.fast=10,30", "smaCrossover.slow=20"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.starts_with("1 sets,"), "{stdout}");
    assert!(stdout.contains("skipped fast=30 slow=20:"), "{stdout}");
}

//! Engine benchmarks; prints a table (`cargo bench -p botfleet-bot --bench engine`).
//!
//! 1. Backtest throughput: 1M one-minute synthetic candles through the full
//!    engine (SMA crossover, paper fills with fees and slippage, every risk
//!    check on), candles per second on one core, median (min–max) of
//!    `BOTFLEET_BENCH_RUNS` (default 5) runs; then the engine loop alone.
//! 2. Candle-to-order latency: the time of each `Engine::on_candle` call,
//!    p50/p99 over every candle, over the candles that sent an order, and
//!    over those that filled one (the fill is applied at the next candle).
//! 3. Idle paper bot RSS: `botfleet-bot run` on a slow synthetic feed, read
//!    from /proc after it settles (needs the release binary; skipped if absent).
//!
//! `BOTFLEET_BENCH_ONLY=loop` runs the engine loop alone (for a profiler).

use std::time::{Duration, Instant};

use botfleet_bot::backtest::{self, BacktestOptions};
use botfleet_bot::config::EngineConfig;
use botfleet_bot::domain::{Symbol, Timeframe};
use botfleet_bot::engine::{Engine, EventMode};
use botfleet_bot::market_data::{CandleSeries, SyntheticConfig, generate};
use botfleet_bot::performance::EquityCurve;

const CANDLES: usize = 1_000_000;

/// The bot of every figure here (also the idle bot `scripts/startup-symbols.sh`
/// records the start-up layout with).
const MANIFESTS: &str = include_str!("bench-bot.yaml");

fn config() -> EngineConfig {
    let m = botfleet_crds::Manifests::from_yaml(MANIFESTS).expect("bench manifests parse");
    m.validate().expect("bench manifests are valid");
    EngineConfig::from_manifests(&m, None, MANIFESTS.as_bytes()).expect("bench bot resolves")
}

fn data() -> CandleSeries {
    generate(&SyntheticConfig::for_timeframe(7, CANDLES, Timeframe::M1)).expect("synthetic data")
}

/// Runs per throughput figure: `BOTFLEET_BENCH_RUNS`, default 5.
fn runs() -> usize {
    std::env::var("BOTFLEET_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5)
}

/// `median (min–max)` of rates, in millions.
fn spread(rates: &mut [f64]) -> String {
    rates.sort_by(f64::total_cmp);
    let m = |v: f64| v / 1e6;
    format!(
        "{:.2} M ({:.2}–{:.2})",
        m(rates[rates.len() / 2]),
        m(rates[0]),
        m(rates[rates.len() - 1])
    )
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let cfg = config();
    let series = data();
    println!(
        "botfleet-bot engine benchmarks ({} candles, 1m, SMA 10/30, fees+slippage, all risk checks)",
        CANDLES
    );
    println!("{:<44} {:>16}", "measure", "value");

    // 1. Throughput: RUNS full backtests (report building included).
    let runs = runs();
    let only_loop = std::env::var("BOTFLEET_BENCH_ONLY").is_ok_and(|v| v == "loop");
    let mut rates = Vec::new();
    let mut trades = 0;
    for _ in 0..if only_loop { 0 } else { runs } {
        let input = vec![(Symbol::new("BTCUSDT"), series.clone())];
        let t = Instant::now();
        let report =
            backtest::run(&cfg, input, &BacktestOptions::default()).expect("backtest runs");
        rates.push(CANDLES as f64 / t.elapsed().as_secs_f64());
        trades = report.performance.overall.trades;
    }
    if !only_loop {
        println!(
            "{:<44} {:>16}",
            format!("backtest throughput (candles/s, {runs} runs)"),
            spread(&mut rates)
        );
        println!(
            "{:<44} {:>16}",
            "  (includes report: curve downsampling)",
            format!("{trades} trades")
        );
    }

    // An engine that only counts its events, as the loop and latency
    // measurements below use.
    let counting_engine = || {
        Engine::new(
            cfg.clone(),
            Default::default(),
            EquityCurve::bounded(2_000),
            0,
            EventMode::CountOnly,
        )
        .expect("engine builds")
    };
    // 1b. The engine loop alone, no report: RUNS fresh engines.
    let mut rates = Vec::new();
    for _ in 0..runs {
        let mut engine = counting_engine();
        let t = Instant::now();
        for c in &series.candles {
            engine.on_candle(0, c).expect("step");
            // As every caller does (backtest, sweep, a running bot).
            engine.forget_closed_orders();
        }
        rates.push(CANDLES as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "{:<44} {:>16}",
        format!("engine loop only (candles/s, {runs} runs)"),
        spread(&mut rates)
    );
    if only_loop {
        return;
    }

    // 2. Latency per candle.
    let mut engine = counting_engine();
    let mut all = Vec::with_capacity(CANDLES);
    let mut with_order = Vec::new();
    let mut with_fill = Vec::new();
    for c in &series.candles {
        let before = engine.counters().orders;
        let cash_before = engine.ledger().cash();
        let t = Instant::now();
        engine.on_candle(0, c).expect("step");
        let ns = t.elapsed().as_nanos() as u64;
        engine.forget_closed_orders();
        all.push(ns);
        if engine.counters().orders > before {
            with_order.push(ns);
        }
        // Only a fill moves the cash in this run (no transfers).
        if engine.ledger().cash() != cash_before {
            with_fill.push(ns);
        }
    }
    all.sort_unstable();
    with_order.sort_unstable();
    with_fill.sort_unstable();
    println!(
        "{:<44} {:>16}",
        "on_candle latency p50 / p99 (all, ns)",
        format!("{} / {}", percentile(&all, 0.5), percentile(&all, 0.99))
    );
    println!(
        "{:<44} {:>16}",
        format!(
            "candle-to-order p50 / p99 ({} orders, ns)",
            with_order.len()
        ),
        format!(
            "{} / {}",
            percentile(&with_order, 0.5),
            percentile(&with_order, 0.99)
        )
    );

    println!(
        "{:<44} {:>16}",
        format!(
            "candle with a fill p50 / p99 ({} fills, ns)",
            with_fill.len()
        ),
        format!(
            "{} / {}",
            percentile(&with_fill, 0.5),
            percentile(&with_fill, 0.99)
        )
    );

    // 3. Idle paper bot RSS.
    match release_binary().and_then(|bin| idle_rss_kib(&bin)) {
        Ok(kib) => println!(
            "{:<44} {:>16}",
            "idle paper bot RSS",
            format!("{:.1} MB", kib as f64 / 1024.0)
        ),
        Err(e) => println!(
            "{:<44} {:>16}",
            "idle paper bot RSS",
            format!("skipped: {e}")
        ),
    }
    if let Ok(bin) = release_binary() {
        // Without its start-up layout the binary reads ≈ 5 MB more.
        println!("  (start-up layout: {})", startup_layout(&bin));
    }
}

/// The release binary: this bench runs from `<target>/release/deps/`, the
/// binary is in `<target>/release/`, whatever CARGO_TARGET_DIR is.
fn release_binary() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("the bench binary has no parent directory")?
        .join("botfleet-bot");
    if !bin.exists() {
        return Err("build `cargo build --release -p botfleet-bot` first".into());
    }
    Ok(bin)
}

/// `scripts/startup-symbols.sh --check`'s verdict on `bin`, in a line.
fn startup_layout(bin: &std::path::Path) -> String {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/startup-symbols.sh");
    match std::process::Command::new(script)
        .arg("--check")
        .arg(bin)
        .output()
    {
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => format!("not checked: {e}"),
    }
}

/// Starts `bin` as a paper bot on a slow synthetic feed and reads VmRSS.
fn idle_rss_kib(bin: &std::path::Path) -> Result<u64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let manifests = dir.path().join("bot.yaml");
    std::fs::write(&manifests, MANIFESTS).map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(bin)
        .args(["run", "--config"])
        .arg(&manifests)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--feed",
            "synthetic",
            "--speed",
            "1",
            "--insecure-no-auth",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(3));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).map_err(|e| e.to_string());
    let _ = child.kill();
    let _ = child.wait();
    let status = status?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS (did the bot exit? check its flags)")?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "unreadable VmRSS".to_string())
}

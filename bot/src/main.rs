//! `botfleet-bot`: the trading engine binary.
//!
//! - `backtest -f FILE.yaml [--data FILE.csv] [--from/--to]`: deterministic
//!   replay of the manifests a user would `kubectl apply`; prints a summary
//!   and writes `report.json` + `report.html`.
//! - `run --config FILE`: trades (paper now) and serves `/metrics`,
//!   `/status`, `/healthz`, `/readyz` and the control endpoints.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use botfleet_bot::backtest::{self, BacktestOptions, DataArg, DataSelection};
use botfleet_bot::config::EngineConfig;
use botfleet_bot::domain::Timeframe;
use botfleet_bot::market_data::parse_time_arg;

#[derive(Parser)]
#[command(
    name = "botfleet-bot",
    version,
    about = "Botfleet trading engine: one process trades one account"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay candles through the bot's strategy, risk limits and paper broker.
    Backtest(BacktestArgs),
    /// Trade: paper now (live or replayed data), with the HTTP endpoints the operator polls.
    Run(botfleet_bot::run::RunArgs),
    /// Write seeded synthetic candles as a Binance kline CSV (for trying things out).
    Synth(SynthArgs),
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Output file.
    #[arg(short = 'o', long)]
    out: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 2_160)]
    candles: usize,
    /// 1m, 5m, 15m, 1h, 4h or 1d.
    #[arg(long, default_value = "1h", value_parser = parse_timeframe)]
    timeframe: Timeframe,
}

fn parse_timeframe(s: &str) -> Result<Timeframe, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("`{s}` is not a timeframe; use 1m, 5m, 15m, 1h, 4h or 1d"))
}

#[derive(clap::Args)]
struct BacktestArgs {
    /// The manifests (Strategy + RiskPolicy + TradingBot), as for `kubectl apply -f`.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// The TradingBot to run when the file holds several.
    #[arg(long)]
    bot: Option<String>,
    /// Candles: a Binance kline CSV or `timestamp,open,high,low,close,volume`;
    /// `SYMBOL=FILE` when the bot trades several symbols. Without it, seeded synthetic data.
    #[arg(long = "data", value_name = "[SYMBOL=]FILE")]
    data: Vec<DataArg>,
    /// First candle to replay (2024-01-31, RFC 3339 or Unix time).
    #[arg(long, value_parser = parse_time)]
    from: Option<i64>,
    /// Replay candles strictly before this time.
    #[arg(long, value_parser = parse_time)]
    to: Option<i64>,
    /// Seed of the synthetic data (used without --data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Synthetic candles per symbol (used without --data).
    #[arg(long, default_value_t = 8_760)]
    candles: usize,
    /// Where report.json and report.html go.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Taker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    taker_fee_bps: rust_decimal::Decimal,
    /// Maker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    maker_fee_bps: rust_decimal::Decimal,
    /// Slippage of market orders, in basis points.
    #[arg(long, default_value = "5")]
    slippage_bps: rust_decimal::Decimal,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

fn parse_time(s: &str) -> Result<i64, String> {
    parse_time_arg(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(args) => run_backtest(args),
        Command::Run(args) => botfleet_bot::run::main(args),
        Command::Synth(args) => run_synth(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_backtest(args: BacktestArgs) -> anyhow::Result<()> {
    let cfg = EngineConfig::load(&args.file, args.bot.as_deref())?;
    let selection = DataSelection {
        data: args.data,
        seed: args.seed,
        synthetic_candles: args.candles,
        from: args.from,
        to: args.to,
    };
    let series = backtest::load_series(&cfg, &selection).map_err(anyhow::Error::msg)?;
    let paper = botfleet_bot::execution::PaperConfig {
        taker_fee_bps: args.taker_fee_bps,
        maker_fee_bps: args.maker_fee_bps,
        slippage_bps: args.slippage_bps,
        ..Default::default()
    };
    paper.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = BacktestOptions {
        paper,
        progress: !args.quiet,
        input_files: vec![args.file.clone()],
    };
    let report = backtest::run(&cfg, series, &options)?;
    let (json, html) = report.write_files(&args.out)?;
    print!("{}", botfleet_bot::report::render_summary_table(&report));
    println!("report: {} and {}", json.display(), html.display());
    Ok(())
}

fn run_synth(args: SynthArgs) -> anyhow::Result<()> {
    use botfleet_bot::market_data::{SyntheticConfig, TimeUnit, generate, write_binance_csv_file};
    let config = SyntheticConfig::for_timeframe(args.seed, args.candles, args.timeframe);
    let series = generate(&config)?;
    write_binance_csv_file(&args.out, &series.candles, args.timeframe, TimeUnit::Millis)?;
    println!("wrote {} ({})", args.out.display(), series.label());
    Ok(())
}

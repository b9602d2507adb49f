//! `backtest`: the engine's own backtest (`botfleet_bot::backtest`), run
//! in-process on the same manifests a user applies — the same code as
//! `botfleet-bot backtest`, so both print the same report.

use std::path::PathBuf;

use anyhow::Context;
use botfleet_bot::backtest::{self, BacktestOptions, DataArg, DataSelection};
use botfleet_bot::config::EngineConfig;
use botfleet_bot::execution::PaperConfig;
use botfleet_bot::market_data::parse_time_arg;
use rust_decimal::Decimal;

use crate::Output;
use crate::error::PluginError;

#[derive(clap::Args)]
pub struct BacktestArgs {
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
    taker_fee_bps: Decimal,
    /// Maker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    maker_fee_bps: Decimal,
    /// Slippage of market orders, in basis points.
    #[arg(long, default_value = "5")]
    slippage_bps: Decimal,
}

fn parse_time(s: &str) -> Result<i64, String> {
    parse_time_arg(s).map_err(|e| e.to_string())
}

pub fn run(args: BacktestArgs, output: Output) -> Result<(), PluginError> {
    let cfg = EngineConfig::load(&args.file, args.bot.as_deref())
        .with_context(|| format!("cannot load {}", args.file.display()))?;
    let selection = DataSelection {
        data: args.data,
        seed: args.seed,
        synthetic_candles: args.candles,
        from: args.from,
        to: args.to,
    };
    let series = backtest::load_series(&cfg, &selection).map_err(anyhow::Error::msg)?;
    let paper = PaperConfig {
        taker_fee_bps: args.taker_fee_bps,
        maker_fee_bps: args.maker_fee_bps,
        slippage_bps: args.slippage_bps,
        ..Default::default()
    };
    paper.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = BacktestOptions {
        paper,
        progress: output == Output::Table,
        input_files: vec![args.file.clone()],
    };
    let report = backtest::run(&cfg, series, &options).map_err(anyhow::Error::from)?;
    let (json, html) = report
        .write_files(&args.out)
        .with_context(|| format!("cannot write the report into {}", args.out.display()))?;
    match output {
        Output::Json => {
            let text = serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?;
            println!("{text}");
        }
        Output::Table => {
            print!("{}", botfleet_bot::report::render_summary_table(&report));
            println!("report: {} and {}", json.display(), html.display());
        }
    }
    Ok(())
}

//! `botfleet-bot`: the trading engine binary.
//!
//! - `backtest -f FILE.yaml [--data FILE.csv] [--from/--to]`: deterministic
//!   replay of the manifests a user would `kubectl apply`; prints a summary
//!   and writes `report.json` + `report.html`.
//! - `run --config FILE`: trades (on paper, or on Binance spot from Sandbox up)
//!   and serves `/metrics`, `/status`, `/healthz`, `/readyz` and the control endpoints.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use botfleet_bot::backtest::BacktestArgs;
use botfleet_bot::domain::Timeframe;
use botfleet_bot::report::render_summary_table;

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
    Backtest(BacktestCommand),
    /// Trade: paper, or on the exchange from Sandbox up, with the HTTP endpoints the operator polls.
    Run(Box<botfleet_bot::run::RunArgs>),
    /// Write seeded synthetic candles as a Binance kline CSV (for trying things out).
    Synth(SynthArgs),
    /// Backtest a grid (or random sample) of strategy parameters on every
    /// core, walk-forward, ranked by out-of-sample return.
    Sweep(SweepCommand),
}

#[derive(clap::Args)]
struct SweepCommand {
    #[command(flatten)]
    args: botfleet_bot::sweep::SweepArgs,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
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
struct BacktestCommand {
    #[command(flatten)]
    args: BacktestArgs,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(args) => run_backtest(args),
        Command::Run(args) => botfleet_bot::run::main(*args),
        Command::Synth(args) => run_synth(args),
        Command::Sweep(command) => {
            let progress = !command.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
            command.args.execute(progress).map(|_| ())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_backtest(command: BacktestCommand) -> anyhow::Result<()> {
    let outcome = command.args.execute(!command.quiet)?;
    print!("{}", render_summary_table(&outcome.report));
    println!(
        "report: {} and {}",
        outcome.json_path.display(),
        outcome.html_path.display()
    );
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

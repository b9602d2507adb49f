//! The `backtest` command line, shared by `botfleet-bot backtest` and
//! `kubectl botfleet backtest` so both take the same flags and run the same
//! code.

use std::path::PathBuf;

use anyhow::Context;
use rust_decimal::Decimal;

use super::{
    BacktestOptions, CacheCheck, DataArg, DataSelection, SeriesInput, load_inputs, run_inputs,
};
use crate::config::EngineConfig;
use crate::domain::Symbol;
use crate::execution::PaperConfig;
use crate::market_data::parse_time_flag;
use crate::report::BacktestReport;
use crate::strategy::llm::LlmBackend;

/// Flags of `backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    /// The manifests (Strategy + RiskPolicy + TradingBot), as for `kubectl apply -f`.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The TradingBot to run when the file holds several.
    #[arg(long)]
    pub bot: Option<String>,
    /// Candles: a Binance kline CSV or `timestamp,open,high,low,close,volume`;
    /// `SYMBOL=FILE` when the bot trades several symbols. Without it, seeded synthetic data.
    #[arg(long = "data", value_name = "[SYMBOL=]FILE")]
    pub data: Vec<DataArg>,
    /// First candle to replay (2024-01-31, RFC 3339 or Unix time).
    #[arg(long, value_parser = parse_time_flag)]
    pub from: Option<i64>,
    /// Replay candles strictly before this time.
    #[arg(long, value_parser = parse_time_flag)]
    pub to: Option<i64>,
    /// Seed of the synthetic data (used without --data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Synthetic candles per symbol (used without --data).
    #[arg(long, default_value_t = 8_760)]
    pub candles: usize,
    /// Where report.json and report.html go.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Taker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    pub taker_fee_bps: Decimal,
    /// Maker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    pub maker_fee_bps: Decimal,
    /// Slippage of market orders, in basis points.
    #[arg(long, default_value = "5")]
    pub slippage_bps: Decimal,
    /// At most this % of a candle's volume fills per symbol per candle (the
    /// rest of an order fills on later candles).
    #[arg(long, default_value = "10", conflicts_with = "no_volume_cap")]
    pub max_volume_participation_pct: Decimal,
    /// Fill every order in full at the next candle's open, whatever the
    /// candle's volume (as backtesting.py and most backtesters do).
    #[arg(long)]
    pub no_volume_cap: bool,
    /// Model members: `replay` answers from recorded replies only and never
    /// connects (a missing reply is an abstention the report counts);
    /// `record` asks the endpoints and records every reply.
    #[arg(long, value_enum, default_value = "replay")]
    pub llm: LlmFlag,
    /// The recorded replies (JSON lines, keyed by model + prompt hash).
    #[arg(long, default_value = "llm-replies.jsonl")]
    pub llm_cache: PathBuf,
    /// Where parsed candles of `--data` files are cached (a binary copy,
    /// valid while the file's SHA-256 is unchanged), so a second backtest on
    /// the same file skips parsing. Default: $BOTFLEET_CACHE_DIR, else
    /// $XDG_CACHE_HOME/botfleet/candles, else ~/.cache/botfleet/candles.
    #[arg(long, value_name = "DIR", conflicts_with = "no_candle_cache")]
    pub candle_cache: Option<PathBuf>,
    /// Parse the `--data` files on every run, holding their candles in memory.
    #[arg(long)]
    pub no_candle_cache: bool,
    /// Print how long each phase took (load, run, writing the report) on stderr.
    #[arg(long)]
    pub timings: bool,
}

/// `--llm`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlmFlag {
    Replay,
    Record,
}

/// What a backtest run left behind.
pub struct BacktestOutcome {
    pub report: BacktestReport,
    pub json_path: PathBuf,
    pub html_path: PathBuf,
}

impl BacktestArgs {
    /// Loads the manifests and candles, runs the backtest, writes
    /// `report.json` and `report.html` (nothing is written on an error).
    pub fn execute(self, progress: bool) -> anyhow::Result<BacktestOutcome> {
        let mut timings = Timings::new(self.timings);
        let mut cfg = EngineConfig::load(&self.file, self.bot.as_deref())?;
        cfg.llm = match self.llm {
            LlmFlag::Replay => LlmBackend::replay(&self.llm_cache)?,
            LlmFlag::Record => LlmBackend::record(&self.llm_cache)?,
        };
        timings.mark("manifests");
        let selection = DataSelection {
            data: self.data,
            seed: self.seed,
            synthetic_candles: self.candles,
            from: self.from,
            to: self.to,
        };
        let cache_dir = match (self.no_candle_cache, self.candle_cache) {
            (true, _) => None,
            (false, Some(dir)) => Some(dir),
            (false, None) => crate::market_data::default_cache_dir(),
        };
        // A cache found for a CSV is read while the CSV is re-hashed beside
        // the run; a stale verdict (the file changed since) re-runs on a
        // cache rebuilt from it, so no report comes from candles not in it.
        let load = |check| {
            load_inputs(&cfg, &selection, cache_dir.as_deref(), check).map_err(anyhow::Error::msg)
        };
        let inputs = load(CacheCheck::InBackground)?;
        timings.mark(load_phase(&inputs));
        let paper = PaperConfig {
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.maker_fee_bps,
            slippage_bps: self.slippage_bps,
            max_volume_participation_pct: (!self.no_volume_cap)
                .then_some(self.max_volume_participation_pct),
        };
        paper.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let options = BacktestOptions {
            paper,
            progress,
            input_files: vec![self.file.clone()],
        };
        // The cached inputs, to ask after the run (a clone shares the file;
        // candles in memory need no check and are not copied).
        let checked: Vec<SeriesInput> = inputs
            .iter()
            .filter(|(_, i)| i.cache_hit().is_some())
            .map(|(_, i)| i.clone())
            .collect();
        let run = run_inputs(&cfg, inputs, &options);
        let mut fresh = true;
        for input in &checked {
            fresh &= input.confirm()?;
        }
        let report = if fresh {
            run?
        } else {
            tracing::info!(
                "a CSV changed since its candle cache was built: rebuilding, running again"
            );
            let inputs = load(CacheCheck::BeforeUse)?;
            timings.mark(load_phase(&inputs));
            run_inputs(&cfg, inputs, &options)?
        };
        timings.mark("run (engine + report build)");
        let context = || format!("cannot write the report into {}", self.out.display());
        std::fs::create_dir_all(&self.out).with_context(context)?;
        // The two files are written side by side, one per core.
        let (json_path, html_path) = std::thread::scope(|scope| {
            let html = scope.spawn(|| report.write_html(&self.out));
            let json = report.write_json(&self.out);
            let html = html
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (json, html)
        });
        let (json_path, html_path) = (
            json_path.with_context(context)?,
            html_path.with_context(context)?,
        );
        timings.mark("report.json + report.html");
        timings.print();
        Ok(BacktestOutcome {
            report,
            json_path,
            html_path,
        })
    }
}

/// The `--timings` name of loading `inputs`.
fn load_phase(inputs: &[(Symbol, SeriesInput)]) -> &'static str {
    match inputs.iter().find_map(|(_, i)| i.cache_hit()) {
        Some(true) => "load (candle cache hit; the CSV is checked beside the run)",
        Some(false) => "load (parse, candle cache written)",
        None => "load (parse into memory)",
    }
}

/// `--timings`: wall time per phase, on stderr.
struct Timings {
    enabled: bool,
    start: std::time::Instant,
    last: std::time::Instant,
    phases: Vec<(&'static str, std::time::Duration)>,
}

impl Timings {
    fn new(enabled: bool) -> Self {
        let now = std::time::Instant::now();
        Self {
            enabled,
            start: now,
            last: now,
            phases: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        if self.enabled {
            let now = std::time::Instant::now();
            self.phases.push((phase, now - self.last));
            self.last = now;
        }
    }

    fn print(&self) {
        if !self.enabled {
            return;
        }
        for (phase, d) in &self.phases {
            eprintln!("timing: {:>8.3} s  {phase}", d.as_secs_f64());
        }
        eprintln!(
            "timing: {:>8.3} s  total (from the start of the command)",
            self.start.elapsed().as_secs_f64()
        );
    }
}

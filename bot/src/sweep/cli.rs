//! The `sweep` command line.

use std::path::PathBuf;

use anyhow::{Context, bail};
use botfleet_crds::Manifests;
use rust_decimal::Decimal;

use super::{ParamSpec, SweepResult, expand, label, run, sample, walk_forward};
use crate::execution::PaperConfig;
use crate::market_data::load_csv;
use crate::report::write_atomically;

const DAY_MS: i64 = 86_400_000;

/// Flags of `sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The manifests (Strategy + RiskPolicy + TradingBot), as for `backtest`.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The TradingBot to run when the file holds several.
    #[arg(long)]
    pub bot: Option<String>,
    /// Candles of the bot's (single) symbol: a Binance kline CSV or
    /// `timestamp,open,high,low,close,volume`.
    #[arg(long)]
    pub data: PathBuf,
    /// A Strategy field to sweep and its values: `smaCrossover.fast=5,10,20`
    /// or `smaCrossover.fast=5:30:5` (start:end:step). Repeat per field.
    #[arg(long = "param", required = true)]
    pub params: Vec<ParamSpec>,
    /// Run this many sets drawn at random from the grid instead of all of it.
    #[arg(long)]
    pub random: Option<usize>,
    /// Seed of `--random`.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Days of each walk-forward train window.
    #[arg(long, default_value_t = 90)]
    pub train_days: u32,
    /// Days of each test window (also the step between windows).
    #[arg(long, default_value_t = 30)]
    pub test_days: u32,
    /// Where sweep.json and sweep.html go.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Rows of the printed table.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Taker fee of the simulated fills, in basis points.
    #[arg(long, default_value = "10")]
    pub taker_fee_bps: Decimal,
    /// Slippage of market orders, in basis points.
    #[arg(long, default_value = "5")]
    pub slippage_bps: Decimal,
    /// Fill every order in full at the next open, whatever the volume.
    #[arg(long)]
    pub no_volume_cap: bool,
}

impl SweepArgs {
    /// Runs the sweep, prints the table, writes sweep.json and sweep.html.
    pub fn execute(self, progress: bool) -> anyhow::Result<SweepResult> {
        let raw = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let text = String::from_utf8(raw.clone()).context("the manifests are not UTF-8")?;
        let manifests = Manifests::from_yaml(&text)?;
        manifests.validate()?;
        let series = load_csv(&self.data)?;
        let candles = &series.candles;
        let (Some(first), Some(last)) = (candles.first(), candles.last()) else {
            bail!("{}: no candles", self.data.display());
        };
        // The data ends where its last candle closes.
        let end = last.open_time + series.interval_ms().unwrap_or(1);
        let windows = walk_forward(
            first.open_time,
            end,
            i64::from(self.train_days) * DAY_MS,
            i64::from(self.test_days) * DAY_MS,
        );
        if windows.is_empty() {
            bail!(
                "{}: the data spans {:.1} days, fewer than one train window ({} days) plus one test window ({} days); lower --train-days/--test-days or give more candles",
                self.data.display(),
                (last.open_time - first.open_time) as f64 / DAY_MS as f64,
                self.train_days,
                self.test_days
            );
        }
        let grid = expand(&self.params);
        let sets = match self.random {
            Some(n) => sample(grid, n, self.seed),
            None => grid,
        };
        let configs: Vec<_> = sets
            .into_iter()
            .map(|set| {
                let cfg = super::configure(&manifests, self.bot.as_deref(), &raw, &set);
                (set, cfg)
            })
            .collect();
        // A path that does not exist fails the same way for every set: say so once.
        if let Some((_, Err(e))) = configs
            .iter()
            .find(|(_, c)| matches!(c, Err(e) if e.starts_with("--param")))
        {
            bail!("{e}");
        }
        let paper = PaperConfig {
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.taker_fee_bps,
            slippage_bps: self.slippage_bps,
            max_volume_participation_pct: if self.no_volume_cap {
                None
            } else {
                PaperConfig::default().max_volume_participation_pct
            },
        };
        paper.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let bar = indicatif::ProgressBar::new(configs.len() as u64);
        if !progress {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "sweep {bar:40} {pos}/{len} sets, {elapsed} elapsed, ~{eta} left",
            )
            .expect("a valid template"),
        );
        let result =
            run(configs, &paper, candles, &windows, &|| bar.inc(1)).map_err(anyhow::Error::msg)?;
        bar.finish_and_clear();
        print!("{}", render_table(&result, self.top));
        std::fs::create_dir_all(&self.out)?;
        write_atomically(
            &self.out.join("sweep.json"),
            &serde_json::to_vec_pretty(&result)?,
        )?;
        let title = format!("{} on {}", self.file.display(), self.data.display());
        write_atomically(
            &self.out.join("sweep.html"),
            super::render_heatmap(&result, &title).as_bytes(),
        )?;
        Ok(result)
    }
}

/// The ranked table printed after a sweep.
pub fn render_table(r: &SweepResult, top: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} sets, {} walk-forward windows; ranked by out-of-sample return (compounded over the test windows)",
        r.sets.len(),
        r.windows.len()
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<32} {:>12} {:>12} {:>6} {:>8}",
        "rank", "parameters", "out-of-sample %", "mean train %", "wins", "trades"
    );
    for (i, s) in r.sets.iter().take(top).enumerate() {
        let train = s.train_returns.iter().sum::<f64>() / s.train_returns.len().max(1) as f64;
        let _ = writeln!(
            out,
            "{:>4}  {:<32} {:>15.2} {:>12.2} {:>6} {:>8}",
            i + 1,
            label(&s.params),
            s.out_of_sample_pct,
            train,
            s.wins,
            s.trades
        );
    }
    for (set, why) in &r.invalid {
        let _ = writeln!(out, "skipped {set}: {why}");
    }
    let _ = writeln!(
        out,
        "walk-forward (each train window's winner on the next test window): {:.2} %",
        r.walk_forward_pct
    );
    out
}

//! Backtests: replay candles through the same [`Engine`] a live bot runs,
//! deterministically (same input, same report, byte for byte).
//!
//! Several symbols are merged by candle time; at equal times the bot's
//! symbol order decides, so the replay order never depends on hashing.

mod cli;
mod feed;
mod input_hash;
mod inputs;
#[cfg(test)]
mod stream_tests;

pub use cli::{BacktestArgs, BacktestOutcome, LlmFlag};
use input_hash::InputHash;
pub use inputs::{CacheCheck, DataArg, DataSelection, SeriesInput, load_inputs, load_series};

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::config::EngineConfig;
use crate::domain::{Candle, Symbol};
use crate::engine::{Engine, EngineError, EventMode};
use crate::execution::PaperConfig;
use crate::market_data::{CandleDigest, CandleSeries, MarketDataError};
use crate::performance::{CurvePoint, EquityCurve};
use crate::report::{
    BacktestReport, CHART_POINTS, EquityCharts, HaltRecord, LimitCount, PriceChart,
    REPORT_API_VERSION, RiskSummary,
};

/// How to run a backtest.
#[derive(Clone, Debug, Default)]
pub struct BacktestOptions {
    pub paper: PaperConfig,
    /// A progress line on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Files whose bytes go into the report's input hash (the manifests).
    pub input_files: Vec<PathBuf>,
}

/// Why a backtest stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading streamed candles (the candle cache) failed mid-run.
    #[error(transparent)]
    Data(#[from] MarketDataError),
}

/// Runs the bot over `series` (one per symbol, from [`load_series`]).
pub fn run(
    cfg: &EngineConfig,
    series: Vec<(Symbol, CandleSeries)>,
    options: &BacktestOptions,
) -> Result<BacktestReport, EngineError> {
    let inputs = series
        .into_iter()
        .map(|(s, c)| (s, SeriesInput::Memory(c)))
        .collect();
    run_inputs(cfg, inputs, options).map_err(|e| match e {
        BacktestError::Engine(e) => e,
        BacktestError::Data(e) => unreachable!("candles in memory cannot fail to read: {e}"),
    })
}

/// Runs the bot over `inputs` (from [`load_inputs`]). One symbol is
/// streamed: no full-length candle list, equity curve or drawdown series is
/// held (the charts are sampled as the run goes, see
/// [`crate::report::EquityCharts`]); several symbols are merged in memory.
pub fn run_inputs(
    cfg: &EngineConfig,
    inputs: Vec<(Symbol, SeriesInput)>,
    options: &BacktestOptions,
) -> Result<BacktestReport, BacktestError> {
    let data_label = inputs
        .iter()
        .map(|(s, c)| format!("{s}: {}", c.label()))
        .collect::<Vec<_>>()
        .join("; ");
    let synthetic = inputs.iter().any(|(_, c)| c.is_synthetic());
    let start = inputs
        .iter()
        .filter_map(|(_, c)| c.first_time())
        .min()
        .unwrap_or(0);
    // The equity curve keeps only its last point; the charts take each one.
    let mut engine = Engine::new(
        cfg.clone(),
        options.paper.clone(),
        EquityCurve::bounded(0),
        start,
        EventMode::CountOnly,
    )?;
    let total: usize = inputs.iter().map(|(_, c)| c.len()).sum();
    let mut charts = EquityCharts::new(total, CHART_POINTS);
    let mut price = PriceChart::new(inputs.first().map_or(0, |(_, c)| c.len()), CHART_POINTS);
    let mut progress = Progress::new(options.progress && total >= 200_000, total);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut hasher = InputHash::new(cfg, options);
    let index_of = |engine: &Engine, s: &Symbol| {
        engine
            .symbol_index(s)
            .ok_or_else(|| EngineError::UnknownSymbol(s.clone()))
    };
    if inputs.len() == 1 {
        // One symbol: the hot path, streamed; the candles are read, hashed,
        // charted and read ahead for the engine on the second core (see
        // `feed`).
        let (symbol, input) = inputs.into_iter().next().expect("one input");
        let index = index_of(&engine, &symbol)?;
        let recorded = input.candles_digest();
        let ahead = engine.read_ahead(index);
        let mut n = 0;
        let step = |candle: &Candle, ahead| -> Result<(), BacktestError> {
            match ahead {
                Some(ahead) => engine.on_candle_ahead(index, candle, ahead)?,
                None => engine.on_candle(index, candle)?,
            }
            let (point, equity_f64) = last_point(&engine);
            charts.push(point, equity_f64);
            // Orders that left the book are in the ledger already; a big
            // order's hundreds of partial fills are not kept past it.
            engine.forget_closed_orders();
            progress.tick(n);
            n += 1;
            if n == 1 {
                first = candle.open_time;
            }
            last = candle.open_time;
            Ok(())
        };
        let side = feed::run(
            input,
            feed::CandleSide {
                digest: recorded.is_none().then(CandleDigest::default),
                price,
                ahead,
            },
            step,
        )?;
        let digest = recorded.or_else(|| side.digest.map(CandleDigest::finish));
        hasher.series(symbol.as_str(), digest.expect("recorded or worked out"));
        price = side.price;
        if let Some(reader) = side.ahead {
            engine.end_read_ahead(reader);
        }
    } else {
        let mut indexed: Vec<(usize, Vec<Candle>)> = Vec::with_capacity(inputs.len());
        for (symbol, input) in inputs {
            let recorded = input.candles_digest();
            let series = input.into_memory()?;
            let digest = recorded.unwrap_or_else(|| CandleDigest::of(&series.candles));
            hasher.series(symbol.as_str(), digest);
            if indexed.is_empty() {
                series.candles.iter().for_each(|c| price.push(c));
            }
            indexed.push((index_of(&engine, &symbol)?, series.candles));
        }
        let mut cursors = vec![0usize; indexed.len()];
        for n in 0..total {
            // The next candle in time; ties go to the earlier symbol of the bot.
            let (slot, _) = indexed
                .iter()
                .enumerate()
                .filter(|(k, (_, c))| cursors[*k] < c.len())
                .min_by_key(|(k, (i, c))| (c[cursors[*k]].open_time, *i))
                .expect("total counts the remaining candles");
            let (index, candles) = &indexed[slot];
            let candle = &candles[cursors[slot]];
            cursors[slot] += 1;
            first = first.min(candle.open_time);
            last = last.max(candle.open_time);
            engine.on_candle(*index, candle)?;
            let (point, equity_f64) = last_point(&engine);
            charts.push(point, equity_f64);
            engine.forget_closed_orders();
            progress.tick(n);
        }
    }
    progress.finish();
    let (price_curve, price_decimals) = price.finish();
    let mut report = build_report(
        cfg,
        &engine,
        &charts,
        data_label,
        synthetic,
        total as u64,
        first,
        last,
        hasher.finish(),
    );
    report.price_curve = price_curve;
    report.price_decimals = price_decimals;
    Ok(report)
}

/// The point the engine's curve took for the candle just stepped, and its
/// equity's float view.
#[inline]
fn last_point(engine: &Engine) -> (CurvePoint, f64) {
    engine
        .performance()
        .last_point()
        .expect("every candle pushes a curve point")
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    cfg: &EngineConfig,
    engine: &Engine,
    charts: &EquityCharts,
    data: String,
    synthetic_data: bool,
    candles: u64,
    from: i64,
    to: i64,
    input_hash: String,
) -> BacktestReport {
    let perf = engine.performance();
    let monthly_returns = charts.monthly_returns(cfg.capital);
    let equity_curve = charts.equity.clone();
    // Drawdown from the running peak over the *full* curve, sampled at the same times.
    let drawdown_curve = charts.drawdown.clone();
    let counts = |m: &std::collections::BTreeMap<&'static str, u64>| {
        m.iter()
            .map(|(k, v)| LimitCount {
                limit: (*k).to_string(),
                count: *v,
            })
            .collect()
    };
    let c = engine.counters();
    BacktestReport {
        api_version: REPORT_API_VERSION.to_string(),
        bot: cfg.bot.clone(),
        strategy: format!("{} ({})", cfg.strategy_name, strategy_kind(cfg)),
        risk_policy: cfg.risk_policy_name.clone(),
        phase: cfg.phase.as_str().to_string(),
        symbols: cfg.symbols.iter().map(Symbol::to_string).collect(),
        data,
        synthetic_data,
        timeframe: cfg.timeframe.as_str().to_string(),
        candles,
        from: if candles == 0 { 0 } else { from },
        to: if candles == 0 { 0 } else { to },
        input_hash,
        capital: cfg.capital,
        balances: engine.ledger().snapshot(),
        performance: perf.summary(),
        risk: RiskSummary {
            refusals: counts(&c.refusals),
            forced_exits: counts(&c.forced_exits),
            pauses: counts(&c.pauses),
            halt: c.halts.first().map(|h| HaltRecord {
                reason: h.reason.clone(),
                at: h.at,
            }),
        },
        trades: engine.ledger().closed_trades().to_vec(),
        allocations: engine.ledger().transfers().to_vec(),
        llm_members: cfg
            .llm
            .stats()
            .into_iter()
            .map(|(name, s)| crate::report::LlmMemberReport {
                hit_rate: s.hit_rate(),
                name,
                model: s.model,
                buy: s.buy,
                sell: s.sell,
                hold: s.hold,
                abstentions: s.abstentions,
                scored_votes: s.scored,
                tokens: s.tokens,
                cost: s.cost,
            })
            .collect(),
        equity_curve,
        drawdown_curve,
        price_curve: Vec::new(),
        price_decimals: 2,
        monthly_returns,
    }
}

fn strategy_kind(cfg: &EngineConfig) -> &'static str {
    cfg.strategy.kind().map_or("?", |k| k.name())
}

/// A `\r`-rewritten progress line, only on a terminal.
struct Progress {
    enabled: bool,
    total: usize,
    next: usize,
}

impl Progress {
    fn new(wanted: bool, total: usize) -> Self {
        let enabled = wanted && std::io::stderr().is_terminal();
        Self {
            enabled,
            total,
            next: 0,
        }
    }

    #[inline]
    fn tick(&mut self, n: usize) {
        if self.enabled && n >= self.next {
            self.next = n + self.total / 100 + 1;
            let _ = write!(
                std::io::stderr(),
                "\rbacktest: {:3} % ({n}/{} candles)",
                n * 100 / self.total.max(1),
                self.total
            );
        }
    }

    fn finish(&self) {
        if self.enabled {
            let _ = writeln!(
                std::io::stderr(),
                "\rbacktest: 100 % ({} candles)        ",
                self.total
            );
        }
    }
}

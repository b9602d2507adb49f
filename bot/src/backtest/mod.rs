//! Backtests: replay candles through the same [`Engine`] a live bot runs,
//! deterministically (same input, same report, byte for byte).
//!
//! Several symbols are merged by candle time; at equal times the bot's
//! symbol order decides, so the replay order never depends on hashing.

mod cli;
mod inputs;

pub use cli::{BacktestArgs, BacktestOutcome, LlmFlag};
pub use inputs::{DataArg, DataSelection, load_series};

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::config::{EngineConfig, hex};
use crate::domain::{Candle, Symbol};
use crate::engine::{Engine, EngineError, EventMode};
use crate::execution::PaperConfig;
use crate::market_data::CandleSeries;
use crate::performance::EquityCurve;
use crate::report::{
    BacktestReport, CHART_POINTS, HaltRecord, LimitCount, REPORT_API_VERSION, RiskSummary,
    downsample,
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

/// Runs the bot over `series` (one per symbol, from [`load_series`]).
pub fn run(
    cfg: &EngineConfig,
    series: Vec<(Symbol, CandleSeries)>,
    options: &BacktestOptions,
) -> Result<BacktestReport, EngineError> {
    let data_label = series
        .iter()
        .map(|(s, c)| format!("{s}: {}", c.label()))
        .collect::<Vec<_>>()
        .join("; ");
    let synthetic = series.iter().any(|(_, c)| c.is_synthetic());
    let input_hash = input_hash(cfg, &series, options);
    let start = series
        .iter()
        .filter_map(|(_, c)| c.candles.first())
        .map(|c| c.open_time)
        .min()
        .unwrap_or(0);
    let mut engine = Engine::new(
        cfg.clone(),
        options.paper.clone(),
        EquityCurve::full(),
        start,
        EventMode::CountOnly,
    )?;
    let indexed: Vec<(usize, Vec<Candle>)> = series
        .into_iter()
        .map(|(s, c)| {
            (
                engine
                    .symbol_index(&s)
                    .ok_or_else(|| EngineError::UnknownSymbol(s.clone())),
                c.candles,
            )
        })
        .map(|(i, c)| i.map(|i| (i, c)))
        .collect::<Result<_, _>>()?;
    let total: usize = indexed.iter().map(|(_, c)| c.len()).sum();
    let (price_curve, price_decimals) = indexed
        .first()
        .map(|(_, c)| price_chart(c))
        .unwrap_or_default();
    let mut progress = Progress::new(options.progress && total >= 200_000, total);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    if let [(index, candles)] = indexed.as_slice() {
        // One symbol: the hot path, no merging.
        for (n, candle) in candles.iter().enumerate() {
            engine.on_candle(*index, candle)?;
            progress.tick(n);
        }
        if let (Some(f), Some(l)) = (candles.first(), candles.last()) {
            (first, last) = (f.open_time, l.open_time);
        }
    } else {
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
            progress.tick(n);
        }
    }
    progress.finish();
    let mut report = build_report(
        cfg,
        &engine,
        data_label,
        synthetic,
        total as u64,
        first,
        last,
        input_hash,
    );
    report.price_curve = price_curve;
    report.price_decimals = price_decimals;
    Ok(report)
}

/// The downsampled closes of a series and the decimals of its prices (the
/// most any close has, at most 8: the data's tick).
fn price_chart(candles: &[Candle]) -> (Vec<(i64, crate::domain::Price)>, u32) {
    let step = (candles.len() / CHART_POINTS).max(1);
    let decimals = candles
        .iter()
        .step_by(step)
        .map(|c| c.close.value().normalize().scale())
        .max()
        .unwrap_or(2)
        .min(8);
    let closes: Vec<(i64, crate::domain::Price)> = downsample(candles, CHART_POINTS)
        .iter()
        .map(|c| (c.open_time, c.close))
        .collect();
    (closes, decimals)
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    cfg: &EngineConfig,
    engine: &Engine,
    data: String,
    synthetic_data: bool,
    candles: u64,
    from: i64,
    to: i64,
    input_hash: String,
) -> BacktestReport {
    let perf = engine.performance();
    let points = perf.curve().points();
    let sampled = downsample(points, CHART_POINTS);
    let monthly_returns = crate::report::monthly_returns(cfg.capital, points);
    let equity_curve: Vec<_> = sampled.iter().map(|p| (p.time, p.equity)).collect();
    // Drawdown from the running peak over the *full* curve, sampled at the same times.
    let full_drawdown = perf.curve().drawdown_series();
    let drawdown_curve = downsample(&full_drawdown, CHART_POINTS);
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

/// SHA-256 over the manifests, the simulation settings and the candles
/// (time and close of each: enough to tell two data sets apart, and cheap
/// enough not to dominate a million-candle run).
fn input_hash(
    cfg: &EngineConfig,
    series: &[(Symbol, CandleSeries)],
    options: &BacktestOptions,
) -> String {
    let mut h = Sha256::new();
    h.update(cfg.config_hash.as_bytes());
    h.update(serde_json::to_vec(&options.paper).unwrap_or_default());
    for (symbol, s) in series {
        h.update(symbol.as_str().as_bytes());
        for c in &s.candles {
            h.update(c.open_time.to_le_bytes());
            h.update(c.close.value().serialize());
        }
    }
    hex(&h.finalize())
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

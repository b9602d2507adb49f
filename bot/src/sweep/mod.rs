//! `botfleet-bot sweep`: one strategy over many parameter sets, walk-forward.
//!
//! Each parameter set runs once through the whole data with the real
//! [`Engine`] (paper fills, every risk limit), its equity recorded at every
//! window edge; a window's score is the return over it. For each walk-forward
//! step the set with the best train-window return is the winner, scored on
//! the test window right after (out of sample). The table ranks every set by
//! its out-of-sample score: its compounded return over all test windows.
//! Sets run in parallel on every core (rayon), over one read-only copy of
//! the candles; indicator series that several sets use are computed once
//! and shared (`shared.rs`).

mod cli;
mod grid;
mod heatmap;
mod shared;
mod windows;

pub use cli::SweepArgs;
pub use grid::{ParamSet, ParamSpec, expand, label, sample};
pub use heatmap::render_heatmap;
pub use windows::{Window, walk_forward};

use botfleet_crds::Manifests;
use rayon::prelude::*;

use crate::config::EngineConfig;
use crate::domain::{Candle, Money};
use crate::engine::{Engine, EventMode};
use crate::execution::PaperConfig;
use crate::performance::EquityCurve;
use shared::SharedSeries;

/// One parameter set's results.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetResult {
    pub params: ParamSet,
    /// Return % over each walk-forward train window.
    pub train_returns: Vec<f64>,
    /// Return % over each test window.
    pub test_returns: Vec<f64>,
    /// Compounded return % over all test windows: the rank.
    pub out_of_sample_pct: f64,
    /// Train windows this set won.
    pub wins: usize,
    pub trades: u64,
}

/// The whole sweep.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepResult {
    pub windows: Vec<Window>,
    /// Best first (out-of-sample score), then by the order given.
    pub sets: Vec<SetResult>,
    /// Sets the Strategy rejected (e.g. `fast` ≥ `slow`), with why.
    pub invalid: Vec<(String, String)>,
    /// Walk-forward: each step's winner and its test-window return.
    pub steps: Vec<(String, f64)>,
    /// The winners' test returns compounded, %.
    pub walk_forward_pct: f64,
}

/// The engine config of `manifests` with `set` written into the bot's Strategy.
pub fn configure(
    manifests: &Manifests,
    bot: Option<&str>,
    raw: &[u8],
    set: &ParamSet,
) -> Result<EngineConfig, String> {
    let mut m = manifests.clone();
    let strategy_name = m
        .bundle(bot)
        .map_err(|e| e.to_string())?
        .strategy
        .metadata
        .name
        .clone();
    let strategy = m
        .strategies
        .iter_mut()
        .find(|s| s.metadata.name == strategy_name)
        .ok_or("the bot's Strategy is not in the file")?;
    let mut spec = serde_json::to_value(&strategy.spec).map_err(|e| e.to_string())?;
    for (path, value) in set {
        let pointer = format!("/{}", path.replace('.', "/"));
        let slot = spec.pointer_mut(&pointer).ok_or_else(|| {
            format!(
                "--param {path}: Strategy `{}` has no field spec.{path} (set it in the manifest first, then sweep it)",
                strategy_name.as_deref().unwrap_or("")
            )
        })?;
        *slot = value.clone();
    }
    strategy.spec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
    m.validate().map_err(|e| e.to_string())?;
    EngineConfig::from_manifests(&m, bot, raw)
}

/// Equity at each of `edges` (ascending Unix ms): the equity after the last
/// candle before the edge (the capital before the first candle).
fn equity_at_edges(
    cfg: EngineConfig,
    paper: &PaperConfig,
    candles: &[Candle],
    edges: &[i64],
    shared: &SharedSeries,
) -> Result<(Vec<Money>, u64), String> {
    let start = candles.first().map_or(0, |c| c.open_time);
    let strategy = shared.strategy(&cfg)?;
    let mut engine = Engine::new(
        cfg,
        paper.clone(),
        EquityCurve::bounded(2),
        start,
        EventMode::CountOnly,
    )
    .map_err(|e| e.to_string())?;
    // Scored by the ledger's equity at the edges and the trade count only.
    engine.skip_candle_statistics();
    let index = 0;
    if let Some(strategy) = strategy {
        engine.set_strategy(index, strategy);
    }
    shared.share_reads(&mut engine, candles);
    let mut out = Vec::with_capacity(edges.len());
    let mut next = 0;
    for candle in candles {
        while next < edges.len() && candle.open_time >= edges[next] {
            out.push(engine.ledger().equity());
            next += 1;
        }
        engine.on_candle(index, candle).map_err(|e| e.to_string())?;
        // As a backtest does: the ledger has their fills, and a set closes
        // thousands of orders that would otherwise stay (and be searched).
        engine.forget_closed_orders();
    }
    while out.len() < edges.len() {
        out.push(engine.ledger().equity());
    }
    Ok((out, engine.performance().summary().overall.trades))
}

fn pct(from: Money, to: Money) -> f64 {
    if from.is_zero() {
        return 0.0;
    }
    ((to - from).value() / from.value() * rust_decimal::Decimal::ONE_HUNDRED)
        .try_into()
        .unwrap_or(0.0)
}

fn compound(returns: &[f64]) -> f64 {
    (returns.iter().fold(1.0, |acc, r| acc * (1.0 + r / 100.0)) - 1.0) * 100.0
}

/// Runs every set over `candles` (one symbol) and scores them walk-forward.
/// `on_done` is called once per finished set (a progress bar).
pub fn run(
    configs: Vec<(ParamSet, Result<EngineConfig, String>)>,
    paper: &PaperConfig,
    candles: &[Candle],
    windows: &[Window],
    on_done: &(dyn Fn() + Sync),
) -> Result<SweepResult, String> {
    let mut edges: Vec<i64> = windows
        .iter()
        .flat_map(|w| [w.train.0, w.train.1, w.test.1])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let at = |equity: &[Money], t: i64| equity[edges.binary_search(&t).expect("an edge")];
    let mut invalid = Vec::new();
    let mut valid = Vec::new();
    for (set, cfg) in configs {
        match cfg {
            Ok(cfg) => valid.push((set, cfg)),
            Err(e) => invalid.push((label(&set), e)),
        }
    }
    let shared = SharedSeries::new(&valid, candles);
    let runs: Vec<Result<SetResult, String>> = valid
        .into_par_iter()
        .map(|(params, cfg)| {
            let (equity, trades) = equity_at_edges(cfg, paper, candles, &edges, &shared)?;
            on_done();
            let train_returns: Vec<f64> = windows
                .iter()
                .map(|w| pct(at(&equity, w.train.0), at(&equity, w.train.1)))
                .collect();
            let test_returns: Vec<f64> = windows
                .iter()
                .map(|w| pct(at(&equity, w.test.0), at(&equity, w.test.1)))
                .collect();
            Ok(SetResult {
                out_of_sample_pct: compound(&test_returns),
                params,
                train_returns,
                test_returns,
                wins: 0,
                trades,
            })
        })
        .collect();
    let mut sets = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut steps = Vec::new();
    for k in 0..windows.len() {
        // The first best train return wins a tie (the order given).
        let Some(best) = (0..sets.len()).reduce(|a, b| {
            if sets[b].train_returns[k] > sets[a].train_returns[k] {
                b
            } else {
                a
            }
        }) else {
            break;
        };
        sets[best].wins += 1;
        steps.push((label(&sets[best].params), sets[best].test_returns[k]));
    }
    let walk_forward_pct = compound(&steps.iter().map(|s| s.1).collect::<Vec<_>>());
    sets.sort_by(|a, b| b.out_of_sample_pct.total_cmp(&a.out_of_sample_pct));
    Ok(SweepResult {
        windows: windows.to_vec(),
        sets,
        invalid,
        steps,
        walk_forward_pct,
    })
}

#[cfg(test)]
mod grid_tests;

//! Which candles a backtest replays: CSV files given with `--data`, or the
//! seeded synthetic generator (labelled synthetic everywhere it shows).

use std::path::PathBuf;

use crate::config::EngineConfig;
use crate::domain::Symbol;
use crate::market_data::{self, CandleSeries, SyntheticConfig};

/// `--data` as given: `FILE` (the bot's only symbol) or `SYMBOL=FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataArg {
    pub symbol: Option<Symbol>,
    pub path: PathBuf,
}

impl std::str::FromStr for DataArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((sym, path)) if !sym.is_empty() && !sym.contains('/') => Ok(Self {
                symbol: Some(Symbol::new(sym)),
                path: PathBuf::from(path),
            }),
            _ => Ok(Self {
                symbol: None,
                path: PathBuf::from(s),
            }),
        }
    }
}

/// What to replay, before time filtering.
#[derive(Clone, Debug)]
pub struct DataSelection {
    pub data: Vec<DataArg>,
    /// Synthetic generator seed (used when no `--data` is given).
    pub seed: u64,
    /// Synthetic candles per symbol.
    pub synthetic_candles: usize,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One series per traded symbol, in the bot's symbol order.
pub fn load_series(
    cfg: &EngineConfig,
    sel: &DataSelection,
) -> Result<Vec<(Symbol, CandleSeries)>, String> {
    let mut out = Vec::with_capacity(cfg.symbols.len());
    if sel.data.is_empty() {
        for (i, symbol) in cfg.symbols.iter().enumerate() {
            // A different seed per symbol so two symbols do not move in lockstep.
            let synth = SyntheticConfig::for_timeframe(
                sel.seed.wrapping_add(i as u64),
                sel.synthetic_candles,
                cfg.timeframe,
            );
            let series =
                market_data::generate(&synth).map_err(|e| format!("synthetic data: {e}"))?;
            out.push((symbol.clone(), restrict(series, sel)?));
        }
        return Ok(out);
    }
    if sel.data.len() == 1 && sel.data[0].symbol.is_none() && cfg.symbols.len() > 1 {
        return Err(format!(
            "--data: the bot trades {} symbols ({}); give one file per symbol as --data SYMBOL=FILE",
            cfg.symbols.len(),
            join(&cfg.symbols)
        ));
    }
    for arg in &sel.data {
        let symbol = match &arg.symbol {
            Some(s) if !cfg.symbols.contains(s) => {
                return Err(format!(
                    "--data {s}={}: the bot does not trade {s}; it trades {}",
                    arg.path.display(),
                    join(&cfg.symbols)
                ));
            }
            Some(s) => s.clone(),
            None if sel.data.len() > 1 => {
                return Err(format!(
                    "--data {}: with several files, name the symbol of each as --data SYMBOL=FILE",
                    arg.path.display()
                ));
            }
            None => cfg.symbols[0].clone(),
        };
        if out.iter().any(|(s, _)| *s == symbol) {
            return Err(format!(
                "--data: {symbol} is given twice; give one file per symbol"
            ));
        }
        let series = market_data::load_csv(&arg.path).map_err(|e| e.to_string())?;
        if let Some(tf) = series.timeframe()
            && tf != cfg.timeframe
        {
            return Err(format!(
                "{}: the candles are {} apart but Strategy `{}` trades {}; use {} candles or change spec.timeframe",
                arg.path.display(),
                tf.as_str(),
                cfg.strategy_name,
                cfg.timeframe.as_str(),
                cfg.timeframe.as_str()
            ));
        }
        out.push((symbol, restrict(series, sel)?));
    }
    let missing: Vec<&Symbol> = cfg
        .symbols
        .iter()
        .filter(|s| !out.iter().any(|(o, _)| o == *s))
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
        return Err(format!(
            "--data: no candles for {}; add --data SYMBOL=FILE for each",
            names.join(", ")
        ));
    }
    out.sort_by_key(|(s, _)| cfg.symbols.iter().position(|x| x == s));
    Ok(out)
}

fn restrict(series: CandleSeries, sel: &DataSelection) -> Result<CandleSeries, String> {
    series
        .restrict(sel.from, sel.to)
        .map_err(|e| format!("--from/--to: {e}"))
}

fn join(symbols: &[Symbol]) -> String {
    symbols
        .iter()
        .map(Symbol::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

//! Which candles a backtest replays: CSV files given with `--data`, or the
//! seeded synthetic generator (labelled synthetic everywhere it shows).

use std::path::{Path, PathBuf};

use crate::config::EngineConfig;
use crate::domain::{Symbol, Timeframe};
use crate::market_data::{
    self, CacheError, CachedSeries, CandleFile, CandleSeries, MarketDataError, SyntheticConfig,
};

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

/// The candles of one symbol: in memory, or streamed from the candle cache.
#[derive(Clone, Debug)]
pub enum SeriesInput {
    Memory(CandleSeries),
    Cached(CachedSeries),
}

impl SeriesInput {
    pub fn len(&self) -> usize {
        match self {
            SeriesInput::Memory(s) => s.len(),
            SeriesInput::Cached(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn label(&self) -> String {
        match self {
            SeriesInput::Memory(s) => s.label(),
            SeriesInput::Cached(s) => s.label(),
        }
    }

    pub fn is_synthetic(&self) -> bool {
        matches!(self, SeriesInput::Memory(s) if s.is_synthetic())
    }

    pub fn first_time(&self) -> Option<i64> {
        match self {
            SeriesInput::Memory(s) => s.candles.first().map(|c| c.open_time),
            SeriesInput::Cached(s) => s.first_time(),
        }
    }

    /// Whether the candles came from a valid cache (`None`: not cached).
    pub fn cache_hit(&self) -> Option<bool> {
        match self {
            SeriesInput::Memory(_) => None,
            SeriesInput::Cached(s) => Some(s.file().hit),
        }
    }

    /// Whether the candles still match their CSV: waits for a background
    /// check ([`CacheCheck::InBackground`]); `true` for every other input.
    pub fn confirm(&self) -> Result<bool, MarketDataError> {
        match self {
            SeriesInput::Memory(_) => Ok(true),
            SeriesInput::Cached(s) => s.file().confirm(),
        }
    }

    /// The [`CandleDigest`](crate::market_data::CandleDigest) of the
    /// candles, if recorded (a whole cached file); else it is worked out as
    /// they are read.
    pub fn candles_digest(&self) -> Option<[u8; 32]> {
        match self {
            SeriesInput::Memory(_) => None,
            SeriesInput::Cached(s) => s.candles_digest(),
        }
    }

    /// Every candle in memory.
    pub fn into_memory(self) -> Result<CandleSeries, MarketDataError> {
        match self {
            SeriesInput::Memory(s) => Ok(s),
            SeriesInput::Cached(s) => s.load(),
        }
    }

    fn timeframe(&self) -> Option<Timeframe> {
        match self {
            SeriesInput::Memory(s) => s.timeframe(),
            SeriesInput::Cached(s) => s.file().timeframe(),
        }
    }

    fn restrict(self, sel: &DataSelection) -> Result<Self, String> {
        let restricted = match self {
            SeriesInput::Memory(s) => s.restrict(sel.from, sel.to).map(SeriesInput::Memory),
            SeriesInput::Cached(s) => s.restrict(sel.from, sel.to).map(SeriesInput::Cached),
        };
        restricted.map_err(|e| format!("--from/--to: {e}"))
    }
}

/// When a candle cache is checked against its CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheCheck {
    /// Before its candles are read.
    BeforeUse,
    /// On a helper thread while the caller works; the caller asks
    /// [`SeriesInput::confirm`] before trusting what it made, and redoes it
    /// with [`CacheCheck::BeforeUse`] when the answer is no.
    InBackground,
}

/// One series per traded symbol, in the bot's symbol order, in memory.
pub fn load_series(
    cfg: &EngineConfig,
    sel: &DataSelection,
) -> Result<Vec<(Symbol, CandleSeries)>, String> {
    load_inputs(cfg, sel, None, CacheCheck::BeforeUse)?
        .into_iter()
        .map(|(s, input)| {
            input
                .into_memory()
                .map(|c| (s, c))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// One series per traded symbol, in the bot's symbol order; with
/// `cache_dir`, CSV files go through the candle cache (built on first use)
/// and are streamed, else (or when the cache cannot be written) loaded.
pub fn load_inputs(
    cfg: &EngineConfig,
    sel: &DataSelection,
    cache_dir: Option<&Path>,
    check: CacheCheck,
) -> Result<Vec<(Symbol, SeriesInput)>, String> {
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
            out.push((symbol.clone(), SeriesInput::Memory(series).restrict(sel)?));
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
        let series = load_file(&arg.path, cache_dir, check).map_err(|e| e.to_string())?;
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
        out.push((symbol, series.restrict(sel)?));
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

fn load_file(
    path: &Path,
    cache_dir: Option<&Path>,
    check: CacheCheck,
) -> Result<SeriesInput, MarketDataError> {
    if let Some(dir) = cache_dir {
        let opened = match check {
            CacheCheck::BeforeUse => CandleFile::open_or_build(path, dir),
            CacheCheck::InBackground => CandleFile::open_checking_in_background(path, dir),
        };
        match opened {
            Ok(file) => return Ok(SeriesInput::Cached(CachedSeries::new(file))),
            Err(CacheError::Data(e)) => return Err(e),
            Err(CacheError::Cache(e)) => {
                tracing::debug!("candle cache in {} not used: {e}", dir.display());
            }
        }
    }
    market_data::load_csv(path).map(SeriesInput::Memory)
}

fn join(symbols: &[Symbol]) -> String {
    symbols
        .iter()
        .map(Symbol::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

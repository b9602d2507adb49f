//! Work the parameter sets of a sweep share: each distinct indicator
//! series is computed once, on first use, and read by every set that uses
//! it. Today that is the SMA of an `smaCrossover` strategy (a grid of 40
//! fast × 26 slow periods needs 66 series, not 2,080); other kinds compute
//! their indicators per set as in a backtest. The risk engine's reading of
//! each candle (float views, the flash-crash window) is shared the same way:
//! every set has the same risk policy.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::config::EngineConfig;
use crate::domain::Candle;
use crate::engine::Engine;
use crate::indicators::price_to_f64;
use crate::risk::CandleReads;
use crate::strategy::{SharedSma, SmaCrossoverStrategy, Strategy};

/// The series of one sweep, keyed by SMA period; filled lazily so a period
/// is computed by the first set that needs it (the others wait for it).
pub(super) struct SharedSeries {
    closes: Vec<f64>,
    sma: BTreeMap<u32, OnceLock<Result<SharedSma, String>>>,
    reads: OnceLock<Arc<CandleReads>>,
}

/// The plain `smaCrossover` of a config (not inside a committee).
fn sma_params(cfg: &EngineConfig) -> Option<&botfleet_crds::SmaCrossover> {
    cfg.strategy.sma_crossover.as_ref()
}

impl SharedSeries {
    pub(super) fn new<T>(configs: &[(T, EngineConfig)], candles: &[Candle]) -> Self {
        let sma: BTreeMap<u32, OnceLock<Result<SharedSma, String>>> = configs
            .iter()
            .filter_map(|(_, c)| sma_params(c))
            .flat_map(|p| [p.fast, p.slow])
            .map(|period| (period, OnceLock::new()))
            .collect();
        let closes = if sma.is_empty() {
            Vec::new()
        } else {
            candles.iter().map(|c| price_to_f64(c.close)).collect()
        };
        Self {
            closes,
            sma,
            reads: OnceLock::new(),
        }
    }

    /// Has `engine` (symbol 0) follow the candle reads of the first set's
    /// risk engine, made once. An engine with other flash settings (not
    /// possible while a sweep varies only the Strategy) reads its own.
    pub(super) fn share_reads(&self, engine: &mut Engine, candles: &[Candle]) {
        let reads = self
            .reads
            .get_or_init(|| Arc::new(engine.risk().read_candles(candles)));
        // Refused only for other flash settings; then the engine reads itself.
        let _ = engine.share_candle_reads(0, reads.clone());
    }

    fn sma(&self, period: u32) -> Result<SharedSma, String> {
        let slot = self
            .sma
            .get(&period)
            .ok_or("an SMA period not seen up front")?;
        // The other sets needing it wait while the first computes it.
        slot.get_or_init(|| SharedSma::compute(period, &self.closes).map_err(|e| e.to_string()))
            .clone()
    }

    /// The strategy reading shared series for `cfg`, or `None` when its
    /// kind computes its own (the engine's usual one is kept).
    pub(super) fn strategy(&self, cfg: &EngineConfig) -> Result<Option<Box<dyn Strategy>>, String> {
        let Some(p) = sma_params(cfg) else {
            return Ok(None);
        };
        let s = SmaCrossoverStrategy::over_shared(p, self.sma(p.fast)?, self.sma(p.slow)?)
            .map_err(|e| e.to_string())?;
        Ok(Some(Box::new(s)))
    }
}

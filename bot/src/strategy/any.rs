//! Closed sets of strategies, dispatched with a `match` rather than a
//! vtable: committee members, and the prototype a blueprint clones per symbol.

use botfleet_crds::StrategyKind;

use super::{
    Advice, BollingerReversionStrategy, Candle, CommitteeStrategy, IndicatorReason,
    MacdTrendStrategy, RsiReversionStrategy, Signal, SmaCrossoverStrategy, Strategy, StrategyError,
};

/// One of the single-indicator kinds (anything but a committee).
#[derive(Clone, Debug)]
pub enum SingleStrategy {
    SmaCrossover(SmaCrossoverStrategy),
    RsiReversion(RsiReversionStrategy),
    BollingerReversion(BollingerReversionStrategy),
    MacdTrend(MacdTrendStrategy),
}

impl SingleStrategy {
    /// Builds the kind; `None` for a committee.
    pub fn from_kind(kind: StrategyKind<'_>) -> Option<Result<Self, StrategyError>> {
        Some(match kind {
            StrategyKind::SmaCrossover(p) => SmaCrossoverStrategy::new(p).map(Self::SmaCrossover),
            StrategyKind::RsiReversion(p) => RsiReversionStrategy::new(p).map(Self::RsiReversion),
            StrategyKind::BollingerReversion(p) => {
                BollingerReversionStrategy::new(p).map(Self::BollingerReversion)
            }
            StrategyKind::MacdTrend(p) => MacdTrendStrategy::new(p).map(Self::MacdTrend),
            StrategyKind::Committee(_) => return None,
        })
    }

    fn as_dyn(&self) -> &dyn Strategy {
        match self {
            SingleStrategy::SmaCrossover(s) => s,
            SingleStrategy::RsiReversion(s) => s,
            SingleStrategy::BollingerReversion(s) => s,
            SingleStrategy::MacdTrend(s) => s,
        }
    }

    /// The signal and its reason, without the `Advice` wrapper.
    #[inline]
    pub fn evaluate(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        match self {
            SingleStrategy::SmaCrossover(s) => s.step(candle),
            SingleStrategy::RsiReversion(s) => s.step(candle),
            SingleStrategy::BollingerReversion(s) => s.step(candle),
            SingleStrategy::MacdTrend(s) => s.step(candle),
        }
    }
}

impl Strategy for SingleStrategy {
    #[inline]
    fn on_candle(&mut self, candle: &Candle) -> Advice {
        let (signal, reason) = self.evaluate(candle);
        Advice::single(signal, reason)
    }

    fn warmup_candles(&self) -> usize {
        self.as_dyn().warmup_candles()
    }

    fn name(&self) -> &str {
        self.as_dyn().name()
    }
}

/// Any strategy kind, for callers that want static dispatch
/// ([`StrategyBlueprint::instantiate`](super::StrategyBlueprint::instantiate)).
#[derive(Clone, Debug)]
pub enum AnyStrategy {
    Single(SingleStrategy),
    Committee(CommitteeStrategy),
}

impl Strategy for AnyStrategy {
    #[inline]
    fn on_candle(&mut self, candle: &Candle) -> Advice {
        match self {
            AnyStrategy::Single(s) => s.on_candle(candle),
            AnyStrategy::Committee(c) => c.on_candle(candle),
        }
    }

    fn warmup_candles(&self) -> usize {
        match self {
            AnyStrategy::Single(s) => s.warmup_candles(),
            AnyStrategy::Committee(c) => c.warmup_candles(),
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyStrategy::Single(s) => s.name(),
            AnyStrategy::Committee(c) => c.name(),
        }
    }
}

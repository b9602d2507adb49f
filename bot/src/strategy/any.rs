//! Closed sets of strategies, dispatched with a `match` rather than a
//! vtable: committee members, and the prototype a blueprint clones per symbol.

use botfleet_crds::{StrategyKind, Timeframe};

use super::llm::{LlmBackend, LlmMember};
use super::{
    Advice, BollingerReversionStrategy, Candle, CommitteeStrategy, DecisionContext,
    IndicatorReason, MacdTrendStrategy, RsiReversionStrategy, Signal, SmaCrossoverStrategy,
    Strategy, StrategyError,
};

/// One of the single-indicator kinds (anything but a committee).
#[derive(Clone, Debug)]
pub enum SingleStrategy {
    SmaCrossover(SmaCrossoverStrategy),
    RsiReversion(RsiReversionStrategy),
    BollingerReversion(BollingerReversionStrategy),
    MacdTrend(MacdTrendStrategy),
    /// Boxed: its prompt window and context are larger than any indicator's state.
    Llm(Box<LlmMember>),
}

impl SingleStrategy {
    /// Builds the kind for candles of `timeframe`; `None` for a committee.
    pub fn from_kind(
        kind: StrategyKind<'_>,
        timeframe: Timeframe,
    ) -> Option<Result<Self, StrategyError>> {
        Some(match kind {
            StrategyKind::SmaCrossover(p) => SmaCrossoverStrategy::new(p).map(Self::SmaCrossover),
            StrategyKind::RsiReversion(p) => RsiReversionStrategy::new(p).map(Self::RsiReversion),
            StrategyKind::BollingerReversion(p) => {
                BollingerReversionStrategy::new(p).map(Self::BollingerReversion)
            }
            StrategyKind::MacdTrend(p) => MacdTrendStrategy::new(p).map(Self::MacdTrend),
            StrategyKind::Llm(p) => LlmMember::new(p, timeframe).map(|m| Self::Llm(Box::new(m))),
            StrategyKind::Committee(_) => return None,
        })
    }

    /// A model member is named after its committee seat (or its Strategy).
    pub(crate) fn set_name(&mut self, name: &str) {
        if let SingleStrategy::Llm(m) = self {
            m.set_name(name);
        }
    }

    pub(crate) fn set_llm_backend(&mut self, backend: &LlmBackend) {
        if let SingleStrategy::Llm(m) = self {
            m.set_backend(backend.clone());
        }
    }

    /// A model votes afresh each candle (its hold or abstention is no vote);
    /// indicator kinds keep their last signal as a standing vote.
    pub(crate) fn votes_per_candle(&self) -> bool {
        matches!(self, SingleStrategy::Llm(_))
    }

    pub(crate) fn observe_context(&mut self, context: &DecisionContext) {
        if let SingleStrategy::Llm(m) = self {
            m.observe(context);
        }
    }

    /// History only (no prompt for a model).
    pub(crate) fn warm_on(&mut self, candle: &Candle) {
        match self {
            SingleStrategy::Llm(m) => m.warm(candle),
            other => {
                let _ = other.evaluate(candle);
            }
        }
    }

    fn as_dyn(&self) -> &dyn Strategy {
        match self {
            SingleStrategy::SmaCrossover(s) => s,
            SingleStrategy::RsiReversion(s) => s,
            SingleStrategy::BollingerReversion(s) => s,
            SingleStrategy::MacdTrend(s) => s,
            SingleStrategy::Llm(_) => unreachable!("handled by the callers"),
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
            SingleStrategy::Llm(s) => s.step(candle),
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
        match self {
            SingleStrategy::Llm(m) => m.warmup_needed(),
            other => other.as_dyn().warmup_candles(),
        }
    }

    fn name(&self) -> &str {
        match self {
            SingleStrategy::Llm(_) => "llm",
            other => other.as_dyn().name(),
        }
    }

    fn observe(&mut self, context: &DecisionContext) {
        self.observe_context(context);
    }

    fn warm(&mut self, candle: &Candle) {
        self.warm_on(candle);
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

    fn observe(&mut self, context: &DecisionContext) {
        match self {
            AnyStrategy::Single(s) => s.observe(context),
            AnyStrategy::Committee(c) => c.observe(context),
        }
    }

    fn warm(&mut self, candle: &Candle) {
        match self {
            AnyStrategy::Single(s) => s.warm(candle),
            AnyStrategy::Committee(c) => c.warm(candle),
        }
    }
}

impl AnyStrategy {
    pub(crate) fn has_llm(&self) -> bool {
        match self {
            AnyStrategy::Single(s) => s.votes_per_candle(),
            AnyStrategy::Committee(c) => c.has_llm(),
        }
    }

    /// Connects every model member to `backend`.
    pub(crate) fn set_llm_backend(&mut self, backend: &LlmBackend) {
        match self {
            AnyStrategy::Single(s) => s.set_llm_backend(backend),
            AnyStrategy::Committee(c) => c.set_llm_backend(backend),
        }
    }
}

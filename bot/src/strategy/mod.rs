//! Strategies: turn each closed candle of one symbol into [`Advice`] —
//! [`Signal::Buy`], [`Signal::Sell`] or [`Signal::Hold`] — with the
//! [`Reason`] the audit log records (indicator, its values, the threshold).
//!
//! Spot, long-only: `Buy` means "be long" (enter, or keep a long), `Sell`
//! means "be flat" (exit a long; nothing to do when flat), `Hold` means no
//! new opinion. There is no short selling. The risk engine decides whether
//! and how much to act on a signal.
//!
//! # How a Strategy resource becomes a running strategy
//! [`StrategyBlueprint::resolve`] validates the spec (the same rules as the
//! CRD, paths like `Strategy/x: spec.smaCrossover.fast`), resolves committee
//! `strategyRef`s through a lookup the caller gives, and keeps a fresh
//! prototype; [`StrategyBlueprint::build`] then makes one independent
//! instance per symbol. [`build_strategy`] does both in one call.
//!
//! ```
//! use botfleet_bot::strategy::{StrategyBlueprint, Signal};
//! use botfleet_crds::{SmaCrossover, StrategySpec};
//! let spec = StrategySpec {
//!     sma_crossover: Some(SmaCrossover { fast: 2, slow: 3 }),
//!     ..Default::default()
//! };
//! let blueprint = StrategyBlueprint::resolve("trend", &spec, &|_| None).unwrap();
//! let mut btc = blueprint.build(); // one per symbol
//! assert_eq!(btc.warmup_candles(), 3);
//! ```
//!
//! # Rules (every kind)
//! Signals are *events*: a strategy says `Buy`/`Sell` on the candle its rule
//! newly becomes true and `Hold` otherwise, so a stop-loss exit is not
//! immediately re-entered and the audit log is not flooded. "Crosses" means
//! a sign change of `a − b` from the last candle where it was non-zero (a
//! touch, `a == b`, followed by a return is no cross; leaving a level the
//! values sat on since the start, as in a flat market, is). The first
//! candle with indicator values only establishes the side, so a strategy
//! started mid-trend waits for the next cross; nothing is signalled during
//! warm-up. `warmup_candles()` is the exact number of candles consumed
//! before the first candle that *can* signal.
//!
//! - **smaCrossover {fast, slow}** — Buy when SMA(fast) crosses above
//!   SMA(slow), Sell when it crosses below. Warm-up: `slow`.
//! - **rsiReversion {period, oversold, overbought}** — RSI (Wilder): Buy when
//!   it falls below `oversold` (crosses down through it), Sell when it rises
//!   above `overbought` (crosses up through it). Warm-up: `period + 1`.
//! - **bollingerReversion {period, stdDevs}** — Buy when the close falls
//!   below the lower band, Sell when it rises above the **upper** band (as the
//!   CRD documents; the middle band would exit earlier with smaller gains).
//!   Warm-up: `period`.
//! - **macdTrend {fast, slow, signal}** — Buy when the MACD line crosses above
//!   its signal line (histogram turns positive), Sell when it crosses below.
//!   Warm-up: `slow + signal − 1` (the first MACD value needs that many).
//! - **llm** — see [`llm`]: a model's vote each candle past its warm-up
//!   (`max(lookbackCandles, 21)`); a hold or abstention is `Hold`.
//! - **committee** — see [`CommitteeStrategy`]: weighted vote of the members'
//!   standing opinions against `minAgreement` (a share of the total weight),
//!   a `vetoBy` member's opposing vote blocks; emits on a change of outcome.
//!
//! Confidence: 1.0 when a single-indicator rule fires, the agreeing weight
//! share for a committee, 0.0 on `Hold`.
//!
//! # Cost
//! The `Hold` path allocates nothing: [`Reason`] for single kinds is a
//! `Copy` enum of numbers, formatted only when displayed; a committee fills
//! its per-member votes only when it signals or a veto blocks.

/// The `Strategy` impl of a single-indicator kind: `step` gives the signal
/// and reason, a `warmup: WarmupCounter` field the warm-up, `$name` the kind
/// as written in the Strategy resource.
macro_rules! single_indicator_strategy {
    ($kind:ty, $name:literal) => {
        impl Strategy for $kind {
            #[inline]
            fn on_candle(&mut self, candle: &Candle) -> Advice {
                let (signal, reason) = self.step(candle);
                Advice::single(signal, reason)
            }

            fn warmup_candles(&self) -> usize {
                self.warmup.needed()
            }

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

mod any;
mod build;
mod committee;
mod context;
pub mod llm;
mod reason;
mod reversion;
mod trend;

pub use any::{AnyStrategy, SingleStrategy};
pub use build::{StrategyBlueprint, StrategyError, StrategyLookup, build_strategy};
pub use committee::CommitteeStrategy;
pub use context::DecisionContext;
pub use reason::{CommitteeReason, IndicatorReason, MemberVote, Reason, Trigger, Vote};
pub use reversion::{BollingerReversionStrategy, RsiReversionStrategy};
pub use trend::{MacdTrendStrategy, SharedSma, SmaCrossoverStrategy};

use serde::{Deserialize, Serialize};

use crate::domain::Candle;

/// A trading strategy for one symbol, fed closed candles in time order.
/// The engine builds one instance per symbol ([`StrategyBlueprint::build`]).
pub trait Strategy: Send {
    /// Feeds the next closed candle and says what to do about it.
    fn on_candle(&mut self, candle: &Candle) -> Advice;

    /// Candles consumed before the first one that can produce a signal;
    /// the engine preloads this much history before trading live.
    fn warmup_candles(&self) -> usize;

    /// The kind, as written in the Strategy resource (`smaCrossover`, `committee`, ...).
    fn name(&self) -> &str;

    /// The bot's position and limits before the next candle (a model is shown them).
    fn observe(&mut self, _context: &DecisionContext) {}

    /// Feeds history (warm-up, restore): indicators advance, no signal is
    /// acted on and a model is not asked.
    fn warm(&mut self, candle: &Candle) {
        let _ = self.on_candle(candle);
    }
}

/// What the strategy wants, spot and long-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Be long: enter, or keep an open long.
    Buy,
    /// Be flat: exit a long (nothing to do when already flat).
    Sell,
    /// No new opinion.
    Hold,
}

impl Signal {
    /// `buy`, `sell` or `hold`, as stored in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Buy => "buy",
            Signal::Sell => "sell",
            Signal::Hold => "hold",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the strategy advises on one candle: the signal, how strongly it is
/// backed (0..=1) and why. The risk engine decides what is done about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    pub signal: Signal,
    /// 1.0 when a single-indicator rule fires, the agreeing weight share for
    /// a committee, 0.0 on `Hold`.
    pub confidence: f64,
    pub reason: Reason,
}

impl Advice {
    /// Advice from a single-indicator rule (binary confidence).
    #[inline]
    pub(crate) fn single(signal: Signal, reason: IndicatorReason) -> Self {
        Self {
            signal,
            confidence: if signal == Signal::Hold { 0.0 } else { 1.0 },
            reason: Reason::Indicator(reason),
        }
    }
}

#[cfg(test)]
mod tests;

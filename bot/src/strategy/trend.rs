//! Trend-following kinds: SMA crossover and MACD, both "line A crosses line B".

use botfleet_crds::{MacdTrend, SmaCrossover, StrategySpec};

use super::build::{check_single, indicator_error};
use super::{Advice, Candle, IndicatorReason, Signal, Strategy, StrategyError, Trigger};
use crate::indicators::{Indicator, Macd, Sma, price_to_f64};

/// Reports sign changes of a difference `a − b` between candles. It
/// remembers the side of the last non-zero difference, so a touch
/// (`a == b`) and return is not a cross, while below → equal → above is one
/// (reported on the "above" candle). The first difference only establishes
/// the side, except that leaving a level the values started on (a flat
/// market, `a == b` from the first reading) is a cross.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CrossTracker {
    #[default]
    Unknown,
    /// Only equal readings so far.
    At,
    Below,
    Above,
}

impl CrossTracker {
    #[inline]
    pub(crate) fn update(&mut self, diff: f64) -> Trigger {
        use CrossTracker::*;
        let now = if diff > 0.0 {
            Above
        } else if diff < 0.0 {
            Below
        } else if diff == 0.0 {
            At
        } else {
            return Trigger::None; // NaN: no information
        };
        let (next, trigger) = match (*self, now) {
            (Unknown, At) => (At, Trigger::None),
            (side, At) => (side, Trigger::None), // a touch keeps the side
            (Below | At, Above) => (Above, Trigger::CrossedAbove),
            (Above | At, Below) => (Below, Trigger::CrossedBelow),
            (_, side) => (side, Trigger::None),
        };
        *self = next;
        trigger
    }
}

/// Counts candles while indicators warm up, for the `Warmup` reason.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WarmupCounter {
    seen: u32,
    needed: u32,
}

impl WarmupCounter {
    pub(crate) fn new(needed: usize) -> Self {
        Self {
            seen: 0,
            needed: u32::try_from(needed).unwrap_or(u32::MAX),
        }
    }

    #[inline]
    pub(crate) fn tick(&mut self) {
        self.seen = self.seen.saturating_add(1);
    }

    #[inline]
    pub(crate) fn hold(&self) -> (Signal, IndicatorReason) {
        (
            Signal::Hold,
            IndicatorReason::Warmup {
                seen: self.seen,
                needed: self.needed,
            },
        )
    }

    pub(crate) fn seen(&self) -> usize {
        self.seen as usize
    }

    pub(crate) fn needed(&self) -> usize {
        self.needed as usize
    }
}

/// Signal of a line crossing: above → Buy, below → Sell.
#[inline]
fn crossing_signal(trigger: Trigger) -> Signal {
    match trigger {
        Trigger::CrossedAbove => Signal::Buy,
        Trigger::CrossedBelow => Signal::Sell,
        Trigger::None => Signal::Hold,
    }
}

/// `smaCrossover {fast, slow}`: Buy on the candle SMA(fast) crosses above
/// SMA(slow), Sell on the candle it crosses below, Hold otherwise. Warm-up:
/// `slow` candles (the first candle with both averages only sets the side).
#[derive(Clone, Debug)]
pub struct SmaCrossoverStrategy {
    fast: Sma,
    slow: Sma,
    periods: (u32, u32),
    cross: CrossTracker,
    warmup: WarmupCounter,
}

impl SmaCrossoverStrategy {
    /// Checks the parameters as the CRD does (`fast` < `slow`, both ≥ 1).
    pub fn new(params: &SmaCrossover) -> Result<Self, StrategyError> {
        check_single(StrategySpec {
            sma_crossover: Some(params.clone()),
            ..Default::default()
        })?;
        let err = |e| indicator_error("smaCrossover", e);
        Ok(Self {
            fast: Sma::new(params.fast as usize).map_err(err)?,
            slow: Sma::new(params.slow as usize).map_err(err)?,
            periods: (params.fast, params.slow),
            cross: CrossTracker::default(),
            warmup: WarmupCounter::new(params.slow as usize),
        })
    }

    /// The signal and its reason for the next candle.
    #[inline]
    pub(crate) fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let close = price_to_f64(candle.close);
        let fast = self.fast.update(close);
        let (Some(slow), Some(fast)) = (self.slow.update(close), fast) else {
            self.warmup.tick();
            return self.warmup.hold();
        };
        let trigger = self.cross.update(fast - slow);
        (
            crossing_signal(trigger),
            IndicatorReason::SmaCrossover {
                fast: self.periods.0,
                slow: self.periods.1,
                sma_fast: fast,
                sma_slow: slow,
                trigger,
            },
        )
    }
}

single_indicator_strategy!(SmaCrossoverStrategy, "smaCrossover");

/// `macdTrend {fast, slow, signal}`: Buy on the candle the MACD line
/// (EMA(fast) − EMA(slow)) crosses above its signal line (EMA(signal) of the
/// MACD line), i.e. the histogram turns positive; Sell when it crosses
/// below. Warm-up: `slow + signal − 1` candles (the first MACD reading).
#[derive(Clone, Debug)]
pub struct MacdTrendStrategy {
    macd: Macd,
    periods: (u32, u32, u32),
    cross: CrossTracker,
    warmup: WarmupCounter,
}

impl MacdTrendStrategy {
    /// Checks the parameters as the CRD does (`fast` < `slow`, all ≥ 1).
    pub fn new(params: &MacdTrend) -> Result<Self, StrategyError> {
        check_single(StrategySpec {
            macd_trend: Some(params.clone()),
            ..Default::default()
        })?;
        let macd = Macd::new(
            params.fast as usize,
            params.slow as usize,
            params.signal as usize,
        )
        .map_err(|e| indicator_error("macdTrend", e))?;
        Ok(Self {
            warmup: WarmupCounter::new(macd.warmup_period()),
            macd,
            periods: (params.fast, params.slow, params.signal),
            cross: CrossTracker::default(),
        })
    }

    /// The signal and its reason for the next candle.
    #[inline]
    pub(crate) fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let Some(v) = self.macd.update(price_to_f64(candle.close)) else {
            self.warmup.tick();
            return self.warmup.hold();
        };
        let trigger = self.cross.update(v.histogram);
        (
            crossing_signal(trigger),
            IndicatorReason::MacdTrend {
                fast: self.periods.0,
                slow: self.periods.1,
                signal: self.periods.2,
                macd: v.macd,
                signal_line: v.signal,
                histogram: v.histogram,
                trigger,
            },
        )
    }
}

single_indicator_strategy!(MacdTrendStrategy, "macdTrend");

//! Trend-following kinds: SMA crossover and MACD, both "line A crosses line B".

use std::sync::Arc;

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

/// An SMA of a whole candle series computed once, read by position: the
/// parameter sets of a sweep that use the same period share one (see
/// [`SmaCrossoverStrategy::over_shared`]). The values are those [`Sma`]
/// gives fed the same closes, bit for bit (it is computed by one).
#[derive(Clone, Debug)]
pub struct SharedSma {
    /// `NaN` while warming up (an SMA of finite prices is never `NaN`).
    values: Arc<[f64]>,
}

impl SharedSma {
    /// The SMA(`period`) of `closes` (as [`price_to_f64`] gives them).
    pub fn compute(period: u32, closes: &[f64]) -> Result<Self, StrategyError> {
        let mut sma = Sma::new(period as usize).map_err(|e| indicator_error("smaCrossover", e))?;
        let values = closes
            .iter()
            .map(|c| sma.update(*c).unwrap_or(f64::NAN))
            .collect();
        Ok(Self { values })
    }

    /// The value after the candle at `index`.
    #[inline]
    fn at(&self, index: usize) -> Option<f64> {
        let v = *self
            .values
            .get(index)
            .expect("a shared SMA is fed only the candles it was computed from");
        (!v.is_nan()).then_some(v)
    }
}

/// Where the averages come from.
#[derive(Clone, Debug)]
enum SmaSource {
    /// Computed here, candle by candle.
    Live { fast: Sma, slow: Sma },
    /// Read from series computed once; `next` is the candle's position.
    Shared {
        fast: SharedSma,
        slow: SharedSma,
        next: usize,
    },
}

/// `smaCrossover {fast, slow}`: Buy on the candle SMA(fast) crosses above
/// SMA(slow), Sell on the candle it crosses below, Hold otherwise. Warm-up:
/// `slow` candles (the first candle with both averages only sets the side).
#[derive(Clone, Debug)]
pub struct SmaCrossoverStrategy {
    source: SmaSource,
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
            source: SmaSource::Live {
                fast: Sma::new(params.fast as usize).map_err(err)?,
                slow: Sma::new(params.slow as usize).map_err(err)?,
            },
            periods: (params.fast, params.slow),
            cross: CrossTracker::default(),
            warmup: WarmupCounter::new(params.slow as usize),
        })
    }

    /// The same strategy reading its averages from series computed once
    /// over the candles it will be fed, from the first: `fast` and `slow`
    /// must be [`SharedSma::compute`]d with `params.fast` and `params.slow`.
    /// Signals are identical to [`Self::new`]'s on those candles.
    pub fn over_shared(
        params: &SmaCrossover,
        fast: SharedSma,
        slow: SharedSma,
    ) -> Result<Self, StrategyError> {
        let mut s = Self::new(params)?;
        s.source = SmaSource::Shared {
            fast,
            slow,
            next: 0,
        };
        Ok(s)
    }

    /// The signal and its reason for the next candle.
    #[inline]
    pub(crate) fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let (fast, slow) = match &mut self.source {
            SmaSource::Live { fast, slow } => {
                let close = price_to_f64(candle.close);
                (fast.update(close), slow.update(close))
            }
            SmaSource::Shared { fast, slow, next } => {
                let i = *next;
                *next += 1;
                (fast.at(i), slow.at(i))
            }
        };
        let (Some(slow), Some(fast)) = (slow, fast) else {
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

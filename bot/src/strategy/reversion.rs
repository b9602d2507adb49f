//! Mean-reversion kinds: RSI and Bollinger bands, "a value leaves its normal range".

use botfleet_crds::{BollingerReversion, RsiReversion, StrategySpec};

use super::build::{check_single, indicator_error};
use super::trend::{CrossTracker, WarmupCounter};
use super::{Advice, Candle, IndicatorReason, Signal, Strategy, StrategyError, Trigger};
use crate::indicators::{Bollinger, Indicator, Rsi, price_to_f64};

/// Buy when the value crossed below its lower threshold, Sell when it
/// crossed above its upper one (they cannot both happen on one candle: the
/// lower threshold is below the upper).
#[inline]
fn reversion_signal(below_lower: Trigger, above_upper: Trigger) -> (Signal, Trigger) {
    match (below_lower, above_upper) {
        (Trigger::CrossedBelow, _) => (Signal::Buy, Trigger::CrossedBelow),
        (_, Trigger::CrossedAbove) => (Signal::Sell, Trigger::CrossedAbove),
        _ => (Signal::Hold, Trigger::None),
    }
}

/// `rsiReversion {period, oversold, overbought}`: Buy on the candle RSI
/// (Wilder) falls below `oversold` (it was at or above it before), Sell on
/// the candle it rises above `overbought`. Staying oversold does not repeat
/// the Buy. Warm-up: `period + 1` candles (the first RSI value only sets the
/// side; an RSI that starts oversold has not *fallen* below it).
#[derive(Clone, Debug)]
pub struct RsiReversionStrategy {
    rsi: Rsi,
    period: u32,
    oversold: f64,
    overbought: f64,
    lower: CrossTracker,
    upper: CrossTracker,
    warmup: WarmupCounter,
}

impl RsiReversionStrategy {
    /// Checks the parameters as the CRD does (levels in 0..=100, oversold < overbought).
    pub fn new(params: &RsiReversion) -> Result<Self, StrategyError> {
        check_single(StrategySpec {
            rsi_reversion: Some(params.clone()),
            ..Default::default()
        })?;
        let rsi =
            Rsi::new(params.period as usize).map_err(|e| indicator_error("rsiReversion", e))?;
        Ok(Self {
            warmup: WarmupCounter::new(rsi.warmup_period()),
            rsi,
            period: params.period,
            oversold: params.oversold,
            overbought: params.overbought,
            lower: CrossTracker::default(),
            upper: CrossTracker::default(),
        })
    }

    /// The signal and its reason for the next candle.
    #[inline]
    pub(crate) fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let Some(rsi) = self.rsi.update(price_to_f64(candle.close)) else {
            self.warmup.tick();
            return self.warmup.hold();
        };
        let (signal, trigger) = reversion_signal(
            self.lower.update(rsi - self.oversold),
            self.upper.update(rsi - self.overbought),
        );
        (
            signal,
            IndicatorReason::RsiReversion {
                period: self.period,
                rsi,
                oversold: self.oversold,
                overbought: self.overbought,
                trigger,
            },
        )
    }
}

single_indicator_strategy!(RsiReversionStrategy, "rsiReversion");

/// `bollingerReversion {period, stdDevs}`: Buy on the candle the close
/// falls below the lower band (SMA − k·σ, population σ), Sell on the candle
/// it rises above the **upper** band (SMA + k·σ), as the CRD documents.
/// Each band is compared with the close of the same candle, whose own
/// window includes it, so a close is at most √(period − 1) σ from the
/// middle: bands that could never be crossed (`stdDevs² ≥ period − 1`) are
/// refused. Warm-up: `period` candles.
#[derive(Clone, Debug)]
pub struct BollingerReversionStrategy {
    bands: Bollinger,
    period: u32,
    lower: CrossTracker,
    upper: CrossTracker,
    warmup: WarmupCounter,
}

impl BollingerReversionStrategy {
    /// Checks the parameters as the CRD does (period ≥ 2, 0 < stdDevs ≤ 10),
    /// and that the bands are reachable at all.
    pub fn new(params: &BollingerReversion) -> Result<Self, StrategyError> {
        check_single(StrategySpec {
            bollinger_reversion: Some(params.clone()),
            ..Default::default()
        })?;
        let k = params.std_devs;
        if k * k >= f64::from(params.period) - 1.0 {
            return Err(StrategyError::invalid(
                "spec.bollingerReversion.period",
                format!(
                    "with stdDevs {k} a close never leaves the bands unless period is above {}; \
                     a close is at most sqrt(period - 1) standard deviations from the mean of a \
                     window that includes it (period 20 with stdDevs 2 is usual)",
                    (k * k + 1.0).floor()
                ),
            ));
        }
        let bands = Bollinger::new(params.period as usize, params.std_devs)
            .map_err(|e| indicator_error("bollingerReversion", e))?;
        Ok(Self {
            warmup: WarmupCounter::new(bands.warmup_period()),
            bands,
            period: params.period,
            lower: CrossTracker::default(),
            upper: CrossTracker::default(),
        })
    }

    /// The signal and its reason for the next candle.
    #[inline]
    pub(crate) fn step(&mut self, candle: &Candle) -> (Signal, IndicatorReason) {
        let close = price_to_f64(candle.close);
        let Some(b) = self.bands.update(close) else {
            self.warmup.tick();
            return self.warmup.hold();
        };
        let (signal, trigger) = reversion_signal(
            self.lower.update(close - b.lower),
            self.upper.update(close - b.upper),
        );
        (
            signal,
            IndicatorReason::BollingerReversion {
                period: self.period,
                std_devs: self.bands.std_devs(),
                close,
                lower: b.lower,
                middle: b.middle,
                upper: b.upper,
                trigger,
            },
        )
    }
}

single_indicator_strategy!(BollingerReversionStrategy, "bollingerReversion");

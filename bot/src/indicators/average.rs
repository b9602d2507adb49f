//! Simple and exponential moving averages.

use super::window::{RollingWindow, Smoother};
use super::{Indicator, IndicatorError, check_period};

/// Simple moving average of the last `period` values: ring buffer plus a
/// running sum, O(1) per value (sum re-derived once per window, see
/// `RollingWindow`). First value after `period` inputs.
#[derive(Clone, Debug)]
pub struct Sma {
    window: RollingWindow,
}

impl Sma {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("sma", "period", period)?;
        Ok(Self {
            window: RollingWindow::new(period, false),
        })
    }

    pub fn period(&self) -> usize {
        self.window.period()
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, value: f64) -> Option<f64> {
        self.window.push(value);
        self.value()
    }

    fn value(&self) -> Option<f64> {
        self.window.is_full().then(|| self.window.mean())
    }

    fn warmup_period(&self) -> usize {
        self.period()
    }

    fn reset(&mut self) {
        self.window.reset();
    }
}

/// Exponential moving average, `alpha = 2/(period+1)`, seeded with the SMA of
/// the first `period` values (as TA-Lib and TradingView do), so its first
/// value comes after `period` inputs and does not depend on a start guess.
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    smoother: Smoother,
}

impl Ema {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ema", "period", period)?;
        Ok(Self {
            smoother: Smoother::ema(period),
        })
    }

    pub fn period(&self) -> usize {
        self.smoother.period()
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, value: f64) -> Option<f64> {
        self.smoother.update(value)
    }

    fn value(&self) -> Option<f64> {
        self.smoother.value()
    }

    fn warmup_period(&self) -> usize {
        self.period()
    }

    fn reset(&mut self) {
        self.smoother.reset();
    }
}

//! Relative Strength Index with Wilder's smoothing.

use super::window::Smoother;
use super::{Indicator, IndicatorError, check_period};

/// RSI(n), 0..=100. Changes between consecutive closes are split into gains
/// and losses; their averages start as the simple mean of the first `n`
/// changes and continue with Wilder's smoothing `avg = (avg×(n−1) + x)/n`.
/// `RSI = 100 − 100/(1 + avg_gain/avg_loss)`; with no losses it is 100, and
/// with no movement at all 50 (neutral, so a flat market triggers nothing).
/// First value after `n + 1` closes.
#[derive(Clone, Copy, Debug)]
pub struct Rsi {
    gain: Smoother,
    loss: Smoother,
    prev: Option<f64>,
}

impl Rsi {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("rsi", "period", period)?;
        Ok(Self {
            gain: Smoother::wilder(period),
            loss: Smoother::wilder(period),
            prev: None,
        })
    }

    pub fn period(&self) -> usize {
        self.gain.period()
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, close: f64) -> Option<f64> {
        if let Some(prev) = self.prev.replace(close) {
            let change = close - prev;
            self.gain.update(change.max(0.0));
            self.loss.update((-change).max(0.0));
        }
        self.value()
    }

    fn value(&self) -> Option<f64> {
        let (gain, loss) = (self.gain.value()?, self.loss.value()?);
        Some(if loss == 0.0 {
            if gain == 0.0 { 50.0 } else { 100.0 }
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        })
    }

    fn warmup_period(&self) -> usize {
        self.period() + 1
    }

    fn reset(&mut self) {
        self.gain.reset();
        self.loss.reset();
        self.prev = None;
    }
}

//! Moving Average Convergence/Divergence.

use super::window::Smoother;
use super::{Indicator, IndicatorError, check_period};

/// One MACD reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MacdValue {
    /// EMA(fast) − EMA(slow).
    pub macd: f64,
    /// EMA(signal) of the MACD line.
    pub signal: f64,
    /// `macd − signal`; its sign change is the classic crossover.
    pub histogram: f64,
}

/// MACD(fast, slow, signal), classically (12, 26, 9), as TA-Lib computes it:
/// the slow EMA is seeded with the SMA of the first `slow` closes and the fast
/// EMA with the SMA of the last `fast` of those, so both start on the same
/// close (an EMA started earlier would differ for ~100 candles). The MACD line
/// then feeds the signal EMA, so the first value comes after
/// `slow + signal − 1` closes.
#[derive(Clone, Copy, Debug)]
pub struct Macd {
    fast: Smoother,
    slow: Smoother,
    signal: Smoother,
    /// Closes still to skip before the fast EMA starts (`slow − fast` at first).
    fast_delay: usize,
    value: Option<MacdValue>,
}

impl Macd {
    /// `fast` must be shorter than `slow`: the line measures the fast average
    /// pulling away from the slow one.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("macd", "fast", fast)?;
        check_period("macd", "slow", slow)?;
        check_period("macd", "signal", signal)?;
        if fast >= slow {
            return Err(IndicatorError {
                indicator: "macd",
                field: "fast",
                problem: format!("{fast} must be less than slow ({slow})"),
            });
        }
        Ok(Self {
            fast: Smoother::ema(fast),
            slow: Smoother::ema(slow),
            signal: Smoother::ema(signal),
            fast_delay: slow - fast,
            value: None,
        })
    }

    /// (fast, slow, signal)
    pub fn periods(&self) -> (usize, usize, usize) {
        (self.fast.period(), self.slow.period(), self.signal.period())
    }
}

impl Indicator for Macd {
    type Input = f64;
    type Output = MacdValue;

    #[inline]
    fn update(&mut self, close: f64) -> Option<MacdValue> {
        let slow = self.slow.update(close);
        if self.fast_delay > 0 {
            self.fast_delay -= 1;
            return self.value;
        }
        let fast = self.fast.update(close);
        if let (Some(fast), Some(slow)) = (fast, slow) {
            let macd = fast - slow;
            if let Some(signal) = self.signal.update(macd) {
                self.value = Some(MacdValue {
                    macd,
                    signal,
                    histogram: macd - signal,
                });
            }
        }
        self.value
    }

    fn value(&self) -> Option<MacdValue> {
        self.value
    }

    fn warmup_period(&self) -> usize {
        self.slow.period() + self.signal.period() - 1
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.fast_delay = self.slow.period() - self.fast.period();
        self.value = None;
    }
}

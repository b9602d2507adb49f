//! Bollinger bands.

use super::window::RollingWindow;
use super::{Indicator, IndicatorError, check_period};

/// One Bollinger reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BollingerValue {
    /// SMA(period).
    pub middle: f64,
    /// `middle + k × stdev`.
    pub upper: f64,
    /// `middle − k × stdev`.
    pub lower: f64,
    /// Population standard deviation of the window.
    pub stdev: f64,
    /// `(close − lower)/(upper − lower)`: 0 at the lower band, 1 at the upper,
    /// outside 0..1 beyond them; 0.5 when the bands collapse (a flat window).
    pub percent_b: f64,
}

/// Bollinger bands (period, k), classically (20, 2). The deviation is the
/// **population** standard deviation (divides by `period`, as Bollinger and
/// TradingView define it; the sample form would widen the bands by
/// `sqrt(n/(n−1))`, 2.6 % at n = 20). O(1) per close: ring buffer with running
/// mean and sliding Welford variance, re-derived exactly once per window (see
/// `RollingWindow`). First value after `period` closes.
#[derive(Clone, Debug)]
pub struct Bollinger {
    window: RollingWindow,
    k: f64,
    value: Option<BollingerValue>,
}

impl Bollinger {
    /// `std_devs` is k, the band width in standard deviations (> 0).
    pub fn new(period: usize, std_devs: f64) -> Result<Self, IndicatorError> {
        check_period("bollinger", "period", period)?;
        if !(std_devs.is_finite() && std_devs > 0.0) {
            return Err(IndicatorError {
                indicator: "bollinger",
                field: "stdDevs",
                problem: format!("{std_devs} must be a number greater than 0 (2 is usual)"),
            });
        }
        Ok(Self {
            window: RollingWindow::new(period, true),
            k: std_devs,
            value: None,
        })
    }

    pub fn period(&self) -> usize {
        self.window.period()
    }

    pub fn std_devs(&self) -> f64 {
        self.k
    }
}

impl Indicator for Bollinger {
    type Input = f64;
    type Output = BollingerValue;

    #[inline]
    fn update(&mut self, close: f64) -> Option<BollingerValue> {
        self.window.push(close);
        if self.window.is_full() {
            let middle = self.window.mean();
            let stdev = self.window.population_variance().sqrt();
            let (upper, lower) = (middle + self.k * stdev, middle - self.k * stdev);
            let percent_b = if upper > lower {
                (close - lower) / (upper - lower)
            } else {
                0.5
            };
            self.value = Some(BollingerValue {
                middle,
                upper,
                lower,
                stdev,
                percent_b,
            });
        }
        self.value
    }

    fn value(&self) -> Option<BollingerValue> {
        self.value
    }

    fn warmup_period(&self) -> usize {
        self.period()
    }

    fn reset(&mut self) {
        self.window.reset();
        self.value = None;
    }
}

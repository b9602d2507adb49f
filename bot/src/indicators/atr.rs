//! Average True Range with Wilder's smoothing.

use super::window::Smoother;
use super::{Indicator, IndicatorError, check_period, price_to_f64};
use crate::domain::Candle;

/// High, low and close of one candle, as `f64`, the input of [`Atr`]
/// (`Hlc::from(&candle)` converts with [`price_to_f64`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hlc {
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl From<&Candle> for Hlc {
    fn from(c: &Candle) -> Self {
        Self {
            high: price_to_f64(c.high),
            low: price_to_f64(c.low),
            close: price_to_f64(c.close),
        }
    }
}

impl From<Candle> for Hlc {
    fn from(c: Candle) -> Self {
        Self::from(&c)
    }
}

/// ATR(n): true range `max(high − low, |high − prev close|, |low − prev close|)`
/// averaged by Wilder's smoothing seeded with the mean of the first `n` true
/// ranges, as TA-Lib computes it: the first candle has no previous close, so
/// it only provides one and the true ranges start at the second candle. First
/// value after `n + 1` candles.
#[derive(Clone, Copy, Debug)]
pub struct Atr {
    smoother: Smoother,
    prev_close: Option<f64>,
}

impl Atr {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("atr", "period", period)?;
        Ok(Self {
            smoother: Smoother::wilder(period),
            prev_close: None,
        })
    }

    pub fn period(&self) -> usize {
        self.smoother.period()
    }
}

/// True range of a candle given the previous close.
pub fn true_range(hlc: Hlc, prev_close: Option<f64>) -> f64 {
    let range = hlc.high - hlc.low;
    match prev_close {
        Some(pc) => range.max((hlc.high - pc).abs()).max((hlc.low - pc).abs()),
        None => range,
    }
}

impl Indicator for Atr {
    type Input = Hlc;
    type Output = f64;

    #[inline]
    fn update(&mut self, hlc: Hlc) -> Option<f64> {
        match self.prev_close.replace(hlc.close) {
            Some(prev) => self.smoother.update(true_range(hlc, Some(prev))),
            None => None,
        }
    }

    fn value(&self) -> Option<f64> {
        self.smoother.value()
    }

    fn warmup_period(&self) -> usize {
        self.period() + 1
    }

    fn reset(&mut self) {
        self.smoother.reset();
        self.prev_close = None;
    }
}

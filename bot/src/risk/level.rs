//! Exact comparisons at float speed.
//!
//! A tick compares prices and equity with levels such as `entry × 0.97` or
//! `peak × 0.8`. Decimal multiplication and comparison across scales cost
//! tens of nanoseconds each, and a backtest has about 50 ns per candle. So a
//! [`Level`] keeps a float view of itself and decides by floats when the two
//! sides are clearly apart (further than 1e-9 relative, while the float
//! views are within ~1e-15 of the exact values); only a value that close to
//! the level is compared exactly, with the exact level computed then. The
//! answer is always the exact one.

use rust_decimal::Decimal;
use std::cmp::Ordering;

pub(super) use crate::domain::cmp_approx;
pub(super) use crate::domain::float_view as approx;
use crate::domain::{Candle, cmp_exact};

/// A multiplier with its float view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Factor {
    pub d: Decimal,
    pub f: f64,
}

impl Factor {
    pub const ONE: Self = Self {
        d: Decimal::ONE,
        f: 1.0,
    };

    /// `1 + sign × pct/100`: `Factor::pct(3, false)` is 0.97.
    pub fn pct(pct: Decimal, up: bool) -> Self {
        let r = pct / Decimal::ONE_HUNDRED;
        let d = if up {
            Decimal::ONE + r
        } else {
            Decimal::ONE - r
        };
        Self { d, f: approx(d) }
    }
}

/// `base × factor`, exact on demand.
#[derive(Clone, Copy, Debug)]
pub(super) struct Level {
    base: Decimal,
    factor: Factor,
    approx: f64,
}

impl Level {
    /// `base × factor`; `base_f` is `base`'s float view.
    #[inline]
    pub fn new(base: Decimal, base_f: f64, factor: Factor) -> Self {
        Self {
            base,
            factor,
            approx: base_f * factor.f,
        }
    }

    /// A level that is `value` itself.
    pub fn fixed(value: Decimal) -> Self {
        Self::new(value, approx(value), Factor::ONE)
    }

    /// The exact level (a multiplication: for messages and close calls).
    pub fn exact(&self) -> Decimal {
        self.base * self.factor.d
    }

    /// Exact `x.cmp(level)`; `xf` is `x`'s float view. Use `.is_le()` etc.
    #[inline]
    pub fn cmp(&self, x: Decimal, xf: f64) -> Ordering {
        let tol = self.approx.abs() * 1e-9;
        if xf < self.approx - tol {
            Ordering::Less
        } else if xf > self.approx + tol {
            Ordering::Greater
        } else {
            cmp_exact(x, self.exact())
        }
    }
}

/// Float views of a candle's prices, computed once per candle read.
#[derive(Clone, Copy, Debug)]
pub(super) struct CandleF {
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl CandleF {
    pub fn new(c: &Candle) -> Self {
        Self {
            high: approx(c.high.value()),
            low: approx(c.low.value()),
            close: approx(c.close.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn levels_compare_exactly_at_and_next_to_the_boundary() {
        let stop = Level::new(d("100"), 100.0, Factor::pct(d("3"), false));
        let at = |x: &str| stop.cmp(d(x), approx(d(x)));
        assert_eq!(at("97"), Ordering::Equal);
        assert_eq!(at("97.000000000000000001"), Ordering::Greater);
        assert_eq!(at("96.999999999999999999"), Ordering::Less);
        assert_eq!(at("50"), Ordering::Less);
        assert_eq!(at("150"), Ordering::Greater);
        assert_eq!(stop.exact(), d("97"));
        let zero = Level::fixed(Decimal::ZERO);
        assert_eq!(zero.cmp(Decimal::ZERO, 0.0), Ordering::Equal);
        assert_eq!(cmp_approx(d("1.1"), 1.1, d("1.10"), 1.1), Ordering::Equal);
    }
}

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

/// Fast float view of a decimal: `mantissa × 10^-scale`, within a few
/// ulp of the exact value. Built from the 32-bit limbs with float
/// arithmetic, because an `i128 → f64` cast is a library call (~10 ns) and
/// the compiler turns an `i64` fast path back into it.
#[inline]
pub(super) fn approx(d: Decimal) -> f64 {
    // Reciprocals: a multiplication instead of a division (one more ulp).
    const INV_POW10: [f64; 29] = [
        1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13,
        1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22, 1e-23, 1e-24, 1e-25, 1e-26,
        1e-27, 1e-28,
    ];
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    let u = d.unpack();
    let low = ((u64::from(u.mid) << 32) | u64::from(u.lo)) as f64;
    let m = if u.hi == 0 {
        low
    } else {
        f64::from(u.hi) * TWO_64 + low
    };
    let v = m * INV_POW10[u.scale as usize];
    if u.negative { -v } else { v }
}

/// Exact `a.cmp(b)`, decided by the float views `af`, `bf` when the values
/// are clearly apart.
#[inline]
pub(super) fn cmp_approx(a: Decimal, af: f64, b: Decimal, bf: f64) -> Ordering {
    let tol = bf.abs() * 1e-9;
    if af < bf - tol {
        Ordering::Less
    } else if af > bf + tol {
        Ordering::Greater
    } else {
        a.cmp(&b)
    }
}

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
            x.cmp(&self.exact())
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
    fn approx_is_close_for_every_shape_of_decimal() {
        for s in [
            "0",
            "97.05",
            "-12.5",
            "0.00000001",
            "123456789012345678901234.5678",
        ] {
            let exact: f64 = s.parse().unwrap();
            let got = approx(d(s));
            assert!((got - exact).abs() <= exact.abs() * 1e-15, "{s}: {got}");
        }
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

//! The float view of an exact decimal, for comparisons decided by floats
//! when the values are clearly apart (`risk::level`) and for statistics
//! (`performance`), and the exact compare for when they are not. Never for
//! money itself.

use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Fast float view of a decimal: `mantissa × 10^-scale`, within a few
/// ulp of the exact value. Built from the 32-bit limbs with float
/// arithmetic, because an `i128 → f64` cast is a library call (~10 ns) and
/// the compiler turns an `i64` fast path back into it.
#[inline]
pub fn float_view(d: Decimal) -> f64 {
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

/// Exact `a.cmp(b)`; two prices of one market share a scale, and then the
/// mantissas decide (an integer compare instead of `rust_decimal`'s
/// rescaling one, which ties in the flash window and at the peak hit often).
#[inline]
pub fn cmp_exact(a: Decimal, b: Decimal) -> Ordering {
    if a.scale() == b.scale() {
        a.mantissa().cmp(&b.mantissa())
    } else {
        a.cmp(&b)
    }
}

/// Exact `a.cmp(b)`, decided by the float views `af`, `bf` when the values
/// are clearly apart (further than 1e-9 relative; the views are within
/// ~1e-15 of the values), by [`cmp_exact`] otherwise.
#[inline]
pub fn cmp_approx(a: Decimal, af: f64, b: Decimal, bf: f64) -> Ordering {
    let tol = bf.abs() * 1e-9;
    if af < bf - tol {
        Ordering::Less
    } else if af > bf + tol {
        Ordering::Greater
    } else {
        cmp_exact(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::{cmp_exact, float_view};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn the_float_view_is_close_for_every_shape_of_decimal() {
        for s in [
            "0",
            "97.05",
            "-12.5",
            "0.00000001",
            "123456789012345678901234.5678",
        ] {
            let exact: f64 = s.parse().unwrap();
            let got = float_view(d(s));
            assert!((got - exact).abs() <= exact.abs() * 1e-15, "{s}: {got}");
        }
    }

    #[test]
    fn the_exact_compare_agrees_with_rust_decimal_at_any_scale_and_sign() {
        let values = [
            "0",
            "-0",
            "0.00",
            "1",
            "1.0",
            "1.00",
            "-1.00",
            "97.05",
            "97.06",
            "-97.05",
            "97.050",
            "123456789012345678901234.5678",
            "-123456789012345678901234.5678",
            "0.0000000001",
        ];
        for a in values {
            for b in values {
                assert_eq!(cmp_exact(d(a), d(b)), d(a).cmp(&d(b)), "{a} vs {b}");
            }
        }
    }
}

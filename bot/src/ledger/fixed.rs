//! Exact money at integer speed for the per-candle mark.
//!
//! Marking a position costs one multiplication (`quantity × close`) and one
//! addition (`cash + value`) per candle. Done on the decimals' integer
//! mantissas in `i128` they are a few instructions instead of
//! `rust_decimal`'s limb arithmetic. The answer is the same value
//! `rust_decimal` gives: a product's mantissa is the product of the
//! mantissas at the sum of the scales, a sum's is the sum at the larger
//! scale, and both are exact while they fit 96 bits and 28 places — the only
//! case this path takes. Anything larger goes to `rust_decimal` (which would
//! round there), so the result never differs.
//!
//! Zeros are the one place the representation may differ, never the value:
//! `rust_decimal` returns the other operand of a sum with a zero as it is,
//! and a zero product at scale 0, where this path gives the larger (or the
//! summed) scale. The mark meets that only with zero cash or a position
//! whose value did not move (an equity printed with more trailing zeros).
//! Leaving zeros to `rust_decimal` here was measured: the engine loop went
//! 7.86 → 7.0 M candles/s (5 paired sets), so it is not done.
//!
//! The cash seldom changes between candles, so the mark keeps its mantissa
//! rescaled to the position value's scale ([`add_rescaled`]); a large cash
//! (past 2^63 as a mantissa) would otherwise take the checked 128-bit path
//! on every candle.
//!
//! Tests can force the decimal path ([`force_decimal`]) to prove the two
//! agree on a whole backtest.

use rust_decimal::Decimal;

/// The largest mantissa a `Decimal` holds (2^96 − 1).
const MAX_MANTISSA: u128 = (1 << 96) - 1;

const POW10: [i128; 29] = {
    let mut t = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

#[cfg(test)]
thread_local! {
    static FORCE_DECIMAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Test only: route every operation here through `rust_decimal` on this
/// thread while `on` (the reference the fast path is compared against).
#[cfg(test)]
pub(crate) fn force_decimal(on: bool) {
    FORCE_DECIMAL.with(|f| f.set(on));
}

#[inline(always)]
fn forced() -> bool {
    #[cfg(test)]
    {
        FORCE_DECIMAL.with(|f| f.get())
    }
    #[cfg(not(test))]
    {
        false
    }
}

/// The decimal of mantissa `m` at `scale`, if it has one (the same value
/// and representation `Decimal::from_i128_with_scale` gives, built in line).
#[inline(always)]
fn build(m: i128, scale: u32) -> Option<Decimal> {
    let u = m.unsigned_abs();
    (u <= MAX_MANTISSA && scale <= Decimal::MAX_SCALE)
        .then(|| Decimal::from_parts(u as u32, (u >> 32) as u32, (u >> 64) as u32, m < 0, scale))
}

/// `a × b`, exact.
#[inline]
pub(crate) fn mul(a: Decimal, b: Decimal) -> Decimal {
    if !forced()
        && let (Ok(x), Ok(y)) = (i64::try_from(a.mantissa()), i64::try_from(b.mantissa()))
        && let Some(d) = build(i128::from(x) * i128::from(y), a.scale() + b.scale())
    {
        return d;
    }
    a * b
}

/// `a + b`, exact.
#[inline]
pub(crate) fn add(a: Decimal, b: Decimal) -> Decimal {
    if !forced() {
        let (sa, sb) = (a.scale(), b.scale());
        let s = sa.max(sb);
        // The usual case: mantissas under 2^63 and a rescale by at most
        // 10^18, where no product or sum can overflow an i128.
        if let (Ok(x), Ok(y)) = (i64::try_from(a.mantissa()), i64::try_from(b.mantissa()))
            && s - sa.min(sb) <= 18
        {
            // Powers up to 10^18 fit an i64: as i64 × i64 each product is one multiply.
            let pow = |k: u32| i128::from(POW10[k as usize] as i64);
            let sum = i128::from(x) * pow(s - sa) + i128::from(y) * pow(s - sb);
            if let Some(d) = build(sum, s) {
                return d;
            }
        }
        let sum = a
            .mantissa()
            .checked_mul(POW10[(s - sa) as usize])
            .zip(b.mantissa().checked_mul(POW10[(s - sb) as usize]))
            .and_then(|(x, y)| x.checked_add(y));
        if let Some(d) = sum.and_then(|m| build(m, s)) {
            return d;
        }
    }
    a + b
}

/// `a`'s mantissa at a larger scale, kept between calls of
/// [`add_rescaled`] (keyed by `a`'s bits and the scale).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rescaled {
    key: u128,
    scale: u32,
    mantissa: i128,
}

/// `a + b`, exact (the same value and representation as [`add`]), for an
/// `a` that seldom changes: the mark adds the same cash to a new position
/// value every candle until a fill moves it, so the cash's rescale is kept
/// in `memo`.
#[inline]
pub(crate) fn add_rescaled(a: Decimal, b: Decimal, memo: &mut Option<Rescaled>) -> Decimal {
    if !forced() {
        let (key, sb) = (u128::from_ne_bytes(a.serialize()), b.scale());
        let m = match *memo {
            Some(m) if m.key == key && m.scale == sb => Some(m.mantissa),
            _ => {
                // Only `a` at the smaller scale: then the sum is at `b`'s.
                let sa = a.scale();
                let m = (sa <= sb)
                    .then(|| a.mantissa().checked_mul(POW10[(sb - sa) as usize]))
                    .flatten();
                *memo = m.map(|mantissa| Rescaled {
                    key,
                    scale: sb,
                    mantissa,
                });
                m
            }
        };
        if let Some(d) = m
            .and_then(|m| m.checked_add(b.mantissa()))
            .and_then(|sum| build(sum, sb))
        {
            return d;
        }
    }
    add(a, b)
}

/// `a − b`, exact.
#[inline]
pub(crate) fn sub(a: Decimal, b: Decimal) -> Decimal {
    add(a, -b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(mantissa: i128, scale: u32) -> Decimal {
        Decimal::from_i128_with_scale(mantissa, scale)
    }

    proptest! {
        /// Every product and sum equals rust_decimal's, from small prices to
        /// mantissas past 64 bits and scales up to 28 (where the fallback
        /// takes over).
        #[test]
        fn agrees_with_rust_decimal(
            ma in prop_oneof![-1_000_000_000i128..1_000_000_000, -(1i128 << 63)..(1i128 << 63), -(1i128 << 95)..(1i128 << 95)],
            sa in 0u32..=28,
            mb in prop_oneof![-1_000_000_000i128..1_000_000_000, -(1i128 << 63)..(1i128 << 63), -(1i128 << 95)..(1i128 << 95)],
            sb in 0u32..=28,
        ) {
            let (a, b) = (dec(ma, sa), dec(mb, sb));
            // The same value in the same representation (scale included).
            prop_assert_eq!(add(a, b).serialize(), (a + b).serialize());
            prop_assert_eq!(sub(a, b).serialize(), (a - b).serialize());
            if let Some(p) = a.checked_mul(b) {
                prop_assert_eq!(mul(a, b).serialize(), p.serialize());
            }
        }

        /// The kept rescale gives rust_decimal's sum too: on first use, on
        /// reuse with another `b`, after `b`'s scale changes and after `a`
        /// changes.
        #[test]
        fn a_kept_rescale_agrees_with_rust_decimal(
            ma in prop_oneof![-1_000_000_000i128..1_000_000_000, -(1i128 << 95)..(1i128 << 95)],
            sa in 0u32..=28,
            bs in proptest::collection::vec(
                (prop_oneof![-1_000_000_000i128..1_000_000_000, -(1i128 << 95)..(1i128 << 95)], 0u32..=28),
                1..6,
            ),
            ma2 in -1_000_000_000i128..1_000_000_000,
        ) {
            let mut memo = None;
            for a in [dec(ma, sa), dec(ma2, sa)] {
                for &(mb, sb) in &bs {
                    let b = dec(mb, sb);
                    prop_assert_eq!(add_rescaled(a, b, &mut memo).serialize(), (a + b).serialize());
                    prop_assert_eq!(add_rescaled(a, b, &mut memo).serialize(), (a + b).serialize());
                }
            }
        }
    }

    /// With a zero operand, or a sum that cancels, the value is
    /// rust_decimal's (the scale may be larger; see the module note).
    #[test]
    fn zeros_and_cancellations_have_rust_decimals_value() {
        let cases = [
            (dec(0, 0), dec(1_005_297_556, 8)),
            (dec(1_005_297_556, 8), dec(0, 0)),
            (dec(0, 2), dec(12_345, 1)),
            (dec(12_345, 1), dec(0, 2)),
            (dec(-12_345, 1), dec(12_345, 1)),
            (dec(12_345, 1), dec(-123_450, 2)),
            (-dec(0, 3), dec(0, 1)),
        ];
        for (a, b) in cases {
            assert_eq!(add(a, b), a + b, "{a} + {b}");
            assert_eq!(sub(a, b), a - b, "{a} - {b}");
            assert_eq!(mul(a, b), a * b, "{a} × {b}");
            assert_eq!(add_rescaled(a, b, &mut None), a + b, "{a} + {b}");
        }
    }

    #[test]
    fn a_sum_past_96_bits_falls_back_to_rust_decimal() {
        let big = dec((1i128 << 96) - 1, 0);
        let tenth = dec(1, 1);
        // Not representable at scale 1: rust_decimal rounds, and so does this.
        assert_eq!(add(big, tenth), big + tenth);
        assert_eq!(mul(dec(3, 20), dec(7, 20)), dec(3, 20) * dec(7, 20));
    }
}

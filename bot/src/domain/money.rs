//! Exact decimal newtypes. Arithmetic only between the types where it means
//! something: `Price * Quantity = Money`, `Money / Price = Quantity`.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

macro_rules! decimal_newtype {
    ($name:ident, $what:literal) => {
        #[doc = concat!("An exact ", $what, " (a `rust_decimal::Decimal`, serialized as a string).")]
        #[derive(
            Clone,
            Copy,
            Debug,
            Default,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Serialize,
            Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(#[serde(with = "crate::domain::decimal_text::serde_str")] pub Decimal);

        impl $name {
            pub const ZERO: Self = Self(Decimal::ZERO);

            pub fn new(value: Decimal) -> Self {
                Self(value)
            }

            /// From an integer mantissa and a scale: `from_parts(12345, 2)` is 123.45.
            pub fn from_scaled(mantissa: i64, scale: u32) -> Self {
                Self(Decimal::new(mantissa, scale))
            }

            pub fn value(self) -> Decimal {
                self.0
            }

            /// Lossy view for statistics and charts only, never for the ledger.
            pub fn to_f64(self) -> f64 {
                self.0.to_f64().unwrap_or(f64::NAN)
            }

            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }

            /// `> 0`, by the sign bit and the mantissa (no comparison call).
            #[inline]
            pub fn is_positive(self) -> bool {
                !self.0.is_zero() && !self.0.is_sign_negative()
            }

            pub fn is_sign_negative(self) -> bool {
                self.0.is_sign_negative() && !self.0.is_zero()
            }

            pub fn abs(self) -> Self {
                Self(self.0.abs())
            }

            /// The smaller (`self` when equal); compares mantissas when
            /// the scales agree, as they mostly do.
            #[inline]
            pub fn min(self, other: Self) -> Self {
                if crate::domain::cmp_exact(self.0, other.0).is_le() {
                    self
                } else {
                    other
                }
            }

            /// The larger (`self` when equal), as [`Self::min`].
            #[inline]
            pub fn max(self, other: Self) -> Self {
                if crate::domain::cmp_exact(self.0, other.0).is_ge() {
                    self
                } else {
                    other
                }
            }

            /// Rounded to `dp` decimal places, half away from zero.
            pub fn round_dp(self, dp: u32) -> Self {
                Self(self.0.round_dp_with_strategy(
                    dp,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                ))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl FromStr for $name {
            type Err = rust_decimal::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Decimal::from_str_exact(s.trim())
                    .or_else(|_| Decimal::from_scientific(s.trim()))
                    .map(Self)
            }
        }

        impl From<Decimal> for $name {
            fn from(value: Decimal) -> Self {
                Self(value)
            }
        }

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                Self(Decimal::from(value))
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, rhs: Self) {
                self.0 -= rhs.0;
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        /// Scaling by a plain ratio (a fee rate, a fraction of capital).
        impl Mul<Decimal> for $name {
            type Output = Self;
            fn mul(self, rhs: Decimal) -> Self {
                Self(self.0 * rhs)
            }
        }

        impl Div<Decimal> for $name {
            type Output = Self;
            fn div(self, rhs: Decimal) -> Self {
                Self(self.0 / rhs)
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                iter.fold(Self::ZERO, |a, b| a + b)
            }
        }
    };
}

decimal_newtype!(Price, "price in quote currency per unit of base");
decimal_newtype!(Quantity, "quantity of the base asset");
decimal_newtype!(Money, "amount of quote currency (balances, fees, P&L)");

impl Mul<Quantity> for Price {
    type Output = Money;
    fn mul(self, rhs: Quantity) -> Money {
        Money(self.0 * rhs.0)
    }
}

impl Mul<Price> for Quantity {
    type Output = Money;
    fn mul(self, rhs: Price) -> Money {
        Money(self.0 * rhs.0)
    }
}

impl Div<Price> for Money {
    type Output = Quantity;
    fn div(self, rhs: Price) -> Quantity {
        Quantity(self.0 / rhs.0)
    }
}

impl Div for Money {
    /// A plain ratio (return, drawdown fraction).
    type Output = Decimal;
    fn div(self, rhs: Money) -> Decimal {
        self.0 / rhs.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn price_times_quantity_is_exact_money() {
        let p: Price = "0.1".parse().unwrap();
        let q: Quantity = "3".parse().unwrap();
        assert_eq!(p * q, Money(dec!(0.3)));
    }

    #[test]
    fn serializes_as_string() {
        let m = Money(dec!(12.50));
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.50\"");
        let back: Money = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(back, m);
    }
}

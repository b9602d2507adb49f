//! Exact decimal numbers for the resources: [`Amount`] (money, ≥ 0),
//! [`SignedAmount`] (money that can go negative, status only) and [`Percent`]
//! (0–100).
//!
//! Why not `f64`: capital, caps and percentages of capital end up in order
//! sizes and loss checks, and a limit of `0.1` must mean exactly 0.1. The
//! schema still says `type: number`, so users write plain YAML numbers. A
//! number is read through its shortest round-trip decimal text (`0.1` →
//! `"0.1"` → exactly 0.1), never through its binary value; a numeric string
//! (`"0.1"`) is accepted as well. Values are written back as JSON numbers
//! (integers when they have no fraction). The range is checked while reading,
//! mirroring the CRD schema, so a value of these types is always in range.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a decimal from text: plain (`12.5`) or scientific (`1e3`).
fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    Decimal::from_str_exact(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| format!("`{text}` is not a decimal number"))
}

/// Converts a binary float through its shortest round-trip text, so `0.1`
/// becomes exactly 0.1 rather than 0.1000000000000000055511151231257827.
fn decimal_from_f64(value: f64) -> Result<Decimal, String> {
    if !value.is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    // `Display` for f64 prints the shortest text that reads back to the same
    // float, without an exponent.
    parse_decimal(&format!("{value}"))
        .map_err(|_| format!("{value} is out of the supported range (about ±7.9e28)"))
}

/// Writes a decimal as a JSON/YAML number: an integer when it has no
/// fraction, otherwise the nearest float (exact for any value with up to 15
/// significant digits, which covers every amount a user writes).
fn serialize_decimal<S: Serializer>(value: Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let normalized = value.normalize();
    if normalized.fract().is_zero()
        && let Some(i) = normalized.to_i64()
    {
        return serializer.serialize_i64(i);
    }
    match normalized.to_f64() {
        Some(f) => serializer.serialize_f64(f),
        None => Err(serde::ser::Error::custom(format!(
            "{value} cannot be written as a number"
        ))),
    }
}

/// A serde visitor accepting integers, floats and numeric strings, then
/// checking the range with `check`.
struct DecimalVisitor {
    expecting: &'static str,
    check: fn(Decimal) -> Result<(), String>,
}

impl DecimalVisitor {
    fn finish<E: de::Error>(&self, value: Result<Decimal, String>) -> Result<Decimal, E> {
        let value = value.map_err(E::custom)?;
        (self.check)(value).map_err(E::custom)?;
        Ok(value)
    }
}

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        self.finish(Ok(Decimal::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        self.finish(Ok(Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        self.finish(decimal_from_f64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        self.finish(parse_decimal(v))
    }
}

fn non_negative(value: Decimal) -> Result<(), String> {
    if value.is_sign_negative() && !value.is_zero() {
        Err(format!("must be ≥ 0, got {value}"))
    } else {
        Ok(())
    }
}

fn zero_to_hundred(value: Decimal) -> Result<(), String> {
    non_negative(value)?;
    if value > Decimal::ONE_HUNDRED {
        Err(format!("is a percentage and must be ≤ 100, got {value}"))
    } else {
        Ok(())
    }
}

fn any(_: Decimal) -> Result<(), String> {
    Ok(())
}

macro_rules! decimal_type {
    (
        $(#[$meta:meta])*
        $name:ident, schema = $schema:tt, check = $check:ident, expecting = $expecting:literal
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// The exact value.
            pub fn value(self) -> Decimal {
                self.0
            }

            /// Lossy view for statistics and display only.
            pub fn to_f64(self) -> f64 {
                self.0.to_f64().unwrap_or(f64::NAN)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = String;
            fn try_from(value: Decimal) -> Result<Self, String> {
                $check(value)?;
                Ok(Self(value))
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::try_from(parse_decimal(s)?)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_decimal(self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer
                    .deserialize_any(DecimalVisitor { expecting: $expecting, check: $check })
                    .map(Self)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

decimal_type!(
    /// An amount of money in the account's quote currency (e.g. USDT), ≥ 0,
    /// exact. Written as a plain number in YAML.
    Amount,
    schema = { "type": "number", "minimum": 0 },
    check = non_negative,
    expecting = "a non-negative number (e.g. 250 or 0.1)"
);

decimal_type!(
    /// An amount of money that may be negative (equity, P&L in status), exact.
    SignedAmount,
    schema = { "type": "number" },
    check = any,
    expecting = "a number"
);

decimal_type!(
    /// A percentage between 0 and 100, exact (it multiplies money).
    Percent,
    schema = { "type": "number", "minimum": 0, "maximum": 100 },
    check = zero_to_hundred,
    expecting = "a percentage between 0 and 100"
);

decimal_type!(
    /// A duration in minutes, ≥ 0, exact; fractions allowed (`0.5` is 30 s).
    Minutes,
    schema = { "type": "number", "minimum": 0 },
    check = non_negative,
    expecting = "a non-negative number of minutes (e.g. 5 or 0.5)"
);

impl Minutes {
    /// Whole minutes (for defaults and tests).
    pub fn whole(value: u32) -> Self {
        Self(Decimal::from(value))
    }

    /// The duration in milliseconds, rounded to the nearest; saturates at
    /// `u64::MAX`.
    pub fn as_millis(self) -> u64 {
        (self.0 * Decimal::from(60_000))
            .round()
            .to_u64()
            .unwrap_or(u64::MAX)
    }
}

impl From<u32> for Amount {
    fn from(value: u32) -> Self {
        Self(Decimal::from(value))
    }
}

impl SignedAmount {
    /// Any decimal is a valid signed amount.
    pub fn new(value: Decimal) -> Self {
        Self(value)
    }
}

impl Percent {
    /// A whole percentage; panics above 100 (for defaults and tests).
    pub fn whole(value: u8) -> Self {
        assert!(value <= 100, "percentage {value} > 100");
        Self(Decimal::from(value))
    }

    /// This percentage of `amount`, exact: `Percent 5` of `1000` is `50`.
    pub fn of(self, amount: Amount) -> Amount {
        Amount(amount.0 * self.0 / Decimal::ONE_HUNDRED)
    }
}

impl Amount {
    /// The smaller of two amounts.
    pub fn min(self, other: Self) -> Self {
        if self <= other { self } else { other }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn yaml_float_point_one_is_exactly_one_tenth() {
        let a: Amount = serde_yaml::from_str("0.1").unwrap();
        assert_eq!(a.value(), dec!(0.1));
        let json: Amount = serde_json::from_str("0.1").unwrap();
        assert_eq!(json.value(), dec!(0.1));
        let sum: Amount = serde_yaml::from_str("0.3").unwrap();
        assert_eq!(a.value() * dec!(3), sum.value());
    }

    #[test]
    fn accepts_integers_and_numeric_strings() {
        assert_eq!(
            serde_yaml::from_str::<Amount>("5000").unwrap().value(),
            dec!(5000)
        );
        assert_eq!(
            serde_yaml::from_str::<Amount>("\"250.25\"")
                .unwrap()
                .value(),
            dec!(250.25)
        );
        assert_eq!(
            serde_json::from_str::<Amount>("\"1e3\"").unwrap().value(),
            dec!(1000)
        );
        assert_eq!(
            serde_yaml::from_str::<Percent>("12.5").unwrap().value(),
            dec!(12.5)
        );
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        let err = serde_yaml::from_str::<Amount>("-1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be ≥ 0"), "{err}");
        let err = serde_yaml::from_str::<Percent>("100.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("≤ 100"), "{err}");
        let err = serde_yaml::from_str::<Amount>("\"ten\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a decimal number"), "{err}");
        assert!(serde_yaml::from_str::<Amount>(".nan").is_err());
        assert!(serde_yaml::from_str::<Amount>("1e40").is_err());
        assert_eq!(
            serde_yaml::from_str::<SignedAmount>("-12.5")
                .unwrap()
                .value(),
            dec!(-12.5)
        );
    }

    #[test]
    fn serializes_as_numbers() {
        assert_eq!(serde_json::to_string(&Amount::from(5000)).unwrap(), "5000");
        let tenth: Amount = "0.1".parse().unwrap();
        assert_eq!(serde_json::to_string(&tenth).unwrap(), "0.1");
        let p: Percent = "2.50".parse().unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "2.5");
        // Round trip keeps the exact value.
        let back: Amount = serde_json::from_str(&serde_json::to_string(&tenth).unwrap()).unwrap();
        assert_eq!(back, tenth);
    }

    #[test]
    fn percent_of_amount_is_exact() {
        let five: Percent = "5".parse().unwrap();
        assert_eq!(five.of(Amount::from(5000)).value(), dec!(250));
        let tenth: Percent = "0.1".parse().unwrap();
        assert_eq!(tenth.of(Amount::from(300)).value(), dec!(0.3));
    }
}

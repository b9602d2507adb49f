//! Money, prices and quantities as JSON text: the exact string
//! `rust_decimal` writes (sign, whole digits, `.`, exactly `scale` places),
//! made on 64-bit integers. A report writes ~200,000 of them, and
//! `rust_decimal`'s own digit-by-digit long division made them a tenth of
//! the report's write time. Read back with `rust_decimal`'s parser.

use rust_decimal::Decimal;

/// Longest text: a sign, 29 digits, a point and a leading zero.
const MAX: usize = 40;

/// The text `d.to_string()` gives, written into `buf`.
pub fn decimal_text(d: Decimal, buf: &mut [u8; MAX]) -> &str {
    let scale = d.scale() as usize;
    let mut m = d.mantissa().unsigned_abs();
    let mut at = MAX;
    let mut written = 0;
    // Digits from the last: the point after `scale` of them, and at least
    // one whole digit.
    while m != 0 || written <= scale {
        if scale > 0 && written == scale {
            at -= 1;
            buf[at] = b'.';
        }
        // On 64 bits when it fits (a 128-bit division is a library call).
        let digit = match u64::try_from(m) {
            Ok(small) => {
                m = u128::from(small / 10);
                (small % 10) as u8
            }
            Err(_) => {
                let d = (m % 10) as u8;
                m /= 10;
                d
            }
        };
        at -= 1;
        buf[at] = b'0' + digit;
        written += 1;
    }
    if d.is_sign_negative() {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// `#[serde(with = ...)]` for a `Decimal` as a string.
pub mod serde_str {
    use rust_decimal::Decimal;

    pub fn serialize<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::decimal_text(*d, &mut [0; super::MAX]))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        rust_decimal::serde::str::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(d: Decimal) -> String {
        decimal_text(d, &mut [0; MAX]).to_string()
    }

    #[test]
    fn corners_read_as_rust_decimal_writes_them() {
        for s in [
            "0",
            "0.00",
            "-0.05",
            "123.45",
            "1",
            "-7",
            "0.000000001",
            "100.0",
        ] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(text(d), d.to_string(), "{s}");
        }
        assert_eq!(text(Decimal::MAX), Decimal::MAX.to_string());
        assert_eq!(text(Decimal::MIN), Decimal::MIN.to_string());
        let negative_zero = Decimal::from_parts(0, 0, 0, true, 3);
        assert_eq!(text(negative_zero), negative_zero.to_string());
    }

    proptest! {
        /// Every mantissa size (under and past 64 bits), scale and sign.
        #[test]
        fn the_text_is_rust_decimals(
            lo in any::<u32>(), mid in any::<u32>(), hi in prop_oneof![Just(0u32), any::<u32>()],
            small in any::<bool>(), negative in any::<bool>(), scale in 0u32..=28,
        ) {
            let d = if small {
                Decimal::from_parts(lo, 0, 0, negative, scale)
            } else {
                Decimal::from_parts(lo, mid, hi, negative, scale)
            };
            prop_assert_eq!(text(d), d.to_string());
        }
    }
}

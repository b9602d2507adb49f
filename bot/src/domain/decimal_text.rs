//! Money, prices and quantities as JSON text: the exact string
//! `rust_decimal` writes (sign, whole digits, `.`, exactly `scale` places),
//! made on 64-bit integers, two digits a division. A report writes ~200,000
//! of them, and `rust_decimal`'s own digit-by-digit long division made them
//! a tenth of the report's write time. Read back with `rust_decimal`'s
//! parser.

use rust_decimal::Decimal;

/// Longest text: a sign, 29 digits, a point and a leading zero.
const MAX: usize = 40;

/// The text `d.to_string()` gives, written into `buf`.
pub fn decimal_text(d: Decimal, buf: &mut [u8; MAX]) -> &str {
    let scale = d.scale() as usize;
    let mut at = digits(d.mantissa().unsigned_abs(), buf);
    // At least one whole digit before the point.
    while MAX - at <= scale {
        at -= 1;
        buf[at] = b'0';
    }
    if scale > 0 {
        // The whole digits move one left to make room for the point.
        let point = MAX - scale;
        buf.copy_within(at..point, at - 1);
        at -= 1;
        buf[point - 1] = b'.';
    }
    if d.is_sign_negative() {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// Appends the digits of `n` to `text`, as `write!(text, "{n}")` does, without
/// the formatting machinery (the paper broker makes a trade id per fill).
pub fn push_u64(text: &mut String, n: u64) {
    let mut buf = [0u8; MAX];
    let at = digits64(n, &mut buf, MAX);
    text.push_str(std::str::from_utf8(&buf[at..]).expect("ASCII digits"));
}

/// "00" to "99": two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the digits of `m` at the end of `buf`; returns where they start.
fn digits(mut m: u128, buf: &mut [u8; MAX]) -> usize {
    const TEN19: u128 = 10_000_000_000_000_000_000;
    let mut at = MAX;
    // Past 64 bits: 19 digits at a time off the end (a 128-bit division is
    // a library call, so as few as possible).
    while m > u128::from(u64::MAX) {
        let low = (m % TEN19) as u64;
        m /= TEN19;
        let end = at;
        at = digits64(low, buf, at);
        while end - at < 19 {
            at -= 1;
            buf[at] = b'0';
        }
    }
    digits64(m as u64, buf, at)
}

/// Writes the digits of `n` (at least one) before `at`; returns the start.
fn digits64(mut n: u64, buf: &mut [u8; MAX], mut at: usize) -> usize {
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    at
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
            // Around the 19-digit chunks past 64 bits, zeros inside.
            "18446744073709551615",
            "18446744073709551616",
            "10000000000000000000000000000",
            "100000000000000000000000000.01",
            "7900000000000000000000000001",
            "0.0000000000000000000000000001",
            "-0.1000000000000000000000000000",
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

        /// Any size, one digit to twenty, after text already there.
        #[test]
        fn pushed_digits_are_the_formatted_number(n in prop_oneof![0u64..1000, any::<u64>()]) {
            let mut text = String::from("paper-");
            push_u64(&mut text, n);
            prop_assert_eq!(text, format!("paper-{n}"));
        }
    }

    #[test]
    fn pushed_digits_at_the_corners() {
        for n in [0, 9, 10, 99, 100, 101, 999, 1000, u64::MAX] {
            let mut text = String::new();
            push_u64(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }
}

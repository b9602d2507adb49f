//! Indicator values checked against arithmetic done by hand (in the comments).

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn assert_series(got: &[Option<f64>], want: &[Option<f64>]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Some(g), Some(w)) => assert!(close(*g, *w), "#{i}: got {g}, want {w}"),
            (None, None) => {}
            _ => panic!("#{i}: got {g:?}, want {w:?}"),
        }
    }
}

fn run<I: Indicator<Input = f64, Output = f64>>(mut ind: I, xs: &[f64]) -> Vec<Option<f64>> {
    xs.iter().map(|&x| ind.update(x)).collect()
}

#[test]
fn sma_by_hand() {
    // SMA(3) of 2, 4, 6, 8, 13: (2+4+6)/3 = 4, (4+6+8)/3 = 6, (6+8+13)/3 = 9.
    let got = run(Sma::new(3).unwrap(), &[2.0, 4.0, 6.0, 8.0, 13.0]);
    assert_series(&got, &[None, None, Some(4.0), Some(6.0), Some(9.0)]);
}

#[test]
fn ema_by_hand() {
    // EMA(3): alpha = 2/4 = 0.5, seeded with SMA(2, 4, 6) = 4.
    // 8 → 4 + 0.5(8 − 4) = 6; 13 → 6 + 0.5(13 − 6) = 9.5; 5 → 9.5 + 0.5(5 − 9.5) = 7.25.
    let got = run(Ema::new(3).unwrap(), &[2.0, 4.0, 6.0, 8.0, 13.0, 5.0]);
    assert_series(
        &got,
        &[None, None, Some(4.0), Some(6.0), Some(9.5), Some(7.25)],
    );
    // EMA(4): alpha = 0.4, seed (1+2+3+4)/4 = 2.5; 9 → 2.5 + 0.4(9 − 2.5) = 5.1.
    let got = run(Ema::new(4).unwrap(), &[1.0, 2.0, 3.0, 4.0, 9.0]);
    assert_series(&got, &[None, None, None, Some(2.5), Some(5.1)]);
}

#[test]
fn rsi_wilder_by_hand() {
    // RSI(3) of 44, 45, 43, 46, 47, 45, 45; changes +1, −2, +3, +1, −2, 0.
    // Seed: gain (1+0+3)/3 = 4/3, loss (0+2+0)/3 = 2/3, RS = 2, RSI = 100 − 100/3.
    // +1: gain (4/3·2 + 1)/3 = 11/9, loss (2/3·2)/3 = 4/9, RS = 11/4, RSI = 100 − 100/3.75.
    // −2: gain (11/9·2)/3 = 22/27, loss (4/9·2 + 2)/3 = 26/27, RS = 11/13, RSI = 100 − 1300/24.
    //  0: gain 44/81, loss 52/81: RS still 11/13.
    let got = run(
        Rsi::new(3).unwrap(),
        &[44.0, 45.0, 43.0, 46.0, 47.0, 45.0, 45.0],
    );
    let r3 = 100.0 - 1300.0 / 24.0;
    assert_series(
        &got,
        &[
            None,
            None,
            None,
            Some(100.0 - 100.0 / 3.0),
            Some(100.0 - 100.0 / 3.75),
            Some(r3),
            Some(r3),
        ],
    );
    assert!(close(r3, 45.833_333_333_333_33));
}

#[test]
fn rsi_edges_rising_and_flat() {
    // Only gains: avg loss 0 → 100. No movement at all → neutral 50.
    assert_eq!(run(Rsi::new(2).unwrap(), &[1.0, 2.0, 3.0])[2], Some(100.0));
    assert_eq!(run(Rsi::new(2).unwrap(), &[5.0, 5.0, 5.0])[2], Some(50.0));
    // Only losses: avg gain 0 → RS 0 → 0.
    assert_eq!(run(Rsi::new(2).unwrap(), &[3.0, 2.0, 1.0])[2], Some(0.0));
}

#[test]
fn macd_by_hand() {
    // MACD(2, 3, 2) of 1, 2, 4, 7, 11, TA-Lib's way: both EMAs start on close 3.
    // slow EMA(3), alpha 1/2: seed (1+2+4)/3 = 7/3; 7 → 14/3; 11 → 47/6.
    // fast EMA(2), alpha 2/3, skips close 1: seed (2+4)/2 = 3; 7 → 3 + 2/3·4 = 17/3;
    //   11 → 17/3 + 2/3·16/3 = 83/9.
    // line: 3 − 7/3 = 2/3; 17/3 − 14/3 = 1; 83/9 − 47/6 = 25/18.
    // signal EMA(2) of the line: seed (2/3 + 1)/2 = 5/6; then
    //   5/6 + 2/3·(25/18 − 5/6) = 65/54.
    let mut m = Macd::new(2, 3, 2).unwrap();
    let got: Vec<_> = [1.0, 2.0, 4.0, 7.0, 11.0]
        .iter()
        .map(|&x| m.update(x))
        .collect();
    assert_eq!(got[..3], [None, None, None]);
    let v4 = got[3].unwrap();
    assert!(
        close(v4.macd, 1.0) && close(v4.signal, 5.0 / 6.0) && close(v4.histogram, 1.0 / 6.0),
        "{v4:?}"
    );
    let v5 = got[4].unwrap();
    assert!(
        close(v5.macd, 25.0 / 18.0) && close(v5.signal, 65.0 / 54.0),
        "{v5:?}"
    );
    assert!(close(v5.histogram, 5.0 / 27.0), "{v5:?}");
    assert_eq!(m.value(), got[4]);
    m.reset();
    let again: Vec<_> = [1.0, 2.0, 4.0, 7.0, 11.0]
        .iter()
        .map(|&x| m.update(x))
        .collect();
    assert_eq!(again, got, "reset forgets the skipped closes too");
}

#[test]
fn bollinger_by_hand_with_population_stdev() {
    // Bollinger(3, 2) of 1, 2, 3, 10.
    // [1,2,3]: mean 2, variance (1+0+1)/3 = 2/3 (population), σ = √(2/3);
    //   bands 2 ± 2σ; %b = (3 − (2 − 2σ))/(4σ) = 0.5 + 1/(4σ) ≈ 0.806186.
    // [2,3,10]: mean 5, deviations −3, −2, 5, variance 38/3, σ = √(38/3);
    //   %b = (10 − 5 + 2σ)/(4σ) = 0.5 + 5/(4σ) ≈ 0.851220.
    let mut b = Bollinger::new(3, 2.0).unwrap();
    assert_eq!(b.update(1.0), None);
    assert_eq!(b.update(2.0), None);
    let v = b.update(3.0).unwrap();
    let s = (2.0f64 / 3.0).sqrt();
    assert!(close(v.middle, 2.0) && close(v.stdev, s), "{v:?}");
    assert!(
        close(v.upper, 2.0 + 2.0 * s) && close(v.lower, 2.0 - 2.0 * s),
        "{v:?}"
    );
    assert!(close(v.percent_b, 0.5 + 1.0 / (4.0 * s)) && (v.percent_b - 0.806186).abs() < 1e-6);
    let v = b.update(10.0).unwrap();
    let s = (38.0f64 / 3.0).sqrt();
    assert!(close(v.middle, 5.0) && close(v.stdev, s), "{v:?}");
    assert!(close(v.percent_b, 0.5 + 5.0 / (4.0 * s)) && (v.percent_b - 0.851220).abs() < 1e-6);
}

#[test]
fn flat_windows_are_exactly_flat() {
    // After volatile values, three equal closes: SMA exactly 30000.07, σ exactly 0,
    // bands collapsed, %b 0.5 (not rounding noise that would trigger trades).
    let xs = [
        30_000.0, 31_234.56, 29_876.54, 30_000.07, 30_000.07, 30_000.07,
    ];
    let mut b = Bollinger::new(3, 2.0).unwrap();
    let mut sma = Sma::new(3).unwrap();
    let (mut last_b, mut last_s) = (None, None);
    for x in xs {
        last_b = b.update(x);
        last_s = sma.update(x);
    }
    let v = last_b.unwrap();
    assert_eq!(
        (v.middle, v.stdev, v.upper, v.lower, v.percent_b),
        (30_000.07, 0.0, 30_000.07, 30_000.07, 0.5)
    );
    assert_eq!(last_s, Some(30_000.07));
}

#[test]
fn atr_wilder_by_hand() {
    // ATR(3), TA-Lib's way (true ranges from the second candle). True ranges:
    //  1: (10, 8, 9)         no previous close: none (only the close counts)
    //  2: (11, 9.5, 10.5)    prev 9: max(1.5, |11 − 9| = 2, 0.5) = 2
    //  3: (13, 10.5, 12)     prev 10.5: max(2.5, 2.5, 0) = 2.5
    //  4: (10, 9, 9.5)       prev 12: max(1, 2, |9 − 12| = 3) = 3 → seed (2 + 2.5 + 3)/3 = 5/2
    //  5: (10, 9.8, 9.9)     prev 9.5: max(0.2, 0.5, 0.3) = 0.5 → (5/2·2 + 0.5)/3 = 11/6
    let candles = [
        (10.0, 8.0, 9.0),
        (11.0, 9.5, 10.5),
        (13.0, 10.5, 12.0),
        (10.0, 9.0, 9.5),
        (10.0, 9.8, 9.9),
    ];
    let mut atr = Atr::new(3).unwrap();
    let got: Vec<_> = candles
        .iter()
        .map(|&(high, low, close)| atr.update(Hlc { high, low, close }))
        .collect();
    assert_series(&got, &[None, None, None, Some(5.0 / 2.0), Some(11.0 / 6.0)]);
    assert_eq!(
        true_range(
            Hlc {
                high: 10.0,
                low: 9.0,
                close: 9.5
            },
            Some(12.0)
        ),
        3.0
    );
}

#[test]
fn hlc_from_candle() {
    use crate::domain::{Candle, Price, Quantity};
    let p = |s: &str| s.parse::<Price>().unwrap();
    let c = Candle {
        open_time: 0,
        open: p("100"),
        high: p("101.5"),
        low: p("99.25"),
        close: p("100.75"),
        volume: Quantity::from(1),
    };
    assert_eq!(
        Hlc::from(&c),
        Hlc {
            high: 101.5,
            low: 99.25,
            close: 100.75
        }
    );
}

/// Every indicator returns `None` for exactly `warmup_period − 1` inputs,
/// then values; `reset` starts the warm-up over.
#[test]
fn warmup_lengths_and_reset() {
    fn check<I: Indicator>(mut ind: I, input: impl Fn(usize) -> I::Input, expected_warmup: usize) {
        assert_eq!(ind.warmup_period(), expected_warmup);
        for round in 0..2 {
            for i in 0..expected_warmup + 5 {
                let out = ind.update(input(i));
                assert_eq!(
                    out.is_some(),
                    i + 1 >= expected_warmup,
                    "round {round} input #{i}"
                );
                assert_eq!(ind.value().is_some(), out.is_some());
            }
            ind.reset();
            assert!(ind.value().is_none());
        }
    }
    let price = |i: usize| 100.0 + ((i * 7919) % 13) as f64;
    let hlc = |i: usize| Hlc {
        high: price(i) + 1.0,
        low: price(i) - 1.0,
        close: price(i),
    };
    check(Sma::new(5).unwrap(), price, 5);
    check(Ema::new(5).unwrap(), price, 5);
    check(Rsi::new(14).unwrap(), price, 15);
    check(Macd::new(12, 26, 9).unwrap(), price, 34);
    check(Bollinger::new(20, 2.0).unwrap(), price, 20);
    check(Atr::new(14).unwrap(), hlc, 15);
    check(Sma::new(1).unwrap(), price, 1);
}

#[test]
fn bad_parameters_are_named() {
    assert_eq!(
        Sma::new(0).unwrap_err().to_string(),
        "sma: period must be at least 1 (got 0)"
    );
    assert!(Ema::new(0).is_err() && Rsi::new(0).is_err() && Atr::new(0).is_err());
    assert_eq!(
        Macd::new(26, 12, 9).unwrap_err().to_string(),
        "macd: fast 26 must be less than slow (12)"
    );
    assert_eq!(Macd::new(12, 26, 0).unwrap_err().field, "signal");
    let e = Bollinger::new(20, 0.0).unwrap_err();
    assert_eq!(e.field, "stdDevs");
    assert!(Bollinger::new(20, f64::NAN).is_err());
}

#[test]
fn fast_price_conversion_is_within_two_ulp() {
    use crate::domain::Price;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..100_000u32 {
        // Prices of every scale 0..=12 and magnitude, from a fixed LCG.
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let p = Price::from_scaled((x >> (i % 40)) as i64, i % 13);
        let (fast, exact) = (price_to_f64(p), p.to_f64());
        assert!(
            (fast - exact).abs() <= 2.0 * f64::EPSILON * exact.abs(),
            "{p}: {fast} vs {exact}"
        );
    }
    assert_eq!(price_to_f64("42000.01".parse().unwrap()), 42000.01);
    assert_eq!(price_to_f64(Price::ZERO), 0.0);
}

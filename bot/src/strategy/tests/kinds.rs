//! The four single-indicator kinds, their warm-up and their reasons.

use botfleet_crds::{BollingerReversion, MacdTrend, RsiReversion, SmaCrossover};

use super::super::trend::CrossTracker;
use super::*;

fn sma(fast: u32, slow: u32) -> SmaCrossoverStrategy {
    SmaCrossoverStrategy::new(&SmaCrossover { fast, slow }).unwrap()
}

fn rsi(period: u32, oversold: f64, overbought: f64) -> RsiReversionStrategy {
    RsiReversionStrategy::new(&RsiReversion {
        period,
        oversold,
        overbought,
    })
    .unwrap()
}

#[test]
fn cross_tracker_needs_a_real_side_change() {
    let mut t = CrossTracker::default();
    // The first reading only sets the side.
    assert_eq!(t.update(-1.0), Trigger::None);
    // A touch and return to the same side is no cross.
    assert_eq!(t.update(0.0), Trigger::None);
    assert_eq!(t.update(-0.5), Trigger::None);
    // Below → equal → above is a cross, reported when it gets above.
    assert_eq!(t.update(0.0), Trigger::None);
    assert_eq!(t.update(2.0), Trigger::CrossedAbove);
    assert_eq!(t.update(1.0), Trigger::None);
    assert_eq!(t.update(f64::NAN), Trigger::None);
    assert_eq!(t.update(-1.0), Trigger::CrossedBelow);

    // Starting mid-trend: no cross on the first reading.
    let mut t = CrossTracker::default();
    assert_eq!(t.update(3.0), Trigger::None);
    // Starting on the level (a flat market): leaving it is a cross.
    let mut t = CrossTracker::default();
    assert_eq!(t.update(0.0), Trigger::None);
    assert_eq!(t.update(0.0), Trigger::None);
    assert_eq!(t.update(-0.1), Trigger::CrossedBelow);
}

#[test]
fn sma_crossover_buys_and_sells_on_the_crossing_candles() {
    // SMA(2) vs SMA(3), diff = fast − slow:
    // #2 8.5 vs 9 (−, first values: side only), #3 7.5 vs 8 (−), #4 7.5 vs 7.667 (−),
    // #5 9 vs 8.333 (+: cross above → Buy), #6 11 vs 10, #7 11.5 vs 11 (+),
    // #8 10 vs 10.667 (−: cross below → Sell), #9 8 vs 9 (−).
    let closes = [10.0, 9.0, 8.0, 7.0, 8.0, 10.0, 12.0, 11.0, 9.0, 7.0];
    let mut s = sma(2, 3);
    assert_eq!(s.warmup_candles(), 3);
    assert_eq!(s.name(), "smaCrossover");
    let d = run(&mut s, &closes);
    assert_eq!(signals(&d), vec![(5, Signal::Buy), (8, Signal::Sell)]);
    assert_eq!(d[5].confidence, 1.0);
    assert_eq!(d[6].confidence, 0.0);

    // Warm-up: the first two candles say how far along they are.
    assert_eq!(
        indicator(&d[0]),
        IndicatorReason::Warmup { seen: 1, needed: 3 }
    );
    assert_eq!(
        indicator(&d[1]),
        IndicatorReason::Warmup { seen: 2, needed: 3 }
    );

    let IndicatorReason::SmaCrossover {
        fast,
        slow,
        sma_fast,
        sma_slow,
        trigger,
    } = indicator(&d[5])
    else {
        panic!("{:?}", d[5]);
    };
    assert_eq!((fast, slow, trigger), (2, 3, Trigger::CrossedAbove));
    assert!(near(sma_fast, 9.0) && near(sma_slow, 25.0 / 3.0));
    assert_eq!(
        d[5].reason.to_string(),
        "sma(2)=9 crossed above sma(3)=8.33333"
    );
    assert_eq!(
        d[8].reason.to_string(),
        "sma(2)=10 crossed below sma(3)=10.6667"
    );
    assert_eq!(
        d[7].reason.to_string(),
        "sma(2)=11.5 above (no cross) sma(3)=11"
    );
}

#[test]
fn sma_crossover_started_mid_trend_waits_for_a_cross() {
    // A steady rise: fast is above slow from the first reading, never crosses.
    let closes: Vec<f64> = (0..40).map(|i| 100.0 + i as f64).collect();
    let d = run(&mut sma(3, 5), &closes);
    assert!(signals(&d).is_empty(), "{:?}", signals(&d));
}

#[test]
fn no_kind_signals_during_warm_up() {
    // Every kind on a zig-zag that crosses constantly: the first possible
    // signal is on candle `warmup_candles()` (0-based), never earlier.
    let closes: Vec<f64> = (0..200)
        .map(|i| 100.0 + [0.0, 7.0, -5.0, 9.0, -8.0, 3.0][i % 6] + (i / 6) as f64 * 0.1)
        .collect();
    let kinds: Vec<Box<dyn Strategy>> = vec![
        Box::new(sma(2, 7)),
        Box::new(rsi(5, 45.0, 55.0)),
        Box::new(
            BollingerReversionStrategy::new(&BollingerReversion {
                period: 10,
                std_devs: 1.0,
            })
            .unwrap(),
        ),
        Box::new(
            MacdTrendStrategy::new(&MacdTrend {
                fast: 2,
                slow: 5,
                signal: 3,
            })
            .unwrap(),
        ),
    ];
    for mut s in kinds {
        let warmup = s.warmup_candles();
        let d = run(s.as_mut(), &closes);
        let first = signals(&d).first().map(|&(i, _)| i);
        assert!(
            first.is_some_and(|i| i >= warmup),
            "{}: first signal {first:?}, warm-up {warmup}",
            s.name()
        );
        for (i, decision) in d.iter().enumerate().take(warmup - 1) {
            assert!(
                matches!(indicator(decision), IndicatorReason::Warmup { seen, .. } if seen as usize == i + 1),
                "{} #{i}: {decision:?}",
                s.name()
            );
        }
    }
}

#[test]
fn macd_trend_follows_the_histogram_sign() {
    // MACD(2, 3, 2) by hand in fractions (EMAs seeded with their SMA):
    // #3 flat: macd 0, signal 0, histogram 0 (first reading, on the level)
    // #4 histogram −1/18 (leaves the level downwards → Sell)
    // #5 −7/108, #6 macd −13/216, signal −13/108, histogram +13/216 → Buy
    // #7 +589/3888, #8 +2119/23328, #9 −1075/15552 → Sell, #10, #11 negative.
    let closes = [
        10.0, 10.0, 10.0, 10.0, 9.0, 8.0, 9.0, 11.0, 12.0, 11.0, 9.0, 8.0,
    ];
    let mut s = MacdTrendStrategy::new(&MacdTrend {
        fast: 2,
        slow: 3,
        signal: 2,
    })
    .unwrap();
    assert_eq!(s.warmup_candles(), 4);
    let d = run(&mut s, &closes);
    assert_eq!(
        signals(&d),
        vec![(4, Signal::Sell), (6, Signal::Buy), (9, Signal::Sell)]
    );
    let IndicatorReason::MacdTrend {
        macd,
        signal_line,
        histogram,
        trigger,
        ..
    } = indicator(&d[6])
    else {
        panic!("{:?}", d[6]);
    };
    assert!(near(macd, -13.0 / 216.0) && near(signal_line, -13.0 / 108.0));
    assert!(near(histogram, 13.0 / 216.0));
    assert_eq!(trigger, Trigger::CrossedAbove);
    assert_eq!(
        d[6].reason.to_string(),
        "macd(2,3,2)=-0.0601852 crossed above signal line -0.12037 (histogram 0.0601852)"
    );
}

#[test]
fn rsi_reversion_buys_when_rsi_falls_below_oversold_and_sells_above_overbought() {
    // RSI(2), Wilder: changes +1 +1 → gain 1, loss 0 → #2 RSI 100 (first value).
    // #3 −1: gain .5, loss .5 → 50.  #4 −2: gain .25, loss 1.25 → 16.67 (< 30: Buy).
    // #5 −3 → 5.56, #6 −1 → 3.85 (still oversold: no repeat).
    // #7 +2: gain 1.03125, loss .78125 → 56.9.  #8 +1: gain 1.015625,
    // loss .390625 → RS 2.6 → 72.2 (> 70: Sell).  #9..#11 higher: no repeat.
    let closes = [
        100.0, 101.0, 102.0, 101.0, 99.0, 96.0, 95.0, 97.0, 98.0, 102.0, 105.0, 106.0, 104.0,
    ];
    let mut s = rsi(2, 30.0, 70.0);
    assert_eq!(s.warmup_candles(), 3);
    let d = run(&mut s, &closes);
    assert_eq!(signals(&d), vec![(4, Signal::Buy), (8, Signal::Sell)]);
    let IndicatorReason::RsiReversion {
        period,
        rsi,
        oversold,
        overbought,
        trigger,
    } = indicator(&d[4])
    else {
        panic!("{:?}", d[4]);
    };
    assert_eq!((period, oversold, overbought), (2, 30.0, 70.0));
    assert_eq!(trigger, Trigger::CrossedBelow);
    assert!(near(rsi, 100.0 - 100.0 / 1.2), "{rsi}");
    assert_eq!(
        d[4].reason.to_string(),
        "rsi(2)=16.6667 fell below oversold 30"
    );
    assert_eq!(
        d[8].reason.to_string(),
        "rsi(2)=72.2222 rose above overbought 70"
    );
}

#[test]
fn rsi_that_starts_oversold_has_not_fallen_below() {
    // RSI(2) is 0 from its first value (only losses): no Buy until it
    // recovers above 30 and falls back below it.
    let closes = [100.0, 99.0, 98.0, 97.0, 96.0, 101.0, 106.0, 100.0, 93.0];
    let d = run(&mut rsi(2, 30.0, 70.0), &closes);
    // #5 +5: gain 2.5, loss .5 → 83.3 (crosses 30 up, and 70 up: Sell);
    // #6 +5: 93.75; #7 −6: gain 1.875, loss 3.125 → 37.5; #8 −7: gain .9375,
    // loss 5.0625 → 15.6 (< 30: Buy).
    assert_eq!(signals(&d), vec![(5, Signal::Sell), (8, Signal::Buy)]);
}

#[test]
fn bollinger_reversion_buys_below_the_lower_band_and_sells_above_the_upper() {
    // Bollinger(6, 2), population σ:
    // #5 flat window: bands collapse onto the close 100 (the level).
    // #6 90: mean 98.333, σ² 13.889, lower 90.880 → close below it: Buy.
    // #7 90: lower 87.239 (back inside).  #8..#10 inside (mean 95.833, upper 104.81).
    // #11 121: mean 99.333, σ² 110.556, upper 120.362 → above: Sell.  #12 110 inside.
    let closes = [
        100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 90.0, 90.0, 95.0, 100.0, 100.0, 121.0, 110.0,
    ];
    let mut s = BollingerReversionStrategy::new(&BollingerReversion {
        period: 6,
        std_devs: 2.0,
    })
    .unwrap();
    assert_eq!(s.warmup_candles(), 6);
    let d = run(&mut s, &closes);
    assert_eq!(signals(&d), vec![(6, Signal::Buy), (11, Signal::Sell)]);
    let IndicatorReason::BollingerReversion {
        close,
        lower,
        middle,
        upper,
        std_devs,
        trigger,
        ..
    } = indicator(&d[6])
    else {
        panic!("{:?}", d[6]);
    };
    let sd = (125.0f64 / 9.0).sqrt();
    assert_eq!(
        (close, std_devs, trigger),
        (90.0, 2.0, Trigger::CrossedBelow)
    );
    assert!(near(middle, 295.0 / 3.0) && near(lower, 295.0 / 3.0 - 2.0 * sd));
    assert!(near(upper, 295.0 / 3.0 + 2.0 * sd));
    assert_eq!(
        d[6].reason.to_string(),
        "close 90 fell below the lower band (bollinger(6, 2): lower 90.8798, middle 98.3333, upper 105.787)"
    );
}

#[test]
fn parameters_are_checked_with_the_field_to_fix() {
    let e = SmaCrossoverStrategy::new(&SmaCrossover { fast: 30, slow: 10 }).unwrap_err();
    assert_eq!(e.path(), "spec.smaCrossover.fast");
    let e = RsiReversionStrategy::new(&RsiReversion {
        period: 14,
        oversold: 80.0,
        overbought: 70.0,
    })
    .unwrap_err();
    assert_eq!(e.path(), "spec.rsiReversion.oversold");
    // With period 5 a close is at most 2σ from its window's mean: a 2σ band
    // can never be crossed, so the strategy would silently never trade.
    let e = BollingerReversionStrategy::new(&BollingerReversion {
        period: 5,
        std_devs: 2.0,
    })
    .unwrap_err();
    assert_eq!(e.path(), "spec.bollingerReversion.period");
    assert!(e.to_string().contains("period is above 5"), "{e}");
    let e = MacdTrendStrategy::new(&MacdTrend {
        fast: 12,
        slow: 26,
        signal: 0,
    })
    .unwrap_err();
    assert_eq!(e.path(), "spec.macdTrend.signal");
}

#[test]
fn reasons_serialize_for_the_audit_log() {
    let reason = Reason::Indicator(IndicatorReason::SmaCrossover {
        fast: 10,
        slow: 30,
        sma_fast: 101.25,
        sma_slow: 100.5,
        trigger: Trigger::CrossedAbove,
    });
    let json = serde_json::to_value(&reason).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "smaCrossover", "fast": 10, "slow": 30,
            "smaFast": 101.25, "smaSlow": 100.5, "trigger": "crossedAbove"})
    );
    let decision = Advice {
        signal: Signal::Buy,
        confidence: 1.0,
        reason,
    };
    let text = serde_json::to_string(&decision).unwrap();
    assert!(text.contains(r#""signal":"buy""#), "{text}");
    assert_eq!(serde_json::from_str::<Advice>(&text).unwrap(), decision);
}

#[test]
fn numbers_are_printed_without_float_noise() {
    use super::super::reason::Num;
    let cases = [
        (101.20000000000002, "101.2"),
        (0.000012345678, "0.0000123457"),
        (30000.5, "30000.5"),
        (-0.5, "-0.5"),
        (0.0, "0"),
        (1e-30, "0"),
        (70.0, "70"),
    ];
    for (x, want) in cases {
        assert_eq!(Num(x).to_string(), want, "{x}");
    }
}

#[test]
fn single_reasons_are_plain_numbers() {
    // The hold path builds one reason per candle: it must not own heap data.
    fn copy<T: Copy>() {}
    copy::<IndicatorReason>();
    assert!(std::mem::size_of::<Advice>() <= 96);
}

#[test]
fn an_sma_crossover_over_shared_series_decides_as_the_live_one() {
    // A wavy walk with crossings every few dozen candles.
    let closes: Vec<f64> = (0..3_000)
        .map(|i| {
            let t = i as f64;
            100.0 + 5.0 * (t / 37.0).sin() + 2.0 * (t / 11.0).cos() + 0.001 * t
        })
        .collect();
    let views: Vec<f64> = closes
        .iter()
        .enumerate()
        .map(|(i, &c)| crate::indicators::price_to_f64(candle(i, c).close))
        .collect();
    let params = SmaCrossover { fast: 7, slow: 25 };
    let mut live = SmaCrossoverStrategy::new(&params).unwrap();
    let mut shared = SmaCrossoverStrategy::over_shared(
        &params,
        SharedSma::compute(7, &views).unwrap(),
        SharedSma::compute(25, &views).unwrap(),
    )
    .unwrap();
    let (a, b) = (run(&mut live, &closes), run(&mut shared, &closes));
    assert!(signals(&a).len() > 20, "the series must cross often");
    // The whole advice, reasons and indicator values included.
    assert_eq!(a, b);
}

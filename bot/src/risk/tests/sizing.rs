//! Sizing methods on hand-computed numbers.

use super::super::sizing::{decimal_from_f64, floor_to_step};
use super::*;
use botfleet_crds::{AtrSizing, FixedFraction, KellySizing, Sizing};

fn with_sizing(sizing: Sizing) -> RiskEngine {
    let mut c = plain("10000");
    c.sizing = sizing;
    engine(c)
}

fn fixed(pct: &str) -> Sizing {
    Sizing {
        fixed_fraction: Some(FixedFraction {
            pct: pct.parse().unwrap(),
        }),
        atr: None,
        kelly: None,
    }
}

fn atr() -> Sizing {
    Sizing {
        fixed_fraction: None,
        atr: Some(AtrSizing {
            risk_pct: "1".parse().unwrap(),
            atr_period: 14,
            atr_multiple: 2.0,
        }),
        kelly: None,
    }
}

fn kelly(cap: &str, min_trades: u32) -> Sizing {
    Sizing {
        fixed_fraction: None,
        atr: None,
        kelly: Some(KellySizing {
            fraction: 0.5,
            cap_pct: cap.parse().unwrap(),
            min_trades,
            fallback_pct: "5".parse().unwrap(),
        }),
    }
}

#[test]
fn fixed_fraction_is_a_share_of_equity() {
    let mut e = with_sizing(fixed("10"));
    let l = ledger("10000");
    // 10 % of 10000 = 1000 at 30000 → 0.03333333 (rounded down) = 999.9999.
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("30000"), &l, None)).clone();
    assert_eq!(
        (a.quantity, a.notional, a.sizing.target),
        (q("0.03333333"), m("999.9999"), m("1000"))
    );
    assert_eq!(
        (a.sizing.method, a.sizing.capped_by),
        ("fixedFraction", None)
    );
    assert_eq!(
        a.sizing.explanation,
        "fixedFraction 10 % of equity 10000 = 1000 → 0.03333333 at 30000 = 999.9999"
    );
}

#[test]
fn atr_sizing_risks_a_share_of_equity_over_k_atr() {
    let mut e = with_sizing(atr());
    let l = ledger("10000");
    assert_eq!(e.atr_period(), Some(14));
    // Risk 1 % of 10000 = 100; stop 2 × 2.5 = 5 away → 20 units = 2000 at 100.
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, Some(2.5))).clone();
    assert_eq!(
        (a.quantity, a.notional, a.sizing.method),
        (q("20"), m("2000"), "atr")
    );
    assert!(
        a.sizing.explanation.starts_with("atr: risk 1 % of equity 10000 = 100 over a stop 2 × ATR 2.5 = 5 away → 20 units = 2000 at 100"),
        "{}",
        a.sizing.explanation
    );
    // A wider ATR, a smaller position: 100 / (2 × 10) = 5 units.
    assert_eq!(
        approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, Some(10.0))).quantity,
        q("5")
    );
    for missing in [None, Some(0.0), Some(f64::NAN)] {
        let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, missing);
        let r = refused(&v);
        assert_eq!(r.limit, Limit::Sizing);
        assert!(
            r.message.starts_with("atr sizing needs ATR(14)"),
            "{}",
            r.message
        );
    }
}

/// Closes `wins` trades making 100 and `losses` losing 50, into the engine.
fn feed(e: &mut RiskEngine, wins: usize, losses: usize) {
    let mut l = ledger("100000");
    for i in 0..wins + losses {
        buy(&mut l, "ETHUSDT", "100", "1", T0);
        let exit = if i < wins { "200" } else { "50" };
        let trade = sell(&mut l, "ETHUSDT", exit, "1", T0).unwrap();
        e.on_trade_closed(&trade);
    }
}

#[test]
fn kelly_stats_are_win_rate_and_payoff() {
    let mut s = KellyStats::default();
    for pnl in [
        "100", "100", "100", "100", "100", "100", "-50", "-50", "-50", "-50", "0",
    ] {
        s.record(m(pnl));
    }
    assert_eq!((s.trades, s.wins, s.losses), (11, 6, 4));
    // W = 6/11, R = 100/50 = 2, f* = W − (1 − W)/2.
    let w = d("6") / d("11");
    assert_eq!(s.win_rate(), Some(w));
    assert_eq!(s.payoff(), Some(d("2")));
    assert_eq!(s.kelly(), Some(w - (Decimal::ONE - w) / d("2")));
    assert_eq!(KellyStats::default().kelly(), None);
}

#[test]
fn capped_kelly_from_the_bots_own_trades() {
    // 6 wins of 100, 4 losses of 50: W 0.6, R 2, f* = 0.6 − 0.4/2 = 0.4;
    // half Kelly 20 % of equity 10000 = 2000 (cap 25 % does not bind).
    let mut e = with_sizing(kelly("25", 10));
    feed(&mut e, 6, 4);
    let l = ledger("10000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!(
        (a.notional, a.quantity, a.sizing.method),
        (m("2000"), q("20"), "kelly")
    );
    assert!(
        a.sizing.explanation.starts_with("kelly: 10 trades, win rate 60 %, payoff 2 → Kelly 40 % × 0.5 = 20 %, cap 25 % → 20 % of equity 10000 = 2000"),
        "{}",
        a.sizing.explanation
    );
    // Cap 15 % binds: 1500.
    let mut e = with_sizing(kelly("15", 10));
    feed(&mut e, 6, 4);
    assert_eq!(
        approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).notional,
        m("1500")
    );
    // Nothing lost yet: f* = W = 1, half = 50 %, capped at 25 % = 2500.
    let mut e = with_sizing(kelly("25", 3));
    feed(&mut e, 3, 0);
    assert_eq!(
        approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).notional,
        m("2500")
    );
}

#[test]
fn kelly_falls_back_until_enough_trades_and_refuses_without_edge() {
    let mut e = with_sizing(kelly("25", 10));
    feed(&mut e, 6, 3);
    let l = ledger("10000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!((a.notional, a.sizing.method), (m("500"), "kellyFallback"));
    assert!(
        a.sizing.explanation.starts_with(
            "kelly fallback: 9 of 10 closed trades needed → 5 % of equity 10000 = 500"
        )
    );
    // W 0.2, R 2: f* = 0.2 − 0.8/2 = −0.2.
    let mut e = with_sizing(kelly("25", 10));
    feed(&mut e, 2, 8);
    let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::Sizing);
    assert_eq!(
        r.message,
        "kelly: 10 trades, win rate 20 %, payoff 2 → Kelly -20 %: no edge, no entry"
    );
}

#[test]
fn rounding_helpers() {
    assert_eq!(
        floor_to_step(d("1.23456789999"), d("0.00000001")),
        d("1.23456789")
    );
    assert_eq!(floor_to_step(d("7.9"), d("0.5")), d("7.5"));
    assert_eq!(floor_to_step(d("-1"), d("0.1")), Decimal::ZERO);
    assert_eq!(decimal_from_f64(0.1), Some(d("0.1")));
    assert_eq!(decimal_from_f64(f64::INFINITY), None);
}

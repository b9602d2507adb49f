use super::*;
use crate::amount::Amount;

fn window() -> WindowMetrics {
    WindowMetrics {
        start_equity: Decimal::from(1000),
        money_base: None,
        equity: Decimal::from(990),
        return_pct: -1.0,
        drawdown_pct: 2.0,
        max_drawdown_pct: 3.0,
        trades: 10,
        wins: 5,
        win_rate_pct: 50.0,
        sharpe: 0.5,
        sortino: 0.5,
        profit_factor: 1.0,
        daily_pnl: Decimal::ZERO,
        losing_days_in_a_row: 1,
        orders: 20,
        order_errors: 0,
    }
}

fn message(w: &WindowMetrics, limits: &PhaseLimits, phase: Phase) -> String {
    breach(w, limits, phase).expect("a breach").message
}

#[test]
fn each_halting_limit_is_detected_at_its_boundary() {
    let limits = PhaseLimits::limited_real_default(); // dd 10 %, total 10 % / 500, 3 days
    assert_eq!(breach(&window(), &limits, Phase::LimitedReal), None);

    let mut dd = window();
    dd.drawdown_pct = 10.0;
    let msg = message(&dd, &limits, Phase::LimitedReal);
    assert!(
        msg.contains("limits.limitedReal.maxDrawdownPct = 10"),
        "{msg}"
    );
    dd.drawdown_pct = 9.99;
    assert_eq!(breach(&dd, &limits, Phase::LimitedReal), None);

    let mut loss = window();
    loss.equity = Decimal::from(900); // 10 % of 1000
    let msg = message(&loss, &limits, Phase::LimitedReal);
    assert!(
        msg.contains("total loss 100 (10 %)") && msg.contains("maxTotalLossPct"),
        "{msg}"
    );

    let mut big = window();
    big.start_equity = Decimal::from(10_000);
    big.equity = Decimal::from(9_500); // 5 %, but the absolute cap is 500
    let b = breach(&big, &limits, Phase::LimitedReal).unwrap();
    assert_eq!(b.limit, HaltingLimit::MaxTotalLoss);
    assert!(b.message.contains("maxTotalLoss = 500"), "{}", b.message);

    let mut days = window();
    days.losing_days_in_a_row = 3;
    let msg = message(&days, &limits, Phase::LimitedReal);
    assert!(msg.contains("3 losing days in a row"), "{msg}");
}

#[test]
fn undefined_drawdown_is_not_a_breach_and_gains_are_not_losses() {
    let mut w = window();
    w.drawdown_pct = f64::NAN;
    w.equity = Decimal::from(2000);
    assert_eq!(
        breach(&w, &PhaseLimits::paper_default(), Phase::Paper),
        None
    );
}

#[test]
fn the_limited_real_hard_cap_halts_a_policy_without_an_absolute_cap() {
    // A policy that removed LimitedReal's absolute total-loss cap and raised
    // the percentage: a 600 loss on 10 000 is 6 % (under 50 %), but the hard
    // cap of 500 holds once the limits in force are used.
    let mut loose = PhaseLimits::limited_real_default();
    loose.max_total_loss = None;
    loose.max_total_loss_pct = crate::Percent::whole(50);
    let mut w = window();
    w.start_equity = Decimal::from(10_000);
    w.equity = Decimal::from(9_400);
    assert_eq!(breach(&w, &loose, Phase::LimitedReal), None);
    let b = breach(&w, &loose.effective(Phase::LimitedReal), Phase::LimitedReal).unwrap();
    assert_eq!(b.limit, HaltingLimit::MaxTotalLoss);
    assert_eq!(
        loose.effective(Phase::LimitedReal).max_total_loss,
        Some(Amount::from(500))
    );
}

#[test]
fn numbers_that_overflow_halt_instead_of_panicking() {
    let mut w = window();
    w.start_equity = Decimal::MAX;
    w.equity = Decimal::MIN;
    let b = breach(&w, &PhaseLimits::paper_default(), Phase::Paper).unwrap();
    assert_eq!(b.limit, HaltingLimit::UnreadableEquity);

    let mut w = window();
    w.start_equity = Decimal::MAX;
    w.equity = Decimal::ONE;
    // A loss of almost MAX: × 100 overflows, still no panic.
    assert!(breach(&w, &PhaseLimits::paper_default(), Phase::Paper).is_some());
}

/// After a capital transfer the start equity is scaled (time-weighted
/// returns) and no longer the money the bot was given: the absolute
/// `maxTotalLoss` counts from the money base the engine reports.
#[test]
fn the_absolute_total_loss_counts_from_the_money_base_after_a_transfer() {
    let mut limits = PhaseLimits::paper_default();
    limits.max_total_loss_pct = crate::amount::Percent::whole(90);
    limits.max_total_loss = Some(Amount::from(300u32));
    // 1000 given, 200 lost (800), then 1000 more in: equity 1800. The
    // scaled start is 1000 × 1800 / 800 = 2250; the money base is 2000.
    let mut w = window();
    w.start_equity = Decimal::from(2250);
    w.money_base = Some(Decimal::from(2000));
    w.equity = Decimal::from(1800);
    w.drawdown_pct = 0.0;
    w.losing_days_in_a_row = 0;
    assert_eq!(
        breach(&w, &limits, Phase::Paper),
        None,
        "200 lost of 2000 given is under the cap of 300"
    );
    w.equity = Decimal::from(1700);
    let b = breach(&w, &limits, Phase::Paper).expect("300 lost");
    assert_eq!(b.limit, HaltingLimit::MaxTotalLoss);
    assert!(b.message.contains("total loss 300"), "{}", b.message);
}

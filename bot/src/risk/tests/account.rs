//! Account limits on equity: daily loss pause, drawdown / total loss /
//! losing-days halts, and the LimitedReal hard caps.

use super::*;
use botfleet_crds::Amount;

fn amount(s: &str) -> Option<Amount> {
    Some(s.parse().unwrap())
}

const H: i64 = 60 * MIN;

#[test]
fn daily_loss_pauses_entries_until_the_next_utc_day() {
    // Paper: 5 % of the day's starting equity 10000 = 500.
    let mut e = engine(plain("10000"));
    let l = ledger("10000");
    assert!(e.on_equity(T0 + H, m("9500.01")).is_empty());
    let a = e.on_equity(T0 + 2 * H, m("9500"));
    let pause = a.pauses().next().expect("daily loss reached").clone();
    assert_eq!(
        (pause.limit, pause.until),
        (Limit::DailyLossLimitPct, T0 + DAY)
    );
    assert_eq!(
        pause.reason,
        "loss 500 today (day started at 10000, equity 9500), limit 500 (dailyLossLimitPct); no entries until the next UTC day"
    );
    // Paused once, not again on every tick.
    assert!(e.on_equity(T0 + 3 * H, m("9400")).is_empty());
    let v = e.check_entry(T0 + DAY - 1, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::DailyLossLimitPct);
    assert!(
        r.message
            .starts_with("entries paused until 2026-01-02 00:00 UTC: loss 500 today"),
        "{}",
        r.message
    );
    // The next UTC day starts from the equity the old day ended with.
    assert!(e.on_equity(T0 + DAY, m("9400")).is_empty());
    assert_eq!(e.state().day_start_equity(), m("9400"));
    assert_eq!(e.state().losing_days_in_row(), 1);
    approved(&e.check_entry(T0 + DAY, &sym("BTCUSDT"), p("100"), &l, None));
}

#[test]
fn drawdown_halt_fires_on_the_first_tick_at_the_limit_and_latches() {
    // Paper: 20 % from the peak halts. The whole capital in one position so
    // equity follows the price.
    let mut c = plain("10000");
    c.tiers.clear();
    c.limits.stop_loss_pct = "50".parse().unwrap();
    let mut e = engine(c);
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "100", T0);
    let closes = ["110", "120", "100", "96.01", "96", "95", "130"];
    let mut halts = Vec::new();
    for (i, close) in closes.iter().enumerate() {
        let a = tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + i as i64 * MIN, close, close, close),
        );
        halts.push(a.halt().cloned());
    }
    // 9601 is 19.99 % below the peak 12000; 9600 is exactly 20 %.
    let fired: Vec<usize> = halts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.as_ref().map(|_| i))
        .collect();
    assert_eq!(fired, [4]);
    let h = halts[4].clone().unwrap();
    assert_eq!(
        (h.limit, h.at, h.id.as_str()),
        (Limit::MaxDrawdownPct, T0 + 4 * MIN, "halt-1767225840000-1")
    );
    assert_eq!(
        h.reason,
        "drawdown 20 % from the peak 12000 (equity 9600), limit 20 %"
    );
    // Equity recovered to 13000: still halted.
    assert_eq!(
        e.halted().map(|h| h.id.as_str()),
        Some("halt-1767225840000-1")
    );
    assert_eq!(e.state().peak_equity(), m("13000"));
}

#[test]
fn total_loss_halts_at_the_percentage_and_at_the_amount() {
    let mut c = plain("10000");
    c.limits.max_drawdown_pct = "50".parse().unwrap();
    // Paper: 30 % of the phase capital 10000 = 3000.
    let mut e = engine(c.clone());
    assert!(e.on_equity(T0 + MIN, m("7000.01")).halt().is_none());
    let a = e.on_equity(T0 + 2 * MIN, m("7000"));
    let h = a.halt().expect("total loss reached");
    assert_eq!(h.limit, Limit::MaxTotalLossPct);
    assert_eq!(
        h.reason,
        "loss 3000 since the phase started with 10000 (equity 7000), limit 3000 (maxTotalLossPct)"
    );

    c.limits.max_total_loss = amount("1000");
    let mut e = engine(c);
    assert!(e.on_equity(T0 + MIN, m("9000.01")).halt().is_none());
    assert_eq!(
        e.on_equity(T0 + 2 * MIN, m("9000")).halt().unwrap().limit,
        Limit::MaxTotalLoss
    );
}

fn losing_days(days: &[&str]) -> (RiskEngine, Vec<Option<Halt>>) {
    let mut c = plain("10000");
    c.limits.max_losing_days_in_row = 3;
    let mut e = engine(c);
    let halts = days
        .iter()
        .enumerate()
        .map(|(i, eq)| e.on_equity(T0 + i as i64 * DAY + H, m(eq)).halt().cloned())
        .collect();
    (e, halts)
}

#[test]
fn losing_days_in_a_row_halt_when_the_third_losing_day_closes() {
    let (e, halts) = losing_days(&["9990", "9980", "9970", "9970"]);
    assert_eq!(halts[..3], [None, None, None]);
    let h = halts[3].clone().expect("third losing day closed");
    assert_eq!(
        (h.limit, h.at),
        (Limit::MaxLosingDaysInRow, T0 + 3 * DAY + H)
    );
    assert_eq!(
        h.reason,
        "3 losing UTC days in a row (the last, 2026-01-03, made -10), limit 3"
    );
    assert_eq!(e.state().losing_days_in_row(), 3);

    // A day without loss resets the streak.
    let (e, halts) = losing_days(&["9990", "9990", "9980", "9970", "9970"]);
    assert!(halts.iter().all(Option::is_none));
    assert_eq!(e.state().losing_days_in_row(), 2);
}

#[test]
fn limited_real_seed_caps_bind() {
    // Capital 10000: 5 % would be 500, 1 % daily 100, 10 % total 1000; the
    // seed amounts are smaller and bind.
    let mut e = engine(config(Phase::LimitedReal, "10000"));
    let mut l = ledger("10000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!(
        (a.notional, a.sizing.capped_by),
        (m("250"), Some(Limit::MaxPosition))
    );
    // 10 trades a day.
    for _ in 1..10 {
        approved(&e.check_entry(T0 + MIN, &sym("BTCUSDT"), p("100"), &l, None));
    }
    assert_eq!(
        refused(&e.check_entry(T0 + MIN, &sym("BTCUSDT"), p("100"), &l, None)).limit,
        Limit::MaxTradesPerDay
    );
    // 3 positions.
    for s in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
        buy(&mut l, s, "100", "1", T0);
    }
    let v = e.check_entry(T0 + DAY, &sym("XRPUSDT"), p("100"), &l, None);
    assert_eq!(refused(&v).message, "3 positions open, limit 3");
    // $50 daily loss, then $500 total loss.
    assert!(e.on_equity(T0 + DAY + MIN, m("9950.01")).is_empty());
    let a = e.on_equity(T0 + DAY + 2 * MIN, m("9950"));
    assert_eq!(a.pauses().next().unwrap().limit, Limit::DailyLossLimit);
    assert!(
        e.on_equity(T0 + DAY + 3 * MIN, m("9500.01"))
            .halt()
            .is_none()
    );
    assert_eq!(
        e.on_equity(T0 + DAY + 4 * MIN, m("9500"))
            .halt()
            .unwrap()
            .limit,
        Limit::MaxTotalLoss
    );
}

#[test]
fn limited_real_hard_caps_hold_whatever_the_config_says() {
    let mut c = config(Phase::LimitedReal, "100000");
    c.limits.max_position = amount("5000");
    c.limits.max_order_notional = None;
    c.limits.daily_loss_limit = amount("2000");
    c.limits.max_total_loss = None;
    let e = engine(c.clone());
    let lim = e.limits();
    assert_eq!(
        (
            lim.max_position,
            lim.max_order_notional,
            lim.daily_loss_limit,
            lim.max_total_loss
        ),
        (amount("250"), amount("250"), amount("50"), amount("500"))
    );
    // A tighter configured cap stays.
    c.limits.max_position = amount("100");
    let mut e = engine(c.clone());
    let l = ledger("100000");
    assert_eq!(
        approved(&e.check_entry(T0, &sym("BTCUSDT"), p("10"), &l, None)).notional,
        m("100")
    );
    // Other phases have no hard caps.
    let mut s = config(Phase::Scaling, "100000");
    s.limits.max_position = amount("5000");
    assert_eq!(engine(s).limits().max_position, amount("5000"));
    assert_eq!(HardCaps::seed().daily_loss_limit, "50".parse().unwrap());
}

#[test]
fn an_unchanged_equity_is_checked_again_once_the_floors_move() {
    // A flat account reports the same equity candle after candle, and a
    // clear verdict on it is reused until the floors move.
    let mut c = plain("10000");
    c.limits.max_drawdown_pct = "20".parse().unwrap();
    c.limits.daily_loss_limit_pct = "50".parse().unwrap();
    let mut e = engine(c.clone());
    for k in 1..=3 {
        assert!(e.on_equity(T0 + k * MIN, m("9000")).is_empty());
    }
    // A tighter policy: a 1000 loss limit, which 9000 is at.
    let mut tight = c.clone();
    tight.limits.max_total_loss = amount("1000");
    e.reconfigure(tight).unwrap();
    let a = e.on_equity(T0 + 4 * MIN, m("9000"));
    assert_eq!(
        a.halt().map(|h| h.limit),
        Some(Limit::MaxTotalLoss),
        "the same equity against the new floor"
    );

    // Resumed, the drawdown counts from the equity at the resume.
    let mut e = engine(c);
    assert!(e.on_equity(T0 + MIN, m("12000")).is_empty());
    let a = e.on_equity(T0 + 2 * MIN, m("9000"));
    assert_eq!(a.halt().map(|h| h.limit), Some(Limit::MaxDrawdownPct));
    let id = e.halted().unwrap().id.clone();
    e.resume(&id).unwrap();
    for k in 3..=5 {
        assert!(e.on_equity(T0 + k * MIN, m("9000")).is_empty());
    }
    assert_eq!(e.state().peak_equity(), m("9000"));
    let a = e.on_equity(T0 + 6 * MIN, m("7200"));
    assert_eq!(
        a.halt().map(|h| h.limit),
        Some(Limit::MaxDrawdownPct),
        "20 % below 9000"
    );
}

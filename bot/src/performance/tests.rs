use super::*;
use crate::domain::{Money, Price, Quantity, Symbol, Timeframe};
use crate::ledger::ClosedTrade;
use proptest::prelude::*;

const H: i64 = 3_600_000;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn tracker(start: &str) -> Performance {
    Performance::new(Timeframe::D1, "Paper", 0, m(start), EquityCurve::full())
}

fn trade(pnl: &str) -> ClosedTrade {
    ClosedTrade {
        symbol: Symbol::new("BTCUSDT"),
        opened_at: 0,
        closed_at: 1,
        quantity: Quantity::from(1),
        entry_price: Price::from(100),
        exit_price: Price::from(100),
        buy_notional: m("100"),
        sell_notional: m("100") + m(pnl),
        fees: Money::ZERO,
        pnl: m(pnl),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn return_and_drawdown_from_the_running_peak() {
    let mut p = tracker("100");
    let mut seen = Vec::new();
    for (i, e) in ["120", "90", "100", "130", "117"].iter().enumerate() {
        p.on_candle(i as i64 * H, m(e), false);
        let w = p.overall();
        seen.push((w.drawdown_pct(), w.max_drawdown_pct()));
    }
    let expect = [
        (0.0, 0.0),
        (25.0, 25.0),
        (100.0 / 6.0, 25.0),
        (0.0, 25.0),
        (10.0, 25.0),
    ];
    for ((dd, mdd), (edd, emdd)) in seen.iter().zip(expect) {
        assert!(close(*dd, edd) && close(*mdd, emdd), "{seen:?}");
    }
    let w = p.overall();
    assert!(close(w.return_pct(), 17.0));
    assert_eq!(w.peak_equity(), m("130"));
    assert_eq!(w.equity(), m("117"));
}

#[test]
fn sharpe_and_sortino_match_hand_computed_values() {
    let mut p = tracker("100");
    for (i, e) in ["110", "99", "108.9"].iter().enumerate() {
        p.on_candle(i as i64 * H, m(e), true);
    }
    // Returns +10 %, −10 %, +10 %: mean 1/30, sample variance 1/75,
    // downside deviation √(0.01 / 3).
    let ppy = 365f64;
    let sharpe = p.overall().sharpe(ppy).unwrap();
    let sortino = p.overall().sortino(ppy).unwrap();
    assert!(close(sharpe, 75f64.sqrt() / 30.0 * ppy.sqrt()), "{sharpe}");
    assert!(
        close(sortino, 300f64.sqrt() / 30.0 * ppy.sqrt()),
        "{sortino}"
    );
    assert_eq!(p.periods_per_year(), Timeframe::D1.periods_per_year());
}

#[test]
fn undefined_statistics_are_none() {
    let mut p = tracker("100");
    assert_eq!(p.overall().sharpe(365.0), None);
    p.on_candle(0, m("101"), false);
    assert_eq!(p.overall().sharpe(365.0), None); // one return
    p.on_candle(H, m("102.01"), false);
    // Two equal returns: zero variance; no negative return: no Sortino.
    assert_eq!(p.overall().sortino(365.0), None);
    assert_eq!(p.overall().win_rate_pct(), None);
    assert_eq!(p.overall().profit_factor(), None);
    let json = serde_json::to_value(p.summary()).unwrap();
    assert!(json["overall"]["winRatePct"].is_null());
    assert!(json["overall"]["sortino"].is_null());
}

#[test]
fn win_rate_profit_factor_and_exposure() {
    let mut p = tracker("100");
    for pnl in ["10", "-5", "20", "0"] {
        p.record_trade(&trade(pnl));
    }
    for (i, pos) in [true, false, false, false].into_iter().enumerate() {
        p.on_candle(i as i64 * H, m("100"), pos);
    }
    let w = p.overall();
    assert_eq!((w.trades(), w.wins()), (4, 2));
    assert_eq!(w.win_rate_pct(), Some(50.0));
    assert_eq!(w.profit_factor(), Some(6.0));
    assert_eq!(w.exposure_pct(), 25.0);
    let s = w.summary(365.0);
    assert_eq!(
        (s.losses, s.gross_profit, s.gross_loss),
        (1, m("30"), m("5"))
    );
}

#[test]
fn daily_pnl_and_losing_days_in_a_row_follow_utc_days() {
    let day = DAY_MS;
    let mut p = tracker("100");
    let steps: [(i64, &str, u32, &str); 6] = [
        (0, "100", 0, "0"),
        (12 * H, "95", 0, "-5"),
        (day + H, "90", 1, "-5"),           // day 0 closed at −5
        (2 * day + 23 * H, "80", 2, "-10"), // day 1 closed at −5
        (3 * day, "85", 3, "5"),            // day 2 closed at −10
        (4 * day + 1, "84", 0, "-1"),       // day 3 closed at +5: streak reset
    ];
    for (t, e, streak, daily) in steps {
        p.on_candle(t, m(e), false);
        let w = p.overall();
        assert_eq!(w.losing_days_in_a_row(), streak, "at {t}");
        assert_eq!(w.daily_pnl(), m(daily), "at {t}");
    }
    let s = p.overall().summary(365.0);
    assert_eq!(
        (s.days_completed, s.losing_days, s.max_losing_days_in_a_row),
        (4, 3, 3)
    );
    // Negative times (before 1970) still split on UTC midnight.
    let mut p = Performance::new(Timeframe::H1, "Paper", -H, m("10"), EquityCurve::full());
    p.on_candle(-H, m("9"), false);
    p.on_candle(0, m("9"), false);
    assert_eq!(p.overall().losing_days_in_a_row(), 1);
}

#[test]
fn a_new_window_restarts_the_phase_figures_and_keeps_the_overall_series() {
    let mut p = tracker("100");
    p.on_candle(0, m("80"), true);
    p.record_trade(&trade("-20"));
    p.record_order(true);
    p.record_order(false);
    p.start_window("Sandbox", H);
    assert_eq!(p.window().label(), "Sandbox");
    assert_eq!(p.window().start_equity(), m("80"));
    assert_eq!(p.window().trades(), 0);
    p.on_candle(H, m("88"), false);
    p.on_candle(2 * H, m("84"), false);
    p.record_trade(&trade("4"));
    let s = p.summary();
    assert_eq!(s.window.label, "Sandbox");
    assert_eq!(s.window.start_time, H);
    assert!(close(s.window.return_pct, 5.0));
    assert!(close(s.window.max_drawdown_pct, 100.0 * 4.0 / 88.0));
    assert_eq!((s.window.trades, s.window.orders), (1, 0));
    assert_eq!(s.overall.label, OVERALL);
    assert!(close(s.overall.return_pct, -16.0));
    assert!(close(s.overall.max_drawdown_pct, 20.0));
    assert_eq!(
        (s.overall.trades, s.overall.orders, s.overall.order_errors),
        (2, 2, 1)
    );
    assert_eq!(p.curve().points().len(), 3);
}

#[test]
fn summary_serializes_money_as_strings() {
    let mut p = tracker("1000.50");
    p.on_candle(0, m("1010.25"), false);
    let json = serde_json::to_value(p.summary()).unwrap();
    assert_eq!(json["window"]["equity"], "1010.25");
    assert_eq!(json["window"]["netPnl"], "9.75");
    assert_eq!(json["window"]["label"], "Paper");
    assert!(json["window"]["returnPct"].is_f64());
    let back: PerformanceSummary = serde_json::from_value(json).unwrap();
    assert_eq!(back, p.summary());
}

#[test]
fn bounded_curve_decimates_and_keeps_the_latest_point() {
    let mut c = EquityCurve::bounded(4);
    for t in 0..10 {
        c.push(t, Money::from(t));
    }
    assert!(c.points().len() <= 4);
    assert_eq!(c.stride(), 4);
    let times: Vec<i64> = c.points().iter().map(|p| p.time).collect();
    assert_eq!(times, [0, 4, 8]);
    assert_eq!(c.last().unwrap().time, 9);
    assert_eq!(c.to_vec().last().unwrap().time, 9);
    assert_eq!(c.len_seen(), 10);
    let mut full = EquityCurve::full();
    for t in 0..10 {
        full.push(t, Money::from(10 - t));
    }
    assert_eq!(full.points().len(), 10);
    let dd = full.drawdown_series();
    assert!(close(dd[9].1, 90.0));
    let mut none = EquityCurve::bounded(0);
    none.push(1, Money::from(1));
    assert!(none.points().is_empty());
    assert_eq!(none.to_vec().len(), 1);
}

proptest! {
    /// Drawdown is never negative, max drawdown never decreases and equals a
    /// from-scratch recomputation over the whole curve; Sharpe matches a
    /// two-pass computation.
    #[test]
    fn drawdown_and_ratios_match_a_naive_recomputation(
        cents in prop::collection::vec(1i64..10_000_000, 1..200)
    ) {
        let start = m("1000");
        let mut p = Performance::new(Timeframe::M1, "Paper", 0, start, EquityCurve::bounded(16));
        let mut prev_max = 0.0;
        let mut peak = start.to_f64();
        let mut naive_max: f64 = 0.0;
        let mut rets = Vec::new();
        let mut prev = start.to_f64();
        for (i, c) in cents.iter().enumerate() {
            let e = Money::from_scaled(*c, 2);
            p.on_candle(i as i64 * 60_000, e, i % 2 == 0);
            let w = p.overall();
            prop_assert!(w.drawdown_pct() >= 0.0);
            prop_assert!(w.max_drawdown_pct() >= prev_max);
            prop_assert!(w.max_drawdown_pct() >= w.drawdown_pct());
            prev_max = w.max_drawdown_pct();
            peak = peak.max(e.to_f64());
            naive_max = naive_max.max((peak - e.to_f64()) / peak * 100.0);
            prop_assert!((w.max_drawdown_pct() - naive_max).abs() < 1e-9);
            rets.push(e.to_f64() / prev - 1.0);
            prev = e.to_f64();
        }
        prop_assert!(p.curve().points().len() <= 16);
        let n = rets.len() as f64;
        if rets.len() >= 2 {
            let mean = rets.iter().sum::<f64>() / n;
            let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let ppy = Timeframe::M1.periods_per_year();
            if var > 1e-12 {
                let naive = mean / var.sqrt() * ppy.sqrt();
                let got = p.overall().sharpe(ppy).unwrap();
                prop_assert!((got - naive).abs() <= 1e-6 * naive.abs().max(1.0), "{} vs {}", got, naive);
            }
        }
    }
}

/// A transfer is neither return nor drawdown: the same trading with and
/// without a transfer in between gives the same return (time-weighted),
/// Sharpe, drawdown and daily P&L; the money P&L leaves the transfer out.
#[test]
fn transfers_chain_time_weighted_and_are_not_returns() {
    let mut plain = tracker("100");
    let mut moved = tracker("100");
    for (i, (a, b)) in [("110", "110"), ("99", "198"), ("103.95", "207.9")]
        .iter()
        .enumerate()
    {
        if i == 1 {
            // 110 in after the first candle: the account doubles.
            moved.transfer(m("110"));
            assert!(close(moved.window().return_pct(), 10.0));
            assert_eq!(moved.window().start_equity(), m("200"));
            assert_eq!(moved.window().peak_equity(), m("220"));
        }
        plain.on_candle(i as i64 * H, m(a), false);
        moved.on_candle(i as i64 * H, m(b), false);
    }
    let (p, q) = (plain.window().summary(365.0), moved.window().summary(365.0));
    assert!(close(q.return_pct, p.return_pct) && close(q.return_pct, 3.95));
    assert!(close(q.drawdown_pct, p.drawdown_pct) && close(q.max_drawdown_pct, 10.0));
    assert!(close(q.sharpe.unwrap(), p.sharpe.unwrap()));
    assert_eq!((q.net_transfers, q.net_pnl), (m("110"), m("-2.1")));
    assert_eq!(
        q.daily_pnl,
        m("-2.1"),
        "the day's P&L leaves the transfer out"
    );
    assert_eq!(p.net_pnl, m("3.95"));
    // A cut keeps the drawdown in %: 198 → 99 with the peak 220 → 110.
    moved.transfer(m("-103.95"));
    assert!(close(moved.window().drawdown_pct(), q.drawdown_pct));
    assert!(close(moved.overall().return_pct(), 3.95));
}

#[test]
fn a_mark_between_candles_moves_equity_and_drawdown_but_adds_no_candle() {
    let mut p = tracker("100");
    p.on_candle(0, m("120"), true);
    // A flatten fills at 90 between candles.
    p.mark(m("90"));
    let w = p.window();
    assert_eq!(w.equity(), m("90"));
    assert!(close(w.drawdown_pct(), 25.0) && close(w.max_drawdown_pct(), 25.0));
    // A window started now starts from the re-marked equity.
    p.start_window("Sandbox", H);
    assert_eq!(p.window().equity(), m("90"));
    let s = p.overall().summary(p.periods_per_year());
    assert_eq!(s.candles, 1, "a mark is not a candle");
    // The next candle's return spans the fill: 120 → 99.
    p.on_candle(H, m("99"), false);
    assert!(close(p.overall().return_pct(), -1.0));
    assert_eq!(p.overall().summary(p.periods_per_year()).candles, 2);
}

#[test]
fn the_first_window_reads_as_the_whole_run_and_is_persisted_whole() {
    // Everything that moves a series, before any window is started.
    let mut p = tracker("100");
    p.on_candle(0, m("120"), true);
    p.record_order(true);
    p.record_order(false);
    p.record_trade(&trade("20"));
    p.transfer(m("30"));
    p.on_candle(H, m("140"), false);
    p.mark(m("135"));
    p.on_candle(30 * H, m("90"), true);
    let (overall, window) = (p.overall().summary(365.0), p.window().summary(365.0));
    assert_eq!(window.label, "Paper");
    assert_eq!(
        WindowSummary {
            label: OVERALL.to_string(),
            ..window
        },
        overall,
        "the first window is the whole run"
    );

    // The persisted form holds both series; one restored goes on as the
    // original does, window and all.
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["window"]["label"], "Paper");
    assert_eq!(json["window"]["candles"], json["overall"]["candles"]);
    let mut restored: Performance = serde_json::from_value(json).unwrap();
    for q in [&mut p, &mut restored] {
        q.on_candle(31 * H, m("95"), true);
        q.record_trade(&trade("-5"));
    }
    assert_eq!(restored.summary(), p.summary());
    assert_eq!(
        serde_json::to_value(&restored).unwrap(),
        serde_json::to_value(&p).unwrap()
    );

    // A started window leaves the whole run behind.
    p.start_window("Sandbox", 32 * H);
    p.on_candle(32 * H, m("100"), true);
    let s = p.summary();
    assert_eq!((s.window.label.as_str(), s.window.candles), ("Sandbox", 1));
    assert_eq!(s.overall.candles, 5);
}

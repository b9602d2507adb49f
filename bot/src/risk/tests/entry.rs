//! Pre-trade limits: counts, cooldown, caps and sizing floors.

use super::*;
use botfleet_crds::Amount;

fn amount(s: &str) -> Option<Amount> {
    Some(s.parse().unwrap())
}

#[test]
fn max_open_positions_refuses_a_new_symbol_at_the_limit_but_not_adding() {
    let mut c = plain("10000");
    c.limits.max_open_positions = 3;
    let mut e = engine(c);
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "1", T0);
    buy(&mut l, "ETHUSDT", "100", "1", T0);
    // 2 open, limit 3: a third is fine.
    approved(&e.check_entry(T0, &sym("SOLUSDT"), p("100"), &l, None));
    buy(&mut l, "SOLUSDT", "100", "1", T0);
    let v = e.check_entry(T0, &sym("XRPUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::MaxOpenPositions);
    assert_eq!(r.limit.as_str(), "maxOpenPositions");
    assert_eq!(r.message, "3 positions open, limit 3");
    // Adding to an open position does not open a new one.
    approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None));
}

#[test]
fn trades_per_day_allows_the_limit_then_refuses_until_the_next_utc_day() {
    let mut c = plain("10000");
    c.limits.max_trades_per_day = 2;
    let mut e = engine(c);
    let l = ledger("10000");
    let noon = T0 + 12 * 60 * MIN;
    approved(&e.check_entry(noon, &sym("BTCUSDT"), p("100"), &l, None));
    approved(&e.check_entry(noon, &sym("ETHUSDT"), p("100"), &l, None));
    let v = e.check_entry(T0 + DAY - 1, &sym("SOLUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::MaxTradesPerDay);
    assert!(
        r.message
            .starts_with("2 entries today, limit 2; next entry after 2026-01-02 00:00 UTC"),
        "{}",
        r.message
    );
    approved(&e.check_entry(T0 + DAY, &sym("SOLUSDT"), p("100"), &l, None));
    assert_eq!(e.state().trades_today(), 1);
}

#[test]
fn symbol_cooldown_runs_from_the_close_to_the_minute() {
    let mut c = plain("10000");
    c.limits.symbol_cooldown_minutes = 15;
    let mut e = engine(c);
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "1", T0);
    let closed_at = T0 + 10 * MIN;
    let trade = sell(&mut l, "BTCUSDT", "101", "1", closed_at).unwrap();
    e.on_trade_closed(&trade);
    let v = e.check_entry(
        closed_at + 15 * MIN - 1,
        &sym("BTCUSDT"),
        p("100"),
        &l,
        None,
    );
    let r = refused(&v);
    assert_eq!(r.limit, Limit::SymbolCooldownMinutes);
    assert!(
        r.message
            .contains("next entry at 2026-01-01 00:25 UTC (1 min left)"),
        "{}",
        r.message
    );
    // Another symbol is not affected.
    approved(&e.check_entry(closed_at + MIN, &sym("ETHUSDT"), p("100"), &l, None));
    approved(&e.check_entry(closed_at + 15 * MIN, &sym("BTCUSDT"), p("100"), &l, None));
}

#[test]
fn position_cap_is_the_smaller_of_percent_and_amount_and_reduces_the_size() {
    // Paper 25 % of 10000 = 2500 (BTC is tier 1, 25 %).
    let mut e = engine(plain("10000"));
    let l = ledger("10000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!((a.notional, a.quantity), (m("2500"), q("25")));
    assert_eq!(a.sizing.capped_by, Some(Limit::MaxPositionPct));
    assert_eq!(a.sizing.target, m("10000"));

    let mut c = plain("10000");
    c.limits.max_position = amount("1000");
    let mut e = engine(c.clone());
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!(
        (a.notional, a.sizing.capped_by),
        (m("1000"), Some(Limit::MaxPosition))
    );
    assert!(a.sizing.explanation.contains("capped by maxPosition: cap 1000 (tier 1: 25 % of capital 10000 = 2500, maxPosition 1000) − held 0 = 1000"), "{}", a.sizing.explanation);

    c.limits.max_position = amount("2500.01");
    let mut e = engine(c);
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!(
        (a.notional, a.sizing.capped_by),
        (m("2500"), Some(Limit::MaxPositionPct))
    );
}

#[test]
fn position_cap_counts_what_is_held_and_refuses_at_the_cap() {
    let mut e = engine(plain("10000"));
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "20", T0);
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!(a.notional, m("500"));
    buy(&mut l, "BTCUSDT", "100", "5", T0);
    let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::MaxPositionPct);
    assert!(
        r.message
            .starts_with("BTCUSDT position 2500 is at the cap 2500"),
        "{}",
        r.message
    );
}

#[test]
fn max_order_notional_caps_each_order_exactly() {
    let mut c = plain("10000");
    c.limits.max_order_notional = amount("300");
    let mut e = engine(c);
    let l = ledger("10000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!((a.notional, a.quantity), (m("300"), q("3")));
    assert_eq!(a.sizing.capped_by, Some(Limit::MaxOrderNotional));
}

#[test]
fn free_cash_less_reserve_caps_and_a_too_small_result_is_refused() {
    let mut c = plain("10000");
    c.cash_reserve_pct = d("0.5");
    let mut e = engine(c);
    // 1000 cash − 0.5 % = 995.
    let l = ledger("1000");
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).clone();
    assert_eq!((a.notional, a.quantity), (m("995"), q("9.95")));
    assert_eq!(a.sizing.capped_by, Some(Limit::Cash));
    // 4 cash − 0.5 % = 3.98 < minimum order 5.
    let l = ledger("4");
    let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::Cash);
    assert!(
        r.message
            .starts_with("size 3.98 (0.0398 at 100) is below the minimum order 5"),
        "{}",
        r.message
    );
    // Exactly the minimum passes.
    let l = ledger("5");
    let mut c = plain("10000");
    c.cash_reserve_pct = Decimal::ZERO;
    let mut e = engine(c);
    assert_eq!(
        approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).notional,
        m("5")
    );
}

#[test]
fn a_method_size_below_the_minimum_names_min_notional() {
    let mut c = plain("10000");
    c.sizing.fixed_fraction.as_mut().unwrap().pct = "0.04".parse().unwrap(); // 4 of 10000
    let mut e = engine(c);
    let l = ledger("10000");
    let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::MinNotional);
    assert!(
        r.message
            .contains("fixedFraction 0.04 % of equity 10000 = 4"),
        "{}",
        r.message
    );
}

#[test]
fn quantity_is_rounded_down_to_the_step() {
    let mut e = engine(plain("10000"));
    let l = ledger("10000");
    // 2500 / 30000 = 0.083333.. → 0.08333333, notional 2499.9999.
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("30000"), &l, None)).clone();
    assert_eq!((a.quantity, a.notional), (q("0.08333333"), m("2499.9999")));
    let mut c = plain("10000");
    c.quantity_step = d("0.001");
    let mut e = engine(c);
    let a = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("30000"), &l, None)).clone();
    assert_eq!(a.quantity, q("0.083"));
}

#[test]
fn tiers_set_position_size_and_stop_loss_per_symbol() {
    // Paper allows 25 %: tier 1 (BTC) keeps 25 % / 3 %, tier 3 (PEPE) 10 % / 7 %.
    let mut e = engine(plain("10000"));
    let mut l = ledger("10000");
    let btc = approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None)).notional;
    let pepe = approved(&e.check_entry(T0, &sym("PEPEUSDT"), p("100"), &l, None)).notional;
    assert_eq!((btc, pepe), (m("2500"), m("1000")));

    buy(&mut l, "BTCUSDT", "100", "10", T0);
    buy(&mut l, "PEPEUSDT", "100", "10", T0);
    let t = T0 + MIN;
    assert!(tick(&mut e, &mut l, "BTCUSDT", &candle(t, "100", "97.01", "98")).is_empty());
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(t + MIN, "98", "97", "97.5"),
    );
    assert_eq!(a.exits().next().unwrap().trigger_price, p("97"));
    assert!(tick(&mut e, &mut l, "PEPEUSDT", &candle(t, "100", "93.01", "95")).is_empty());
    let a = tick(
        &mut e,
        &mut l,
        "PEPEUSDT",
        &candle(t + MIN, "95", "93", "94"),
    );
    let exit = a.exits().next().unwrap();
    assert_eq!(
        (exit.reason, exit.trigger_price),
        (ExitReason::StopLoss, p("93"))
    );
    assert_eq!(
        exit.message,
        "stop-loss: low 93 ≤ stop 93 (entry 100 − 7 %)"
    );
}

/// Defence in depth: an entry at a price ≤ 0 (bad market data every input
/// refuses) is refused before any sizing divides by it, and does not count
/// as one of the day's trades.
#[test]
fn an_entry_at_a_price_of_zero_is_refused_not_divided_by() {
    let mut e = engine(plain("10000"));
    let l = ledger("10000");
    for price in ["0", "-5"] {
        let v = e.check_entry(T0, &sym("BTCUSDT"), p(price), &l, None);
        let r = refused(&v);
        assert_eq!(r.limit, Limit::Sizing);
        assert!(
            r.message.contains("is not positive") && r.message.contains("BTCUSDT"),
            "{}",
            r.message
        );
    }
    assert_eq!(e.state().trades_today(), 0);
    let v = e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None);
    approved(&v);
}

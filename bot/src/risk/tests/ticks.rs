//! Per-tick exits and the flash-crash breaker.

use super::*;

/// Plain Paper config without tiers: the phase's stop-loss applies.
fn untiered(stop: &str) -> RiskConfig {
    let mut c = plain("10000");
    c.tiers.clear();
    c.limits.stop_loss_pct = stop.parse().unwrap();
    c
}

fn held(entry: &str) -> Ledger {
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", entry, "10", T0);
    l
}

#[test]
fn stop_loss_fires_when_the_low_reaches_the_stop() {
    let mut e = engine(untiered("5"));
    let mut l = held("100");
    let a = tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "101", "95.01", "96"));
    assert!(a.is_empty(), "{a:?}");
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + MIN, "96", "95", "95.5"),
    );
    let exits: Vec<_> = a.exits().collect();
    assert_eq!(exits.len(), 1);
    let x = exits[0];
    assert_eq!(
        (x.reason, x.quantity, x.trigger_price, x.entry_price),
        (ExitReason::StopLoss, q("10"), p("95"), p("100"))
    );
    assert_eq!(x.reason.limit(), Limit::StopLossPct);
    assert_eq!(x.message, "stop-loss: low 95 ≤ stop 95 (entry 100 − 5 %)");
}

#[test]
fn take_profit_fires_at_the_target_and_loses_to_a_stop_in_the_same_candle() {
    let mut c = untiered("5");
    c.limits.take_profit_pct = Some("10".parse().unwrap());
    let mut e = engine(c.clone());
    let mut l = held("100");
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0, "109.99", "99", "105")
        )
        .is_empty()
    );
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + MIN, "110", "104", "108"),
    );
    let x = a.exits().next().unwrap();
    assert_eq!(
        (x.reason, x.trigger_price),
        (ExitReason::TakeProfit, p("110"))
    );
    assert_eq!(
        x.message,
        "take-profit: high 110 ≥ target 110 (entry 100 + 10 %)"
    );

    // Both touched in one candle: the order inside it is unknown, the stop wins.
    let mut e = engine(c);
    let mut l = held("100");
    let a = tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "111", "94", "100"));
    assert_eq!(a.exits().next().unwrap().reason, ExitReason::StopLoss);
}

#[test]
fn trailing_stop_follows_the_highest_price_since_entry() {
    let mut c = untiered("10");
    c.limits.trailing_stop_pct = Some("5".parse().unwrap());
    let mut e = engine(c.clone());
    let mut l = held("100");
    // New high 120 → trailing level 114; the close 119 stays above.
    assert!(tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "120", "100", "119")).is_empty());
    assert_eq!(e.state().trailing_high(&sym("BTCUSDT")), Some(p("120")));
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + MIN, "119", "114.01", "115")
        )
        .is_empty()
    );
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + 2 * MIN, "116", "114", "114.5"),
    );
    let x = a.exits().next().unwrap();
    assert_eq!(
        (x.reason, x.trigger_price),
        (ExitReason::TrailingStop, p("114"))
    );
    assert_eq!(x.reason.limit(), Limit::TrailingStopPct);
    assert_eq!(
        x.message,
        "trailing stop: low 114 ≤ 114 (5 % below the high 120 since entry)"
    );

    // A close below the level raised by the same candle's high also exits.
    let mut e = engine(c);
    let mut l = held("100");
    let a = tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "130", "100", "123"));
    let x = a.exits().next().unwrap();
    assert_eq!(
        (x.reason, x.trigger_price),
        (ExitReason::TrailingStop, p("123.5"))
    );
}

#[test]
fn an_exit_is_sent_once_per_round_trip_until_it_fails() {
    let mut e = engine(untiered("5"));
    let mut l = held("100");
    assert_eq!(
        tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "100", "94", "94"))
            .exits()
            .count(),
        1
    );
    // The order is working: no second exit.
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + MIN, "94", "93", "93")
        )
        .is_empty()
    );
    e.exit_failed(&sym("BTCUSDT"));
    assert_eq!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + 2 * MIN, "94", "93", "93")
        )
        .exits()
        .count(),
        1
    );
    // Closed: the tracking ends; a new round trip is tracked from its own entry.
    let trade = sell(&mut l, "BTCUSDT", "93", "10", T0 + 3 * MIN).unwrap();
    e.on_trade_closed(&trade);
    assert_eq!(e.state().trailing_high(&sym("BTCUSDT")), None);
    buy(&mut l, "BTCUSDT", "90", "10", T0 + 4 * MIN);
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + 4 * MIN, "91", "85.51", "90")
        )
        .is_empty()
    );
    assert_eq!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + 5 * MIN, "90", "85.5", "86")
        )
        .exits()
        .count(),
        1
    );
}

#[test]
fn a_quiet_tick_returns_an_empty_unallocated_action_list() {
    let mut e = engine(untiered("5"));
    let mut l = held("100");
    for i in 0..10 {
        let a = tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + i * MIN, "101", "99", "100"),
        );
        assert!(a.is_empty());
        assert_eq!(a.0.capacity(), 0);
    }
}

fn flash_config() -> RiskConfig {
    // Paper's breaker: more than 10 % within 5 minutes pauses 60 minutes.
    let mut c = config(Phase::Paper, "10000");
    c.limits.symbol_cooldown_minutes = 0;
    c
}

#[test]
fn flash_crash_trips_on_more_than_the_move_and_pauses_entries() {
    let mut e = engine(flash_config());
    let mut l = ledger("10000");
    assert!(tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "100", "100", "100")).is_empty());
    // Exactly 10 %: not more than the limit.
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + MIN, "95", "90", "91")
        )
        .is_empty()
    );
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + 2 * MIN, "91", "89.99", "90"),
    );
    let pause = a.pauses().next().expect("breaker trips").clone();
    assert_eq!(pause.limit, Limit::FlashCrash);
    // From the tripping candle's close (00:03) plus 60 minutes.
    assert_eq!((pause.since, pause.until), (T0 + 2 * MIN, T0 + 63 * MIN));
    assert_eq!(
        pause.reason,
        "BTCUSDT moved -10.01 % within 5 min (100 at 2026-01-01 00:00 UTC → 89.99), limit 10 %; entries paused 60 min"
    );
    let v = e.check_entry(T0 + 63 * MIN - 1, &sym("ETHUSDT"), p("100"), &l, None);
    assert_eq!(refused(&v).limit, Limit::FlashCrash);
    approved(&e.check_entry(T0 + 63 * MIN, &sym("ETHUSDT"), p("100"), &l, None));
}

#[test]
fn flash_crash_only_counts_moves_within_the_window_and_upward_moves_too() {
    let run = |last: i64| {
        let mut e = engine(flash_config());
        let mut l = ledger("10000");
        tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "100", "99", "99"));
        for i in 1..last {
            tick(
                &mut e,
                &mut l,
                "BTCUSDT",
                &candle(T0 + i * MIN, "95", "94", "94"),
            );
        }
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + last * MIN, "94", "89", "89"),
        )
    };
    // 100 → 89 four minutes later trips; five minutes later 100 has left the window (95 → 89 is 6.3 %).
    assert_eq!(run(4).pauses().count(), 1);
    assert_eq!(run(5).pauses().count(), 0);

    let mut e = engine(flash_config());
    let mut l = ledger("10000");
    tick(&mut e, &mut l, "ETHUSDT", &candle(T0, "101", "100", "100"));
    assert!(
        tick(
            &mut e,
            &mut l,
            "ETHUSDT",
            &candle(T0 + MIN, "110", "104", "109")
        )
        .is_empty()
    );
    let a = tick(
        &mut e,
        &mut l,
        "ETHUSDT",
        &candle(T0 + 2 * MIN, "110.01", "108", "110"),
    );
    assert!(
        a.pauses()
            .next()
            .unwrap()
            .reason
            .starts_with("ETHUSDT moved 10.01 %")
    );
}

/// Defence in depth: every input refuses a price ≤ 0, and should one slip
/// through, the risk engine neither panics (the breaker divides by the
/// price the move started from) nor acts on it.
#[test]
fn a_candle_with_a_price_of_zero_is_ignored_without_panicking() {
    let mut c = untiered("5");
    c.limits.flash_crash.move_pct = "10".parse().unwrap();
    let mut e = engine(c);
    let mut l = held("100");
    assert!(tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "101", "99", "100")).is_empty());
    for bad in [
        candle(T0 + MIN, "100", "0", "100"),
        candle(T0 + 2 * MIN, "0", "0", "0"),
        candle(T0 + 3 * MIN, "100", "-1", "100"),
    ] {
        let a = e.on_candle(&sym("BTCUSDT"), &bad, &l);
        assert!(a.is_empty(), "{bad:?}: {a:?}");
    }
    // A real move afterwards is still measured from real prices.
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + 4 * MIN, "100", "80", "80"),
    );
    assert!(a.pauses().any(|p| p.limit == Limit::FlashCrash), "{a:?}");
}

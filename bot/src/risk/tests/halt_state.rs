//! Halt latch, resume by id, flatten, status, and the state round trip.

use super::*;
use botfleet_crds::HaltAction;

#[test]
fn manual_halt_latches_until_resumed_with_its_id() {
    let mut e = engine(plain("10000"));
    let mut l = ledger("10000");
    let h = e.halt(T0 + 5 * MIN, "operator: kill switch");
    assert_eq!(
        (h.id.as_str(), h.limit, h.action),
        (
            "halt-1767225900000-1",
            Limit::Halted,
            HaltAction::CancelOrders
        )
    );
    // Halting again keeps the first latch.
    assert_eq!(e.halt(T0 + 6 * MIN, "again").id, h.id);
    let v = e.check_entry(T0 + 7 * MIN, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::Halted);
    assert!(
        r.message.contains("halt-1767225900000-1") && r.message.contains("operator: kill switch"),
        "{}",
        r.message
    );
    // Ticks and a new equity peak do not clear it.
    tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + DAY, "100", "100", "100"),
    );
    e.on_equity(T0 + DAY + MIN, m("20000"));
    assert!(e.halted().is_some());

    let stale = e.resume("halt-1767225600000-1").unwrap_err();
    assert_eq!(
        stale,
        ResumeError::StaleHaltId {
            given: "halt-1767225600000-1".into(),
            current: h.id.clone()
        }
    );
    assert!(e.halted().is_some());
    assert_eq!(e.resume(&h.id).unwrap().id, h.id);
    assert!(matches!(
        e.resume(&h.id),
        Err(ResumeError::NotHalted { .. })
    ));
    approved(&e.check_entry(T0 + DAY + 2 * MIN, &sym("BTCUSDT"), p("100"), &l, None));
    // The next halt has a new id; the old one is stale for it.
    let h2 = e.halt(T0 + DAY + 3 * MIN, "again");
    assert_eq!(h2.id, "halt-1767312180000-2");
    assert!(matches!(
        e.resume(&h.id),
        Err(ResumeError::StaleHaltId { .. })
    ));
}

#[test]
fn a_halt_can_carry_the_operators_id() {
    let mut e = engine(plain("10000"));
    let h = e.halt_with_id(T0, "operator: drawdown seen", "op-7f3a");
    assert_eq!((h.id.as_str(), h.limit), ("op-7f3a", Limit::Halted));
    // Already halted: the first id stays.
    assert_eq!(e.halt_with_id(T0 + MIN, "again", "op-other").id, "op-7f3a");
    assert!(matches!(
        e.resume("op-other"),
        Err(ResumeError::StaleHaltId { .. })
    ));
    e.resume("op-7f3a").unwrap();
    // No id given: the engine names it.
    assert_eq!(
        e.halt_with_id(T0 + 2 * MIN, "x", "").id,
        "halt-1767225720000-2"
    );
}

#[test]
fn exits_are_never_refused_while_halted() {
    let mut c = plain("10000");
    c.tiers.clear();
    let mut e = engine(c);
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "10", T0);
    e.halt(T0, "stop");
    assert_eq!(e.exit_quantity(&sym("BTCUSDT"), q("25"), &l), q("10"));
    assert_eq!(e.exit_quantity(&sym("BTCUSDT"), q("4"), &l), q("4"));
    assert_eq!(e.exit_quantity(&sym("ETHUSDT"), q("4"), &l), Quantity::ZERO);
    // The stop-loss still fires.
    let a = tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + MIN, "100", "94", "95"),
    );
    assert_eq!(a.exits().next().unwrap().reason, ExitReason::StopLoss);
}

#[test]
fn resume_after_a_drawdown_halt_measures_from_the_resume() {
    let mut e = engine(plain("10000"));
    e.on_equity(T0 + MIN, m("12000"));
    let h = e
        .on_equity(T0 + 2 * MIN, m("9600"))
        .halt()
        .cloned()
        .unwrap();
    e.resume(&h.id).unwrap();
    assert_eq!(e.state().peak_equity(), m("9600"));
    assert!(e.on_equity(T0 + 3 * MIN, m("9600")).halt().is_none());
    // A new 20 % drawdown from 9600 halts again with a new id (total loss is 30 % = 7000).
    let h2 = e
        .on_equity(T0 + 4 * MIN, m("7680"))
        .halt()
        .cloned()
        .unwrap();
    assert_eq!(
        (h2.limit, h2.id.as_str()),
        (Limit::MaxDrawdownPct, "halt-1767225840000-2")
    );
}

#[test]
fn flatten_policy_closes_every_position_once() {
    let mut policy = RiskPolicySpec::default();
    policy.on_halt.action = HaltAction::Flatten;
    let mut c = RiskConfig::from_policy(&policy, Phase::Paper, m("10000"), Timeframe::M1);
    c.tiers.clear();
    let mut e = engine(c);
    let mut l = ledger("10000");
    buy(&mut l, "BTCUSDT", "100", "10", T0);
    buy(&mut l, "ETHUSDT", "50", "4", T0);
    tick(&mut e, &mut l, "BTCUSDT", &candle(T0, "100", "100", "100"));
    let h = e.halt(T0 + MIN, "flatten test");
    assert_eq!(h.action, HaltAction::Flatten);
    let exits = e.flatten(T0 + MIN, &l);
    let got: Vec<_> = exits
        .iter()
        .map(|x| (x.symbol.as_str(), x.quantity, x.reason))
        .collect();
    assert_eq!(
        got,
        [
            ("BTCUSDT", q("10"), ExitReason::Flatten),
            ("ETHUSDT", q("4"), ExitReason::Flatten)
        ]
    );
    // The flatten order is working: a stop does not send a second sell.
    assert!(
        tick(
            &mut e,
            &mut l,
            "BTCUSDT",
            &candle(T0 + 2 * MIN, "100", "90", "90")
        )
        .exits()
        .next()
        .is_none()
    );
}

#[test]
fn status_lists_the_binding_limits() {
    let mut c = plain("10000");
    c.limits.max_open_positions = 1;
    c.limits.max_trades_per_day = 1;
    c.limits.symbol_cooldown_minutes = 30;
    let mut e = engine(c);
    let mut l = ledger("10000");
    approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None));
    buy(&mut l, "ETHUSDT", "100", "1", T0);
    let t = sell(&mut l, "ETHUSDT", "100", "1", T0).unwrap();
    e.on_trade_closed(&t);
    buy(&mut l, "BTCUSDT", "100", "1", T0);
    e.on_equity(T0 + MIN, m("9000"));
    let s = e.status(T0 + 2 * MIN, &l);
    let limits: Vec<Limit> = s.binding.iter().map(|b| b.limit).collect();
    assert_eq!(
        limits,
        [
            Limit::DailyLossLimitPct,
            Limit::MaxTradesPerDay,
            Limit::MaxOpenPositions,
            Limit::SymbolCooldownMinutes
        ]
    );
    assert_eq!(s.pause.as_ref().map(|p| p.until), Some(T0 + DAY));
    assert!(s.halt.is_none());
    assert_eq!(s.binding[2].message, "1 positions open, limit 1");
}

#[test]
fn state_round_trips_through_json_and_restores_behaviour() {
    let mut c = plain("10000");
    c.tiers.clear();
    c.limits.stop_loss_pct = "10".parse().unwrap();
    c.limits.trailing_stop_pct = Some("5".parse().unwrap());
    c.limits.symbol_cooldown_minutes = 30;
    let mut e = engine(c.clone());
    let mut l = ledger("10000");
    // Trades today, a cooldown, Kelly stats, a trailing high, a daily pause, a halt.
    approved(&e.check_entry(T0, &sym("BTCUSDT"), p("100"), &l, None));
    buy(&mut l, "ETHUSDT", "100", "1", T0);
    let t = sell(&mut l, "ETHUSDT", "90", "1", T0 + MIN).unwrap();
    e.on_trade_closed(&t);
    buy(&mut l, "BTCUSDT", "100", "10", T0);
    tick(
        &mut e,
        &mut l,
        "BTCUSDT",
        &candle(T0 + 2 * MIN, "120", "100", "119"),
    );
    e.on_equity(T0 + 3 * MIN, m("9000"));
    let h = e.halt(T0 + 4 * MIN, "before restart");

    let json = serde_json::to_string(e.state()).unwrap();
    let state: RiskState = serde_json::from_str(&json).unwrap();
    let mut r = RiskEngine::restore(c.clone(), state).unwrap();
    assert_eq!(serde_json::to_string(r.state()).unwrap(), json);
    assert_eq!(r.state().trades_today(), 1);
    assert_eq!(r.state().kelly().losses, 1);
    assert_eq!(r.state().trailing_high(&sym("BTCUSDT")), Some(p("120")));
    assert_eq!(
        r.state().cooldown_until(&sym("ETHUSDT")),
        Some(T0 + 31 * MIN)
    );
    assert_eq!(
        refused(&r.check_entry(T0 + 5 * MIN, &sym("SOLUSDT"), p("1"), &l, None)).limit,
        Limit::Halted
    );
    r.resume(&h.id).unwrap();
    assert_eq!(
        refused(&r.check_entry(T0 + 5 * MIN, &sym("SOLUSDT"), p("1"), &l, None)).limit,
        Limit::DailyLossLimitPct
    );
    // After the day: the cooldown is over and the trailing stop still follows 120.
    let next = T0 + DAY;
    approved(&r.check_entry(next, &sym("ETHUSDT"), p("100"), &l, None));
    let a = tick(
        &mut r,
        &mut l,
        "BTCUSDT",
        &candle(next, "115", "114", "114"),
    );
    assert_eq!(
        a.exits().next().map(|x| (x.reason, x.trigger_price)),
        Some((ExitReason::TrailingStop, p("114")))
    );

    c.capital = Money::ZERO;
    let err = RiskEngine::restore(c, serde_json::from_str(&json).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "risk config `capital` is 0; a bot needs capital above 0"
    );
}

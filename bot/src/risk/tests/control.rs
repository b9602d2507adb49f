//! What the run loop sets from outside the policy: the entry hold (the
//! dead-man switch) and a halt's flatten.

use super::*;
use botfleet_crds::HaltAction;

fn dead_man(since: i64) -> EntryHold {
    EntryHold {
        limit: Limit::DeadManMinutes,
        since,
        reason: "dead-man switch: no operator poll for 5 min".into(),
    }
}

#[test]
fn a_hold_refuses_entries_but_not_exits_and_lifts() {
    let mut c = plain("10000");
    c.tiers.clear();
    c.limits.stop_loss_pct = "5".parse().unwrap();
    let mut e = engine(c);
    e.set_entry_hold(Some(dead_man(T0)));
    assert_eq!(e.entry_hold().map(|h| h.limit), Some(Limit::DeadManMinutes));

    let l = ledger("10000");
    let v = e.check_entry(T0 + MIN, &sym("BTCUSDT"), p("100"), &l, None);
    let r = refused(&v);
    assert_eq!(r.limit, Limit::DeadManMinutes);
    assert!(
        r.message
            .starts_with("entries held since 2026-01-01 00:00 UTC: dead-man switch"),
        "{}",
        r.message
    );
    assert_eq!(e.state().trades_today(), 0, "a refusal is not a trade");

    // A position bought before the hold keeps its stop-loss.
    let mut held = ledger("10000");
    buy(&mut held, "BTCUSDT", "100", "10", T0);
    assert!(
        tick(
            &mut e,
            &mut held,
            "BTCUSDT",
            &candle(T0, "101", "99", "100")
        )
        .is_empty()
    );
    let a = tick(
        &mut e,
        &mut held,
        "BTCUSDT",
        &candle(T0 + MIN, "100", "94", "95"),
    );
    assert_eq!(
        a.exits().map(|x| x.reason).collect::<Vec<_>>(),
        [ExitReason::StopLoss]
    );

    e.set_entry_hold(None);
    let v = e.check_entry(T0 + 2 * MIN, &sym("ETHUSDT"), p("100"), &l, None);
    approved(&v);
}

#[test]
fn a_halt_made_a_flatten_is_persisted_with_the_latch() {
    let c = plain("10000");
    let mut e = engine(c.clone());
    assert!(e.flatten_on_halt().is_none(), "nothing to flatten unhalted");
    let h = e.halt(T0, "manual");
    assert_eq!(h.action, HaltAction::CancelOrders);
    assert_eq!(
        e.flatten_on_halt().map(|h| h.action),
        Some(HaltAction::Flatten)
    );
    let json = serde_json::to_string(e.state()).unwrap();
    let r = RiskEngine::restore(c, serde_json::from_str(&json).unwrap()).unwrap();
    let halt = r.halted().unwrap();
    assert_eq!(
        (halt.id.as_str(), halt.action),
        (h.id.as_str(), HaltAction::Flatten)
    );
    // The hold is not persisted.
    assert!(r.entry_hold().is_none());
}

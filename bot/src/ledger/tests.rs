use super::*;
use crate::domain::{Fill, Liquidity, OrderId, Price, Quantity, Side};
use rust_decimal_macros::dec;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT")
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn fill(id: &str, side: Side, price: &str, qty: &str, fee: &str, time: i64) -> Fill {
    Fill {
        trade_id: id.to_string(),
        order_id: OrderId(1),
        symbol: btc(),
        side,
        price: price.parse().unwrap(),
        quantity: qty.parse().unwrap(),
        fee: fee.parse().unwrap(),
        liquidity: Liquidity::Taker,
        time,
    }
}

fn applied(outcome: FillOutcome) -> AppliedFill {
    match outcome {
        FillOutcome::Applied(a) => a,
        FillOutcome::AlreadyApplied => panic!("expected the fill to apply"),
    }
}

#[test]
fn buy_moves_cash_and_marks_equity() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let a = applied(
        l.apply_fill(&fill("t1", Side::Buy, "100", "2", "0.2", 0))
            .unwrap(),
    );
    assert_eq!(a.realized_pnl, Money::ZERO);
    assert_eq!(l.cash(), m("799.8"));
    // Marked at the fill price right after the fill.
    assert_eq!(l.equity(), m("999.8"));
    l.mark(&btc(), "110".parse().unwrap());
    assert_eq!(l.equity(), m("1019.8"));
    assert_eq!(l.unrealized_pnl(), m("20"));
    assert_eq!(l.open_positions(), 1);
    // Identity: equity − start = realized − fees + unrealized.
    assert_eq!(
        l.net_pnl(),
        l.realized_pnl() - l.fees_paid() + l.unrealized_pnl()
    );
}

#[test]
fn average_entry_price_on_adds() {
    let mut l = Ledger::new(m("10000")).unwrap();
    let _ = l
        .apply_fill(&fill("t1", Side::Buy, "100", "1", "0", 0))
        .unwrap();
    let _ = l
        .apply_fill(&fill("t2", Side::Buy, "130", "2", "0", 1))
        .unwrap();
    let p = l.position(&btc()).unwrap();
    assert_eq!(p.quantity(), Quantity::new(dec!(3)));
    assert_eq!(p.cost_basis(), m("360"));
    assert_eq!(p.avg_entry_price(), Some(Price::new(dec!(120))));
    // A non-terminating average is rounded to 12 dp for display only.
    let _ = l
        .apply_fill(&fill("t3", Side::Buy, "100", "3", "0", 2))
        .unwrap();
    let p = l.position(&btc()).unwrap();
    assert_eq!(p.cost_basis(), m("660"));
    assert_eq!(p.avg_entry_price(), Some(Price::new(dec!(110))));
    let _ = l
        .apply_fill(&fill("t4", Side::Buy, "1", "1", "0", 3))
        .unwrap();
    let p = l.position(&btc()).unwrap();
    assert_eq!(p.avg_entry_price(), Some(Price::new(dec!(94.428571428571)))); // 661/7
}

#[test]
fn realized_pnl_on_partial_sells_and_round_trip() {
    let mut l = Ledger::new(m("10000")).unwrap();
    let _ = l
        .apply_fill(&fill("b1", Side::Buy, "100", "3", "0.3", 0))
        .unwrap();
    // Sell one third at 110: cost removed = 300 × 1/3 = 100 exactly.
    let a = applied(
        l.apply_fill(&fill("s1", Side::Sell, "110", "1", "0.11", 1))
            .unwrap(),
    );
    assert_eq!(a.realized_pnl, m("10"));
    assert!(a.closed_trade.is_none());
    let p = l.position(&btc()).unwrap();
    assert_eq!(p.cost_basis(), m("200"));
    assert_eq!(p.avg_entry_price(), Some(Price::new(dec!(100))));
    // Sell the rest at 90.
    let a = applied(
        l.apply_fill(&fill("s2", Side::Sell, "90", "2", "0.18", 2))
            .unwrap(),
    );
    assert_eq!(a.realized_pnl, m("-20"));
    let t = a
        .closed_trade
        .expect("position is flat, the round trip closes");
    assert_eq!(t.quantity, Quantity::new(dec!(3)));
    assert_eq!(t.entry_price, Price::new(dec!(100)));
    assert_eq!(t.exit_price, Price::new(dec!(96.666666666667)));
    assert_eq!(t.fees, m("0.59"));
    assert_eq!(t.gross_pnl(), m("-10"));
    assert_eq!(t.pnl, m("-10.59"));
    assert!(t.is_loss() && !t.is_win());
    assert_eq!((t.opened_at, t.closed_at), (0, 2));
    assert_eq!(l.realized_pnl(), m("-10"));
    assert_eq!(l.fees_paid(), m("0.59"));
    assert_eq!(l.cash(), m("9989.41"));
    assert_eq!(l.equity(), l.cash());
    assert_eq!(l.open_positions(), 0);
    assert_eq!(l.closed_trades(), &[t]);
}

#[test]
fn partial_sell_cost_is_rounded_and_round_trip_stays_exact() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("b1", Side::Buy, "10", "3", "0", 0))
        .unwrap();
    let _ = l
        .apply_fill(&fill("b2", Side::Buy, "0.00000001", "0.00000001", "0", 0))
        .unwrap();
    // cost 30.0000000000000001 over 3.00000001 units: the share of 1 unit is a
    // long decimal; it is removed rounded to 8 dp.
    let a = applied(
        l.apply_fill(&fill("s1", Side::Sell, "10", "1", "0", 1))
            .unwrap(),
    );
    assert_eq!(a.realized_pnl, m("0.00000003"));
    let a2 = applied(
        l.apply_fill(&fill("s2", Side::Sell, "10", "2.00000001", "0", 2))
            .unwrap(),
    );
    let t = a2.closed_trade.unwrap();
    // The two rounded parts add up to the exact round trip.
    assert_eq!(a.realized_pnl + a2.realized_pnl, t.gross_pnl());
    assert_eq!(t.pnl, m("30.0000001") - m("30.0000000000000001"));
    assert_eq!(l.cash() - l.starting_cash(), t.pnl);
}

#[test]
fn duplicate_fill_is_already_applied_and_changes_nothing() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let f = fill("t1", Side::Buy, "100", "2", "0.2", 0);
    let _ = l.apply_fill(&f).unwrap();
    let before = l.state();
    let equity = l.equity();
    assert_eq!(l.apply_fill(&f).unwrap(), FillOutcome::AlreadyApplied);
    // Even a different payload under the same id is a replay, not a new fill.
    let mut g = f.clone();
    g.quantity = "1".parse().unwrap();
    assert_eq!(l.apply_fill(&g).unwrap(), FillOutcome::AlreadyApplied);
    assert_eq!(l.state(), before);
    assert_eq!(l.equity(), equity);
    assert!(l.is_applied(&btc(), "t1"));
    assert!(!l.is_applied(&btc(), "t2"));
}

#[test]
fn trade_ids_are_scoped_per_symbol() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("7", Side::Buy, "100", "1", "0", 0))
        .unwrap();
    let mut eth = fill("7", Side::Buy, "10", "1", "0", 0);
    eth.symbol = Symbol::new("ETHUSDT");
    assert!(matches!(
        l.apply_fill(&eth).unwrap(),
        FillOutcome::Applied(_)
    ));
    assert_eq!(l.open_positions(), 2);
    assert_eq!(l.cash(), m("890"));
}

#[test]
fn selling_more_than_held_is_an_error_with_numbers() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("b", Side::Buy, "100", "1", "0", 0))
        .unwrap();
    let before = l.state();
    let err = l
        .apply_fill(&fill("s", Side::Sell, "100", "1.5", "0", 1))
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::InsufficientPosition {
            trade_id: "s".into(),
            symbol: btc(),
            held: "1".parse().unwrap(),
            requested: "1.5".parse().unwrap(),
        }
    );
    assert!(err.to_string().contains("holds only 1"), "{err}");
    assert_eq!(l.state(), before);
    assert!(!l.is_applied(&btc(), "s"));
    // Never-traded symbol: holds 0.
    let mut eth = fill("s2", Side::Sell, "100", "1", "0", 1);
    eth.symbol = Symbol::new("ETHUSDT");
    assert!(matches!(
        l.apply_fill(&eth),
        Err(LedgerError::InsufficientPosition { held, .. }) if held.is_zero()
    ));
    assert!(l.position(&eth.symbol).is_none());
}

#[test]
fn buying_beyond_cash_is_an_error() {
    let mut l = Ledger::new(m("100")).unwrap();
    let err = l
        .apply_fill(&fill("b", Side::Buy, "100", "1", "0.1", 0))
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::InsufficientCash {
            trade_id: "b".into(),
            needed: m("100.1"),
            available: m("100"),
        }
    );
    assert_eq!(l.cash(), m("100"));
    assert!(l.position(&btc()).is_none());
}

#[test]
fn invalid_fills_name_the_field() {
    let mut l = Ledger::new(m("100")).unwrap();
    for (f, field) in [
        (fill("a", Side::Buy, "1", "0", "0", 0), "quantity"),
        (fill("b", Side::Buy, "1", "-1", "0", 0), "quantity"),
        (fill("c", Side::Buy, "0", "1", "0", 0), "price"),
        (fill("d", Side::Buy, "1", "1", "-0.01", 0), "fee"),
        (fill("", Side::Buy, "1", "1", "0", 0), "tradeId"),
    ] {
        let err = l.apply_fill(&f).unwrap_err();
        assert!(
            matches!(&err, LedgerError::InvalidFill { field: f, .. } if *f == field),
            "{err}"
        );
        assert!(err.to_string().contains(field));
    }
    assert_eq!(l.cash(), m("100"));
    assert!(Ledger::new(m("-1")).is_err());
}

#[test]
fn marking_an_unknown_or_flat_symbol_changes_nothing() {
    let mut l = Ledger::new(m("100")).unwrap();
    l.mark(&btc(), "5".parse().unwrap());
    assert_eq!(l.equity(), m("100"));
    let _ = l
        .apply_fill(&fill("b", Side::Buy, "10", "1", "0", 0))
        .unwrap();
    let _ = l
        .apply_fill(&fill("s", Side::Sell, "12", "1", "0", 1))
        .unwrap();
    l.mark(&btc(), "50".parse().unwrap());
    assert_eq!(l.equity(), m("102"));
    assert_eq!(
        l.position(&btc()).unwrap().mark_price(),
        Price::new(dec!(50))
    );
}

#[test]
fn snapshot_serializes_money_as_strings() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("b", Side::Buy, "100.5", "2", "0.201", 5))
        .unwrap();
    l.mark(&btc(), "101".parse().unwrap());
    let s = l.snapshot();
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["cash"], "798.799");
    assert_eq!(json["equity"], "1000.799");
    assert_eq!(json["feesPaid"], "0.201");
    assert_eq!(json["unrealizedPnl"], "1.0");
    assert_eq!(json["positions"][0]["symbol"], "BTCUSDT");
    assert_eq!(json["positions"][0]["avgEntryPrice"], "100.5");
    assert_eq!(json["positions"][0]["openedAt"], 5);
    let back: BalancesSnapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn state_round_trips_and_keeps_idempotency() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("b", Side::Buy, "100", "2", "0.2", 0))
        .unwrap();
    l.mark(&btc(), "120".parse().unwrap());
    let json = serde_json::to_string(&l.state()).unwrap();
    let mut r = Ledger::from_state(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(r.equity(), l.equity());
    assert_eq!(r.open_positions(), 1);
    assert_eq!(
        r.apply_fill(&fill("b", Side::Buy, "100", "2", "0.2", 0))
            .unwrap(),
        FillOutcome::AlreadyApplied
    );
    let a = applied(
        r.apply_fill(&fill("s", Side::Sell, "120", "2", "0", 1))
            .unwrap(),
    );
    assert_eq!(a.closed_trade.unwrap().pnl, m("39.8"));
}

#[test]
fn corrupt_state_is_refused_with_the_field() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l
        .apply_fill(&fill("b", Side::Buy, "100", "2", "0", 0))
        .unwrap();
    let mut json = serde_json::to_value(l.state()).unwrap();
    json["positions"][0]["quantity"] = "-1".into();
    let err = Ledger::from_state(serde_json::from_value(json).unwrap()).unwrap_err();
    assert!(err.to_string().contains("positions[0].quantity"), "{err}");
}

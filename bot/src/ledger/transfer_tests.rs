use super::*;
use crate::domain::{Fill, Liquidity, OrderId, Side, Symbol};

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn fill(id: &str, side: Side, price: &str, qty: &str) -> Fill {
    Fill {
        trade_id: id.to_string(),
        order_id: OrderId(1),
        symbol: Symbol::new("BTCUSDT"),
        side,
        price: price.parse().unwrap(),
        quantity: qty.parse().unwrap(),
        fee: m("0.1"),
        liquidity: Liquidity::Taker,
        time: 0,
    }
}

#[test]
fn transfers_move_cash_and_equity_but_are_not_pnl() {
    let mut l = Ledger::new(m("1000")).unwrap();
    let _ = l.apply_fill(&fill("t1", Side::Buy, "100", "2")).unwrap();
    assert_eq!(l.net_pnl(), m("-0.1"));
    let t = l.transfer(10, m("1000"), m("2000")).unwrap().clone();
    assert_eq!((t.at, t.after_fills, t.shortfall), (10, 1, Money::ZERO));
    assert_eq!(l.cash(), m("1799.9"));
    assert_eq!(l.equity(), m("1999.9"));
    assert_eq!(l.net_pnl(), m("-0.1"), "a transfer is not P&L");
    assert_eq!((l.contributed(), l.allocated()), (m("2000"), m("2000")));

    // A cut asks for 1500 but 1799.9 is the cash: all of it may go, not more.
    let err = l.transfer(20, m("-1800"), m("500")).unwrap_err();
    assert!(
        matches!(err, LedgerError::TransferExceedsCash { .. }),
        "{err}"
    );
    assert_eq!(l.transfers().len(), 1, "a refused transfer changes nothing");
    let t = l.transfer(20, m("-1000"), m("500")).unwrap().clone();
    assert_eq!(t.shortfall, m("500"), "1000 of 1500 moved");
    assert_eq!(l.owed_out(), m("500"));
    assert_eq!(l.allocated(), m("500"));
    assert_eq!(l.net_transfers(), Money::ZERO);
    let snapshot = l.snapshot();
    assert_eq!(
        (snapshot.net_transfers, snapshot.net_pnl),
        (Money::ZERO, m("-0.1"))
    );

    // The state round trip keeps them; a replay puts each after its fills.
    let back = Ledger::from_state(l.state()).unwrap();
    assert_eq!(back.transfers(), l.transfers());
    assert_eq!((back.cash(), back.net_pnl()), (l.cash(), l.net_pnl()));
    let mut replay = Ledger::new(m("1000")).unwrap();
    let early = replay.replay_transfer(&l.transfers()[0]).unwrap_err();
    assert!(matches!(early, LedgerError::CorruptState { .. }), "{early}");
    let _ = replay
        .apply_fill(&fill("t1", Side::Buy, "100", "2"))
        .unwrap();
    for t in l.transfers() {
        replay.replay_transfer(t).unwrap();
    }
    assert_eq!((replay.cash(), replay.equity()), (l.cash(), l.equity()));
}

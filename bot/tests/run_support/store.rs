//! Reading the store an engine left behind, and what must hold of it.

use std::collections::BTreeMap;

use botfleet_bot::domain::{Candle, Fill, Money, OrderId, OrderStatus, Quantity};
use botfleet_bot::engine::AuditRecord;
use botfleet_bot::ledger::Ledger;
use botfleet_bot::store::{
    EquitySnapshot, OrderRecord, PhaseEvent, PositionRecord, Store, StoreConfig,
};

use super::{CAPITAL, Engine, Workspace};

/// Everything a run leaves in its store that must never be lost or doubled.
#[derive(Debug, PartialEq)]
pub struct Contents {
    pub orders: Vec<OrderRecord>,
    pub fills: Vec<Fill>,
    pub equity: Vec<EquitySnapshot>,
    pub positions: Vec<PositionRecord>,
    pub decisions: Vec<AuditRecord>,
    pub phase_events: Vec<PhaseEvent>,
    pub candles: usize,
    pub last_candle_time: Option<i64>,
}

/// Reads the store (the engine must have stopped: it holds the lock).
pub async fn contents(store: &StoreConfig) -> Contents {
    let store = Store::open(store).await.unwrap();
    let state = store.load_state().await.unwrap();
    let mut orders = Vec::new();
    for id in 1..state.next_order_id {
        if let Some(o) = store.order(OrderId(id)).await.unwrap() {
            orders.push(o);
        }
    }
    let c = Contents {
        orders,
        fills: store.fills().await.unwrap(),
        equity: store.equity_since(i64::MIN).await.unwrap(),
        positions: store.positions().await.unwrap(),
        decisions: store.audit_since(i64::MIN, u32::MAX).await.unwrap(),
        phase_events: store.phase_events().await.unwrap(),
        candles: store.candles().await.unwrap().len(),
        last_candle_time: state.last_candle_time,
    };
    store.close().await;
    c
}

/// The store agrees with itself: every fill once, each order's filled
/// quantity is the sum of its fills and its status follows, and the fills
/// replayed into a ledger give the stored cash and positions.
pub fn assert_consistent(c: &Contents) {
    let mut seen = std::collections::HashSet::new();
    for f in &c.fills {
        assert!(
            seen.insert((f.symbol.clone(), f.trade_id.clone())),
            "fill {} stored twice",
            f.trade_id
        );
    }
    let mut filled: BTreeMap<OrderId, Quantity> = BTreeMap::new();
    for f in &c.fills {
        *filled.entry(f.order_id).or_insert(Quantity::ZERO) += f.quantity;
    }
    for o in &c.orders {
        let sum = filled.get(&o.id).copied().unwrap_or(Quantity::ZERO);
        assert_eq!(
            o.filled_quantity, sum,
            "order {} filled vs its fills",
            o.id.0
        );
        match o.status {
            OrderStatus::Filled => assert_eq!(o.filled_quantity, o.quantity, "order {}", o.id.0),
            OrderStatus::New => assert_eq!(sum, Quantity::ZERO, "order {}", o.id.0),
            OrderStatus::PartiallyFilled => {
                assert!(sum > Quantity::ZERO && sum < o.quantity, "order {}", o.id.0)
            }
            _ => assert!(sum < o.quantity, "order {} closed but complete", o.id.0),
        }
    }
    for id in filled.keys() {
        assert!(
            c.orders.iter().any(|o| o.id == *id),
            "fills of order {} which is not stored",
            id.0
        );
    }
    let mut ledger = Ledger::new(Money::from(CAPITAL)).unwrap();
    for f in &c.fills {
        let _ = ledger.apply_fill(f).unwrap();
    }
    if let Some(last) = c.equity.last() {
        assert_eq!(
            ledger.cash(),
            last.cash,
            "cash from the fills vs the last equity point"
        );
    }
    let held: Vec<(String, Quantity)> = ledger
        .positions()
        .filter(|p| !p.is_flat())
        .map(|p| (p.symbol().to_string(), p.quantity()))
        .collect();
    let stored: Vec<(String, Quantity)> = c
        .positions
        .iter()
        .map(|p| (p.symbol.to_string(), p.quantity))
        .collect();
    assert_eq!(
        held, stored,
        "positions from the fills vs the stored positions"
    );
}

/// `prefix` is where `full` was at some point: the same orders so far
/// (an order may have moved on since), and the same fills, in order.
pub fn assert_prefix(prefix: &Contents, full: &Contents) {
    assert!(prefix.fills.len() <= full.fills.len());
    assert_eq!(
        prefix.fills[..],
        full.fills[..prefix.fills.len()],
        "fills so far"
    );
    for o in &prefix.orders {
        let f = full
            .orders
            .iter()
            .find(|x| x.id == o.id)
            .expect("order in the full run");
        assert_eq!(o.request(), f.request(), "order {}", o.id.0);
    }
    assert_eq!(
        prefix.equity[..],
        full.equity[..prefix.equity.len()],
        "equity curve so far"
    );
}

/// Two runs traded alike: orders, fills, equity curve, positions, audit log.
pub fn assert_same_trading(got: &Contents, expected: &Contents) {
    assert_eq!(got.fills, expected.fills, "fills");
    assert_eq!(got.orders, expected.orders, "orders");
    assert_eq!(got.equity, expected.equity, "equity curve");
    assert_eq!(got.positions, expected.positions, "positions");
    let trading = |d: &[AuditRecord]| -> Vec<AuditRecord> {
        d.iter()
            .filter(|d| d.signal != "control")
            .cloned()
            .collect()
    };
    assert_eq!(
        trading(&got.decisions),
        trading(&expected.decisions),
        "audit log"
    );
    assert_eq!(got.candles, expected.candles, "candles");
}

/// A replay at `speed` of `candles`, run to its end and stopped: the store
/// it leaves (the reference an interrupted run must match).
pub async fn reference_run(candles: &[Candle]) -> Contents {
    let ws = Workspace::new("Paper");
    let data = ws.write_data(candles);
    let engine = Engine::start(&ws, &ws.replay_args(&data, "max"), &[]);
    engine.wait_stored(candles.last().unwrap().open_time).await;
    assert!(engine.terminate().success());
    let c = contents(&ws.sqlite()).await;
    assert_consistent(&c);
    assert!(
        c.fills.len() >= 20,
        "the data must trade: {} fills",
        c.fills.len()
    );
    c
}

//! The exchange simulator as the engine's venue: credentials in the
//! workspace, the `run` arguments that point at it, and the check that the
//! engine's books equal the venue's.

use std::collections::{BTreeMap, BTreeSet};

use botfleet_bot::domain::{OrderStatus, Side};
use botfleet_bot::ledger::Ledger;
use botfleet_bot::store::Store;
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig, SimSide, SimStatus};
use rust_decimal::Decimal;

use super::{CAPITAL, Workspace};

pub const SIM_API_KEY: &str = "simKey7Hq2RkT9vLx4NcPz";
pub const SIM_API_SECRET: &str = "simSecret3Wm8YdJf6QsBnKe1UoA5";

/// The simulator holding `usdt` and no BTC, its price fixed at `price`.
pub async fn simulator_holding(usdt: Decimal, price: Decimal) -> ExchangeSim {
    let mut config = SimConfig::btcusdt(SIM_API_KEY, SIM_API_SECRET);
    config.balances = vec![("USDT".into(), usdt)];
    let sim = ExchangeSim::start(config).await;
    sim.candle("BTCUSDT", price, price, price);
    sim
}

/// Writes the simulator's credentials into the workspace; the `run`
/// arguments that trade on it, with short venue timeouts (a lost submit
/// settles after 2 × recvWindow).
pub fn venue_args(ws: &Workspace, sim: &ExchangeSim) -> Vec<String> {
    std::fs::write(ws.path("api-key"), format!("{SIM_API_KEY}\n")).unwrap();
    std::fs::write(ws.path("api-secret"), format!("{SIM_API_SECRET}\n")).unwrap();
    [
        "--venue-url",
        &sim.url,
        "--api-key-file",
        &ws.path("api-key").display().to_string(),
        "--api-secret-file",
        &ws.path("api-secret").display().to_string(),
        "--venue-timeout-ms",
        "400",
        "--recv-window-ms",
        "500",
    ]
    .map(String::from)
    .to_vec()
}

/// The engine's store (the engine must have stopped) and the simulator
/// agree: the same trades, every order the venue has is stored once with the
/// venue's outcome, nothing is open on either side, and the fills replayed
/// into a ledger give the venue's balances and the stored positions.
pub async fn assert_books_equal(ws: &Workspace, sim: &ExchangeSim) {
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let fills = store.fills().await.unwrap();
    let trades = sim.trades();
    let stored: BTreeMap<String, _> = fills.iter().map(|f| (f.trade_id.clone(), f)).collect();
    assert_eq!(stored.len(), fills.len(), "a fill is stored twice");
    let venue: BTreeSet<String> = trades.iter().map(|t| t.id.to_string()).collect();
    let ours: BTreeSet<String> = stored.keys().cloned().collect();
    assert_eq!(
        ours, venue,
        "stored fills (left) vs the venue's trades (right)"
    );
    for t in &trades {
        let f = stored[&t.id.to_string()];
        let side = match t.side {
            SimSide::Buy => Side::Buy,
            SimSide::Sell => Side::Sell,
        };
        assert_eq!(
            (f.quantity.value(), f.price.value(), f.fee.value(), f.side),
            (t.qty, t.price, t.commission, side),
            "trade {}",
            t.id
        );
    }
    let orders = sim.orders();
    let ids: BTreeSet<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    assert_eq!(ids.len(), orders.len(), "an order reached the venue twice");
    for o in &orders {
        let record = store
            .order_by_client_id(&o.client_order_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} is at the venue but not stored", o.client_order_id));
        let status = match o.status {
            SimStatus::Filled => OrderStatus::Filled,
            SimStatus::Canceled => OrderStatus::Canceled,
            SimStatus::Expired => OrderStatus::Expired,
            open => panic!("{} is still {open:?} at the venue", o.client_order_id),
        };
        assert_eq!(
            (record.status, record.filled_quantity.value()),
            (status, o.executed_qty),
            "{}",
            o.client_order_id
        );
    }
    let open = store.open_orders().await.unwrap();
    assert!(open.is_empty(), "open in the store: {open:?}");

    let mut ledger = Ledger::new(botfleet_bot::domain::Money::from(CAPITAL)).unwrap();
    for f in &fills {
        let _ = ledger.apply_fill(f).unwrap();
    }
    let usdt = sim.balance("USDT");
    assert_eq!(usdt.locked, Decimal::ZERO);
    assert_eq!(
        ledger.cash().value(),
        usdt.free,
        "ledger cash vs the venue's USDT"
    );
    let btc = sim.balance("BTC");
    let held: Decimal = ledger.positions().map(|p| p.quantity().value()).sum();
    assert_eq!(
        held,
        btc.free + btc.locked,
        "ledger position vs the venue's BTC"
    );
    let positions = store.positions().await.unwrap();
    let stored_held: Decimal = positions.iter().map(|p| p.quantity.value()).sum();
    assert_eq!(
        stored_held, held,
        "stored positions vs the fills: {positions:?}"
    );
    store.close().await;
}

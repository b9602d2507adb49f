//! The exchange simulator as the engine's venue, on Binance spot or on
//! Coinbase Advanced Trade ([`Kind`]): credentials in the workspace, the
//! `run` arguments that point at it (its trading API, and its market data
//! as the live feed), and the check that the engine's books equal the
//! venue's.

use std::collections::{BTreeMap, BTreeSet};

use botfleet_bot::domain::{Candle, OrderStatus, Side};
use botfleet_bot::ledger::Ledger;
use botfleet_bot::store::Store;
use botfleet_tests::exchange_sim::{ExchangeSim, SimSide, SimStatus};
use rust_decimal::Decimal;

use super::{CAPITAL, Workspace};

// Each `run_*` test binary uses some of these.
#[allow(unused_imports)]
pub use botfleet_tests::venue_kind::{COINBASE_KEY, VenueKind as Kind, coinbase_pem};

/// The simulator of `kind` holding `usdt` of the quote currency and nothing
/// else, with no candle yet (its Coinbase side accepts the test key).
pub async fn empty_simulator(kind: Kind, usdt: Decimal) -> ExchangeSim {
    kind.simulator(usdt).await
}

/// The simulator holding `usdt` and no BTC, its price fixed at `price`.
pub async fn simulator_holding(kind: Kind, usdt: Decimal, price: Decimal) -> ExchangeSim {
    let sim = empty_simulator(kind, usdt).await;
    sim.candle(kind.symbol(), price, price, price);
    sim
}

/// The simulator holding `usdt`, its market data serving `history` (one-hour
/// candles at their own times) for the engines' warm-up; its price is the
/// last close.
pub async fn simulator_with_history(kind: Kind, usdt: Decimal, history: &[Candle]) -> ExchangeSim {
    let sim = empty_simulator(kind, usdt).await;
    for c in history {
        sim.candle_at(
            kind.symbol(),
            c.open_time,
            c.low.value(),
            c.high.value(),
            c.close.value(),
        );
    }
    sim
}

/// Feeds `c` as the venue's next closed candle: the live feed gets it, and
/// market orders fill at its close. Returns the open time it got.
pub fn feed(kind: Kind, sim: &ExchangeSim, c: &Candle) -> i64 {
    sim.candle(
        kind.symbol(),
        c.low.value(),
        c.high.value(),
        c.close.value(),
    );
    sim.klines(kind.symbol()).last().unwrap().open_time
}

/// `run` arguments of the live feed from the simulator's own market data
/// (Binance klines, or Coinbase candles and its market-data WebSocket).
pub fn market_args(kind: Kind, ws: &Workspace, sim: &ExchangeSim) -> Vec<String> {
    let ws_url = kind.market_ws_url(sim);
    [
        "--feed",
        "live",
        "--market-rest-url",
        &sim.url,
        "--market-ws-url",
        &ws_url,
        "--control-keys-file",
        &ws.path("control-keys.pub").display().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// Writes the simulator's credentials into the workspace; the `run`
/// arguments that trade on it, with short venue timeouts (a slow submit
/// outlives the timeout; a lost one settles after 2 × recvWindow).
pub fn venue_args(kind: Kind, ws: &Workspace, sim: &ExchangeSim) -> Vec<String> {
    let (key, secret) = kind.credentials(COINBASE_KEY);
    std::fs::write(ws.path("api-key"), key).unwrap();
    std::fs::write(ws.path("api-secret"), secret).unwrap();
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
pub async fn assert_books_equal(kind: Kind, ws: &Workspace, sim: &ExchangeSim) {
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let fills = store.fills().await.unwrap();
    let trades = sim.trades();
    let stored: BTreeMap<String, _> = fills.iter().map(|f| (f.trade_id.clone(), f)).collect();
    assert_eq!(stored.len(), fills.len(), "a fill is stored twice");
    let venue: BTreeSet<String> = trades.iter().map(|t| kind.trade_id(t)).collect();
    let ours: BTreeSet<String> = stored.keys().cloned().collect();
    assert_eq!(
        ours, venue,
        "stored fills (left) vs the venue's trades (right)"
    );
    for t in &trades {
        let f = stored[&kind.trade_id(t)];
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
    let cash = sim.balance(kind.quote());
    assert_eq!(cash.locked, Decimal::ZERO);
    assert_eq!(
        ledger.cash().value(),
        cash.free,
        "ledger cash vs the venue's {}",
        kind.quote()
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

/// Waits (bounded) until an engine's live feed listens to the simulator:
/// a kline stream is open (Binance), or `market_trades` is subscribed
/// (Coinbase: the trades that announce a candle's close).
pub async fn wait_feed_subscribed(kind: Kind, sim: &ExchangeSim) {
    let deadline = std::time::Instant::now() + super::TIMEOUT;
    let subscribed = || match kind {
        Kind::Binance => sim.stream_connections() > 0,
        Kind::Coinbase => sim
            .requests()
            .iter()
            .any(|r| r.method == "SUBSCRIBE" && r.query == "market_trades"),
    };
    while !subscribed() {
        assert!(
            std::time::Instant::now() < deadline,
            "the engine's feed never subscribed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

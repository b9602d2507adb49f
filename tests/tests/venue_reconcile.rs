//! Restart reconciliation (`botfleet_bot::execution::reconcile`) through
//! each venue's real adapter against the exchange simulator, on Binance
//! spot and on Coinbase Advanced Trade: a restarted engine (a fresh client,
//! nothing in memory) updates the orders it stored, records the fills it
//! missed exactly once, cancels its orphans (sent, never stored) and leaves
//! another bot's orders on the same account alone.

use botfleet_bot::binance::RetryPolicy;
use botfleet_bot::binance::spot::{SpotClient, SpotCredentials, SpotEndpoint, SpotOptions};
use botfleet_bot::coinbase::trade::{
    CoinbaseClient, CoinbaseCredentials, CoinbaseEndpoint, CoinbaseOptions,
};
use botfleet_bot::domain::{
    OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side, Symbol,
};
use botfleet_bot::execution::{Venue, reconcile};
use botfleet_crds::Phase;
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig};
use botfleet_tests::venue_kind::{COINBASE_KEY, VenueKind, coinbase_pem, coinbase_secret};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

const KEY: &str = "simKey123";
const SECRET: &str = "simSecretABCdef456";
const KEY_NAME: &str = "organizations/sim-org/apiKeys/sim-key";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(3),
    }
}

fn binance(sim: &ExchangeSim, bot: &str) -> SpotClient {
    let endpoint = SpotEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let creds = SpotCredentials::new(KEY, SECRET).unwrap();
    let options = SpotOptions {
        timeout: Duration::from_millis(400),
        recv_window_ms: 5000,
        retry: retry(),
        weight_limit_1m: 5000,
    };
    SpotClient::new(endpoint, creds, bot, options).unwrap()
}

fn coinbase(sim: &ExchangeSim, bot: &str) -> CoinbaseClient {
    let endpoint = CoinbaseEndpoint::with_url(Phase::Sandbox, &sim.url).unwrap();
    let creds = CoinbaseCredentials::new(KEY_NAME, &coinbase_pem(COINBASE_KEY)).unwrap();
    let options = CoinbaseOptions {
        timeout: Duration::from_millis(400),
        retry: retry(),
        min_request_interval: Duration::ZERO,
        ..CoinbaseOptions::default()
    };
    CoinbaseClient::new(endpoint, creds, bot, options).unwrap()
}

#[tokio::test]
async fn restart_reconciliation_records_missed_fills_and_cancels_orphans() {
    let sim = ExchangeSim::start(SimConfig::btcusdt(KEY, SECRET)).await;
    let kind = VenueKind::Binance;
    restart_reconciliation(&sim, kind.symbol(), |t| kind.trade_id(t), binance).await;
}

#[tokio::test]
async fn restart_reconciliation_records_missed_fills_and_cancels_orphans_on_coinbase() {
    let sim = ExchangeSim::start(SimConfig::btc_usd()).await;
    sim.set_coinbase_key(
        KEY_NAME,
        p256::ecdsa::VerifyingKey::from(coinbase_secret(COINBASE_KEY).public_key()),
    );
    let kind = VenueKind::Coinbase;
    restart_reconciliation(&sim, kind.symbol(), |t| kind.trade_id(t), coinbase).await;
}

/// `trade_id` names a simulator trade as the venue reports it; `client`
/// makes a fresh client of a bot.
async fn restart_reconciliation<V: Venue>(
    sim: &ExchangeSim,
    symbol: &str,
    trade_id: impl Fn(&botfleet_tests::exchange_sim::SimTrade) -> String,
    client: impl Fn(&ExchangeSim, &str) -> V,
) {
    let btc = Symbol::new(symbol);
    let order = |id: u64, side: Side, price: &str, qty: &str| OrderRequest {
        id: OrderId(id),
        symbol: btc.clone(),
        side,
        kind: OrderKind::Limit {
            price: Price::new(d(price)),
        },
        quantity: Quantity::new(d(qty)),
        reason: "test".into(),
        created_at: 0,
    };
    sim.candle(symbol, d("49900"), d("50100"), d("50000"));
    let mut before = client(sim, "alpha");
    // A stays open; B fills while the engine is down; C is an orphan (sent,
    // never stored); D was stored but never sent; a foreign bot's order stays.
    before
        .submit(&order(1, Side::Buy, "40000", "0.01"))
        .await
        .unwrap();
    before
        .submit(&order(2, Side::Buy, "49500", "0.005"))
        .await
        .unwrap();
    before
        .submit(&order(3, Side::Sell, "50500", "0.01"))
        .await
        .unwrap();
    let mut other = client(sim, "beta");
    other
        .submit(&order(3, Side::Buy, "30000", "0.01"))
        .await
        .unwrap();
    drop(before);
    sim.set_partial_fill_cap(Some(d("0.005")));
    sim.candle(symbol, d("49400"), d("50600"), d("50000"));

    let mut after = client(sim, "alpha");
    let stored = [
        (btc.clone(), OrderId(1)),
        (btc.clone(), OrderId(2)),
        (btc.clone(), OrderId(4)),
    ];
    let r = reconcile(&mut after, &stored, |_| false).await.unwrap();

    let updated: Vec<(OrderId, OrderStatus)> = r.updated.iter().map(|o| (o.id, o.status)).collect();
    assert_eq!(
        updated,
        vec![
            (OrderId(1), OrderStatus::New),
            (OrderId(2), OrderStatus::Filled)
        ]
    );
    assert_eq!(r.vanished, vec![(btc.clone(), OrderId(4))]);
    assert_eq!(r.orphans_canceled.len(), 1);
    assert_eq!(r.orphans_canceled[0].id, OrderId(3));
    assert_eq!(r.orphans_canceled[0].status, OrderStatus::Canceled);
    assert_eq!(
        r.orphans_canceled[0].filled_quantity,
        Quantity::new(d("0.005"))
    );
    // Every fill at the venue is recorded exactly once.
    let mut venue_trades: Vec<String> = sim.trades().iter().map(&trade_id).collect();
    let mut missed: Vec<String> = r.missed_fills.iter().map(|f| f.trade_id.clone()).collect();
    venue_trades.sort();
    missed.sort();
    assert_eq!(missed, venue_trades);
    assert_eq!(missed.len(), 2);
    // Open at the venue afterwards: A and the foreign order only.
    let open: Vec<String> = sim
        .orders()
        .iter()
        .filter(|o| o.status.is_open())
        .map(|o| o.client_order_id.clone())
        .collect();
    assert_eq!(open, vec!["alpha-1".to_string(), "beta-3".to_string()]);

    // Reconciling again finds nothing new.
    let seen: BTreeSet<String> = missed.into_iter().collect();
    let again = reconcile(&mut after, &stored[..1], |t| seen.contains(t))
        .await
        .unwrap();
    assert!(again.missed_fills.is_empty());
    assert!(again.orphans_canceled.is_empty());
}

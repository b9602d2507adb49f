//! LimitedReal end to end, on Binance spot and on Coinbase Advanced Trade:
//! the live feed (the exchange simulator's own market data), real orders to
//! the exchange (the simulator's trading API, credentials from the
//! environment), and the hard caps: the RiskPolicy allows $5000 orders and
//! positions, the engine sends none above the $250 seed cap whatever the
//! policy says.

mod run_support;

use std::collections::HashMap;

use botfleet_bot::store::Store;
use botfleet_tests::exchange_sim::SimSide;
use run_support::live::HOUR;
use run_support::venue::{
    COINBASE_KEY, Kind, feed, market_args, simulator_with_history, wait_feed_subscribed,
};
use run_support::{CAPITAL, Engine, Workspace, synthetic};
use rust_decimal::Decimal;

/// A fast SMA crossover in LimitedReal whose policy asks for far more than
/// the seed caps allow.
fn manifests(kind: Kind) -> String {
    let yaml = run_support::manifests("LimitedReal")
        .replace("fast: 10", "fast: 2")
        .replace("slow: 30", "slow: 5")
        .replace(
            "      maxLosingDaysInRow: 10\n",
            "      maxLosingDaysInRow: 10
    limitedReal:
      maxPositionPct: 50
      maxPosition: 5000
      maxOrderNotional: 5000
      maxTradesPerDay: 1000
      stopLossPct: 50
      dailyLossLimitPct: 90
      dailyLossLimit: 5000
      maxDrawdownPct: 90
      maxTotalLossPct: 90
      maxTotalLoss: 5000
      maxLosingDaysInRow: 1000
      symbolCooldownMinutes: 0
    scaling:
      maxPositionPct: 50
      maxTradesPerDay: 1000
      dailyLossLimitPct: 90
      maxDrawdownPct: 90
      maxTotalLossPct: 90
",
        );
    kind.manifests(yaml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_real_trades_on_the_venue_within_the_hard_caps() {
    limited_real_within_the_hard_caps(Kind::Binance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_real_trades_on_the_venue_within_the_hard_caps_on_coinbase() {
    limited_real_within_the_hard_caps(Kind::Coinbase).await;
}

/// Candles fed while the engine runs. Fewer on Coinbase: its feed learns of
/// a close from the next interval's first trade and fetches the candle over
/// REST after a 2 s settle (`close_settle`), so each candle fed costs ≥ 2 s
/// here (in production one candle closes per interval).
fn stream_len(kind: Kind) -> usize {
    match kind {
        Kind::Binance => 300,
        Kind::Coinbase => 60,
    }
}

async fn limited_real_within_the_hard_caps(kind: Kind) {
    // 300 closed hours of history before now (the warm-up), then more fed
    // while the engine runs.
    let now = chrono::Utc::now().timestamp_millis();
    let first = now - now.rem_euclid(HOUR) - 300 * HOUR;
    let mut candles = synthetic(300 + stream_len(kind), 5);
    for (i, c) in candles.iter_mut().enumerate() {
        c.open_time = first + i as i64 * HOUR;
    }
    let sim = simulator_with_history(kind, Decimal::from(CAPITAL), &candles[..300]).await;

    let ws = Workspace::new("LimitedReal");
    std::fs::write(ws.config(), manifests(kind)).unwrap();
    let mut args = market_args(kind, &ws, &sim);
    args.extend(["--venue-url".to_string(), sim.url.clone()]);
    let (key, secret) = kind.credentials(COINBASE_KEY);
    let creds = [
        ("BOTFLEET_EXCHANGE_API_KEY", key.trim()),
        ("BOTFLEET_EXCHANGE_API_SECRET", secret.as_str()),
    ];
    let engine = Engine::start(&ws, &args, &creds);
    wait_feed_subscribed(kind, &sim).await;
    // Ten at a time, each ten stored before the next: market orders fill
    // near the close the engine decided on (each candle moves the price).
    for chunk in candles[300..].chunks(10) {
        let mut last = 0;
        for c in chunk {
            last = feed(kind, &sim, c);
        }
        engine.wait_stored(last).await;
    }
    let status = engine.status().await;
    let log = engine.log_text();
    assert!(engine.terminate().success(), "{log}");
    assert!(status.window.orders > 0, "the bot never traded:\n{log}");
    for secret in kind.secrets() {
        assert!(!log.contains(&secret), "a credential leaked:\n{log}");
    }

    // Every entry the engine decided is within the caps at its candle's
    // close (an exit sells what is held, whatever it is worth now).
    let store = Store::open(&ws.sqlite()).await.unwrap();
    let closes: HashMap<i64, Decimal> = store
        .candles()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.candle.open_time, c.candle.close.value()))
        .collect();
    let mut sent = 0;
    for o in sim.orders() {
        if o.side != SimSide::Buy {
            continue;
        }
        let stored = store
            .order_by_client_id(&o.client_order_id)
            .await
            .unwrap()
            .expect("every order at the venue is stored");
        let notional = stored.quantity.value() * closes[&stored.created_at];
        assert!(
            notional <= Decimal::from(250),
            "order {} of {notional} breaks the $250 hard cap",
            o.client_order_id
        );
        sent += 1;
    }
    store.close().await;
    assert!(sent > 0, "no order reached the venue");
}

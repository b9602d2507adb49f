//! `run` of a Coinbase bot (`exchange.venue: coinbase`) on the live feed,
//! against the exchange simulator's Coinbase market data (REST candles and
//! the market-data WebSocket, via `--market-rest-url`/`--market-ws-url`):
//! the engine picks the Coinbase feed for the venue, the warm-up history
//! only warms the strategy, and every candle closed afterwards is traded
//! once.

mod run_support;

use botfleet_bot::store::Store;
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig, SimSymbol};
use run_support::*;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;

fn coinbase_sim() -> SimConfig {
    let mut config = SimConfig::btcusdt("k", "s");
    config.symbols = vec![SimSymbol {
        symbol: "BTC-USD".into(),
        base: "BTC".into(),
        quote: "USD".into(),
        ..config.symbols[0].clone()
    }];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coinbase_bot_warms_up_and_trades_the_coinbase_candles() {
    let sim = ExchangeSim::start(coinbase_sim()).await;
    let now = chrono::Utc::now().timestamp_millis();
    let first = now - now.rem_euclid(HOUR) - 150 * HOUR;
    let candles = synthetic(170, 3);
    let feed = |c: &botfleet_bot::domain::Candle| (c.low.0, c.high.0, c.close.0);
    for (i, c) in candles[..150].iter().enumerate() {
        let (low, high, close) = feed(c);
        sim.candle_at("BTC-USD", first + i as i64 * HOUR, low, high, close);
    }
    let ws = Workspace::new("Paper");
    let yaml = std::fs::read_to_string(ws.config()).unwrap();
    let coinbase = yaml.replace(
        "venue: binance\n    symbols: [BTCUSDT]",
        "venue: coinbase\n    symbols: [BTC-USD]",
    );
    assert_ne!(yaml, coinbase, "the manifest names the venue");
    std::fs::write(ws.config(), coinbase).unwrap();
    let args: Vec<String> = [
        "--feed",
        "live",
        "--market-rest-url",
        &sim.url,
        "--market-ws-url",
        &sim.coinbase_ws_url(),
        "--control-keys-file",
        &ws.path("control-keys.pub").display().to_string(),
    ]
    .map(String::from)
    .to_vec();

    let engine = Engine::start(&ws, &args, &[]);
    // The engine's feed has subscribed to the trades that announce closes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim
        .requests()
        .iter()
        .any(|r| r.method == "SUBSCRIBE" && r.query == "market_trades")
    {
        assert!(Instant::now() < deadline, "the engine never subscribed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for c in &candles[150..] {
        let (low, high, close) = feed(c);
        sim.candle("BTC-USD", low, high, close);
    }
    let last = sim.klines("BTC-USD").last().unwrap().open_time;
    engine.wait_stored(last).await;
    let (m, _) = engine.metrics().await;
    assert_eq!(
        m["botfleet_engine_candles_processed_total"], 20.0,
        "every candle closed after the start is traded once"
    );
    assert!(engine.terminate().success());

    let store = Store::open(&ws.sqlite()).await.unwrap();
    let stored = store.candles().await.unwrap();
    store.close().await;
    assert_eq!(stored.iter().filter(|c| c.warmup).count(), 100);
    assert_eq!(stored.len(), 120);
    let fed = sim.klines("BTC-USD");
    for (s, k) in stored.iter().zip(&fed[50..]) {
        assert_eq!(s.candle.open_time, k.open_time);
        assert_eq!(s.candle.close.0, k.close);
    }
}

//! The exchange simulator's Coinbase Advanced Trade market data against the
//! engine's real Coinbase clients (`botfleet_bot::coinbase::market`): the
//! public candles endpoint through `CandlesClient` (windows of at most 350
//! candles, newest-first answers put in order, Coinbase's errors, retries),
//! and the market-data WebSocket through the live feed (warm-up, candles
//! announced by `market_trades`, a dropped connection and lost messages
//! backfilled over REST). The candles are the ones the matching engine
//! trades against.

use botfleet_bot::binance::ReconnectPolicy;
use botfleet_bot::coinbase::market::{
    CandleSource, CandlesClient, CoinbaseFeedConfig, CoinbaseRestError, LiveCandle,
    spawn_coinbase_feed,
};
use botfleet_bot::domain::{Symbol, Timeframe};
use botfleet_tests::exchange_sim::{ExchangeSim, Faults, SimConfig, SimKline, SimSymbol};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Generous: a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(60);
const H: i64 = 3_600_000;

fn price(i: usize) -> Decimal {
    Decimal::from(29_000 + (i * 137) % 2_000) + Decimal::new((i % 100) as i64, 2)
}

/// A simulator listing Coinbase products (`BTC-USD`, and `ETH-USD` when `eth`).
fn coinbase_sim_config(eth: bool) -> SimConfig {
    let mut config = SimConfig::btcusdt("k", "s");
    let product = |id: &str, base: &str| SimSymbol {
        symbol: id.into(),
        base: base.into(),
        quote: "USD".into(),
        ..config.symbols[0].clone()
    };
    let mut symbols = vec![product("BTC-USD", "BTC")];
    if eth {
        symbols.push(product("ETH-USD", "ETH"));
    }
    config.symbols = symbols;
    config.balances.push(("USD".into(), Decimal::from(10_000)));
    config
}

fn now_hour() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(H)
}

/// Feeds `n` hourly candles of `product` opening at `first`, `first + 1h`, …
fn feed_from(sim: &ExchangeSim, product: &str, first: i64, from: usize, n: usize) {
    for i in from..from + n {
        let close = price(i);
        sim.candle_at(
            product,
            first + (i - from) as i64 * H,
            close - Decimal::TEN,
            close + Decimal::TEN,
            close,
        );
    }
}

/// Feeds `n` more candles, each one interval after the product's last.
fn feed(sim: &ExchangeSim, product: &str, from: usize, n: usize) {
    for i in from..from + n {
        let close = price(i);
        sim.candle(product, close - Decimal::TEN, close + Decimal::TEN, close);
    }
}

fn same(k: &SimKline, c: &botfleet_bot::domain::Candle) -> bool {
    c.open_time == k.open_time
        && c.open.0 == k.open
        && c.high.0 == k.high
        && c.low.0 == k.low
        && c.close.0 == k.close
        && c.volume.0 == k.volume
}

async fn receive(rx: &mut mpsc::Receiver<LiveCandle>, n: usize) -> Vec<LiveCandle> {
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(c)) => got.push(c),
            Ok(None) => panic!("the feed ended after {} of {n} candles", got.len()),
            Err(_) => panic!("only {} of {n} candles within {WAIT:?}", got.len()),
        }
    }
    got
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn live_config(sim: &ExchangeSim, products: &[&str], warmup: usize) -> CoinbaseFeedConfig {
    let mut config =
        CoinbaseFeedConfig::new(products.iter().map(|s| Symbol::new(*s)), Timeframe::H1);
    config.rest_base_url = sim.url.clone();
    config.ws_url = sim.coinbase_ws_url();
    config.warmup = warmup;
    config.close_settle = Duration::ZERO;
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        jitter: false,
    };
    config
}

/// `(start, end)` in seconds of every candles request the simulator saw.
fn candle_requests(sim: &ExchangeSim) -> Vec<(i64, i64)> {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/candles"))
        .map(|r| {
            let get = |k: &str| {
                r.query
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(-1)
            };
            (get("start"), get("end"))
        })
        .collect()
}

#[tokio::test]
async fn rest_candles_page_through_the_fed_candles_in_windows_of_350() {
    let sim = ExchangeSim::start(coinbase_sim_config(false)).await;
    let first = now_hour() - 1000 * H;
    feed_from(&sim, "BTC-USD", first, 0, 800);
    let fed = sim.klines("BTC-USD");
    let client = CandlesClient::new(&sim.url).unwrap();
    let btc = Symbol::new("BTC-USD");

    let all = client
        .fetch_candles(&btc, Timeframe::H1, first, first + 799 * H)
        .await
        .unwrap();
    assert_eq!(all.len(), 800);
    assert!(fed.iter().zip(&all).all(|(k, c)| same(k, c)));
    let requests = candle_requests(&sim);
    assert_eq!(
        requests.len(),
        3,
        "800 candles need 3 windows: {requests:?}"
    );
    for (start, end) in &requests {
        assert!(
            (end - start) / 3600 < 350,
            "a window asks for more than 350 candles: {start}..{end}"
        );
    }

    // The last 300 intervals before now: the 100 fed in them.
    let recent = client
        .fetch_recent(
            &btc,
            Timeframe::H1,
            300,
            chrono::Utc::now().timestamp_millis(),
        )
        .await
        .unwrap();
    assert_eq!(recent.len(), 100);
    assert!(fed[700..].iter().zip(&recent).all(|(k, c)| same(k, c)));

    let unknown = client
        .fetch_candles(&Symbol::new("DOGE-EUR"), Timeframe::H1, first, first)
        .await
        .unwrap_err();
    assert!(unknown.is_permanent(), "{unknown}");
    assert!(
        matches!(&unknown, CoinbaseRestError::Api { status: 404, error, .. } if error == "NOT_FOUND"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn rest_candles_retry_server_errors() {
    let sim = ExchangeSim::start(coinbase_sim_config(false)).await;
    let first = now_hour() - 10 * H;
    feed_from(&sim, "BTC-USD", first, 0, 5);
    sim.set_faults(Faults {
        server_errors: 2,
        ..Faults::default()
    });
    let client = CandlesClient::new(&sim.url).unwrap();
    let got = client
        .fetch_candles(&Symbol::new("BTC-USD"), Timeframe::H1, first, first + 4 * H)
        .await
        .unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(sim.faults_fired().server_errors, 2);
}

#[tokio::test]
async fn live_feed_warms_up_then_delivers_every_fed_candle_once_in_order() {
    let sim = ExchangeSim::start(coinbase_sim_config(true)).await;
    let first = now_hour() - 200 * H;
    feed_from(&sim, "BTC-USD", first, 0, 60);
    feed_from(&sim, "ETH-USD", first, 0, 60);
    let (mut rx, handle) = spawn_coinbase_feed(
        live_config(&sim, &["BTC-USD", "ETH-USD"], 150),
        CancellationToken::new(),
    )
    .unwrap();
    // Warm-up: the last 150 intervals hold the 10 newest of each product.
    let warm = receive(&mut rx, 20).await;
    assert!(warm.iter().all(|c| c.source == CandleSource::Warmup));
    for product in ["BTC-USD", "ETH-USD"] {
        let fed = sim.klines(product);
        let got: Vec<_> = warm
            .iter()
            .filter(|c| c.symbol.as_str() == product)
            .collect();
        assert_eq!(got.len(), 10, "{product}");
        assert!(fed[50..].iter().zip(&got).all(|(k, c)| same(k, &c.candle)));
    }
    // A heartbeat follows the market_trades subscription.
    wait_for("a heartbeat", || handle.stats().pings >= 1).await;

    // Each fed candle's closing trade makes the feed fetch it.
    feed(&sim, "BTC-USD", 60, 5);
    feed(&sim, "ETH-USD", 60, 3);
    let live = receive(&mut rx, 8).await;
    for product in ["BTC-USD", "ETH-USD"] {
        let fed = sim.klines(product);
        let got: Vec<_> = live
            .iter()
            .filter(|c| c.symbol.as_str() == product)
            .collect();
        assert_eq!(got.len(), fed.len() - 60, "{product}");
        assert!(fed[60..].iter().zip(&got).all(|(k, c)| same(k, &c.candle)));
    }
    let stats = handle.stats();
    assert_eq!(stats.duplicates_skipped, 0);
    assert_eq!(stats.connections, 1);
    assert!(stats.pings >= 1, "heartbeats arrive: {stats:?}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropped_connection_is_backfilled_over_rest() {
    let sim = ExchangeSim::start(coinbase_sim_config(false)).await;
    feed_from(&sim, "BTC-USD", now_hour() - 100 * H, 0, 10);
    let (mut rx, handle) = spawn_coinbase_feed(
        live_config(&sim, &["BTC-USD"], 200),
        CancellationToken::new(),
    )
    .unwrap();
    receive(&mut rx, 10).await;
    wait_for("a heartbeat", || handle.stats().pings >= 1).await;

    sim.set_streams_down(true);
    wait_for("the connection to drop", || sim.stream_connections() == 0).await;
    feed(&sim, "BTC-USD", 10, 4);
    sim.set_streams_down(false);

    let got = receive(&mut rx, 4).await;
    let fed = sim.klines("BTC-USD");
    assert!(fed[10..].iter().zip(&got).all(|(k, c)| same(k, &c.candle)));
    assert!(got.iter().all(|c| c.source == CandleSource::Backfill));
    let stats = handle.stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert!(stats.connections >= 2, "{stats:?}");
    assert_eq!(stats.duplicates_skipped, 0);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn lost_trade_message_is_seen_as_a_sequence_gap_and_backfilled() {
    let sim = ExchangeSim::start(coinbase_sim_config(false)).await;
    feed_from(&sim, "BTC-USD", now_hour() - 100 * H, 0, 3);
    let (mut rx, handle) = spawn_coinbase_feed(
        live_config(&sim, &["BTC-USD"], 200),
        CancellationToken::new(),
    )
    .unwrap();
    receive(&mut rx, 3).await;
    wait_for("a heartbeat", || handle.stats().pings >= 1).await;

    // The trade that announces this candle never reaches the feed; the next
    // heartbeat's sequence_num jumps, and the feed backfills.
    sim.lose_coinbase_messages(1);
    feed(&sim, "BTC-USD", 3, 1);
    let got = receive(&mut rx, 1).await;
    assert!(same(&sim.klines("BTC-USD")[3], &got[0].candle));
    let stats = handle.stats();
    assert_eq!(stats.sequence_gaps, 1, "{stats:?}");
    assert_eq!(stats.connections, 1, "no reconnect was needed: {stats:?}");
    handle.shutdown().await.unwrap();
}

/// Closes arriving faster than `close_settle` are fetched while the stream
/// is read on: a burst of ten closes costs about one settle in all. Waiting
/// out the settle once per close, one close after another, would need ten
/// (30 s here) and keep a live bot further behind with every candle.
#[tokio::test]
async fn a_burst_of_closes_waits_out_the_settle_once_not_once_per_candle() {
    const SETTLE: Duration = Duration::from_secs(3);
    let sim = ExchangeSim::start(coinbase_sim_config(false)).await;
    feed_from(&sim, "BTC-USD", now_hour() - 100 * H, 0, 3);
    let mut config = live_config(&sim, &["BTC-USD"], 200);
    config.close_settle = SETTLE;
    let (mut rx, handle) = spawn_coinbase_feed(config, CancellationToken::new()).unwrap();
    receive(&mut rx, 3).await;
    wait_for("a heartbeat", || handle.stats().pings >= 1).await;

    let started = Instant::now();
    feed(&sim, "BTC-USD", 3, 10);
    let got = receive(&mut rx, 10).await;
    let took = started.elapsed();
    let fed = sim.klines("BTC-USD");
    assert!(fed[3..].iter().zip(&got).all(|(k, c)| same(k, &c.candle)));
    assert!(took >= SETTLE, "fetched before the settle: {took:?}");
    assert!(
        took < SETTLE * 10 / 2,
        "ten closes took {took:?}: the settle was waited out per candle"
    );
    assert_eq!(handle.stats().duplicates_skipped, 0);
    handle.shutdown().await.unwrap();
}

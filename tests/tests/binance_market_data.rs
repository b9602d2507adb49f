//! The exchange simulator's market data against the engine's real Binance
//! clients (`botfleet_bot::binance`): `GET /api/v3/klines` through
//! `MarketDataClient` (paging, Binance's errors), and the kline WebSocket
//! through the live feed (warm-up, raw and combined streams, a dropped
//! connection backfilled over REST). The candles are the ones the matching
//! engine trades against.

use botfleet_bot::binance::{
    CandleSource, LiveCandle, LiveFeedConfig, MarketDataClient, ReconnectPolicy, RestError,
    kline_stream_url, spawn_live_feed,
};
use botfleet_bot::binance::{KlineStreamConnection, StreamError};
use botfleet_bot::domain::{Symbol, Timeframe};
use botfleet_tests::exchange_sim::{ExchangeSim, SimConfig, SimKline, SimSymbol};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Generous: a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(60);

fn price(i: usize) -> Decimal {
    // A saw between 29 000 and 31 000, cents included.
    Decimal::from(29_000 + (i * 137) % 2_000) + Decimal::new((i % 100) as i64, 2)
}

fn feed(sim: &ExchangeSim, symbol: &str, from: usize, n: usize) {
    for i in from..from + n {
        let close = price(i);
        sim.candle(symbol, close - Decimal::TEN, close + Decimal::TEN, close);
    }
}

fn two_symbols() -> SimConfig {
    let mut config = SimConfig::btcusdt("k", "s");
    let mut eth: SimSymbol = config.symbols[0].clone();
    eth.symbol = "ETHUSDT".into();
    eth.base = "ETH".into();
    config.symbols.push(eth);
    config
}

/// What the engine's candle says vs the simulator's kline.
fn same(k: &SimKline, c: &LiveCandle) -> bool {
    c.candle.open_time == k.open_time
        && c.candle.open.0 == k.open
        && c.candle.high.0 == k.high
        && c.candle.low.0 == k.low
        && c.candle.close.0 == k.close
        && c.candle.volume.0 == k.volume
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

fn live_config(sim: &ExchangeSim, symbols: &[&str], warmup: usize) -> LiveFeedConfig {
    let mut config = LiveFeedConfig::new(symbols.iter().map(|s| Symbol::new(*s)), Timeframe::H1);
    config.rest_base_url = sim.url.clone();
    config.ws_base_url = sim.ws_url.clone();
    config.warmup = warmup;
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        jitter: false,
    };
    config
}

#[tokio::test]
async fn rest_klines_page_through_the_fed_candles_with_binances_errors() {
    let sim = ExchangeSim::start(SimConfig::btcusdt("k", "s")).await;
    feed(&sim, "BTCUSDT", 0, 1500);
    let fed = sim.klines("BTCUSDT");
    assert_eq!(fed.len(), 1500);
    assert!(
        fed.windows(2)
            .all(|w| w[1].open_time == w[0].open_time + 3_600_000),
        "auto-timed klines follow each other one interval apart"
    );
    assert!(
        fed.last().unwrap().close_time < chrono_now(),
        "auto-timed klines are closed (in the past)"
    );

    let client = MarketDataClient::new(&sim.url).unwrap();
    let btc = Symbol::new("BTCUSDT");
    // More than one page: the client pages backwards, then forwards.
    let recent = client
        .fetch_recent_klines(&btc, Timeframe::H1, 1200)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1200);
    for (k, r) in fed[300..].iter().zip(&recent) {
        assert_eq!(
            (
                r.open_time,
                r.close_time,
                r.open.0,
                r.high.0,
                r.low.0,
                r.close.0
            ),
            (k.open_time, k.close_time, k.open, k.high, k.low, k.close)
        );
    }
    let range = client
        .fetch_klines(
            &btc,
            Timeframe::H1,
            fed[10].open_time,
            fed[19].open_time,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        range.iter().map(|k| k.open_time).collect::<Vec<_>>(),
        fed[10..20].iter().map(|k| k.open_time).collect::<Vec<_>>()
    );

    let wrong_interval = client
        .klines_page(&btc, Timeframe::M1, None, None, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong_interval,
            RestError::Api {
                status: 400,
                code: -1120,
                ..
            }
        ),
        "{wrong_interval}"
    );
    let unknown = client
        .klines_page(&Symbol::new("NOPEUSDT"), Timeframe::H1, None, None, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(
            unknown,
            RestError::Api {
                status: 400,
                code: -1121,
                ..
            }
        ),
        "{unknown}"
    );
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/api/v3/klines" && r.status == 200),
        "the simulator records market data requests"
    );
}

#[tokio::test]
async fn live_feed_gets_every_fed_candle_once_in_order_across_a_dropped_stream() {
    let sim = ExchangeSim::start(SimConfig::btcusdt("k", "s")).await;
    feed(&sim, "BTCUSDT", 0, 50);
    let (mut rx, handle) = spawn_live_feed(
        live_config(&sim, &["BTCUSDT"], 20),
        CancellationToken::new(),
    )
    .unwrap();
    let warm = receive(&mut rx, 20).await;
    assert!(warm.iter().all(|c| c.source == CandleSource::Warmup));
    wait_for("the kline stream connection", || {
        sim.stream_connections() == 1
    })
    .await;

    feed(&sim, "BTCUSDT", 50, 10);
    let streamed = receive(&mut rx, 10).await;
    assert!(streamed.iter().all(|c| c.source == CandleSource::Stream));

    // Candles closing while the stream is down arrive by backfill.
    sim.set_streams_down(true);
    wait_for("the connection to end", || sim.stream_connections() == 0).await;
    feed(&sim, "BTCUSDT", 60, 10);
    sim.set_streams_down(false);
    let after_drop = receive(&mut rx, 10).await;
    assert!(
        after_drop
            .iter()
            .all(|c| c.source == CandleSource::Backfill),
        "{:?}",
        after_drop.iter().map(|c| c.source).collect::<Vec<_>>()
    );
    wait_for("the reconnect", || sim.stream_connections() == 1).await;
    // A plain drop (as Binance at 24 h): the client reconnects by itself.
    sim.drop_stream_connections();
    wait_for("the reconnect after a drop", || {
        handle.stats().connections >= 3 && sim.stream_connections() == 1
    })
    .await;
    feed(&sim, "BTCUSDT", 70, 10);
    let last = receive(&mut rx, 10).await;

    let got: Vec<LiveCandle> = [warm, streamed, after_drop, last].concat();
    let fed = sim.klines("BTCUSDT");
    assert_eq!(got.len(), 50);
    for (k, c) in fed[30..].iter().zip(&got) {
        assert!(same(k, c), "candle {:?} vs the simulator's {k:?}", c.candle);
    }
    let stats = handle.stats();
    assert!(stats.reconnects >= 2, "{stats:?}");
    assert_eq!(stats.backfilled_candles, 10, "{stats:?}");
    assert_eq!(stats.malformed_messages, 0, "{stats:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "no candle twice"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn combined_stream_carries_each_symbols_candles() {
    let sim = ExchangeSim::start(two_symbols()).await;
    let (mut rx, handle) = spawn_live_feed(
        live_config(&sim, &["BTCUSDT", "ETHUSDT"], 0),
        CancellationToken::new(),
    )
    .unwrap();
    wait_for("the combined stream connection", || {
        sim.stream_connections() == 1
    })
    .await;
    assert!(
        sim.requests().iter().any(|r| r.path == "/stream"
            && r.query.contains("ethusdt@kline_1h")
            && r.status == 101),
        "the feed used a combined stream: {:?}",
        sim.requests()
    );
    // No warm-up: the feed expects klines from the current interval on.
    let now = chrono_now();
    let first = now - now.rem_euclid(3_600_000);
    for i in 0..5 {
        let t = first + i * 3_600_000;
        let p = price(i as usize);
        sim.candle_at("BTCUSDT", t, p - Decimal::ONE, p + Decimal::ONE, p);
        let e = p / Decimal::TEN;
        sim.candle_at("ETHUSDT", t, e - Decimal::ONE, e + Decimal::ONE, e);
    }
    let got = receive(&mut rx, 10).await;
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        let mine: Vec<&LiveCandle> = got.iter().filter(|c| c.symbol.as_str() == symbol).collect();
        let fed = sim.klines(symbol);
        assert_eq!(mine.len(), 5, "{symbol}");
        for (k, c) in fed.iter().zip(mine) {
            assert!(same(k, c), "{symbol}: {:?} vs {k:?}", c.candle);
        }
    }
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn streams_the_simulator_does_not_serve_are_refused_at_the_handshake() {
    let sim = ExchangeSim::start(SimConfig::btcusdt("k", "s")).await;
    let url = kline_stream_url(&sim.ws_url, &[Symbol::new("BTCUSDT")], Timeframe::M1).unwrap();
    let refused = KlineStreamConnection::connect(&url, WAIT).await.err();
    assert!(
        matches!(refused, Some(StreamError::Connect { .. })),
        "a 1m stream on a 1h simulator: {:?}",
        refused.map(|e| e.to_string())
    );
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/ws/btcusdt@kline_1m" && r.status == 400)
    );
    // A misplaced time is the test's mistake, refused with a clear reason.
    let p = Decimal::from(30_000);
    sim.candle("BTCUSDT", p, p, p);
    let last = sim.klines("BTCUSDT")[0].open_time;
    let early = sim.try_candle_at("BTCUSDT", last, p, p, p).unwrap_err();
    assert!(
        early.msg.contains("not after the last one"),
        "{}",
        early.msg
    );
    let odd = sim
        .try_candle_at("BTCUSDT", last + 3_600_001, p, p, p)
        .unwrap_err();
    assert!(odd.msg.contains("multiple of the interval"), "{}", odd.msg);
    assert_eq!(
        sim.klines("BTCUSDT").len(),
        1,
        "a refused candle changes nothing"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

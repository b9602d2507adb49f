use super::*;
use crate::binance::feed_config::ReconnectPolicy;
use crate::binance::market_client::RetryPolicy;
use crate::binance::test_support::{Canned, FakeBinance, FakeConnection, kline_at, minutes_ago};
use crate::domain::Timeframe;
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

fn config(server: &FakeBinance, symbols: &[&str], warmup: usize) -> LiveFeedConfig {
    LiveFeedConfig {
        rest_base_url: server.rest_url.clone(),
        ws_base_url: server.ws_url.clone(),
        warmup,
        reconnect: ReconnectPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            jitter: false,
        },
        rest_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        ..LiveFeedConfig::new(symbols.iter().map(|s| Symbol::new(*s)), Timeframe::M1)
    }
}

async fn next(rx: &mut mpsc::Receiver<LiveCandle>) -> LiveCandle {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no candle within 5 s")
        .expect("the feed ended")
}

/// Receives `n` candles as (kline number from `base`, source).
async fn take(
    rx: &mut mpsc::Receiver<LiveCandle>,
    base: i64,
    n: usize,
) -> Vec<(i64, CandleSource)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let c = next(rx).await;
        // The candle is the very kline the server has for that minute.
        assert_eq!(
            c.candle,
            kline_at(base, (c.candle.open_time - base) / 60_000).candle()
        );
        out.push(((c.candle.open_time - base) / 60_000, c.source));
    }
    out
}

/// Sends kline `n` closed on the stream and records it as closed in the REST history.
async fn close_on_stream(server: &FakeBinance, conn: &mut FakeConnection, base: i64, n: i64) {
    let k = kline_at(base, n);
    server.add_klines("BTCUSDT", [k.clone()]);
    conn.send_kline("BTCUSDT", &k, false).await;
    conn.send_kline("BTCUSDT", &k, true).await;
}

use CandleSource::{Backfill as B, Stream as S, Warmup as W};

#[tokio::test]
async fn gap_after_disconnect_is_backfilled_and_every_candle_arrives_once_in_order() {
    let mut server = FakeBinance::start().await;
    let base = minutes_ago(30);
    server.add_klines("BTCUSDT", (-4..=0).map(|n| kline_at(base, n)));
    let cancel = CancellationToken::new();
    let (mut rx, feed) = spawn_live_feed(config(&server, &["BTCUSDT"], 2), cancel.clone()).unwrap();

    let mut a = server.next_connection().await;
    assert_eq!(a.path, "/ws/btcusdt@kline_1m");
    // Warm-up: the last 2 closed candles of the history, before any stream candle.
    assert_eq!(take(&mut rx, base, 2).await, vec![(-1, W), (0, W)]);

    a.ws.send(Message::Ping(b"hb".to_vec().into()))
        .await
        .unwrap();
    for n in 1..=5 {
        close_on_stream(&server, &mut a, base, n).await;
        if n == 3 {
            a.send_text(r#"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":"garbage"}}"#)
                .await;
        }
    }
    assert_eq!(
        take(&mut rx, base, 5).await,
        (1..=5).map(|n| (n, S)).collect::<Vec<_>>()
    );
    match a.ws.next().await {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"hb"),
        other => panic!("expected the pong, got {other:?}"),
    }

    // Candles 6..8 close while the connection is down.
    server.add_klines("BTCUSDT", (6..=8).map(|n| kline_at(base, n)));
    drop(a);
    let mut b = server.next_connection().await;
    // The new connection replays 8; it waits in the socket while the feed backfills.
    b.send_kline("BTCUSDT", &kline_at(base, 8), true).await;
    assert_eq!(take(&mut rx, base, 3).await, vec![(6, B), (7, B), (8, B)]);
    close_on_stream(&server, &mut b, base, 9).await;
    assert_eq!(take(&mut rx, base, 1).await, vec![(9, S)]);
    // Backfill asked for exactly the candles after the last one delivered.
    let backfill = server
        .requests()
        .into_iter()
        .find(|r| r.param("startTime").is_some())
        .unwrap();
    assert_eq!(backfill.param("startTime"), Some(base + 6 * 60_000));

    let stats = feed.stats();
    assert_eq!(stats.malformed_messages, 1);
    assert_eq!(stats.duplicates_skipped, 1);
    assert_eq!(stats.pings, 1);
    assert_eq!(
        (
            stats.warmup_candles,
            stats.stream_candles,
            stats.backfilled_candles
        ),
        (2, 6, 3)
    );
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.reconnects, 1);

    feed.shutdown().await.unwrap();
    assert!(
        rx.recv().await.is_none(),
        "the channel closes after shutdown"
    );
}

#[tokio::test]
async fn a_skipped_kline_on_the_stream_is_fetched_before_the_next_one() {
    let mut server = FakeBinance::start().await;
    let base = minutes_ago(30);
    server.add_klines("BTCUSDT", [kline_at(base, 0)]);
    server.add_klines("ETHUSDT", [kline_at(base, 0)]);
    let (mut rx, feed) = spawn_live_feed(
        config(&server, &["BTCUSDT", "ETHUSDT"], 1),
        CancellationToken::new(),
    )
    .unwrap();
    let mut conn = server.next_connection().await;
    assert_eq!(
        conn.path,
        "/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
    );
    let mut got: Vec<(String, i64, CandleSource)> = Vec::new();
    let mut record = |c: LiveCandle| {
        got.push((
            c.symbol.to_string(),
            (c.candle.open_time - base) / 60_000,
            c.source,
        ))
    };
    record(next(&mut rx).await);
    record(next(&mut rx).await);

    // BTC: 1, 2, then 5 — 3 and 4 closed but the stream skipped them.
    server.add_klines("BTCUSDT", (1..=5).map(|n| kline_at(base, n)));
    server.add_klines("ETHUSDT", [kline_at(base, 1)]);
    for n in [1, 2, 5] {
        conn.send_wrapped_kline("BTCUSDT", &kline_at(base, n), true)
            .await;
    }
    // Not subscribed: counted and ignored.
    conn.send_wrapped_kline("XRPUSDT", &kline_at(base, 1), true)
        .await;
    conn.send_wrapped_kline("ETHUSDT", &kline_at(base, 1), true)
        .await;
    for _ in 0..6 {
        record(next(&mut rx).await);
    }
    let btc: Vec<_> = got
        .iter()
        .filter(|g| g.0 == "BTCUSDT")
        .map(|g| (g.1, g.2))
        .collect();
    let eth: Vec<_> = got
        .iter()
        .filter(|g| g.0 == "ETHUSDT")
        .map(|g| (g.1, g.2))
        .collect();
    assert_eq!(btc, vec![(0, W), (1, S), (2, S), (3, B), (4, B), (5, S)]);
    assert_eq!(eth, vec![(0, W), (1, S)]);
    assert_eq!(feed.stats().unexpected_messages, 1);
    feed.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_connection_is_replaced_and_the_age_limit_reconnects() {
    let mut server = FakeBinance::start().await;
    server.add_klines("BTCUSDT", [kline_at(minutes_ago(10), 0)]);
    let cfg = LiveFeedConfig {
        stale_after: Duration::from_millis(150),
        ..config(&server, &["BTCUSDT"], 0)
    };
    let (_rx, feed) = spawn_live_feed(cfg, CancellationToken::new()).unwrap();
    let _silent = server.next_connection().await;
    let _second = server.next_connection().await;
    assert!(feed.stats().reconnects >= 1);
    feed.shutdown().await.unwrap();

    let cfg = LiveFeedConfig {
        max_connection_age: Duration::from_millis(100),
        ..config(&server, &["BTCUSDT"], 0)
    };
    let (_rx, feed) = spawn_live_feed(cfg, CancellationToken::new()).unwrap();
    let mut first = server.next_connection().await;
    // The client closes the old connection itself, politely, before reconnecting.
    let _second = server.next_connection().await;
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match first.ws.next().await {
                Some(Ok(Message::Close(_))) | None => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the aged connection was not closed");
    feed.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_shutdown_notice_triggers_a_reconnect() {
    let mut server = FakeBinance::start().await;
    server.add_klines("BTCUSDT", [kline_at(minutes_ago(10), 0)]);
    let (_rx, feed) =
        spawn_live_feed(config(&server, &["BTCUSDT"], 0), CancellationToken::new()).unwrap();
    let mut conn = server.next_connection().await;
    conn.send_text(r#"{"e":"serverShutdown","E":1}"#).await;
    assert!(server.try_next_connection(WAIT).await.is_some());
    feed.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unknown_symbol_stops_the_feed_with_binances_message() {
    let mut server = FakeBinance::start().await;
    let (mut rx, feed) =
        spawn_live_feed(config(&server, &["NOPE"], 5), CancellationToken::new()).unwrap();
    let _conn = server.next_connection().await;
    let result = tokio::time::timeout(WAIT, feed.join())
        .await
        .expect("the feed gave up");
    match result {
        Err(FeedError::Rest {
            symbol,
            source:
                RestError::Api {
                    status: 400,
                    code: -1121,
                    msg,
                },
        }) => {
            assert_eq!(symbol, Symbol::new("NOPE"));
            assert_eq!(msg, "Invalid symbol.");
        }
        other => panic!("expected the invalid-symbol error, got {other:?}"),
    }
    assert!(rx.recv().await.is_none());
}

#[tokio::test]
async fn a_failing_backfill_is_retried_after_reconnecting() {
    let mut server = FakeBinance::start().await;
    let base = minutes_ago(30);
    server.add_klines("BTCUSDT", (-1..=3).map(|n| kline_at(base, n)));
    let cfg = LiveFeedConfig {
        rest_retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..config(&server, &["BTCUSDT"], 1)
    };
    // The warm-up's first answer is a 503: no candle may be lost or repeated.
    server.push_canned(Canned {
        status: 503,
        headers: vec![],
        body: "unavailable".into(),
    });
    let (mut rx, feed) = spawn_live_feed(cfg, CancellationToken::new()).unwrap();
    let _a = server.next_connection().await;
    let _b = server.next_connection().await;
    assert_eq!(take(&mut rx, base, 1).await, vec![(3, W)]);
    assert!(feed.stats().reconnects >= 1);
    feed.shutdown().await.unwrap();
}

#[tokio::test]
async fn cancellation_stops_the_feed_while_it_waits_to_reconnect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("ws://{}", listener.local_addr().unwrap());
    drop(listener);
    let server = FakeBinance::start().await;
    let cfg = LiveFeedConfig {
        ws_base_url: dead,
        reconnect: ReconnectPolicy {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(30),
            jitter: false,
        },
        ..config(&server, &["BTCUSDT"], 0)
    };
    let parent = CancellationToken::new();
    let (mut rx, feed) = spawn_live_feed(cfg, parent.child_token()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    parent.cancel();
    let joined = tokio::time::timeout(Duration::from_secs(2), feed.join()).await;
    assert!(matches!(joined, Ok(Ok(()))), "{joined:?}");
    assert!(rx.recv().await.is_none());
}

#[test]
fn bad_config_is_refused_before_starting() {
    let mut cfg = LiveFeedConfig::new([Symbol::new("BTCUSDT")], Timeframe::M1);
    cfg.ws_base_url = "http://stream.binance.com".into();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _guard = rt.enter();
    match spawn_live_feed(cfg, CancellationToken::new()) {
        Err(FeedError::Config { field, problem }) => {
            assert_eq!(field, "ws_base_url");
            assert!(problem.contains("ws or wss"), "{problem}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("an http WebSocket URL was accepted"),
    }
}

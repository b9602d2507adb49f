//! `run --feed binance` against a local stand-in for Binance (REST klines and
//! the kline WebSocket, via `--binance-rest-url`/`--binance-ws-url`): the
//! warm-up history only warms the strategy, closed stream klines are traded,
//! and a restart neither re-trades nor skips a candle.

mod run_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use botfleet_bot::binance::{Kline, KlineEvent, encode_klines};
use botfleet_bot::domain::{Candle, Money, Symbol};
use botfleet_bot::store::Store;
use botfleet_crds::engine_api::EngineState;
use futures::SinkExt;
use run_support::*;
use tokio_tungstenite::tungstenite::Message;

const HOUR: i64 = 3_600_000;

fn kline(c: &Candle) -> Kline {
    Kline {
        open_time: c.open_time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        close_time: c.open_time + HOUR - 1,
        quote_volume: Money::from(1),
        trades: 1,
        taker_buy_base_volume: c.volume,
        taker_buy_quote_volume: Money::from(1),
    }
}

struct FakeBinance {
    rest_url: String,
    ws_url: String,
    connections: Arc<AtomicUsize>,
}

/// REST serves `history`; WebSocket connection `n` sends the closed klines
/// of `streams[n]`, then stays open.
async fn fake_binance(history: Vec<Candle>, streams: Vec<Vec<Candle>>) -> FakeBinance {
    type Rest = Arc<Mutex<Vec<Kline>>>;
    async fn klines(State(h): State<Rest>, Query(q): Query<HashMap<String, String>>) -> String {
        let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
        let limit = num("limit").unwrap_or(500) as usize;
        let h = h.lock().unwrap();
        let rows: Vec<Kline> = match (num("startTime"), num("endTime")) {
            (None, None) => h[h.len().saturating_sub(limit)..].to_vec(),
            (s, e) => h
                .iter()
                .filter(|k| {
                    s.is_none_or(|s| k.open_time >= s) && e.is_none_or(|e| k.open_time <= e)
                })
                .take(limit)
                .cloned()
                .collect(),
        };
        encode_klines(&rows)
    }
    let rest: Rest = Arc::new(Mutex::new(history.iter().map(kline).collect()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rest_url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/api/v3/klines", axum::routing::get(klines))
        .with_state(rest);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}", ws.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = ws.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let batch = streams.get(n).cloned().unwrap_or_default();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                for c in &batch {
                    let event = KlineEvent {
                        event_time: c.open_time + HOUR,
                        symbol: Symbol::new("BTCUSDT"),
                        interval: "1h".into(),
                        first_trade_id: 1,
                        last_trade_id: 2,
                        is_closed: true,
                        kline: kline(c),
                    };
                    if ws
                        .send(Message::text(event.to_json().to_string()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                // Keep the connection open (pings keep it fresh) until the engine leaves.
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    FakeBinance {
        rest_url,
        ws_url,
        connections,
    }
}

impl FakeBinance {
    /// `run` arguments: the live feed from this stand-in, the workspace's token.
    fn args(&self, ws: &Workspace) -> Vec<String> {
        [
            "--feed",
            "binance",
            "--binance-rest-url",
            &self.rest_url,
            "--binance-ws-url",
            &self.ws_url,
            "--control-keys-file",
            &ws.path("control-keys.pub").display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_warms_up_trades_closed_klines_and_resumes() {
    // 400 closed hours of history before now, then 300 "stream" hours.
    let now = chrono::Utc::now().timestamp_millis();
    let first = now - now.rem_euclid(HOUR) - 400 * HOUR;
    let mut candles = synthetic(700, 3);
    for (i, c) in candles.iter_mut().enumerate() {
        c.open_time = first + i as i64 * HOUR;
    }
    let fake = fake_binance(
        candles[..400].to_vec(),
        vec![candles[400..600].to_vec(), candles[600..700].to_vec()],
    )
    .await;
    let ws = Workspace::new("Paper");
    let args = fake.args(&ws);

    let engine = Engine::start(&ws, &args, &[]);
    engine.wait_stored(candles[599].open_time).await;
    let (m, _) = engine.metrics().await;
    assert_eq!(
        m["botfleet_engine_candles_processed_total"], 200.0,
        "only the stream's closed klines are traded"
    );
    let status = engine.status().await;
    assert_eq!(status.state, EngineState::Trading);
    assert!(status.window.orders > 0, "the bot traded on the stream");
    assert!(engine.terminate().success());

    let store = Store::open(&ws.sqlite()).await.unwrap();
    let stored = store.candles().await.unwrap();
    store.close().await;
    let warm: Vec<i64> = stored
        .iter()
        .filter(|c| c.warmup)
        .map(|c| c.candle.open_time)
        .collect();
    assert_eq!(
        warm.len(),
        100,
        "the warm-up history (3 × the slow SMA, at least 100)"
    );
    assert_eq!(warm.first(), Some(&candles[300].open_time));
    assert_eq!(stored.len(), 300);
    let traded_before = contents(&ws.sqlite()).await;
    assert_consistent(&traded_before);
    assert!(
        traded_before
            .orders
            .iter()
            .all(|o| o.created_at >= candles[400].open_time),
        "nothing was traded on warm-up history"
    );

    // Restart: the warm-up overlaps the store and is dropped; the stream
    // continues where the store ends.
    let engine = Engine::start(&ws, &args, &[]);
    engine.wait_stored(candles[699].open_time).await;
    let (m, _) = engine.metrics().await;
    assert_eq!(m["botfleet_engine_candles_processed_total"], 100.0);
    assert!(engine.terminate().success());
    assert!(fake.connections.load(Ordering::SeqCst) >= 2);
    let after = contents(&ws.sqlite()).await;
    assert_consistent(&after);
    assert_eq!(after.candles, 400, "every candle once");
    assert_prefix(&traded_before, &after);
}

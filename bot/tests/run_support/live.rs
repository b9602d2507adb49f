//! A stand-in for Binance's public market data that the test drives: REST
//! klines (`/api/v3/klines`) serve the history plus everything pushed, and
//! every kline WebSocket connection receives each pushed candle as a closed
//! kline when the test pushes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use botfleet_bot::binance::{Kline, KlineEvent, encode_klines};
use botfleet_bot::domain::{Candle, Money, Symbol};
use futures::SinkExt;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use super::{TIMEOUT, Workspace};

pub const HOUR: i64 = 3_600_000;

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

type History = Arc<Mutex<Vec<Kline>>>;

pub struct LiveMarket {
    pub rest_url: String,
    pub ws_url: String,
    history: History,
    stream: broadcast::Sender<Kline>,
    connections: Arc<AtomicUsize>,
}

async fn klines(State(h): State<History>, Query(q): Query<HashMap<String, String>>) -> String {
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let limit = num("limit").unwrap_or(500) as usize;
    let h = h.lock().unwrap();
    let rows: Vec<Kline> = match (num("startTime"), num("endTime")) {
        (None, None) => h[h.len().saturating_sub(limit)..].to_vec(),
        (s, e) => h
            .iter()
            .filter(|k| s.is_none_or(|s| k.open_time >= s) && e.is_none_or(|e| k.open_time <= e))
            .take(limit)
            .cloned()
            .collect(),
    };
    encode_klines(&rows)
}

impl LiveMarket {
    /// Serves `history` (one-hour BTCUSDT candles) over REST; the stream
    /// sends what [`Self::push`] is given.
    pub async fn start(history: &[Candle]) -> LiveMarket {
        let history: History = Arc::new(Mutex::new(history.iter().map(kline).collect()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/api/v3/klines", axum::routing::get(klines))
            .with_state(history.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let (stream, _) = broadcast::channel::<Kline>(1024);
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_url = format!("ws://{}", ws.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let (count, sender) = (connections.clone(), stream.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = ws.accept().await {
                let mut klines = sender.subscribe();
                let count = count.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    let mut ping = tokio::time::interval(Duration::from_secs(5));
                    loop {
                        let message = tokio::select! {
                            k = klines.recv() => match k {
                                Ok(k) => Message::text(closed_event(k).to_json().to_string()),
                                Err(_) => return,
                            },
                            _ = ping.tick() => Message::Ping(Vec::new().into()),
                        };
                        if ws.send(message).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LiveMarket {
            rest_url,
            ws_url,
            history,
            stream,
            connections,
        }
    }

    /// `run` arguments: the live feed from this stand-in, the workspace's token.
    pub fn args(&self, ws: &Workspace) -> Vec<String> {
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

    /// Waits (bounded) until an engine has connected to the stream.
    pub async fn wait_connected(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while self.connections.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "the engine never connected to the stream"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A candle closed: REST serves it from now on and the stream sends it.
    pub fn push(&self, c: &Candle) {
        let k = kline(c);
        self.history.lock().unwrap().push(k.clone());
        let _ = self.stream.send(k);
    }
}

fn closed_event(k: Kline) -> KlineEvent {
    KlineEvent {
        event_time: k.close_time + 1,
        symbol: Symbol::new("BTCUSDT"),
        interval: "1h".into(),
        first_trade_id: 1,
        last_trade_id: 2,
        is_closed: true,
        kline: k,
    }
}

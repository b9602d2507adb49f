//! A local stand-in for Binance in tests: `GET /api/v3/klines` with Binance's
//! semantics (range, limit, most-recent-first-page, error body) over a kline
//! history the test controls, and a WebSocket endpoint whose connections are
//! handed to the test to script. Every REST request is recorded with its time.

use super::kline_stream::KlineEvent;
use super::klines::{Kline, encode_klines};
use crate::domain::{Money, Price, Quantity, Symbol};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Response, StatusCode};
use axum::routing::get;
use futures::SinkExt;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};

/// One recorded REST request.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub at: Instant,
    pub params: HashMap<String, String>,
}

impl Recorded {
    pub fn param(&self, key: &str) -> Option<i64> {
        self.params.get(key).and_then(|v| v.parse().ok())
    }
}

/// A canned answer served instead of the next normal one (fault injection).
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Default)]
struct FakeState {
    klines: BTreeMap<String, Vec<Kline>>,
    requests: Vec<Recorded>,
    canned: VecDeque<Canned>,
}

type Shared = Arc<Mutex<FakeState>>;

pub struct FakeBinance {
    pub rest_url: String,
    pub ws_url: String,
    state: Shared,
    connections: mpsc::UnboundedReceiver<FakeConnection>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeBinance {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeBinance {
    pub async fn start() -> Self {
        let state: Shared = Arc::default();
        let rest = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest_url = format!("http://{}", rest.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/api/v3/klines", get(klines_handler))
            .with_state(state.clone());
        let rest_task = tokio::spawn(async move {
            axum::serve(rest, app).await.unwrap();
        });
        let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_url = format!("ws://{}", ws.local_addr().unwrap());
        let (tx, connections) = mpsc::unbounded_channel();
        let ws_task = tokio::spawn(async move {
            while let Ok((tcp, _)) = ws.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut path = String::new();
                    // The handshake callback's error type is tungstenite's, not ours.
                    #[allow(clippy::result_large_err)]
                    let callback = |req: &Request, resp: WsResponse| {
                        path = req.uri().to_string();
                        Ok(resp)
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await {
                        let _ = tx.send(FakeConnection { path, ws });
                    }
                });
            }
        });
        Self {
            rest_url,
            ws_url,
            state,
            connections,
            tasks: vec![rest_task, ws_task],
        }
    }

    /// Adds closed klines to a symbol's history (kept sorted by open time).
    pub fn add_klines(&self, symbol: &str, klines: impl IntoIterator<Item = Kline>) {
        let mut st = self.state.lock().unwrap();
        let list = st.klines.entry(symbol.to_string()).or_default();
        list.extend(klines);
        list.sort_by_key(|k| k.open_time);
        list.dedup_by_key(|k| k.open_time);
    }

    /// Serves `canned` for the next request instead of the normal answer.
    pub fn push_canned(&self, canned: Canned) {
        self.state.lock().unwrap().canned.push_back(canned);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The next WebSocket connection the client opens (5 s at most).
    pub async fn next_connection(&mut self) -> FakeConnection {
        tokio::time::timeout(Duration::from_secs(5), self.connections.recv())
            .await
            .expect("the client did not connect within 5 s")
            .expect("the WebSocket listener stopped")
    }

    /// Whether another connection arrives within `wait`.
    pub async fn try_next_connection(&mut self, wait: Duration) -> Option<FakeConnection> {
        tokio::time::timeout(wait, self.connections.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn klines_handler(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response<Body> {
    let mut st = state.lock().unwrap();
    st.requests.push(Recorded {
        at: Instant::now(),
        params: params.clone(),
    });
    if let Some(c) = st.canned.pop_front() {
        let mut resp = Response::builder().status(c.status);
        for (k, v) in c.headers {
            resp = resp.header(k, v);
        }
        return resp.body(Body::from(c.body)).unwrap();
    }
    let num = |key: &str| params.get(key).and_then(|v| v.parse::<i64>().ok());
    let error = |code: i64, msg: &str| {
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from(json!({"code": code, "msg": msg}).to_string()))
            .unwrap()
    };
    let Some(history) = params.get("symbol").and_then(|s| st.klines.get(s)) else {
        return error(-1121, "Invalid symbol.");
    };
    let limit = num("limit").unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return error(-1130, "Data sent for parameter 'limit' is not valid.");
    }
    let (start, end) = (num("startTime"), num("endTime"));
    let rows: Vec<Kline> = if start.is_none() && end.is_none() {
        let skip = history.len().saturating_sub(limit as usize);
        history[skip..].to_vec()
    } else {
        history
            .iter()
            .filter(|k| start.is_none_or(|s| k.open_time >= s))
            .filter(|k| end.is_none_or(|e| k.open_time <= e))
            .take(limit as usize)
            .cloned()
            .collect()
    };
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(encode_klines(&rows)))
        .unwrap()
}

/// One accepted WebSocket connection, scripted by the test.
pub struct FakeConnection {
    /// The request path and query, e.g. `/ws/btcusdt@kline_1m`.
    pub path: String,
    pub ws: WebSocketStream<TcpStream>,
}

impl FakeConnection {
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.unwrap();
    }

    /// A raw-stream kline event.
    pub async fn send_kline(&mut self, symbol: &str, k: &Kline, closed: bool) {
        self.send_text(kline_event(symbol, k, closed).to_string())
            .await;
    }

    /// A combined-stream kline event (`{"stream","data"}`).
    pub async fn send_wrapped_kline(&mut self, symbol: &str, k: &Kline, closed: bool) {
        let stream = format!("{}@kline_1m", symbol.to_ascii_lowercase());
        let msg = json!({"stream": stream, "data": kline_event(symbol, k, closed)});
        self.send_text(msg.to_string()).await;
    }
}

pub fn kline_event(symbol: &str, k: &Kline, closed: bool) -> Value {
    let interval = match k.close_time - k.open_time + 1 {
        60_000 => "1m",
        300_000 => "5m",
        3_600_000 => "1h",
        _ => "?",
    };
    KlineEvent {
        event_time: k.close_time,
        symbol: Symbol::new(symbol),
        interval: interval.to_string(),
        first_trade_id: 1,
        last_trade_id: 2,
        is_closed: closed,
        kline: k.clone(),
    }
    .to_json()
}

pub const MINUTE: i64 = 60_000;

/// A distinct, well-formed 1m kline number `n` counted from `base` (prices
/// derived from `n` so each candle is recognisable).
pub fn kline_at(base: i64, n: i64) -> Kline {
    let open_time = base + n * MINUTE;
    let p = |cents: i64| Price::new(Decimal::new(10_000 + n * 100 + cents, 2));
    Kline {
        open_time,
        open: p(0),
        high: p(80),
        low: p(-50),
        close: p(30),
        volume: Quantity::new(Decimal::new(1_000 + n, 3)),
        close_time: open_time + MINUTE - 1,
        quote_volume: Money::new(Decimal::new(100_000 + n, 2)),
        trades: 10 + n.unsigned_abs(),
        taker_buy_base_volume: Quantity::new(Decimal::new(500 + n, 3)),
        taker_buy_quote_volume: Money::new(Decimal::new(50_000 + n, 2)),
    }
}

/// A minute boundary `minutes_ago` minutes before now.
pub fn minutes_ago(minutes_ago: i64) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(MINUTE) - minutes_ago * MINUTE
}

/// Arbitrary JSON values, for "never panics" properties.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9.a-zA-Z-]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 12, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..13).prop_map(Value::Array),
            proptest::collection::hash_map("[a-zA-Z]{1,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

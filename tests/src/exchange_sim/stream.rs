//! The simulator's kline WebSocket: raw streams (`/ws/<symbol>@kline_<i>`)
//! send the event itself, combined streams (`/stream?streams=a/b`) wrap it
//! as `{"stream","data"}`, as Binance does. Every fed candle is pushed as
//! its in-progress update (`"x": false`) and then closed (`"x": true`).
//! The server pings every 20 s like Binance; a client too slow to keep up
//! misses events (and must backfill over REST, as against Binance).

use super::SimState;
use super::market::{interval_name, parse_stream_name};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, http};

/// How often the server pings (Binance: every 20 s).
const PING_EVERY: Duration = Duration::from_secs(20);
/// Events buffered per connection before a slow reader starts missing some.
const BUFFER: usize = 4096;

/// One event for the subscribers of `stream`.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub stream: String,
    pub event: Arc<String>,
}

/// Fan-out to every connection, and the switch that drops them all.
pub(crate) struct Hub {
    pub events: broadcast::Sender<Published>,
    /// Bumped to end every open connection (a fault a test injects).
    pub generation: watch::Sender<u64>,
    pub open: std::sync::atomic::AtomicUsize,
    /// While set, handshakes are answered 503 (the stream is down).
    pub refusing: std::sync::atomic::AtomicBool,
    /// Coinbase messages still to lose (see `coinbase_market_stream`).
    pub coinbase_lost: std::sync::atomic::AtomicU32,
}

impl Hub {
    pub fn new() -> Self {
        Self {
            events: broadcast::channel(BUFFER).0,
            generation: watch::channel(0).0,
            open: std::sync::atomic::AtomicUsize::new(0),
            refusing: std::sync::atomic::AtomicBool::new(false),
            coinbase_lost: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Pushes an event of `stream` (no receiver is not an error).
    pub fn publish(&self, stream: String, event: String) {
        let _ = self.events.send(Published {
            stream,
            event: Arc::new(event),
        });
    }
}

type Shared = Arc<Mutex<SimState>>;
/// The streams a handshake asks for, combined or not; or why they are refused.
type Subscriptions = Result<(Vec<String>, bool), String>;

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, state: Shared, hub: Arc<Hub>) {
    while let Ok((tcp, _)) = listener.accept().await {
        tokio::spawn(connection(tcp, state.clone(), hub.clone()));
    }
}

/// The stream names a request path asks for, and whether they are combined;
/// or the HTTP error Binance-like clients get.
fn subscriptions(state: &Shared, uri: &http::Uri) -> Subscriptions {
    let path = uri.path();
    let (names, combined): (Vec<String>, bool) = if let Some(name) = path.strip_prefix("/ws/") {
        (vec![name.to_string()], false)
    } else if path == "/stream" || path == "/stream/" {
        let streams = uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|p| p.strip_prefix("streams="))
            .unwrap_or("");
        (
            streams
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            true,
        )
    } else {
        return Err(format!(
            "unknown WebSocket path `{path}`: use /ws/<symbol>@kline_<interval> or /stream?streams=<a>/<b>"
        ));
    };
    if names.is_empty() {
        return Err("no stream named: /stream?streams=<symbol>@kline_<interval>/...".into());
    }
    let st = state.lock().unwrap_or_else(|p| p.into_inner());
    let served = interval_name(st.market.interval_ms).unwrap_or("?");
    for name in &names {
        let Some((symbol, interval)) = parse_stream_name(name) else {
            return Err(format!(
                "stream `{name}`: the simulator serves kline streams only (<symbol>@kline_<interval>)"
            ));
        };
        if !st.book.symbols.contains_key(&symbol) {
            return Err(format!("stream `{name}`: Invalid symbol."));
        }
        if interval != served {
            return Err(format!(
                "stream `{name}`: Invalid interval. (the simulator serves {served} klines)"
            ));
        }
    }
    Ok((names, combined))
}

async fn connection(tcp: TcpStream, state: Shared, hub: Arc<Hub>) {
    let mut asked: Option<(String, String, Subscriptions)> = None;
    let down = hub.refusing.load(std::sync::atomic::Ordering::SeqCst);
    // tungstenite's callback type: its error is an HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let uri = req.uri().clone();
        let subs = if down {
            Err("Service unavailable (the simulator's stream is down)".to_string())
        } else if uri.path() == "/" {
            // Coinbase's market-data feed: products come in subscribe messages.
            Ok((Vec::new(), false))
        } else {
            subscriptions(&state, &uri)
        };
        let refused = subs.as_ref().err().cloned();
        asked = Some((
            uri.path().to_string(),
            uri.query().unwrap_or("").to_string(),
            subs,
        ));
        match refused {
            None => Ok(resp),
            Some(msg) => {
                let (status, code) = if down {
                    (http::StatusCode::SERVICE_UNAVAILABLE, -1001)
                } else {
                    (http::StatusCode::BAD_REQUEST, -1121)
                };
                let body = json!({"code": code, "msg": msg}).to_string();
                let mut refusal = ErrorResponse::new(Some(body));
                *refusal.status_mut() = status;
                Err(refusal)
            }
        }
    };
    let accepted = tokio_tungstenite::accept_hdr_async(tcp, callback).await;
    let Some((path, query, subs)) = asked else {
        return;
    };
    let status = match (&accepted, &subs) {
        (Ok(_), Ok(_)) => 101,
        _ if down => 503,
        _ => 400,
    };
    {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        super::server::record_request(&mut st, "GET", &path, &query, status);
    }
    let (Ok(mut ws), Ok((names, combined))) = (accepted, subs) else {
        return;
    };
    if path == "/" {
        super::coinbase_market_stream::connection(ws, state, hub).await;
        return;
    }
    // Subscribed before it counts as open: a test that waits for the
    // connection and then feeds a candle must see it pushed.
    let mut events = hub.events.subscribe();
    let mut generation = hub.generation.subscribe();
    generation.mark_unchanged();
    hub.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            got = events.recv() => match got {
                Ok(p) if names.contains(&p.stream) => {
                    let text = if combined {
                        format!("{{\"stream\":\"{}\",\"data\":{}}}", p.stream, p.event)
                    } else {
                        p.event.to_string()
                    };
                    if ws.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = ping.tick() => {
                if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            _ = generation.changed() => break,
            incoming = ws.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                // tungstenite queues the pong; the next send flushes it.
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = ws.close(None).await;
    hub.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}

//! The kline WebSocket stream `<symbol>@kline_<interval>`: its messages, and
//! one connection to it.
//!
//! Binance pushes the current kline of each subscribed stream every ~2 s with
//! `"x": false`, and once more with `"x": true` when it closes; only closed
//! klines become candles. Raw streams (`/ws/<name>`) send the event itself,
//! combined streams (`/stream?streams=a/b`) wrap it as `{"stream","data"}`;
//! both are understood. The server pings every 20 s (older docs: 3 min) and
//! drops connections that do not pong, and drops every connection at 24 h;
//! reconnecting is the feed's job ([`super::live_feed`]).

use super::klines::Kline;
use super::wire::{self, ApiErrorBody, Fields, WireError};
use crate::domain::{Candle, Symbol, Timeframe};
use futures::{SinkExt, StreamExt};
use reqwest::Url;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Production WebSocket base URL.
pub const BINANCE_WS_URL: &str = "wss://stream.binance.com:9443";
/// Spot Test Network WebSocket base URL.
pub const BINANCE_TESTNET_WS_URL: &str = "wss://stream.testnet.binance.vision";

/// One kline stream event (`"e": "kline"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KlineEvent {
    /// Event time, Unix ms.
    pub event_time: i64,
    pub symbol: Symbol,
    /// Binance's interval string (`1m`, `1h`, ...).
    pub interval: String,
    /// First and last trade ids in the kline (-1 when it has no trade).
    pub first_trade_id: i64,
    pub last_trade_id: i64,
    /// Whether this kline is closed (final). Open klines are progress updates.
    pub is_closed: bool,
    pub kline: Kline,
}

impl KlineEvent {
    /// The candle, only when the kline is closed.
    pub fn closed_candle(&self) -> Option<Candle> {
        self.is_closed.then(|| self.kline.candle())
    }

    /// The raw stream payload, as Binance sends it (for simulators and tests).
    pub fn to_json(&self) -> Value {
        let k = &self.kline;
        json!({
            "e": "kline",
            "E": self.event_time,
            "s": self.symbol.as_str(),
            "k": {
                "t": k.open_time, "T": k.close_time, "s": self.symbol.as_str(),
                "i": self.interval, "f": self.first_trade_id, "L": self.last_trade_id,
                "o": k.open.0.to_string(), "c": k.close.0.to_string(),
                "h": k.high.0.to_string(), "l": k.low.0.to_string(),
                "v": k.volume.0.to_string(), "n": k.trades, "x": self.is_closed,
                "q": k.quote_volume.0.to_string(),
                "V": k.taker_buy_base_volume.0.to_string(),
                "Q": k.taker_buy_quote_volume.0.to_string(), "B": "0"
            }
        })
    }
}

/// A message from a market stream connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamMessage {
    /// A kline event; `stream` is the combined-stream name when wrapped.
    Kline {
        stream: Option<String>,
        event: KlineEvent,
    },
    /// The server is about to shut down this connection: reconnect now.
    ServerShutdown { event_time: Option<i64> },
    /// A reply to a SUBSCRIBE/UNSUBSCRIBE request (`{"result": null, "id": 1}`).
    Reply { id: Value, result: Value },
    /// An error reply (`{"code": 2, "msg": "Invalid request..."}`).
    Error(ApiErrorBody),
    /// A well-formed event of another type (`trade`, `depthUpdate`, ...).
    OtherEvent { event_type: String },
}

/// Parses one text frame of a market stream.
pub fn parse_stream_message(text: &str) -> Result<StreamMessage, WireError> {
    let value = wire::parse_json(text, "stream message")?;
    let Value::Object(mut obj) = value else {
        return Err(WireError::new(
            "stream message",
            format!("expected a JSON object, found {}", wire::kind(&value)),
        ));
    };
    if obj.contains_key("stream") && obj.contains_key("data") {
        let stream = match obj.remove("stream") {
            Some(Value::String(s)) => s,
            other => {
                let found = other.as_ref().map_or("nothing", wire::kind);
                return Err(WireError::new(
                    "combined stream message field `stream`",
                    format!("expected the stream name as a string, found {found}"),
                ));
            }
        };
        let data = obj.remove("data").unwrap_or_default();
        let Value::Object(data) = data else {
            return Err(WireError::new(
                format!("combined stream message `{stream}` field `data`"),
                format!("expected the event object, found {}", wire::kind(&data)),
            ));
        };
        return match classify(data)? {
            StreamMessage::Kline { event, .. } => Ok(StreamMessage::Kline {
                stream: Some(stream),
                event,
            }),
            other => Ok(other),
        };
    }
    classify(obj)
}

fn classify(obj: Map<String, Value>) -> Result<StreamMessage, WireError> {
    if let Some(e) = obj.get("e") {
        return match e.as_str() {
            Some("kline") => Ok(StreamMessage::Kline {
                stream: None,
                event: parse_kline_event(&obj)?,
            }),
            Some("serverShutdown") => Ok(StreamMessage::ServerShutdown {
                event_time: obj.get("E").and_then(Value::as_i64),
            }),
            Some(other) => Ok(StreamMessage::OtherEvent {
                event_type: other.to_string(),
            }),
            None => Err(WireError::new(
                "stream event field `e` (event type)",
                format!("expected a string, found {}", wire::kind(e)),
            )),
        };
    }
    if let Some(Value::Object(inner)) = obj.get("event")
        && inner.get("e").and_then(Value::as_str) == Some("serverShutdown")
    {
        return Ok(StreamMessage::ServerShutdown {
            event_time: inner.get("E").and_then(Value::as_i64),
        });
    }
    if let (Some(id), true) = (obj.get("id"), obj.contains_key("result")) {
        return Ok(StreamMessage::Reply {
            id: id.clone(),
            result: obj.get("result").cloned().unwrap_or_default(),
        });
    }
    if let (Some(code), Some(msg)) = (
        obj.get("code").and_then(Value::as_i64),
        obj.get("msg").and_then(Value::as_str),
    ) {
        return Ok(StreamMessage::Error(ApiErrorBody {
            code,
            msg: msg.to_string(),
        }));
    }
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    Err(WireError::new(
        "stream message",
        format!(
            "not an event (no `e`), reply or error; keys: {}",
            keys.join(", ")
        ),
    ))
}

/// Parses the object of a `"e": "kline"` event.
fn parse_kline_event(obj: &Map<String, Value>) -> Result<KlineEvent, WireError> {
    let event = Fields {
        map: obj,
        context: "kline event",
    };
    let event_time = event.int("E", "event time")?;
    let symbol = event.string("s", "symbol")?;
    let k = Fields {
        map: event.object("k", "kline")?,
        context: "kline event `k`",
    };
    let kline = Kline {
        open_time: k.int("t", "kline start time")?,
        close_time: k.int("T", "kline close time")?,
        open: k.decimal("o", "open price")?,
        close: k.decimal("c", "close price")?,
        high: k.decimal("h", "high price")?,
        low: k.decimal("l", "low price")?,
        volume: k.decimal("v", "base asset volume")?,
        trades: k.count("n", "number of trades")?,
        quote_volume: k.decimal("q", "quote asset volume")?,
        taker_buy_base_volume: k.decimal("V", "taker buy base asset volume")?,
        taker_buy_quote_volume: k.decimal("Q", "taker buy quote asset volume")?,
    };
    let is_closed = k.boolean("x", "is this kline closed")?;
    let inner_symbol = k.string("s", "symbol")?;
    if inner_symbol != symbol {
        return Err(WireError::new(
            k.at("s", "symbol"),
            format!("`{inner_symbol}` differs from the event's symbol `{symbol}`"),
        ));
    }
    let price_field = [
        ("", ""),
        ("o", "open"),
        ("h", "high"),
        ("l", "low"),
        ("c", "close"),
    ];
    kline.check_prices(|i| {
        let (key, name) = price_field[i];
        format!("{symbol} {}", k.at(key, &format!("{name} price")))
    })?;
    if kline.close_time < kline.open_time {
        return Err(WireError::new(
            k.at("T", "kline close time"),
            format!(
                "{} is before the start time {}",
                kline.close_time, kline.open_time
            ),
        ));
    }
    Ok(KlineEvent {
        event_time,
        symbol: Symbol::new(symbol),
        interval: k.string("i", "interval")?.to_string(),
        first_trade_id: k.int("f", "first trade id")?,
        last_trade_id: k.int("L", "last trade id")?,
        is_closed,
        kline,
    })
}

/// The stream name for a symbol's klines: `btcusdt@kline_1m` (names are lowercase).
pub fn kline_stream_name(symbol: &Symbol, timeframe: Timeframe) -> String {
    format!(
        "{}@kline_{}",
        symbol.as_str().to_ascii_lowercase(),
        timeframe.as_str()
    )
}

/// Errors opening a stream connection.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(
        "invalid Binance WebSocket base URL `{url}`: {reason} (expected e.g. {BINANCE_WS_URL})"
    )]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("connecting to {url} took longer than {after:?}")]
    Timeout { url: String, after: Duration },
}

/// The URL for the kline streams of `symbols`: a raw stream for one symbol,
/// a combined stream for several. `ws_base` may end in `/ws` or `/stream`.
pub fn kline_stream_url(
    ws_base: &str,
    symbols: &[Symbol],
    timeframe: Timeframe,
) -> Result<String, StreamError> {
    let invalid = |reason: &str| StreamError::InvalidUrl {
        url: ws_base.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(ws_base).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err(invalid("the scheme must be ws or wss"));
    }
    if url.query().is_some() {
        return Err(invalid("a base URL has no query string"));
    }
    if symbols.is_empty() {
        return Err(invalid("no symbol to subscribe to"));
    }
    let mut base = url.as_str().trim_end_matches('/');
    for suffix in ["/ws", "/stream"] {
        base = base.strip_suffix(suffix).unwrap_or(base);
    }
    let names: Vec<String> = symbols
        .iter()
        .map(|s| kline_stream_name(s, timeframe))
        .collect();
    Ok(match names.as_slice() {
        [one] => format!("{base}/ws/{one}"),
        many => format!("{base}/stream?streams={}", many.join("/")),
    })
}

/// What reading a connection produced.
#[derive(Debug)]
pub enum StreamItem {
    Message(StreamMessage),
    /// A frame that is not a documented message; the connection stays usable.
    Malformed {
        error: WireError,
        excerpt: String,
    },
    /// The server pinged; the pong (a copy of its payload) has been sent.
    Ping,
    /// The connection is over (closed by the server, reset, or a read error).
    Closed {
        reason: String,
    },
}

/// One WebSocket connection to a market stream.
pub struct KlineStreamConnection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl KlineStreamConnection {
    /// Opens `url` (from [`kline_stream_url`]) within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StreamError> {
        if url.starts_with("wss:") {
            ensure_tls_provider();
        }
        match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url)).await {
            Err(_) => Err(StreamError::Timeout {
                url: url.to_string(),
                after: timeout,
            }),
            Ok(Err(source)) => Err(StreamError::Connect {
                url: url.to_string(),
                source: Box::new(source),
            }),
            Ok(Ok((ws, _response))) => Ok(Self { ws }),
        }
    }

    /// The next meaningful item. Pongs answer pings automatically (tungstenite
    /// queues them; this flushes at once so Binance sees them promptly).
    pub async fn next_item(&mut self) -> StreamItem {
        loop {
            let msg = match self.ws.next().await {
                None => return closed("the server ended the connection"),
                Some(Err(e)) => return closed(&format!("read error: {e}")),
                Some(Ok(msg)) => msg,
            };
            return match msg {
                Message::Text(text) => match parse_stream_message(&text) {
                    Ok(m) => StreamItem::Message(m),
                    Err(error) => StreamItem::Malformed {
                        error,
                        excerpt: wire::excerpt(&text),
                    },
                },
                Message::Binary(bytes) => StreamItem::Malformed {
                    error: WireError::new(
                        "stream message",
                        format!(
                            "a binary frame of {} bytes; JSON streams send text",
                            bytes.len()
                        ),
                    ),
                    excerpt: String::new(),
                },
                Message::Ping(_) => match self.ws.flush().await {
                    Ok(()) => StreamItem::Ping,
                    Err(e) => closed(&format!("cannot send pong: {e}")),
                },
                Message::Close(frame) => closed(&match frame {
                    Some(f) => {
                        format!("the server closed the connection ({} {})", f.code, f.reason)
                    }
                    None => "the server closed the connection".to_string(),
                }),
                Message::Pong(_) | Message::Frame(_) => continue,
            };
        }
    }

    /// Sends a close frame and waits briefly for the server's; best effort.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

fn closed(reason: &str) -> StreamItem {
    StreamItem::Closed {
        reason: reason.to_string(),
    }
}

/// rustls needs one process-wide crypto provider; if more than one backend is
/// compiled in (another crate may bring `ring`), none is chosen automatically
/// and the TLS handshake would panic. Install aws-lc-rs unless one is set.
pub(crate) fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
#[path = "kline_stream_tests.rs"]
mod tests;

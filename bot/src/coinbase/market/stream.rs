//! The Advanced Trade market-data WebSocket (`wss://advanced-trade-ws.coinbase.com`):
//! its messages, and one subscribed connection.
//!
//! After connecting, the client must subscribe within 5 s, one channel per
//! `subscribe` message. The feed subscribes `market_trades` for its
//! products (every trade, batched over 250 ms: the exchange clock that says
//! when a candle has closed) and `heartbeats` (one message a second: keeps
//! the subscriptions open when trades are sparse, and proves the connection
//! alive). Every message carries `sequence_num`, one counter per connection
//! across channels; a jump means messages were lost.

use crate::binance::wire::{self, Fields, WireError};
use crate::domain::{Price, Symbol};
use futures::{SinkExt, StreamExt};
use reqwest::Url;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Production market-data WebSocket URL.
pub const COINBASE_WS_URL: &str = "wss://advanced-trade-ws.coinbase.com";

/// One trade of a `market_trades` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketTrade {
    pub product: Symbol,
    pub trade_id: String,
    pub price: Price,
    /// Trade time, Unix ms.
    pub time: i64,
}

/// A message of the market-data WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// `heartbeats`: one a second per connection.
    Heartbeat { sequence_num: u64, counter: u64 },
    /// `market_trades`: trades of the subscribed products (`snapshot` first,
    /// then `update`s).
    MarketTrades {
        sequence_num: u64,
        trades: Vec<MarketTrade>,
    },
    /// `subscriptions`: what the connection is subscribed to now.
    Subscriptions { sequence_num: u64 },
    /// `{"type": "error", "message": "…"}`: a refused subscription.
    Error { message: String },
    /// A well-formed message of another channel (`ticker`, `candles`, …).
    Other { channel: String, sequence_num: u64 },
}

impl WsMessage {
    /// The connection's message counter, when the message carries one.
    pub fn sequence_num(&self) -> Option<u64> {
        match self {
            WsMessage::Heartbeat { sequence_num, .. }
            | WsMessage::MarketTrades { sequence_num, .. }
            | WsMessage::Subscriptions { sequence_num }
            | WsMessage::Other { sequence_num, .. } => Some(*sequence_num),
            WsMessage::Error { .. } => None,
        }
    }
}

/// The `subscribe` message of one channel (no `jwt`: market data is public).
pub fn subscribe_message(channel: &str, products: &[Symbol]) -> String {
    let ids: Vec<&str> = products.iter().map(Symbol::as_str).collect();
    json!({"type": "subscribe", "product_ids": ids, "channel": channel}).to_string()
}

/// Parses one text frame.
pub fn parse_ws_message(text: &str) -> Result<WsMessage, WireError> {
    let value = wire::parse_json(text, "WebSocket message")?;
    let Some(obj) = value.as_object() else {
        return Err(WireError::new(
            "WebSocket message",
            format!("expected a JSON object, found {}", wire::kind(&value)),
        ));
    };
    if obj.get("type").and_then(Value::as_str) == Some("error") {
        let message = obj
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string();
        return Ok(WsMessage::Error { message });
    }
    let f = Fields {
        map: obj,
        context: "WebSocket message",
    };
    let channel = f.string("channel", "channel")?;
    let sequence_num = f.count("sequence_num", "message sequence number")?;
    let events = f
        .get("events", "events")?
        .as_array()
        .ok_or_else(|| WireError::new(f.at("events", "events"), "expected an array of events"))?;
    Ok(match channel {
        "heartbeats" => {
            let event = events.first().and_then(Value::as_object).ok_or_else(|| {
                WireError::new(f.at("events", "events"), "expected one heartbeat event")
            })?;
            let e = Fields {
                map: event,
                context: "heartbeats event",
            };
            let v = e.get("heartbeat_counter", "heartbeat counter")?;
            // Documented as a string, sent as a number by production.
            let counter = match v {
                Value::String(s) => s.parse().ok(),
                other => other.as_u64(),
            }
            .ok_or_else(|| {
                WireError::new(
                    e.at("heartbeat_counter", "heartbeat counter"),
                    format!("expected a non-negative integer, found `{v}`"),
                )
            })?;
            WsMessage::Heartbeat {
                sequence_num,
                counter,
            }
        }
        "market_trades" => {
            let mut trades = Vec::new();
            for event in events {
                let Some(event) = event.as_object() else {
                    return Err(WireError::new("market_trades event", "expected an object"));
                };
                let e = Fields {
                    map: event,
                    context: "market_trades event",
                };
                let list = e.get("trades", "trades")?.as_array().ok_or_else(|| {
                    WireError::new(e.at("trades", "trades"), "expected an array of trades")
                })?;
                for t in list {
                    trades.push(parse_trade(t)?);
                }
            }
            WsMessage::MarketTrades {
                sequence_num,
                trades,
            }
        }
        "subscriptions" => WsMessage::Subscriptions { sequence_num },
        other => WsMessage::Other {
            channel: other.to_string(),
            sequence_num,
        },
    })
}

fn parse_trade(t: &Value) -> Result<MarketTrade, WireError> {
    let Some(map) = t.as_object() else {
        return Err(WireError::new(
            "market_trades trade",
            format!("expected an object, found {}", wire::kind(t)),
        ));
    };
    let f = Fields {
        map,
        context: "market_trades trade",
    };
    let time_text = f.string("time", "trade time")?;
    let time = chrono::DateTime::parse_from_rfc3339(time_text)
        .map_err(|e| {
            WireError::new(
                f.at("time", "trade time"),
                format!("`{time_text}` is not an RFC 3339 time ({e})"),
            )
        })?
        .timestamp_millis();
    let price: Price = f.decimal("price", "trade price")?;
    if price <= Price::ZERO {
        return Err(WireError::new(
            f.at("price", "trade price"),
            format!("price {price} is not positive"),
        ));
    }
    Ok(MarketTrade {
        product: Symbol::new(f.string("product_id", "product id")?),
        trade_id: f.string("trade_id", "trade id")?.to_string(),
        price,
        time,
    })
}

/// Errors opening a connection.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("invalid Coinbase WebSocket URL `{url}`: {reason} (expected e.g. {COINBASE_WS_URL})")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("connecting to {url} took longer than {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("subscribing on {url} failed: {reason}")]
    Subscribe { url: String, reason: String },
}

/// Checks a market-data WebSocket URL (ws or wss, no query).
pub fn check_ws_url(url: &str) -> Result<(), WsError> {
    let invalid = |reason: &str| WsError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "ws" | "wss") {
        return Err(invalid("the scheme must be ws or wss"));
    }
    if parsed.query().is_some() {
        return Err(invalid("a WebSocket URL has no query string"));
    }
    Ok(())
}

/// What reading a connection produced.
#[derive(Debug)]
pub enum WsItem {
    Message(WsMessage),
    /// A frame that is not a documented message; the connection stays usable.
    Malformed {
        error: WireError,
        excerpt: String,
    },
    /// The server pinged; the pong has been sent.
    Ping,
    /// The connection is over.
    Closed {
        reason: String,
    },
}

/// One connection, subscribed to `market_trades` and `heartbeats`.
pub struct MarketDataConnection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl MarketDataConnection {
    /// Opens `url` and subscribes, all within `timeout`.
    pub async fn connect(
        url: &str,
        products: &[Symbol],
        timeout: Duration,
    ) -> Result<Self, WsError> {
        check_ws_url(url)?;
        if url.starts_with("wss:") {
            crate::binance::kline_stream::ensure_tls_provider();
        }
        let open = async {
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .map_err(|source| WsError::Connect {
                    url: url.to_string(),
                    source: Box::new(source),
                })?;
            // Trades first: a heartbeat then proves both subscriptions done.
            for channel in ["market_trades", "heartbeats"] {
                let msg = subscribe_message(channel, products);
                ws.send(Message::Text(msg.into()))
                    .await
                    .map_err(|e| WsError::Subscribe {
                        url: url.to_string(),
                        reason: e.to_string(),
                    })?;
            }
            Ok(Self { ws })
        };
        tokio::time::timeout(timeout, open)
            .await
            .unwrap_or_else(|_| {
                Err(WsError::Timeout {
                    url: url.to_string(),
                    after: timeout,
                })
            })
    }

    /// The next meaningful item.
    pub async fn next_item(&mut self) -> WsItem {
        loop {
            let msg = match self.ws.next().await {
                None => return closed("the server ended the connection"),
                Some(Err(e)) => return closed(&format!("read error: {e}")),
                Some(Ok(msg)) => msg,
            };
            return match msg {
                Message::Text(text) => match parse_ws_message(&text) {
                    Ok(m) => WsItem::Message(m),
                    Err(error) => WsItem::Malformed {
                        error,
                        excerpt: wire::excerpt(&text),
                    },
                },
                Message::Binary(bytes) => WsItem::Malformed {
                    error: WireError::new(
                        "WebSocket message",
                        format!(
                            "a binary frame of {} bytes; the feed sends text",
                            bytes.len()
                        ),
                    ),
                    excerpt: String::new(),
                },
                Message::Ping(_) => match self.ws.flush().await {
                    Ok(()) => WsItem::Ping,
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

fn closed(reason: &str) -> WsItem {
    WsItem::Closed {
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/coinbase/market/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn documented_heartbeat_parses() {
        assert_eq!(
            parse_ws_message(&fixture("heartbeats.json")).unwrap(),
            WsMessage::Heartbeat {
                sequence_num: 0,
                counter: 3049
            }
        );
        // Production sends the counter as a number.
        let numeric = r#"{"channel":"heartbeats","timestamp":"2023-06-23T20:31:26Z","sequence_num":7,"events":[{"current_time":"x","heartbeat_counter":12}]}"#;
        assert_eq!(
            parse_ws_message(numeric).unwrap(),
            WsMessage::Heartbeat {
                sequence_num: 7,
                counter: 12
            }
        );
    }

    #[test]
    fn documented_market_trades_parse_with_exact_price_and_ms_time() {
        let WsMessage::MarketTrades {
            sequence_num,
            trades,
        } = parse_ws_message(&fixture("market_trades.json")).unwrap()
        else {
            panic!("not market_trades")
        };
        assert_eq!(sequence_num, 0);
        assert_eq!(
            trades,
            vec![MarketTrade {
                product: Symbol::new("ETH-USD"),
                trade_id: "000000000".into(),
                price: "1260.01".parse().unwrap(),
                time: 1_565_815_347_265,
            }]
        );
    }

    #[test]
    fn subscriptions_errors_and_other_channels_are_told_apart() {
        let subs = r#"{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:37.422396812Z","sequence_num":2,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}"#;
        assert_eq!(
            parse_ws_message(subs).unwrap(),
            WsMessage::Subscriptions { sequence_num: 2 }
        );
        let err = r#"{"type":"error","message":"failure to subscribe"}"#;
        assert_eq!(
            parse_ws_message(err).unwrap(),
            WsMessage::Error {
                message: "failure to subscribe".into()
            }
        );
        let candles = r#"{"channel":"candles","timestamp":"2023-06-09T20:19:35Z","sequence_num":5,"events":[]}"#;
        assert_eq!(
            parse_ws_message(candles).unwrap(),
            WsMessage::Other {
                channel: "candles".into(),
                sequence_num: 5
            }
        );
    }

    #[test]
    fn malformed_messages_name_the_field() {
        let no_seq = r#"{"channel":"heartbeats","events":[]}"#;
        assert!(
            parse_ws_message(no_seq)
                .unwrap_err()
                .context
                .contains("sequence_num")
        );
        let bad_time =
            fixture("market_trades.json").replace("2019-08-14T20:42:27.265Z", "yesterday");
        let err = parse_ws_message(&bad_time).unwrap_err();
        assert!(err.context.contains("`time`"), "{err}");
        let zero = fixture("market_trades.json").replace("1260.01", "0");
        assert!(
            parse_ws_message(&zero)
                .unwrap_err()
                .problem
                .contains("not positive")
        );
        assert!(parse_ws_message("[1]").is_err());
    }

    #[test]
    fn subscribe_names_one_channel_and_the_products() {
        let msg: Value = serde_json::from_str(&subscribe_message(
            "market_trades",
            &[Symbol::new("BTC-USD"), Symbol::new("ETH-USD")],
        ))
        .unwrap();
        assert_eq!(
            msg,
            json!({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"market_trades"})
        );
    }

    #[test]
    fn ws_urls_must_be_ws() {
        assert!(check_ws_url(COINBASE_WS_URL).is_ok());
        assert!(check_ws_url("https://advanced-trade-ws.coinbase.com").is_err());
        assert!(check_ws_url("ws://h/?a=b").is_err());
    }
}

//! The simulator's Coinbase Advanced Trade market-data WebSocket, on the
//! same listener as the kline streams at path `/` (production:
//! `wss://advanced-trade-ws.coinbase.com`).
//!
//! A client subscribes one channel per `subscribe` message within 5 s (or
//! is disconnected); each accepted subscription is recorded as a request
//! (method `SUBSCRIBE`, query the channel). `heartbeats` sends one message
//! a second; `market_trades` sends, for every candle fed, the first trade
//! of the next interval (at the candle's close, when the next candle opens
//! in the simulator): the trade that tells a client the candle has closed.
//! Every message carries `sequence_num`, one counter per connection; the
//! trade messages [`ExchangeSim::lose_coinbase_messages`] drops still use
//! up their number, so the client sees the gap.

use super::stream::{Hub, Published};
use super::{ExchangeSim, SimState, market::SimKline};
use chrono::{SecondsFormat, TimeZone, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// How often heartbeats are sent (Coinbase: every second).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A connection without a subscribe this long after opening is closed.
const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(5);

/// The hub stream name of a product's trades.
fn trades_stream(product: &str) -> String {
    format!("coinbase:market_trades:{product}")
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Publishes the trade that closes `kline` (fed with interval `interval_ms`).
pub(crate) fn publish_close(hub: &Hub, product: &str, kline: &SimKline, interval_ms: i64) {
    let time = kline.open_time + interval_ms;
    let event = json!({
        "type": "update",
        "trades": [{
            "trade_id": (time / 1000).to_string(),
            "product_id": product,
            "price": kline.close.normalize().to_string(),
            "size": "0.001",
            "side": "BUY",
            "time": rfc3339(time),
        }]
    });
    hub.publish(trades_stream(product), event.to_string());
}

impl ExchangeSim {
    /// The next `n` `market_trades` messages are lost, on whichever open
    /// Coinbase connection sends them first (their `sequence_num` is used
    /// up, so the client sees the gap at the next heartbeat).
    pub fn lose_coinbase_messages(&self, n: u32) {
        self.hub.coinbase_lost.store(n, Ordering::SeqCst);
    }

    /// WebSocket URL of the Coinbase market-data feed.
    pub fn coinbase_ws_url(&self) -> String {
        format!("{}/", self.ws_url)
    }
}

/// One Coinbase connection, until it ends or the hub drops it.
pub(crate) async fn connection(
    mut ws: WebSocketStream<TcpStream>,
    state: Arc<Mutex<SimState>>,
    hub: Arc<Hub>,
) {
    let mut events = hub.events.subscribe();
    let mut generation = hub.generation.subscribe();
    generation.mark_unchanged();
    hub.open.fetch_add(1, Ordering::SeqCst);
    let mut sequence: u64 = 0;
    let mut products: BTreeSet<String> = BTreeSet::new();
    let mut heartbeats = false;
    let mut counter: u64 = 0;
    let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
    let deadline = tokio::time::sleep(SUBSCRIBE_WITHIN);
    tokio::pin!(deadline);
    let mut subscribed = false;
    loop {
        let out: Option<Value> = tokio::select! {
            _ = &mut deadline, if !subscribed => break,
            _ = generation.changed() => break,
            _ = beat.tick(), if heartbeats => {
                counter += 1;
                Some(json!({
                    "channel": "heartbeats",
                    "events": [{"current_time": rfc3339(super::server::now_ms(0)), "heartbeat_counter": counter}],
                }))
            }
            got = events.recv() => match got {
                Ok(Published { stream, event }) => {
                    let wanted = products.iter().any(|p| trades_stream(p) == stream);
                    match (wanted, serde_json::from_str::<Value>(&event)) {
                        (true, Ok(e)) => Some(json!({"channel": "market_trades", "events": [e]})),
                        _ => None,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = ws.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(text))) => {
                    let known = |p: &str| {
                        let st = state.lock().unwrap_or_else(|e| e.into_inner());
                        st.book.symbols.contains_key(p)
                    };
                    match subscribe(&text, known) {
                        Ok((channel, ids)) => {
                            subscribed = true;
                            {
                                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                                super::server::record_request(&mut st, "SUBSCRIBE", "/", &channel, 200);
                            }
                            if channel == "heartbeats" {
                                heartbeats = true;
                            } else {
                                products.extend(ids);
                            }
                            Some(json!({
                                "channel": "subscriptions",
                                "events": [{"subscriptions": {
                                    "market_trades": products.iter().collect::<Vec<_>>(),
                                    "heartbeats": if heartbeats { vec!["heartbeats"] } else { vec![] },
                                }}],
                            }))
                        }
                        Err(message) => {
                            let refusal = json!({"type": "error", "message": message});
                            if ws.send(Message::Text(refusal.to_string().into())).await.is_err() {
                                break;
                            }
                            None
                        }
                    }
                }
                Some(Ok(_)) => None,
            },
        };
        let Some(mut message) = out else { continue };
        message["client_id"] = json!("");
        message["timestamp"] = json!(rfc3339(super::server::now_ms(0)));
        message["sequence_num"] = json!(sequence);
        sequence += 1;
        let lost = message["channel"] == "market_trades"
            && hub
                .coinbase_lost
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if lost {
            continue;
        }
        if ws
            .send(Message::Text(message.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = ws.close(None).await;
    hub.open.fetch_sub(1, Ordering::SeqCst);
}

/// A `subscribe` request: its channel and products; or why it is refused.
fn subscribe(text: &str, known: impl Fn(&str) -> bool) -> Result<(String, Vec<String>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if v["type"] != "subscribe" {
        return Err("expected a subscribe message".into());
    }
    let channel = v["channel"]
        .as_str()
        .ok_or("a subscribe message names one channel")?
        .to_string();
    if !matches!(channel.as_str(), "heartbeats" | "market_trades") {
        return Err(format!(
            "channel {channel} is not served (the simulator serves heartbeats and market_trades)"
        ));
    }
    let ids: Vec<String> = v["product_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if channel == "market_trades" {
        if ids.is_empty() {
            return Err("market_trades needs product_ids".into());
        }
        if let Some(unknown) = ids.iter().find(|p| !known(p)) {
            return Err(format!("failure to subscribe: unknown product {unknown}"));
        }
    }
    Ok((channel, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_requests_are_checked() {
        let known = |p: &str| p == "BTC-USD";
        assert_eq!(
            subscribe(
                r#"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}"#,
                known
            ),
            Ok(("market_trades".into(), vec!["BTC-USD".into()]))
        );
        assert!(subscribe(r#"{"type":"subscribe","channel":"heartbeats"}"#, known).is_ok());
        assert!(
            subscribe(
                r#"{"type":"subscribe","product_ids":["ETH-EUR"],"channel":"market_trades"}"#,
                known
            )
            .unwrap_err()
            .contains("ETH-EUR")
        );
        assert!(subscribe(r#"{"type":"subscribe","channel":"level2"}"#, known).is_err());
    }
}

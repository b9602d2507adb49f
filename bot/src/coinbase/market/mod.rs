//! Coinbase Advanced Trade public market data, no keys.
//!
//! - [`candles`]: the candles JSON (`{"candles":[{"start","low",…}]}`),
//!   parsed exactly, and the granularities a bot's timeframe maps to.
//! - [`client`]: `GET /api/v3/brokerage/market/products/{id}/candles`
//!   (windows of at most 350 candles, newest-first answers put in order,
//!   retries, Coinbase's error body).
//! - [`stream`]: the market-data WebSocket's messages (`market_trades`,
//!   `heartbeats`, `subscriptions`) and one subscribed connection.
//! - [`live_feed`]: reconnect with backoff, warm-up and gap backfill; every
//!   closed candle exactly once, in order, as the Binance feed delivers them
//!   (same [`LiveCandle`] and [`LiveFeedHandle`]).
//!
//! Base URLs are parameters: production, or a local server speaking the
//! same format (the exchange simulator).

pub mod candles;
pub mod client;
pub mod live_feed;
pub mod stream;

pub use crate::binance::{CandleSource, FeedError, FeedStats, LiveCandle, LiveFeedHandle};
pub use candles::{
    Granularity, MAX_CANDLES_PER_REQUEST, encode_candles, granularity, parse_candles,
};
pub use client::{COINBASE_API_URL, CandlesClient, CoinbaseRestError};
pub use live_feed::{CoinbaseFeedConfig, spawn_coinbase_feed};
pub use stream::{
    COINBASE_WS_URL, MarketDataConnection, MarketTrade, WsItem, WsMessage, parse_ws_message,
    subscribe_message,
};

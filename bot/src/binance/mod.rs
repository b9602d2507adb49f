//! Binance public market data: REST klines and the kline WebSocket stream,
//! combined into a gap-free live candle feed; and [`spot`], the signed
//! trading client (a [`crate::execution::Venue`]).
//!
//! - [`klines`]: the `GET /api/v3/klines` row format, parsed exactly.
//! - [`market_client`]: the REST client (pagination, `Retry-After`, errors
//!   with Binance's code and message).
//! - [`kline_stream`]: the `<symbol>@kline_<interval>` stream messages and one
//!   connection (ping/pong, combined streams).
//! - [`live_feed`]: reconnect with backoff, warm-up and gap backfill; every
//!   closed candle exactly once, in order.
//!
//! Base URLs are parameters everywhere: production, the Spot Test Network, or
//! a local server speaking the same format.

pub(crate) mod delivery;
pub(crate) mod feed_config;
pub mod kline_stream;
pub mod klines;
pub mod live_feed;
pub mod market_client;
pub mod spot;
pub mod wire;

#[cfg(test)]
mod test_support;

pub use kline_stream::{
    BINANCE_TESTNET_WS_URL, BINANCE_WS_URL, KlineEvent, KlineStreamConnection, StreamError,
    StreamItem, StreamMessage, kline_stream_name, kline_stream_url, parse_stream_message,
};
pub use klines::{Kline, closed_prefix, encode_klines, parse_kline_row, parse_klines};
pub use live_feed::{
    CandleSource, FeedError, FeedStats, LiveCandle, LiveFeedConfig, LiveFeedHandle,
    ReconnectPolicy, spawn_live_feed,
};
pub use market_client::{
    BINANCE_API_URL, BINANCE_TESTNET_API_URL, MAX_KLINES_PER_REQUEST, MarketDataClient, RestError,
    RetryPolicy,
};
pub use wire::{ApiErrorBody, WireError};

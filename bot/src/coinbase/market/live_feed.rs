//! The live candle feed of Coinbase Advanced Trade, made gap-free.
//!
//! Coinbase's WebSocket has no candle channel of the bot's interval (its
//! `candles` channel is fixed 5-minute buckets, re-sent every second while
//! open, with no "closed" flag). So the WebSocket is the exchange's clock
//! and the REST candles are the values:
//! - `market_trades` says when a candle has closed: a trade of a product at
//!   or after `open + interval` proves the candle at `open` complete (one
//!   matching engine per product, trades in time order);
//! - the closed candle is then fetched from
//!   `/market/products/{id}/candles` at the bot's granularity, the same
//!   candles a backtest export holds, `close_settle` after its closing
//!   trade was seen so the last trades have reached it; the stream is read
//!   meanwhile, so candles closing faster than that are each fetched one
//!   settle after their own close (the feed never falls behind by one
//!   settle per candle);
//! - on start a warm-up history; after every (re)connect and after a jump
//!   in `sequence_num` (lost messages), every candle closed by the wall
//!   clock since the last one emitted;
//! - a candle at or before the last emitted one is dropped.
//!
//! An interval without a trade has no Coinbase candle; it is counted in
//! `missing_klines` when a later candle arrives. `heartbeats` keeps the
//! subscriptions open and proves the connection alive.

use super::client::{CandlesClient, CoinbaseRestError};
use super::stream::{MarketDataConnection, WsItem, WsMessage, check_ws_url};
use super::{COINBASE_API_URL, COINBASE_WS_URL};
use crate::binance::delivery::{Delivery, back_off};
use crate::binance::feed_config::Counters;
use crate::binance::market_client::RetryPolicy;
use crate::binance::{CandleSource, FeedError, LiveCandle, LiveFeedHandle, ReconnectPolicy};
use crate::domain::{Candle, Symbol, Timeframe};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the feed subscribes to, where, and how it behaves on failure.
#[derive(Clone, Debug)]
pub struct CoinbaseFeedConfig {
    /// Product ids (`BTC-USD`); all share one connection.
    pub products: Vec<Symbol>,
    pub timeframe: Timeframe,
    /// REST base, e.g. [`COINBASE_API_URL`].
    pub rest_base_url: String,
    /// The WebSocket URL, e.g. [`COINBASE_WS_URL`].
    pub ws_url: String,
    /// Closed candles per product delivered at start (0: none).
    pub warmup: usize,
    pub reconnect: ReconnectPolicy,
    /// A connection with no message for this long is dead (heartbeats
    /// arrive every second).
    pub stale_after: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub rest_retry: RetryPolicy,
    /// Wait this long after a candle closed before fetching it, so the
    /// candle holds its last trades.
    pub close_settle: Duration,
    pub channel_capacity: usize,
}

impl CoinbaseFeedConfig {
    /// Production Coinbase, 100 warm-up candles.
    pub fn new(products: impl IntoIterator<Item = Symbol>, timeframe: Timeframe) -> Self {
        Self {
            products: products.into_iter().collect(),
            timeframe,
            rest_base_url: COINBASE_API_URL.to_string(),
            ws_url: COINBASE_WS_URL.to_string(),
            warmup: 100,
            reconnect: ReconnectPolicy::default(),
            stale_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            rest_retry: RetryPolicy::default(),
            close_settle: Duration::from_secs(2),
            channel_capacity: 1024,
        }
    }

    /// Checks every setting; the error names the field and what it needs.
    pub fn validate(&self) -> Result<(), FeedError> {
        let bad = |field: &'static str, problem: String| Err(FeedError::Config { field, problem });
        if self.products.is_empty() {
            return bad(
                "products",
                "is empty; name at least one, e.g. BTC-USD".into(),
            );
        }
        let mut seen = HashSet::new();
        for p in &self.products {
            let ok = p
                .as_str()
                .split_once('-')
                .is_some_and(|(b, q)| is_currency(b) && is_currency(q));
            if !ok {
                return bad(
                    "products",
                    format!("`{p}` is not a Coinbase product id (BASE-QUOTE, e.g. BTC-USD)"),
                );
            }
            if !seen.insert(p) {
                return bad("products", format!("lists `{p}` twice"));
            }
        }
        if self.channel_capacity == 0 {
            return bad("channel_capacity", "must be at least 1".into());
        }
        if self.reconnect.initial.is_zero() || self.reconnect.max < self.reconnect.initial {
            return bad(
                "reconnect",
                format!(
                    "needs 0 < initial ({:?}) <= max ({:?})",
                    self.reconnect.initial, self.reconnect.max
                ),
            );
        }
        for (field, d) in [
            ("stale_after", self.stale_after),
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return bad(field, "must be longer than zero".into());
            }
        }
        if self.rest_retry.max_attempts == 0 {
            return bad("rest_retry.max_attempts", "must be at least 1".into());
        }
        check_ws_url(&self.ws_url).map_err(|e| FeedError::Config {
            field: "ws_url",
            problem: e.to_string(),
        })?;
        Ok(())
    }
}

fn is_currency(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Starts the feed on the current tokio runtime, as
/// [`crate::binance::spawn_live_feed`] does for Binance: candles on the
/// receiver; it stops on `cancel`, when the receiver is dropped, or on a
/// permanent REST error.
pub fn spawn_coinbase_feed(
    config: CoinbaseFeedConfig,
    cancel: CancellationToken,
) -> Result<(mpsc::Receiver<LiveCandle>, LiveFeedHandle), FeedError> {
    config.validate()?;
    let client = CandlesClient::with_options(
        &config.rest_base_url,
        config.request_timeout,
        config.rest_retry.clone(),
    )
    .map_err(|e| FeedError::Config {
        field: "rest_base_url",
        problem: e.to_string(),
    })?;
    let (tx, rx) = mpsc::channel(config.channel_capacity);
    let counters = Arc::new(Counters::default());
    let worker = Worker {
        clocks: config.products.iter().map(|s| (s.clone(), None)).collect(),
        interval_ms: config.timeframe.millis(),
        delivery: Delivery::new(
            &config.products,
            config.timeframe.millis(),
            counters.clone(),
            tx,
            cancel.clone(),
            "Coinbase",
        ),
        config,
        client,
        cancel: cancel.clone(),
        counters: counters.clone(),
        last_sequence: None,
        settling: VecDeque::new(),
    };
    let task = tokio::spawn(worker.run());
    Ok((rx, LiveFeedHandle::new(cancel, counters, task)))
}

enum Stop {
    Done,
    Fatal(FeedError),
    Reconnect { reason: String, at_least: Duration },
}

fn reconnect(reason: impl Into<String>) -> Stop {
    Stop::Reconnect {
        reason: reason.into(),
        at_least: Duration::ZERO,
    }
}

struct Worker {
    config: CoinbaseFeedConfig,
    client: CandlesClient,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    /// Per product, the latest trade time seen on the stream (Unix ms):
    /// Coinbase's clock for it.
    clocks: BTreeMap<Symbol, Option<i64>>,
    /// Per product, the next candle to emit, and the emitting.
    delivery: Delivery,
    interval_ms: i64,
    /// The last `sequence_num` of this connection.
    last_sequence: Option<u64>,
    /// Closes seen on the stream and waiting out `close_settle`, oldest
    /// first.
    settling: VecDeque<Settling>,
}

/// A trade clock that proved a candle closed, to be acted on at `at`.
struct Settling {
    at: Instant,
    product: Symbol,
    clock: i64,
}

impl Worker {
    async fn run(mut self) -> Result<(), FeedError> {
        let policy = self.config.reconnect.clone();
        let mut delay = policy.initial;
        let products: Vec<Symbol> = self.clocks.keys().cloned().collect();
        loop {
            let connected = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                r = MarketDataConnection::connect(&self.config.ws_url, &products, self.config.connect_timeout) => r,
            };
            let stop = match connected {
                Err(e) => reconnect(e.to_string()),
                Ok(mut conn) => {
                    Counters::bump(&self.counters.connections);
                    self.last_sequence = None;
                    tracing::info!(url = %self.config.ws_url, "connected to the Coinbase market-data WebSocket");
                    let stop = match self.catch_up().await {
                        Ok(()) => self.read(&mut conn, &mut delay).await,
                        Err(stop) => stop,
                    };
                    conn.close().await;
                    stop
                }
            };
            match stop {
                Stop::Done => return Ok(()),
                Stop::Fatal(e) => return Err(e),
                Stop::Reconnect { reason, at_least } => {
                    let go_on = back_off(
                        &policy,
                        &mut delay,
                        at_least,
                        &reason,
                        &self.counters,
                        &self.cancel,
                        "Coinbase",
                    )
                    .await;
                    if !go_on {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Warm-up (first time) or every candle closed by the wall clock since
    /// the last emitted one, every product.
    async fn catch_up(&mut self) -> Result<(), Stop> {
        let symbols: Vec<Symbol> = self.clocks.keys().cloned().collect();
        for symbol in symbols {
            let closed_by = now_ms() - self.settle_ms();
            match self.delivery.next_open[&symbol] {
                Some(next) => self.backfill(&symbol, next, closed_by).await?,
                None => self.warm_up(&symbol).await?,
            }
        }
        Ok(())
    }

    async fn warm_up(&mut self, symbol: &Symbol) -> Result<(), Stop> {
        let n = self.config.warmup;
        let now = now_ms() - self.settle_ms();
        if n > 0 {
            let fetch = self
                .client
                .fetch_recent(symbol, self.config.timeframe, n, now);
            let recent = self.rest(symbol, fetch).await?;
            for c in recent {
                self.emit(symbol, c, CandleSource::Warmup).await?;
            }
        }
        let next = self
            .delivery
            .next_open
            .get_mut(symbol)
            .expect("product is tracked");
        if next.is_none() {
            *next = Some(now - now.rem_euclid(self.interval_ms));
        }
        Ok(())
    }

    /// Emits the candles from `from` that closed by `clock` (Unix ms).
    async fn backfill(&mut self, symbol: &Symbol, from: i64, clock: i64) -> Result<(), Stop> {
        let last_open = clock - clock.rem_euclid(self.interval_ms) - self.interval_ms;
        if last_open < from {
            return Ok(());
        }
        let fetch = self
            .client
            .fetch_candles(symbol, self.config.timeframe, from, last_open);
        let candles = self.rest(symbol, fetch).await?;
        for c in candles {
            self.emit(symbol, c, CandleSource::Backfill).await?;
        }
        // Intervals without a trade have no candle: they are done too.
        let next = self
            .delivery
            .next_open
            .get_mut(symbol)
            .expect("product is tracked");
        let after = last_open + self.interval_ms;
        if let Some(n) = *next
            && n < after
        {
            Counters::add(
                &self.counters.missing_klines,
                ((after - n) / self.interval_ms) as u64,
            );
            *next = Some(after);
        }
        Ok(())
    }

    async fn rest<T>(
        &self,
        symbol: &Symbol,
        call: impl Future<Output = Result<T, CoinbaseRestError>>,
    ) -> Result<T, Stop> {
        let result = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Err(Stop::Done),
            r = call => r,
        };
        result.map_err(|source| {
            if source.is_permanent() {
                Stop::Fatal(FeedError::Refused {
                    venue: "Coinbase",
                    symbol: symbol.clone(),
                    reason: source.to_string(),
                })
            } else {
                Stop::Reconnect {
                    at_least: source.retry_after().unwrap_or_default(),
                    reason: format!("candles backfill for {symbol} failed: {source}"),
                }
            }
        })
    }

    /// Reads the stream until the connection ends, fetching each proved
    /// close once it has settled; never returns Ok.
    async fn read(&mut self, conn: &mut MarketDataConnection, delay: &mut Duration) -> Stop {
        let mut heard = Instant::now();
        loop {
            let settled = self.settling.front().map(|s| s.at);
            let item = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Stop::Done,
                _ = sleep_until(settled), if settled.is_some() => None,
                // `next_item` is cancel-safe: a frame is either read whole or left queued.
                r = tokio::time::timeout_at(heard + self.config.stale_after, conn.next_item()) => match r {
                    Ok(item) => Some(item),
                    Err(_) => return reconnect(format!("no message for {:?}", self.config.stale_after)),
                },
            };
            let Some(item) = item else {
                match self.fetch_settled().await {
                    Ok(()) => continue,
                    Err(stop) => return stop,
                }
            };
            heard = Instant::now();
            let message = match item {
                WsItem::Closed { reason } => return reconnect(reason),
                WsItem::Ping => continue,
                WsItem::Malformed { error, excerpt } => {
                    Counters::bump(&self.counters.malformed_messages);
                    tracing::warn!(%error, message = %excerpt, "skipping malformed Coinbase message");
                    continue;
                }
                WsItem::Message(m) => m,
            };
            if let Err(stop) = self.on_message(message, delay).await {
                return stop;
            }
        }
    }

    async fn on_message(&mut self, message: WsMessage, delay: &mut Duration) -> Result<(), Stop> {
        let gap = match (message.sequence_num(), self.last_sequence) {
            (Some(seq), Some(last)) => seq > last + 1,
            _ => false,
        };
        if let Some(seq) = message.sequence_num() {
            self.last_sequence = Some(seq);
        }
        match message {
            WsMessage::Heartbeat { .. } => {
                Counters::bump(&self.counters.pings);
                *delay = self.config.reconnect.initial;
            }
            WsMessage::MarketTrades { trades, .. } => {
                *delay = self.config.reconnect.initial;
                for t in trades {
                    match self.clocks.get_mut(&t.product) {
                        Some(clock) => *clock = Some(clock.map_or(t.time, |c| c.max(t.time))),
                        None => {
                            Counters::bump(&self.counters.unexpected_messages);
                            tracing::warn!(product = %t.product, "trade of a product this feed did not subscribe to");
                        }
                    }
                }
            }
            WsMessage::Subscriptions { .. } => {}
            WsMessage::Error { message } => {
                Counters::bump(&self.counters.unexpected_messages);
                return Err(reconnect(format!("Coinbase refused: {message}")));
            }
            WsMessage::Other { channel, .. } => {
                Counters::bump(&self.counters.unexpected_messages);
                tracing::warn!(%channel, "message of a channel this feed did not subscribe to");
            }
        }
        if gap {
            Counters::bump(&self.counters.sequence_gaps);
            tracing::warn!("Coinbase messages were lost (sequence_num jumped); backfilling");
            return self.catch_up().await;
        }
        self.note_closes();
        Ok(())
    }

    /// Queues, per product, the newest clock that proves a candle closed
    /// and is not queued yet; it is fetched `close_settle` from now.
    fn note_closes(&mut self) {
        let at = Instant::now() + self.config.close_settle;
        for (symbol, clock) in &self.clocks {
            let (Some(next), Some(clock)) = (self.delivery.next_open[symbol], *clock) else {
                continue;
            };
            let queued = self
                .settling
                .iter()
                .rev()
                .find(|s| &s.product == symbol)
                .map(|s| s.clock);
            if clock >= next + self.interval_ms && queued.is_none_or(|q| clock > q) {
                self.settling.push_back(Settling {
                    at,
                    product: symbol.clone(),
                    clock,
                });
            }
        }
    }

    /// Fetches the candles proved closed by every clock that has settled.
    async fn fetch_settled(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        let mut due: BTreeMap<Symbol, i64> = BTreeMap::new();
        while let Some(s) = self.settling.front()
            && s.at <= now
        {
            let s = self.settling.pop_front().expect("front exists");
            let clock = due.entry(s.product).or_insert(s.clock);
            *clock = (*clock).max(s.clock);
        }
        for (symbol, clock) in due {
            if let Some(next) = self.delivery.next_open[&symbol] {
                self.backfill(&symbol, next, clock).await?;
            }
        }
        Ok(())
    }

    /// Delivers a candle unless it was already delivered.
    async fn emit(
        &mut self,
        symbol: &Symbol,
        candle: Candle,
        source: CandleSource,
    ) -> Result<(), Stop> {
        self.delivery
            .emit(symbol, candle, source)
            .await
            .map_err(|_| Stop::Done)
    }

    fn settle_ms(&self) -> i64 {
        self.config.close_settle.as_millis() as i64
    }
}

/// Waits until `at`; never, when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
#[path = "live_feed_tests.rs"]
mod tests;

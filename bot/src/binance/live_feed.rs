//! The live candle feed: Binance's kline stream, made gap-free.
//!
//! A WebSocket alone loses candles: connections drop (and Binance ends every
//! one at 24 h), and candles that close while disconnected are never resent.
//! The feed therefore keeps, per symbol, the open time of the next candle the
//! consumer expects, and
//! - on start, fetches a warm-up history over REST so indicators are ready;
//! - after every (re)connect, fetches over REST every candle closed since the
//!   last one emitted, before reading the stream (the connection is opened
//!   first so nothing closing meanwhile is missed: it waits in the socket);
//! - when the stream delivers a closed candle beyond the expected one, fetches
//!   the ones in between first;
//! - drops any candle at or before the last emitted one (a stream replaying a
//!   candle already backfilled).
//!
//! So the consumer sees every closed candle exactly once, in order, per symbol.
//! Malformed messages are logged, counted and skipped. Reconnects back off
//! exponentially (capped, jittered). Shutdown is a `CancellationToken`.

use super::kline_stream::{self, KlineEvent, KlineStreamConnection, StreamItem, StreamMessage};
use super::klines::{self, Kline};
use super::market_client::{MAX_KLINES_PER_REQUEST, MarketDataClient, RestError};
use crate::domain::{Candle, Symbol};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use super::delivery::{CandleSource, LiveCandle};
use super::delivery::{Delivery, back_off};
use super::feed_config::Counters;
pub use super::feed_config::{FeedError, FeedStats, LiveFeedConfig, ReconnectPolicy};

/// The running feed: its counters, and how to stop it.
pub struct LiveFeedHandle {
    cancel: CancellationToken,
    counters: Arc<Counters>,
    task: JoinHandle<Result<(), FeedError>>,
}

impl LiveFeedHandle {
    /// The handle of a feed task another venue's feed spawned.
    pub(crate) fn new(
        cancel: CancellationToken,
        counters: Arc<Counters>,
        task: JoinHandle<Result<(), FeedError>>,
    ) -> Self {
        Self {
            cancel,
            counters,
            task,
        }
    }

    pub fn stats(&self) -> FeedStats {
        self.counters.snapshot()
    }

    /// Asks the feed to stop; [`join`](Self::join) waits for it.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the feed to end: `Ok` after cancellation or when the
    /// receiver was dropped, the error when it gave up.
    pub async fn join(self) -> Result<(), FeedError> {
        self.task
            .await
            .unwrap_or_else(|e| Err(FeedError::Task(e.to_string())))
    }

    /// Cancels and waits.
    pub async fn shutdown(self) -> Result<(), FeedError> {
        self.cancel();
        self.join().await
    }
}

/// Starts the feed on the current tokio runtime. Candles arrive on the
/// returned receiver; the feed stops when `cancel` (or a parent of it) is
/// cancelled, when the receiver is dropped, or on a permanent REST error.
pub fn spawn_live_feed(
    config: LiveFeedConfig,
    cancel: CancellationToken,
) -> Result<(mpsc::Receiver<LiveCandle>, LiveFeedHandle), FeedError> {
    config.validate()?;
    let url =
        kline_stream::kline_stream_url(&config.ws_base_url, &config.symbols, config.timeframe)
            .map_err(|e| FeedError::Config {
                field: "ws_base_url",
                problem: e.to_string(),
            })?;
    let client = MarketDataClient::with_options(
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
        delivery: Delivery::new(
            &config.symbols,
            config.timeframe.millis(),
            counters.clone(),
            tx,
            cancel.clone(),
            "Binance",
        ),
        config,
        client,
        url,
        cancel: cancel.clone(),
        counters: counters.clone(),
    };
    let task = tokio::spawn(worker.run());
    Ok((
        rx,
        LiveFeedHandle {
            cancel,
            counters,
            task,
        },
    ))
}

/// Why a phase of the feed ended.
enum Stop {
    /// Cancelled, or nobody is listening any more.
    Done,
    Fatal(FeedError),
    /// Reconnect, waiting at least `at_least` (a `Retry-After`).
    Reconnect {
        reason: String,
        at_least: Duration,
    },
}

fn reconnect(reason: impl Into<String>) -> Stop {
    Stop::Reconnect {
        reason: reason.into(),
        at_least: Duration::ZERO,
    }
}

struct Worker {
    config: LiveFeedConfig,
    client: MarketDataClient,
    url: String,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    /// Per symbol: the open time of the next candle to emit, and the emitting.
    delivery: Delivery,
}

impl Worker {
    async fn run(mut self) -> Result<(), FeedError> {
        let policy = self.config.reconnect.clone();
        let mut delay = policy.initial;
        loop {
            let connected = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                r = KlineStreamConnection::connect(&self.url, self.config.connect_timeout) => r,
            };
            let stop = match connected {
                Err(e) => reconnect(e.to_string()),
                Ok(mut conn) => {
                    Counters::bump(&self.counters.connections);
                    tracing::info!(url = %self.url, "connected to the Binance kline stream");
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
                        "Binance",
                    )
                    .await;
                    if !go_on {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Warm-up (first time) or backfill since the last emitted candle, every symbol.
    async fn catch_up(&mut self) -> Result<(), Stop> {
        let symbols: Vec<Symbol> = self.delivery.next_open.keys().cloned().collect();
        for symbol in symbols {
            match self.delivery.next_open[&symbol] {
                Some(next) => self.backfill(&symbol, next, None).await?,
                None => self.warm_up(&symbol).await?,
            }
        }
        Ok(())
    }

    /// The last `warmup` closed candles; afterwards the symbol expects the
    /// candle after them (or, without history, the one in progress now).
    async fn warm_up(&mut self, symbol: &Symbol) -> Result<(), Stop> {
        let n = self.config.warmup;
        if n > 0 {
            let fetch = self
                .client
                .fetch_recent_klines(symbol, self.config.timeframe, n + 1);
            let recent = self.rest(symbol, fetch).await?;
            let closed = klines::closed_prefix(&recent, now_ms(), self.skew_ms());
            let start = closed.len().saturating_sub(n);
            for k in &closed[start..] {
                self.emit(symbol, k.candle(), CandleSource::Warmup).await?;
            }
        }
        let slot = self
            .delivery
            .next_open
            .get_mut(symbol)
            .expect("symbol is tracked");
        if slot.is_none() {
            let now = now_ms();
            *slot = Some(now - now.rem_euclid(self.delivery.interval_ms));
        }
        Ok(())
    }

    /// Emits the klines opening in `from..=until` (`None`: until now, closed
    /// ones only), a page of up to 1000 at a time.
    async fn backfill(
        &mut self,
        symbol: &Symbol,
        from: i64,
        until: Option<i64>,
    ) -> Result<(), Stop> {
        let mut cursor = from;
        loop {
            let now = now_ms();
            let end = until.unwrap_or(now);
            if cursor > end {
                return Ok(());
            }
            let fetch = self.client.klines_page(
                symbol,
                self.config.timeframe,
                Some(cursor),
                Some(end),
                MAX_KLINES_PER_REQUEST,
            );
            let page: Vec<Kline> = self.rest(symbol, fetch).await?;
            let full = page.len() >= MAX_KLINES_PER_REQUEST as usize;
            let usable = match until {
                Some(_) => &page[..],
                None => klines::closed_prefix(&page, now, self.skew_ms()),
            };
            let before = cursor;
            for k in usable {
                if k.open_time < cursor || k.open_time > end {
                    continue;
                }
                self.emit(symbol, k.candle(), CandleSource::Backfill)
                    .await?;
                cursor = k.open_time + self.delivery.interval_ms;
            }
            if !full || cursor == before {
                return Ok(());
            }
        }
    }

    /// Runs a REST call, cancellable; maps its error to what the feed does next.
    async fn rest<T>(
        &self,
        symbol: &Symbol,
        call: impl Future<Output = Result<T, RestError>>,
    ) -> Result<T, Stop> {
        let result = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Err(Stop::Done),
            r = call => r,
        };
        result.map_err(|source| {
            if source.is_permanent() {
                Stop::Fatal(FeedError::Rest {
                    symbol: symbol.clone(),
                    source,
                })
            } else {
                Stop::Reconnect {
                    at_least: source.retry_after().unwrap_or_default(),
                    reason: format!("klines backfill for {symbol} failed: {source}"),
                }
            }
        })
    }

    /// Reads the stream until the connection ends; never returns Ok.
    async fn read(&mut self, conn: &mut KlineStreamConnection, delay: &mut Duration) -> Stop {
        let age_limit = tokio::time::sleep(self.config.max_connection_age);
        tokio::pin!(age_limit);
        loop {
            let item = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Stop::Done,
                _ = &mut age_limit => return reconnect("connection age limit reached (Binance ends connections at 24 h)"),
                r = tokio::time::timeout(self.config.stale_after, conn.next_item()) => match r {
                    Ok(item) => item,
                    Err(_) => return reconnect(format!("no message for {:?}", self.config.stale_after)),
                },
            };
            match item {
                StreamItem::Closed { reason } => return reconnect(reason),
                StreamItem::Ping => Counters::bump(&self.counters.pings),
                StreamItem::Malformed { error, excerpt } => {
                    Counters::bump(&self.counters.malformed_messages);
                    tracing::warn!(%error, message = %excerpt, "skipping malformed Binance stream message");
                }
                StreamItem::Message(StreamMessage::ServerShutdown { .. }) => {
                    return reconnect("the server announced its shutdown");
                }
                StreamItem::Message(StreamMessage::Kline { event, .. }) => {
                    if let Err(stop) = self.on_kline(event, delay).await {
                        return stop;
                    }
                }
                StreamItem::Message(StreamMessage::Reply { .. }) => {}
                StreamItem::Message(other) => {
                    Counters::bump(&self.counters.unexpected_messages);
                    tracing::warn!(message = ?other, "unexpected Binance stream message");
                }
            }
        }
    }

    async fn on_kline(&mut self, event: KlineEvent, delay: &mut Duration) -> Result<(), Stop> {
        let Some(&next) = self.delivery.next_open.get(&event.symbol) else {
            Counters::bump(&self.counters.unexpected_messages);
            tracing::warn!(symbol = %event.symbol, "kline for a symbol this feed did not subscribe to");
            return Ok(());
        };
        if event.interval != self.config.timeframe.as_str() {
            Counters::bump(&self.counters.unexpected_messages);
            tracing::warn!(interval = %event.interval, "kline of an interval this feed did not subscribe to");
            return Ok(());
        }
        // A well-formed kline: the connection works, so the next outage starts
        // its backoff afresh.
        *delay = self.config.reconnect.initial;
        if !event.is_closed {
            return Ok(());
        }
        let open_time = event.kline.open_time;
        if let Some(next) = next
            && open_time > next
        {
            self.backfill(&event.symbol, next, Some(open_time - 1))
                .await?;
        }
        self.emit(&event.symbol, event.kline.candle(), CandleSource::Stream)
            .await
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

    fn skew_ms(&self) -> i64 {
        self.config.clock_skew_margin.as_millis() as i64
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
#[path = "live_feed_tests.rs"]
mod tests;

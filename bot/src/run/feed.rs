//! Candle sources of `run`, all behind one channel of [`FeedCandle`]s:
//! - `binance` (alias `live`): the live feed of the bot's venue: Binance's
//!   kline feed (REST warm-up and gap backfill, kline WebSocket; see
//!   `crate::binance::live_feed`) or Coinbase's candle feed (REST candles,
//!   market-data WebSocket; see `crate::coinbase::market::live_feed`);
//! - `replay`: CSV files, paced at `--speed` × real time or as fast as
//!   possible;
//! - `synthetic`: the seeded generator (labelled synthetic), paced the same.
//!
//! On a restart the feed starts after the last candle the store holds per
//! symbol: a replay skips what was processed, the live feed's warm-up is
//! sized to cover the gap since then (the run loop drops anything it has
//! already seen, so an overlap is harmless).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::args::{FeedKind, RunArgs, Speed};
use crate::backtest::{DataSelection, load_series};
use crate::binance::{
    BINANCE_API_URL, BINANCE_WS_URL, CandleSource, LiveCandle, LiveFeedConfig, LiveFeedHandle,
    spawn_live_feed,
};
use crate::coinbase::market::{
    COINBASE_API_URL, COINBASE_WS_URL, CoinbaseFeedConfig, spawn_coinbase_feed,
};
use crate::config::EngineConfig;
use crate::domain::Candle;
use crate::market_data::CandleSeries;
use botfleet_crds::Venue;

/// Most candles a live warm-up fetches to cover a restart's gap.
const MAX_CATCH_UP: usize = 10_000;
/// Candles buffered between the feed and the trading loop.
const CHANNEL: usize = 1_024;

/// One closed candle for the trading loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeedCandle {
    /// The symbol's index in the bot's symbol list.
    pub index: usize,
    pub candle: Candle,
    /// History from before the bot started: warm the strategies, do not trade.
    pub warmup: bool,
}

/// What the feed has done, shared with metrics and `/status`.
#[derive(Debug, Default)]
pub struct FeedStatus {
    pub delivered: AtomicU64,
    pub reconnects: AtomicU64,
    /// The source ran out (a replay's end) or stopped.
    pub finished: AtomicBool,
    /// Why the feed stopped on its own, if it failed.
    pub failure: std::sync::Mutex<Option<String>>,
}

impl FeedStatus {
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().map(|f| f.clone()).unwrap_or(None)
    }
}

/// Where a restarted engine left off.
#[derive(Clone, Debug, Default)]
pub struct ResumeFrom {
    /// Per symbol (bot order): open time of the last candle stored.
    pub last: Vec<Option<i64>>,
    /// Candles of history a fresh live bot fetches to warm its strategies.
    pub warmup: usize,
}

impl ResumeFrom {
    fn fresh(&self) -> bool {
        self.last.iter().all(Option::is_none)
    }
}

/// A running feed.
pub struct Feed {
    pub rx: mpsc::Receiver<FeedCandle>,
    pub status: Arc<FeedStatus>,
    /// Open time of the first candle a replay delivers, or the current
    /// candle's for a live feed: where a fresh engine starts its clock.
    pub start_time: i64,
    /// Live market data (the engine's clock is the wall clock).
    pub live: bool,
    /// For logs, e.g. `synthetic (seed 42, …), 8760 candles`.
    pub label: String,
    task: JoinHandle<()>,
}

impl Feed {
    /// Starts the feed `args` selects for the bot's symbols.
    pub fn spawn(
        args: &RunArgs,
        cfg: &EngineConfig,
        resume: &ResumeFrom,
        cancel: CancellationToken,
    ) -> anyhow::Result<Feed> {
        match args.feed {
            FeedKind::Binance => spawn_live(args, cfg, resume, cancel),
            FeedKind::Replay | FeedKind::Synthetic => spawn_replay(args, cfg, resume, cancel),
        }
    }

    /// The candles, and the task to wait for once the feed is cancelled.
    pub fn into_parts(self) -> (mpsc::Receiver<FeedCandle>, FeedTask) {
        (self.rx, FeedTask(self.task))
    }
}

/// The feed's task.
pub struct FeedTask(JoinHandle<()>);

impl FeedTask {
    /// Waits for the feed to stop (cancel its token first).
    pub async fn join(self) {
        let _ = self.0.await;
    }
}

fn spawn_replay(
    args: &RunArgs,
    cfg: &EngineConfig,
    resume: &ResumeFrom,
    cancel: CancellationToken,
) -> anyhow::Result<Feed> {
    let selection = DataSelection {
        data: args.data.clone(),
        seed: args.seed,
        synthetic_candles: args.candles,
        from: args.from,
        to: args.to,
    };
    let series = load_series(cfg, &selection).map_err(anyhow::Error::msg)?;
    let label = series
        .iter()
        .map(|(s, c)| format!("{s}: {}", c.label()))
        .collect::<Vec<_>>()
        .join("; ");
    let all = merge(series);
    let end = all
        .last()
        .map(|(_, c)| c.open_time + cfg.timeframe.millis());
    let items: Vec<(usize, Candle)> = all
        .into_iter()
        .filter(|(i, c)| {
            resume
                .last
                .get(*i)
                .copied()
                .flatten()
                .is_none_or(|last| c.open_time > last)
        })
        .collect();
    let start_time = items
        .first()
        .map(|(_, c)| c.open_time)
        .or(end)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let (tx, rx) = mpsc::channel(CHANNEL);
    let status = Arc::new(FeedStatus::default());
    let task = tokio::spawn(pace(items, args.speed, tx, status.clone(), cancel));
    Ok(Feed {
        rx,
        status,
        start_time,
        live: false,
        label,
        task,
    })
}

/// The candles of every symbol in time order; at equal times the bot's
/// symbol order (as a backtest replays them).
fn merge(series: Vec<(crate::domain::Symbol, CandleSeries)>) -> Vec<(usize, Candle)> {
    let mut all: Vec<(usize, Candle)> = series
        .into_iter()
        .enumerate()
        .flat_map(|(i, (_, s))| s.candles.into_iter().map(move |c| (i, c)))
        .collect();
    all.sort_by_key(|(i, c)| (c.open_time, *i));
    all
}

/// Sends `items`, each at `(open_time − first open_time) / speed` after the
/// start (no drift: deadlines come from the first candle, not the previous).
async fn pace(
    items: Vec<(usize, Candle)>,
    speed: Speed,
    tx: mpsc::Sender<FeedCandle>,
    status: Arc<FeedStatus>,
    cancel: CancellationToken,
) {
    let started = tokio::time::Instant::now();
    let first = items.first().map(|(_, c)| c.open_time);
    for (index, candle) in items {
        if let (Speed::Times(factor), Some(t0)) = (speed, first) {
            let offset = (candle.open_time - t0) as f64 / 1000.0 / factor;
            let due = started + Duration::from_secs_f64(offset.max(0.0));
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
        let item = FeedCandle {
            index,
            candle,
            warmup: false,
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            sent = tx.send(item) => if sent.is_err() { return },
        }
        status.delivered.fetch_add(1, Ordering::Relaxed);
    }
    status.finished.store(true, Ordering::Relaxed);
}

/// The live feed of the bot's venue, relayed into [`FeedCandle`]s.
fn spawn_live(
    args: &RunArgs,
    cfg: &EngineConfig,
    resume: &ResumeFrom,
    cancel: CancellationToken,
) -> anyhow::Result<Feed> {
    let tf = cfg.timeframe.millis();
    let now = chrono::Utc::now().timestamp_millis();
    let warmup = if resume.fresh() {
        resume.warmup
    } else {
        // Enough history to cover every candle closed since the oldest
        // "last candle" of any symbol; what was already seen is dropped.
        let oldest = resume.last.iter().flatten().min().copied().unwrap_or(now);
        let gap = ((now - oldest) / tf).max(0) as usize + 1;
        if gap > MAX_CATCH_UP {
            tracing::warn!(
                missed = gap,
                fetched = MAX_CATCH_UP,
                "the engine was down longer than the catch-up window; the oldest missed candles are skipped"
            );
        }
        gap.min(MAX_CATCH_UP)
    };
    let venue = cfg.bot_spec.exchange.venue;
    let (source, handle, rest_url, what) = match venue {
        Venue::Binance => {
            let mut live = LiveFeedConfig::new(cfg.symbols.clone(), cfg.timeframe);
            live.rest_base_url = args
                .market_rest_url
                .clone()
                .unwrap_or_else(|| BINANCE_API_URL.into());
            live.ws_base_url = args
                .market_ws_url
                .clone()
                .unwrap_or_else(|| BINANCE_WS_URL.into());
            live.warmup = warmup;
            let url = live.rest_base_url.clone();
            let (source, handle) = spawn_live_feed(live, cancel.child_token())
                .context("starting the Binance live feed")?;
            (source, handle, url, "Binance klines")
        }
        Venue::Coinbase => {
            let mut live = CoinbaseFeedConfig::new(cfg.symbols.clone(), cfg.timeframe);
            live.rest_base_url = args
                .market_rest_url
                .clone()
                .unwrap_or_else(|| COINBASE_API_URL.into());
            live.ws_url = args
                .market_ws_url
                .clone()
                .unwrap_or_else(|| COINBASE_WS_URL.into());
            live.warmup = warmup;
            let url = live.rest_base_url.clone();
            let (source, handle) = spawn_coinbase_feed(live, cancel.child_token())
                .context("starting the Coinbase live feed")?;
            (source, handle, url, "Coinbase candles")
        }
    };
    let (tx, rx) = mpsc::channel(CHANNEL);
    let status = Arc::new(FeedStatus::default());
    let task = tokio::spawn(relay(
        source,
        handle,
        tx,
        status.clone(),
        cfg.symbols.clone(),
        resume.fresh(),
        cancel,
    ));
    Ok(Feed {
        rx,
        status,
        start_time: now - now.rem_euclid(tf),
        live: true,
        label: format!(
            "{what} {} of {} ({rest_url})",
            cfg.timeframe.as_str(),
            cfg.symbols
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        task,
    })
}

/// Passes a venue feed's candles on to the trading loop, keeping the status.
async fn relay(
    mut source: mpsc::Receiver<LiveCandle>,
    handle: LiveFeedHandle,
    tx: mpsc::Sender<FeedCandle>,
    shared: Arc<FeedStatus>,
    symbols: Vec<crate::domain::Symbol>,
    fresh: bool,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            got = source.recv() => {
                let Some(c) = got else { break };
                shared.reconnects.store(handle.stats().reconnects, Ordering::Relaxed);
                let Some(index) = symbols.iter().position(|s| *s == c.symbol) else { continue };
                let item = FeedCandle {
                    index,
                    candle: c.candle,
                    warmup: fresh && c.source == CandleSource::Warmup,
                };
                if tx.send(item).await.is_err() {
                    break;
                }
                shared.delivered.fetch_add(1, Ordering::Relaxed);
            }
            _ = tick.tick() => {
                shared.reconnects.store(handle.stats().reconnects, Ordering::Relaxed);
            }
        }
    }
    let stopped_by_us = cancel.is_cancelled();
    if let Err(e) = handle.shutdown().await
        && !stopped_by_us
        && let Ok(mut f) = shared.failure.lock()
    {
        *f = Some(e.to_string());
    }
    shared.finished.store(true, Ordering::Relaxed);
}

/// How long a live feed may stay silent before the engine reports itself
/// Degraded: two candle intervals plus a minute of slack.
pub fn stale_after(timeframe_ms: i64) -> Duration {
    Duration::from_millis((2 * timeframe_ms + 60_000) as u64)
}

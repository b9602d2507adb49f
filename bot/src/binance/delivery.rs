//! What every venue's live feed shares once it has a closed candle, and
//! between connections: delivery exactly once and in order per symbol
//! ([`Delivery`]), and the wait before a reconnect ([`back_off`]). The
//! Binance feed ([`super::live_feed`]) and the Coinbase feed
//! (`crate::coinbase::market::live_feed`) differ only in where closed
//! candles come from.

use super::feed_config::{Counters, ReconnectPolicy};
use crate::domain::{Candle, Symbol};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where a candle came from (for logs and audits; the consumer treats them alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandleSource {
    /// The history fetched at start.
    Warmup,
    /// Fetched over REST to fill a gap after a disconnect or a skipped kline.
    Backfill,
    /// A closed kline from the WebSocket stream.
    Stream,
}

/// One closed candle, delivered once, in open-time order per symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveCandle {
    pub symbol: Symbol,
    pub candle: Candle,
    pub source: CandleSource,
}

/// The consumer is gone or the feed was cancelled: stop.
#[derive(Debug)]
pub(crate) struct Stopped;

/// Per symbol, the open time of the next candle the consumer expects; every
/// candle is delivered once, in open-time order.
pub(crate) struct Delivery {
    /// None before the symbol's first candle.
    pub next_open: BTreeMap<Symbol, Option<i64>>,
    pub interval_ms: i64,
    counters: Arc<Counters>,
    tx: mpsc::Sender<LiveCandle>,
    cancel: CancellationToken,
    /// For logs: "Binance", "Coinbase".
    venue: &'static str,
}

impl Delivery {
    pub fn new(
        symbols: &[Symbol],
        interval_ms: i64,
        counters: Arc<Counters>,
        tx: mpsc::Sender<LiveCandle>,
        cancel: CancellationToken,
        venue: &'static str,
    ) -> Self {
        Self {
            next_open: symbols.iter().map(|s| (s.clone(), None)).collect(),
            interval_ms,
            counters,
            tx,
            cancel,
            venue,
        }
    }

    /// Delivers a candle unless it was already delivered; counts the
    /// intervals skipped before it (the venue has no candle for them).
    pub async fn emit(
        &mut self,
        symbol: &Symbol,
        candle: Candle,
        source: CandleSource,
    ) -> Result<(), Stopped> {
        let slot = self.next_open.get_mut(symbol).expect("symbol is tracked");
        if let Some(next) = *slot {
            if candle.open_time < next {
                Counters::bump(&self.counters.duplicates_skipped);
                return Ok(());
            }
            if candle.open_time > next {
                let missing = ((candle.open_time - next) / self.interval_ms) as u64;
                Counters::add(&self.counters.missing_klines, missing);
                tracing::warn!(%symbol, from = next, to = candle.open_time, missing,
                    venue = self.venue, "the venue has no candle for these intervals (no trade, or downtime)");
            }
        }
        *slot = Some(candle.open_time + self.interval_ms);
        let item = LiveCandle {
            symbol: symbol.clone(),
            candle,
            source,
        };
        // Counted before the send, so a consumer holding the candle sees it counted.
        let counter = match source {
            CandleSource::Warmup => &self.counters.warmup_candles,
            CandleSource::Backfill => &self.counters.backfilled_candles,
            CandleSource::Stream => &self.counters.stream_candles,
        };
        Counters::bump(counter);
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stopped),
            r = self.tx.send(item) => r.map_err(|_| Stopped),
        }
    }
}

/// Counts a reconnect, waits `delay` (jittered, at least `at_least`) unless
/// cancelled, and doubles `delay` up to the policy's max. False when cancelled.
pub(crate) async fn back_off(
    policy: &ReconnectPolicy,
    delay: &mut Duration,
    at_least: Duration,
    reason: &str,
    counters: &Counters,
    cancel: &CancellationToken,
    venue: &'static str,
) -> bool {
    Counters::bump(&counters.reconnects);
    let wait = policy.jittered(*delay).max(at_least);
    tracing::warn!(%reason, wait_ms = wait.as_millis() as u64, venue, "live market data interrupted; reconnecting");
    tokio::select! {
        biased;
        _ = cancel.cancelled() => return false,
        _ = tokio::time::sleep(wait) => {}
    }
    *delay = (*delay * 2).min(policy.max);
    true
}

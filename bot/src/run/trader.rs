//! The trading loop: one task owns the engine. It takes candles from the
//! feed (a batch of whatever is already waiting, so a fast replay does not
//! pay one fsync per candle), runs each through the engine, stores the
//! batch as one step, then publishes `/status` and the metrics. Control
//! requests are applied between batches. On shutdown the batch in progress
//! finishes and is stored before the loop returns.
//!
//! A step the store refuses is retried (Degraded meanwhile) and never
//! dropped: the engine does not move on until its state is durable.
//!
//! Each second (and before each batch of candles) the loop also applies the
//! dead-man switch (`super::dead_man`) and retries a pending flatten
//! (`super::flatten`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::control::{self, Applied, Reply, Request};
use super::crash_point;
use super::dead_man::{self, Decision};
use super::feed::{FeedCandle, FeedStatus, stale_after};
use super::flatten;
use super::http::Shared;
use super::persist::StepBuilder;
use super::status::{self, Health};
use super::venue::VenueLink;
use crate::domain::Symbol;
use crate::engine::{Engine, EngineEvent};
use crate::store::{Step, Store};

/// Most candles stored in one step.
const MAX_BATCH: usize = 512;

pub struct Trader {
    pub engine: Engine,
    pub store: Store,
    pub shared: Arc<Shared>,
    pub feed: Arc<FeedStatus>,
    /// Live market data: the engine's clock is the wall clock.
    pub live: bool,
    /// Per symbol: open time of the newest candle consumed.
    pub last_seen: Vec<Option<i64>>,
    /// The engine's clock between candles: the next candle's open time.
    pub clock: i64,
    /// Wall-clock start of this process (ms), for `/status`.
    pub started_at: i64,
    pub shutdown: CancellationToken,
    /// Whether the store refused the last write.
    pub store_failing: bool,
    /// When the feed last delivered (live staleness).
    pub last_delivery: Instant,
    pub ready: bool,
    /// The real venue (Sandbox and above); `None` trades on paper.
    pub venue: Option<VenueLink>,
    /// When a pending flatten is tried again.
    pub flatten_retry: flatten::Backoff,
    /// The periodic ledger check against the venue.
    pub ledger: super::ledger_check::LedgerSchedule,
}

impl Trader {
    fn tf(&self) -> i64 {
        self.engine.config().timeframe.millis()
    }

    fn symbol(&self, index: usize) -> Symbol {
        self.engine.config().symbols[index].clone()
    }

    /// The engine's "now": the wall clock for live data, else market time.
    pub fn now(&self) -> i64 {
        if self.live {
            chrono::Utc::now().timestamp_millis().max(self.clock)
        } else {
            self.clock
        }
    }

    /// A step builder storing orders under the venue's client order ids.
    fn step(&self) -> StepBuilder {
        StepBuilder::with_client_ids(self.venue.as_ref().map(|v| v.client_order_ids().clone()))
    }

    fn last_candle(&self) -> Option<i64> {
        self.last_seen.iter().flatten().max().copied()
    }

    fn health(&self) -> Health {
        let stale =
            self.live && self.ready && self.last_delivery.elapsed() > stale_after(self.tf());
        Health {
            ready: self.ready,
            degraded: self.store_failing || stale || self.feed.failure().is_some(),
        }
    }

    /// Publishes `/status` and the metrics.
    pub fn publish(&self) {
        let now = self.now();
        let mut status = status::build(&self.engine, now, self.started_at, self.health());
        status.ledger_check = self.ledger.last.clone();
        self.shared.publish(status);
        self.shared
            .metrics
            .set_feed_reconnects(self.feed.reconnects.load(Ordering::Relaxed));
        self.shared
            .metrics
            .feed_finished
            .set(i64::from(self.feed.finished.load(Ordering::Relaxed)));
        if let Some(t) = self.last_candle() {
            self.shared.metrics.last_candle_time.set(t as f64 / 1000.0);
        }
        if let Some(venue) = &self.venue {
            self.shared.metrics.observe_venue(&venue.stats());
        }
        let m = &self.shared.metrics;
        m.dead_man_tripped
            .set(i64::from(self.engine.risk().entry_hold().is_some()));
        m.status_poll_age
            .set(self.shared.polls.since_last().as_secs_f64());
    }

    fn update_ready(&mut self) {
        let delivered = self.feed.delivered.load(Ordering::Relaxed) > 0;
        let finished = self.feed.finished.load(Ordering::Relaxed);
        if !self.ready && (delivered || finished) {
            self.ready = true;
            self.shared.set_ready(true, "");
            tracing::info!("ready: restored and the feed delivers");
        }
    }

    /// Runs until shutdown. An `Err` is fatal (the engine cannot go on).
    pub async fn run(
        mut self,
        mut candles: mpsc::Receiver<FeedCandle>,
        mut requests: mpsc::Receiver<Request>,
    ) -> anyhow::Result<Store> {
        let mut feed_open = true;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                Some(request) = requests.recv() => self.control(request).await?,
                got = candles.recv(), if feed_open => match got {
                    Some(first) => {
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match candles.try_recv() {
                                Ok(c) => batch.push(c),
                                Err(_) => break,
                            }
                        }
                        self.candles(batch).await?;
                    }
                    None => {
                        feed_open = false;
                        self.feed_ended()?;
                    }
                },
                _ = tick.tick() => {
                    self.poll_venue().await?;
                    self.check_ledger_if_due().await?;
                    self.flatten_again().await?;
                    self.dead_man().await?;
                    self.update_ready();
                    self.publish();
                }
            }
        }
        // Requests that arrived too late are answered, not left hanging.
        requests.close();
        while let Ok(r) = requests.try_recv() {
            let _ = r
                .reply
                .send(Reply::Unavailable("the engine is shutting down".into()));
        }
        Ok(self.store)
    }

    async fn candles(&mut self, batch: Vec<FeedCandle>) -> anyhow::Result<()> {
        self.last_delivery = Instant::now();
        // A hold due now applies to this batch's entries.
        self.dead_man().await?;
        let mut step = self.step();
        let tf = self.tf();
        let mut traded = 0u64;
        for FeedCandle {
            index,
            candle,
            warmup,
        } in batch
        {
            let symbol = self.symbol(index);
            let seen = self.last_seen[index];
            if seen.is_some_and(|last| candle.open_time <= last) {
                continue; // already consumed (a live warm-up overlapping the store)
            }
            if let Some(last) = seen
                && candle.open_time > last + tf
            {
                tracing::warn!(%symbol, after = %status::rfc3339(last), next = %status::rfc3339(candle.open_time),
                    missing = (candle.open_time - last) / tf - 1, "candles are missing from the feed");
            }
            self.last_seen[index] = Some(candle.open_time);
            step.candle(&symbol, &candle, warmup);
            if let Some(venue) = self.venue.as_mut() {
                venue.reference_price(&symbol, candle.close);
            }
            if warmup {
                self.engine.warm(index, &candle);
                continue;
            }
            self.engine.on_candle(index, &candle).with_context(|| {
                format!("{symbol} candle at {}", status::rfc3339(candle.open_time))
            })?;
            let events = self.engine.drain_events();
            log_events(&events);
            step.events(events, candle.open_time);
            step.equity(candle.open_time, &self.engine);
            self.clock = self.clock.max(candle.open_time + tf);
            traded += 1;
            if self.engine.has_venue_commands() {
                // The venue hears of an order before the next candle is
                // traded, as it would live: store, send, then go on.
                let done = std::mem::replace(&mut step, self.step());
                self.store_candles(done, std::mem::take(&mut traded))
                    .await?;
            }
        }
        self.store_candles(step, traded).await
    }

    /// Stores a step of candles, then sends what the engine queued.
    async fn store_candles(&mut self, step: StepBuilder, traded: u64) -> anyhow::Result<()> {
        if step.is_empty() {
            return Ok(());
        }
        self.engine.forget_closed_orders();
        let step = step.finish(&self.engine, self.now(), self.last_candle())?;
        self.commit(step).await?;
        self.drive_venue().await?;
        self.shared.metrics.candles_processed.inc_by(traded);
        self.update_ready();
        self.publish();
        Ok(())
    }

    async fn control(&mut self, request: Request) -> anyhow::Result<()> {
        let now = self.now();
        let action = request.command.action();
        let mut step = self.step();
        match control::apply(&mut self.engine, &request.command, now, &mut step) {
            Applied::Refused(message) => {
                tracing::info!(action, %message, "control request refused");
                let _ = request.reply.send(Reply::Conflict(message));
            }
            Applied::Failed(message) => {
                tracing::error!(action, %message, "control request failed");
                let _ = request.reply.send(Reply::Unavailable(message));
            }
            Applied::Commit(body) => {
                self.engine.forget_closed_orders();
                let step = step.finish(&self.engine, now, self.last_candle())?;
                if let Err(e) = self.commit(step).await {
                    let _ = request.reply.send(Reply::Unavailable(format!("{e:#}")));
                    return Err(e);
                }
                tracing::info!(action, result = %body, "control request applied");
                self.drive_venue().await?;
                // /status shows the result before the caller hears of it.
                self.publish();
                let _ = request.reply.send(Reply::Done(body));
            }
        }
        Ok(())
    }

    /// Sends what the engine queued for the venue (its orders are already
    /// stored), storing the engine's events after each answer.
    pub async fn drive_venue(&mut self) -> anyhow::Result<()> {
        let Some(mut venue) = self.venue.take() else {
            return Ok(());
        };
        let result = async {
            loop {
                let commands = self.engine.take_venue_commands();
                if commands.is_empty() {
                    return Ok(());
                }
                for command in commands {
                    crash_point::reached("before-send");
                    venue.send(&mut self.engine, command).await?;
                    crash_point::reached("after-send");
                    self.store_venue_events().await?;
                    crash_point::reached("after-store");
                }
            }
        }
        .await;
        self.venue = Some(venue);
        result
    }

    /// The dead-man switch: holds entries when nobody polled `/status` for
    /// `deadManMinutes`, lifts the hold once somebody did; a change is
    /// logged, stored as an audit record and published at once.
    async fn dead_man(&mut self) -> anyhow::Result<()> {
        let now = self.now();
        let record = match dead_man::update(&mut self.engine, &self.shared.polls, now) {
            Decision::Keep => return Ok(()),
            Decision::Trip => serde_json::json!({
                "held": true,
                "reason": self.engine.risk().entry_hold().map(|h| h.reason.clone()),
            }),
            Decision::Lift => serde_json::json!({"held": false}),
        };
        let mut step = self.step();
        step.control(now, "dead-man-switch", record);
        self.engine.forget_closed_orders();
        let step = step.finish(&self.engine, now, self.last_candle())?;
        self.commit(step).await?;
        self.publish();
        Ok(())
    }

    /// A halt that must flatten and still holds a position: sends the exits
    /// again (with a backoff) until the book is flat, stored like any order.
    async fn flatten_again(&mut self) -> anyhow::Result<()> {
        if !flatten::pending(&self.engine) {
            self.flatten_retry.reset();
            return Ok(());
        }
        if !self.flatten_retry.due() {
            return Ok(());
        }
        let now = self.now();
        let sent = flatten::retry(&mut self.engine, now);
        if sent == 0 {
            // An exit is still in flight: the venue answers it first.
            return Ok(());
        }
        self.flatten_retry.tried();
        let halt = self.engine.risk().halted().map(|h| h.id.clone());
        tracing::warn!(halt = ?halt, exits = sent, "flatten pending: sending the exits again");
        let events = self.engine.drain_events();
        log_events(&events);
        let mut step = self.step();
        step.events(events, now);
        step.control(
            now,
            "flatten-retry",
            serde_json::json!({"haltId": halt, "exits": sent}),
        );
        self.engine.forget_closed_orders();
        let step = step.finish(&self.engine, now, self.last_candle())?;
        self.commit(step).await?;
        self.drive_venue().await?;
        self.publish();
        Ok(())
    }

    /// Asks the venue about the orders still open (fills, lost submits,
    /// unconfirmed cancels).
    pub(super) async fn poll_venue(&mut self) -> anyhow::Result<()> {
        let Some(mut venue) = self.venue.take() else {
            return Ok(());
        };
        let polled = venue.poll(&mut self.engine).await;
        self.venue = Some(venue);
        polled?;
        self.store_venue_events().await?;
        self.drive_venue().await
    }

    async fn store_venue_events(&mut self) -> anyhow::Result<()> {
        let events = self.engine.drain_events();
        if events.is_empty() {
            return Ok(());
        }
        log_events(&events);
        let now = self.now();
        let mut step = self.step();
        step.events(events, now);
        self.engine.forget_closed_orders();
        let step = step.finish(&self.engine, now, self.last_candle())?;
        self.commit(step).await?;
        self.publish();
        Ok(())
    }

    /// Stores a step, retrying until the store takes it.
    pub async fn commit(&mut self, step: Step) -> anyhow::Result<()> {
        let mut wait = Duration::from_millis(100);
        loop {
            match self.store.commit_step(&step).await {
                Ok(_) => {
                    if self.store_failing {
                        tracing::info!("the store accepts writes again");
                        self.store_failing = false;
                    }
                    return Ok(());
                }
                Err(e) => {
                    self.shared.metrics.store_commit_errors.inc();
                    if !self.store_failing {
                        tracing::error!(error = %e, "the store refused a step; retrying until it takes it (the engine waits)");
                        self.store_failing = true;
                        self.publish();
                    }
                    tokio::select! {
                        _ = self.shutdown.cancelled() => bail!(
                            "stopping while the store refuses writes ({e}); the last step is not \
                             stored: after a restart the engine processes its candles again"
                        ),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn feed_ended(&mut self) -> anyhow::Result<()> {
        if let Some(failure) = self.feed.failure() {
            bail!("the market data feed stopped: {failure}");
        }
        self.update_ready();
        self.publish();
        if self.live {
            if !self.shutdown.is_cancelled() {
                bail!("the live market data feed stopped unexpectedly");
            }
        } else {
            tracing::info!(
                candles = self.feed.delivered.load(Ordering::Relaxed),
                "replay finished; serving /status and the control endpoints until stopped"
            );
        }
        Ok(())
    }
}

fn log_events(events: &[EngineEvent]) {
    for event in events {
        match event {
            EngineEvent::OrderSubmitted { order } => tracing::info!(
                id = order.id.0, symbol = %order.symbol, side = ?order.side, quantity = %order.quantity,
                reason = %order.reason, "order submitted"),
            EngineEvent::OrderRejected { order, reason } => tracing::warn!(
                id = order.id.0, symbol = %order.symbol, %reason, "order rejected"),
            EngineEvent::Fill(f) => tracing::info!(
                trade = %f.trade_id, order = f.order_id.0, symbol = %f.symbol, side = ?f.side,
                quantity = %f.quantity, price = %f.price, fee = %f.fee, "fill"),
            EngineEvent::Risk(action) => tracing::warn!(action = ?action, "risk action"),
            EngineEvent::OrderClosed { .. } | EngineEvent::Audit(_) => {}
        }
    }
}

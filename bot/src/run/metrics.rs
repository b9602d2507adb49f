//! `/metrics`: the engine's Prometheus series, each labelled `bot`.
//!
//! Gauges mirror `/status` (window figures, measured since the phase
//! started, so they survive restarts); `_total` counters count what this
//! process did since it started.

use botfleet_crds::engine_api::{EngineState, EngineStatus};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use rust_decimal::prelude::ToPrimitive;

/// Every series `run` exports.
pub struct Metrics {
    registry: Registry,
    pub equity: Gauge,
    pub return_pct: Gauge,
    pub drawdown_pct: Gauge,
    pub max_drawdown_pct: Gauge,
    pub trades: IntGauge,
    pub orders: IntGauge,
    pub order_errors: IntGauge,
    pub open_positions: IntGauge,
    pub open_orders: IntGauge,
    pub halted: IntGauge,
    pub paused: IntGauge,
    pub ready: IntGauge,
    pub degraded: IntGauge,
    pub candles_processed: IntCounter,
    pub last_candle_time: Gauge,
    pub feed_reconnects: IntCounter,
    pub feed_finished: IntGauge,
    pub store_commit_errors: IntCounter,
    pub control_requests: IntCounterVec,
    pub venue_errors: IntCounter,
    pub venue_unknown_orders: IntGauge,
    pub venue_used_weight: IntGauge,
    pub venue_fills_recovered: IntCounter,
    pub dead_man_tripped: IntGauge,
    pub status_poll_age: Gauge,
    pub flatten_pending: IntGauge,
    pub ledger_differences: IntGauge,
    pub llm: LlmMetrics,
}

/// Per model member (label `member`): what it cost and how often it failed to vote.
pub struct LlmMetrics {
    pub decisions: IntCounterVec,
    pub abstentions: IntCounterVec,
    pub latency: HistogramVec,
    pub tokens: IntCounterVec,
    pub budget_used: GaugeVec,
    pub budget_exhausted: IntGaugeVec,
}

impl LlmMetrics {
    fn new(registry: &Registry) -> anyhow::Result<Self> {
        let member = &["member"];
        let decisions = IntCounterVec::new(
            Opts::new(
                "llm_decisions_total",
                "Candles a model member was to vote on (votes and abstentions).",
            ),
            member,
        )?;
        let abstentions = IntCounterVec::new(
            Opts::new(
                "llm_abstentions_total",
                "Decisions a model member abstained from, by cause (timeout, malformed, budgetExhausted, ...).",
            ),
            &["member", "cause"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "llm_latency_seconds",
                "Time from prompt to reply of a model member, retries included.",
            )
            .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0]),
            member,
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "llm_tokens_total",
                "Tokens a model member's endpoint reported used (prompt + completion).",
            ),
            member,
        )?;
        let budget_used = GaugeVec::new(
            Opts::new(
                "llm_budget_used_ratio",
                "Share of the tightest daily budget limit a model member has used today (0-1).",
            ),
            member,
        )?;
        let budget_exhausted = IntGaugeVec::new(
            Opts::new(
                "llm_budget_exhausted",
                "1 while a model member abstains because its daily budget is spent.",
            ),
            member,
        )?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(abstentions.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(budget_used.clone()))?;
        registry.register(Box::new(budget_exhausted.clone()))?;
        Ok(Self {
            decisions,
            abstentions,
            latency,
            tokens,
            budget_used,
            budget_exhausted,
        })
    }

    /// Counts one decision of a model member.
    pub fn observe(&self, x: &crate::strategy::llm::Exchange, budget_used: f64) {
        let m = x.member.as_str();
        self.decisions.with_label_values(&[m]).inc();
        let exhausted = x.abstained.as_deref() == Some("budgetExhausted");
        if let Some(cause) = &x.abstained {
            self.abstentions.with_label_values(&[m, cause]).inc();
        }
        if x.attempts > 0 {
            self.latency
                .with_label_values(&[m])
                .observe(x.latency_ms as f64 / 1000.0);
        }
        self.tokens
            .with_label_values(&[m])
            .inc_by(x.usage.total_tokens);
        self.budget_used.with_label_values(&[m]).set(budget_used);
        self.budget_exhausted
            .with_label_values(&[m])
            .set(i64::from(exhausted));
    }
}

impl Metrics {
    pub fn new(bot: &str) -> anyhow::Result<Self> {
        let labels = [("bot".to_string(), bot.to_string())].into_iter().collect();
        let registry = Registry::new_custom(Some("botfleet_engine".into()), Some(labels))?;
        let gauge = |name: &str, help: &str| -> anyhow::Result<Gauge> {
            let g = Gauge::with_opts(Opts::new(name, help))?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let int_gauge = |name: &str, help: &str| -> anyhow::Result<IntGauge> {
            let g = IntGauge::with_opts(Opts::new(name, help))?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> anyhow::Result<IntCounter> {
            let c = IntCounter::with_opts(Opts::new(name, help))?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let control_requests = IntCounterVec::new(
            Opts::new(
                "control_requests_total",
                "Control requests by action and outcome (ok, conflict, unauthorized, invalid, unavailable).",
            ),
            &["action", "outcome"],
        )?;
        registry.register(Box::new(control_requests.clone()))?;
        // Each action's "ok" series exists at 0 from the start, so the
        // dashboard's increase() shows none rather than no data.
        for action in ["halt", "resume", "cancel-all"] {
            control_requests.with_label_values(&[action, "ok"]);
        }
        Ok(Self {
            equity: gauge(
                "equity",
                "Account equity (cash + marked positions), quote currency.",
            )?,
            return_pct: gauge("return_pct", "Return since the phase started, in %.")?,
            drawdown_pct: gauge(
                "drawdown_pct",
                "Drawdown from the phase's equity peak, in %.",
            )?,
            max_drawdown_pct: gauge("max_drawdown_pct", "Largest drawdown in the phase, in %.")?,
            trades: int_gauge("trades", "Round trips closed in the phase.")?,
            orders: int_gauge("orders", "Orders sent in the phase.")?,
            order_errors: int_gauge("order_errors", "Orders the broker refused in the phase.")?,
            open_positions: int_gauge("open_positions", "Positions open.")?,
            open_orders: int_gauge("open_orders", "Orders open on the broker.")?,
            halted: int_gauge("halted", "1 while the halt latch is set.")?,
            paused: int_gauge(
                "paused",
                "1 while new entries are paused (daily loss, flash crash, dead-man switch).",
            )?,
            ready: int_gauge("ready", "1 once restored and the feed delivers.")?,
            degraded: int_gauge(
                "degraded",
                "1 while the store refuses writes or the live feed is silent.",
            )?,
            candles_processed: counter(
                "candles_processed_total",
                "Candles traded on by this process (warm-up history excluded).",
            )?,
            last_candle_time: gauge(
                "last_candle_time_seconds",
                "Open time of the last candle processed, Unix seconds.",
            )?,
            feed_reconnects: counter(
                "feed_reconnects_total",
                "Reconnects of the live market data feed.",
            )?,
            feed_finished: int_gauge(
                "feed_finished",
                "1 once a replay has delivered its last candle.",
            )?,
            store_commit_errors: counter(
                "store_commit_errors_total",
                "Steps the store refused (each is retried until it succeeds).",
            )?,
            venue_errors: counter(
                "venue_errors_total",
                "Venue calls that failed after the client's retries (unreachable, rate limited, unreadable answer).",
            )?,
            venue_unknown_orders: int_gauge(
                "venue_unknown_orders",
                "Orders sent whose fate the venue has not confirmed yet (looked up until it does).",
            )?,
            venue_used_weight: int_gauge(
                "venue_used_weight_1m",
                "Request weight the venue reports used in the current minute (X-MBX-USED-WEIGHT-1M).",
            )?,
            venue_fills_recovered: counter(
                "venue_fills_recovered_total",
                "Fills recorded by restart reconciliation: the venue executed them while the engine was down.",
            )?,
            dead_man_tripped: int_gauge(
                "dead_man_tripped",
                "1 while the dead-man switch holds new entries (no GET /status for deadManMinutes).",
            )?,
            status_poll_age: gauge(
                "status_poll_age_seconds",
                "Seconds since the last GET /status (or since the engine started).",
            )?,
            flatten_pending: int_gauge(
                "flatten_pending",
                "1 while a halt with flatten still has a position to close (retried until flat).",
            )?,
            ledger_differences: int_gauge(
                "ledger_differences",
                "What the last ledger check found differing from the venue's records (trades, fees, assets); -1 before the first check.",
            )?,
            control_requests,
            llm: LlmMetrics::new(&registry)?,
            registry,
        })
    }

    /// Copies the `/status` figures into the gauges.
    pub fn observe(&self, s: &EngineStatus) {
        let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        self.equity.set(f(s.window.equity));
        self.return_pct.set(s.window.return_pct);
        self.drawdown_pct.set(s.window.drawdown_pct);
        self.max_drawdown_pct.set(s.window.max_drawdown_pct);
        self.trades.set(s.window.trades as i64);
        self.orders.set(s.window.orders as i64);
        self.order_errors.set(s.window.order_errors as i64);
        self.open_positions.set(s.open_positions.len() as i64);
        self.open_orders.set(i64::from(s.open_orders));
        self.halted.set(i64::from(s.halt.is_some()));
        self.flatten_pending.set(i64::from(s.flatten_pending));
        self.ledger_differences.set(
            s.ledger_check
                .as_ref()
                .map_or(-1, |c| c.differences() as i64),
        );
        self.paused.set(i64::from(s.pause.is_some()));
        self.degraded
            .set(i64::from(s.state == EngineState::Degraded));
    }

    /// The feed's reconnect count so far (the counter only moves forward).
    pub fn set_feed_reconnects(&self, total: u64) {
        advance(&self.feed_reconnects, total);
    }

    /// The venue link's figures so far.
    pub fn observe_venue(&self, venue: &crate::run::venue::VenueStats) {
        advance(&self.venue_errors, venue.errors);
        advance(&self.venue_fills_recovered, venue.fills_recovered);
        self.venue_unknown_orders.set(venue.unknown_orders as i64);
        self.venue_used_weight
            .set(i64::from(venue.used_weight_1m.unwrap_or(0)));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

/// Moves `counter` up to `total` (a counter only moves forward).
fn advance(counter: &IntCounter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}

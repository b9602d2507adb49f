//! Prometheus metrics of the operator, in a registry of its own (so two
//! operators in one process — as in the tests — do not collide).

use botfleet_crds::{BotState, Phase, RiskPolicySpec, TradingBot, TradingBotStatus};
use kube::ResourceExt;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

use crate::error::Error;

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    /// Reconciles run.
    pub reconciles: IntCounter,
    /// Failed reconciles by error kind.
    pub reconcile_errors: IntCounterVec,
    /// Reconcile duration.
    pub reconcile_duration: HistogramVec,
    /// 1 while this replica holds the leader Lease.
    pub leader: IntGauge,
    /// Failed engine polls.
    pub engine_poll_failures: IntCounterVec,
    /// Effective phase (0 Paper … 3 Scaling).
    pub bot_phase: GaugeVec,
    /// Desired phase (0 Paper … 3 Scaling).
    pub bot_desired_phase: GaugeVec,
    /// 1 for the bot's current state, 0 for the others.
    pub bot_state: GaugeVec,
    /// Equity, quote currency.
    pub bot_equity: GaugeVec,
    /// Current drawdown, %.
    pub bot_drawdown: GaugeVec,
    /// Drawdown that halts the bot in its phase, %.
    pub bot_drawdown_limit: GaugeVec,
    /// Capital allocated.
    pub bot_capital: GaugeVec,
    /// 1 while halted.
    pub bot_halted: GaugeVec,
    /// 1 while halted and the engine does not report that halt.
    pub bot_halt_unconfirmed: GaugeVec,
    /// Criteria of the next gate that are met.
    pub bot_gate_met: GaugeVec,
    /// Criteria of the next gate.
    pub bot_gate_total: GaugeVec,
    /// Promotions made.
    pub bot_promotions: IntCounterVec,
    /// Halts latched.
    pub bot_halts: IntCounterVec,
    /// Capital steps made, by direction.
    pub bot_capital_steps: IntCounterVec,
}

const BOT: [&str; 2] = ["namespace", "bot"];
const STATES: [BotState; 5] = [
    BotState::Starting,
    BotState::Trading,
    BotState::Paused,
    BotState::Halted,
    BotState::Degraded,
];

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("unique metric");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let r = Registry::new();
        let reconciles = IntCounter::new("botfleet_operator_reconciles_total", "Reconciles run")
            .expect("valid metric");
        r.register(Box::new(reconciles.clone()))
            .expect("unique metric");
        let leader = IntGauge::new(
            "botfleet_operator_leader",
            "1 while this replica holds the leader Lease",
        )
        .expect("valid metric");
        r.register(Box::new(leader.clone())).expect("unique metric");
        let reconcile_duration = HistogramVec::new(
            HistogramOpts::new(
                "botfleet_operator_reconcile_duration_seconds",
                "Duration of one reconcile",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &[],
        )
        .expect("valid metric");
        r.register(Box::new(reconcile_duration.clone()))
            .expect("unique metric");
        let metrics = Self {
            reconciles,
            reconcile_errors: counter(
                &r,
                "botfleet_operator_reconcile_errors_total",
                "Failed reconciles by error kind",
                &["kind"],
            ),
            reconcile_duration,
            leader,
            engine_poll_failures: counter(
                &r,
                "botfleet_engine_poll_failures_total",
                "Engine /status polls that failed",
                &BOT,
            ),
            bot_phase: gauge(
                &r,
                "botfleet_bot_phase",
                "Effective phase: 0 Paper, 1 Sandbox, 2 LimitedReal, 3 Scaling",
                &BOT,
            ),
            bot_desired_phase: gauge(
                &r,
                "botfleet_bot_desired_phase",
                "Desired phase (spec.phase), same scale",
                &BOT,
            ),
            bot_state: gauge(
                &r,
                "botfleet_bot_state",
                "1 for the bot's current state",
                &["namespace", "bot", "state"],
            ),
            bot_equity: gauge(&r, "botfleet_bot_equity", "Equity in quote currency", &BOT),
            bot_drawdown: gauge(
                &r,
                "botfleet_bot_drawdown_percent",
                "Drawdown from the equity peak, %",
                &BOT,
            ),
            bot_drawdown_limit: gauge(
                &r,
                "botfleet_bot_drawdown_limit_percent",
                "Drawdown that halts the bot, %",
                &BOT,
            ),
            bot_capital: gauge(&r, "botfleet_bot_capital", "Capital allocated", &BOT),
            bot_halted: gauge(&r, "botfleet_bot_halted", "1 while the bot is halted", &BOT),
            bot_halt_unconfirmed: gauge(
                &r,
                "botfleet_bot_halt_unconfirmed",
                "1 while the bot is halted and its engine does not report that halt",
                &BOT,
            ),
            bot_gate_met: gauge(
                &r,
                "botfleet_bot_gate_criteria_met",
                "Criteria of the next gate that are met",
                &BOT,
            ),
            bot_gate_total: gauge(
                &r,
                "botfleet_bot_gate_criteria",
                "Criteria of the next gate",
                &BOT,
            ),
            bot_promotions: counter(&r, "botfleet_bot_promotions_total", "Promotions", &BOT),
            bot_halts: counter(&r, "botfleet_bot_halts_total", "Halts", &BOT),
            bot_capital_steps: counter(
                &r,
                "botfleet_bot_capital_steps_total",
                "Capital schedule steps",
                &["namespace", "bot", "direction"],
            ),
            registry: r,
        };
        // Every error kind exists at 0 from the start (a dashboard's rate()
        // shows "none" rather than "no data").
        for kind in crate::Error::KINDS {
            metrics.reconcile_errors.with_label_values(&[kind]);
        }
        metrics
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("exposition is UTF-8")
    }

    /// The registry, to add more collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one reconcile and measures it until the returned timer drops.
    pub fn count_and_measure(&self) -> prometheus::HistogramTimer {
        self.reconciles.inc();
        self.reconcile_duration
            .with_label_values(&[] as &[&str])
            .start_timer()
    }

    /// Counts a failed reconcile by the kind of its error.
    pub fn count_failure(&self, error: &Error) {
        self.reconcile_errors
            .with_label_values(&[error.kind()])
            .inc();
    }

    /// Sets the per-bot gauges from the status just written.
    pub fn export_bot(&self, bot: &TradingBot, status: &TradingBotStatus, policy: &RiskPolicySpec) {
        let view = BotView::new(bot, status, policy);
        self.set_bot(&bot.namespace().unwrap_or_default(), &bot.name_any(), &view);
    }

    /// Sets the per-bot gauges.
    pub fn set_bot(&self, ns: &str, bot: &str, view: &BotView) {
        let l = [ns, bot];
        let phase = |p: Phase| Phase::ALL.iter().position(|x| *x == p).unwrap_or(0) as f64;
        self.bot_phase.with_label_values(&l).set(phase(view.phase));
        self.bot_desired_phase
            .with_label_values(&l)
            .set(phase(view.desired));
        for s in STATES {
            let name = format!("{s:?}");
            self.bot_state
                .with_label_values(&[ns, bot, &name])
                .set(f64::from(u8::from(view.state == Some(s))));
        }
        set_opt(&self.bot_equity.with_label_values(&l), view.equity);
        set_opt(&self.bot_drawdown.with_label_values(&l), view.drawdown_pct);
        self.bot_drawdown_limit
            .with_label_values(&l)
            .set(view.drawdown_limit_pct);
        self.bot_capital.with_label_values(&l).set(view.capital);
        self.bot_halted
            .with_label_values(&l)
            .set(f64::from(u8::from(view.halted)));
        self.bot_halt_unconfirmed
            .with_label_values(&l)
            .set(f64::from(u8::from(view.halt_unconfirmed)));
        self.bot_gate_met
            .with_label_values(&l)
            .set(view.gate_met as f64);
        self.bot_gate_total
            .with_label_values(&l)
            .set(view.gate_total as f64);
        // Counters exist at 0 before their first event, so a dashboard's
        // `increase()` shows "none yet" rather than "no data".
        self.bot_promotions.with_label_values(&l);
        self.bot_halts.with_label_values(&l);
        self.engine_poll_failures.with_label_values(&l);
        for d in ["up", "down"] {
            self.bot_capital_steps.with_label_values(&[ns, bot, d]);
        }
    }

    /// Drops every per-bot series of a deleted bot.
    pub fn remove_bot(&self, ns: &str, bot: &str) {
        let l = [ns, bot];
        for g in [
            &self.bot_phase,
            &self.bot_desired_phase,
            &self.bot_equity,
            &self.bot_drawdown,
            &self.bot_drawdown_limit,
            &self.bot_capital,
            &self.bot_halted,
            &self.bot_halt_unconfirmed,
            &self.bot_gate_met,
            &self.bot_gate_total,
        ] {
            let _ = g.remove_label_values(&l);
        }
        for s in STATES {
            let _ = self
                .bot_state
                .remove_label_values(&[ns, bot, &format!("{s:?}")]);
        }
        for c in [
            &self.bot_promotions,
            &self.bot_halts,
            &self.engine_poll_failures,
        ] {
            let _ = c.remove_label_values(&l);
        }
        for d in ["up", "down"] {
            let _ = self.bot_capital_steps.remove_label_values(&[ns, bot, d]);
        }
    }
}

fn set_opt(g: &Gauge, v: Option<f64>) {
    if let Some(v) = v {
        g.set(v);
    }
}

/// What the per-bot gauges show.
#[derive(Clone, Debug, Default)]
pub struct BotView {
    /// Effective phase.
    pub phase: Phase,
    /// Desired phase.
    pub desired: Phase,
    /// State.
    pub state: Option<BotState>,
    /// Equity.
    pub equity: Option<f64>,
    /// Current drawdown, %.
    pub drawdown_pct: Option<f64>,
    /// Halting drawdown of the phase, %.
    pub drawdown_limit_pct: f64,
    /// Allocated capital.
    pub capital: f64,
    /// Halted.
    pub halted: bool,
    /// Halted, and the engine does not confirm it.
    pub halt_unconfirmed: bool,
    /// Gate criteria met.
    pub gate_met: usize,
    /// Gate criteria.
    pub gate_total: usize,
}

impl BotView {
    /// The view of a bot's status; the drawdown limit is the one in force.
    pub fn new(bot: &TradingBot, status: &TradingBotStatus, policy: &RiskPolicySpec) -> Self {
        let phase = status.phase.unwrap_or_default();
        let gate = status.gate.as_ref();
        Self {
            phase,
            desired: bot.spec.phase,
            state: status.state,
            equity: status.metrics.as_ref().map(|m| m.equity.to_f64()),
            drawdown_pct: status.metrics.as_ref().map(|m| m.drawdown_pct),
            drawdown_limit_pct: policy.effective_limits(phase).max_drawdown_pct.to_f64(),
            capital: status
                .capital
                .as_ref()
                .map_or(0.0, |c| c.allocated.to_f64()),
            halted: status.halt.is_some(),
            halt_unconfirmed: status.halt.is_some()
                && !status.condition_is(
                    botfleet_crds::condition_types::HALT_CONFIRMED,
                    botfleet_crds::ConditionStatus::True,
                    botfleet_crds::condition_reasons::ENGINE_CONFIRMED,
                ),
            gate_met: gate.map_or(0, |g| g.criteria.iter().filter(|c| c.met).count()),
            gate_total: gate.map_or(0, |g| g.criteria.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_series_are_exported_and_removed() {
        let m = Metrics::new();
        let view = BotView {
            phase: Phase::LimitedReal,
            state: Some(BotState::Halted),
            halted: true,
            capital: 250.0,
            ..Default::default()
        };
        m.set_bot("ns", "b", &view);
        let text = m.render();
        assert!(
            text.contains(r#"botfleet_bot_phase{bot="b",namespace="ns"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"botfleet_bot_state{bot="b",namespace="ns",state="Halted"} 1"#));
        assert!(text.contains(r#"botfleet_bot_halted{bot="b",namespace="ns"} 1"#));
        assert!(text.contains(
            r#"botfleet_bot_capital_steps_total{bot="b",direction="up",namespace="ns"} 0"#
        ));
        assert!(text.contains(r#"botfleet_bot_promotions_total{bot="b",namespace="ns"} 0"#));
        assert!(text.contains(r#"botfleet_operator_reconcile_errors_total{kind="kube"} 0"#));
        m.remove_bot("ns", "b");
        assert!(!m.render().contains(r#"bot="b""#));
    }
}

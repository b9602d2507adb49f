//! Turns what the engine did into one [`Step`] for
//! [`Store::commit_step`](crate::store::Store::commit_step):
//! candles, orders, order status changes, fills, the audit log (strategy
//! decisions, risk actions, control actions), equity points, positions, the
//! engine state and the engine snapshot — one transaction per step.

use serde_json::json;

use crate::binance::spot::ClientOrderIds;
use crate::domain::{OrderId, OrderStatus, Symbol};
use crate::engine::{AuditRecord, Engine, EngineEvent};
use crate::risk::RiskAction;
use crate::store::{
    EngineState, EquitySnapshot, HaltLatch, Pause, PhaseEvent, PositionRecord, Step, StepWrite,
};

/// Key of the engine snapshot in the store's engine_state.
pub const SNAPSHOT_KEY: &str = "engine_snapshot";
/// Key of the hash of the config the engine last ran with.
pub const CONFIG_HASH_KEY: &str = "config_hash";
/// Key of the trading hash the phase window runs under (`run::state`).
pub const TRADING_HASH_KEY: &str = "trading_hash";

/// Symbol of audit records about the whole account (halts, control actions).
pub const ACCOUNT: &str = "*";

/// The client order id a venue would know a paper order by.
pub fn client_order_id(id: OrderId) -> String {
    format!("paper-{}", id.0)
}

/// Collects one step's writes.
#[derive(Default)]
pub struct StepBuilder {
    step: Step,
    /// A fill happened: the positions snapshot is rewritten.
    positions_changed: bool,
    /// The venue's client order ids; `None`: paper ids.
    client_ids: Option<ClientOrderIds>,
}

impl StepBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A step whose orders are stored under `ids` (the client order ids the
    /// venue knows them by).
    pub fn with_client_ids(ids: Option<ClientOrderIds>) -> Self {
        Self {
            client_ids: ids,
            ..Self::default()
        }
    }

    fn client_order_id(&self, id: OrderId) -> String {
        match &self.client_ids {
            Some(ids) => ids.client_id(id),
            None => client_order_id(id),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.step.writes.is_empty()
    }

    pub fn candle(&mut self, symbol: &Symbol, candle: &crate::domain::Candle, warmup: bool) {
        self.step.writes.push(StepWrite::Candle {
            symbol: symbol.clone(),
            candle: *candle,
            warmup,
        });
    }

    /// The equity after a traded candle.
    pub fn equity(&mut self, at: i64, engine: &Engine) {
        self.step.equity.push(EquitySnapshot {
            at,
            equity: engine.ledger().equity(),
            cash: engine.ledger().cash(),
        });
    }

    /// The engine's events, in order. `now` stamps order status changes.
    pub fn events(&mut self, events: Vec<EngineEvent>, now: i64) {
        for event in events {
            match event {
                EngineEvent::Audit(d) => self.step.writes.push(StepWrite::Audit(d)),
                EngineEvent::OrderSubmitted { order } => {
                    let client_order_id = self.client_order_id(order.id);
                    self.step.writes.push(StepWrite::Order {
                        request: order,
                        client_order_id,
                    });
                }
                EngineEvent::OrderRejected { order, reason } => {
                    let (id, at) = (order.id, order.created_at);
                    let client_order_id = self.client_order_id(order.id);
                    self.step.writes.push(StepWrite::Order {
                        request: order,
                        client_order_id,
                    });
                    self.step.writes.push(StepWrite::OrderStatus {
                        id,
                        status: OrderStatus::Rejected,
                        reason: Some(reason),
                        at,
                    });
                }
                EngineEvent::OrderClosed {
                    id, status, reason, ..
                } => {
                    // Filled and partially filled follow from the fills.
                    if matches!(
                        status,
                        OrderStatus::Canceled | OrderStatus::Rejected | OrderStatus::Expired
                    ) {
                        self.step.writes.push(StepWrite::OrderStatus {
                            id,
                            status,
                            reason: (!reason.is_empty()).then_some(reason),
                            at: now,
                        });
                    }
                }
                EngineEvent::Fill(fill) => {
                    self.positions_changed = true;
                    self.step.writes.push(StepWrite::Fill(fill));
                }
                EngineEvent::Risk(action) => self
                    .step
                    .writes
                    .push(StepWrite::Audit(risk_record(&action))),
            }
        }
    }

    /// A control action (halt, resume, cancel-all) for the audit log.
    pub fn control(&mut self, at: i64, verdict: &str, reason: serde_json::Value) {
        self.step.writes.push(StepWrite::Audit(AuditRecord {
            at,
            symbol: Symbol::new(ACCOUNT),
            signal: "control".into(),
            verdict: verdict.into(),
            reason,
        }));
    }

    pub fn phase_event(&mut self, event: PhaseEvent) {
        self.step.writes.push(StepWrite::PhaseEvent(event));
    }

    /// Forces the positions snapshot to be written (first commit).
    pub fn positions_changed(&mut self) {
        self.positions_changed = true;
    }

    /// The step, with the engine's state and snapshot after it. Call after
    /// `engine.forget_closed_orders()`.
    /// `last_candle`: open time of the newest candle consumed, if any.
    pub fn finish(
        mut self,
        engine: &Engine,
        now: i64,
        last_candle: Option<i64>,
    ) -> anyhow::Result<Step> {
        if self.positions_changed {
            self.step.positions = Some(positions(engine));
        }
        let risk = engine.risk();
        self.step.state = Some(EngineState {
            next_order_id: engine.next_order_id(),
            halt: risk.halted().map(|h| HaltLatch {
                id: h.id.clone(),
                reason: h.reason.clone(),
                at: h.at,
            }),
            pause: risk.pause(now).map(|p| Pause {
                reason: p.reason.clone(),
                until: p.until,
            }),
            phase: Some(engine.config().phase.as_str().to_string()),
            phase_started_at: Some(engine.performance().window().start_time()),
            last_candle_time: last_candle,
        });
        let snapshot = serde_json::to_value(engine.snapshot())?;
        self.step.values.push((SNAPSHOT_KEY.into(), snapshot));
        self.step
            .values
            .push((CONFIG_HASH_KEY.into(), json!(engine.config().config_hash)));
        self.step
            .values
            .push((TRADING_HASH_KEY.into(), json!(engine.config().trading_hash)));
        Ok(self.step)
    }
}

/// A risk action as an audit record: `signal = risk`, `verdict` = what it did.
fn risk_record(action: &RiskAction) -> AuditRecord {
    let (at, symbol, verdict) = match action {
        RiskAction::Exit(e) => (e.at, e.symbol.clone(), "exit"),
        RiskAction::Pause(p) => (p.since, Symbol::new(ACCOUNT), "pause"),
        RiskAction::Halt(h) => (h.at, Symbol::new(ACCOUNT), "halt"),
    };
    AuditRecord {
        at,
        symbol,
        signal: "risk".into(),
        verdict: verdict.into(),
        reason: serde_json::to_value(action).unwrap_or_default(),
    }
}

/// The open positions as the store's snapshot rows.
fn positions(engine: &Engine) -> Vec<PositionRecord> {
    let ledger = engine.ledger();
    let at = engine.last_time();
    ledger
        .positions()
        .filter(|p| !p.is_flat())
        .map(|p| PositionRecord {
            symbol: p.symbol().clone(),
            quantity: p.quantity(),
            average_price: p.avg_entry_price().unwrap_or_default(),
            realized_pnl: ledger
                .closed_trades()
                .iter()
                .filter(|t| t.symbol == *p.symbol())
                .map(|t| t.pnl)
                .sum(),
            updated_at: at,
        })
        .collect()
}

//! [`Engine::on_candle`] and the control operations (halt, resume, cancel-all).

use super::{AuditRecord, CandleAhead, Engine, EngineError, EngineEvent, EventLog, Execution};
use crate::domain::{Candle, OrderKind, OrderRequest, Quantity, Side, Symbol, float_view};
use crate::execution::OrderState;
use crate::indicators::{Hlc, Indicator};
use crate::risk::{ExitOrder, Halt, ResumeError, RiskAction, RiskActions, RiskEngine, Verdict};
use crate::strategy::{Advice, DecisionContext, Signal};
use botfleet_crds::HaltAction;
use rust_decimal::Decimal;

impl Engine {
    /// One closed candle of the symbol at `index` ([`Engine::symbol_index`]).
    /// Candles of a symbol must come in time order.
    pub fn on_candle(&mut self, index: usize, candle: &Candle) -> Result<(), EngineError> {
        self.step(index, candle, None)
    }

    /// [`Engine::on_candle`], with the candle's risk read and the strategy's
    /// advice either worked out here or read ahead (see `ahead.rs`).
    pub(super) fn step(
        &mut self,
        index: usize,
        candle: &Candle,
        ahead: Option<CandleAhead>,
    ) -> Result<(), EngineError> {
        if ahead.is_none() && self.markets[index].lent {
            return Err(EngineError::StrategyLent(
                self.markets[index].symbol.clone(),
            ));
        }
        let (read_ahead, advice_ahead) = match ahead {
            Some(a) => (Some(a.read), Some(a.advice)),
            None => (None, None),
        };
        let now = candle.open_time;
        self.last_time = now;

        // 1. Fills of orders placed on earlier candles. A venue reports its
        // fills through `on_venue_order` instead.
        if let Execution::Paper(_) = self.execution {
            self.paper_fills(index, candle)?;
        }

        // 2-4. Mark, risk, equity. With statistics kept, the equity's float
        // view is worked out once for them and the risk limits (risk actions
        // send or cancel orders; none moves the equity before the statistics
        // read it); without, the risk engine works it out when it needs it.
        let market = &mut self.markets[index];
        self.ledger.mark(&market.symbol, candle.close);
        let equity = self.ledger.equity();
        let equity_f = self.candle_statistics.then(|| float_view(equity.value()));
        let read = match (&read_ahead, market.reads.as_mut()) {
            (Some(read), _) => Some(read),
            (None, Some((reads, next))) => {
                let read = reads.get(*next, candle.open_time);
                *next += 1;
                read
            }
            (None, None) => None,
        };
        let actions = match read {
            Some(read) => {
                self.risk
                    .tick(&market.symbol, candle, Some(read), &self.ledger, equity_f)
            }
            None => {
                // Off the shared reads (or never on them): read it here.
                market.reads = None;
                self.risk
                    .tick(&market.symbol, candle, None, &self.ledger, equity_f)
            }
        };
        if !actions.is_empty() {
            self.apply_risk_actions(actions);
        }
        if let Some(equity_f) = equity_f {
            debug_assert_eq!(equity, self.ledger.equity());
            self.perf
                .on_viewed_candle(now, equity, equity_f, self.ledger.has_position());
        }
        if self.owes_capital {
            // A cut of the allocation not yet moved out: what has freed up goes.
            self.apply_allocation(now)?;
        }

        // 5. Strategy (always fed) and entries/exits.
        let market = &mut self.markets[index];
        if let Some(atr) = market.atr.as_mut() {
            market.atr_value = atr.update(Hlc::from(candle));
        }
        let advice = if let Some(advice) = advice_ahead {
            // Read ahead: only advice to act was kept.
            match advice {
                Some(advice) => *advice,
                None => return Ok(()),
            }
        } else if market.uses_llm {
            let context = self.decision_context(index);
            let market = &mut self.markets[index];
            market.strategy.observe(&context);
            let advice = market.strategy.on_candle(candle);
            self.audit_llm_exchanges(index);
            advice
        } else {
            market.strategy.on_candle(candle)
        };
        if advice.signal == Signal::Hold {
            return Ok(());
        }
        if let Some(halt) = self.risk.halted() {
            // Halted: the signal is only written down, with why nothing happens.
            let symbol = &self.markets[index].symbol;
            self.log.record(|| {
                let risk = serde_json::json!({
                    "limit": "halted",
                    "message": format!("halted ({}, id {}): no trading until resumed", halt.reason, halt.id),
                });
                EngineEvent::Audit(AuditRecord {
                    at: now,
                    symbol: symbol.clone(),
                    signal: advice.signal.as_str().to_string(),
                    verdict: "refused".to_string(),
                    reason: serde_json::json!({ "strategy": advice.reason.to_string(), "risk": risk }),
                })
            });
            return Ok(());
        }
        self.counters.signals += 1;
        match advice.signal {
            Signal::Buy => self.enter(index, candle, &advice),
            Signal::Sell => {
                let symbol = self.markets[index].symbol.clone();
                self.exit_on_signal(&symbol, now, &advice)
            }
            Signal::Hold => {}
        }
        Ok(())
    }

    /// What a strategy may know of the bot before deciding (a model is shown it).
    fn decision_context(&self, index: usize) -> DecisionContext {
        let symbol = &self.markets[index].symbol;
        let position = self.ledger.position(symbol).filter(|p| !p.is_flat());
        let limits = self.risk.limits();
        DecisionContext {
            symbol: symbol.to_string(),
            position_quantity: position.map_or(Decimal::ZERO, |p| p.quantity().value()),
            avg_entry_price: position
                .and_then(|p| p.avg_entry_price())
                .map(|p| p.value()),
            cash: self.ledger.cash().value(),
            equity: self.ledger.equity().value(),
            max_position_pct: limits.max_position_pct.value(),
            max_position: limits.max_position.map(|a| a.value()),
            stop_loss_pct: limits.stop_loss_pct.value(),
            halted: self.risk.halted().is_some(),
        }
    }

    /// Every prompt and reply of the model members goes to the audit log.
    fn audit_llm_exchanges(&mut self, index: usize) {
        for x in self.config.llm.take_exchanges() {
            let symbol = &self.markets[index].symbol;
            self.log.record(|| {
                EngineEvent::Audit(AuditRecord {
                    at: x.at,
                    symbol: symbol.clone(),
                    signal: x
                        .vote
                        .as_ref()
                        .map_or("abstain", |v| v.signal.as_str())
                        .to_string(),
                    verdict: "llm".to_string(),
                    reason: serde_json::to_value(&x).unwrap_or_default(),
                })
            });
        }
    }

    fn paper_fills(&mut self, index: usize, candle: &Candle) -> Result<(), EngineError> {
        let Execution::Paper(broker) = &mut self.execution else {
            return Ok(());
        };
        // The symbol is borrowed field by field: cloning it per candle costs
        // an allocation.
        broker.on_candle(&self.markets[index].symbol, candle, &mut self.report);
        if self.report.is_empty() {
            // Most candles: no order was open.
            return Ok(());
        }
        let mut report = std::mem::take(&mut self.report);
        for fill in report.fills.drain(..) {
            self.apply_fill(fill)?;
        }
        for id in report.closed.drain(..) {
            // Read in place: a sweep closes thousands of orders per set, and
            // a clone of each would be thrown away unless a log keeps it.
            let Execution::Paper(broker) = &self.execution else {
                break;
            };
            if let Some(order) = broker.order(id) {
                close_order(&mut self.risk, &mut self.log, order);
            }
        }
        self.report = report;
        Ok(())
    }

    pub(crate) fn apply_fill(&mut self, fill: crate::domain::Fill) -> Result<(), EngineError> {
        let outcome = self.ledger.apply_fill(&fill)?;
        if let Some(trade) = outcome.closed_trade() {
            self.perf.record_trade(trade);
            self.risk.on_trade_closed(trade);
        }
        self.log.record(|| EngineEvent::Fill(fill));
        Ok(())
    }

    pub(crate) fn order_closed(&mut self, order: OrderState) {
        close_order(&mut self.risk, &mut self.log, &order);
    }

    fn has_open_order(&self, symbol: &Symbol) -> bool {
        self.any_open_order(|o| o.symbol == *symbol)
    }

    fn enter(&mut self, index: usize, candle: &Candle, advice: &Advice) {
        let symbol = self.markets[index].symbol.clone();
        let now = candle.open_time;
        let holding = self.ledger.position(&symbol).is_some_and(|p| !p.is_flat());
        if holding || self.has_open_order(&symbol) {
            // Already long (or about to be): Buy means "be long", nothing to add.
            return;
        }
        let atr = self.markets[index].atr_value;
        let verdict = self
            .risk
            .check_entry(now, &symbol, candle.close, &self.ledger, atr);
        match &verdict {
            Verdict::Approve(a) => {
                let reason =
                    self.order_reason(|| format!("{} ({})", advice.reason, a.sizing.explanation));
                self.submit(symbol.clone(), Side::Buy, a.quantity, now, reason);
            }
            Verdict::Refuse(r) => {
                *self.counters.refusals.entry(r.limit.as_str()).or_default() += 1;
            }
        }
        self.log
            .record(|| audit_entry(now, &symbol, advice, &verdict));
    }

    fn exit_on_signal(&mut self, symbol: &Symbol, now: i64, advice: &Advice) {
        let held = self
            .ledger
            .position(symbol)
            .map_or(Quantity::ZERO, |p| p.quantity());
        let quantity = self.risk.exit_quantity(symbol, held, &self.ledger);
        if quantity.is_zero() || self.has_open_sell(symbol) {
            return;
        }
        let reason = self.order_reason(|| advice.reason.to_string());
        self.submit(symbol.clone(), Side::Sell, quantity, now, reason);
        self.log.record(|| {
            EngineEvent::Audit(AuditRecord {
                at: now,
                symbol: symbol.clone(),
                signal: advice.signal.as_str().to_string(),
                verdict: "exit".to_string(),
                reason: serde_json::json!({ "strategy": advice.reason.to_string() }),
            })
        });
    }

    /// An order's reason: only a log or a venue reads it, so a backtest on
    /// paper without a log skips the formatting.
    fn order_reason(&self, words: impl FnOnce() -> String) -> String {
        if self.log.keeps() || !matches!(self.execution, Execution::Paper(_)) {
            words()
        } else {
            String::new()
        }
    }

    fn has_open_sell(&self, symbol: &Symbol) -> bool {
        self.any_open_order(|o| o.symbol == *symbol && o.side == Side::Sell)
    }

    /// Sends a market order to the broker; a refusal is counted and logged.
    fn submit(&mut self, symbol: Symbol, side: Side, quantity: Quantity, now: i64, reason: String) {
        let quantity = self.venue_quantity(&symbol, quantity);
        if quantity.is_zero() {
            // Below the venue's lot step: nothing the venue would take.
            return;
        }
        let order = OrderRequest {
            id: self.allocate_order_id(),
            symbol,
            side,
            kind: OrderKind::Market,
            quantity,
            reason,
            created_at: now,
        };
        self.counters.orders += 1;
        let broker = match &mut self.execution {
            Execution::Paper(broker) => broker,
            Execution::Venue { orders, .. } => {
                // Accepted or refused later, when the venue answers.
                orders.queue(&order);
                self.log.record(|| EngineEvent::OrderSubmitted { order });
                return;
            }
        };
        match broker.submit(order.clone()) {
            Ok(_) => {
                self.perf.record_order(true);
                self.log.record(|| EngineEvent::OrderSubmitted { order });
            }
            Err(rejection) => {
                self.perf.record_order(false);
                self.counters.order_errors += 1;
                if side == Side::Sell {
                    self.risk.exit_failed(&order.symbol);
                }
                self.log.record(|| EngineEvent::OrderRejected {
                    order,
                    reason: rejection.to_string(),
                });
            }
        }
    }

    fn apply_risk_actions(&mut self, actions: RiskActions) {
        for action in actions {
            match &action {
                RiskAction::Exit(exit) => {
                    *self
                        .counters
                        .forced_exits
                        .entry(exit.reason.limit().as_str())
                        .or_default() += 1;
                    self.send_exit(exit);
                }
                RiskAction::Pause(p) => {
                    *self.counters.pauses.entry(p.limit.as_str()).or_default() += 1;
                }
                RiskAction::Halt(h) => {
                    let h = h.clone();
                    self.log.record(|| EngineEvent::Risk(action.clone()));
                    self.on_halt(h);
                    continue;
                }
            }
            self.log.record(|| EngineEvent::Risk(action));
        }
    }

    pub(crate) fn send_exit(&mut self, exit: &ExitOrder) {
        if self.has_open_sell(&exit.symbol) {
            return;
        }
        let quantity = self
            .risk
            .exit_quantity(&exit.symbol, exit.quantity, &self.ledger);
        if quantity > Quantity::ZERO {
            self.submit(
                exit.symbol.clone(),
                Side::Sell,
                quantity,
                exit.at,
                exit.message.clone(),
            );
        }
    }

    /// A halt latched (by a limit or by hand): cancel every open order, and
    /// with `onHalt.action: flatten` close every position. Done once per halt.
    fn on_halt(&mut self, halt: Halt) {
        if self.handled_halt.as_deref() == Some(halt.id.as_str()) {
            return;
        }
        self.handled_halt = Some(halt.id.clone());
        self.cancel_all();
        if halt.action == HaltAction::Flatten {
            for exit in self.risk.flatten(halt.at, &self.ledger) {
                *self
                    .counters
                    .forced_exits
                    .entry(exit.reason.limit().as_str())
                    .or_default() += 1;
                self.send_exit(&exit);
            }
        }
        self.counters.halts.push(halt);
    }

    /// Manual halt (kill switch, `POST /v1/halt`). `flatten` overrides the
    /// policy's action for this halt. Returns the latch (the existing one if
    /// already halted).
    pub fn halt(&mut self, now: i64, reason: &str, flatten: bool) -> Halt {
        let mut halt = self.risk.halt(now, reason);
        if flatten {
            halt.action = HaltAction::Flatten;
        }
        self.on_halt(halt.clone());
        halt
    }

    /// Clears the halt latch if `halt_id` is the current halt's id.
    pub fn resume(&mut self, halt_id: &str) -> Result<Halt, ResumeError> {
        let halt = self.risk.resume(halt_id)?;
        self.handled_halt = None;
        Ok(halt)
    }

    /// Cancels every open order; returns how many. Routed to a venue, the
    /// cancels are queued and each order closes when the venue confirms.
    pub fn cancel_all(&mut self) -> usize {
        let canceled = match &mut self.execution {
            Execution::Paper(broker) => broker.cancel_all(None),
            Execution::Venue { orders, .. } => return orders.queue_cancels(),
        };
        let n = canceled.len();
        for order in canceled {
            self.order_closed(order);
        }
        n
    }
}

/// What an order leaving the book means for the risk engine, and its log line.
fn close_order(risk: &mut RiskEngine, log: &mut EventLog, order: &OrderState) {
    if order.side == Side::Sell && order.remaining() > Quantity::ZERO {
        // An exit that did not complete: the stops may fire again.
        risk.exit_failed(&order.symbol);
    }
    log.record(|| EngineEvent::OrderClosed {
        id: order.id,
        symbol: order.symbol.clone(),
        status: order.status,
        reason: order.note.clone().unwrap_or_default(),
    });
}

/// The audit entry of an entry signal: the risk engine's verdict and why.
fn audit_entry(now: i64, symbol: &Symbol, advice: &Advice, verdict: &Verdict) -> EngineEvent {
    let (word, risk) = match verdict {
        Verdict::Approve(a) => ("accepted", serde_json::to_value(a).unwrap_or_default()),
        Verdict::Refuse(r) => ("refused", serde_json::to_value(r).unwrap_or_default()),
    };
    EngineEvent::Audit(AuditRecord {
        at: now,
        symbol: symbol.clone(),
        signal: advice.signal.as_str().to_string(),
        verdict: word.to_string(),
        reason: serde_json::json!({
            "strategy": advice.reason.to_string(),
            "confidence": advice.confidence,
            "risk": risk,
        }),
    })
}

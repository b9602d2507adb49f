//! Persisting and restoring an engine (a live bot's restart).
//!
//! An engine's state comes back from three sources, each exact:
//! - the **ledger** by replaying every stored fill into a fresh ledger with
//!   the snapshot's starting cash (fills are idempotent by trade id), and
//!   the snapshot's capital transfers each after as many fills as it
//!   followed when recorded;
//! - the **strategies and ATRs** by feeding them every stored candle again
//!   (indicators such as an EMA depend on the whole history; strategies are
//!   pure functions of their candles, so the state comes back bit for bit);
//! - everything else — the paper broker (open orders, cash, fill counters),
//!   the risk engine's memory, the performance statistics, counters, the
//!   next order id — from an [`EngineSnapshot`] the caller stores in the same
//!   transaction as the step's orders and fills, so the three always agree.
//!
//! [`Engine::restore`] cross-checks them (the replayed ledger's cash and
//! positions must equal the broker's) and refuses to trade on a mismatch.
//! Not restored: the risk engine's flash-crash price window (it refills
//! within `windowMinutes`, see `risk::state`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, EventMode, Execution, RiskCounters, VenueOrders, risk_config};
use crate::config::EngineConfig;
use crate::domain::{Candle, Fill, Money, Symbol};
use crate::execution::PaperBroker;
use crate::indicators::{Hlc, Indicator};
use crate::ledger::{Ledger, Transfer};
use crate::performance::{EquityCurve, Performance};
use crate::risk::{Halt, Limit, RiskEngine, RiskState};

/// Version of [`EngineSnapshot`]; a snapshot of another version is refused.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The part of an engine's state that is neither in the fills nor in the
/// candles (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineSnapshot {
    pub version: u32,
    /// The ledger's starting cash: replayed fills start from it.
    pub starting_cash: Money,
    pub next_order_id: u64,
    pub handled_halt: Option<String>,
    /// Open time of the last candle processed.
    pub last_time: i64,
    /// Open orders, cash and holdings (closed orders are forgotten). Unused
    /// (and empty) once the engine routes to a venue.
    pub broker: PaperBroker,
    /// Routed to a venue: the orders open there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<VenueOrders>,
    pub risk: RiskState,
    pub performance: Performance,
    pub counters: CounterSnapshot,
    /// The ledger's cash after the step: the replayed fills must give it.
    pub cash: Money,
    /// Round trips closed so far: the replayed fills must give as many.
    pub closed_trades: u64,
    /// Capital transfers, oldest first (`engine::allocation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
}

/// [`RiskCounters`] with owned keys (the limit names).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    pub refusals: BTreeMap<String, u64>,
    pub forced_exits: BTreeMap<String, u64>,
    pub pauses: BTreeMap<String, u64>,
    pub halts: Vec<Halt>,
    pub orders: u64,
    pub order_errors: u64,
    pub signals: u64,
}

impl From<&RiskCounters> for CounterSnapshot {
    fn from(c: &RiskCounters) -> Self {
        let owned = |m: &BTreeMap<&'static str, u64>| {
            m.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
        };
        Self {
            refusals: owned(&c.refusals),
            forced_exits: owned(&c.forced_exits),
            pauses: owned(&c.pauses),
            halts: c.halts.clone(),
            orders: c.orders,
            order_errors: c.order_errors,
            signals: c.signals,
        }
    }
}

impl From<CounterSnapshot> for RiskCounters {
    fn from(c: CounterSnapshot) -> Self {
        // Keys are `Limit` names; map them back to the static names.
        let keyed = |m: BTreeMap<String, u64>| {
            m.into_iter()
                .filter_map(|(k, v)| {
                    let limit: Limit = serde_json::from_value(serde_json::Value::String(k)).ok()?;
                    Some((limit.as_str(), v))
                })
                .collect()
        };
        Self {
            refusals: keyed(c.refusals),
            forced_exits: keyed(c.forced_exits),
            pauses: keyed(c.pauses),
            halts: c.halts,
            orders: c.orders,
            order_errors: c.order_errors,
            signals: c.signals,
        }
    }
}

impl Engine {
    /// The state to persist with the step just taken. Call
    /// [`Engine::forget_closed_orders`] first so it stays small.
    pub fn snapshot(&self) -> EngineSnapshot {
        let (broker, venue) = match &self.execution {
            Execution::Paper(broker) => (broker.clone(), None),
            Execution::Venue { orders, parked } => (parked.clone(), Some(orders.clone())),
        };
        EngineSnapshot {
            version: SNAPSHOT_VERSION,
            starting_cash: self.ledger.starting_cash(),
            next_order_id: self.next_order_id,
            handled_halt: self.handled_halt.clone(),
            last_time: self.last_time,
            broker,
            venue,
            risk: self.risk.state().clone(),
            performance: self.perf.clone(),
            counters: CounterSnapshot::from(&self.counters),
            cash: self.ledger.cash(),
            closed_trades: self.ledger.closed_trades().len() as u64,
            transfers: self.ledger.transfers().to_vec(),
        }
    }

    /// Rebuilds an engine for `config` from a snapshot, every stored fill (in
    /// recorded order) and every stored candle (in time order). The config
    /// may differ from the one the snapshot was taken under (an edited risk
    /// policy or strategy applies from now on; a different phase is for the
    /// caller to start with [`Engine::start_phase`]).
    pub fn restore(
        config: EngineConfig,
        snapshot: EngineSnapshot,
        fills: &[Fill],
        history: impl IntoIterator<Item = (Symbol, Candle)>,
    ) -> Result<Engine, EngineError> {
        let bad = |m: String| Err(EngineError::Restore(m));
        if snapshot.version != SNAPSHOT_VERSION {
            return bad(format!(
                "the stored engine snapshot is version {}, this engine reads version {SNAPSHOT_VERSION}",
                snapshot.version
            ));
        }
        let paper = snapshot.broker.config().clone();
        let mut engine = Engine::new(
            config,
            paper,
            EquityCurve::bounded(0),
            snapshot.last_time,
            EventMode::Record,
        )?;
        let mut ledger = Ledger::new(snapshot.starting_cash)?;
        let mut transfers = snapshot.transfers.iter().peekable();
        for fill in fills {
            let applied = ledger.fills_applied();
            while let Some(t) = transfers.next_if(|t| t.after_fills <= applied) {
                ledger.replay_transfer(t)?;
            }
            // The store keeps one row per trade id: nothing is applied twice.
            let _ = ledger.apply_fill(fill)?;
        }
        for t in transfers {
            ledger.replay_transfer(t)?;
        }
        for symbol in engine.config.symbols.clone() {
            if let Some(price) = snapshot.broker.last_price(&symbol) {
                ledger.mark(&symbol, price);
            }
        }
        // Positions of symbols the bot no longer trades keep their last fill price.
        if ledger.cash() != snapshot.cash {
            return bad(format!(
                "the stored fills give cash {} but the engine snapshot says {}: the store is inconsistent",
                ledger.cash(),
                snapshot.cash
            ));
        }
        if ledger.closed_trades().len() as u64 != snapshot.closed_trades {
            return bad(format!(
                "the stored fills close {} round trips but the engine snapshot counts {}: the store is inconsistent",
                ledger.closed_trades().len(),
                snapshot.closed_trades
            ));
        }
        // Routed to a venue, the paper broker stopped at the switch: the venue
        // is checked against the ledger by restart reconciliation instead.
        let paper = snapshot.venue.is_none();
        for p in ledger.positions().filter(|_| paper) {
            let held = snapshot.broker.holding(p.symbol());
            if held != p.quantity() {
                return bad(format!(
                    "the stored fills hold {} {} but the paper broker holds {held}: the store is inconsistent",
                    p.quantity(),
                    p.symbol()
                ));
            }
        }
        if paper && snapshot.broker.cash() != ledger.cash() {
            return bad(format!(
                "the paper broker holds cash {} but the stored fills give {}: the store is inconsistent",
                snapshot.broker.cash(),
                ledger.cash()
            ));
        }
        engine.risk = RiskEngine::restore(risk_config(&engine.config), snapshot.risk)?;
        if !engine.risk.is_rebased() && ledger.contributed() != engine.config.capital {
            // The config's capital changed and its transfer is not recorded
            // yet: the loss limits count from the capital the book holds.
            engine.risk.set_capital_base(ledger.contributed());
        }
        engine.owes_capital = !ledger.owed_out().is_zero();
        engine.ledger = ledger;
        engine.execution = match snapshot.venue {
            Some(orders) => Execution::Venue {
                orders,
                parked: snapshot.broker,
            },
            None => Execution::Paper(snapshot.broker),
        };
        engine.perf = snapshot.performance;
        engine.counters = snapshot.counters.into();
        engine.next_order_id = snapshot.next_order_id.max(engine.next_order_id);
        engine.handled_halt = snapshot.handled_halt;
        engine.last_time = snapshot.last_time;
        for (symbol, candle) in history {
            if let Some(index) = engine.symbol_index(&symbol) {
                engine.warm(index, &candle);
            }
        }
        Ok(engine)
    }

    /// Feeds a candle to the strategy and ATR of the symbol at `index` only:
    /// history before the bot trades (a live feed's warm-up), or the stored
    /// candles on a restore. No order, no fill, no risk check. Panics while
    /// the symbol's strategy is lent to a reader ahead ([`Engine::read_ahead`]).
    pub fn warm(&mut self, index: usize, candle: &Candle) {
        let market = &mut self.markets[index];
        assert!(
            !market.lent,
            "{}: warming a strategy lent to a reader ahead",
            market.symbol
        );
        if let Some(atr) = market.atr.as_mut() {
            market.atr_value = atr.update(Hlc::from(candle));
        }
        market.strategy.warm(candle);
    }

    /// A new phase window starts at `now` for the config's phase: the risk
    /// engine takes that phase's limits and restarts its equity peak, the
    /// performance window restarts from the current equity.
    pub fn start_phase(&mut self, now: i64) -> Result<(), EngineError> {
        let equity = self.ledger.equity();
        self.risk
            .start_phase(risk_config(&self.config), now, equity)?;
        if self.ledger.contributed() != self.config.capital {
            // Capital still owed out is in the book: the loss counts from it.
            self.risk.set_capital_base(self.ledger.contributed());
        }
        self.perf.start_window(self.config.phase.as_str(), now);
        Ok(())
    }

    /// A new measurement window starts at `now` in the same phase (what
    /// trades changed): the gates measure anew, while the risk engine's
    /// peak, loss bases and streak go on, so an edit never resets a limit.
    pub fn start_window(&mut self, now: i64) {
        self.perf.start_window(self.config.phase.as_str(), now);
    }

    /// Like [`Engine::halt`], but a new halt is named `id` (the operator's
    /// halt id, so both sides name it alike). Already halted: the existing
    /// halt and its id stay.
    pub fn halt_with_id(
        &mut self,
        now: i64,
        reason: &str,
        flatten: bool,
        id: Option<&str>,
    ) -> Result<Halt, EngineError> {
        if let Some(id) = id.filter(|id| !id.is_empty())
            && self.risk.halted().is_none()
        {
            self.risk.halt(now, reason);
            // The risk engine names its halts itself; rename the fresh latch
            // through its persisted form (the only way in from outside it).
            let mut state =
                serde_json::to_value(self.risk.state()).map_err(EngineError::NamingHalt)?;
            state["halt"]["id"] = serde_json::Value::String(id.to_string());
            let state: RiskState =
                serde_json::from_value(state).map_err(EngineError::NamingHalt)?;
            self.risk = RiskEngine::restore(self.risk.config().clone(), state)?;
        }
        Ok(self.halt(now, reason, flatten))
    }

    /// Forgets the broker's closed orders (see `PaperBroker::forget_closed`);
    /// call after each persisted step.
    pub fn forget_closed_orders(&mut self) -> usize {
        match &mut self.execution {
            Execution::Paper(broker) | Execution::Venue { parked: broker, .. } => {
                broker.forget_closed()
            }
        }
    }

    /// The next order id the engine will hand out.
    pub fn next_order_id(&self) -> u64 {
        self.next_order_id
    }

    /// Open time of the last candle processed (the engine's clock).
    pub fn last_time(&self) -> i64 {
        self.last_time
    }

    /// Orders still open (on the paper broker's book, or at the venue).
    pub fn open_order_count(&self) -> usize {
        match &self.execution {
            Execution::Venue { orders, .. } => orders.open.len(),
            Execution::Paper(broker) => broker.open_orders().count(),
        }
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;

//! The engine: composes strategy, risk, broker, ledger and performance into
//! one per-candle step. The same [`Engine`] drives a backtest and a live
//! paper bot; only the candle source and what happens to [`EngineEvent`]s
//! differ (a backtest counts them, a live bot persists them).
//!
//! Per closed candle of a symbol ([`Engine::on_candle`]):
//! 1. the broker fills orders placed on earlier candles; each fill goes to
//!    the ledger (idempotent), closed round trips to performance and risk;
//! 2. the ledger is marked at the close;
//! 3. the risk engine checks stops, the flash-crash breaker and the account
//!    limits: exits are sent, pauses recorded, a halt cancels (or flattens);
//! 4. performance records the equity;
//! 5. the strategy sees the candle (always, so indicators stay warm); unless
//!    halted, a Buy asks the risk engine for a size, a Sell exits.

mod events;
mod snapshot;
mod step;
mod venue_routing;

pub use events::{AuditRecord, EngineEvent, RiskCounters};
pub use snapshot::{CounterSnapshot, EngineSnapshot, SNAPSHOT_VERSION};
pub use venue_routing::{VenueCommand, VenueOrders};

use std::collections::HashMap;

use crate::config::EngineConfig;
use crate::domain::{Money, OrderId, Symbol};
use crate::execution::{ExecutionReport, PaperBroker, PaperConfig};
use crate::indicators::Atr;
use crate::ledger::Ledger;
use crate::performance::{EquityCurve, Performance};
use crate::risk::{RiskConfig, RiskEngine};
use crate::strategy::{Strategy, StrategyBlueprint};

/// Why the engine cannot go on. Each message names what broke.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("strategy: {0}")]
    Strategy(String),
    #[error("risk policy: {0}")]
    Risk(String),
    #[error("paper broker: {0}")]
    Broker(String),
    #[error("ledger refused a fill (the books and the broker disagree): {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("candle for {0}, which the bot does not trade")]
    UnknownSymbol(Symbol),
    #[error("restoring the engine: {0}")]
    Restore(String),
}

/// One traded symbol: its own strategy instance and ATR.
pub(crate) struct Market {
    pub symbol: Symbol,
    pub strategy: Box<dyn Strategy>,
    pub atr: Option<Atr>,
    pub atr_value: Option<f64>,
}

/// How much the engine writes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventMode {
    /// Count only (backtests: the report needs counts, not a log).
    CountOnly,
    /// Keep every event for the caller to drain (live: persisted to the store).
    Record,
}

pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) markets: Vec<Market>,
    pub(crate) index: HashMap<Symbol, usize>,
    pub(crate) risk: RiskEngine,
    pub(crate) broker: PaperBroker,
    /// `Some`: orders go to a real venue, not to `broker` (see `venue_routing`).
    pub(crate) venue: Option<VenueOrders>,
    pub(crate) ledger: Ledger,
    pub(crate) perf: Performance,
    pub(crate) next_order_id: u64,
    pub(crate) report: ExecutionReport,
    pub(crate) events: Vec<EngineEvent>,
    pub(crate) mode: EventMode,
    pub(crate) counters: RiskCounters,
    /// The halt the engine already acted on (cancel/flatten happen once).
    pub(crate) handled_halt: Option<String>,
    pub(crate) last_time: i64,
}

impl Engine {
    /// A fresh engine for `config`, starting at `start_time` with the bot's capital in cash.
    pub fn new(
        config: EngineConfig,
        paper: PaperConfig,
        curve: EquityCurve,
        start_time: i64,
        mode: EventMode,
    ) -> Result<Self, EngineError> {
        let capital = config.capital;
        let lookup = |name: &str| config.strategies.get(name).cloned();
        let blueprint =
            StrategyBlueprint::resolve(&config.strategy_name, &config.strategy, &lookup)
                .map_err(|e| EngineError::Strategy(e.to_string()))?;
        let risk_config =
            RiskConfig::from_policy(&config.risk_policy, config.phase, capital, config.timeframe);
        let risk = RiskEngine::new(risk_config, start_time, capital)
            .map_err(|e| EngineError::Risk(e.to_string()))?;
        let atr_period = risk.atr_period();
        let markets: Vec<Market> = config
            .symbols
            .iter()
            .map(|s| Market {
                symbol: s.clone(),
                strategy: blueprint.build(),
                atr: atr_period.and_then(|p| Atr::new(p).ok()),
                atr_value: None,
            })
            .collect();
        let index = markets
            .iter()
            .enumerate()
            .map(|(i, m)| (m.symbol.clone(), i))
            .collect();
        let broker =
            PaperBroker::new(paper, capital).map_err(|e| EngineError::Broker(e.to_string()))?;
        let ledger = Ledger::new(capital)?;
        let perf = Performance::new(
            config.timeframe,
            config.phase.as_str(),
            start_time,
            capital,
            curve,
        );
        Ok(Self {
            config,
            markets,
            index,
            risk,
            broker,
            venue: None,
            ledger,
            perf,
            next_order_id: 1,
            report: ExecutionReport::default(),
            events: Vec::new(),
            mode,
            counters: RiskCounters::default(),
            handled_halt: None,
            last_time: start_time,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn performance(&self) -> &Performance {
        &self.perf
    }

    pub fn risk(&self) -> &RiskEngine {
        &self.risk
    }

    pub fn broker(&self) -> &PaperBroker {
        &self.broker
    }

    pub fn counters(&self) -> &RiskCounters {
        &self.counters
    }

    pub fn equity(&self) -> Money {
        self.ledger.equity()
    }

    /// Index of `symbol` for [`Engine::on_candle`].
    pub fn symbol_index(&self, symbol: &Symbol) -> Option<usize> {
        self.index.get(symbol).copied()
    }

    /// Takes the events recorded since the last call ([`EventMode::Record`]).
    pub fn drain_events(&mut self) -> Vec<EngineEvent> {
        std::mem::take(&mut self.events)
    }

    /// The next engine order id; monotonic, never reused.
    pub(crate) fn allocate_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }
}

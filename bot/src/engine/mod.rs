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
//!
//! Step 3's read of the candle and step 5's advice depend only on the
//! candles (for a strategy without a model member): a backtest works them
//! out on another thread and steps with [`Engine::on_candle_ahead`]
//! (`ahead.rs`).

mod ahead;
mod allocation;
mod events;
mod snapshot;
mod step;
mod venue_routing;

#[cfg(test)]
mod exact_money_tests;
#[cfg(test)]
mod shared_reads_tests;

pub use ahead::{CandleAhead, ReaderAhead};
pub use events::{AuditRecord, EngineEvent, EventMode, RiskCounters};
pub use snapshot::{CounterSnapshot, EngineSnapshot, SNAPSHOT_VERSION};
pub use venue_routing::{VenueCommand, VenueOrders};

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::EngineConfig;
use crate::domain::{Money, OrderId, Symbol};
use crate::execution::{ExecutionReport, PaperBroker, PaperConfig, PaperConfigError};
use crate::indicators::Atr;
use crate::ledger::Ledger;
use crate::performance::{EquityCurve, Performance};
use crate::risk::{CandleReads, RiskConfig, RiskConfigError, RiskEngine};
use crate::strategy::{Strategy, StrategyBlueprint, StrategyError};
use events::EventLog;

/// Why the engine cannot go on. Each message names what broke.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("strategy: {0}")]
    Strategy(#[from] StrategyError),
    #[error("risk policy: {0}")]
    Risk(#[from] RiskConfigError),
    #[error("paper broker: {0}")]
    Broker(#[from] PaperConfigError),
    /// The risk engine's state could not be rewritten to carry the
    /// operator's halt id (see [`Engine::halt_with_id`]).
    #[error("risk policy: naming the halt: {0}")]
    NamingHalt(#[source] serde_json::Error),
    #[error("paper broker: a venue update reached an engine that trades on paper")]
    NotRoutedToVenue,
    #[error("ledger refused a fill (the books and the broker disagree): {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("candle for {0}, which the bot does not trade")]
    UnknownSymbol(Symbol),
    #[error("restoring the engine: {0}")]
    Restore(String),
    #[error("capital transfer: {0}")]
    Transfer(String),
    #[error("shared candle reads: made with other flash-crash settings than this bot's policy")]
    SharedReads,
    #[error(
        "candle for {0}, whose strategy is lent to a reader ahead: step it with on_candle_ahead"
    )]
    StrategyLent(Symbol),
}

/// One traded symbol: its own strategy instance and ATR.
pub(crate) struct Market {
    pub symbol: Symbol,
    pub strategy: Box<dyn Strategy>,
    pub atr: Option<Atr>,
    pub atr_value: Option<f64>,
    /// The strategy has a model member: it is given the bot's context and
    /// its exchanges are audited (indicator-only bots skip both).
    pub uses_llm: bool,
    /// Candle reads shared with other engines, and the index of the next
    /// candle's read (see [`Engine::share_candle_reads`]).
    pub reads: Option<(Arc<CandleReads>, usize)>,
    /// The strategy is lent to a reader ahead (see `ahead.rs`).
    pub lent: bool,
}

/// Where the engine's orders go.
pub(crate) enum Execution {
    /// The paper broker keeps the book and fills it on later candles.
    Paper(PaperBroker),
    /// A real venue fills; the engine keeps its view of the orders and learns
    /// of fills from the caller (see `venue_routing`).
    Venue {
        orders: VenueOrders,
        /// The paper broker as it stood when orders moved to the venue. Idle;
        /// kept because the snapshot format carries it (a restore reads its
        /// last prices).
        parked: PaperBroker,
    },
}

impl Execution {
    pub(crate) fn venue(&self) -> Option<&VenueOrders> {
        match self {
            Execution::Venue { orders, .. } => Some(orders),
            Execution::Paper(_) => None,
        }
    }

    pub(crate) fn venue_mut(&mut self) -> Option<&mut VenueOrders> {
        match self {
            Execution::Venue { orders, .. } => Some(orders),
            Execution::Paper(_) => None,
        }
    }
}

pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) markets: Vec<Market>,
    pub(crate) index: HashMap<Symbol, usize>,
    pub(crate) risk: RiskEngine,
    pub(crate) execution: Execution,
    pub(crate) ledger: Ledger,
    pub(crate) perf: Performance,
    pub(crate) next_order_id: u64,
    pub(crate) report: ExecutionReport,
    pub(crate) log: EventLog,
    pub(crate) counters: RiskCounters,
    /// The halt the engine already acted on (cancel/flatten happen once).
    pub(crate) handled_halt: Option<String>,
    pub(crate) last_time: i64,
    /// Capital is still to move out (see `allocation.rs`).
    pub(crate) owes_capital: bool,
    /// Per-candle statistics are kept (see [`Engine::skip_candle_statistics`]).
    pub(crate) candle_statistics: bool,
}

/// The strategy and risk settings of `config`, resolved and checked: what
/// [`Engine::new`] builds from and [`warmup_candles`] reads.
fn resolve(config: &EngineConfig) -> Result<(StrategyBlueprint, RiskConfig), EngineError> {
    let lookup = |name: &str| config.strategies.get(name).cloned();
    let blueprint = StrategyBlueprint::resolve(&config.strategy_name, &config.strategy, &lookup)?
        .with_llm(&config.llm);
    let risk = risk_config(config);
    risk.validate()?;
    Ok((blueprint, risk))
}

/// The risk settings of `config`'s phase.
pub(crate) fn risk_config(c: &EngineConfig) -> RiskConfig {
    RiskConfig::from_policy(&c.risk_policy, c.phase, c.capital, c.timeframe)
}

/// Candles of history the strategy (and the ATR of ATR sizing) needs before
/// it can act: what a live bot fetches before trading. Known from the
/// config alone, so no engine is built to learn it.
pub fn warmup_candles(config: &EngineConfig) -> Result<usize, EngineError> {
    let (blueprint, risk) = resolve(config)?;
    Ok(warmup(blueprint.warmup_candles(), risk.atr_period()))
}

fn warmup(strategy: usize, atr_period: Option<usize>) -> usize {
    strategy.max(atr_period.unwrap_or(0))
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
        let (blueprint, risk_config) = resolve(&config)?;
        let mut risk = RiskEngine::new(risk_config, start_time, capital)?;
        // Without a log nobody reads the sizing explanations.
        risk.set_explain(mode == EventMode::Record);
        let atr_period = risk.atr_period();
        let markets: Vec<Market> = config
            .symbols
            .iter()
            .map(|s| Market {
                symbol: s.clone(),
                strategy: blueprint.build(),
                atr: atr_period.and_then(|p| Atr::new(p).ok()),
                atr_value: None,
                uses_llm: blueprint.has_llm(),
                reads: None,
                lent: false,
            })
            .collect();
        let index = markets
            .iter()
            .enumerate()
            .map(|(i, m)| (m.symbol.clone(), i))
            .collect();
        let broker = PaperBroker::new(paper, capital)?;
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
            execution: Execution::Paper(broker),
            ledger,
            perf,
            next_order_id: 1,
            report: ExecutionReport::default(),
            log: EventLog::new(mode),
            counters: RiskCounters::default(),
            handled_halt: None,
            last_time: start_time,
            owes_capital: false,
            candle_statistics: true,
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

    /// The paper broker, while orders go to it (`None` when routed to a venue).
    pub fn broker(&self) -> Option<&PaperBroker> {
        match &self.execution {
            Execution::Paper(broker) => Some(broker),
            Execution::Venue { .. } => None,
        }
    }

    pub fn counters(&self) -> &RiskCounters {
        &self.counters
    }

    pub fn equity(&self) -> Money {
        self.ledger.equity()
    }

    /// Gives the symbol at `index` another instance of its strategy, before
    /// the first candle: a sweep's sets read indicator series computed once
    /// (`SmaCrossoverStrategy::over_shared`).
    pub fn set_strategy(&mut self, index: usize, strategy: Box<dyn Strategy>) {
        self.markets[index].strategy = strategy;
    }

    /// Stops the per-candle statistics (returns, drawdown, exposure, the
    /// equity curve): a sweep reads only the ledger's equity and the trade
    /// count, and the statistics cost about a seventh of a candle's time.
    /// Trades and orders are still counted; the other figures of
    /// [`Engine::performance`] stay where they were.
    pub fn skip_candle_statistics(&mut self) {
        self.candle_statistics = false;
    }

    /// Has the symbol at `index` follow `reads` (made by
    /// [`RiskEngine::read_candles`] over the candles this engine will be
    /// given, from the first) instead of reading each candle itself: a
    /// sweep's sets read the candles once. Refused when the reads were made
    /// with other flash settings. A candle that is not the next read's is
    /// read by the engine itself from then on (its own flash window missed
    /// the candles before).
    pub fn share_candle_reads(
        &mut self,
        index: usize,
        reads: Arc<CandleReads>,
    ) -> Result<(), EngineError> {
        if !self.risk.can_follow(&reads) {
            return Err(EngineError::SharedReads);
        }
        self.markets[index].reads = Some((reads, 0));
        Ok(())
    }

    /// Index of `symbol` for [`Engine::on_candle`].
    pub fn symbol_index(&self, symbol: &Symbol) -> Option<usize> {
        self.index.get(symbol).copied()
    }

    /// Candles of history the strategies (and the ATR of ATR sizing) need
    /// before they can act (see [`warmup_candles`]).
    pub fn warmup_candles(&self) -> usize {
        let strategy = self
            .markets
            .iter()
            .map(|m| m.strategy.warmup_candles())
            .max()
            .unwrap_or(0);
        warmup(strategy, self.risk.atr_period())
    }

    /// Takes the events recorded since the last call ([`EventMode::Record`]).
    pub fn drain_events(&mut self) -> Vec<EngineEvent> {
        self.log.drain()
    }

    /// The next engine order id; monotonic, never reused.
    pub(crate) fn allocate_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }
}

//! What the engine did, as events (for the store and the audit log) and as
//! counts (for reports and metrics).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Fill, OrderId, OrderRequest, OrderStatus, Symbol};
use crate::risk::{Halt, RiskAction};

/// One entry of the audit log: what the strategy wanted, what risk said, and
/// why. The engine writes them; the store keeps them (table `decisions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub at: i64,
    pub symbol: Symbol,
    /// The strategy's signal, e.g. `buy`, `sell`, `hold`.
    pub signal: String,
    /// The risk engine's verdict, e.g. `accepted`, `refused`.
    pub verdict: String,
    /// Indicator values, thresholds, the limit that refused it, as JSON.
    pub reason: serde_json::Value,
}

/// One thing the engine did, in order. A live bot persists these.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "event")]
pub enum EngineEvent {
    /// A strategy signal and the risk verdict on it (never `hold`). Tagged
    /// `decision`, as before the rename, so the JSON stays the same.
    #[serde(rename = "decision")]
    Audit(AuditRecord),
    /// An order accepted by the broker.
    OrderSubmitted { order: OrderRequest },
    /// An order the broker refused, with its reason.
    OrderRejected { order: OrderRequest, reason: String },
    /// An order left the book without (fully) filling.
    OrderClosed {
        id: OrderId,
        symbol: Symbol,
        status: OrderStatus,
        reason: String,
    },
    /// An execution, already applied to the ledger.
    Fill(Fill),
    /// A risk action: forced exit, pause, halt.
    Risk(RiskAction),
}

/// How much the engine writes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventMode {
    /// Count only (backtests: the report needs counts, not a log).
    CountOnly,
    /// Keep every event for the caller to drain (live: persisted to the store).
    Record,
}

/// The events kept since the caller last drained them.
pub(crate) struct EventLog {
    mode: EventMode,
    events: Vec<EngineEvent>,
}

impl EventLog {
    pub(crate) fn new(mode: EventMode) -> Self {
        Self {
            mode,
            events: Vec::new(),
        }
    }

    /// Keeps the event in [`EventMode::Record`]. It is built only then, so a
    /// backtest pays no allocation for events it would drop.
    #[inline]
    /// Whether events are kept (words built only for the log can be skipped otherwise).
    pub(crate) fn keeps(&self) -> bool {
        self.mode == EventMode::Record
    }

    pub(crate) fn record(&mut self, event: impl FnOnce() -> EngineEvent) {
        if self.mode == EventMode::Record {
            self.events.push(event());
        }
    }

    pub(crate) fn drain(&mut self) -> Vec<EngineEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Counts kept in every mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskCounters {
    /// Entries refused, by the RiskPolicy field.
    pub refusals: BTreeMap<&'static str, u64>,
    /// Exits forced by stops, by kind.
    pub forced_exits: BTreeMap<&'static str, u64>,
    /// Pauses started, by limit.
    pub pauses: BTreeMap<&'static str, u64>,
    /// Halts, newest last.
    pub halts: Vec<Halt>,
    pub orders: u64,
    pub order_errors: u64,
    pub signals: u64,
}

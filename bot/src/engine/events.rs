//! What the engine did, as events (for the store and the audit log) and as
//! counts (for reports and metrics).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{Fill, OrderId, OrderRequest, OrderStatus, Symbol};
use crate::risk::{Halt, RiskAction};

pub use crate::store::Decision as AuditRecord;

/// One thing the engine did, in order. A live bot persists these.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "event")]
pub enum EngineEvent {
    /// A strategy signal and the risk verdict on it (never `hold`).
    Decision(AuditRecord),
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

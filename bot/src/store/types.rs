//! What the store keeps, as plain values. Times are Unix milliseconds, UTC, like
//! every time in `domain`.

use crate::domain::{
    Fill, Money, OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side, Symbol,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the store lives: a SQLite file (default, on the data volume) or a
/// PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl StoreConfig {
    /// `postgres://…` / `postgresql://…` is a PostgreSQL URL; `sqlite://PATH`,
    /// `sqlite:PATH` or a bare path is a SQLite file. A SQLite URL's query
    /// (`sqlite:///data/bot.db?mode=rwc`, as the operator renders it) is
    /// dropped: the store always creates the file if missing.
    pub fn parse(location: &str) -> Self {
        let location = location.trim();
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            StoreConfig::Postgres {
                url: location.to_string(),
            }
        } else if let Some(url) = location
            .strip_prefix("sqlite://")
            .or_else(|| location.strip_prefix("sqlite:"))
        {
            let path = url.split_once('?').map_or(url, |(path, _)| path);
            StoreConfig::Sqlite {
                path: PathBuf::from(path),
            }
        } else {
            StoreConfig::Sqlite {
                path: PathBuf::from(location),
            }
        }
    }
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Whether a write created a row or found the same row already there (a replay
/// after a crash): a duplicate changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Inserted,
    Duplicate,
}

impl Recorded {
    pub fn is_duplicate(self) -> bool {
        self == Recorded::Duplicate
    }
}

/// An order as stored: the request, what the venue knows it by, and how far it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    pub id: OrderId,
    pub client_order_id: String,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    pub quantity: Quantity,
    pub filled_quantity: Quantity,
    pub status: OrderStatus,
    /// Why the order exists (signal, stop-loss, flatten on halt, ...).
    pub reason: String,
    /// Why it ended without filling (cancel, rejection message, expiry).
    pub status_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OrderRecord {
    /// The request this order was created from.
    pub fn request(&self) -> OrderRequest {
        OrderRequest {
            id: self.id,
            symbol: self.symbol.clone(),
            side: self.side,
            kind: self.kind,
            quantity: self.quantity,
            reason: self.reason.clone(),
            created_at: self.created_at,
        }
    }

    pub fn remaining(&self) -> Quantity {
        self.quantity - self.filled_quantity
    }
}

/// One position as the ledger last saw it (a stored view; the ledger itself
/// is rebuilt by replaying fills).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionRecord {
    pub symbol: Symbol,
    /// Signed: negative is short.
    pub quantity: Quantity,
    pub average_price: Price,
    pub realized_pnl: Money,
    pub updated_at: i64,
}

/// A point of the equity curve. One per time: writing the same time again
/// replaces it, so a replayed candle does not add a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquitySnapshot {
    pub at: i64,
    pub equity: Money,
    pub cash: Money,
}

/// A change of the effective phase (promotion, demotion, halt, resume).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseEvent {
    /// `None` for the first phase the bot ever ran in.
    pub from: Option<String>,
    pub to: String,
    pub at: i64,
    pub reason: String,
}

/// The halt latch: set by a breach or a manual halt, cleared only by a resume
/// naming this id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HaltLatch {
    pub id: String,
    pub reason: String,
    pub at: i64,
}

/// New entries paused until `until` (daily loss limit, flash-crash breaker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    pub reason: String,
    pub until: i64,
}

/// The small facts the engine needs to go on where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineState {
    /// The next `OrderId` to hand out. On load it is never below the highest
    /// recorded order id + 1, so an id is never reused even if the engine died
    /// before saving this.
    pub next_order_id: u64,
    pub halt: Option<HaltLatch>,
    pub pause: Option<Pause>,
    /// The effective phase and when it started (the metrics window).
    pub phase: Option<String>,
    pub phase_started_at: Option<i64>,
    /// Open time of the last candle fully processed.
    pub last_candle_time: Option<i64>,
}

impl Default for EngineState {
    fn default() -> Self {
        Self {
            next_order_id: 1,
            halt: None,
            pause: None,
            phase: None,
            phase_started_at: None,
            last_candle_time: None,
        }
    }
}

/// Everything the engine needs after a restart, read in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub state: EngineState,
    /// Every fill, in the order it was recorded: replay them into the ledger
    /// (which refuses a trade id it has already applied).
    pub fills: Vec<Fill>,
    /// Orders still `New` or `PartiallyFilled`, oldest first: to re-arm paper
    /// orders, or to reconcile with the venue by client order id.
    pub open_orders: Vec<OrderRecord>,
    pub positions: Vec<PositionRecord>,
    pub last_equity: Option<EquitySnapshot>,
    pub last_phase_event: Option<PhaseEvent>,
}

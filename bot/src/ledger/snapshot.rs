//! Serializable views of the ledger: a balances snapshot for `/status` and
//! the full state for persistence. Money, prices and quantities serialize as
//! decimal strings (the domain newtypes do that), so nothing passes through
//! a float on the way out.

use super::{ClosedTrade, Ledger, Position, Transfer};
use crate::domain::{Money, Price, Quantity, Symbol};
use serde::{Deserialize, Serialize};

/// Balances and positions at one instant, for `/status`, the report and
/// equity snapshots in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalancesSnapshot {
    pub starting_cash: Money,
    pub cash: Money,
    pub positions_value: Money,
    pub equity: Money,
    /// Before fees.
    pub realized_pnl: Money,
    pub fees_paid: Money,
    pub unrealized_pnl: Money,
    /// Σ capital transfers (in > 0, out < 0).
    #[serde(default)]
    pub net_transfers: Money,
    /// `equity − starting_cash − net_transfers`.
    pub net_pnl: Money,
    pub open_positions: usize,
    pub closed_trades: usize,
    /// Non-flat positions only, in the order they were first traded.
    pub positions: Vec<PositionSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionSnapshot {
    pub symbol: Symbol,
    pub quantity: Quantity,
    /// Rounded to 12 dp half-up.
    pub avg_entry_price: Price,
    pub cost_basis: Money,
    pub mark_price: Price,
    pub market_value: Money,
    pub unrealized_pnl: Money,
    pub opened_at: i64,
}

impl PositionSnapshot {
    fn of(p: &Position) -> Self {
        Self {
            symbol: p.symbol().clone(),
            quantity: p.quantity(),
            avg_entry_price: p.avg_entry_price().unwrap_or_default(),
            cost_basis: p.cost_basis(),
            mark_price: p.mark_price(),
            market_value: p.market_value(),
            unrealized_pnl: p.unrealized_pnl(),
            opened_at: p.opened_at().unwrap_or_default(),
        }
    }
}

impl Ledger {
    /// The balances view (allocates; call it for `/status`, not per candle).
    pub fn snapshot(&self) -> BalancesSnapshot {
        BalancesSnapshot {
            starting_cash: self.starting_cash(),
            cash: self.cash(),
            positions_value: self.positions_value(),
            equity: self.equity(),
            realized_pnl: self.realized_pnl(),
            fees_paid: self.fees_paid(),
            unrealized_pnl: self.unrealized_pnl(),
            net_transfers: self.net_transfers(),
            net_pnl: self.net_pnl(),
            open_positions: self.open_positions(),
            closed_trades: self.closed_trades().len(),
            positions: self.positions().map(PositionSnapshot::of).collect(),
        }
    }
}

/// Everything needed to rebuild a [`Ledger`] after a restart, including the
/// trade ids already applied per symbol (so replayed fills are recognised)
/// and the open round trips. `Ledger::from_state(ledger.state())` is the
/// identity. The alternative restore path is to replay every stored fill
/// into `Ledger::new(starting_cash)`: idempotency makes both safe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LedgerState {
    pub starting_cash: Money,
    pub cash: Money,
    pub realized_pnl: Money,
    pub fees_paid: Money,
    pub positions: Vec<Position>,
    pub closed_trades: Vec<ClosedTrade>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
}

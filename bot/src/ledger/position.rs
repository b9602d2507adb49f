//! One spot position and the round trip it is part of.

use super::trade_ids::TradeIds;
use super::{AVG_PRICE_DP, MONEY_DP};
use crate::domain::{Money, Price, Quantity, Symbol};
use serde::{Deserialize, Serialize};

/// A long-only spot position in one symbol.
///
/// The cost basis is kept as exact money (Σ price × quantity of the buys still
/// held) rather than as an average price, because an average is a division and
/// would not be exact; [`Position::avg_entry_price`] derives it for display.
///
/// The entry stays in the ledger when the position goes flat: it keeps the
/// set of trade ids already applied for the symbol (idempotency) and the
/// last mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    pub(super) symbol: Symbol,
    pub(super) quantity: Quantity,
    pub(super) cost_basis: Money,
    pub(super) mark: Price,
    /// `quantity × mark`, cached so equity is O(1) per candle.
    #[serde(skip)]
    pub(super) market_value: Money,
    /// The current round trip (since the position was last flat).
    pub(super) trip: RoundTrip,
    /// Trade ids already applied for this symbol (venue trade ids are unique
    /// per symbol).
    pub(super) applied: TradeIds,
}

/// Accumulators of the round trip in progress: flat → long → flat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoundTrip {
    pub opened_at: i64,
    pub bought: Quantity,
    pub buy_notional: Money,
    pub sold: Quantity,
    pub sell_notional: Money,
    pub fees: Money,
}

/// A completed round trip (the position went from flat back to flat).
///
/// A trade is the whole round trip, not each sell: an exit order split into
/// three partial fills by the volume cap is still one trade, and scaling in
/// with several buys is one trade too. Win rate and profit factor count these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClosedTrade {
    pub symbol: Symbol,
    /// Time of the first buy fill.
    pub opened_at: i64,
    /// Time of the fill that made the position flat.
    pub closed_at: i64,
    /// Total quantity bought (= total sold).
    pub quantity: Quantity,
    /// Volume-weighted average buy price, rounded to 12 dp (display only).
    pub entry_price: Price,
    /// Volume-weighted average sell price, rounded to 12 dp (display only).
    pub exit_price: Price,
    pub buy_notional: Money,
    pub sell_notional: Money,
    /// Fees of every fill of the round trip (buys and sells).
    pub fees: Money,
    /// `sell_notional − buy_notional − fees`, exact.
    pub pnl: Money,
}

impl ClosedTrade {
    /// P&L before fees.
    pub fn gross_pnl(&self) -> Money {
        self.sell_notional - self.buy_notional
    }

    /// A win is a round trip that made money after fees; a break-even trade
    /// is neither a win nor a loss.
    pub fn is_win(&self) -> bool {
        self.pnl > Money::ZERO
    }

    pub fn is_loss(&self) -> bool {
        self.pnl < Money::ZERO
    }
}

impl Position {
    pub(super) fn new(symbol: Symbol) -> Self {
        Self {
            symbol,
            quantity: Quantity::ZERO,
            cost_basis: Money::ZERO,
            mark: Price::ZERO,
            market_value: Money::ZERO,
            trip: RoundTrip::default(),
            applied: TradeIds::default(),
        }
    }

    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }

    /// Exact cost of the quantity held (fees excluded: they are in
    /// `Ledger::fees_paid`).
    pub fn cost_basis(&self) -> Money {
        self.cost_basis
    }

    /// `cost_basis / quantity`, rounded to 12 dp half-up; `None` when flat.
    pub fn avg_entry_price(&self) -> Option<Price> {
        if self.quantity.is_zero() {
            return None;
        }
        Some(Price::new(self.cost_basis.value() / self.quantity.value()).round_dp(AVG_PRICE_DP))
    }

    /// The last price the position was marked at (a candle close or the
    /// price of its last fill).
    pub fn mark_price(&self) -> Price {
        self.mark
    }

    pub fn market_value(&self) -> Money {
        self.market_value
    }

    /// `quantity × mark − cost_basis`.
    pub fn unrealized_pnl(&self) -> Money {
        self.market_value - self.cost_basis
    }

    /// When the current round trip started (`None` when flat).
    pub fn opened_at(&self) -> Option<i64> {
        (!self.is_flat()).then_some(self.trip.opened_at)
    }

    pub(super) fn buy(&mut self, price: Price, quantity: Quantity, fee: Money, time: i64) {
        if self.quantity.is_zero() {
            self.trip = RoundTrip {
                opened_at: time,
                ..RoundTrip::default()
            };
        }
        let notional = price * quantity;
        self.quantity += quantity;
        self.cost_basis += notional;
        self.trip.bought += quantity;
        self.trip.buy_notional += notional;
        self.trip.fees += fee;
    }

    /// Removes `quantity` (the caller checked it is held) and returns the
    /// realized P&L before fees and, when this made the position flat, the
    /// finished round trip.
    ///
    /// A partial sell removes `cost_basis × sold / held` rounded to 8 dp
    /// half-up (a division, so it needs a rounding rule); the remaining basis
    /// carries the residue and the sell that makes the position flat removes
    /// exactly what is left. A round trip's P&L is therefore exact even though
    /// each partial sell's realized P&L is rounded to 1e-8.
    pub(super) fn sell(
        &mut self,
        price: Price,
        quantity: Quantity,
        fee: Money,
        time: i64,
    ) -> (Money, Option<ClosedTrade>) {
        let notional = price * quantity;
        let removed = if quantity == self.quantity {
            self.cost_basis
        } else {
            Money::new(self.cost_basis.value() * quantity.value() / self.quantity.value())
                .round_dp(MONEY_DP)
        };
        self.quantity -= quantity;
        self.cost_basis -= removed;
        self.trip.sold += quantity;
        self.trip.sell_notional += notional;
        self.trip.fees += fee;
        let realized = notional - removed;
        if !self.quantity.is_zero() {
            return (realized, None);
        }
        let trip = std::mem::take(&mut self.trip);
        let avg = |notional: Money, qty: Quantity| {
            Price::new(notional.value() / qty.value()).round_dp(AVG_PRICE_DP)
        };
        let trade = ClosedTrade {
            symbol: self.symbol.clone(),
            opened_at: trip.opened_at,
            closed_at: time,
            quantity: trip.bought,
            entry_price: avg(trip.buy_notional, trip.bought),
            exit_price: avg(trip.sell_notional, trip.sold),
            buy_notional: trip.buy_notional,
            sell_notional: trip.sell_notional,
            fees: trip.fees,
            pnl: trip.sell_notional - trip.buy_notional - trip.fees,
        };
        (realized, Some(trade))
    }
}

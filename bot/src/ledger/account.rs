//! The account: cash, positions, P&L, fees, equity.

use super::fixed;
use super::position::{ClosedTrade, Position};
use super::{LedgerError, LedgerState, Transfer};
use crate::domain::{Fill, Money, Price, Side, Symbol};

/// What applying a fill did.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FillOutcome {
    /// The fill changed the account.
    Applied(AppliedFill),
    /// This `(symbol, trade_id)` was applied before; nothing changed. Expected
    /// when fills are replayed after a restart.
    AlreadyApplied,
}

/// The effect of one applied fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedFill {
    /// Realized P&L of this fill before fees (zero for buys).
    pub realized_pnl: Money,
    /// Set when this fill made the position flat.
    pub closed_trade: Option<ClosedTrade>,
}

impl FillOutcome {
    pub fn closed_trade(&self) -> Option<&ClosedTrade> {
        match self {
            FillOutcome::Applied(a) => a.closed_trade.as_ref(),
            FillOutcome::AlreadyApplied => None,
        }
    }
}

/// The engine's book of one spot account, in the quote currency.
///
/// Invariants (property-tested): `equity = cash + Σ quantity × mark`;
/// `cash = starting_cash + Σ transfers − Σ buy notional + Σ sell notional − Σ fees`;
/// `equity − contributed = realized_pnl − fees_paid + unrealized_pnl`, where
/// `contributed = starting_cash + Σ transfers` (see `transfer.rs`).
/// Every figure is an exact decimal; the only rounding is the cost removed by
/// a partial sell (see [`Position`]).
///
/// Per-candle cost: [`Ledger::mark`] is a linear scan of a small `Vec` (one
/// entry per symbol ever traded), one multiplication and one addition on
/// scaled integers (`fixed.rs`), no allocation; [`Ledger::equity`] is a
/// cached field.
#[derive(Clone, Debug)]
pub struct Ledger {
    pub(super) starting_cash: Money,
    pub(super) cash: Money,
    realized_pnl: Money,
    fees_paid: Money,
    pub(super) positions: Vec<Position>,
    closed_trades: Vec<ClosedTrade>,
    /// Σ market value, kept in step with every mark and fill.
    positions_value: Money,
    /// `cash + positions_value`.
    pub(super) equity: Money,
    open_positions: usize,
    /// Capital moved in or out, oldest first (see `transfer.rs`).
    pub(super) transfers: Vec<Transfer>,
    pub(super) net_transfers: Money,
    /// The cash at the positions' value scale, for the mark's sum.
    cash_rescaled: Option<fixed::Rescaled>,
}

impl Ledger {
    /// A fresh account holding only cash.
    pub fn new(starting_cash: Money) -> Result<Self, LedgerError> {
        if starting_cash.is_sign_negative() {
            return Err(LedgerError::NegativeCash {
                cash: starting_cash,
            });
        }
        Ok(Self {
            starting_cash,
            cash: starting_cash,
            realized_pnl: Money::ZERO,
            fees_paid: Money::ZERO,
            positions: Vec::new(),
            closed_trades: Vec::new(),
            positions_value: Money::ZERO,
            equity: starting_cash,
            open_positions: 0,
            transfers: Vec::new(),
            net_transfers: Money::ZERO,
            cash_rescaled: None,
        })
    }

    /// Applies one fill, atomically: on any error nothing changes.
    ///
    /// A fill whose `(symbol, trade_id)` was applied before returns
    /// [`FillOutcome::AlreadyApplied`]. The fee is taken as the venue reported
    /// it (the paper broker rounds its fees; a real venue's are authoritative).
    /// The position is marked at the fill price.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<FillOutcome, LedgerError> {
        let idx = self.position_index(&fill.symbol);
        if let Some(i) = idx
            && self.positions[i].applied.contains(&fill.trade_id)
        {
            return Ok(FillOutcome::AlreadyApplied);
        }
        validate(fill)?;
        let notional = fill.notional();
        let held = idx.map_or(crate::domain::Quantity::ZERO, |i| {
            self.positions[i].quantity
        });
        match fill.side {
            Side::Buy => {
                let needed = notional + fill.fee;
                if needed > self.cash {
                    return Err(LedgerError::InsufficientCash {
                        trade_id: fill.trade_id.clone(),
                        needed,
                        available: self.cash,
                    });
                }
            }
            Side::Sell => {
                if fill.quantity > held {
                    return Err(LedgerError::InsufficientPosition {
                        trade_id: fill.trade_id.clone(),
                        symbol: fill.symbol.clone(),
                        held,
                        requested: fill.quantity,
                    });
                }
            }
        }

        let i = match idx {
            Some(i) => i,
            None => {
                self.positions.push(Position::new(fill.symbol.clone()));
                self.positions.len() - 1
            }
        };
        let pos = &mut self.positions[i];
        let was_flat = pos.is_flat();
        let old_value = pos.market_value;
        let (realized, closed) = match fill.side {
            Side::Buy => {
                pos.buy(fill.price, fill.quantity, fill.fee, fill.time);
                self.cash -= notional + fill.fee;
                (Money::ZERO, None)
            }
            Side::Sell => {
                let (realized, closed) = pos.sell(fill.price, fill.quantity, fill.fee, fill.time);
                self.cash += notional - fill.fee;
                (realized, closed)
            }
        };
        // Looked up at the top: absent (a new position has no ids).
        pos.applied.insert_new(&fill.trade_id);
        pos.mark = fill.price;
        pos.market_value = pos.quantity * fill.price;
        let is_flat = pos.is_flat();
        self.positions_value += pos.market_value - old_value;
        self.equity = self.cash + self.positions_value;
        self.realized_pnl += realized;
        self.fees_paid += fill.fee;
        match (was_flat, is_flat) {
            (true, false) => self.open_positions += 1,
            (false, true) => self.open_positions -= 1,
            _ => {}
        }
        if let Some(trade) = &closed {
            self.closed_trades.push(trade.clone());
        }
        Ok(FillOutcome::Applied(AppliedFill {
            realized_pnl: realized,
            closed_trade: closed,
        }))
    }

    /// Marks `symbol` at `price` (normally the candle close). A symbol the
    /// ledger never traded is ignored. Allocation-free; with one open
    /// position it costs one multiplication and one addition.
    #[inline]
    pub fn mark(&mut self, symbol: &Symbol, price: Price) {
        let Some(i) = self.position_index(symbol) else {
            return;
        };
        let pos = &mut self.positions[i];
        pos.mark = price;
        if !pos.quantity.is_zero() {
            self.revalue(i, price);
        }
    }

    /// The held position `i`'s value at `price`, and the equity with it.
    /// Out of line: a flat candle (half of a crossover's) only looks it up.
    #[inline(never)]
    fn revalue(&mut self, i: usize, price: Price) {
        let pos = &mut self.positions[i];
        // Scaled integers, exact (see `fixed.rs`).
        let value = Money::new(fixed::mul(pos.quantity.value(), price.value()));
        if self.open_positions == 1 {
            // The only open position: no delta arithmetic needed.
            self.positions_value = value;
        } else {
            let delta = fixed::sub(value.value(), pos.market_value.value());
            self.positions_value = Money::new(fixed::add(self.positions_value.value(), delta));
        }
        pos.market_value = value;
        self.equity = Money::new(fixed::add_rescaled(
            self.cash.value(),
            self.positions_value.value(),
            &mut self.cash_rescaled,
        ));
    }

    /// Whether this `(symbol, trade_id)` was applied.
    pub fn is_applied(&self, symbol: &Symbol, trade_id: &str) -> bool {
        self.position(symbol)
            .is_some_and(|p| p.applied.contains(trade_id))
    }

    pub fn starting_cash(&self) -> Money {
        self.starting_cash
    }

    /// Free quote currency.
    pub fn cash(&self) -> Money {
        self.cash
    }

    /// `cash + Σ quantity × mark`. O(1): cached.
    #[inline]
    pub fn equity(&self) -> Money {
        self.equity
    }

    /// Σ market value of the positions.
    pub fn positions_value(&self) -> Money {
        self.positions_value
    }

    /// Realized P&L before fees, summed over every sell.
    pub fn realized_pnl(&self) -> Money {
        self.realized_pnl
    }

    /// Every fee paid, buys and sells.
    pub fn fees_paid(&self) -> Money {
        self.fees_paid
    }

    /// Σ (market value − cost basis) of the open positions.
    pub fn unrealized_pnl(&self) -> Money {
        self.positions.iter().map(Position::unrealized_pnl).sum()
    }

    /// `equity − contributed` = realized − fees + unrealized (transfers
    /// are neither profit nor loss).
    pub fn net_pnl(&self) -> Money {
        self.equity - self.contributed()
    }

    /// The entry for `symbol`, flat or not (`None` if never traded).
    pub fn position(&self, symbol: &Symbol) -> Option<&Position> {
        self.position_index(symbol).map(|i| &self.positions[i])
    }

    /// The non-flat positions.
    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.iter().filter(|p| !p.is_flat())
    }

    /// How many symbols have a non-zero position.
    #[inline]
    pub fn open_positions(&self) -> usize {
        self.open_positions
    }

    #[inline]
    pub fn has_position(&self) -> bool {
        self.open_positions > 0
    }

    /// Completed round trips, oldest first.
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.closed_trades
    }

    /// The full state, for persistence (see [`LedgerState`]).
    pub fn state(&self) -> LedgerState {
        LedgerState {
            starting_cash: self.starting_cash,
            cash: self.cash,
            realized_pnl: self.realized_pnl,
            fees_paid: self.fees_paid,
            positions: self.positions.clone(),
            closed_trades: self.closed_trades.clone(),
            transfers: self.transfers.clone(),
        }
    }

    /// Rebuilds a ledger from a persisted state, recomputing the caches and
    /// checking that no figure is impossible.
    pub fn from_state(state: LedgerState) -> Result<Self, LedgerError> {
        if state.cash.is_sign_negative() {
            return Err(LedgerError::NegativeCash { cash: state.cash });
        }
        let mut positions = state.positions;
        for (i, p) in positions.iter().enumerate() {
            if positions[..i].iter().any(|q| q.symbol == p.symbol) {
                return Err(LedgerError::CorruptState {
                    field: format!("positions[{i}].symbol"),
                    reason: format!("{} appears twice", p.symbol),
                });
            }
        }
        let mut positions_value = Money::ZERO;
        let mut open_positions = 0;
        for (i, p) in positions.iter_mut().enumerate() {
            if p.quantity.is_sign_negative() {
                return Err(LedgerError::CorruptState {
                    field: format!("positions[{i}].quantity"),
                    reason: format!("{} is negative; spot positions are long-only", p.quantity),
                });
            }
            if p.is_flat() && !p.cost_basis.is_zero() {
                return Err(LedgerError::CorruptState {
                    field: format!("positions[{i}].costBasis"),
                    reason: format!("{} on a flat position; it must be 0", p.cost_basis),
                });
            }
            p.market_value = p.quantity * p.mark;
            positions_value += p.market_value;
            if !p.is_flat() {
                open_positions += 1;
            }
        }
        Ok(Self {
            starting_cash: state.starting_cash,
            cash: state.cash,
            realized_pnl: state.realized_pnl,
            fees_paid: state.fees_paid,
            positions,
            closed_trades: state.closed_trades,
            positions_value,
            equity: state.cash + positions_value,
            open_positions,
            net_transfers: state.transfers.iter().map(|t| t.amount).sum(),
            transfers: state.transfers,
            cash_rescaled: None,
        })
    }

    #[inline]
    fn position_index(&self, symbol: &Symbol) -> Option<usize> {
        symbol.index_in(&self.positions, |p| &p.symbol)
    }
}

fn validate(fill: &Fill) -> Result<(), LedgerError> {
    let invalid = |field: &'static str, value: String, reason: &'static str| {
        Err(LedgerError::InvalidFill {
            trade_id: fill.trade_id.clone(),
            field,
            value,
            reason,
        })
    };
    if fill.trade_id.is_empty() {
        return invalid(
            "tradeId",
            String::new(),
            "must not be empty: it is the idempotency key",
        );
    }
    if fill.quantity.value() <= rust_decimal::Decimal::ZERO {
        return invalid(
            "quantity",
            fill.quantity.to_string(),
            "must be greater than 0",
        );
    }
    if fill.price.value() <= rust_decimal::Decimal::ZERO {
        return invalid("price", fill.price.to_string(), "must be greater than 0");
    }
    if fill.fee.is_sign_negative() {
        return invalid(
            "fee",
            fill.fee.to_string(),
            "must be 0 or more (rebates are not modelled)",
        );
    }
    Ok(())
}

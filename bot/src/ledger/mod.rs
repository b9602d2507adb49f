//! The account book: cash in the quote currency, long-only spot positions
//! with exact cost basis, realized and unrealized P&L, fees, equity, and the
//! round trips used for win rate and profit factor.
//!
//! Everything is an exact `Decimal`. Rounding happens in exactly two places,
//! both to [`MONEY_DP`] = 8 decimal places, half away from zero ("half-up"
//! for the positive amounts involved):
//! - the cost removed by a partial sell (`cost_basis × sold / held` is a
//!   division); the sell that closes the position removes whatever basis is
//!   left, so a round trip's P&L is exact;
//! - fees, by the paper broker when it creates a fill (`execution`), so the
//!   fee on the fill, the ledger's fee total and the cash movement are the
//!   same number. 8 dp is the precision Binance reports balances and
//!   commissions in; a real venue's fee is applied as reported.
//!
//! Average prices are display figures, rounded to [`AVG_PRICE_DP`] = 12 dp so
//! that low-priced tokens keep their significant digits.
//!
//! Applying a fill is idempotent by `(symbol, trade_id)`: restart recovery may
//! replay fills freely.
//!
//! Capital allocations move cash in and out as [`Transfer`]s (`transfer.rs`):
//! never profit or loss, never below zero cash.

mod account;
mod fixed;
mod position;
mod snapshot;
mod trade_ids;
mod transfer;

#[cfg(test)]
mod tests;

pub use account::{AppliedFill, FillOutcome, Ledger};
#[cfg(test)]
pub(crate) use fixed::force_decimal;
pub use position::{ClosedTrade, Position};
pub use snapshot::{BalancesSnapshot, LedgerState, PositionSnapshot};
pub use transfer::Transfer;

use crate::domain::{Money, Quantity, Symbol};

/// Decimal places money is rounded to where rounding is needed.
pub const MONEY_DP: u32 = 8;
/// Decimal places of displayed average prices.
pub const AVG_PRICE_DP: u32 = 12;

/// Why the ledger refused something. Every refusal leaves the ledger
/// unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "fill {trade_id} sells {requested} {symbol} but the ledger holds only {held}: \
         spot positions are long-only; the venue and the ledger disagree, reconcile before trading"
    )]
    InsufficientPosition {
        trade_id: String,
        symbol: Symbol,
        held: Quantity,
        requested: Quantity,
    },
    #[error(
        "fill {trade_id} needs {needed} (notional + fee) but cash is {available}: \
         a spot account cannot borrow; the venue and the ledger disagree, reconcile before trading"
    )]
    InsufficientCash {
        trade_id: String,
        needed: Money,
        available: Money,
    },
    #[error("fill {trade_id}: field `{field}` = {value:?} is invalid: it {reason}")]
    InvalidFill {
        trade_id: String,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(
        "a transfer of {amount} with cash {cash} would leave cash negative: a transfer out \
         takes at most the free cash"
    )]
    TransferExceedsCash { amount: Money, cash: Money },
    #[error("cash {cash} is negative: the account starts with 0 or more")]
    NegativeCash { cash: Money },
    #[error("ledger state field `{field}` is corrupt: {reason}")]
    CorruptState { field: String, reason: String },
}

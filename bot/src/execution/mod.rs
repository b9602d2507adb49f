//! Brokers. [`Venue`] is the interface every venue implements (submit,
//! cancel, query by client order id, open orders, fills, balances, symbol
//! rules); [`PaperBroker`] is the simulated one, with a synchronous API for
//! the backtest hot path and a `Venue` impl for the live loop.
//!
//! Engine loop, per closed candle of a symbol (paper/backtest):
//! 1. `broker.on_candle(&symbol, &candle, &mut report)` — fills orders
//!    placed on earlier candles;
//! 2. `ledger.apply_fill(fill)` for each `report.fills`, feeding each
//!    `closed_trade` to `performance.record_trade`;
//! 3. `ledger.mark(&symbol, candle.close)`, then
//!    `performance.on_candle(time, ledger.equity(), ledger.has_position())`;
//! 4. the strategy and risk engine look at the candle and may
//!    `broker.submit(order)`: it fills on the next candle at the earliest.

mod config;
pub mod endpoint;
mod ledger_check;
mod matching;
mod paper;
mod reconcile;
mod rejection;
pub mod retry;
mod venue;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use config::{PaperConfig, PaperConfigError};
pub use ledger_check::{LedgerInputs, compare as compare_ledger};
pub use matching::{fee, is_marketable, limit_price, market_price};
pub use paper::{ExecutionReport, PaperBroker, QUANTITY_DP};
pub use reconcile::{Reconciliation, reconcile};
pub use rejection::Rejection;
pub use retry::{Attempts, Repeat, RetryPolicy};
pub use venue::{CashBalance, Holding, OrderState, SymbolRules, Venue, VenueBalances, VenueError};

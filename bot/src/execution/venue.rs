//! The venue trait every broker implements (paper now, Binance spot next),
//! and the types it speaks.

use super::Rejection;
use crate::domain::{
    Fill, Money, OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side, Symbol,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

/// Where orders go. One implementation per venue: [`super::PaperBroker`]
/// simulates fills against candles; a real venue (Binance spot) signs REST
/// calls.
///
/// Identity: an order is known by the engine's [`OrderId`]; a real venue
/// derives its client order id from it deterministically, so a retry of
/// `submit` after a timeout can first ask [`Venue::order`] whether the venue
/// already has it (see [`VenueError::is_fate_unknown`]).
///
/// Methods take `&mut self` (one engine owns one venue) and return `Send`
/// futures so the engine can drive them from a tokio task. The backtest hot
/// path does not go through this trait: it uses the paper broker's
/// synchronous API directly.
pub trait Venue: Send {
    /// Short name for logs and metrics (`paper`, `binance`).
    fn name(&self) -> &str;

    /// Places an order. `Ok` means the venue accepted it (it may already be
    /// partly or fully filled: see the returned state).
    fn submit(
        &mut self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send;

    /// Cancels the open remainder of an order; what already filled stays.
    fn cancel(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send;

    /// Looks an order up by the engine's id (the client order id).
    /// `Ok(None)`: the venue never accepted it, so submitting it again is safe.
    fn order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<Option<OrderState>, VenueError>> + Send;

    /// Open orders, of one symbol or of all.
    fn open_orders(
        &mut self,
        symbol: Option<&Symbol>,
    ) -> impl Future<Output = Result<Vec<OrderState>, VenueError>> + Send;

    /// Every fill of one order, oldest first (restart reconciliation records
    /// the ones the ledger missed; the ledger ignores those it already has).
    fn fills(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<Vec<Fill>, VenueError>> + Send;

    /// The fills of the order `state` reports, all of them (its filled
    /// quantity). A venue that already read them with the state may answer
    /// without another request.
    fn order_fills(
        &mut self,
        state: &OrderState,
    ) -> impl Future<Output = Result<Vec<Fill>, VenueError>> + Send {
        self.fills(&state.symbol, state.id)
    }

    /// Every trade of this bot's orders on `symbol` executed at or after
    /// `since` (Unix ms), oldest first, as the venue records it, each with
    /// the engine's order id (the periodic ledger check compares them with
    /// the ledger). Trades of other orders on the same account (another
    /// bot, a person) are left out. Binance: `GET /api/v3/allOrders` (this
    /// bot's client order ids → venue order ids) and `GET /api/v3/myTrades`,
    /// both paged.
    fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> impl Future<Output = Result<Vec<Fill>, VenueError>> + Send;

    /// The account as the venue sees it.
    fn balances(&mut self) -> impl Future<Output = Result<VenueBalances, VenueError>> + Send;

    /// Order filters of a symbol (tick size, lot size, minimum notional).
    /// `None`: the venue imposes none (the paper broker).
    fn symbol_rules(
        &mut self,
        symbol: &Symbol,
    ) -> impl Future<Output = Result<Option<SymbolRules>, VenueError>> + Send {
        let _ = symbol;
        std::future::ready(Ok(None))
    }
}

/// An order as the venue reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderState {
    pub id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    /// Quantity ordered.
    pub quantity: Quantity,
    pub status: OrderStatus,
    pub filled_quantity: Quantity,
    /// Σ price × quantity of the fills.
    pub filled_notional: Money,
    /// Σ fees of the fills, quote currency.
    pub fees: Money,
    pub created_at: i64,
    pub updated_at: i64,
    /// Why the order ended the way it did when that is not obvious
    /// (an expired remainder, a canceled order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl OrderState {
    pub fn remaining(&self) -> Quantity {
        self.quantity - self.filled_quantity
    }

    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    /// Volume-weighted fill price, rounded to 12 dp (display only).
    pub fn avg_fill_price(&self) -> Option<Price> {
        (!self.filled_quantity.is_zero()).then(|| {
            Price::new(self.filled_notional.value() / self.filled_quantity.value())
                .round_dp(crate::ledger::AVG_PRICE_DP)
        })
    }
}

/// The account at the venue. A real venue reports balances per asset; the
/// adapter maps each traded symbol's base asset to a [`Holding`] and the
/// quote asset to `cash`, so the engine compares them with its ledger
/// directly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueBalances {
    pub cash: CashBalance,
    pub holdings: Vec<Holding>,
}

/// Quote currency. `locked` is reserved by open buy orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CashBalance {
    pub free: Money,
    pub locked: Money,
}

impl CashBalance {
    pub fn total(&self) -> Money {
        self.free + self.locked
    }
}

/// Base asset of one symbol. `locked` is reserved by open sell orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    pub symbol: Symbol,
    pub free: Quantity,
    pub locked: Quantity,
}

impl Holding {
    pub fn total(&self) -> Quantity {
        self.free + self.locked
    }
}

/// A symbol's order filters (Binance `exchangeInfo`: PRICE_FILTER,
/// LOT_SIZE, NOTIONAL/MIN_NOTIONAL), applied before an order is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolRules {
    pub symbol: Symbol,
    pub base_asset: String,
    pub quote_asset: String,
    /// Prices must be multiples of this.
    pub tick_size: Price,
    /// Quantities must be multiples of this.
    pub step_size: Quantity,
    pub min_quantity: Quantity,
    pub min_notional: Money,
}

/// Why a venue call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue refused the order before accepting it; nothing happened.
    #[error("order rejected: {0}")]
    Rejected(#[from] Rejection),
    /// No order with this id exists at the venue.
    #[error("order {id} is unknown to the venue")]
    UnknownOrder { id: OrderId },
    /// Cancel of an order that is no longer open.
    #[error("order {id} cannot be canceled: it is already {status:?}")]
    NotOpen { id: OrderId, status: OrderStatus },
    /// Too many requests (HTTP 429/418); wait before retrying.
    #[error("rate limited by the venue; retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    /// Timeout, connection error or 5xx: the request may or may not have
    /// taken effect.
    #[error("venue unavailable ({message}); the request's outcome is unknown")]
    Unavailable { message: String },
    /// The venue answered with an error code of its own.
    #[error("venue error {code}: {message}")]
    Exchange { code: i64, message: String },
    /// The venue's answer could not be understood.
    #[error("unexpected venue response: {message}")]
    InvalidResponse { message: String },
}

impl VenueError {
    /// A transport failure of a call to `path`, without the URL or the
    /// headers (a signature or a JWT travels there).
    pub fn transport(path: &str, e: &reqwest::Error) -> Self {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else if e.is_body() || e.is_decode() {
            "response body interrupted"
        } else {
            "request failed"
        };
        VenueError::Unavailable {
            message: format!("{path}: {what}"),
        }
    }

    /// True when a `submit` or `cancel` may have taken effect despite the
    /// error: look the order up by id before retrying, never resubmit blindly.
    pub fn is_fate_unknown(&self) -> bool {
        matches!(
            self,
            VenueError::Unavailable { .. } | VenueError::InvalidResponse { .. }
        )
    }

    /// True when retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            VenueError::RateLimited { .. } | VenueError::Unavailable { .. }
        )
    }
}

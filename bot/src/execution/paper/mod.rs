//! The paper broker: a simulated spot account filled against candles.
//! `fill.rs` matches orders against a candle; `closed.rs` keeps the orders
//! that left the book; `venue.rs` puts the broker behind the async `Venue`
//! trait.

use super::config::PaperTerms;
use super::matching::{is_marketable, market_price};
use super::{
    CashBalance, Holding, OrderState, PaperConfig, PaperConfigError, Rejection, VenueBalances,
    VenueError,
};
use crate::domain::{
    Fill, Liquidity, Money, OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side,
    Symbol,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod closed;
mod fill;
mod venue;

/// Decimal places a fill quantity is truncated to when cash, not the order,
/// limits it (the only quantity the broker has to compute by division).
pub const QUANTITY_DP: u32 = 8;

/// What one candle did: the fills, and the orders that left the book
/// (filled, or expired because cash ran short). Reuse one value and
/// [`ExecutionReport::clear`] it: `on_candle` appends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionReport {
    pub fills: Vec<Fill>,
    pub closed: Vec<OrderId>,
}

impl ExecutionReport {
    pub fn clear(&mut self) {
        self.fills.clear();
        self.closed.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.fills.is_empty() && self.closed.is_empty()
    }
}

/// A simulated spot venue. The rules, each unit-tested:
///
/// - **Next candle only.** An order fills only on a candle whose open time is
///   later than the last candle the broker had seen for that symbol when the
///   order was placed, so a signal computed on candle *t* fills on *t+1* at
///   the earliest. A candle that is not newer than the last one seen (a
///   replay) fills nothing.
/// - **Market** orders fill at the open, moved against the taker by
///   `slippage_bps`, with the taker fee.
/// - **Limit** orders fill when the candle touches the limit: at the open if
///   the open is already through it, else at the limit. No slippage (a limit
///   is never filled worse than its price). Maker fee, unless the order was
///   marketable when placed (buy limit ≥ last close, sell limit ≤ last
///   close): it would have crossed the book, so taker fee.
/// - **Volume cap.** Per symbol and candle at most
///   `max_volume_participation_pct` of the candle's volume fills, shared by
///   the open orders in submission order. The remainder of a market order
///   stays open and fills at the following candles' opens (with slippage)
///   until done or canceled; a limit remainder rests until touched again.
/// - **Cash.** A buy reserves `quantity × price × (1 + fee rate)` at
///   submission (the limit price, or the last close plus slippage for a
///   market order); submission fails if free cash does not cover it. If the
///   market gaps up so that a market buy costs more than its reservation and
///   free cash, it fills the quantity cash covers (truncated to 8 dp) and the
///   remainder expires with a note.
/// - **Position.** A sell larger than the free position (held minus open
///   sells) is refused: spot is long-only.
/// - Fees are charged in quote currency, rounded to 8 dp half-up per fill.
/// - Trade ids are `paper-{orderId}-{n}`, n = 1, 2, ... per order: the same
///   inputs always give the same ids, and ids never collide across orders.
/// - Fill time is the candle's open time.
///
/// The broker is `Serialize`/`Deserialize` so a paper bot can persist it and
/// resume with its open orders and fill counters intact.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaperBroker {
    /// Serialised as the `PaperConfig` alone.
    #[serde(rename = "config")]
    terms: PaperTerms,
    cash: Money,
    holdings: Vec<PaperHolding>,
    markets: Vec<Market>,
    /// Open orders in submission order (fill priority).
    open: Vec<PaperOrder>,
    closed: closed::ClosedOrders,
    /// Open time of the newest candle seen (the broker's clock).
    clock: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaperHolding {
    symbol: Symbol,
    quantity: Quantity,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Market {
    symbol: Symbol,
    last_open_time: i64,
    last_close: Price,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaperOrder {
    state: OrderState,
    liquidity: Liquidity,
    /// Price the cash reservation of a buy is computed at.
    reserve_price: Price,
    /// Fills only on candles that open after this time.
    after: i64,
    fills: Vec<Fill>,
}

impl PaperOrder {
    fn fee_rate(&self, terms: &PaperTerms) -> Decimal {
        match self.liquidity {
            Liquidity::Taker => terms.taker_rate,
            Liquidity::Maker => terms.maker_rate,
        }
    }

    /// Cash reserved by this order's open remainder (zero for sells).
    fn reserved_cash(&self, terms: &PaperTerms) -> Money {
        if self.state.side == Side::Sell {
            return Money::ZERO;
        }
        self.reserve_price * self.state.remaining() * (Decimal::ONE + self.fee_rate(terms))
    }
}

impl PaperBroker {
    /// A paper account holding `cash` of quote currency.
    pub fn new(config: PaperConfig, cash: Money) -> Result<Self, PaperConfigError> {
        config.validate()?;
        if cash.is_sign_negative() {
            return Err(PaperConfigError {
                field: "cash",
                value: cash.value(),
                expected: "0 or more",
            });
        }
        Ok(Self {
            terms: config.into(),
            cash,
            holdings: Vec::new(),
            markets: Vec::new(),
            open: Vec::new(),
            closed: closed::ClosedOrders::default(),
            clock: i64::MIN,
        })
    }

    /// Adds a starting holding (a position carried in from elsewhere).
    pub fn with_holding(mut self, symbol: Symbol, quantity: Quantity) -> Self {
        *self.holding_mut(&symbol) += quantity;
        self
    }

    pub fn config(&self) -> &PaperConfig {
        &self.terms.config
    }

    /// Total quote currency (free + reserved).
    pub fn cash(&self) -> Money {
        self.cash
    }

    /// Cash not reserved by open buys.
    pub fn free_cash(&self) -> Money {
        (self.cash - self.locked_cash(None)).max(Money::ZERO)
    }

    /// Moves `amount` of quote currency in (> 0) or out (< 0): a capital
    /// transfer. Refused with the free cash, nothing changed, when it would
    /// take more than is free.
    pub fn transfer(&mut self, amount: Money) -> Result<(), Money> {
        let free = self.free_cash();
        if (free + amount).is_sign_negative() {
            return Err(free);
        }
        self.cash += amount;
        Ok(())
    }

    /// Total base quantity held of `symbol` (free + reserved).
    pub fn holding(&self, symbol: &Symbol) -> Quantity {
        symbol
            .index_in(&self.holdings, |h| &h.symbol)
            .map_or(Quantity::ZERO, |i| self.holdings[i].quantity)
    }

    /// Close of the last candle seen for `symbol`.
    pub fn last_price(&self, symbol: &Symbol) -> Option<Price> {
        self.market(symbol).map(|m| m.last_close)
    }

    /// Places an order. It fills on later candles (see the type's rules).
    pub fn submit(&mut self, request: OrderRequest) -> Result<OrderState, Rejection> {
        let id = request.id;
        if self.find(id).is_some() {
            return Err(Rejection::DuplicateOrderId { id });
        }
        if request.quantity.value() <= Decimal::ZERO {
            return Err(Rejection::NonPositiveQuantity {
                id,
                quantity: request.quantity,
            });
        }
        let market = self.market(&request.symbol);
        let (liquidity, reserve_price) = match request.kind {
            OrderKind::Market => {
                let Some(m) = market else {
                    return Err(Rejection::NoMarketPrice {
                        id,
                        symbol: request.symbol,
                    });
                };
                let reserve = market_price(Side::Buy, m.last_close, self.terms.slippage_rate);
                (Liquidity::Taker, reserve)
            }
            OrderKind::Limit { price } => {
                if price.value() <= Decimal::ZERO {
                    return Err(Rejection::NonPositivePrice { id, price });
                }
                let crosses =
                    market.is_some_and(|m| is_marketable(request.side, price, m.last_close));
                let liquidity = if crosses {
                    Liquidity::Taker
                } else {
                    Liquidity::Maker
                };
                (liquidity, price)
            }
        };
        let after = market.map_or(i64::MIN, |m| m.last_open_time);
        let order = PaperOrder {
            state: OrderState {
                id,
                symbol: request.symbol,
                side: request.side,
                kind: request.kind,
                quantity: request.quantity,
                status: OrderStatus::New,
                filled_quantity: Quantity::ZERO,
                filled_notional: Money::ZERO,
                fees: Money::ZERO,
                created_at: request.created_at,
                updated_at: request.created_at,
                note: None,
            },
            liquidity,
            reserve_price,
            after,
            // Most orders fill at once (no volume cap): room for that one.
            fills: Vec::with_capacity(1),
        };
        match order.state.side {
            Side::Buy => {
                let needed = order.reserved_cash(&self.terms);
                let available = self.cash - self.locked_cash(None);
                if needed > available {
                    return Err(Rejection::InsufficientCash {
                        id,
                        symbol: order.state.symbol,
                        needed,
                        available,
                    });
                }
            }
            Side::Sell => {
                let held = self.holding(&order.state.symbol);
                let available = held - self.locked_quantity(&order.state.symbol);
                if order.state.quantity > available {
                    return Err(Rejection::InsufficientPosition {
                        id,
                        symbol: order.state.symbol,
                        requested: order.state.quantity,
                        available,
                        held,
                    });
                }
            }
        }
        let state = order.state.clone();
        self.open.push(order);
        Ok(state)
    }

    /// Cancels the open remainder of an order.
    pub fn cancel(&mut self, id: OrderId) -> Result<OrderState, VenueError> {
        let Some(i) = self.open.iter().position(|o| o.state.id == id) else {
            return Err(match self.closed.get(id) {
                Some(o) => VenueError::NotOpen {
                    id,
                    status: o.state.status,
                },
                None => VenueError::UnknownOrder { id },
            });
        };
        let mut order = self.open.remove(i);
        order.state.status = OrderStatus::Canceled;
        order.state.updated_at = self.clock.max(order.state.created_at);
        let state = order.state.clone();
        self.closed.insert(order);
        Ok(state)
    }

    /// Cancels every open order (of one symbol, or all); returns their states.
    pub fn cancel_all(&mut self, symbol: Option<&Symbol>) -> Vec<OrderState> {
        let ids: Vec<OrderId> = self
            .open
            .iter()
            .filter(|o| symbol.is_none_or(|s| o.state.symbol == *s))
            .map(|o| o.state.id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.cancel(id).ok())
            .collect()
    }

    /// Forgets the orders that left the book (their fills are in the ledger
    /// and, live, in the store). A long-running bot calls it once each step is
    /// persisted, so memory and the persisted broker stay bounded; afterwards
    /// [`Self::order`] of a forgotten order is `None`. Returns how many.
    pub fn forget_closed(&mut self) -> usize {
        self.closed.clear()
    }

    /// The order with this id, open or not.
    pub fn order(&self, id: OrderId) -> Option<&OrderState> {
        self.find(id).map(|o| &o.state)
    }

    /// Open orders in submission order.
    pub fn open_orders(&self) -> impl Iterator<Item = &OrderState> {
        self.open.iter().map(|o| &o.state)
    }

    /// The fills of one order, oldest first.
    pub fn fills_of(&self, id: OrderId) -> Option<&[Fill]> {
        self.find(id).map(|o| o.fills.as_slice())
    }

    /// The fills of `symbol` at or after `since` of the orders it still
    /// holds (open and not forgotten), oldest first.
    pub fn trade_history(&self, symbol: &Symbol, since: i64) -> Vec<Fill> {
        let mut fills: Vec<Fill> = self
            .open
            .iter()
            .chain(self.closed.iter())
            .flat_map(|o| o.fills.iter())
            .filter(|f| f.symbol == *symbol && f.time >= since)
            .cloned()
            .collect();
        fills.sort_by(|a, b| (a.time, &a.trade_id).cmp(&(b.time, &b.trade_id)));
        fills
    }

    /// Free and reserved cash and holdings.
    pub fn balances(&self) -> VenueBalances {
        let locked = self.locked_cash(None).min(self.cash);
        VenueBalances {
            cash: CashBalance {
                free: self.cash - locked,
                locked,
            },
            holdings: self
                .holdings
                .iter()
                .map(|h| {
                    let locked = self.locked_quantity(&h.symbol);
                    Holding {
                        symbol: h.symbol.clone(),
                        free: h.quantity - locked,
                        locked,
                    }
                })
                .collect(),
        }
    }

    /// Cash reserved by open buy orders, leaving out open order `except`.
    fn locked_cash(&self, except: Option<usize>) -> Money {
        self.open
            .iter()
            .enumerate()
            .filter(|(j, _)| Some(*j) != except)
            .map(|(_, o)| o.reserved_cash(&self.terms))
            .sum()
    }

    /// Base quantity reserved by open sell orders of `symbol`.
    fn locked_quantity(&self, symbol: &Symbol) -> Quantity {
        self.open
            .iter()
            .filter(|o| o.state.side == Side::Sell && o.state.symbol == *symbol)
            .map(|o| o.state.remaining())
            .sum()
    }

    fn market(&self, symbol: &Symbol) -> Option<&Market> {
        // One entry per symbol: `on_candle` adds it on first sight.
        symbol
            .index_in(&self.markets, |m| &m.symbol)
            .map(|i| &self.markets[i])
            .filter(|m| m.last_open_time != i64::MIN)
    }

    fn find(&self, id: OrderId) -> Option<&PaperOrder> {
        self.open
            .iter()
            .find(|o| o.state.id == id)
            .or_else(|| self.closed.get(id))
    }

    fn holding_mut(&mut self, symbol: &Symbol) -> &mut Quantity {
        let i = match symbol.index_in(&self.holdings, |h| &h.symbol) {
            Some(i) => i,
            None => {
                self.holdings.push(PaperHolding {
                    symbol: symbol.clone(),
                    quantity: Quantity::ZERO,
                });
                self.holdings.len() - 1
            }
        };
        &mut self.holdings[i].quantity
    }
}

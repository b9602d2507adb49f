//! Why a broker refuses an order at submission. Each variant carries the
//! numbers, so the audit log and the user see what was asked and what was
//! available.

use crate::domain::{Money, OrderId, Price, Quantity, Symbol};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("order {id}: quantity {quantity} must be greater than 0")]
    NonPositiveQuantity { id: OrderId, quantity: Quantity },
    #[error("order {id}: limit price {price} must be greater than 0")]
    NonPositivePrice { id: OrderId, price: Price },
    #[error(
        "order {id}: buying {symbol} needs {needed} of quote currency (quantity × price × (1 + fee rate)) \
         but only {available} is free; reduce the quantity or cancel open buy orders"
    )]
    InsufficientCash {
        id: OrderId,
        symbol: Symbol,
        needed: Money,
        available: Money,
    },
    #[error(
        "order {id}: sells {requested} {symbol} but only {available} is free \
         (held {held}, the rest reserved by open sell orders); spot positions cannot go short"
    )]
    InsufficientPosition {
        id: OrderId,
        symbol: Symbol,
        requested: Quantity,
        available: Quantity,
        held: Quantity,
    },
    #[error(
        "order {id}: no candle seen yet for {symbol}, so a market order cannot be priced; \
         feed a candle first or use a limit order"
    )]
    NoMarketPrice { id: OrderId, symbol: Symbol },
    #[error("order {id}: an order with this id already exists; order ids are never reused")]
    DuplicateOrderId { id: OrderId },
    #[error(
        "order {id}: quantity {quantity} {symbol}, rounded down to the venue's lot step, is below \
         the minimum {min_quantity}; raise the quantity"
    )]
    BelowMinQuantity {
        id: OrderId,
        symbol: Symbol,
        quantity: Quantity,
        min_quantity: Quantity,
    },
    #[error(
        "order {id}: notional {notional} of {symbol} is below the venue's minimum {min_notional}; \
         raise the quantity"
    )]
    BelowMinNotional {
        id: OrderId,
        symbol: Symbol,
        notional: Money,
        min_notional: Money,
    },
    #[error(
        "order {id}: quantity {quantity} {symbol} is above the venue's maximum order size \
         {max_quantity}; split the order or lower the quantity"
    )]
    AboveMaxQuantity {
        id: OrderId,
        symbol: Symbol,
        quantity: Quantity,
        max_quantity: Quantity,
    },
    #[error("order {id}: {symbol} does not take this order now: {reason}")]
    NotTrading {
        id: OrderId,
        symbol: Symbol,
        reason: String,
    },
}

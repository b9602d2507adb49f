//! The paper fill rules as pure functions: fill prices, touch tests, fees.

use crate::domain::{Candle, Money, Price, Side};
use crate::ledger::MONEY_DP;
use rust_decimal::Decimal;

/// Fee of one fill: `notional × rate`, rounded to 8 dp half-up once, here,
/// so the fill, the ledger and the cash movement carry the same number
/// (8 dp is the precision Binance reports commissions in).
#[inline]
pub fn fee(notional: Money, rate: Decimal) -> Money {
    (notional * rate).round_dp(MONEY_DP)
}

/// A market order's fill price: the candle open moved against the taker by
/// the slippage rate (buys pay more, sells receive less). Exact, not rounded.
#[inline]
pub fn market_price(side: Side, open: Price, slippage_rate: Decimal) -> Price {
    match side {
        Side::Buy => open * (Decimal::ONE + slippage_rate),
        Side::Sell => open * (Decimal::ONE - slippage_rate),
    }
}

/// A limit order's fill price in this candle, if the candle touches the
/// limit: a buy fills when `low ≤ limit`, at the open if the open is already
/// at or below the limit (the better price), else at the limit; sells
/// mirror it with `high ≥ limit`. Touching (not trading through) is enough:
/// paper trading does not model the queue ahead of the order.
#[inline]
pub fn limit_price(side: Side, limit: Price, candle: &Candle) -> Option<Price> {
    match side {
        Side::Buy if candle.low <= limit => Some(candle.open.min(limit)),
        Side::Sell if candle.high >= limit => Some(candle.open.max(limit)),
        _ => None,
    }
}

/// Whether a limit order would cross the book when placed, given the last
/// traded price: such an order takes liquidity on a real venue and pays the
/// taker fee.
#[inline]
pub fn is_marketable(side: Side, limit: Price, last: Price) -> bool {
    match side {
        Side::Buy => limit >= last,
        Side::Sell => limit <= last,
    }
}

//! Matching open paper orders against a closed candle.

use super::{ExecutionReport, Market, PaperBroker, QUANTITY_DP};
use crate::domain::decimal_text::push_u64;
use crate::domain::{
    Candle, Fill, Money, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use crate::execution::matching::{fee, limit_price, market_price};
use rust_decimal::{Decimal, RoundingStrategy};

impl PaperBroker {
    /// Matches the open orders of `symbol` against `candle` and appends the
    /// fills and finished orders to `report`. Call it when the candle closes,
    /// before the strategy sees the candle (so orders placed on this candle
    /// wait for the next one). No allocation when no order is open.
    pub fn on_candle(&mut self, symbol: &Symbol, candle: &Candle, report: &mut ExecutionReport) {
        let m = match symbol.index_in(&self.markets, |m| &m.symbol) {
            Some(i) => &mut self.markets[i],
            None => {
                self.markets.push(Market {
                    symbol: symbol.clone(),
                    last_open_time: i64::MIN,
                    last_close: candle.close,
                });
                self.markets.last_mut().expect("just pushed")
            }
        };
        if candle.open_time <= m.last_open_time {
            return;
        }
        m.last_open_time = candle.open_time;
        m.last_close = candle.close;
        self.clock = self.clock.max(candle.open_time);
        if self.open.is_empty() {
            return;
        }
        let mut budget = self
            .terms
            .config
            .max_volume_participation_pct
            .map(|pct| Quantity::new(candle.volume.value() * pct / Decimal::ONE_HUNDRED));
        let mut i = 0;
        while i < self.open.len() {
            if self.match_order(i, symbol, candle, &mut budget, report) {
                let order = self.open.remove(i);
                report.closed.push(order.state.id);
                self.closed.insert(order);
            } else {
                i += 1;
            }
        }
    }

    /// Tries to fill open order `i`; returns true when it left the book.
    fn match_order(
        &mut self,
        i: usize,
        symbol: &Symbol,
        candle: &Candle,
        budget: &mut Option<Quantity>,
        report: &mut ExecutionReport,
    ) -> bool {
        let order = &self.open[i];
        if order.state.symbol != *symbol || candle.open_time <= order.after {
            return false;
        }
        let side = order.state.side;
        let price = match order.state.kind {
            OrderKind::Market => market_price(side, candle.open, self.terms.slippage_rate),
            OrderKind::Limit { price } => match limit_price(side, price, candle) {
                Some(p) => p,
                None => return false,
            },
        };
        let mut quantity = order.state.remaining();
        if let Some(b) = budget {
            quantity = quantity.min(*b);
        }
        if quantity.value() <= Decimal::ZERO {
            return false;
        }
        let rate = order.fee_rate(&self.terms);
        let mut cash_short = false;
        if side == Side::Buy {
            let available = self.cash - self.locked_cash(Some(i));
            let cost = |q: Quantity| {
                let n = price * q;
                n + fee(n, rate)
            };
            if cost(quantity) > available {
                cash_short = true;
                quantity = affordable(available, price, rate);
                while quantity.value() > Decimal::ZERO && cost(quantity) > available {
                    quantity -= Quantity::from_scaled(1, QUANTITY_DP);
                }
            }
        }
        let time = candle.open_time;
        let order = &mut self.open[i];
        if quantity.value() > Decimal::ZERO {
            let notional = price * quantity;
            let fill_fee = fee(notional, rate);
            let fill = Fill {
                trade_id: paper_trade_id(order.state.id, order.fills.len() + 1),
                order_id: order.state.id,
                symbol: order.state.symbol.clone(),
                side,
                price,
                quantity,
                fee: fill_fee,
                liquidity: order.liquidity,
                time,
            };
            order.state.filled_quantity += quantity;
            order.state.filled_notional += notional;
            order.state.fees += fill_fee;
            order.state.updated_at = time;
            order.state.status = if order.state.remaining().is_zero() {
                OrderStatus::Filled
            } else {
                OrderStatus::PartiallyFilled
            };
            order.fills.push(fill.clone());
            report.fills.push(fill);
            if let Some(b) = budget {
                *b -= quantity;
            }
            match side {
                Side::Buy => {
                    self.cash -= notional + fill_fee;
                    *self.holding_mut(symbol) += quantity;
                }
                Side::Sell => {
                    self.cash += notional - fill_fee;
                    *self.holding_mut(symbol) -= quantity;
                }
            }
        }
        let order = &mut self.open[i];
        if cash_short && !order.state.remaining().is_zero() {
            order.state.status = OrderStatus::Expired;
            order.state.updated_at = time;
            order.state.note = Some(format!(
                "remaining {} expired: at {} the cash left could not pay for it",
                order.state.remaining(),
                price
            ));
        }
        !order.state.status.is_open()
    }
}

/// `paper-{order}-{n}`, the `n`th fill's trade id (see [`PaperBroker`]),
/// without the formatting machinery: one is made per fill.
fn paper_trade_id(order: OrderId, n: usize) -> String {
    let mut id = String::with_capacity(24);
    id.push_str("paper-");
    push_u64(&mut id, order.0);
    id.push('-');
    push_u64(&mut id, n as u64);
    id
}

/// The largest quantity (truncated to 8 dp) whose cost, fee included, fits
/// in `cash` at `price`.
fn affordable(cash: Money, price: Price, rate: Decimal) -> Quantity {
    if cash.value() <= Decimal::ZERO {
        return Quantity::ZERO;
    }
    let q = cash.value() / (price.value() * (Decimal::ONE + rate));
    Quantity::new(q.round_dp_with_strategy(QUANTITY_DP, RoundingStrategy::ToZero))
}

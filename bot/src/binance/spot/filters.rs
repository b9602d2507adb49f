//! `exchangeInfo` filters applied before an order is sent, so the venue's
//! `-1013 Filter failure` becomes a typed refusal with the numbers instead of
//! a round trip: quantity rounded down to the lot step, limit price rounded
//! to the tick (down for buys, up for sells: never a worse price than asked),
//! and the minimum quantity and notional enforced.

use crate::domain::{OrderKind, OrderRequest, Price, Quantity};
use crate::execution::{Rejection, SymbolRules};
use rust_decimal::Decimal;

/// `value` rounded down to a multiple of `step` (unchanged when `step` is 0).
fn floor_to(value: Decimal, step: Decimal) -> Decimal {
    if step.is_zero() {
        return value;
    }
    ((value / step).floor() * step).normalize()
}

fn ceil_to(value: Decimal, step: Decimal) -> Decimal {
    if step.is_zero() {
        return value;
    }
    ((value / step).ceil() * step).normalize()
}

/// The order as it will be sent, or why the venue would refuse it.
/// `reference_price` prices a market order for the notional check (the last
/// close); without one a market order's notional is not checked here.
pub fn apply_filters(
    order: &OrderRequest,
    rules: &SymbolRules,
    reference_price: Option<Price>,
) -> Result<OrderRequest, Rejection> {
    let mut out = order.clone();
    let qty = Quantity::new(floor_to(order.quantity.value(), rules.step_size.value()));
    if qty.is_zero() || qty < rules.min_quantity {
        return Err(Rejection::BelowMinQuantity {
            id: order.id,
            symbol: order.symbol.clone(),
            quantity: qty,
            min_quantity: rules.min_quantity,
        });
    }
    out.quantity = qty;
    let price = match order.kind {
        OrderKind::Limit { price } => {
            let tick = rules.tick_size.value();
            let rounded = match order.side {
                crate::domain::Side::Buy => floor_to(price.value(), tick),
                crate::domain::Side::Sell => ceil_to(price.value(), tick),
            };
            if rounded <= Decimal::ZERO {
                return Err(Rejection::NonPositivePrice {
                    id: order.id,
                    price: Price::new(rounded),
                });
            }
            out.kind = OrderKind::Limit {
                price: Price::new(rounded),
            };
            Some(Price::new(rounded))
        }
        OrderKind::Market => reference_price,
    };
    if let Some(price) = price {
        let notional = price * qty;
        if notional < rules.min_notional {
            return Err(Rejection::BelowMinNotional {
                id: order.id,
                symbol: order.symbol.clone(),
                notional,
                min_notional: rules.min_notional,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, OrderId, Side, Symbol};
    use rust_decimal_macros::dec;

    fn rules() -> SymbolRules {
        SymbolRules {
            symbol: Symbol::new("BTCUSDT"),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            tick_size: Price::new(dec!(0.01)),
            step_size: Quantity::new(dec!(0.00001)),
            min_quantity: Quantity::new(dec!(0.00001)),
            min_notional: Money::new(dec!(5)),
        }
    }

    fn order(side: Side, kind: OrderKind, qty: Decimal) -> OrderRequest {
        OrderRequest {
            id: OrderId(1),
            symbol: Symbol::new("BTCUSDT"),
            side,
            kind,
            quantity: Quantity::new(qty),
            reason: "t".into(),
            created_at: 0,
        }
    }

    #[test]
    fn rounds_quantity_down_and_price_towards_the_better_side() {
        let limit = OrderKind::Limit {
            price: Price::new(dec!(50000.127)),
        };
        let buy =
            apply_filters(&order(Side::Buy, limit, dec!(0.123456789)), &rules(), None).unwrap();
        assert_eq!(buy.quantity, Quantity::new(dec!(0.12345)));
        assert_eq!(
            buy.kind,
            OrderKind::Limit {
                price: Price::new(dec!(50000.12))
            }
        );
        let sell = apply_filters(&order(Side::Sell, limit, dec!(0.1)), &rules(), None).unwrap();
        assert_eq!(
            sell.kind,
            OrderKind::Limit {
                price: Price::new(dec!(50000.13))
            }
        );
    }

    #[test]
    fn refuses_below_minimum_quantity_and_notional_with_numbers() {
        let err = apply_filters(
            &order(Side::Buy, OrderKind::Market, dec!(0.000009)),
            &rules(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, Rejection::BelowMinQuantity { .. }), "{err}");
        let err = apply_filters(
            &order(Side::Buy, OrderKind::Market, dec!(0.00009)),
            &rules(),
            Some(Price::new(dec!(50000))),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Rejection::BelowMinNotional {
                id: OrderId(1),
                symbol: Symbol::new("BTCUSDT"),
                notional: Money::new(dec!(4.5)),
                min_notional: Money::new(dec!(5)),
            }
        );
        assert!(err.to_string().contains("minimum 5"), "{err}");
        // Exactly the minimum passes.
        assert!(
            apply_filters(
                &order(Side::Buy, OrderKind::Market, dec!(0.0001)),
                &rules(),
                Some(Price::new(dec!(50000)))
            )
            .is_ok()
        );
    }
}

//! A product's order rules (`GET /api/v3/brokerage/products/{id}`:
//! `base_increment`, `price_increment`/`quote_increment`, `base_min_size`,
//! `base_max_size`, `quote_min_size`, and the trading flags), applied
//! before an order is sent: the same rounding as Binance's filters
//! (quantity down to the base increment, a limit price to the tick on the
//! better side), then the maximum size and the product's status.

use crate::binance::spot::apply_filters;
use crate::domain::{OrderKind, OrderRequest, Price, Quantity};
use crate::execution::{Rejection, SymbolRules};
use rust_decimal::Decimal;

/// A product's rules. `rules` holds what every venue has (tick, step,
/// minimums); the rest is Coinbase's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRules {
    pub rules: SymbolRules,
    pub quote_increment: Price,
    pub base_max_size: Quantity,
    /// `online`, `offline`, `delisted`, ...
    pub status: String,
    pub trading_disabled: bool,
    pub cancel_only: bool,
    pub limit_only: bool,
    pub post_only: bool,
}

/// The order as it will be sent, or why Coinbase would refuse it.
pub fn apply_product_rules(
    order: &OrderRequest,
    product: &ProductRules,
    reference_price: Option<Price>,
) -> Result<OrderRequest, Rejection> {
    let not_trading = |reason: &str| Rejection::NotTrading {
        id: order.id,
        symbol: order.symbol.clone(),
        reason: reason.to_string(),
    };
    if product.trading_disabled || !product.status.eq_ignore_ascii_case("online") {
        return Err(not_trading(&format!(
            "the product is {} (trading disabled: {})",
            product.status, product.trading_disabled
        )));
    }
    if product.cancel_only {
        return Err(not_trading("the product is in cancel-only mode"));
    }
    if product.limit_only && order.kind == OrderKind::Market {
        return Err(not_trading(
            "the product is in limit-only mode; a market order would be refused",
        ));
    }
    if product.post_only && order.kind == OrderKind::Market {
        return Err(not_trading(
            "the product is in post-only mode; a market order would be refused",
        ));
    }
    let out = apply_filters(order, &product.rules, reference_price)?;
    if product.base_max_size.value() > Decimal::ZERO && out.quantity > product.base_max_size {
        return Err(Rejection::AboveMaxQuantity {
            id: order.id,
            symbol: order.symbol.clone(),
            quantity: out.quantity,
            max_quantity: product.base_max_size,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coinbase::trade::parse::parse_product;
    use crate::domain::{OrderId, Side, Symbol};
    use rust_decimal_macros::dec;

    fn product() -> ProductRules {
        parse_product(
            include_str!("../../../tests/fixtures/coinbase/get_product.json"),
            &Symbol::new("BTC-USD"),
        )
        .unwrap()
    }

    fn order(side: Side, kind: OrderKind, qty: Decimal) -> OrderRequest {
        OrderRequest {
            id: OrderId(1),
            symbol: Symbol::new("BTC-USD"),
            side,
            kind,
            quantity: Quantity::new(qty),
            reason: "t".into(),
            created_at: 0,
        }
    }

    #[test]
    fn rounds_to_the_increments_and_enforces_min_and_max_sizes() {
        let p = product();
        let limit = OrderKind::Limit {
            price: Price::new(dec!(50000.127)),
        };
        let buy =
            apply_product_rules(&order(Side::Buy, limit, dec!(0.123456789123)), &p, None).unwrap();
        assert_eq!(buy.quantity, Quantity::new(dec!(0.12345678)));
        assert_eq!(
            buy.kind,
            OrderKind::Limit {
                price: Price::new(dec!(50000.12))
            }
        );
        let err = apply_product_rules(&order(Side::Buy, OrderKind::Market, dec!(3400.5)), &p, None)
            .unwrap_err();
        assert!(matches!(err, Rejection::AboveMaxQuantity { .. }), "{err}");
        assert!(err.to_string().contains("maximum order size 3400"), "{err}");
        // quote_min_size 1: 0.00001 BTC at 50 000 is 0.5 USD.
        let err = apply_product_rules(
            &order(Side::Buy, OrderKind::Market, dec!(0.00001)),
            &p,
            Some(Price::new(dec!(50000))),
        )
        .unwrap_err();
        assert!(matches!(err, Rejection::BelowMinNotional { .. }), "{err}");
    }

    #[test]
    fn a_product_not_trading_refuses_with_the_reason() {
        let mut p = product();
        p.limit_only = true;
        let err = apply_product_rules(&order(Side::Buy, OrderKind::Market, dec!(0.1)), &p, None)
            .unwrap_err();
        assert!(err.to_string().contains("limit-only"), "{err}");
        p.limit_only = false;
        p.status = "delisted".into();
        let err = apply_product_rules(&order(Side::Buy, OrderKind::Market, dec!(0.1)), &p, None)
            .unwrap_err();
        assert!(err.to_string().contains("delisted"), "{err}");
    }
}

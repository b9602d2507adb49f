//! The parsers against Coinbase's documented example responses
//! (bot/tests/fixtures/coinbase, sources in its README).

use super::parse::*;
use crate::binance::spot::ClientOrderIds;
use crate::domain::{
    Liquidity, Money, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use crate::execution::SymbolRules;
use rust_decimal_macros::dec;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/coinbase/", $name))
    };
}

fn ids() -> ClientOrderIds {
    ClientOrderIds::new("bot1")
}

#[test]
fn get_order_parses_the_documented_example() {
    // The documented client id is not one of this bot's: ignored.
    assert_eq!(
        parse_get_order(fixture!("get_order.json"), &ids()).unwrap(),
        None
    );
    let ours = fixture!("get_order.json").replace("11111-000000-000000", "bot1-42");
    let (state, venue_id) = parse_get_order(&ours, &ids()).unwrap().unwrap();
    assert_eq!(venue_id, "0000-000000-000000");
    assert_eq!(state.id, OrderId(42));
    assert_eq!(state.symbol, Symbol::new("BTC-USD"));
    assert_eq!(state.side, Side::Buy);
    assert_eq!(
        state.kind,
        OrderKind::Limit {
            price: Price::new(dec!(10000.00))
        }
    );
    assert_eq!(state.quantity, Quantity::new(dec!(0.001)));
    // OPEN with something filled.
    assert_eq!(state.status, OrderStatus::PartiallyFilled);
    assert_eq!(state.filled_quantity, Quantity::new(dec!(0.001)));
    assert_eq!(state.filled_notional, Money::new(dec!(10000)));
    assert_eq!(state.fees, Money::new(dec!(5.00)));
    assert_eq!(state.created_at, 1_622_455_199_000);
}

#[test]
fn list_orders_keeps_this_bots_orders_and_the_cursor() {
    let (orders, cursor) = parse_list_orders(fixture!("list_orders.json"), &ids()).unwrap();
    assert_eq!(orders.len(), 1, "the web order is not this bot's");
    let (state, venue_id) = &orders[0];
    assert_eq!(venue_id, "0000-000000-000001");
    assert_eq!(state.id, OrderId(7));
    assert_eq!(state.kind, OrderKind::Market);
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(state.fees, Money::new(dec!(0.3)));
    assert_eq!(state.updated_at, 1_622_455_200_000);
    assert_eq!(cursor.as_deref(), Some("789100"));
}

#[test]
fn create_order_success_and_failure() {
    assert_eq!(
        parse_create_order(fixture!("create_order_success.json")).unwrap(),
        CreateOutcome::Accepted {
            order_id: "11111-00000-000000".into()
        }
    );
    match parse_create_order(fixture!("create_order_failure.json")).unwrap() {
        CreateOutcome::Refused {
            error,
            message,
            reason,
        } => {
            assert_eq!(error, "INSUFFICIENT_FUND");
            assert_eq!(message, "Insufficient balance in source account");
            assert_eq!(reason, "PREVIEW_INSUFFICIENT_FUND");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn fills_are_exact_and_belong_to_the_order() {
    let (fills, cursor) = parse_fills(fixture!("list_fills.json"), |v| {
        (v == "0000-000000-000000").then_some(OrderId(3))
    })
    .unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(f.trade_id, "1111-11111-111111");
    assert_eq!(f.order_id, OrderId(3));
    assert_eq!(f.price, Price::new(dec!(10000.00)));
    assert_eq!(f.quantity, Quantity::new(dec!(0.001)));
    assert_eq!(f.fee, Money::new(dec!(1.25)));
    assert_eq!(f.liquidity, Liquidity::Taker);
    assert_eq!(cursor.as_deref(), Some("789100"));
    // Another order's fills are not this order's.
    let (none, _) = parse_fills(fixture!("list_fills.json"), |v| {
        (v == "other").then_some(OrderId(3))
    })
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn cancel_results_accounts_fee_tier_product_and_errors() {
    let results = parse_cancel(fixture!("cancel_orders.json")).unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].success);
    assert!(!results[1].success);
    assert_eq!(results[1].failure_reason, "UNKNOWN_CANCEL_ORDER");

    let (accounts, cursor) = parse_accounts(fixture!("list_accounts.json")).unwrap();
    assert_eq!(cursor, None, "has_next is false");
    let rules = vec![SymbolRules {
        symbol: Symbol::new("BTC-USD"),
        base_asset: "BTC".into(),
        quote_asset: "USD".into(),
        tick_size: Price::new(dec!(0.01)),
        step_size: Quantity::new(dec!(0.00000001)),
        min_quantity: Quantity::new(dec!(0.00000001)),
        min_notional: Money::new(dec!(1)),
    }];
    let b = balances_from_accounts(&accounts, &rules);
    assert_eq!(b.cash.free, Money::new(dec!(1000.50)));
    assert_eq!(b.cash.locked, Money::new(dec!(20)));
    assert_eq!(b.holdings[0].free, Quantity::new(dec!(1.23)));
    assert_eq!(b.holdings[0].locked, Quantity::new(dec!(0.01)));

    let tier = parse_transaction_summary(fixture!("transaction_summary.json")).unwrap();
    assert_eq!(tier.taker_rate, dec!(0.0010));
    assert_eq!(tier.maker_rate, dec!(0.0020));

    let p = parse_product(fixture!("get_product.json"), &Symbol::new("BTC-USD")).unwrap();
    assert_eq!(p.rules.base_asset, "BTC");
    assert_eq!(p.rules.quote_asset, "USD");
    assert_eq!(p.rules.tick_size, Price::new(dec!(0.01)));
    assert_eq!(p.rules.step_size, Quantity::new(dec!(0.00000001)));
    assert_eq!(p.rules.min_notional, Money::new(dec!(1)));
    assert_eq!(p.base_max_size, Quantity::new(dec!(3400)));
    assert!(parse_product(fixture!("get_product.json"), &Symbol::new("ETH-USD")).is_err());

    let e = parse_error_body(fixture!("error_body.json")).unwrap();
    assert_eq!(e.error, "NOT_FOUND");
    assert!(e.message.contains("not found"));
    assert_eq!(parse_error_body("<html>bad gateway</html>"), None);
}

#[test]
fn malformed_input_names_the_field_and_never_panics() {
    let err = parse_get_order(r#"{"order": {"client_order_id": "bot1-1"}}"#, &ids()).unwrap_err();
    assert!(err.to_string().contains("order_id"), "{err}");
    let broken = fixture!("get_order.json")
        .replace("11111-000000-000000", "bot1-1")
        .replace("\"filled_size\": \"0.001\"", "\"filled_size\": \"lots\"");
    let err = parse_get_order(&broken, &ids()).unwrap_err();
    assert!(err.to_string().contains("filled_size"), "{err}");
    for garbage in ["", "null", "[]", "{", r#"{"fills": 3}"#] {
        let _ = parse_fills(garbage, |_| Some(OrderId(1)));
        let _ = parse_list_orders(garbage, &ids());
        let _ = parse_cancel(garbage);
        let _ = parse_accounts(garbage);
        let _ = parse_create_order(garbage);
    }
}

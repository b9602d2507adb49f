//! The parsers against Binance's documented examples, and a property test:
//! whatever the network sends, a typed error or a value, never a panic.

use super::parse::*;
use super::sign::ClientOrderIds;
use crate::domain::{
    Liquidity, Money, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use crate::execution::SymbolRules;
use proptest::prelude::*;
use rust_decimal_macros::dec;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/binance/", $name))
    };
}

fn ids() -> ClientOrderIds {
    ClientOrderIds::new("bot")
}

fn btcusdt() -> SymbolRules {
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

#[test]
fn full_submit_response_gives_state_fills_and_fees() {
    let rules = btcusdt();
    let (state, venue_id, fills) =
        parse_order_body(fixture!("order_full.json"), &ids(), Some(&rules)).unwrap();
    assert_eq!(venue_id, 28);
    assert_eq!(state.id, OrderId(28));
    assert_eq!(state.side, Side::Sell);
    assert_eq!(state.kind, OrderKind::Market);
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(state.quantity, Quantity::new(dec!(10)));
    assert_eq!(state.filled_quantity, Quantity::new(dec!(10)));
    assert_eq!(state.created_at, 1507725176595);
    assert_eq!(state.fees, Money::new(dec!(39.983)));
    assert_eq!(fills.len(), 5);
    assert_eq!(fills[1].trade_id, "57");
    assert_eq!(fills[1].price, Price::new(dec!(3999)));
    assert_eq!(fills[1].quantity, Quantity::new(dec!(5)));
    assert_eq!(fills[1].fee, Money::new(dec!(19.995)));
    assert_eq!(fills[1].liquidity, Liquidity::Taker);
    let total: Quantity = fills.iter().map(|f| f.quantity).sum();
    assert_eq!(total, state.filled_quantity);
}

#[test]
fn query_and_cancel_responses() {
    let (state, venue_id, fills) =
        parse_order_body(fixture!("order_query.json"), &ids(), None).unwrap();
    assert_eq!((state.id, venue_id), (OrderId(1), 1));
    assert_eq!(
        state.kind,
        OrderKind::Limit {
            price: Price::new(dec!(0.1))
        }
    );
    assert_eq!(state.status, OrderStatus::New);
    assert!(state.is_open());
    assert!(fills.is_empty());
    // DELETE: the order's id is `origClientOrderId`, not the cancel's `clientOrderId`.
    let (state, venue_id, _) =
        parse_order_body(fixture!("order_cancel.json"), &ids(), None).unwrap();
    assert_eq!((state.id, venue_id), (OrderId(1), 4));
    assert_eq!(state.status, OrderStatus::Canceled);
    assert_eq!(state.updated_at, 1684804350068);
}

#[test]
fn open_orders_skip_orders_of_others() {
    let orders = parse_open_orders(fixture!("open_orders.json"), &ids()).unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, OrderId(1));
    assert_eq!(orders[0].symbol, Symbol::new("LTCBTC"));
}

#[test]
fn account_maps_quote_to_cash_and_bases_to_holdings() {
    let rules = SymbolRules {
        symbol: Symbol::new("LTCBTC"),
        base_asset: "LTC".into(),
        quote_asset: "BTC".into(),
        ..btcusdt()
    };
    let eth = SymbolRules {
        symbol: Symbol::new("ETHBTC"),
        base_asset: "ETH".into(),
        quote_asset: "BTC".into(),
        ..btcusdt()
    };
    let b = parse_account(fixture!("account.json"), &[rules, eth]).unwrap();
    assert_eq!(b.cash.free, Money::new(dec!(4723846.89208129)));
    assert_eq!(b.cash.locked, Money::ZERO);
    assert_eq!(b.holdings[0].free, Quantity::new(dec!(4763368.68006011)));
    // An asset the account does not hold is zero, not an error.
    assert_eq!(b.holdings[1].total(), Quantity::ZERO);
}

#[test]
fn my_trades_become_fills() {
    let fills = parse_my_trades(fixture!("my_trades.json"), OrderId(9), None).unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(f.trade_id, "28457");
    assert_eq!(f.order_id, OrderId(9));
    assert_eq!(f.side, Side::Buy);
    assert_eq!(f.liquidity, Liquidity::Taker);
    assert_eq!(f.price, Price::new(dec!(4.000001)));
    assert_eq!(f.time, 1499865549590);
    // Paid in BNB for a BNBBTC trade: the base asset, valued at the price.
    let rules = SymbolRules {
        symbol: Symbol::new("BNBBTC"),
        base_asset: "BNB".into(),
        quote_asset: "BTC".into(),
        ..btcusdt()
    };
    let fills = parse_my_trades(fixture!("my_trades.json"), OrderId(9), Some(&rules)).unwrap();
    assert_eq!(fills[0].fee, Money::new(dec!(10.1) * dec!(4.000001)));
}

#[test]
fn exchange_info_filters_and_server_time() {
    let rules = parse_symbol_rules(fixture!("exchange_info.json"), &Symbol::new("ETHBTC")).unwrap();
    assert_eq!(rules.base_asset, "ETH");
    assert_eq!(rules.quote_asset, "BTC");
    assert_eq!(rules.tick_size, Price::new(dec!(0.000001)));
    assert_eq!(rules.step_size, Quantity::new(dec!(0.001)));
    assert_eq!(rules.min_quantity, Quantity::new(dec!(0.001)));
    assert_eq!(rules.min_notional, Money::new(dec!(10)));
    let err =
        parse_symbol_rules(fixture!("exchange_info.json"), &Symbol::new("BTCUSDT")).unwrap_err();
    assert!(err.to_string().contains("no entry for BTCUSDT"), "{err}");
    // The older MIN_NOTIONAL filter is read too.
    let older = fixture!("exchange_info.json").replace(
        r#"{"filterType": "NOTIONAL", "minNotional": "10.00000000""#,
        r#"{"filterType": "MIN_NOTIONAL", "minNotional": "0.00100000""#,
    );
    let rules = parse_symbol_rules(&older, &Symbol::new("ETHBTC")).unwrap();
    assert_eq!(rules.min_notional, Money::new(dec!(0.001)));
    assert_eq!(
        parse_server_time(fixture!("server_time.json")).unwrap(),
        1499827319559
    );
}

#[test]
fn errors_name_the_field() {
    let body = fixture!("order_query.json").replace(r#""origQty": "1.0""#, r#""origQty": 1.0"#);
    let err = parse_order_body(&body, &ids(), None).unwrap_err();
    assert!(err.to_string().contains("origQty"), "{err}");
    let body = fixture!("order_query.json").replace(r#""status": "NEW""#, r#""status": "WEIRD""#);
    let err = parse_order_body(&body, &ids(), None).unwrap_err();
    assert!(err.to_string().contains("status"), "{err}");
    let body = fixture!("order_query.json").replace("\"bot-1\"", "\"other\"");
    let err = parse_order_body(&body, &ids(), None).unwrap_err();
    assert!(
        err.to_string().contains("not an order of this bot"),
        "{err}"
    );
}

/// A JSON value: the fixtures' own values mutated, or arbitrary.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let keys: Vec<String> = serde_json::from_str::<serde_json::Value>(base)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default();
    let junk = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!("-1")),
        Just(serde_json::json!("1e400")),
    ];
    (proptest::sample::select(keys), junk, any::<bool>()).prop_map(move |(key, value, remove)| {
        let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
        let o = v.as_object_mut().unwrap();
        if remove {
            o.remove(&key);
        } else {
            o.insert(key, value);
        }
        v.to_string()
    })
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in ".{0,200}") {
        let rules = btcusdt();
        let _ = parse_order_body(&body, &ids(), Some(&rules));
        let _ = parse_open_orders(&body, &ids());
        let _ = parse_account(&body, std::slice::from_ref(&rules));
        let _ = parse_my_trades(&body, OrderId(1), Some(&rules));
        let _ = parse_symbol_rules(&body, &rules.symbol);
        let _ = parse_server_time(&body);
    }

    #[test]
    fn mutated_orders_give_typed_errors_or_values(body in mutated(fixture!("order_full.json"))) {
        let rules = btcusdt();
        match parse_order_body(&body, &ids(), Some(&rules)) {
            Ok((state, _, _)) => prop_assert_eq!(state.id, OrderId(28)),
            Err(e) => prop_assert!(!e.context.is_empty()),
        }
    }

    #[test]
    fn mutated_exchange_info_and_account_never_panic(
        info in mutated(fixture!("exchange_info.json")),
        account in mutated(fixture!("account.json")),
        query in mutated(fixture!("order_query.json")),
    ) {
        let _ = parse_symbol_rules(&info, &Symbol::new("ETHBTC"));
        let _ = parse_account(&account, &[btcusdt()]);
        let _ = parse_order_body(&query, &ids(), None);
    }
}

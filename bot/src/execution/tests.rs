use super::*;
use crate::domain::{
    Candle, Liquidity, Money, OrderId, OrderKind, OrderRequest, OrderStatus, Price, Quantity, Side,
    Symbol,
};
use rust_decimal_macros::dec;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT")
}

fn p(s: &str) -> Price {
    s.parse().unwrap()
}

fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

/// Candle `n` (open time n minutes) with OHLC and volume.
fn candle(n: i64, o: &str, h: &str, l: &str, c: &str, v: &str) -> Candle {
    Candle {
        open_time: n * 60_000,
        open: p(o),
        high: p(h),
        low: p(l),
        close: p(c),
        volume: q(v),
    }
}

fn order(id: u64, side: Side, kind: OrderKind, qty: &str) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        symbol: btc(),
        side,
        kind,
        quantity: q(qty),
        reason: "test".into(),
        created_at: 0,
    }
}

fn market(id: u64, side: Side, qty: &str) -> OrderRequest {
    order(id, side, OrderKind::Market, qty)
}

fn limit(id: u64, side: Side, price: &str, qty: &str) -> OrderRequest {
    order(id, side, OrderKind::Limit { price: p(price) }, qty)
}

/// No fees, no slippage, no volume cap: isolates one rule at a time.
fn frictionless() -> PaperConfig {
    PaperConfig {
        taker_fee_bps: dec!(0),
        maker_fee_bps: dec!(0),
        slippage_bps: dec!(0),
        max_volume_participation_pct: None,
    }
}

fn broker(config: PaperConfig, cash: &str) -> PaperBroker {
    PaperBroker::new(config, m(cash)).unwrap()
}

fn feed(b: &mut PaperBroker, c: &Candle) -> ExecutionReport {
    let mut r = ExecutionReport::default();
    b.on_candle(&btc(), c, &mut r);
    r
}

#[test]
fn market_order_fills_at_the_next_candle_open_never_the_signal_candle() {
    let mut b = broker(frictionless(), "10000");
    let signal = candle(0, "100", "105", "95", "102", "50");
    assert!(feed(&mut b, &signal).is_empty());
    b.submit(market(1, Side::Buy, "1")).unwrap();
    // The signal candle delivered again (a replay) fills nothing.
    assert!(feed(&mut b, &signal).is_empty());
    assert_eq!(b.order(OrderId(1)).unwrap().status, OrderStatus::New);
    let r = feed(&mut b, &candle(1, "103", "110", "90", "104", "50"));
    assert_eq!(r.fills.len(), 1);
    let f = &r.fills[0];
    assert_eq!((f.price, f.quantity, f.time), (p("103"), q("1"), 60_000));
    assert_eq!(f.liquidity, Liquidity::Taker);
    assert_eq!(r.closed, vec![OrderId(1)]);
    assert_eq!(b.order(OrderId(1)).unwrap().status, OrderStatus::Filled);
    assert_eq!(b.cash(), m("9897"));
    assert_eq!(b.holding(&btc()), q("1"));
}

#[test]
fn slippage_moves_market_fills_against_the_taker() {
    let config = PaperConfig {
        slippage_bps: dec!(5),
        ..frictionless()
    };
    let mut b = broker(config, "10000").with_holding(btc(), q("1"));
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(market(1, Side::Buy, "1")).unwrap();
    b.submit(market(2, Side::Sell, "1")).unwrap();
    let r = feed(&mut b, &candle(1, "200", "200", "200", "200", "50"));
    assert_eq!(r.fills[0].price, p("200.1")); // 200 × 1.0005
    assert_eq!(r.fills[1].price, p("199.9")); // 200 × 0.9995
}

#[test]
fn limit_buy_fills_when_touched_at_the_limit_or_the_better_open() {
    let mut b = broker(frictionless(), "10000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(limit(1, Side::Buy, "95", "1")).unwrap();
    // Low 96: not touched, stays open.
    assert!(feed(&mut b, &candle(1, "100", "101", "96", "99", "50")).is_empty());
    assert_eq!(b.open_orders().count(), 1);
    // Low exactly 95 touches: fills at the limit.
    let r = feed(&mut b, &candle(2, "99", "100", "95", "97", "50"));
    assert_eq!(
        (r.fills[0].price, r.fills[0].liquidity),
        (p("95"), Liquidity::Maker)
    );
    // Open already through the limit: fills at the open.
    b.submit(limit(2, Side::Buy, "95", "1")).unwrap();
    let r = feed(&mut b, &candle(3, "90", "96", "89", "92", "50"));
    assert_eq!(r.fills[0].price, p("90"));
}

#[test]
fn limit_sell_fills_when_touched() {
    let mut b = broker(frictionless(), "0").with_holding(btc(), q("2"));
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(limit(1, Side::Sell, "110", "1")).unwrap();
    b.submit(limit(2, Side::Sell, "105", "1")).unwrap();
    assert!(feed(&mut b, &candle(1, "100", "104.99", "99", "101", "50")).is_empty());
    let r = feed(&mut b, &candle(2, "101", "110", "100", "108", "50"));
    let prices: Vec<_> = r.fills.iter().map(|f| (f.order_id, f.price)).collect();
    assert_eq!(prices, vec![(OrderId(1), p("110")), (OrderId(2), p("105"))]);
    assert_eq!(b.cash(), m("215"));
    assert_eq!(b.holding(&btc()), Quantity::ZERO);
}

#[test]
fn maker_and_taker_fees_differ_and_round_to_8_dp_half_up() {
    let config = PaperConfig {
        taker_fee_bps: dec!(10),
        maker_fee_bps: dec!(2),
        ..frictionless()
    };
    let mut b = broker(config, "10000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(market(1, Side::Buy, "0.123456789")).unwrap();
    b.submit(limit(2, Side::Buy, "99", "1")).unwrap();
    // A buy limit above the last close crosses the book: taker.
    b.submit(limit(3, Side::Buy, "101", "1")).unwrap();
    let r = feed(&mut b, &candle(1, "100", "100", "98", "99", "50"));
    let by_id = |id| r.fills.iter().find(|f| f.order_id == OrderId(id)).unwrap();
    // 12.3456789 × 0.001 = 0.0123456789 → 0.01234568 (half-up at the 9th dp).
    assert_eq!(by_id(1).fee, m("0.01234568"));
    assert_eq!(by_id(1).liquidity, Liquidity::Taker);
    assert_eq!(by_id(2).fee, m("0.0198")); // 99 × 0.0002
    assert_eq!(by_id(2).liquidity, Liquidity::Maker);
    assert_eq!(by_id(3).fee, m("0.1")); // filled at the open 100, taker 10 bps
    assert_eq!(by_id(3).liquidity, Liquidity::Taker);
    assert_eq!(fee(m("0.000000005"), dec!(1)), m("0.00000001"));
    assert_eq!(fee(m("0.0000000049"), dec!(1)), m("0"));
}

#[test]
fn volume_cap_leaves_a_market_remainder_for_the_next_open() {
    let config = PaperConfig {
        max_volume_participation_pct: Some(dec!(10)),
        ..frictionless()
    };
    let mut b = broker(config, "100000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(market(1, Side::Buy, "12")).unwrap();
    // 10 % of 50 = 5 per candle.
    let r = feed(&mut b, &candle(1, "100", "100", "100", "100", "50"));
    assert_eq!(r.fills[0].quantity, q("5"));
    assert!(r.closed.is_empty());
    let s = b.order(OrderId(1)).unwrap();
    assert_eq!(
        (s.status, s.remaining()),
        (OrderStatus::PartiallyFilled, q("7"))
    );
    // The remainder fills at the next candles' opens.
    let r = feed(&mut b, &candle(2, "101", "101", "101", "101", "30"));
    assert_eq!((r.fills[0].quantity, r.fills[0].price), (q("3"), p("101")));
    let r = feed(&mut b, &candle(3, "102", "102", "102", "102", "1000"));
    assert_eq!((r.fills[0].quantity, r.fills[0].price), (q("4"), p("102")));
    assert_eq!(r.closed, vec![OrderId(1)]);
    let ids: Vec<_> = b
        .fills_of(OrderId(1))
        .unwrap()
        .iter()
        .map(|f| f.trade_id.clone())
        .collect();
    assert_eq!(ids, ["paper-1-1", "paper-1-2", "paper-1-3"]);
    let s = b.order(OrderId(1)).unwrap();
    assert_eq!(s.filled_notional, m("1211"));
    assert_eq!(s.avg_fill_price(), Some(p("100.916666666667")));
}

#[test]
fn volume_cap_is_shared_in_submission_order_and_limit_remainders_rest() {
    let config = PaperConfig {
        max_volume_participation_pct: Some(dec!(50)),
        ..frictionless()
    };
    let mut b = broker(config, "100000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "10"));
    b.submit(limit(1, Side::Buy, "99", "4")).unwrap();
    b.submit(market(2, Side::Buy, "4")).unwrap();
    // Budget 5: order 1 takes 4, order 2 gets 1.
    let r = feed(&mut b, &candle(1, "99", "99", "98", "99", "10"));
    let got: Vec<_> = r.fills.iter().map(|f| (f.order_id, f.quantity)).collect();
    assert_eq!(got, vec![(OrderId(1), q("4")), (OrderId(2), q("1"))]);
    b.submit(limit(3, Side::Buy, "90", "10")).unwrap();
    let r = feed(&mut b, &candle(2, "95", "96", "90", "91", "4"));
    let got: Vec<_> = r.fills.iter().map(|f| (f.order_id, f.quantity)).collect();
    assert_eq!(got, vec![(OrderId(2), q("2"))]);
    // Order 2 used the budget first (older); order 3 rests untouched by the
    // cap this time and fills later.
    let r = feed(&mut b, &candle(3, "92", "92", "89", "90", "100"));
    let got: Vec<_> = r
        .fills
        .iter()
        .map(|f| (f.order_id, f.quantity, f.price))
        .collect();
    assert_eq!(
        got,
        vec![
            (OrderId(2), q("1"), p("92")),
            (OrderId(3), q("10"), p("90"))
        ]
    );
}

#[test]
fn zero_volume_candle_fills_nothing_under_a_cap() {
    let mut b = broker(PaperConfig::default(), "100000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "10"));
    b.submit(market(1, Side::Buy, "1")).unwrap();
    assert!(
        feed(&mut b, &candle(1, "100", "100", "100", "100", "0"))
            .fills
            .is_empty()
    );
    assert_eq!(
        feed(&mut b, &candle(2, "100", "100", "100", "100", "10"))
            .fills
            .len(),
        1
    );
}

#[test]
fn rejections_carry_the_numbers() {
    let config = PaperConfig {
        taker_fee_bps: dec!(10),
        maker_fee_bps: dec!(10),
        ..frictionless()
    };
    let mut b = broker(config, "1000").with_holding(btc(), q("2"));
    assert!(matches!(
        b.submit(market(1, Side::Buy, "1")),
        Err(Rejection::NoMarketPrice { .. })
    ));
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    assert_eq!(
        b.submit(market(1, Side::Buy, "0")),
        Err(Rejection::NonPositiveQuantity {
            id: OrderId(1),
            quantity: q("0")
        })
    );
    assert!(matches!(
        b.submit(limit(1, Side::Buy, "-1", "1")),
        Err(Rejection::NonPositivePrice { .. })
    ));
    // 10 × 100 × 1.001 = 1001 > 1000.
    let err = b.submit(market(1, Side::Buy, "10")).unwrap_err();
    assert_eq!(
        err,
        Rejection::InsufficientCash {
            id: OrderId(1),
            symbol: btc(),
            needed: m("1001"),
            available: m("1000"),
        }
    );
    assert!(err.to_string().contains("1001") && err.to_string().contains("1000"));
    // A resting buy reserves cash for later orders.
    b.submit(limit(2, Side::Buy, "50", "10")).unwrap(); // reserves 500.5
    assert!(matches!(
        b.submit(limit(3, Side::Buy, "50", "10")),
        Err(Rejection::InsufficientCash { available, .. }) if available == m("499.5")
    ));
    assert_eq!(b.balances().cash.locked, m("500.5"));
    // Selling more than held, counting open sells.
    b.submit(limit(4, Side::Sell, "200", "1.5")).unwrap();
    let err = b.submit(market(5, Side::Sell, "1")).unwrap_err();
    assert_eq!(
        err,
        Rejection::InsufficientPosition {
            id: OrderId(5),
            symbol: btc(),
            requested: q("1"),
            available: q("0.5"),
            held: q("2"),
        }
    );
    assert_eq!(
        b.submit(market(4, Side::Sell, "0.1")),
        Err(Rejection::DuplicateOrderId { id: OrderId(4) })
    );
    // Rejected orders do not exist.
    assert!(b.order(OrderId(5)).is_none());
}

#[test]
fn gap_up_fills_what_cash_covers_and_expires_the_rest() {
    let mut b = broker(frictionless(), "1000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(market(1, Side::Buy, "10")).unwrap(); // reserved at 100: exactly the cash
    let r = feed(&mut b, &candle(1, "300", "300", "300", "300", "50"));
    assert_eq!(r.fills[0].quantity, q("3.33333333"));
    assert_eq!(r.closed, vec![OrderId(1)]);
    let s = b.order(OrderId(1)).unwrap();
    assert_eq!(s.status, OrderStatus::Expired);
    assert!(s.note.as_deref().unwrap().contains("expired"));
    assert_eq!(b.cash(), m("0.000001"));
    assert!(!b.cash().is_sign_negative());
}

#[test]
fn cancel_keeps_the_filled_part() {
    let config = PaperConfig {
        max_volume_participation_pct: Some(dec!(10)),
        ..frictionless()
    };
    let mut b = broker(config, "100000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "10"));
    b.submit(market(1, Side::Buy, "3")).unwrap();
    feed(&mut b, &candle(1, "100", "100", "100", "100", "10"));
    let s = b.cancel(OrderId(1)).unwrap();
    assert_eq!(
        (s.status, s.filled_quantity),
        (OrderStatus::Canceled, q("1"))
    );
    assert_eq!(s.updated_at, 60_000);
    assert!(feed(&mut b, &candle(2, "100", "100", "100", "100", "10")).is_empty());
    assert_eq!(b.balances().cash.locked, Money::ZERO);
    assert_eq!(
        b.cancel(OrderId(1)),
        Err(VenueError::NotOpen {
            id: OrderId(1),
            status: OrderStatus::Canceled
        })
    );
    assert_eq!(
        b.cancel(OrderId(9)),
        Err(VenueError::UnknownOrder { id: OrderId(9) })
    );
    b.submit(limit(2, Side::Buy, "1", "1")).unwrap();
    b.submit(limit(3, Side::Buy, "1", "1")).unwrap();
    assert_eq!(b.cancel_all(None).len(), 2);
    assert_eq!(b.open_orders().count(), 0);
}

#[test]
fn same_inputs_give_the_same_fills_and_state_survives_a_round_trip() {
    let run = |persist_midway: bool| {
        let mut b = broker(PaperConfig::default(), "10000");
        let mut fills = Vec::new();
        for n in 0..6 {
            let px = (100 + n * 3).to_string();
            if persist_midway && n == 3 {
                let json = serde_json::to_string(&b).unwrap();
                b = serde_json::from_str(&json).unwrap();
            }
            fills.extend(feed(&mut b, &candle(n, &px, &px, &px, &px, "20")).fills);
            if n == 0 {
                b.submit(market(1, Side::Buy, "5")).unwrap();
            }
        }
        fills
    };
    let a = run(false);
    assert_eq!(a.len(), 3); // 2 per candle under the 10 % default cap
    assert_eq!(a, run(false));
    assert_eq!(a, run(true));
}

#[test]
fn balances_report_free_and_locked() {
    let mut b = broker(frictionless(), "1000").with_holding(btc(), q("3"));
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    b.submit(limit(1, Side::Sell, "120", "1")).unwrap();
    b.submit(limit(2, Side::Buy, "80", "2")).unwrap();
    let bal = b.balances();
    assert_eq!(
        bal.cash,
        CashBalance {
            free: m("840"),
            locked: m("160")
        }
    );
    assert_eq!(bal.holdings[0].free, q("2"));
    assert_eq!(bal.holdings[0].locked, q("1"));
    assert_eq!(bal.holdings[0].total(), q("3"));
}

#[test]
fn config_validation_names_the_field() {
    let bad = PaperConfig {
        maker_fee_bps: dec!(-1),
        ..PaperConfig::default()
    };
    let err = PaperBroker::new(bad, m("1")).unwrap_err();
    assert_eq!(err.field, "makerFeeBps");
    let bad = PaperConfig {
        max_volume_participation_pct: Some(dec!(0)),
        ..PaperConfig::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("maxVolumeParticipationPct")
    );
    let parsed: PaperConfig = serde_json::from_str(r#"{"takerFeeBps": "7.5"}"#).unwrap();
    assert_eq!(parsed.taker_fee_bps, dec!(7.5));
    assert_eq!(parsed.maker_fee_bps, dec!(10));
    assert!(serde_json::from_str::<PaperConfig>(r#"{"takerFee": 1}"#).is_err());
}

#[test]
fn venue_trait_drives_the_paper_broker() {
    use futures::executor::block_on;
    let mut b = broker(frictionless(), "1000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    let v: &mut PaperBroker = &mut b;
    assert_eq!(Venue::name(v), "paper");
    let s = block_on(Venue::submit(v, &market(1, Side::Buy, "1"))).unwrap();
    assert_eq!(s.status, OrderStatus::New);
    assert!(matches!(
        block_on(Venue::submit(v, &market(1, Side::Buy, "1"))),
        Err(VenueError::Rejected(Rejection::DuplicateOrderId { .. }))
    ));
    assert_eq!(
        block_on(Venue::open_orders(v, Some(&btc()))).unwrap().len(),
        1
    );
    assert_eq!(
        block_on(Venue::open_orders(v, Some(&Symbol::new("ethusdt"))))
            .unwrap()
            .len(),
        0
    );
    // Unknown id: never accepted, so resubmitting is safe.
    assert_eq!(block_on(Venue::order(v, &btc(), OrderId(2))).unwrap(), None);
    feed(v, &candle(1, "100", "100", "100", "100", "50"));
    let fills = block_on(Venue::fills(v, &btc(), OrderId(1))).unwrap();
    assert_eq!(fills.len(), 1);
    let bal = block_on(Venue::balances(v)).unwrap();
    assert_eq!(bal.cash.total(), m("900"));
    assert_eq!(block_on(Venue::symbol_rules(v, &btc())).unwrap(), None);
    assert!(matches!(
        block_on(Venue::cancel(v, &btc(), OrderId(1))),
        Err(VenueError::NotOpen { .. })
    ));
    assert!(
        VenueError::Unavailable {
            message: "timeout".into()
        }
        .is_fate_unknown()
    );
}

#[test]
fn a_saved_broker_keeps_its_config_as_written_and_charges_the_same_when_loaded() {
    let config = PaperConfig {
        taker_fee_bps: dec!(7.5),
        maker_fee_bps: dec!(2),
        slippage_bps: dec!(3),
        max_volume_participation_pct: None,
    };
    let mut saved = broker(config.clone(), "10000");
    feed(&mut saved, &candle(0, "100", "101", "99", "100", "50"));
    saved.submit(market(1, Side::Buy, "2")).unwrap();
    saved.submit(limit(2, Side::Buy, "90", "1")).unwrap();
    // The rates the broker works out are not written: only the config.
    let json = serde_json::to_value(&saved).unwrap();
    assert_eq!(json["config"], serde_json::to_value(&config).unwrap());
    let mut loaded: PaperBroker = serde_json::from_value(json).unwrap();
    assert_eq!(loaded.config(), &config);
    assert_eq!(loaded.free_cash(), saved.free_cash());
    let next = candle(1, "100", "101", "89", "95", "50");
    let (a, b) = (feed(&mut saved, &next), feed(&mut loaded, &next));
    assert_eq!(a.fills.len(), 2);
    assert_eq!(a.fills, b.fills);
    // Taker: 100 + 3 bps; the fee is 7.5 bps of the notional.
    assert_eq!(a.fills[0].price, p("100.03"));
    assert_eq!(a.fills[0].fee, m("0.15004500"));
    assert_eq!(loaded.cash(), saved.cash());
}

#[test]
fn closed_orders_are_saved_as_a_map_by_id_and_found_after_loading_and_until_forgotten() {
    let mut b = broker(frictionless(), "10000");
    feed(&mut b, &candle(0, "100", "100", "100", "100", "50"));
    // Closed out of id order: 7 is canceled before 3 and 5 fill.
    for (id, price) in [(5, "100"), (3, "100"), (7, "1")] {
        b.submit(limit(id, Side::Buy, price, "1")).unwrap();
    }
    b.cancel(OrderId(7)).unwrap();
    feed(&mut b, &candle(1, "100", "100", "100", "100", "50"));
    let json = serde_json::to_value(&b).unwrap();
    let ids: Vec<&String> = json["closed"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["3", "5", "7"]);
    assert_eq!(json["closed"]["5"]["state"]["status"], "filled");
    let mut loaded: PaperBroker = serde_json::from_value(json).unwrap();
    for (id, status) in [
        (3, OrderStatus::Filled),
        (5, OrderStatus::Filled),
        (7, OrderStatus::Canceled),
    ] {
        assert_eq!(
            loaded.order(OrderId(id)).map(|o| o.status),
            Some(status),
            "order {id}"
        );
        assert_eq!(
            b.order(OrderId(id)).map(|o| o.status),
            Some(status),
            "order {id}"
        );
    }
    assert_eq!(loaded.fills_of(OrderId(5)).map(<[_]>::len), Some(1));
    assert_eq!(
        loaded.cancel(OrderId(3)),
        Err(VenueError::NotOpen {
            id: OrderId(3),
            status: OrderStatus::Filled
        })
    );
    assert_eq!(loaded.forget_closed(), 3);
    assert_eq!(loaded.order(OrderId(5)), None);
    assert_eq!(
        loaded.cancel(OrderId(5)),
        Err(VenueError::UnknownOrder { id: OrderId(5) })
    );
}

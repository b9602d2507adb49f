//! The engine routed to a venue: orders wait for the venue's word, fills
//! come from it (once), cancels are confirmed by it, and the routing
//! survives a snapshot.

use super::*;
use crate::domain::{Candle, Liquidity, Money, OrderKind, Price, Side, Timeframe};
use crate::engine::EventMode;
use crate::execution::PaperConfig;
use crate::market_data::{SyntheticConfig, generate};
use crate::performance::EquityCurve;
use rust_decimal::Decimal;

const FIRST_ID: u64 = 1_000_000;
const TESTNET: &str = "https://testnet.binance.vision/";
const LIVE: &str = "https://api.binance.com/";

fn engine() -> Engine {
    let config = crate::config::EngineConfig::from_test_yaml(include_str!(
        "../../../manifests/examples/quickstart.yaml"
    ));
    Engine::new(
        config,
        PaperConfig::default(),
        EquityCurve::bounded(0),
        0,
        EventMode::Record,
    )
    .unwrap()
}

fn candles() -> Vec<Candle> {
    generate(&SyntheticConfig::for_timeframe(7, 2_000, Timeframe::H1))
        .unwrap()
        .candles
}

/// Feeds candles until the engine queues something for the venue.
fn until_command(engine: &mut Engine, data: &mut std::slice::Iter<'_, Candle>) -> VenueCommand {
    for c in data.by_ref() {
        engine.on_candle(0, c).unwrap();
        if engine.has_venue_commands() {
            let mut commands = engine.take_venue_commands();
            assert_eq!(commands.len(), 1, "{commands:?}");
            return commands.remove(0);
        }
    }
    panic!("the strategy never traded");
}

/// The venue's report of `order` filled at `price` (fee 0.1 %).
fn filled(order: &OrderRequest, price: i64) -> (OrderState, Vec<Fill>) {
    let price = Price::new(Decimal::from(price));
    let notional = price * order.quantity;
    let fee = Money::new(notional.value() / Decimal::from(1000));
    let fill = Fill {
        trade_id: format!("{}", order.id.0 * 10),
        order_id: order.id,
        symbol: order.symbol.clone(),
        side: order.side,
        price,
        quantity: order.quantity,
        fee,
        liquidity: Liquidity::Taker,
        time: order.created_at + 1,
    };
    let state = OrderState {
        id: order.id,
        symbol: order.symbol.clone(),
        side: order.side,
        kind: OrderKind::Market,
        quantity: order.quantity,
        status: OrderStatus::Filled,
        filled_quantity: order.quantity,
        filled_notional: notional,
        fees: fee,
        created_at: order.created_at,
        updated_at: order.created_at + 1,
        note: None,
    };
    (state, vec![fill])
}

/// An engine routed to a venue.
fn routed() -> Engine {
    let mut e = engine();
    e.route_to_venue(TESTNET, FIRST_ID).unwrap();
    e
}

/// The first order `e` queues on the synthetic candles.
fn first_order(e: &mut Engine) -> OrderRequest {
    submitted(until_command(e, &mut candles().iter()))
}

fn submitted(command: VenueCommand) -> OrderRequest {
    match command {
        VenueCommand::Submit(order) => order,
        other => panic!("expected a submit, got {other:?}"),
    }
}

#[test]
fn an_order_waits_for_the_venue_and_its_fills_count_once() {
    let mut e = routed();
    let data = candles();
    let mut it = data.iter();
    let buy = submitted(until_command(&mut e, &mut it));
    assert_eq!(buy.side, Side::Buy);
    assert!(buy.id.0 >= FIRST_ID, "ids start at the clock-derived base");
    assert_eq!(e.open_order_count(), 1);
    let events = e.drain_events();
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, EngineEvent::OrderSubmitted { order } if order.id == buy.id)),
        "the order is an event to store before sending"
    );
    // Candles go by: no paper fill, and no second entry while one is open.
    for c in it.by_ref().take(50) {
        e.on_candle(0, c).unwrap();
        assert!(!e.has_venue_commands() || e.venue_open_orders().len() == 1);
    }
    assert!(
        e.drain_events()
            .iter()
            .all(|ev| !matches!(ev, EngineEvent::Fill(_)))
    );
    assert!(e.ledger().position(&buy.symbol).is_none_or(|p| p.is_flat()));

    let (state, fills) = filled(&buy, 40_000);
    e.on_venue_order(state.clone(), &fills).unwrap();
    let held = e.ledger().position(&buy.symbol).unwrap().quantity();
    assert_eq!(held, buy.quantity);
    assert_eq!(e.open_order_count(), 0);
    let events = e.drain_events();
    assert_eq!(
        events
            .iter()
            .filter(|ev| matches!(ev, EngineEvent::Fill(_)))
            .count(),
        1
    );
    // The same report again (a poll, a restart) changes nothing.
    let cash = e.ledger().cash();
    e.on_venue_order(state, &fills).unwrap();
    assert_eq!(e.ledger().cash(), cash);
    assert!(
        e.drain_events()
            .iter()
            .all(|ev| !matches!(ev, EngineEvent::Fill(_)))
    );
    assert_eq!(
        e.performance().window().summary(1.0).orders,
        1,
        "accepted once"
    );
}

#[test]
fn a_refused_order_closes_as_rejected_and_counts_as_an_error() {
    let mut e = routed();
    let buy = first_order(&mut e);
    e.drain_events();
    e.on_venue_refused(
        buy.id,
        OrderStatus::Rejected,
        "venue error -2010: insufficient balance",
    );
    assert_eq!(e.open_order_count(), 0);
    assert_eq!(e.counters().order_errors, 1);
    let events = e.drain_events();
    assert!(events.iter().any(|ev| matches!(ev,
        EngineEvent::OrderClosed { id, status: OrderStatus::Rejected, reason, .. }
            if *id == buy.id && reason.contains("-2010"))));
}

#[test]
fn a_halt_queues_cancels_and_the_order_closes_when_the_venue_confirms() {
    let mut e = routed();
    let buy = first_order(&mut e);
    e.halt(buy.created_at, "test", false);
    assert_eq!(
        e.take_venue_commands(),
        vec![VenueCommand::Cancel {
            symbol: buy.symbol.clone(),
            id: buy.id
        }]
    );
    assert_eq!(e.open_order_count(), 1, "open until the venue confirms");
    let (mut state, _) = filled(&buy, 40_000);
    state.status = OrderStatus::Canceled;
    state.filled_quantity = Quantity::ZERO;
    e.on_venue_order(state, &[]).unwrap();
    assert_eq!(e.open_order_count(), 0);
}

#[test]
fn venue_orders_survive_a_snapshot() {
    let mut e = routed();
    let buy = first_order(&mut e);
    let snapshot: super::super::EngineSnapshot =
        serde_json::from_str(&serde_json::to_string(&e.snapshot()).unwrap()).unwrap();
    let restored = Engine::restore(e.config().clone(), snapshot, &[], std::iter::empty()).unwrap();
    assert!(restored.routes_to_venue());
    assert_eq!(restored.venue_open_orders().len(), 1);
    assert_eq!(restored.venue_open_orders()[0].id, buy.id);
    assert_eq!(restored.next_order_id(), buy.id.0 + 1);
}

#[test]
fn quantities_are_rounded_down_to_the_venue_lot_step() {
    let mut e = routed();
    let step = Quantity::new(Decimal::new(1, 3));
    e.set_venue_lot_step(&crate::domain::Symbol::new("BTCUSDT"), step);
    let buy = first_order(&mut e);
    assert!(!buy.quantity.is_zero());
    assert_eq!(
        (buy.quantity.value() / step.value()).fract(),
        Decimal::ZERO,
        "{}",
        buy.quantity
    );
}

#[test]
fn a_paper_position_blocks_the_switch_to_a_venue() {
    let mut e = engine();
    for c in candles() {
        e.on_candle(0, &c).unwrap();
        if e.ledger().has_position() && e.open_order_count() == 0 {
            break;
        }
    }
    assert!(e.ledger().has_position(), "the paper bot never bought");
    let err = e.route_to_venue(TESTNET, FIRST_ID).unwrap_err().to_string();
    assert!(
        err.contains("a position of") && err.contains("paper broker") && err.contains("flatten"),
        "{err}"
    );
    assert!(!e.routes_to_venue());
}

#[test]
fn a_venue_book_moves_to_another_venue_or_to_paper_only_when_flat() {
    let mut e = routed();
    let buy = first_order(&mut e);
    // An open order on the test network: neither the live API nor paper holds it.
    let err = e.route_to_venue(LIVE, FIRST_ID).unwrap_err().to_string();
    assert!(
        err.contains("1 open orders") && err.contains(TESTNET),
        "{err}"
    );
    let err = e
        .route_to_paper(PaperConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("paper broker"), "{err}");
    // The same venue again (a restart) is fine.
    e.route_to_venue(TESTNET, FIRST_ID).unwrap();
    // Filled: a position now.
    let (state, fills) = filled(&buy, 40_000);
    e.on_venue_order(state, &fills).unwrap();
    assert!(e.route_to_venue(LIVE, FIRST_ID).is_err());
    // Sold: flat, so it may move; the ledger's cash goes along.
    let sell = OrderRequest {
        id: OrderId(buy.id.0 + 1),
        side: Side::Sell,
        ..buy.clone()
    };
    e.execution.venue_mut().expect("routed").queue(&sell);
    let (state, fills) = filled(&sell, 41_000);
    e.on_venue_order(state, &fills).unwrap();
    let cash = e.ledger().cash();
    e.route_to_paper(PaperConfig::default()).unwrap();
    assert!(!e.routes_to_venue());
    assert_eq!(e.broker().expect("trades on paper").cash(), cash);
    e.route_to_venue(LIVE, FIRST_ID * 10).unwrap();
    assert_eq!(e.next_order_id(), FIRST_ID * 10);
}

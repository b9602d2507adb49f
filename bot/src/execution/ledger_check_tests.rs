use super::*;
use crate::domain::{Liquidity, Money, Price};
use crate::execution::{CashBalance, Holding};
use std::str::FromStr;

fn fill(order: u64, trade: &str, side: Side, qty: &str, price: &str, fee: &str) -> Fill {
    Fill {
        trade_id: trade.into(),
        order_id: OrderId(order),
        symbol: Symbol::new("BTCUSDT"),
        side,
        price: Price::from_str(price).unwrap(),
        quantity: Quantity::from_str(qty).unwrap(),
        fee: Money::from_str(fee).unwrap(),
        liquidity: Liquidity::Taker,
        time: 1_000,
    }
}

fn round_trip() -> Vec<Fill> {
    vec![
        fill(1, "10", Side::Buy, "0.002", "50000", "0.1"),
        fill(2, "11", Side::Sell, "0.002", "51000", "0.102"),
    ]
}

fn check(ledger: &[Fill], venue: &[Fill], open: &[u64]) -> LedgerCheck {
    let open: BTreeSet<OrderId> = open.iter().map(|i| OrderId(*i)).collect();
    compare(&LedgerInputs {
        at: "2026-01-01T00:00:00.000Z".into(),
        ledger,
        venue,
        open_orders: &open,
        balances: None,
        positions: &[],
    })
}

#[test]
fn equal_records_match() {
    let c = check(&round_trip(), &round_trip(), &[]);
    assert!(c.matches(), "{}", c.summary());
    assert_eq!(
        (c.venue_trades, c.ledger_trades, c.matched_trades),
        (2, 2, 2)
    );
}

/// A trade only the venue reports shows as the trade, as a fee difference
/// and as the quantity and cash it moved, to the last decimal.
#[test]
fn an_extra_venue_trade_is_named_with_its_effect() {
    let mut venue = round_trip();
    venue.push(fill(2, "12", Side::Sell, "0.001", "51000", "0.051"));
    let c = check(&round_trip(), &venue, &[]);
    assert!(!c.matches());
    assert_eq!(c.missing_in_ledger.len(), 1);
    assert_eq!(c.missing_in_ledger[0].trade_id, "12");
    assert_eq!(c.fee_difference, Decimal::from_str("0.051").unwrap());
    assert_eq!(c.assets.len(), 1);
    assert_eq!(c.assets[0].quantity, Decimal::from_str("-0.001").unwrap());
    assert_eq!(c.assets[0].cash, Decimal::from_str("50.949").unwrap());
    assert_eq!(c.differences(), 3);
}

/// A fee one unit off in its last decimal is a difference.
#[test]
fn a_fee_off_by_the_smallest_unit_is_a_mismatch() {
    let mut venue = round_trip();
    venue[1].fee = Money::from_str("0.10200001").unwrap();
    let c = check(&round_trip(), &venue, &[]);
    assert_eq!(c.mismatched.len(), 1);
    assert_eq!(c.matched_trades, 1);
    assert_eq!(c.fee_difference, Decimal::from_str("0.00000001").unwrap());
    assert!(c.summary().contains("fee 0.10200001"), "{}", c.summary());
}

#[test]
fn a_ledger_fill_the_venue_does_not_know_is_named() {
    let ledger = round_trip();
    let c = check(&ledger, &round_trip()[..1], &[]);
    assert_eq!(c.missing_at_venue.len(), 1);
    assert_eq!(c.missing_at_venue[0].trade_id, "11");
}

/// Fills of an order the engine still holds open may be at the venue
/// before the engine polled them: they wait until the order closes.
#[test]
fn trades_of_open_orders_wait() {
    let mut venue = round_trip();
    venue.push(fill(3, "13", Side::Buy, "0.001", "51000", "0.051"));
    let c = check(&round_trip(), &venue, &[3]);
    assert!(c.matches(), "{}", c.summary());
    assert_eq!(c.venue_trades, 2);
}

/// The account may hold more than the bot; it may not hold less than the
/// ledger's position.
#[test]
fn balances_must_cover_the_positions() {
    let balances = VenueBalances {
        cash: CashBalance::default(),
        holdings: vec![Holding {
            symbol: Symbol::new("BTCUSDT"),
            free: Quantity::from_str("0.0015").unwrap(),
            locked: Quantity::ZERO,
        }],
    };
    let open = BTreeSet::new();
    let positions = [(Symbol::new("BTCUSDT"), Quantity::from_str("0.001").unwrap())];
    let covered = compare(&LedgerInputs {
        at: String::new(),
        ledger: &[],
        venue: &[],
        open_orders: &open,
        balances: Some(&balances),
        positions: &positions,
    });
    assert!(covered.matches());
    let short = [(Symbol::new("BTCUSDT"), Quantity::from_str("0.002").unwrap())];
    let c = compare(&LedgerInputs {
        at: String::new(),
        ledger: &[],
        venue: &[],
        open_orders: &open,
        balances: Some(&balances),
        positions: &short,
    });
    assert_eq!(c.balance_shortfalls.len(), 1);
    assert_eq!(
        c.balance_shortfalls[0].venue_balance,
        Decimal::from_str("0.0015").unwrap()
    );
}

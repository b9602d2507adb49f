//! The ledger checked against the venue's own records, pure: the fills
//! the engine stored in its current phase against the trades the venue
//! reports for this bot's orders in that phase, and the ledger's positions
//! against the venue's balances. The result is the `ledgerCheck` of
//! `/status` (`botfleet_crds::engine_api::LedgerCheck`), which the operator's
//! `ledgerMatchesVenue` gate criterion reads.
//!
//! Trades are matched by `(symbol, trade id)`; a matched trade must agree
//! in side, price, quantity and fee, exactly. Per symbol, the net quantity
//! and the cash the trades moved (notional and fees, i.e. the P&L) are
//! compared too, so a difference shows both as the trade that causes it and
//! as its effect on the books. The venue account may hold more than the
//! bot (a shared test-network account): balances only have to cover the
//! ledger's positions.

use std::collections::{BTreeMap, BTreeSet};

use botfleet_crds::engine_api::{
    AssetDifference, BalanceShortfall, LedgerCheck, TradeMismatch, TradeRecord,
};
use rust_decimal::Decimal;

use super::VenueBalances;
use crate::domain::{Fill, OrderId, Quantity, Side, Symbol};

/// What one check compares.
pub struct LedgerInputs<'a> {
    /// When the venue was read (RFC 3339).
    pub at: String,
    /// The ledger's fills in the current phase.
    pub ledger: &'a [Fill],
    /// The venue's trades of this bot's orders in the current phase.
    pub venue: &'a [Fill],
    /// Orders the engine still holds open: their fills may be at the venue
    /// before the engine polled them, so their trades are compared once
    /// they close.
    pub open_orders: &'a BTreeSet<OrderId>,
    /// The venue's balances (`None`: not compared).
    pub balances: Option<&'a VenueBalances>,
    /// The ledger's open positions.
    pub positions: &'a [(Symbol, Quantity)],
}

fn record(f: &Fill) -> TradeRecord {
    TradeRecord {
        symbol: f.symbol.to_string(),
        trade_id: f.trade_id.clone(),
        side: format!("{:?}", f.side),
        quantity: f.quantity.value(),
        price: f.price.value(),
        fee: f.fee.value(),
    }
}

/// Net quantity and cash of `fills`, per symbol.
fn flows<'a>(fills: impl Iterator<Item = &'a Fill>) -> BTreeMap<String, (Decimal, Decimal)> {
    let mut out: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for f in fills {
        let (qty, cash) = out.entry(f.symbol.to_string()).or_default();
        let notional = f.price.value() * f.quantity.value();
        match f.side {
            Side::Buy => {
                *qty += f.quantity.value();
                *cash -= notional;
            }
            Side::Sell => {
                *qty -= f.quantity.value();
                *cash += notional;
            }
        }
        *cash -= f.fee.value();
    }
    out
}

/// Compares the two records (see the module docs).
pub fn compare(inputs: &LedgerInputs<'_>) -> LedgerCheck {
    let settled = |f: &&Fill| !inputs.open_orders.contains(&f.order_id);
    let ledger: Vec<&Fill> = inputs.ledger.iter().filter(settled).collect();
    let venue: Vec<&Fill> = inputs.venue.iter().filter(settled).collect();
    let key = |f: &Fill| (f.symbol.to_string(), f.trade_id.clone());
    let by_key: BTreeMap<_, &Fill> = ledger.iter().map(|f| (key(f), *f)).collect();
    let venue_keys: BTreeSet<_> = venue.iter().map(|f| key(f)).collect();

    let mut check = LedgerCheck {
        at: inputs.at.clone(),
        venue_trades: venue.len() as u64,
        ledger_trades: ledger.len() as u64,
        matched_trades: 0,
        missing_in_ledger: Vec::new(),
        missing_at_venue: Vec::new(),
        mismatched: Vec::new(),
        fee_difference: Decimal::ZERO,
        assets: Vec::new(),
        balance_shortfalls: Vec::new(),
    };
    for v in &venue {
        match by_key.get(&key(v)) {
            None => check.missing_in_ledger.push(record(v)),
            Some(l) => {
                let same = l.side == v.side
                    && l.price == v.price
                    && l.quantity == v.quantity
                    && l.fee == v.fee;
                if same {
                    check.matched_trades += 1;
                } else {
                    check.mismatched.push(TradeMismatch {
                        venue: record(v),
                        ledger: record(l),
                    });
                }
            }
        }
    }
    check.missing_at_venue = ledger
        .iter()
        .filter(|l| !venue_keys.contains(&key(l)))
        .map(|l| record(l))
        .collect();
    let fees = |fills: &[&Fill]| fills.iter().map(|f| f.fee.value()).sum::<Decimal>();
    check.fee_difference = fees(&venue) - fees(&ledger);

    let venue_flows = flows(venue.iter().copied());
    let ledger_flows = flows(ledger.iter().copied());
    let symbols: BTreeSet<&String> = venue_flows.keys().chain(ledger_flows.keys()).collect();
    for symbol in symbols {
        let (vq, vc) = venue_flows.get(symbol).copied().unwrap_or_default();
        let (lq, lc) = ledger_flows.get(symbol).copied().unwrap_or_default();
        if vq != lq || vc != lc {
            check.assets.push(AssetDifference {
                symbol: symbol.clone(),
                quantity: vq - lq,
                cash: vc - lc,
            });
        }
    }

    if let Some(balances) = inputs.balances {
        for (symbol, quantity) in inputs.positions {
            let held = balances
                .holdings
                .iter()
                .find(|h| h.symbol == *symbol)
                .map_or(Quantity::ZERO, |h| h.total());
            if held < *quantity {
                check.balance_shortfalls.push(BalanceShortfall {
                    symbol: symbol.to_string(),
                    ledger_position: quantity.value(),
                    venue_balance: held.value(),
                });
            }
        }
    }
    check
}

#[cfg(test)]
#[path = "ledger_check_tests.rs"]
mod tests;

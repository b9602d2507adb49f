//! Restart reconciliation for a real venue: before trading again, the engine
//! compares what its store believes with what the venue reports.
//!
//! - each order the store has as open is looked up: its current state
//!   replaces the stored one, and fills the ledger has not seen are returned
//!   (the ledger ignores trade ids it already has, so replays are harmless);
//!   one the venue never accepted is reported as vanished (the engine had
//!   recorded the intent, then crashed before or while sending it);
//! - each open order at the venue that carries this bot's client id but is
//!   unknown to the store is an orphan: it is canceled, and whatever of it
//!   filled is returned as missed fills too.
//!
//! Orphans that already closed do not show in `openOrders`; the store
//! records an order before sending it so that such an order is never
//! unknown (it is then a stored open order, looked up above).

use super::{OrderState, Venue, VenueError};
use crate::domain::{Fill, OrderId, Symbol};
use std::collections::BTreeSet;

/// What reconciliation found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// The venue's state of every stored open order it knows.
    pub updated: Vec<OrderState>,
    /// Stored open orders the venue never accepted.
    pub vanished: Vec<(Symbol, OrderId)>,
    /// Orphans, after their cancel.
    pub orphans_canceled: Vec<OrderState>,
    /// Fills the ledger did not have, oldest first.
    pub missed_fills: Vec<Fill>,
}

/// Reconciles `stored_open` (the store's open orders) with `venue`.
/// `has_fill(trade_id)` tells whether the ledger already has a fill.
pub async fn reconcile<V: Venue>(
    venue: &mut V,
    stored_open: &[(Symbol, OrderId)],
    has_fill: impl Fn(&str) -> bool,
) -> Result<Reconciliation, VenueError> {
    let mut out = Reconciliation::default();
    let known: BTreeSet<OrderId> = stored_open.iter().map(|(_, id)| *id).collect();
    for (symbol, id) in stored_open {
        match venue.order(symbol, *id).await? {
            None => out.vanished.push((symbol.clone(), *id)),
            Some(state) => {
                if !state.filled_quantity.is_zero() {
                    missed(venue, symbol, *id, &has_fill, &mut out.missed_fills).await?;
                }
                out.updated.push(state);
            }
        }
    }
    for order in venue.open_orders(None).await? {
        if known.contains(&order.id) {
            continue;
        }
        let state = match venue.cancel(&order.symbol, order.id).await {
            Ok(state) => state,
            // It filled meanwhile: its fills still count.
            Err(VenueError::NotOpen { .. }) => venue
                .order(&order.symbol, order.id)
                .await?
                .unwrap_or(order.clone()),
            Err(e) => return Err(e),
        };
        if !state.filled_quantity.is_zero() {
            missed(
                venue,
                &order.symbol,
                order.id,
                &has_fill,
                &mut out.missed_fills,
            )
            .await?;
        }
        out.orphans_canceled.push(state);
    }
    out.missed_fills
        .sort_by(|a, b| (a.time, &a.trade_id).cmp(&(b.time, &b.trade_id)));
    Ok(out)
}

async fn missed<V: Venue>(
    venue: &mut V,
    symbol: &Symbol,
    id: OrderId,
    has_fill: &impl Fn(&str) -> bool,
    out: &mut Vec<Fill>,
) -> Result<(), VenueError> {
    for fill in venue.fills(symbol, id).await? {
        if !has_fill(&fill.trade_id) {
            out.push(fill);
        }
    }
    Ok(())
}

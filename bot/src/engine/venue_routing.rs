//! Orders routed to a real venue (Sandbox, LimitedReal, Scaling).
//!
//! A paper engine's broker both keeps the order book and fills it. Routed
//! to a venue, the engine keeps only its view of the orders it created,
//! hands the caller what to send ([`VenueCommand`]), and learns of fills and
//! order ends from the caller ([`Engine::on_venue_order`],
//! [`Engine::on_venue_refused`]). The caller stores the step that created
//! an order *before* sending it, so after a crash every order the venue may
//! have is known to the store (see `run::venue`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, EngineEvent, Execution};
use crate::domain::{Fill, Money, OrderId, OrderRequest, OrderStatus, Quantity, Symbol};
use crate::execution::{OrderState, PaperBroker, PaperConfig};

/// Something the caller must ask the venue, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    Submit(OrderRequest),
    Cancel { symbol: Symbol, id: OrderId },
}

/// The engine's view of its orders at the venue.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueOrders {
    /// The venue's base URL: a store's orders and positions belong to it.
    #[serde(default)]
    pub venue: String,
    /// Orders created and not known to be closed, oldest first. Persisted:
    /// the store's open orders must be exactly these.
    pub open: Vec<OrderState>,
    /// Open orders the venue has not answered about yet (its first word
    /// counts the order as accepted or refused, once).
    #[serde(default)]
    pub unanswered: BTreeSet<OrderId>,
    /// Lot step per symbol: order quantities are rounded down to it, so the
    /// stored order is the order sent. Set by the caller from the venue's rules.
    #[serde(skip)]
    lot_steps: std::collections::BTreeMap<Symbol, Quantity>,
    /// Not persisted: after a crash, restart reconciliation asks the venue
    /// about every open order instead.
    #[serde(skip)]
    outbox: Vec<VenueCommand>,
}

impl VenueOrders {
    fn find(&self, id: OrderId) -> Option<usize> {
        self.open.iter().position(|o| o.id == id)
    }

    /// A new order: open (status `New`) from now on, and queued for sending.
    pub(crate) fn queue(&mut self, order: &OrderRequest) {
        self.open.push(OrderState {
            id: order.id,
            symbol: order.symbol.clone(),
            side: order.side,
            kind: order.kind,
            quantity: order.quantity,
            status: OrderStatus::New,
            filled_quantity: Quantity::ZERO,
            filled_notional: Money::ZERO,
            fees: Money::ZERO,
            created_at: order.created_at,
            updated_at: order.created_at,
            note: None,
        });
        self.unanswered.insert(order.id);
        self.outbox.push(VenueCommand::Submit(order.clone()));
    }

    /// A cancel per open order, queued; each order closes when the venue
    /// confirms. Returns how many.
    pub(crate) fn queue_cancels(&mut self) -> usize {
        let cancels: Vec<VenueCommand> = self
            .open
            .iter()
            .map(|o| VenueCommand::Cancel {
                symbol: o.symbol.clone(),
                id: o.id,
            })
            .collect();
        let n = cancels.len();
        self.outbox.extend(cancels);
        n
    }
}

/// Why the engine cannot move its book to another place: what it holds
/// where it is does not exist there.
fn book_not_flat(what: String, from: &str, to: &str) -> EngineError {
    EngineError::Restore(format!(
        "the store holds {what} on {from}, which {to} does not hold; flatten the bot where it \
         trades now (halt it with flatten, then let the orders finish) before it moves, or \
         give the bot a new store"
    ))
}

impl Engine {
    /// What the book holds that cannot move elsewhere: open orders (paper
    /// or venue) and positions. `None` when flat.
    fn unmovable(&self) -> Option<String> {
        let open = self.open_order_count();
        if open > 0 {
            return Some(format!("{open} open orders"));
        }
        self.ledger
            .positions()
            .find(|p| !p.is_flat())
            .map(|p| format!("a position of {} {}", p.quantity(), p.symbol()))
    }

    /// Sends orders to the venue at `venue_url` from now on. From the paper
    /// broker, or from another venue (the Spot Test Network before a
    /// promotion to real money), the book must be flat: what it holds does
    /// not exist at the new venue. `first_order_id`: the lowest order id
    /// from now on (the caller passes a clock-derived value so a bot whose
    /// store was replaced never reuses a client order id the venue has seen).
    pub fn route_to_venue(
        &mut self,
        venue_url: &str,
        first_order_id: u64,
    ) -> Result<(), EngineError> {
        let (from, parked) = match &mut self.execution {
            // A snapshot from before venues were named is the same venue.
            Execution::Venue { orders, .. }
                if orders.venue == venue_url || orders.venue.is_empty() =>
            {
                orders.venue = venue_url.to_string();
                return Ok(());
            }
            Execution::Venue { orders, parked } => (orders.venue.clone(), parked.clone()),
            Execution::Paper(broker) => ("the paper broker".to_string(), broker.clone()),
        };
        if let Some(what) = self.unmovable() {
            return Err(book_not_flat(what, &from, venue_url));
        }
        self.next_order_id = self.next_order_id.max(first_order_id);
        self.execution = Execution::Venue {
            orders: VenueOrders {
                venue: venue_url.to_string(),
                ..VenueOrders::default()
            },
            parked,
        };
        Ok(())
    }

    /// Back to the paper broker (a demotion to Paper), holding the ledger's
    /// cash. Refused unless the venue book is flat.
    pub fn route_to_paper(&mut self, paper: PaperConfig) -> Result<(), EngineError> {
        let Some(v) = self.execution.venue() else {
            return Ok(());
        };
        if let Some(what) = self.unmovable() {
            return Err(book_not_flat(what, &v.venue, "the paper broker"));
        }
        self.execution = Execution::Paper(PaperBroker::new(paper, self.ledger.cash())?);
        Ok(())
    }

    /// The venue's lot step of `symbol` (see `Engine::venue_quantity`).
    pub fn set_venue_lot_step(&mut self, symbol: &Symbol, step: Quantity) {
        if let Some(v) = self.execution.venue_mut() {
            v.lot_steps.insert(symbol.clone(), step);
        }
    }

    /// `quantity` as the venue will take it: rounded down to the lot step.
    pub(crate) fn venue_quantity(&self, symbol: &Symbol, quantity: Quantity) -> Quantity {
        match self.execution.venue().and_then(|v| v.lot_steps.get(symbol)) {
            Some(step) if !step.is_zero() => {
                Quantity::new((quantity.value() / step.value()).floor() * step.value())
            }
            _ => quantity,
        }
    }

    /// True when orders go to a venue rather than the paper broker.
    pub fn routes_to_venue(&self) -> bool {
        self.execution.venue().is_some()
    }

    /// The orders the engine believes open at the venue.
    pub fn venue_open_orders(&self) -> &[OrderState] {
        self.execution.venue().map_or(&[], |v| v.open.as_slice())
    }

    /// Whether anything waits to be sent to the venue.
    pub fn has_venue_commands(&self) -> bool {
        self.execution.venue().is_some_and(|v| !v.outbox.is_empty())
    }

    /// What to send to the venue, in order. Send only after the step holding
    /// the engine's events so far is stored.
    pub fn take_venue_commands(&mut self) -> Vec<VenueCommand> {
        self.execution
            .venue_mut()
            .map(|v| std::mem::take(&mut v.outbox))
            .unwrap_or_default()
    }

    /// The venue's word on an order: its state and every fill it reports
    /// (fills the ledger has are skipped). An order the engine does not know
    /// (an orphan found at the venue) is adopted, so its fills have an order.
    pub fn on_venue_order(&mut self, state: OrderState, fills: &[Fill]) -> Result<(), EngineError> {
        let Some(venue) = self.execution.venue_mut() else {
            return Err(EngineError::NotRoutedToVenue);
        };
        let known = venue.find(state.id);
        if known.is_none() {
            self.log.record(|| EngineEvent::OrderSubmitted {
                order: OrderRequest {
                    id: state.id,
                    symbol: state.symbol.clone(),
                    side: state.side,
                    kind: state.kind,
                    quantity: state.quantity,
                    reason: "found at the venue on restart, unknown to the store".into(),
                    created_at: state.created_at,
                },
            });
        }
        let rejected = state.status == OrderStatus::Rejected;
        if venue.unanswered.remove(&state.id) {
            // First word from the venue: it took the order (or refused it).
            self.perf.record_order(!rejected);
        }
        if rejected {
            self.counters.order_errors += 1;
        }
        let mut filled = false;
        for fill in fills.iter().filter(|f| f.order_id == state.id) {
            if !self.ledger.is_applied(&fill.symbol, &fill.trade_id) {
                self.apply_fill(fill.clone())?;
                self.ledger.mark(&fill.symbol, fill.price);
                filled = true;
            }
        }
        if filled {
            // Venue fills land between candles: re-mark now, so a flatten's
            // loss is in the equity (and the window) before the next candle.
            self.perf.mark(self.ledger.equity());
        }
        let venue = self.execution.venue_mut().expect("checked above");
        match (known, state.is_open()) {
            (Some(i), true) => venue.open[i] = state,
            (None, true) => venue.open.push(state),
            (Some(i), false) => {
                venue.open.remove(i);
                self.order_closed(state);
            }
            (None, false) => self.order_closed(state),
        }
        Ok(())
    }

    /// The venue refused an order, or never received it (`reason` says
    /// which): it ends as `status` with nothing filled.
    pub fn on_venue_refused(&mut self, id: OrderId, status: OrderStatus, reason: &str) {
        let Some(venue) = self.execution.venue_mut() else {
            return;
        };
        let Some(i) = venue.find(id) else {
            return;
        };
        let mut order = venue.open.remove(i);
        venue.unanswered.remove(&id);
        order.status = status;
        order.note = Some(reason.to_string());
        if status == OrderStatus::Rejected {
            self.perf.record_order(false);
            self.counters.order_errors += 1;
        }
        self.order_closed(order);
    }

    /// Whether an open order matches, wherever orders are routed.
    pub(crate) fn any_open_order(&self, matches: impl Fn(&OrderState) -> bool) -> bool {
        match &self.execution {
            Execution::Venue { orders, .. } => orders.open.iter().any(matches),
            Execution::Paper(broker) => broker.open_orders().any(matches),
        }
    }
}

#[cfg(test)]
#[path = "venue_routing_tests.rs"]
mod tests;

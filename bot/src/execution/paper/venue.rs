//! The paper broker behind the async [`Venue`] trait, so the engine's live
//! loop drives paper, sandbox and real phases through one interface.

use super::PaperBroker;
use crate::domain::{Fill, OrderId, OrderRequest, Symbol};
use crate::execution::{OrderState, Venue, VenueBalances, VenueError};
use std::future::{Future, ready};

impl PaperBroker {
    /// The order `id` if it belongs to `symbol` (venues key orders by symbol).
    fn order_of(&self, symbol: &Symbol, id: OrderId) -> Option<&OrderState> {
        self.order(id).filter(|o| o.symbol == *symbol)
    }
}

impl Venue for PaperBroker {
    fn name(&self) -> &str {
        "paper"
    }

    fn submit(
        &mut self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send {
        ready(PaperBroker::submit(self, order.clone()).map_err(VenueError::from))
    }

    fn cancel(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send {
        let result = match self.order_of(symbol, id) {
            Some(_) => PaperBroker::cancel(self, id),
            None => Err(VenueError::UnknownOrder { id }),
        };
        ready(result)
    }

    fn order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<Option<OrderState>, VenueError>> + Send {
        ready(Ok(self.order_of(symbol, id).cloned()))
    }

    fn open_orders(
        &mut self,
        symbol: Option<&Symbol>,
    ) -> impl Future<Output = Result<Vec<OrderState>, VenueError>> + Send {
        let orders = PaperBroker::open_orders(self)
            .filter(|o| symbol.is_none_or(|s| o.symbol == *s))
            .cloned()
            .collect();
        ready(Ok(orders))
    }

    fn fills(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> impl Future<Output = Result<Vec<Fill>, VenueError>> + Send {
        let result = match self.order_of(symbol, id) {
            Some(_) => Ok(self.fills_of(id).unwrap_or_default().to_vec()),
            None => Err(VenueError::UnknownOrder { id }),
        };
        ready(result)
    }

    fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> impl Future<Output = Result<Vec<Fill>, VenueError>> + Send {
        ready(Ok(PaperBroker::trade_history(self, symbol, since)))
    }

    fn balances(&mut self) -> impl Future<Output = Result<VenueBalances, VenueError>> + Send {
        ready(Ok(PaperBroker::balances(self)))
    }
}

//! The real venue a bot trades on, by `spec.exchange.venue`: Binance spot
//! or Coinbase Advanced Trade. One enum so the venue link, reconciliation
//! and the trader stay one code path for both.

use crate::binance::spot::{ClientOrderIds, SpotClient};
use crate::coinbase::trade::CoinbaseClient;
use crate::domain::{Fill, OrderId, OrderRequest, Price, Symbol};
use crate::execution::{OrderState, SymbolRules, Venue, VenueBalances, VenueError};
use std::time::Duration;

/// A Binance or Coinbase client.
#[derive(Debug)]
pub enum VenueClient {
    Binance(SpotClient),
    Coinbase(CoinbaseClient),
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            VenueClient::Binance($c) => $e,
            VenueClient::Coinbase($c) => $e,
        }
    };
}

impl VenueClient {
    pub fn client_order_ids(&self) -> &ClientOrderIds {
        each!(self, c => c.client_order_ids())
    }

    pub fn base_url(&self) -> String {
        each!(self, c => c.base_url().to_string())
    }

    /// How long after it was signed a request can still be executed
    /// (Binance's `recvWindow`, Coinbase's JWT lifetime): an order not
    /// found sooner may still be on its way.
    pub fn request_validity(&self, recv_window: Duration) -> Duration {
        match self {
            VenueClient::Binance(_) => recv_window,
            VenueClient::Coinbase(c) => c.request_validity(),
        }
    }

    pub fn used_weight_1m(&self) -> Option<u32> {
        match self {
            VenueClient::Binance(c) => c.used_weight_1m(),
            VenueClient::Coinbase(_) => None,
        }
    }

    pub fn set_reference_price(&mut self, symbol: &Symbol, price: Price) {
        each!(self, c => c.set_reference_price(symbol, price))
    }

    /// The venue's clock offset, then what a symbol's orders must respect.
    pub async fn sync_time(&mut self) -> Result<(), VenueError> {
        match self {
            VenueClient::Binance(c) => c.sync_time().await.map(drop),
            VenueClient::Coinbase(c) => c.sync_time().await.map(drop),
        }
    }

    pub async fn rules_for(&mut self, symbol: &Symbol) -> Result<SymbolRules, VenueError> {
        match self {
            VenueClient::Binance(c) => c.rules_for(symbol).await,
            VenueClient::Coinbase(c) => c.product_rules(symbol).await.map(|p| p.rules),
        }
    }
}

impl Venue for VenueClient {
    fn name(&self) -> &str {
        each!(self, c => c.name())
    }

    async fn submit(&mut self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        each!(self, c => c.submit(order).await)
    }

    async fn cancel(&mut self, symbol: &Symbol, id: OrderId) -> Result<OrderState, VenueError> {
        each!(self, c => c.cancel(symbol, id).await)
    }

    async fn order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<OrderState>, VenueError> {
        each!(self, c => c.order(symbol, id).await)
    }

    async fn open_orders(
        &mut self,
        symbol: Option<&Symbol>,
    ) -> Result<Vec<OrderState>, VenueError> {
        each!(self, c => c.open_orders(symbol).await)
    }

    async fn fills(&mut self, symbol: &Symbol, id: OrderId) -> Result<Vec<Fill>, VenueError> {
        each!(self, c => c.fills(symbol, id).await)
    }

    async fn order_fills(&mut self, state: &OrderState) -> Result<Vec<Fill>, VenueError> {
        each!(self, c => c.order_fills(state).await)
    }

    async fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        each!(self, c => c.trade_history(symbol, since).await)
    }

    async fn balances(&mut self) -> Result<VenueBalances, VenueError> {
        each!(self, c => c.balances().await)
    }

    async fn symbol_rules(&mut self, symbol: &Symbol) -> Result<Option<SymbolRules>, VenueError> {
        each!(self, c => c.symbol_rules(symbol).await)
    }
}

//! This bot's trade history at Coinbase, for the periodic ledger check:
//! List Orders (`/orders/historical/batch`, every page) says which orders
//! are this bot's (by client order id), List Fills (`order_ids`) reads the
//! trades of each one that filled. Coinbase's fills carry no client order
//! id, so the orders come first; the check's cost grows with the number of
//! orders the bot placed on the product.

use super::CoinbaseClient;
use crate::domain::{Fill, OrderId, Quantity, Symbol};
use crate::execution::VenueError;

impl CoinbaseClient {
    /// Every trade of this bot's orders on `symbol` at or after `since`
    /// (Unix ms), oldest first, under the engine's order ids.
    pub(super) async fn own_trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        let mut filled: Vec<(OrderId, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (orders, next) = self.list_orders_page(symbol, cursor.as_deref()).await?;
            for (state, venue_id) in orders {
                if state.filled_quantity > Quantity::ZERO {
                    filled.push((state.id, venue_id));
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut fills = Vec::new();
        for (id, venue_id) in filled {
            let trades = self.read_fills(id, &venue_id).await?;
            fills.extend(trades.into_iter().filter(|f| f.time >= since));
        }
        fills.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.trade_id.cmp(&b.trade_id))
        });
        fills.dedup_by(|a, b| a.trade_id == b.trade_id);
        Ok(fills)
    }
}

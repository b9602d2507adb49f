//! This bot's trade history at Coinbase, for the periodic ledger check:
//! List Orders (`/orders/historical/batch`, every page) says which orders
//! are this bot's (by client order id); List Fills of the product since the
//! check's start (`product_ids`, `start_sequence_timestamp`, every page)
//! reads the account's trades, and those of this bot's orders are kept.
//! Coinbase's fills carry no client order id, so the orders come first.
//! Reading the product's fills (not each order's) keeps the check at a few
//! requests however many orders the bot placed, and is the account's own
//! report of its trades, as Binance's `myTrades` is.

use std::collections::HashMap;

use super::CoinbaseClient;
use crate::domain::{Fill, OrderId, Symbol};
use crate::execution::VenueError;

impl CoinbaseClient {
    /// Every trade of this bot's orders on `symbol` at or after `since`
    /// (Unix ms), oldest first, under the engine's order ids.
    pub(super) async fn own_trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        let mut own: HashMap<String, OrderId> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let (orders, next) = self.list_orders_page(symbol, cursor.as_deref()).await?;
            own.extend(
                orders
                    .into_iter()
                    .map(|(state, venue_id)| (venue_id, state.id)),
            );
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let start = chrono::DateTime::from_timestamp_millis(since)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let query = vec![
            ("product_ids", symbol.as_str().to_string()),
            ("start_sequence_timestamp", start),
        ];
        let mut fills = self.list_fills(query, |v| own.get(v).copied()).await?;
        fills.retain(|f| f.time >= since);
        Ok(fills)
    }
}

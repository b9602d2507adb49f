//! This bot's trade history at the venue, for the periodic ledger check:
//! `GET /api/v3/allOrders` says which venue orders are this bot's (by client
//! order id), `GET /api/v3/myTrades` lists the account's trades of a
//! symbol; both are read in pages of [`PAGE`] from the first id on.

use super::{Repeat, SpotClient, invalid};
use crate::binance::spot::parse;
use crate::domain::{Fill, OrderId, Symbol};
use crate::execution::VenueError;
use reqwest::Method;
use std::collections::HashMap;

/// Binance's largest page of both endpoints.
const PAGE: usize = 1000;

impl SpotClient {
    /// Every trade of this bot's orders on `symbol` at or after `since`
    /// (Unix ms), oldest first, under the engine's order ids.
    pub async fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        let rules = self.rules_for(symbol).await?;
        let owners = self.own_orders(symbol).await?;
        let mut fills = Vec::new();
        let mut from_id: i64 = 0;
        loop {
            let params = vec![
                ("symbol", symbol.as_str().to_string()),
                ("fromId", from_id.to_string()),
                ("limit", PAGE.to_string()),
            ];
            let body = self
                .call(
                    Method::GET,
                    "/api/v3/myTrades",
                    params,
                    true,
                    Repeat::Idempotent,
                )
                .await?;
            let page = parse::parse_trade_page(
                &body,
                |venue_id| owners.get(&venue_id).copied(),
                Some(&rules),
            )
            .map_err(invalid)?;
            fills.extend(page.items.into_iter().filter(|f| f.time >= since));
            match page.last_id {
                Some(last) if page.len >= PAGE => from_id = last + 1,
                _ => break,
            }
        }
        fills.sort_by_key(|f| (f.time, f.trade_id.parse::<u64>().unwrap_or(u64::MAX)));
        Ok(fills)
    }

    /// Venue order id → engine order id of this bot's orders on `symbol`.
    async fn own_orders(&mut self, symbol: &Symbol) -> Result<HashMap<i64, OrderId>, VenueError> {
        let mut owners = HashMap::new();
        let mut from_id: i64 = 0;
        loop {
            let mut params = vec![
                ("symbol", symbol.as_str().to_string()),
                ("limit", PAGE.to_string()),
            ];
            if from_id > 0 {
                params.push(("orderId", from_id.to_string()));
            }
            let body = self
                .call(
                    Method::GET,
                    "/api/v3/allOrders",
                    params,
                    true,
                    Repeat::Idempotent,
                )
                .await?;
            let page = parse::parse_all_orders(&body, self.client_order_ids()).map_err(invalid)?;
            owners.extend(page.items);
            match page.last_id {
                Some(last) if page.len >= PAGE => from_id = last + 1,
                _ => break,
            }
        }
        Ok(owners)
    }
}

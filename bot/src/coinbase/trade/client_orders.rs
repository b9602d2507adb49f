//! Order operations of [`CoinbaseClient`]: create (product rules, look-up
//! before any resend), look-ups, fills, cancel, and the [`Venue`] impl.
//!
//! Look-up by the engine's id: Get Order takes the venue's order id, so the
//! client keeps the venue id of every order it created or saw. An order
//! whose venue id it does not know (after a restart, or a create whose
//! answer was lost) is found by listing the product's orders, newest first,
//! and matching `client_order_id` (at most
//! [`super::CoinbaseOptions::max_lookup_pages`] pages; past that the
//! look-up fails as "outcome unknown" and is asked again later, never
//! answered "not there").

use super::{CoinbaseClient, Repeat, invalid};
use crate::coinbase::trade::parse::{self, CreateOutcome};
use crate::coinbase::trade::rules::apply_product_rules;
use crate::domain::{Fill, OrderId, OrderKind, OrderRequest, OrderStatus, Quantity, Side, Symbol};
use crate::execution::{OrderState, SymbolRules, Venue, VenueBalances, VenueError};
use reqwest::Method;
use serde_json::json;

impl CoinbaseClient {
    async fn submit_order(&mut self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        if self.uncertain.contains(&order.id) {
            if let Some(state) = self.lookup(&order.symbol, order.id).await? {
                self.uncertain.remove(&order.id);
                return Ok(state);
            }
            self.uncertain.remove(&order.id);
        }
        let result = self.submit_new(order).await;
        if matches!(&result, Err(e) if e.is_fate_unknown()) {
            self.uncertain.insert(order.id);
        }
        result
    }

    async fn submit_new(&mut self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        let product = self.product_rules(&order.symbol).await?;
        let order = apply_product_rules(
            order,
            &product,
            self.reference_prices.get(&order.symbol).copied(),
        )?;
        let configuration = match order.kind {
            OrderKind::Market => json!({
                "market_market_ioc": {"base_size": order.quantity.to_string()}
            }),
            OrderKind::Limit { price } => json!({
                "limit_limit_gtc": {
                    "base_size": order.quantity.to_string(),
                    "limit_price": price.to_string(),
                    "post_only": false
                }
            }),
        };
        let body = json!({
            "client_order_id": self.ids.client_id(order.id),
            "product_id": order.symbol.as_str(),
            "side": match order.side { Side::Buy => "BUY", Side::Sell => "SELL" },
            "order_configuration": configuration,
        });
        let attempts = self.opts.retry.max_attempts;
        let mut backoff = self.opts.retry.initial_backoff;
        let mut last_error = None;
        for _ in 0..attempts {
            match self
                .call(
                    Method::POST,
                    "/orders",
                    Vec::new(),
                    Some(body.clone()),
                    Repeat::LookUpFirst,
                )
                .await
            {
                Ok(text) => match parse::parse_create_order(&text).map_err(invalid)? {
                    CreateOutcome::Accepted { order_id } => {
                        self.venue_ids.insert(order.id, order_id);
                        return match self.lookup(&order.symbol, order.id).await {
                            Ok(Some(state)) => Ok(state),
                            // Accepted but not readable yet: the engine
                            // holds it open and polls it.
                            Ok(None) | Err(_) => Ok(accepted_state(&order)),
                        };
                    }
                    CreateOutcome::Refused {
                        error,
                        message,
                        reason,
                    } => {
                        // An earlier attempt with this client id got through.
                        if format!("{error} {reason}").contains("DUPLICATE")
                            && let Some(state) = self.lookup(&order.symbol, order.id).await?
                        {
                            return Ok(state);
                        }
                        return Err(VenueError::Exchange {
                            code: 400,
                            message: format!("order refused: {error} {reason}: {message}"),
                        });
                    }
                },
                Err(e) if e.is_fate_unknown() => {
                    tracing::warn!(order = %order.id, error = %e, "create outcome unknown; looking the order up");
                    match self.lookup(&order.symbol, order.id).await {
                        Ok(Some(state)) => return Ok(state),
                        Ok(None) => {}
                        Err(_) => return Err(e),
                    }
                    last_error = Some(e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.opts.retry.max_backoff);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(VenueError::Unavailable {
            message: "create order: no attempt made".into(),
        }))
    }

    /// One page of List Orders on `symbol` (this bot's orders, by client
    /// order id), each venue id remembered, and the next page's cursor.
    pub(super) async fn list_orders_page(
        &mut self,
        symbol: &Symbol,
        cursor: Option<&str>,
    ) -> Result<parse::Page<(OrderState, String)>, VenueError> {
        let filters = vec![("product_ids", symbol.as_str().to_string())];
        self.list_orders_page_where(filters, cursor).await
    }

    /// One page of List Orders matching `filters` (query parameters), as
    /// [`Self::list_orders_page`].
    async fn list_orders_page_where(
        &mut self,
        filters: Vec<(&'static str, String)>,
        cursor: Option<&str>,
    ) -> Result<parse::Page<(OrderState, String)>, VenueError> {
        let mut query = filters;
        query.push(("limit", "250".to_string()));
        if let Some(c) = cursor {
            query.push(("cursor", c.to_string()));
        }
        let body = self
            .call(
                Method::GET,
                "/orders/historical/batch",
                query,
                None,
                Repeat::Idempotent,
            )
            .await?;
        let (orders, next) = parse::parse_list_orders(&body, &self.ids).map_err(invalid)?;
        for (state, venue_id) in &orders {
            self.venue_ids
                .entry(state.id)
                .or_insert_with(|| venue_id.clone());
        }
        Ok((orders, next))
    }

    /// The venue id of `id`, reading List Orders when it is not known yet.
    async fn venue_id(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<String>, VenueError> {
        if let Some(v) = self.venue_ids.get(&id) {
            return Ok(Some(v.clone()));
        }
        let mut cursor: Option<String> = None;
        for _ in 0..self.opts.max_lookup_pages {
            let (_, next) = self.list_orders_page(symbol, cursor.as_deref()).await?;
            if let Some(v) = self.venue_ids.get(&id) {
                return Ok(Some(v.clone()));
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(None),
            }
        }
        Err(VenueError::Unavailable {
            message: format!(
                "order {id} is not among the newest {} pages of {symbol} orders; asking again later",
                self.opts.max_lookup_pages
            ),
        })
    }

    /// The order's state (Get Order carries its total fees), or `None`
    /// when the venue never accepted it.
    pub(super) async fn lookup(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<OrderState>, VenueError> {
        let Some(venue_id) = self.venue_id(symbol, id).await? else {
            return Ok(None);
        };
        let path = format!("/orders/historical/{venue_id}");
        match self
            .call(Method::GET, &path, Vec::new(), None, Repeat::Idempotent)
            .await
        {
            Ok(body) => Ok(parse::parse_get_order(&body, &self.ids)
                .map_err(invalid)?
                .map(|(state, _)| state)),
            Err(VenueError::Exchange { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn read_fills(
        &mut self,
        id: OrderId,
        venue_id: &str,
    ) -> Result<Vec<Fill>, VenueError> {
        let query = vec![("order_ids", venue_id.to_string())];
        let all = self
            .list_fills(query, |v| (v == venue_id).then_some(id))
            .await?;
        self.last_fills = Some((id, all.clone()));
        Ok(all)
    }

    /// Every page of List Fills for `query`: the fills of the orders `own`
    /// knows (venue order id → the engine's), oldest first, each trade once.
    pub(super) async fn list_fills(
        &mut self,
        query: Vec<(&'static str, String)>,
        own: impl Fn(&str) -> Option<OrderId>,
    ) -> Result<Vec<Fill>, VenueError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page_query = query.clone();
            page_query.push(("limit", "100".to_string()));
            if let Some(c) = &cursor {
                page_query.push(("cursor", c.clone()));
            }
            let body = self
                .call(
                    Method::GET,
                    "/orders/historical/fills",
                    page_query,
                    None,
                    Repeat::Idempotent,
                )
                .await?;
            let (fills, next) = parse::parse_fills(&body, &own).map_err(invalid)?;
            all.extend(fills);
            // A page may hold only other orders' fills: an empty page or
            // no new cursor ends the list.
            match next {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                _ => break,
            }
        }
        all.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.trade_id.cmp(&b.trade_id))
        });
        all.dedup_by(|a, b| a.trade_id == b.trade_id);
        Ok(all)
    }

    async fn cancel_order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<OrderState, VenueError> {
        let Some(venue_id) = self.venue_id(symbol, id).await? else {
            return Err(VenueError::UnknownOrder { id });
        };
        let body = self
            .call(
                Method::POST,
                "/orders/batch_cancel",
                Vec::new(),
                Some(json!({"order_ids": [venue_id]})),
                Repeat::Idempotent,
            )
            .await?;
        let results = parse::parse_cancel(&body).map_err(invalid)?;
        let result = results.into_iter().find(|r| r.order_id == venue_id);
        let state = self.lookup(symbol, id).await?;
        match (result, state) {
            (_, None) => Err(VenueError::UnknownOrder { id }),
            (Some(r), Some(state)) if r.success => Ok(state),
            (_, Some(state)) if state.status == OrderStatus::Canceled => Ok(state),
            (_, Some(state)) if !state.is_open() => Err(VenueError::NotOpen {
                id,
                status: state.status,
            }),
            (r, Some(_)) => Err(VenueError::Exchange {
                code: 400,
                message: format!(
                    "cancel refused: {}",
                    r.map_or_else(
                        || "no result for the order".to_string(),
                        |r| r.failure_reason
                    )
                ),
            }),
        }
    }
}

/// An accepted order not read back yet: open, nothing filled.
fn accepted_state(order: &OrderRequest) -> OrderState {
    OrderState {
        id: order.id,
        symbol: order.symbol.clone(),
        side: order.side,
        kind: order.kind,
        quantity: order.quantity,
        status: OrderStatus::New,
        filled_quantity: Quantity::ZERO,
        filled_notional: crate::domain::Money::ZERO,
        fees: crate::domain::Money::ZERO,
        created_at: order.created_at,
        updated_at: order.created_at,
        note: None,
    }
}

impl Venue for CoinbaseClient {
    fn name(&self) -> &str {
        "coinbase"
    }

    async fn submit(&mut self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        self.submit_order(order).await
    }

    async fn cancel(&mut self, symbol: &Symbol, id: OrderId) -> Result<OrderState, VenueError> {
        self.cancel_order(symbol, id).await
    }

    async fn order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<OrderState>, VenueError> {
        self.lookup(symbol, id).await
    }

    async fn open_orders(
        &mut self,
        symbol: Option<&Symbol>,
    ) -> Result<Vec<OrderState>, VenueError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut filters = vec![("order_status", "OPEN".to_string())];
            if let Some(s) = symbol {
                filters.push(("product_ids", s.as_str().to_string()));
            }
            let (orders, next) = self
                .list_orders_page_where(filters, cursor.as_deref())
                .await?;
            out.extend(
                orders
                    .into_iter()
                    .map(|(state, _)| state)
                    .filter(OrderState::is_open),
            );
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }

    /// The fills read with `state` when they account for all it filled
    /// (no request), else read again.
    async fn order_fills(&mut self, state: &OrderState) -> Result<Vec<Fill>, VenueError> {
        if let Some((id, fills)) = self.last_fills.take()
            && id == state.id
            && fills.iter().map(|f| f.quantity).sum::<Quantity>() == state.filled_quantity
        {
            return Ok(fills);
        }
        self.fills(&state.symbol, state.id).await
    }

    async fn fills(&mut self, symbol: &Symbol, id: OrderId) -> Result<Vec<Fill>, VenueError> {
        let Some(venue_id) = self.venue_id(symbol, id).await? else {
            return Err(VenueError::UnknownOrder { id });
        };
        self.read_fills(id, &venue_id).await
    }

    async fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        self.own_trade_history(symbol, since).await
    }

    async fn balances(&mut self) -> Result<VenueBalances, VenueError> {
        let mut accounts = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "250".to_string())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let body = self
                .call(Method::GET, "/accounts", query, None, Repeat::Idempotent)
                .await?;
            let (page, next) = parse::parse_accounts(&body).map_err(invalid)?;
            accounts.extend(page);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let rules: Vec<SymbolRules> = self.rules.values().map(|p| p.rules.clone()).collect();
        Ok(parse::balances_from_accounts(&accounts, &rules))
    }

    async fn symbol_rules(&mut self, symbol: &Symbol) -> Result<Option<SymbolRules>, VenueError> {
        self.product_rules(symbol).await.map(|p| Some(p.rules))
    }
}

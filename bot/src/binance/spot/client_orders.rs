//! Order operations of [`SpotClient`]: submit (filters, lookup before any
//! resend), lookups, trades, cancel, and the [`Venue`] impl.

use super::codes;
use super::{Repeat, SpotClient, invalid};
use crate::binance::spot::filters::apply_filters;
use crate::binance::spot::parse;
use crate::domain::{Fill, OrderId, OrderKind, OrderRequest, OrderStatus, Symbol};
use crate::execution::{OrderState, SymbolRules, Venue, VenueBalances, VenueError};
use reqwest::Method;

impl SpotClient {
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
        let rules = self.rules_for(&order.symbol).await?;
        let order = apply_filters(
            order,
            &rules,
            self.reference_prices.get(&order.symbol).copied(),
        )?;
        let mut params = vec![
            ("symbol", order.symbol.as_str().to_string()),
            (
                "side",
                match order.side {
                    crate::domain::Side::Buy => "BUY",
                    crate::domain::Side::Sell => "SELL",
                }
                .to_string(),
            ),
        ];
        match order.kind {
            OrderKind::Market => params.push(("type", "MARKET".into())),
            OrderKind::Limit { price } => {
                params.push(("type", "LIMIT".into()));
                params.push(("timeInForce", "GTC".into()));
                params.push(("price", price.to_string()));
            }
        }
        params.push(("quantity", order.quantity.to_string()));
        params.push(("newClientOrderId", self.ids.client_id(order.id)));
        params.push(("newOrderRespType", "FULL".into()));
        let attempts = self.opts.retry.max_attempts;
        let mut backoff = self.opts.retry.initial_backoff;
        let mut last_error = None;
        for _ in 0..attempts {
            match self
                .call(
                    Method::POST,
                    "/api/v3/order",
                    params.clone(),
                    true,
                    Repeat::LookUpFirst,
                )
                .await
            {
                Ok(body) => {
                    let (state, _, fills) =
                        parse::parse_order_body(&body, &self.ids, Some(&rules)).map_err(invalid)?;
                    self.last_fills = Some((state.id, fills));
                    return Ok(state);
                }
                Err(e) if e.is_fate_unknown() => {
                    tracing::warn!(order = %order.id, error = %e, "submit outcome unknown; looking the order up");
                    match self.lookup(&order.symbol, order.id).await {
                        Ok(Some(state)) => return Ok(state),
                        Ok(None) => {}
                        // Still unknown: the caller must not resubmit blindly.
                        Err(_) => return Err(e),
                    }
                    last_error = Some(e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.opts.retry.max_backoff);
                }
                Err(VenueError::Exchange { code, message })
                    if code == codes::NEW_ORDER_REJECTED && message.contains("Duplicate") =>
                {
                    // An earlier attempt did get through.
                    if let Some(state) = self.lookup(&order.symbol, order.id).await? {
                        return Ok(state);
                    }
                    return Err(VenueError::Exchange { code, message });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(VenueError::Unavailable {
            message: "submit: no attempt made".into(),
        }))
    }

    /// `GET /api/v3/order` by client order id: the state and the venue's id.
    async fn lookup_with_id(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<(OrderState, i64)>, VenueError> {
        let params = vec![
            ("symbol", symbol.as_str().to_string()),
            ("origClientOrderId", self.ids.client_id(id)),
        ];
        match self
            .call(
                Method::GET,
                "/api/v3/order",
                params,
                true,
                Repeat::Idempotent,
            )
            .await
        {
            Ok(body) => {
                let rules = self.rules.get(symbol).cloned();
                let (state, venue_id, _) =
                    parse::parse_order_body(&body, &self.ids, rules.as_ref()).map_err(invalid)?;
                Ok(Some((state, venue_id)))
            }
            Err(VenueError::Exchange { code, .. }) if code == codes::NO_SUCH_ORDER => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The order with its fees (from its trades when anything filled).
    async fn lookup(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<Option<OrderState>, VenueError> {
        let Some((mut state, venue_id)) = self.lookup_with_id(symbol, id).await? else {
            return Ok(None);
        };
        if !state.filled_quantity.is_zero() {
            let fills = self.trades(symbol, id, venue_id).await?;
            state.fees = fills.iter().map(|f| f.fee).sum();
        }
        Ok(Some(state))
    }

    async fn trades(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
        venue_id: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        let params = vec![
            ("symbol", symbol.as_str().to_string()),
            ("orderId", venue_id.to_string()),
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
        let rules = self.rules.get(symbol).cloned();
        let fills = parse::parse_my_trades(&body, id, rules.as_ref()).map_err(invalid)?;
        self.last_fills = Some((id, fills.clone()));
        Ok(fills)
    }

    async fn cancel_order(
        &mut self,
        symbol: &Symbol,
        id: OrderId,
    ) -> Result<OrderState, VenueError> {
        let params = vec![
            ("symbol", symbol.as_str().to_string()),
            ("origClientOrderId", self.ids.client_id(id)),
        ];
        match self
            .call(
                Method::DELETE,
                "/api/v3/order",
                params,
                true,
                Repeat::Idempotent,
            )
            .await
        {
            Ok(body) => {
                let rules = self.rules.get(symbol).cloned();
                let (mut state, venue_id, _) =
                    parse::parse_order_body(&body, &self.ids, rules.as_ref()).map_err(invalid)?;
                if !state.filled_quantity.is_zero() {
                    state.fees = self
                        .trades(symbol, id, venue_id)
                        .await?
                        .iter()
                        .map(|f| f.fee)
                        .sum();
                }
                Ok(state)
            }
            // Unknown, or no longer open (a fill won the race, or an earlier
            // attempt of this cancel went through): ask what it is now.
            Err(VenueError::Exchange { code, message })
                if code == codes::CANCEL_REJECTED || code == codes::NO_SUCH_ORDER =>
            {
                match self.lookup(symbol, id).await? {
                    None => Err(VenueError::UnknownOrder { id }),
                    Some(state) if state.status == OrderStatus::Canceled => Ok(state),
                    Some(state) if !state.is_open() => Err(VenueError::NotOpen {
                        id,
                        status: state.status,
                    }),
                    Some(_) => Err(VenueError::Exchange { code, message }),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl Venue for SpotClient {
    fn name(&self) -> &str {
        "binance"
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
        let params = symbol
            .map(|s| vec![("symbol", s.as_str().to_string())])
            .unwrap_or_default();
        let body = self
            .call(
                Method::GET,
                "/api/v3/openOrders",
                params,
                true,
                Repeat::Idempotent,
            )
            .await?;
        let mut orders = parse::parse_open_orders(&body, &self.ids).map_err(invalid)?;
        for state in &mut orders {
            if !state.filled_quantity.is_zero()
                && let Some(full) = self.lookup(&state.symbol.clone(), state.id).await?
            {
                state.fees = full.fees;
            }
        }
        Ok(orders)
    }

    /// The fills read with `state` when they account for all it filled
    /// (no request), else read again.
    async fn order_fills(&mut self, state: &OrderState) -> Result<Vec<Fill>, VenueError> {
        if let Some((id, fills)) = self.last_fills.take()
            && id == state.id
            && fills
                .iter()
                .map(|f| f.quantity)
                .sum::<crate::domain::Quantity>()
                == state.filled_quantity
        {
            return Ok(fills);
        }
        self.fills(&state.symbol, state.id).await
    }

    async fn fills(&mut self, symbol: &Symbol, id: OrderId) -> Result<Vec<Fill>, VenueError> {
        let Some((_, venue_id)) = self.lookup_with_id(symbol, id).await? else {
            return Err(VenueError::UnknownOrder { id });
        };
        self.trades(symbol, id, venue_id).await
    }

    async fn trade_history(
        &mut self,
        symbol: &Symbol,
        since: i64,
    ) -> Result<Vec<Fill>, VenueError> {
        SpotClient::trade_history(self, symbol, since).await
    }

    async fn balances(&mut self) -> Result<VenueBalances, VenueError> {
        let body = self
            .call(
                Method::GET,
                "/api/v3/account",
                Vec::new(),
                true,
                Repeat::Idempotent,
            )
            .await?;
        let rules: Vec<SymbolRules> = self.rules.values().cloned().collect();
        parse::parse_account(&body, &rules).map_err(invalid)
    }

    async fn symbol_rules(&mut self, symbol: &Symbol) -> Result<Option<SymbolRules>, VenueError> {
        self.rules_for(symbol).await.map(Some)
    }
}

//! Parsers for the signed endpoints' documented responses. Every problem is
//! a [`WireError`] naming the field; nothing here panics on network input.

use super::sign::ClientOrderIds;
use crate::binance::wire::{Fields, WireError, kind, parse_json};
use crate::domain::{
    Fill, Liquidity, Money, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use crate::execution::{CashBalance, Holding, OrderState, SymbolRules, VenueBalances};
use serde_json::{Map, Value};

fn object<'a>(v: &'a Value, context: &str) -> Result<&'a Map<String, Value>, WireError> {
    v.as_object()
        .ok_or_else(|| WireError::new(context, format!("expected an object, found {}", kind(v))))
}

fn array<'a>(v: &'a Value, context: &str) -> Result<&'a Vec<Value>, WireError> {
    v.as_array()
        .ok_or_else(|| WireError::new(context, format!("expected an array, found {}", kind(v))))
}

/// `GET /api/v3/time`: `{"serverTime": 1499827319559}`.
pub fn parse_server_time(body: &str) -> Result<i64, WireError> {
    let v = parse_json(body, "server time response")?;
    let f = Fields {
        map: object(&v, "server time response")?,
        context: "server time response",
    };
    f.int("serverTime", "server time, ms")
}

/// One symbol's filters from `GET /api/v3/exchangeInfo?symbol=...`.
/// NOTIONAL (current) or MIN_NOTIONAL (older) gives the minimum notional; a
/// symbol with neither has none.
pub fn parse_symbol_rules(body: &str, symbol: &Symbol) -> Result<SymbolRules, WireError> {
    let v = parse_json(body, "exchangeInfo response")?;
    let root = Fields {
        map: object(&v, "exchangeInfo response")?,
        context: "exchangeInfo response",
    };
    let symbols = array(
        root.get("symbols", "symbol list")?,
        "exchangeInfo `symbols`",
    )?;
    let entry = symbols
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.get("symbol").and_then(Value::as_str) == Some(symbol.as_str()))
        .ok_or_else(|| {
            WireError::new(
                "exchangeInfo `symbols`",
                format!("no entry for {symbol}; is the symbol traded on this venue?"),
            )
        })?;
    let s = Fields {
        map: entry,
        context: "exchangeInfo symbol",
    };
    let filters = array(
        s.get("filters", "order filters")?,
        "exchangeInfo symbol `filters`",
    )?;
    let mut tick = None;
    let mut step = None;
    let mut min_qty = None;
    let mut min_notional = Money::ZERO;
    for filter in filters {
        let f = Fields {
            map: object(filter, "exchangeInfo filter")?,
            context: "exchangeInfo filter",
        };
        match f.string("filterType", "filter type")? {
            "PRICE_FILTER" => tick = Some(f.decimal::<Price>("tickSize", "tick size")?),
            "LOT_SIZE" => {
                step = Some(f.decimal::<Quantity>("stepSize", "lot step")?);
                min_qty = Some(f.decimal::<Quantity>("minQty", "minimum quantity")?);
            }
            "NOTIONAL" | "MIN_NOTIONAL" => {
                min_notional = f.decimal("minNotional", "minimum notional")?;
            }
            _ => {}
        }
    }
    let missing = |name: &str| {
        WireError::new(
            format!("exchangeInfo filters of {symbol}"),
            format!("no {name} filter"),
        )
    };
    Ok(SymbolRules {
        symbol: symbol.clone(),
        base_asset: s.string("baseAsset", "base asset")?.to_string(),
        quote_asset: s.string("quoteAsset", "quote asset")?.to_string(),
        tick_size: tick.ok_or_else(|| missing("PRICE_FILTER"))?,
        step_size: step.ok_or_else(|| missing("LOT_SIZE"))?,
        min_quantity: min_qty.ok_or_else(|| missing("LOT_SIZE"))?,
        min_notional,
    })
}

/// An order as `POST`, `GET` or `DELETE /api/v3/order` (and each element of
/// `openOrders`) returns it, with the venue's numeric order id.
/// `Ok(None)` when the client order id is not one of ours.
pub fn parse_order(
    v: &Value,
    ids: &ClientOrderIds,
    rules: Option<&SymbolRules>,
) -> Result<Option<(OrderState, i64)>, WireError> {
    let f = Fields {
        map: object(v, "order")?,
        context: "order",
    };
    // DELETE answers with the cancel's own `clientOrderId` and the order's in `origClientOrderId`.
    let client_id = match f.map.get("origClientOrderId") {
        Some(_) => f.string("origClientOrderId", "client order id")?,
        None => f.string("clientOrderId", "client order id")?,
    };
    let Some(id) = ids.order_id(client_id) else {
        return Ok(None);
    };
    let venue_id = f.int("orderId", "venue order id")?;
    let side = match f.string("side", "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        other => {
            return Err(WireError::new(
                f.at("side", "side"),
                format!("`{other}` is neither BUY nor SELL"),
            ));
        }
    };
    let kind = match f.string("type", "order type")? {
        "MARKET" => OrderKind::Market,
        "LIMIT" => OrderKind::Limit {
            price: f.decimal("price", "limit price")?,
        },
        other => {
            return Err(WireError::new(
                f.at("type", "order type"),
                format!("`{other}` orders are not placed by Botfleet (expected MARKET or LIMIT)"),
            ));
        }
    };
    let status = parse_status(f.string("status", "status")?)
        .ok_or_else(|| WireError::new(f.at("status", "status"), "unknown order status"))?;
    let created_at = ["time", "transactTime"]
        .iter()
        .find(|k| f.map.contains_key(**k))
        .map(|k| f.int(k, "time"))
        .transpose()?
        .unwrap_or(0);
    let updated_at = match f.map.get("updateTime") {
        Some(_) => f.int("updateTime", "update time")?,
        None => created_at,
    };
    let mut fees = Money::ZERO;
    if let Some(fills) = f.map.get("fills") {
        for fill in array(fills, "order field `fills`")? {
            fees += parse_fee(
                &Fields {
                    map: object(fill, "order fill")?,
                    context: "order fill",
                },
                "price",
                "qty",
                rules,
            )?;
        }
    }
    let state = OrderState {
        id,
        symbol: Symbol::new(f.string("symbol", "symbol")?),
        side,
        kind,
        quantity: f.decimal("origQty", "ordered quantity")?,
        status,
        filled_quantity: f.decimal("executedQty", "filled quantity")?,
        filled_notional: f.decimal("cummulativeQuoteQty", "filled notional")?,
        fees,
        created_at,
        updated_at,
        note: None,
    };
    Ok(Some((state, venue_id)))
}

/// The fills of a `FULL` submit response, as engine fills.
pub fn parse_submit_fills(
    v: &Value,
    state: &OrderState,
    rules: Option<&SymbolRules>,
) -> Result<Vec<Fill>, WireError> {
    let Some(fills) = v.get("fills") else {
        return Ok(Vec::new());
    };
    let time = state.updated_at;
    array(fills, "order field `fills`")?
        .iter()
        .map(|fill| {
            let f = Fields {
                map: object(fill, "order fill")?,
                context: "order fill",
            };
            Ok(Fill {
                trade_id: f.int("tradeId", "trade id")?.to_string(),
                order_id: state.id,
                symbol: state.symbol.clone(),
                side: state.side,
                price: f.decimal("price", "fill price")?,
                quantity: f.decimal("qty", "fill quantity")?,
                fee: parse_fee(&f, "price", "qty", rules)?,
                liquidity: Liquidity::Taker,
                time,
            })
        })
        .collect()
}

/// A fill's commission in quote currency: as is when paid in the quote
/// asset, × price when paid in the base asset. Paid in a third asset (BNB)
/// it cannot be valued exactly here and counts as 0, with a warning.
fn parse_fee(
    f: &Fields<'_>,
    price_key: &str,
    qty_key: &str,
    rules: Option<&SymbolRules>,
) -> Result<Money, WireError> {
    let commission: Money = f.decimal("commission", "commission")?;
    let asset = f.string("commissionAsset", "commission asset")?;
    let Some(rules) = rules else {
        return Ok(commission);
    };
    if asset == rules.quote_asset {
        Ok(commission)
    } else if asset == rules.base_asset {
        let price: Price = f.decimal(price_key, "fill price")?;
        let _: Quantity = f.decimal(qty_key, "fill quantity")?;
        Ok(Money::new(commission.value() * price.value()))
    } else {
        tracing::warn!(asset, %commission, "commission paid in a third asset is not counted as a fee");
        Ok(Money::ZERO)
    }
}

fn parse_status(s: &str) -> Option<OrderStatus> {
    Some(match s {
        "NEW" | "PENDING_NEW" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" | "PENDING_CANCEL" => OrderStatus::Canceled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        _ => return None,
    })
}

/// A single order body (`POST`/`GET`/`DELETE /api/v3/order`).
pub fn parse_order_body(
    body: &str,
    ids: &ClientOrderIds,
    rules: Option<&SymbolRules>,
) -> Result<(OrderState, i64, Vec<Fill>), WireError> {
    let v = parse_json(body, "order response")?;
    let (state, venue_id) = parse_order(&v, ids, rules)?.ok_or_else(|| {
        WireError::new(
            "order response field `clientOrderId`",
            format!(
                "not an order of this bot (expected the prefix `{}-`)",
                ids.prefix()
            ),
        )
    })?;
    let fills = parse_submit_fills(&v, &state, rules)?;
    Ok((state, venue_id, fills))
}

/// `GET /api/v3/openOrders`: this bot's orders (others on the account are skipped).
pub fn parse_open_orders(body: &str, ids: &ClientOrderIds) -> Result<Vec<OrderState>, WireError> {
    let v = parse_json(body, "openOrders response")?;
    let mut out = Vec::new();
    for item in array(&v, "openOrders response")? {
        if let Some((state, _)) = parse_order(item, ids, None)? {
            out.push(state);
        }
    }
    Ok(out)
}

/// `GET /api/v3/account` balances mapped onto the traded symbols: the quote
/// asset is cash, each symbol's base asset a holding.
pub fn parse_account(body: &str, rules: &[SymbolRules]) -> Result<VenueBalances, WireError> {
    let v = parse_json(body, "account response")?;
    let root = Fields {
        map: object(&v, "account response")?,
        context: "account response",
    };
    let mut free_locked = std::collections::HashMap::new();
    for b in array(
        root.get("balances", "balances")?,
        "account field `balances`",
    )? {
        let f = Fields {
            map: object(b, "account balance")?,
            context: "account balance",
        };
        let free: Quantity = f.decimal("free", "free amount")?;
        let locked: Quantity = f.decimal("locked", "locked amount")?;
        free_locked.insert(f.string("asset", "asset")?.to_string(), (free, locked));
    }
    let get = |asset: &str| {
        free_locked
            .get(asset)
            .copied()
            .unwrap_or((Quantity::ZERO, Quantity::ZERO))
    };
    let mut out = VenueBalances::default();
    if let Some(first) = rules.first() {
        let (free, locked) = get(&first.quote_asset);
        out.cash = CashBalance {
            free: Money::new(free.value()),
            locked: Money::new(locked.value()),
        };
    }
    for r in rules {
        let (free, locked) = get(&r.base_asset);
        out.holdings.push(Holding {
            symbol: r.symbol.clone(),
            free,
            locked,
        });
    }
    Ok(out)
}

/// `GET /api/v3/myTrades?orderId=...`: the fills of engine order `id`.
pub fn parse_my_trades(
    body: &str,
    id: OrderId,
    rules: Option<&SymbolRules>,
) -> Result<Vec<Fill>, WireError> {
    let v = parse_json(body, "myTrades response")?;
    let mut fills = Vec::new();
    for t in array(&v, "myTrades response")? {
        fills.push(parse_trade(t, id, rules)?);
    }
    sort_fills(&mut fills);
    Ok(fills)
}

fn sort_fills(fills: &mut [Fill]) {
    fills.sort_by_key(|f| (f.time, f.trade_id.parse::<u64>().unwrap_or(u64::MAX)));
}

fn parse_trade(t: &Value, id: OrderId, rules: Option<&SymbolRules>) -> Result<Fill, WireError> {
    let f = Fields {
        map: object(t, "trade")?,
        context: "trade",
    };
    Ok(Fill {
        trade_id: f.int("id", "trade id")?.to_string(),
        order_id: id,
        symbol: Symbol::new(f.string("symbol", "symbol")?),
        side: if f.boolean("isBuyer", "buyer flag")? {
            Side::Buy
        } else {
            Side::Sell
        },
        price: f.decimal("price", "price")?,
        quantity: f.decimal("qty", "quantity")?,
        fee: parse_fee(&f, "price", "qty", rules)?,
        liquidity: if f.boolean("isMaker", "maker flag")? {
            Liquidity::Maker
        } else {
            Liquidity::Taker
        },
        time: f.int("time", "trade time")?,
    })
}

/// One page of a paged endpoint: what it held of this bot's, how many
/// entries it held in all, and its last id (the next page starts after it).
pub struct Page<T> {
    pub items: Vec<T>,
    pub len: usize,
    pub last_id: Option<i64>,
}

/// One page of `GET /api/v3/allOrders`: the venue order id of each order
/// of this bot (by its client order id).
pub fn parse_all_orders(
    body: &str,
    ids: &ClientOrderIds,
) -> Result<Page<(i64, OrderId)>, WireError> {
    let v = parse_json(body, "allOrders response")?;
    let items = array(&v, "allOrders response")?;
    let mut own = Vec::new();
    let mut last = None;
    for item in items {
        let f = Fields {
            map: object(item, "order")?,
            context: "order",
        };
        let venue_id = f.int("orderId", "venue order id")?;
        last = Some(last.map_or(venue_id, |l: i64| l.max(venue_id)));
        if let Some(id) = ids.order_id(f.string("clientOrderId", "client order id")?) {
            own.push((venue_id, id));
        }
    }
    Ok(Page {
        items: own,
        len: items.len(),
        last_id: last,
    })
}

/// One page of `GET /api/v3/myTrades?symbol=...&fromId=...`: the trades
/// whose venue order `owner` maps to an engine order (this bot's).
pub fn parse_trade_page(
    body: &str,
    owner: impl Fn(i64) -> Option<OrderId>,
    rules: Option<&SymbolRules>,
) -> Result<Page<Fill>, WireError> {
    let v = parse_json(body, "myTrades response")?;
    let items = array(&v, "myTrades response")?;
    let mut fills = Vec::new();
    let mut last = None;
    for t in items {
        let f = Fields {
            map: object(t, "trade")?,
            context: "trade",
        };
        let trade_id = f.int("id", "trade id")?;
        last = Some(last.map_or(trade_id, |l: i64| l.max(trade_id)));
        if let Some(id) = owner(f.int("orderId", "venue order id")?) {
            fills.push(parse_trade(t, id, rules)?);
        }
    }
    sort_fills(&mut fills);
    Ok(Page {
        items: fills,
        len: items.len(),
        last_id: last,
    })
}

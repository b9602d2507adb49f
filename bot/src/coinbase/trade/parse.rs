//! Parsers for the Advanced Trade responses the client reads, in the shapes
//! Coinbase documents (snake_case fields, decimals as strings, RFC 3339
//! times). Every problem is a [`WireError`] naming the field; nothing here
//! panics on network input.

use super::rules::ProductRules;
use crate::binance::spot::ClientOrderIds;
use crate::binance::wire::{Fields, WireError, kind, parse_json};
use crate::domain::{
    Fill, Liquidity, Money, OrderId, OrderKind, OrderStatus, Price, Quantity, Side, Symbol,
};
use crate::execution::{CashBalance, Holding, OrderState, SymbolRules, VenueBalances};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

fn object<'a>(v: &'a Value, context: &str) -> Result<&'a Map<String, Value>, WireError> {
    v.as_object()
        .ok_or_else(|| WireError::new(context, format!("expected an object, found {}", kind(v))))
}

fn array<'a>(v: &'a Value, context: &str) -> Result<&'a Vec<Value>, WireError> {
    v.as_array()
        .ok_or_else(|| WireError::new(context, format!("expected an array, found {}", kind(v))))
}

/// One page of a listing and the cursor of the next page (`None` on the last).
pub type Page<T> = (Vec<T>, Option<String>);

/// An account: currency, available, on hold.
pub type AccountRow = (String, Decimal, Decimal);

/// An RFC 3339 time as Unix ms.
fn time_ms(f: &Fields<'_>, key: &str, what: &str) -> Result<i64, WireError> {
    let text = f.string(key, what)?;
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| WireError::new(f.at(key, what), format!("not an RFC 3339 time ({e})")))
}

/// A decimal string that may be empty (Coinbase sends `""` for unset numbers).
fn decimal_or_zero(f: &Fields<'_>, key: &str, what: &str) -> Result<Decimal, WireError> {
    match f.map.get(key) {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) if s.is_empty() => Ok(Decimal::ZERO),
        Some(_) => f.decimal(key, what),
    }
}

/// Coinbase's error body: `{"error": "NOT_FOUND", "message": "...", ...}`
/// (`error_details`/`details` ignored). `None` for anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
    pub message: String,
}

pub fn parse_error_body(body: &str) -> Option<ApiError> {
    let v: Value = serde_json::from_str(body).ok()?;
    let o = v.as_object()?;
    let error = o.get("error").and_then(Value::as_str)?.to_string();
    let message = o
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| o.get("error_details").and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    Some(ApiError { error, message })
}

/// `GET /api/v3/brokerage/products/{product_id}`.
pub fn parse_product(body: &str, symbol: &Symbol) -> Result<ProductRules, WireError> {
    let v = parse_json(body, "product response")?;
    let f = Fields {
        map: object(&v, "product response")?,
        context: "product",
    };
    let id = f.string("product_id", "product id")?;
    if id != symbol.as_str() {
        return Err(WireError::new(
            f.at("product_id", "product id"),
            format!("asked for {symbol}, got {id}"),
        ));
    }
    let quote_increment: Price = f.decimal("quote_increment", "quote increment")?;
    // price_increment is the tick of limit prices; older answers lack it and
    // quote_increment serves.
    let tick = match f.map.get("price_increment") {
        Some(Value::String(s)) if !s.is_empty() => {
            f.decimal("price_increment", "price increment")?
        }
        _ => quote_increment,
    };
    let flag = |key: &str| f.map.get(key).and_then(Value::as_bool).unwrap_or(false);
    Ok(ProductRules {
        rules: SymbolRules {
            symbol: symbol.clone(),
            base_asset: f.string("base_currency_id", "base currency")?.to_string(),
            quote_asset: f.string("quote_currency_id", "quote currency")?.to_string(),
            tick_size: tick,
            step_size: f.decimal("base_increment", "base increment")?,
            min_quantity: f.decimal("base_min_size", "minimum base size")?,
            min_notional: f.decimal("quote_min_size", "minimum quote size")?,
        },
        quote_increment,
        base_max_size: f.decimal("base_max_size", "maximum base size")?,
        status: f.string("status", "product status")?.to_string(),
        trading_disabled: flag("trading_disabled") || flag("is_disabled"),
        cancel_only: flag("cancel_only"),
        limit_only: flag("limit_only"),
        post_only: flag("post_only"),
    })
}

/// What `POST /api/v3/brokerage/orders` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Accepted: the venue's order id (the order's state is read with Get Order).
    Accepted { order_id: String },
    /// Refused before placing (`success: false`).
    Refused {
        error: String,
        message: String,
        reason: String,
    },
}

pub fn parse_create_order(body: &str) -> Result<CreateOutcome, WireError> {
    let v = parse_json(body, "create order response")?;
    let f = Fields {
        map: object(&v, "create order response")?,
        context: "create order response",
    };
    if f.boolean("success", "success")? {
        let ok = Fields {
            map: f.object("success_response", "success response")?,
            context: "create order success_response",
        };
        return Ok(CreateOutcome::Accepted {
            order_id: ok.string("order_id", "order id")?.to_string(),
        });
    }
    let err = Fields {
        map: f.object("error_response", "error response")?,
        context: "create order error_response",
    };
    let text = |key: &str| {
        err.map
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let reason = [
        text("new_order_failure_reason"),
        text("preview_failure_reason"),
    ]
    .into_iter()
    .find(|r| !r.is_empty() && !r.starts_with("UNKNOWN"))
    .unwrap_or_default();
    Ok(CreateOutcome::Refused {
        error: text("error"),
        message: [text("message"), text("error_details")]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or_default(),
        reason,
    })
}

/// One order as Get Order (`{"order": {...}}`) or List Orders (each element
/// of `orders`) returns it, with the venue's order id. `Ok(None)` when the
/// client order id is not one of this bot's.
pub fn parse_order(
    v: &Value,
    ids: &ClientOrderIds,
) -> Result<Option<(OrderState, String)>, WireError> {
    let f = Fields {
        map: object(v, "order")?,
        context: "order",
    };
    let Some(id) = ids.order_id(f.string("client_order_id", "client order id")?) else {
        return Ok(None);
    };
    let venue_id = f.string("order_id", "order id")?.to_string();
    let side = match f.string("side", "side")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        other => {
            return Err(WireError::new(
                f.at("side", "side"),
                format!("expected BUY or SELL, found {other}"),
            ));
        }
    };
    let config = Fields {
        map: f.object("order_configuration", "order configuration")?,
        context: "order_configuration",
    };
    let (kind, quantity) = if let Some(m) = config.map.get("market_market_ioc") {
        let m = Fields {
            map: object(m, "order_configuration.market_market_ioc")?,
            context: "order_configuration.market_market_ioc",
        };
        (
            OrderKind::Market,
            m.decimal::<Quantity>("base_size", "base size")?,
        )
    } else if let Some(l) = config.map.get("limit_limit_gtc") {
        let l = Fields {
            map: object(l, "order_configuration.limit_limit_gtc")?,
            context: "order_configuration.limit_limit_gtc",
        };
        (
            OrderKind::Limit {
                price: l.decimal("limit_price", "limit price")?,
            },
            l.decimal::<Quantity>("base_size", "base size")?,
        )
    } else {
        let found: Vec<&String> = config.map.keys().collect();
        return Err(WireError::new(
            "order_configuration",
            format!(
                "expected market_market_ioc or limit_limit_gtc (the kinds this bot places), found {found:?}"
            ),
        ));
    };
    let filled = Quantity::new(decimal_or_zero(&f, "filled_size", "filled size")?);
    let status = match f.string("status", "order status")? {
        "PENDING" | "QUEUED" | "OPEN" | "CANCEL_QUEUED" | "EDIT_QUEUED" => {
            if filled.is_zero() {
                OrderStatus::New
            } else {
                OrderStatus::PartiallyFilled
            }
        }
        "FILLED" => OrderStatus::Filled,
        "CANCELLED" => OrderStatus::Canceled,
        "EXPIRED" => OrderStatus::Expired,
        "FAILED" => OrderStatus::Rejected,
        other => {
            return Err(WireError::new(
                f.at("status", "order status"),
                format!("unknown status {other}"),
            ));
        }
    };
    let created_at = time_ms(&f, "created_time", "creation time")?;
    let updated_at = match f.map.get("last_fill_time") {
        Some(Value::String(s)) if !s.is_empty() => time_ms(&f, "last_fill_time", "last fill time")?,
        _ => created_at,
    };
    let note = ["reject_message", "cancel_message"]
        .iter()
        .filter_map(|k| f.map.get(*k).and_then(Value::as_str))
        .find(|m| !m.is_empty())
        .map(str::to_string);
    let state = OrderState {
        id,
        symbol: Symbol::new(f.string("product_id", "product id")?),
        side,
        kind,
        quantity,
        status,
        filled_quantity: filled,
        filled_notional: Money::new(decimal_or_zero(&f, "filled_value", "filled value")?),
        fees: Money::new(decimal_or_zero(&f, "total_fees", "total fees")?),
        created_at,
        updated_at,
        note,
    };
    Ok(Some((state, venue_id)))
}

/// Get Order: `{"order": {...}}`.
pub fn parse_get_order(
    body: &str,
    ids: &ClientOrderIds,
) -> Result<Option<(OrderState, String)>, WireError> {
    let v = parse_json(body, "get order response")?;
    let f = Fields {
        map: object(&v, "get order response")?,
        context: "get order response",
    };
    parse_order(f.get("order", "order")?, ids)
}

/// One page of List Orders: this bot's orders, and the cursor of the next
/// page (`None` on the last).
pub fn parse_list_orders(
    body: &str,
    ids: &ClientOrderIds,
) -> Result<Page<(OrderState, String)>, WireError> {
    let v = parse_json(body, "list orders response")?;
    let f = Fields {
        map: object(&v, "list orders response")?,
        context: "list orders response",
    };
    let mut out = Vec::new();
    for o in array(f.get("orders", "orders")?, "list orders `orders`")? {
        if let Some(found) = parse_order(o, ids)? {
            out.push(found);
        }
    }
    Ok((out, next_cursor(&f)))
}

fn next_cursor(f: &Fields<'_>) -> Option<String> {
    let has_next = f.map.get("has_next").and_then(Value::as_bool);
    let cursor = f
        .map
        .get("cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    match has_next {
        Some(false) => None,
        _ => cursor,
    }
}

/// One page of List Fills: the fills of the orders `own` knows (it maps a
/// venue order id to the engine's order id; others are skipped), oldest
/// first, and the next page's cursor (none after an empty page).
pub fn parse_fills(
    body: &str,
    own: impl Fn(&str) -> Option<OrderId>,
) -> Result<Page<Fill>, WireError> {
    let v = parse_json(body, "list fills response")?;
    let root = Fields {
        map: object(&v, "list fills response")?,
        context: "list fills response",
    };
    let mut fills = Vec::new();
    let page = array(root.get("fills", "fills")?, "list fills `fills`")?;
    for raw in page {
        let f = Fields {
            map: object(raw, "fill")?,
            context: "fill",
        };
        let Some(order_id) = own(f.string("order_id", "order id")?) else {
            continue;
        };
        if f.map.get("size_in_quote").and_then(Value::as_bool) == Some(true) {
            return Err(WireError::new(
                f.at("size_in_quote", "size unit"),
                "a fill sized in quote currency; this bot places orders in base size",
            ));
        }
        let side = match f.string("side", "side")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => {
                return Err(WireError::new(
                    f.at("side", "side"),
                    format!("expected BUY or SELL, found {other}"),
                ));
            }
        };
        fills.push(Fill {
            trade_id: f.string("trade_id", "trade id")?.to_string(),
            order_id,
            symbol: Symbol::new(f.string("product_id", "product id")?),
            side,
            price: f.decimal("price", "price")?,
            quantity: f.decimal("size", "size")?,
            fee: Money::new(decimal_or_zero(&f, "commission", "commission")?),
            liquidity: match f.map.get("liquidity_indicator").and_then(Value::as_str) {
                Some("MAKER") => Liquidity::Maker,
                _ => Liquidity::Taker,
            },
            time: time_ms(&f, "trade_time", "trade time")?,
        });
    }
    fills.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.trade_id.cmp(&b.trade_id))
    });
    let next = if page.is_empty() {
        None
    } else {
        next_cursor(&root)
    };
    Ok((fills, next))
}

/// One result of Cancel Orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelResult {
    pub order_id: String,
    pub success: bool,
    pub failure_reason: String,
}

/// `POST /api/v3/brokerage/orders/batch_cancel`: `{"results": [...]}`.
pub fn parse_cancel(body: &str) -> Result<Vec<CancelResult>, WireError> {
    let v = parse_json(body, "cancel orders response")?;
    let root = Fields {
        map: object(&v, "cancel orders response")?,
        context: "cancel orders response",
    };
    array(root.get("results", "results")?, "cancel `results`")?
        .iter()
        .map(|r| {
            let f = Fields {
                map: object(r, "cancel result")?,
                context: "cancel result",
            };
            Ok(CancelResult {
                order_id: f.string("order_id", "order id")?.to_string(),
                success: f.boolean("success", "success")?,
                failure_reason: f
                    .map
                    .get("failure_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
        })
        .collect()
}

/// One page of List Accounts: (currency, available, hold) per account, and
/// the next page's cursor.
pub fn parse_accounts(body: &str) -> Result<Page<AccountRow>, WireError> {
    let v = parse_json(body, "list accounts response")?;
    let root = Fields {
        map: object(&v, "list accounts response")?,
        context: "list accounts response",
    };
    let mut out = Vec::new();
    for a in array(
        root.get("accounts", "accounts")?,
        "list accounts `accounts`",
    )? {
        let f = Fields {
            map: object(a, "account")?,
            context: "account",
        };
        let amount = |key: &str, what: &str| -> Result<Decimal, WireError> {
            match f.map.get(key) {
                None | Some(Value::Null) => Ok(Decimal::ZERO),
                Some(b) => Fields {
                    map: object(b, "account balance")?,
                    context: "account balance",
                }
                .decimal("value", what),
            }
        };
        out.push((
            f.string("currency", "currency")?.to_string(),
            amount("available_balance", "available balance")?,
            amount("hold", "amount on hold")?,
        ));
    }
    Ok((out, next_cursor(&root)))
}

/// The accounts mapped like Binance's: each traded product's quote currency
/// is the cash, its base currency a holding.
pub fn balances_from_accounts(accounts: &[AccountRow], rules: &[SymbolRules]) -> VenueBalances {
    let find = |asset: &str| {
        accounts
            .iter()
            .filter(|(c, _, _)| c == asset)
            .fold((Decimal::ZERO, Decimal::ZERO), |(f, l), (_, a, h)| {
                (f + a, l + h)
            })
    };
    let mut out = VenueBalances::default();
    if let Some(first) = rules.first() {
        let (free, locked) = find(&first.quote_asset);
        out.cash = CashBalance {
            free: Money::new(free),
            locked: Money::new(locked),
        };
    }
    for r in rules {
        let (free, locked) = find(&r.base_asset);
        out.holdings.push(Holding {
            symbol: r.symbol.clone(),
            free: Quantity::new(free),
            locked: Quantity::new(locked),
        });
    }
    out
}

/// The account's fee tier from `GET /api/v3/brokerage/transaction_summary`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeTier {
    pub maker_rate: Decimal,
    pub taker_rate: Decimal,
}

pub fn parse_transaction_summary(body: &str) -> Result<FeeTier, WireError> {
    let v = parse_json(body, "transaction summary response")?;
    let root = Fields {
        map: object(&v, "transaction summary response")?,
        context: "transaction summary response",
    };
    let tier = Fields {
        map: root.object("fee_tier", "fee tier")?,
        context: "transaction summary fee_tier",
    };
    Ok(FeeTier {
        maker_rate: tier.decimal("maker_fee_rate", "maker fee rate")?,
        taker_rate: tier.decimal("taker_fee_rate", "taker fee rate")?,
    })
}

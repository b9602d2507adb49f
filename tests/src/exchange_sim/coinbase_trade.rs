//! The simulator's Coinbase Advanced Trade trading API
//! (`/api/v3/brokerage/...`), served on the same port as the Binance API
//! (the paths do not overlap) over the same [`super::Book`]: each request's
//! ES256 JWT is checked (signature with the key's public half, `kid`/`sub`,
//! issuer, `nbf`/`exp`, and the `uri` claim against the request's method,
//! `Host` and path), products carry Coinbase's rules, and answers have
//! Coinbase's documented shapes. Fault injection is the Binance side's
//! ([`super::Faults`]): the create endpoint counts as the submit, Get Order
//! as the look-up.

use super::SimState;
use super::book::{NewOrder, SimOrder, SimSide, SimStatus, SimTrade};
use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The API key the simulator accepts: its name and public key.
#[derive(Clone, Debug)]
pub struct CoinbaseKey {
    pub name: String,
    pub public_key: VerifyingKey,
}

/// The brokerage path prefix.
pub const PREFIX: &str = "/api/v3/brokerage";

pub(crate) fn is_coinbase(path: &str) -> bool {
    path.starts_with(PREFIX)
}

pub(crate) fn is_create(method: &Method, path: &str) -> bool {
    method == Method::POST && path == "/api/v3/brokerage/orders"
}

pub(crate) fn is_lookup(method: &Method, path: &str) -> bool {
    method == Method::GET
        && path.starts_with("/api/v3/brokerage/orders/historical/")
        && !path.ends_with("/batch")
        && !path.ends_with("/fills")
}

/// Coinbase's error body.
pub(crate) fn error(status: StatusCode, error: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": error, "code": status.as_u16(), "message": message, "details": []}),
    )
}

/// The venue's order id of a simulator order (a UUID-shaped string).
pub fn venue_order_id(o: &SimOrder) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", o.order_id, o.order_id)
}

fn rfc3339(ms: i64) -> String {
    chrono_like(ms)
}

/// RFC 3339 UTC from Unix ms without a date crate: days → civil date.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Checks the bearer JWT of a request as Coinbase documents it.
fn authenticate(
    st: &SimState,
    method: &Method,
    host: &str,
    path: &str,
    authorization: Option<&str>,
    now_ms: i64,
) -> Result<(), (StatusCode, Value)> {
    let unauthorized = |why: &str| error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why);
    let Some(key) = &st.coinbase_key else {
        return Err(unauthorized(
            "no Coinbase key is configured in the simulator",
        ));
    };
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return Err(unauthorized("missing bearer token"));
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(unauthorized("malformed JWT"));
    }
    let decode = |p: &str| -> Result<Value, (StatusCode, Value)> {
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| unauthorized("malformed JWT"))
    };
    let header = decode(parts[0])?;
    let claims = decode(parts[1])?;
    if header["alg"] != "ES256" {
        return Err(unauthorized("JWT algorithm must be ES256"));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| unauthorized("malformed JWT signature"))?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    if key.public_key.verify(signed.as_bytes(), &sig).is_err() {
        return Err(unauthorized("JWT signature does not verify"));
    }
    if header["kid"] != key.name.as_str() || claims["sub"] != key.name.as_str() {
        return Err(unauthorized("JWT kid/sub do not name the API key"));
    }
    if header["nonce"].as_str().is_none_or(str::is_empty) {
        return Err(unauthorized("JWT header has no nonce"));
    }
    if claims["iss"] != "cdp" {
        return Err(unauthorized("JWT issuer must be cdp"));
    }
    let now = now_ms.div_euclid(1000);
    let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
        return Err(unauthorized("JWT without nbf/exp"));
    };
    // One second of grace for the clocks' rounding.
    if now + 1 < nbf || now >= exp || exp - nbf > 120 {
        return Err(unauthorized(
            "JWT expired, not yet valid, or longer than 120 s",
        ));
    }
    let expected = format!("{} {host}{path}", method.as_str());
    if claims["uri"] != expected.as_str() {
        return Err(unauthorized(&format!(
            "JWT uri claim does not match the request `{expected}`"
        )));
    }
    Ok(())
}

fn status_name(s: SimStatus) -> &'static str {
    match s {
        SimStatus::New | SimStatus::PartiallyFilled => "OPEN",
        SimStatus::Filled => "FILLED",
        SimStatus::Canceled => "CANCELLED",
        SimStatus::Expired => "EXPIRED",
    }
}

fn order_json(st: &SimState, o: &SimOrder) -> Value {
    let fees: Decimal = st
        .book
        .trades
        .iter()
        .filter(|t| t.order_id == o.order_id)
        .map(|t| t.commission)
        .sum();
    let last_fill = st
        .book
        .trades
        .iter()
        .filter(|t| t.order_id == o.order_id)
        .map(|t| t.time)
        .max();
    let configuration = match o.price {
        None => json!({"market_market_ioc": {"base_size": o.orig_qty.to_string()}}),
        Some(p) => json!({"limit_limit_gtc": {
            "base_size": o.orig_qty.to_string(), "limit_price": p.to_string(), "post_only": false
        }}),
    };
    let avg = if o.executed_qty.is_zero() {
        Decimal::ZERO
    } else {
        (o.cumulative_quote / o.executed_qty).round_dp(8)
    };
    json!({
        "order_id": venue_order_id(o),
        "product_id": o.symbol,
        "user_id": "sim-user",
        "order_configuration": configuration,
        "side": match o.side { SimSide::Buy => "BUY", SimSide::Sell => "SELL" },
        "client_order_id": o.client_order_id,
        "status": status_name(o.status),
        "time_in_force": if o.price.is_some() { "GOOD_UNTIL_CANCELLED" } else { "IMMEDIATE_OR_CANCEL" },
        "created_time": rfc3339(o.time),
        "completion_percentage": ((o.executed_qty / o.orig_qty) * Decimal::from(100)).round_dp(2).to_string(),
        "filled_size": o.executed_qty.to_string(),
        "average_filled_price": avg.to_string(),
        "number_of_fills": st.book.trades.iter().filter(|t| t.order_id == o.order_id).count().to_string(),
        "filled_value": o.cumulative_quote.to_string(),
        "pending_cancel": false,
        "size_in_quote": false,
        "total_fees": fees.to_string(),
        "size_inclusive_of_fees": false,
        "total_value_after_fees": o.cumulative_quote.to_string(),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": if o.price.is_some() { "LIMIT" } else { "MARKET" },
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": !o.status.is_open(),
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": if o.status == SimStatus::Canceled { "User requested cancel" } else { "" },
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "is_liquidation": false,
        "last_fill_time": last_fill.map(rfc3339),
    })
}

fn find_by_venue_id(st: &SimState, id: &str) -> Option<usize> {
    st.book.orders.iter().position(|o| venue_order_id(o) == id)
}

/// One request under [`PREFIX`]: `(status, body)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn route(
    st: &mut SimState,
    method: &Method,
    host: &str,
    path: &str,
    params: &[(String, String)],
    authorization: Option<&str>,
    body: &[u8],
    now: i64,
) -> (StatusCode, Value) {
    let rest = &path[PREFIX.len()..];
    if method == Method::GET && rest == "/time" {
        return (
            StatusCode::OK,
            json!({"iso": rfc3339(now), "epochSeconds": (now / 1000).to_string(), "epochMillis": now.to_string()}),
        );
    }
    if let Err(e) = authenticate(st, method, host, path, authorization, now) {
        return e;
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let all = |k: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let ok = |v: Value| (StatusCode::OK, v);
    match (method.as_str(), rest) {
        ("GET", p) if p.starts_with("/products/") => {
            let id = &p["/products/".len()..];
            match st.book.symbols.get(id) {
                Some(s) => ok(json!({
                    "product_id": s.symbol, "price": st.book.last_price.get(id).map(|p| p.to_string()).unwrap_or_default(),
                    "base_increment": s.step_size.to_string(), "quote_increment": s.tick_size.to_string(),
                    "price_increment": s.tick_size.to_string(),
                    "quote_min_size": s.min_notional.to_string(), "quote_max_size": "150000000",
                    "base_min_size": s.min_qty.to_string(), "base_max_size": "3400",
                    "base_name": s.base, "quote_name": s.quote, "watched": false, "is_disabled": false,
                    "new": false, "status": "online", "cancel_only": false, "limit_only": false,
                    "post_only": false, "trading_disabled": false, "auction_mode": false,
                    "product_type": "SPOT", "quote_currency_id": s.quote, "base_currency_id": s.base,
                    "display_name": s.symbol
                })),
                None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "product not found"),
            }
        }
        ("POST", "/orders") => create_order(st, body, now),
        ("POST", "/orders/batch_cancel") => {
            let ids: Vec<String> = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["order_ids"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let results: Vec<Value> = ids
                .iter()
                .map(|id| match find_by_venue_id(st, id) {
                    Some(i) if st.book.orders[i].status.is_open() => {
                        st.book.close(i, SimStatus::Canceled, now);
                        json!({"success": true, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": id})
                    }
                    Some(_) => json!({"success": false, "failure_reason": "DUPLICATE_CANCEL_REQUEST", "order_id": id}),
                    None => json!({"success": false, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": id}),
                })
                .collect();
            ok(json!({"results": results}))
        }
        ("GET", "/orders/historical/batch") => {
            let products = all("product_ids");
            let statuses = all("order_status");
            let limit: usize = get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100)
                .clamp(1, 1000);
            let start: usize = get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
            let matching: Vec<&SimOrder> = st
                .book
                .orders
                .iter()
                .rev()
                .filter(|o| products.is_empty() || products.contains(&o.symbol))
                .filter(|o| {
                    statuses.is_empty() || statuses.iter().any(|s| s == status_name(o.status))
                })
                .collect();
            let page: Vec<Value> = matching
                .iter()
                .skip(start)
                .take(limit)
                .map(|o| order_json(st, o))
                .collect();
            let has_next = start + limit < matching.len();
            ok(json!({
                "orders": page, "sequence": "0", "has_next": has_next,
                "cursor": if has_next { (start + limit).to_string() } else { String::new() }
            }))
        }
        ("GET", "/orders/historical/fills") => {
            let orders = all("order_ids");
            let products = all("product_ids");
            let since = get("start_sequence_timestamp").and_then(|t| {
                chrono::DateTime::parse_from_rfc3339(&t)
                    .ok()
                    .map(|t| t.timestamp_millis())
            });
            // A product's fills are the account's trade report: the ledger
            // disagreement faults apply to it, as to Binance's myTrades; an
            // order's fills (how an engine follows its order) stay true.
            let trades: Vec<SimTrade> = if orders.is_empty() && !products.is_empty() {
                products
                    .iter()
                    .flat_map(|p| super::server::history(st, p, true))
                    .collect()
            } else {
                st.book.trades.clone()
            };
            let fills: Vec<Value> = trades
                .iter()
                .filter(|t| products.is_empty() || products.contains(&t.symbol))
                .filter(|t| since.is_none_or(|s| t.time >= s))
                .filter_map(|t| {
                    let o = st.book.orders.iter().find(|o| o.order_id == t.order_id)?;
                    let id = venue_order_id(o);
                    (orders.is_empty() || orders.contains(&id)).then(|| json!({
                        "entry_id": format!("entry-{}", t.id), "trade_id": format!("trade-{}", t.id),
                        "order_id": id, "trade_time": rfc3339(t.time), "trade_type": "FILL",
                        "price": t.price.to_string(), "size": t.qty.to_string(),
                        "commission": t.commission.to_string(), "product_id": t.symbol,
                        "sequence_timestamp": rfc3339(t.time),
                        "liquidity_indicator": if t.is_maker { "MAKER" } else { "TAKER" },
                        "size_in_quote": false, "user_id": "sim-user",
                        "side": match t.side { SimSide::Buy => "BUY", SimSide::Sell => "SELL" }
                    }))
                })
                .collect();
            ok(json!({"fills": fills, "cursor": ""}))
        }
        ("GET", p) if p.starts_with("/orders/historical/") => {
            let id = &p["/orders/historical/".len()..];
            match find_by_venue_id(st, id) {
                Some(i) => ok(json!({"order": order_json(st, &st.book.orders[i])})),
                None => error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "order with this orderID was not found",
                ),
            }
        }
        ("GET", "/accounts") => ok(json!({
            "accounts": st.book.balances.iter().map(|(a, b)| json!({
                "uuid": format!("acct-{a}"), "name": format!("{a} Wallet"), "currency": a,
                "available_balance": {"value": b.free.to_string(), "currency": a},
                "default": false, "active": true, "type": "ACCOUNT_TYPE_CRYPTO", "ready": true,
                "hold": {"value": b.locked.to_string(), "currency": a}
            })).collect::<Vec<_>>(),
            "has_next": false, "cursor": "", "size": st.book.balances.len()
        })),
        ("GET", "/transaction_summary") => ok(json!({
            "total_volume": 0, "total_fees": 0,
            "fee_tier": {"pricing_tier": "sim", "usd_from": "0", "usd_to": "10,000",
                         "taker_fee_rate": st.book.fee_rate.to_string(),
                         "maker_fee_rate": st.book.fee_rate.to_string()},
            "has_promo_fee": false
        })),
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown endpoint"),
    }
}

fn create_order(st: &mut SimState, body: &[u8], now: i64) -> (StatusCode, Value) {
    let invalid = |msg: &str| error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", msg);
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return invalid("the body is not JSON");
    };
    let (Some(cid), Some(product)) = (v["client_order_id"].as_str(), v["product_id"].as_str())
    else {
        return invalid("client_order_id and product_id are required");
    };
    let side = match v["side"].as_str() {
        Some("BUY") => SimSide::Buy,
        Some("SELL") => SimSide::Sell,
        _ => return invalid("side must be BUY or SELL"),
    };
    // A client order id already used: the existing order is answered and
    // nothing new is placed.
    if let Some(o) = st.book.orders.iter().find(|o| o.client_order_id == cid) {
        return (
            StatusCode::OK,
            json!({"success": true, "success_response": {
                "order_id": venue_order_id(o), "product_id": o.symbol, "side": v["side"], "client_order_id": cid
            }, "order_configuration": v["order_configuration"]}),
        );
    }
    let decimal = |x: &Value| x.as_str().and_then(|s| Decimal::from_str_exact(s).ok());
    let conf = &v["order_configuration"];
    let (qty, price) = if let Some(m) = conf.get("market_market_ioc") {
        (decimal(&m["base_size"]), None)
    } else if let Some(l) = conf.get("limit_limit_gtc") {
        match decimal(&l["limit_price"]) {
            Some(p) => (decimal(&l["base_size"]), Some(p)),
            None => return invalid("limit_price is required"),
        }
    } else {
        return invalid("order_configuration must be market_market_ioc or limit_limit_gtc");
    };
    let Some(qty) = qty else {
        return invalid("base_size is required (this simulator takes base sizes only)");
    };
    let placed = st.book.place(
        NewOrder {
            symbol: product.to_string(),
            side,
            price,
            qty,
            client_order_id: cid.to_string(),
        },
        now,
    );
    match placed {
        Ok(i) => {
            let o = &st.book.orders[i];
            (
                StatusCode::OK,
                json!({"success": true, "success_response": {
                    "order_id": venue_order_id(o), "product_id": o.symbol, "side": v["side"], "client_order_id": cid
                }, "order_configuration": conf}),
            )
        }
        Err(r) => {
            let (error, reason) = if r.msg.contains("insufficient balance") {
                ("INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND")
            } else if r.msg.contains("LOT_SIZE") {
                ("INVALID_SIZE_PRECISION", "PREVIEW_INVALID_SIZE_PRECISION")
            } else if r.msg.contains("PRICE_FILTER") {
                ("INVALID_PRICE_PRECISION", "PREVIEW_INVALID_PRICE_PRECISION")
            } else if r.msg.contains("NOTIONAL") {
                (
                    "INVALID_LIMIT_PRICE",
                    "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                )
            } else {
                ("UNKNOWN_FAILURE_REASON", "UNKNOWN_PREVIEW_FAILURE_REASON")
            };
            (
                StatusCode::OK,
                json!({"success": false, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": "",
                       "error_response": {"error": error, "message": r.msg, "error_details": "",
                                          "preview_failure_reason": reason,
                                          "new_order_failure_reason": "UNKNOWN_FAILURE_REASON"},
                       "order_configuration": conf}),
            )
        }
    }
}

/// The public key of a P-256 key in PEM (private SEC1 or PKCS#8, or public).
pub fn coinbase_verifying_key(pem: &str) -> Result<p256::ecdsa::VerifyingKey, String> {
    use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
    let pem = pem.replace("\\n", "\n");
    let public = if let Ok(secret) = p256::SecretKey::from_sec1_pem(&pem) {
        secret.public_key()
    } else if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(&pem) {
        secret.public_key()
    } else if let Ok(public) = p256::PublicKey::from_public_key_pem(&pem) {
        public
    } else {
        return Err(
            "the Coinbase key is not a P-256 EC key in PEM (-----BEGIN EC PRIVATE KEY-----, \
                    -----BEGIN PRIVATE KEY----- or -----BEGIN PUBLIC KEY-----)"
                .into(),
        );
    };
    Ok(p256::ecdsa::VerifyingKey::from(public))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_622_455_199_000),
            "2021-05-31T09:59:59.000Z"
        );
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }

    #[test]
    fn a_coinbase_key_is_read_from_any_pem_form_of_it() {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
        let want = p256::ecdsa::VerifyingKey::from(secret.public_key());
        let sec1 = secret.to_sec1_pem(LineEnding::LF).unwrap().to_string();
        let pkcs8 = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        // A PEM in one line with `\n` escapes, as env files often hold it.
        let escaped = sec1.replace('\n', "\\n");
        for pem in [&sec1, &pkcs8, &public, &escaped] {
            assert_eq!(super::coinbase_verifying_key(pem).unwrap(), want, "{pem}");
        }
        // Cut short: not a key; the error shows none of it.
        let broken: String = sec1.lines().take(2).collect::<Vec<_>>().join("\n");
        let err = super::coinbase_verifying_key(&broken).unwrap_err();
        assert!(err.contains("is not a P-256 EC key"), "{err}");
        assert!(!err.contains(broken.lines().nth(1).unwrap()), "{err}");
    }
}

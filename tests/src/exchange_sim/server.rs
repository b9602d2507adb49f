//! The HTTP side of the simulator: authentication (API key, HMAC signature,
//! recvWindow), fault injection, request weight, and the endpoints' JSON.

use super::book::{NewOrder, SimOrder, SimSide, SimStatus, SimTrade};
use super::coinbase_trade;
use super::{SimRequest, SimState};
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<SimState>>;

pub(crate) fn router(state: Shared) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

pub(crate) fn now_ms(skew: i64) -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        + skew
}

/// An answer before headers: status, JSON body.
struct Answer {
    status: StatusCode,
    body: Value,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        body,
    }
}

fn error(status: StatusCode, code: i64, msg: &str) -> Answer {
    Answer {
        status,
        body: json!({"code": code, "msg": msg}),
    }
}

fn bad(code: i64, msg: &str) -> Answer {
    error(StatusCode::BAD_REQUEST, code, msg)
}

fn dec(d: Decimal) -> String {
    format!("{:.8}", d)
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Request weights as Binance documents them (roughly).
fn weight(path: &str) -> u32 {
    match path {
        "/api/v3/exchangeInfo" => 20,
        "/api/v3/account" | "/api/v3/myTrades" | "/api/v3/allOrders" => 20,
        "/api/v3/openOrders" => 6,
        "/api/v3/order" => 4,
        "/api/v3/klines" => 2,
        _ => 1,
    }
}

async fn handle(State(state): State<Shared>, req: Request) -> Response {
    let (req, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header = |name: &str| -> Option<String> {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (host, authorization) = (header("host").unwrap_or_default(), header("authorization"));
    let method = req.method.clone();
    let path = req.uri.path().to_string();
    let query = req.uri.query().unwrap_or("").to_string();
    let params: Vec<(String, String)> = Query::try_from_uri(&req.uri)
        .map(|q: Query<Vec<(String, String)>>| q.0)
        .unwrap_or_default();
    let api_key = req
        .headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let coinbase = coinbase_trade::is_coinbase(&path);
    let is_submit = (method == Method::POST && path == "/api/v3/order")
        || coinbase_trade::is_create(&method, &path);
    let is_lookup = (method == Method::GET && path == "/api/v3/order")
        || coinbase_trade::is_lookup(&method, &path);
    // Coinbase's paths answer with Coinbase's error shape.
    let error = |status: StatusCode, code: i64, msg: &str| {
        if coinbase {
            let name = match status {
                StatusCode::TOO_MANY_REQUESTS => "RATE_LIMIT_EXCEEDED",
                StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
                _ => "UNKNOWN",
            };
            let (status, body) = coinbase_trade::error(status, name, msg);
            Answer { status, body }
        } else {
            error(status, code, msg)
        }
    };
    let (answer, used, delay, drop_response) = {
        let mut st = lock(&state);
        let skew = st.config.clock_skew_ms;
        let now = now_ms(skew);
        let minute = now.div_euclid(60_000);
        if st.weight.0 != minute {
            st.weight = (minute, 0);
        }
        st.weight.1 += weight(&path);
        let used = st.faults.used_weight_override.unwrap_or(st.weight.1);
        let mut delay = None;
        let mut drop_response = false;
        let answer = if st.faults.rate_limited > 0 {
            st.faults.rate_limited -= 1;
            st.fired.rate_limited += 1;
            let retry = st.faults.retry_after_secs;
            let status = if st.faults.banned {
                StatusCode::IM_A_TEAPOT
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            let mut resp = json_response(
                error(
                    status,
                    -1003,
                    "Too much request weight used; please use WebSocket Streams for live updates to avoid polling the API.",
                ),
                used,
            );
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(retry));
            record(&mut st, &method, &path, &query, resp.status().as_u16());
            return resp;
        } else if st.faults.server_errors > 0 || (st.faults.failed_lookups > 0 && is_lookup) {
            if st.faults.server_errors > 0 {
                st.faults.server_errors -= 1;
                st.fired.server_errors += 1;
            } else {
                st.faults.failed_lookups -= 1;
                st.fired.failed_lookups += 1;
            }
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                -1001,
                "Internal error; unable to process your request. Please try again.",
            )
        } else if is_submit && st.faults.rejected_submits > 0 {
            st.faults.rejected_submits -= 1;
            st.fired.rejected_submits += 1;
            if coinbase {
                ok(
                    serde_json::json!({"success": false, "failure_reason": "UNKNOWN_FAILURE_REASON",
                    "order_id": "", "error_response": {"error": "UNKNOWN_FAILURE_REASON",
                    "message": "Market is closed.", "error_details": "",
                    "preview_failure_reason": "UNKNOWN_PREVIEW_FAILURE_REASON",
                    "new_order_failure_reason": "UNKNOWN_FAILURE_REASON"}}),
                )
            } else {
                bad(-2010, "Market is closed.")
            }
        } else if coinbase && !path.starts_with(super::coinbase_market::CANDLES_PREFIX) {
            // Coinbase's trading API (JWT); its public market data is routed below.
            let (status, body) = coinbase_trade::route(
                &mut st,
                &method,
                &host,
                &path,
                &params,
                authorization.as_deref(),
                &body,
                now,
            );
            let answer = Answer { status, body };
            if is_submit && answer.status.is_success() && answer.body["success"] == true {
                if st.faults.dropped_submits > 0 {
                    st.faults.dropped_submits -= 1;
                    st.fired.dropped_submits += 1;
                    drop_response = true;
                } else if st.faults.slow_submits > 0 {
                    st.faults.slow_submits -= 1;
                    st.fired.slow_submits += 1;
                    delay = Some(st.faults.submit_delay);
                }
            }
            answer
        } else {
            let answer = route(
                &mut st,
                &method,
                &path,
                &query,
                &params,
                api_key.as_deref(),
                now,
            );
            if is_submit && answer.status.is_success() {
                if st.faults.dropped_submits > 0 {
                    st.faults.dropped_submits -= 1;
                    st.fired.dropped_submits += 1;
                    drop_response = true;
                } else if st.faults.slow_submits > 0 {
                    st.faults.slow_submits -= 1;
                    st.fired.slow_submits += 1;
                    delay = Some(st.faults.submit_delay);
                }
            }
            answer
        };
        let status = if drop_response {
            0
        } else {
            answer.status.as_u16()
        };
        record(&mut st, &method, &path, &query, status);
        (answer, used, delay, drop_response)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if drop_response {
        // The order is placed; the response breaks off after its headers.
        let chunks: Vec<Result<String, std::io::Error>> = vec![
            Ok("{\"symbol\":".to_string()),
            Err(std::io::Error::other("connection dropped by the simulator")),
        ];
        let mut resp = Response::new(Body::from_stream(futures::stream::iter(chunks)));
        *resp.status_mut() = StatusCode::OK;
        return resp;
    }
    json_response(answer, used)
}

fn record(st: &mut SimState, method: &Method, path: &str, query: &str, status: u16) {
    record_request(st, method.as_str(), path, query, status);
}

/// Remembers one request (HTTP or a WebSocket handshake).
pub(crate) fn record_request(
    st: &mut SimState,
    method: &str,
    path: &str,
    query: &str,
    status: u16,
) {
    st.requests.push(SimRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        at: std::time::Instant::now(),
        status,
    });
}

fn json_response(answer: Answer, used: u32) -> Response {
    let mut resp = Response::new(Body::from(answer.body.to_string()));
    *resp.status_mut() = answer.status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("x-mbx-used-weight-1m", HeaderValue::from(used));
    h.insert("x-mbx-used-weight", HeaderValue::from(used));
    resp
}

/// Checks key, signature and timestamp of a SIGNED request.
fn authenticate(
    st: &SimState,
    query: &str,
    params: &[(String, String)],
    api_key: Option<&str>,
    now: i64,
) -> Result<(), Answer> {
    let Some(key) = api_key else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            -2014,
            "API-key format invalid.",
        ));
    };
    if key != st.config.api_key {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    }
    let Some((signed, signature)) = query.rsplit_once("&signature=") else {
        return Err(bad(
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    let valid = hex::decode(signature).ok().is_some_and(|sig| {
        let mut mac = Hmac::<Sha256>::new_from_slice(st.config.secret.as_bytes())
            .expect("HMAC accepts any key");
        mac.update(signed.as_bytes());
        mac.verify_slice(&sig).is_ok()
    });
    if !valid {
        return Err(bad(-1022, "Signature for this request is not valid."));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(ts) = get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(bad(
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ));
    };
    let window = get("recvWindow")
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(5000);
    if ts < now - window || ts > now + 1000 {
        return Err(bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

fn route(
    st: &mut SimState,
    method: &Method,
    path: &str,
    query: &str,
    params: &[(String, String)],
    api_key: Option<&str>,
    now: i64,
) -> Answer {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method.as_str(), path) {
        ("GET", "/api/v3/time") => return ok(json!({"serverTime": now})),
        ("GET", "/api/v3/exchangeInfo") => return exchange_info(st, get("symbol"), now),
        ("GET", "/api/v3/klines") => return klines(st, params),
        ("GET", p) if p.starts_with(super::coinbase_market::CANDLES_PREFIX) => {
            let book = &st.book;
            let (status, body) = super::coinbase_market::candles(&st.market, p, params, |id| {
                book.symbols.contains_key(id)
            });
            return Answer { status, body };
        }
        ("POST" | "GET" | "DELETE", "/api/v3/order")
        | (
            "GET",
            "/api/v3/openOrders" | "/api/v3/account" | "/api/v3/myTrades" | "/api/v3/allOrders",
        ) => {}
        _ => return error(StatusCode::NOT_FOUND, -1000, "Unknown endpoint."),
    }
    if let Err(e) = authenticate(st, query, params, api_key, now) {
        return e;
    }
    let symbol = get("symbol");
    let need_symbol = || {
        bad(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )
    };
    match (method.as_str(), path) {
        ("POST", _) => new_order(st, params, now),
        ("GET", "/api/v3/order") | ("DELETE", "/api/v3/order") => {
            let Some(symbol) = symbol else {
                return need_symbol();
            };
            let cid = get("origClientOrderId");
            let oid = get("orderId").and_then(|v| v.parse().ok());
            let found = st.book.find(&symbol, cid.as_deref(), oid);
            if method == Method::GET {
                return match found {
                    Some(i) => ok(order_json(&st.book.orders[i])),
                    None => bad(-2013, "Order does not exist."),
                };
            }
            match found {
                Some(i) if st.book.orders[i].status.is_open() => {
                    st.book.close(i, SimStatus::Canceled, now);
                    let o = &st.book.orders[i];
                    let mut v = order_json(o);
                    v["origClientOrderId"] = json!(o.client_order_id);
                    v["clientOrderId"] = json!(format!("cancel{}", o.order_id));
                    v["transactTime"] = json!(now);
                    ok(v)
                }
                _ => bad(-2011, "Unknown order sent."),
            }
        }
        ("GET", "/api/v3/openOrders") => ok(Value::Array(
            st.book
                .orders
                .iter()
                .filter(|o| o.status.is_open() && symbol.as_ref().is_none_or(|s| *s == o.symbol))
                .map(order_json)
                .collect(),
        )),
        ("GET", "/api/v3/account") => ok(json!({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "canTrade": true, "canWithdraw": true, "canDeposit": true, "updateTime": now,
            "accountType": "SPOT",
            "balances": st.book.balances.iter().map(|(a, b)| json!({
                "asset": a, "free": dec(b.free), "locked": dec(b.locked)
            })).collect::<Vec<_>>(),
            "permissions": ["SPOT"]
        })),
        ("GET", "/api/v3/myTrades") => {
            let Some(symbol) = symbol else {
                return need_symbol();
            };
            let oid: Option<i64> = get("orderId").and_then(|v| v.parse().ok());
            let from_id: Option<i64> = get("fromId").and_then(|v| v.parse().ok());
            let limit = page_limit(get("limit"));
            // The disagreement faults skew the account's history, not the
            // per-order lookups the engine settles orders with.
            let trades = history(st, &symbol, oid.is_none());
            ok(Value::Array(
                trades
                    .iter()
                    .filter(|t| oid.is_none_or(|id| id == t.order_id))
                    .filter(|t| from_id.is_none_or(|id| t.id >= id))
                    .take(limit)
                    .map(trade_json)
                    .collect(),
            ))
        }
        ("GET", "/api/v3/allOrders") => {
            let Some(symbol) = symbol else {
                return need_symbol();
            };
            let from: Option<i64> = get("orderId").and_then(|v| v.parse().ok());
            let limit = page_limit(get("limit"));
            ok(Value::Array(
                st.book
                    .orders
                    .iter()
                    .filter(|o| o.symbol == symbol && from.is_none_or(|id| o.order_id >= id))
                    .take(limit)
                    .map(order_json)
                    .collect(),
            ))
        }
        _ => error(StatusCode::NOT_FOUND, -1000, "Unknown endpoint."),
    }
}

/// `limit` of the paged endpoints: default 500, at most 1000.
fn page_limit(limit: Option<String>) -> usize {
    limit
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, 1000)
}

/// The trade history `myTrades` (and Coinbase's List Fills of a product)
/// reports: the book's trades of `symbol`, oldest first, with the
/// disagreement faults applied when `faults` (a fee skew on every trade, a
/// phantom copy of the last trade under the next id).
pub(crate) fn history(st: &SimState, symbol: &str, faults: bool) -> Vec<SimTrade> {
    let mut trades: Vec<SimTrade> = st
        .book
        .trades
        .iter()
        .filter(|t| t.symbol == symbol)
        .cloned()
        .collect();
    if !faults {
        return trades;
    }
    if !st.faults.history_fee_skew.is_zero() {
        for t in &mut trades {
            t.commission += st.faults.history_fee_skew;
        }
    }
    if st.faults.phantom_trade
        && let Some(last) = trades.last().cloned()
    {
        let next = st.book.trades.iter().map(|t| t.id).max().unwrap_or(0) + 1;
        trades.push(SimTrade { id: next, ..last });
    }
    trades
}

fn new_order(st: &mut SimState, params: &[(String, String)], now: i64) -> Answer {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let decimal = |k: &str| get(k).and_then(|v| Decimal::from_str_exact(&v).ok());
    let mandatory = |k: &str| {
        bad(
            -1102,
            &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
        )
    };
    let Some(symbol) = get("symbol") else {
        return mandatory("symbol");
    };
    let side = match get("side").as_deref() {
        Some("BUY") => SimSide::Buy,
        Some("SELL") => SimSide::Sell,
        _ => return mandatory("side"),
    };
    let Some(qty) = decimal("quantity") else {
        return mandatory("quantity");
    };
    let price = match get("type").as_deref() {
        Some("MARKET") => None,
        Some("LIMIT") => {
            if get("timeInForce").as_deref() != Some("GTC") {
                return mandatory("timeInForce");
            }
            match decimal("price") {
                Some(p) => Some(p),
                None => return mandatory("price"),
            }
        }
        _ => return bad(-1116, "Invalid orderType."),
    };
    let client_order_id = get("newClientOrderId").unwrap_or_else(|| format!("sim{now}"));
    let placed = st.book.place(
        NewOrder {
            symbol,
            side,
            price,
            qty,
            client_order_id,
        },
        now,
    );
    match placed {
        Ok(i) => {
            let o = &st.book.orders[i];
            let mut v = order_json(o);
            v["transactTime"] = json!(o.time);
            v["fills"] = Value::Array(
                st.book
                    .trades
                    .iter()
                    .filter(|t| t.order_id == o.order_id)
                    .map(|t| {
                        json!({"price": dec(t.price), "qty": dec(t.qty), "commission": dec(t.commission),
                               "commissionAsset": t.commission_asset, "tradeId": t.id})
                    })
                    .collect(),
            );
            ok(v)
        }
        Err(r) => bad(r.code, &r.msg),
    }
}

/// `GET /api/v3/klines` (public: no key, no signature).
fn klines(st: &SimState, params: &[(String, String)]) -> Answer {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mandatory = |k: &str| {
        bad(
            -1102,
            &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
        )
    };
    let Some(symbol) = get("symbol") else {
        return mandatory("symbol");
    };
    if !st.book.symbols.contains_key(symbol) {
        return bad(-1121, "Invalid symbol.");
    }
    let Some(interval) = get("interval") else {
        return mandatory("interval");
    };
    if Some(interval) != super::market::interval_name(st.market.interval_ms) {
        return bad(-1120, "Invalid interval.");
    }
    let number = |k: &str| -> Result<Option<i64>, Answer> {
        match get(k) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                bad(
                    -1100,
                    &format!("Illegal characters found in parameter '{k}'; legal range is '^[0-9]{{1,20}}$'."),
                )
            }),
        }
    };
    let (start, end, limit) = match (number("startTime"), number("endTime"), number("limit")) {
        (Ok(s), Ok(e), Ok(l)) => (s, e, l),
        (Err(a), _, _) | (_, Err(a), _) | (_, _, Err(a)) => return a,
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return bad(-1023, "Start time is greater than end time.");
    }
    let limit = limit.map(|l| l.clamp(1, i64::from(u16::MAX)) as usize);
    ok(Value::Array(
        st.market
            .query(symbol, start, end, limit)
            .into_iter()
            .map(super::market::SimKline::rest_row)
            .collect(),
    ))
}

fn exchange_info(st: &SimState, symbol: Option<String>, now: i64) -> Answer {
    let symbols: Vec<Value> = st
        .book
        .symbols
        .values()
        .filter(|s| symbol.as_ref().is_none_or(|q| *q == s.symbol))
        .map(|s| {
            json!({
                "symbol": s.symbol, "status": "TRADING", "baseAsset": s.base, "baseAssetPrecision": 8,
                "quoteAsset": s.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": true,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": dec(s.tick_size), "maxPrice": "1000000.00000000", "tickSize": dec(s.tick_size)},
                    {"filterType": "LOT_SIZE", "minQty": dec(s.min_qty), "maxQty": "9000.00000000", "stepSize": dec(s.step_size)},
                    {"filterType": "NOTIONAL", "minNotional": dec(s.min_notional), "applyMinToMarket": true,
                     "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}
                ],
                "permissions": []
            })
        })
        .collect();
    if symbols.is_empty() {
        return bad(-1121, "Invalid symbol.");
    }
    ok(
        json!({"timezone": "UTC", "serverTime": now, "rateLimits": [], "exchangeFilters": [], "symbols": symbols}),
    )
}

fn order_json(o: &SimOrder) -> Value {
    json!({
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": dec(o.price.unwrap_or_default()),
        "origQty": dec(o.orig_qty),
        "executedQty": dec(o.executed_qty),
        "cummulativeQuoteQty": dec(o.cumulative_quote),
        "status": o.status.as_str(),
        "timeInForce": "GTC",
        "type": if o.price.is_some() { "LIMIT" } else { "MARKET" },
        "side": match o.side { SimSide::Buy => "BUY", SimSide::Sell => "SELL" },
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": true,
        "workingTime": o.time,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "NONE"
    })
}

fn trade_json(t: &SimTrade) -> Value {
    json!({
        "symbol": t.symbol,
        "id": t.id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": dec(t.price),
        "qty": dec(t.qty),
        "quoteQty": dec(t.price * t.qty),
        "commission": dec(t.commission),
        "commissionAsset": t.commission_asset,
        "time": t.time,
        "isBuyer": t.side == SimSide::Buy,
        "isMaker": t.is_maker,
        "isBestMatch": true
    })
}

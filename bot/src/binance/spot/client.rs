//! The signed REST client: requests, signing, retries, time sync, request
//! weight. Order operations and the [`Venue`] impl are in `client_orders.rs`.
//!
//! [`Venue`]: crate::execution::Venue
//!
//! Every signed request carries `timestamp` (local clock + the offset to
//! `GET /api/v3/time`) and `recvWindow`, all parameters in the query string,
//! signed last; the key travels in `X-MBX-APIKEY`. Faults:
//! - 429/418: wait `Retry-After` (refused past the policy's maximum) and
//!   resend — a rate-limited request was not executed;
//! - `X-MBX-USED-WEIGHT-1M` at the configured limit: wait for the next
//!   minute before sending more;
//! - `-1021` (timestamp outside recvWindow): resync the clock, resend;
//! - 5xx, timeouts, connection errors: lookups and cancels retry with
//!   backoff; a submit whose fate is unknown is first looked up by its client
//!   order id and resent only if the venue does not have it, so a timeout
//!   never creates a duplicate.
//!
//! Errors carry the venue's code and message, never the key, the secret, the
//! signature or the signed URL.

use super::credentials::SpotCredentials;
use super::endpoint::SpotEndpoint;
use super::parse;
use super::sign::{ClientOrderIds, sign_query};
use crate::binance::RetryPolicy;
use crate::binance::market_client::retry_after;
use crate::binance::wire::{ApiErrorBody, WireError, excerpt};
use crate::domain::{Fill, OrderId, Price, Symbol};
use crate::execution::Repeat;
use crate::execution::{Attempts, SymbolRules, VenueError};
use botfleet_crds::Phase;
use reqwest::{Method, StatusCode, Url};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Binance error codes the client acts on.
pub mod codes {
    /// Timestamp outside `recvWindow`: resync the clock.
    pub const TIMESTAMP_OUTSIDE_RECV_WINDOW: i64 = -1021;
    /// A filter failed (lot size, tick, notional).
    pub const FILTER_FAILURE: i64 = -1013;
    /// New order rejected (insufficient balance, duplicate client id, ...).
    pub const NEW_ORDER_REJECTED: i64 = -2010;
    /// Cancel rejected (unknown or no longer open order).
    pub const CANCEL_REJECTED: i64 = -2011;
    /// Order does not exist.
    pub const NO_SUCH_ORDER: i64 = -2013;
}

/// Tunables of the client.
#[derive(Clone, Debug)]
pub struct SpotOptions {
    /// Per-request timeout; a submit that exceeds it is looked up before any resend.
    pub timeout: Duration,
    /// `recvWindow` sent with every signed request, ms (Binance's maximum is 60000).
    pub recv_window_ms: u64,
    pub retry: RetryPolicy,
    /// Request weight per minute at which the client waits for the next
    /// minute (Binance's spot limit is 6000; keep headroom).
    pub weight_limit_1m: u32,
}

impl Default for SpotOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            recv_window_ms: 5000,
            retry: RetryPolicy::default(),
            weight_limit_1m: 5000,
        }
    }
}

/// A Binance spot account, one bot's orders on it.
pub struct SpotClient {
    http: reqwest::Client,
    base: Url,
    phase: Phase,
    creds: SpotCredentials,
    ids: ClientOrderIds,
    opts: SpotOptions,
    /// Server time − local time, ms; `None` until the first sync.
    time_offset_ms: Option<i64>,
    used_weight_1m: Option<u32>,
    rules: BTreeMap<Symbol, SymbolRules>,
    /// Orders whose submit ended with an unknown fate: looked up before any
    /// new attempt (the venue accepts a reused client id once the first
    /// order is no longer open, so a blind resend could duplicate it).
    uncertain: BTreeSet<OrderId>,
    reference_prices: BTreeMap<Symbol, Price>,
    /// The fills last read, with their order (a FULL submit answer, or the
    /// trades a lookup or cancel read for its fees), so reading them again
    /// right after costs no request (see `Venue::order_fills`). One slot:
    /// the caller asks right after the call that read them.
    pub(super) last_fills: Option<(OrderId, Vec<Fill>)>,
}

impl std::fmt::Debug for SpotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotClient")
            .field("base", &self.base.as_str())
            .field("phase", &self.phase)
            .field("credentials", &self.creds)
            .field("prefix", &self.ids.prefix())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn invalid(e: WireError) -> VenueError {
    VenueError::InvalidResponse {
        message: e.to_string(),
    }
}

impl SpotClient {
    /// A client for `endpoint` (which already refused Paper, and live hosts in
    /// Sandbox). `bot` names the bot; its client order ids are `<bot>-<id>`.
    pub fn new(
        endpoint: SpotEndpoint,
        creds: SpotCredentials,
        bot: &str,
        opts: SpotOptions,
    ) -> Result<Self, VenueError> {
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            // A redirect would carry the signed request and the API key
            // header to another host: the venue answers for itself or not at all.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VenueError::Unavailable {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            base: endpoint.url().clone(),
            phase: endpoint.phase(),
            creds,
            ids: ClientOrderIds::new(bot),
            opts,
            time_offset_ms: None,
            used_weight_1m: None,
            rules: BTreeMap::new(),
            uncertain: BTreeSet::new(),
            reference_prices: BTreeMap::new(),
            last_fills: None,
        })
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn client_order_ids(&self) -> &ClientOrderIds {
        &self.ids
    }

    /// The last `X-MBX-USED-WEIGHT-1M` the venue reported.
    pub fn used_weight_1m(&self) -> Option<u32> {
        self.used_weight_1m
    }

    /// Server time − local time, once synced.
    pub fn time_offset_ms(&self) -> Option<i64> {
        self.time_offset_ms
    }

    /// The last price of `symbol`, used to check a market order's notional
    /// against the minimum before sending it.
    pub fn set_reference_price(&mut self, symbol: &Symbol, price: Price) {
        self.reference_prices.insert(symbol.clone(), price);
    }

    /// Measures the offset to the venue's clock (`GET /api/v3/time`).
    pub async fn sync_time(&mut self) -> Result<i64, VenueError> {
        let before = now_ms();
        let body = self
            .call(
                Method::GET,
                "/api/v3/time",
                Vec::new(),
                false,
                Repeat::Idempotent,
            )
            .await?;
        let after = now_ms();
        let server = parse::parse_server_time(&body).map_err(invalid)?;
        let offset = server - (before + after) / 2;
        self.time_offset_ms = Some(offset);
        Ok(offset)
    }

    /// Loads (and caches) the filters of `symbol`.
    pub async fn rules_for(&mut self, symbol: &Symbol) -> Result<SymbolRules, VenueError> {
        if let Some(r) = self.rules.get(symbol) {
            return Ok(r.clone());
        }
        let params = vec![("symbol", symbol.as_str().to_string())];
        let body = self
            .call(
                Method::GET,
                "/api/v3/exchangeInfo",
                params,
                false,
                Repeat::Idempotent,
            )
            .await?;
        let rules = parse::parse_symbol_rules(&body, symbol).map_err(invalid)?;
        self.rules.insert(symbol.clone(), rules.clone());
        Ok(rules)
    }

    /// One request with retries per `repeat`; the body of a 2xx answer.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        params: Vec<(&str, String)>,
        signed: bool,
        repeat: Repeat,
    ) -> Result<String, VenueError> {
        let policy = self.opts.retry.clone();
        let mut attempts = Attempts::new(&policy, repeat);
        let mut resynced = false;
        loop {
            self.respect_weight_limit(&policy).await?;
            if signed && self.time_offset_ms.is_none() {
                self.sync_time_once().await?;
            }
            let error = match self.send_once(method.clone(), path, &params, signed).await {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            // A clock drifted out of recvWindow: resync once and resend (the
            // venue refused the request, so it was not executed).
            if let VenueError::Exchange { code, .. } = &error
                && *code == codes::TIMESTAMP_OUTSIDE_RECV_WINDOW
                && signed
                && !resynced
            {
                resynced = true;
                self.sync_time_once().await?;
                continue;
            }
            let attempt = attempts.made();
            let wait = attempts.after(error)?;
            tracing::warn!(
                path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "Binance request failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// `GET /api/v3/time` through [`Self::send_once`] (no recursion into `call`).
    async fn sync_time_once(&mut self) -> Result<(), VenueError> {
        let before = now_ms();
        let body = self
            .send_once(Method::GET, "/api/v3/time", &[], false)
            .await?;
        let after = now_ms();
        let server = parse::parse_server_time(&body).map_err(invalid)?;
        self.time_offset_ms = Some(server - (before + after) / 2);
        Ok(())
    }

    /// Waits for the next minute when the reported weight reached the limit.
    async fn respect_weight_limit(&mut self, policy: &RetryPolicy) -> Result<(), VenueError> {
        let Some(used) = self.used_weight_1m else {
            return Ok(());
        };
        if used < self.opts.weight_limit_1m {
            return Ok(());
        }
        let server_now = now_ms() + self.time_offset_ms.unwrap_or(0);
        let wait = Duration::from_millis((60_000 - server_now.rem_euclid(60_000)) as u64 + 50);
        if wait > policy.max_retry_after {
            return Err(VenueError::RateLimited {
                retry_after: Some(wait),
            });
        }
        tracing::warn!(
            used,
            wait_ms = wait.as_millis() as u64,
            "request weight at the limit; waiting for the next minute"
        );
        tokio::time::sleep(wait).await;
        self.used_weight_1m = None;
        Ok(())
    }

    /// One HTTP exchange, errors classified.
    async fn send_once(
        &mut self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        signed: bool,
    ) -> Result<String, VenueError> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if signed {
                let ts = now_ms() + self.time_offset_ms.unwrap_or(0);
                q.append_pair("recvWindow", &self.opts.recv_window_ms.to_string());
                q.append_pair("timestamp", &ts.to_string());
            }
        }
        if signed {
            // The signature covers exactly the query string as sent.
            let sig = sign_query(self.creds.secret(), url.query().unwrap_or(""));
            url.query_pairs_mut().append_pair("signature", &sig);
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut req = self.http.request(method, url);
        if signed {
            req = req.header("X-MBX-APIKEY", self.creds.api_key());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| VenueError::transport(path, &e))?;
        if let Some(w) = resp
            .headers()
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
        {
            self.used_weight_1m = Some(w);
        }
        let status = resp.status();
        let after = retry_after(resp.headers());
        let body = resp
            .text()
            .await
            .map_err(|e| VenueError::transport(path, &e))?;
        if status.is_success() {
            return Ok(body);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
            return Err(VenueError::RateLimited { retry_after: after });
        }
        let api = ApiErrorBody::parse(&body);
        if status.is_server_error() {
            let detail =
                api.map_or_else(|| excerpt(&body), |a| format!("code {}: {}", a.code, a.msg));
            return Err(VenueError::Unavailable {
                message: format!("{path}: HTTP {status}: {detail}"),
            });
        }
        match api {
            Some(ApiErrorBody { code, msg }) => Err(VenueError::Exchange { code, message: msg }),
            None => Err(VenueError::InvalidResponse {
                message: format!("{path}: HTTP {status}: {}", excerpt(&body)),
            }),
        }
    }
}

#[path = "client_orders.rs"]
mod orders;

#[path = "client_history.rs"]
mod history;

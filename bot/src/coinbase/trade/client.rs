//! The Advanced Trade REST client: requests, JWTs, retries, rate limits.
//! Order operations and the [`Venue`] impl are in `client_orders.rs`, the
//! trade history of the ledger check in `client_history.rs`.
//!
//! [`Venue`]: crate::execution::Venue
//!
//! Every request carries `Authorization: Bearer <JWT>` signed for exactly
//! its method, host and path (see [`super::jwt`]); bodies are JSON. Faults:
//! - 429: wait `Retry-After` when sent (else back off, doubling) and resend
//!   — a rate-limited request was not executed. Coinbase documents 30
//!   requests/s per key for private endpoints; the client spaces its
//!   requests by [`CoinbaseOptions::min_request_interval`] to stay under it;
//! - 5xx, timeouts, connection errors: lookups and cancels retry with
//!   backoff; a create whose fate is unknown is first looked up by its
//!   client order id and resent only if the venue does not have it;
//! - 401/403: the key is wrong or lacks the permission; the error says so
//!   and never carries the key, the JWT or the private key.

use super::credentials::CoinbaseCredentials;
use super::endpoint::CoinbaseEndpoint;
use super::jwt::{JWT_LIFETIME_SECS, build_jwt, uri_claim};
use super::parse::{self, FeeTier};
use super::rules::ProductRules;
use crate::binance::RetryPolicy;
use crate::binance::market_client::retry_after;
use crate::binance::spot::ClientOrderIds;
use crate::binance::wire::{WireError, excerpt};
use crate::domain::{Fill, OrderId, Price, Symbol};
use crate::execution::Repeat;
use crate::execution::{Attempts, VenueError};
use botfleet_crds::Phase;
use reqwest::{Method, StatusCode, Url};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The API's path prefix.
pub const BROKERAGE: &str = "/api/v3/brokerage";

/// Tunables of the client.
#[derive(Clone, Debug)]
pub struct CoinbaseOptions {
    /// Per-request timeout; a create that exceeds it is looked up before any resend.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Lifetime of each request's JWT, s (Coinbase documents 120). A
    /// request can reach the venue at most this long after it was signed,
    /// which bounds how late a lost create can still arrive.
    pub jwt_lifetime_secs: i64,
    /// Least time between two requests (30 per second is Coinbase's
    /// private-endpoint limit; 40 ms keeps headroom).
    pub min_request_interval: Duration,
    /// Pages of List Orders read when looking an order up by client id
    /// (after a restart, before the venue id is known).
    pub max_lookup_pages: u32,
}

impl Default for CoinbaseOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            jwt_lifetime_secs: JWT_LIFETIME_SECS,
            min_request_interval: Duration::from_millis(40),
            max_lookup_pages: 20,
        }
    }
}

/// A Coinbase Advanced Trade account, one bot's orders on it.
pub struct CoinbaseClient {
    http: reqwest::Client,
    pub(super) endpoint: CoinbaseEndpoint,
    creds: CoinbaseCredentials,
    pub(super) ids: ClientOrderIds,
    pub(super) opts: CoinbaseOptions,
    pub(super) rules: BTreeMap<Symbol, ProductRules>,
    /// Venue order ids of this bot's orders, learnt from creates and
    /// listings: Get Order, Cancel and List Fills take the venue's id.
    pub(super) venue_ids: BTreeMap<OrderId, String>,
    /// Orders whose create ended with an unknown fate: looked up before any
    /// new attempt.
    pub(super) uncertain: BTreeSet<OrderId>,
    pub(super) reference_prices: BTreeMap<Symbol, Price>,
    pub(super) fee_tier: Option<FeeTier>,
    pub(super) last_fills: Option<(OrderId, Vec<Fill>)>,
    last_request: Option<Instant>,
    /// Server time − local time, ms (JWT `nbf`/`exp` are checked on the
    /// venue's clock).
    time_offset_ms: i64,
}

impl std::fmt::Debug for CoinbaseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinbaseClient")
            .field("base", &self.endpoint.url().as_str())
            .field("phase", &self.endpoint.phase())
            .field("credentials", &self.creds)
            .field("prefix", &self.ids.prefix())
            .finish_non_exhaustive()
    }
}

pub(super) fn invalid(e: WireError) -> VenueError {
    VenueError::InvalidResponse {
        message: e.to_string(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl CoinbaseClient {
    /// A client for `endpoint` (which already refused Paper, and live hosts
    /// in Sandbox). `bot` names the bot; its client order ids are `<bot>-<id>`.
    pub fn new(
        endpoint: CoinbaseEndpoint,
        creds: CoinbaseCredentials,
        bot: &str,
        opts: CoinbaseOptions,
    ) -> Result<Self, VenueError> {
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            // A redirect would carry the bearer JWT to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VenueError::Unavailable {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            endpoint,
            creds,
            ids: ClientOrderIds::new(bot),
            opts,
            rules: BTreeMap::new(),
            venue_ids: BTreeMap::new(),
            uncertain: BTreeSet::new(),
            reference_prices: BTreeMap::new(),
            fee_tier: None,
            last_fills: None,
            last_request: None,
            time_offset_ms: 0,
        })
    }

    pub fn phase(&self) -> Phase {
        self.endpoint.phase()
    }

    pub fn base_url(&self) -> &Url {
        self.endpoint.url()
    }

    pub fn endpoint(&self) -> &CoinbaseEndpoint {
        &self.endpoint
    }

    pub fn client_order_ids(&self) -> &ClientOrderIds {
        &self.ids
    }

    /// The account's maker/taker rates, once read.
    pub fn fee_tier(&self) -> Option<FeeTier> {
        self.fee_tier
    }

    /// How long after its signature a request can still be executed.
    pub fn request_validity(&self) -> Duration {
        Duration::from_secs(self.opts.jwt_lifetime_secs.max(1) as u64)
    }

    pub fn set_reference_price(&mut self, symbol: &Symbol, price: Price) {
        self.reference_prices.insert(symbol.clone(), price);
    }

    /// Measures the offset to the venue's clock, ms (`GET
    /// /api/v3/brokerage/time`, public, `epochMillis`). A venue that does not
    /// serve it (Coinbase's static sandbox) leaves the local clock in charge.
    pub async fn sync_time(&mut self) -> Result<i64, VenueError> {
        let before = now_ms();
        let body = match self
            .call(Method::GET, "/time", Vec::new(), None, Repeat::Idempotent)
            .await
        {
            Ok(body) => body,
            Err(e @ (VenueError::Unavailable { .. } | VenueError::RateLimited { .. })) => {
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the venue does not tell its time; using the local clock");
                return Ok(0);
            }
        };
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| VenueError::InvalidResponse {
                message: format!("time response: {e}"),
            })?;
        let after = now_ms();
        let server = v
            .get("epochMillis")
            .and_then(|s| {
                s.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or(s.as_i64())
            })
            .ok_or_else(|| VenueError::InvalidResponse {
                message: "time response: no epochMillis".into(),
            })?;
        self.time_offset_ms = server - (before + after) / 2;
        Ok(self.time_offset_ms)
    }

    /// Loads (and caches) a product's rules.
    pub async fn product_rules(&mut self, symbol: &Symbol) -> Result<ProductRules, VenueError> {
        if let Some(r) = self.rules.get(symbol) {
            return Ok(r.clone());
        }
        let path = format!("/products/{}", symbol.as_str());
        let body = self
            .call(Method::GET, &path, Vec::new(), None, Repeat::Idempotent)
            .await?;
        let rules = parse::parse_product(&body, symbol).map_err(invalid)?;
        self.rules.insert(symbol.clone(), rules.clone());
        Ok(rules)
    }

    /// Reads the account's fee tier (`GET /transaction_summary`).
    pub async fn load_fee_tier(&mut self) -> Result<FeeTier, VenueError> {
        let body = self
            .call(
                Method::GET,
                "/transaction_summary",
                Vec::new(),
                None,
                Repeat::Idempotent,
            )
            .await?;
        let tier = parse::parse_transaction_summary(&body).map_err(invalid)?;
        self.fee_tier = Some(tier);
        Ok(tier)
    }

    /// One request under [`BROKERAGE`] with retries per `repeat`; the body
    /// of a 2xx answer.
    pub(super) async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: Vec<(&str, String)>,
        body: Option<serde_json::Value>,
        repeat: Repeat,
    ) -> Result<String, VenueError> {
        let mut attempts = Attempts::new(&self.opts.retry, repeat);
        loop {
            let error = match self
                .send_once(method.clone(), path, &query, body.as_ref())
                .await
            {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            let attempt = attempts.made();
            let wait = attempts.after(error)?;
            tracing::warn!(
                path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "Coinbase request failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP exchange, errors classified.
    async fn send_once(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<String, VenueError> {
        if let Some(last) = self.last_request {
            let since = last.elapsed();
            if since < self.opts.min_request_interval {
                tokio::time::sleep(self.opts.min_request_interval - since).await;
            }
        }
        self.last_request = Some(Instant::now());
        let base = self.endpoint.url();
        let mut url = base.clone();
        let full_path = format!("{}{BROKERAGE}{path}", base.path().trim_end_matches('/'));
        url.set_path(&full_path);
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        let uri = uri_claim(method.as_str(), &self.endpoint.jwt_host(), &full_path);
        let jwt = build_jwt(
            &self.creds,
            &uri,
            (now_ms() + self.time_offset_ms).div_euclid(1000),
            self.opts.jwt_lifetime_secs,
        );
        let mut req = self.http.request(method, url).bearer_auth(jwt);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| VenueError::transport(path, &e))?;
        let status = resp.status();
        let after = retry_after(resp.headers());
        let text = resp
            .text()
            .await
            .map_err(|e| VenueError::transport(path, &e))?;
        if status.is_success() {
            return Ok(text);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(VenueError::RateLimited { retry_after: after });
        }
        let api = parse::parse_error_body(&text);
        let detail = api
            .as_ref()
            .map_or_else(|| excerpt(&text), |a| format!("{}: {}", a.error, a.message));
        if status.is_server_error() {
            return Err(VenueError::Unavailable {
                message: format!("{path}: HTTP {status}: {detail}"),
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(VenueError::Exchange {
                code: i64::from(status.as_u16()),
                message: format!(
                    "{path}: HTTP {status}: the API key was refused ({detail}); check the key \
                     name, the private key and the key's trade/view permissions in the Secret"
                ),
            });
        }
        match api {
            Some(a) => Err(VenueError::Exchange {
                code: i64::from(status.as_u16()),
                message: format!("{}: {}", a.error, a.message),
            }),
            None => Err(VenueError::InvalidResponse {
                message: format!("{path}: HTTP {status}: {}", excerpt(&text)),
            }),
        }
    }
}

#[path = "client_orders.rs"]
mod orders;

#[path = "client_history.rs"]
mod history;

//! REST client for Coinbase Advanced Trade's public candles, no keys:
//! `GET {base}/api/v3/brokerage/market/products/{product_id}/candles
//! ?start=<unix s>&end=<unix s>&granularity=ONE_HOUR`.
//!
//! A request covers at most [`MAX_CANDLES_PER_REQUEST`] candles, so longer
//! ranges are fetched window after window, oldest first. Answers come newest
//! first and are put in order; candles outside the asked range (an
//! in-progress candle, one before `start`) are dropped. 429 and 5xx and
//! transport failures retry with capped exponential backoff (honouring a
//! `Retry-After` when one is sent); other 4xx surface at once with
//! Coinbase's `{"error","message"}`.

use super::candles::{self, Granularity, MAX_CANDLES_PER_REQUEST};
use crate::binance::market_client::{RetryPolicy, retry_after};
use crate::binance::wire::{self, WireError};
use crate::domain::{Candle, Symbol, Timeframe};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Production REST base URL (public market data needs no key).
pub const COINBASE_API_URL: &str = "https://api.coinbase.com";

/// Errors of a candles request.
#[derive(Debug, thiserror::Error)]
pub enum CoinbaseRestError {
    #[error("invalid Coinbase REST base URL `{url}`: {reason} (expected e.g. {COINBASE_API_URL})")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("invalid candles request: {0}")]
    InvalidRequest(String),
    #[error("request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Coinbase refused the request with its error body.
    #[error("Coinbase answered HTTP {status}: {error}: {message}")]
    Api {
        status: u16,
        error: String,
        message: String,
    },
    /// An error status without Coinbase's error body.
    #[error("Coinbase answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("Coinbase rate limit: HTTP 429, retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("malformed candles response: {0}")]
    Decode(#[from] WireError),
}

impl CoinbaseRestError {
    /// True for the caller's own mistakes (unknown product, bad parameter,
    /// bad base URL): retrying the same request cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::InvalidBaseUrl { .. } | Self::InvalidRequest(_) => true,
            Self::Api { status, .. } | Self::Http { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 429)
            }
            _ => false,
        }
    }

    /// How long Coinbase asked us to stay away, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// Client for the public candles endpoint.
#[derive(Clone, Debug)]
pub struct CandlesClient {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
}

impl CandlesClient {
    /// A client for `base_url` with a 10 s request timeout and the default retry policy.
    pub fn new(base_url: &str) -> Result<Self, CoinbaseRestError> {
        Self::with_options(base_url, Duration::from_secs(10), RetryPolicy::default())
    }

    pub fn with_options(
        base_url: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, CoinbaseRestError> {
        let invalid = |reason: &str| CoinbaseRestError::InvalidBaseUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let base = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.query().is_some() {
            return Err(invalid("a base URL has no query string"));
        }
        if retry.max_attempts == 0 {
            return Err(CoinbaseRestError::InvalidRequest(
                "retry policy max_attempts must be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| invalid(&format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base, retry })
    }

    /// One request: the candles of `granularity` starting in
    /// `start_s..=end_s` (Unix seconds), oldest first, as Coinbase sends them.
    pub async fn candles_page(
        &self,
        product: &Symbol,
        granularity: &str,
        start_s: i64,
        end_s: i64,
    ) -> Result<Vec<Candle>, CoinbaseRestError> {
        if end_s < start_s {
            return Err(CoinbaseRestError::InvalidRequest(format!(
                "end {end_s} is before start {start_s}"
            )));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| CoinbaseRestError::InvalidRequest("the base URL cannot be a base".into()))?
            .pop_if_empty()
            .extend([
                "api",
                "v3",
                "brokerage",
                "market",
                "products",
                product.as_str(),
                "candles",
            ]);
        url.query_pairs_mut()
            .append_pair("start", &start_s.to_string())
            .append_pair("end", &end_s.to_string())
            .append_pair("granularity", granularity);
        let body = self.get_with_retry(url).await?;
        candles::parse_candles(&body).map_err(|mut e| {
            // The candles do not say whose they are: name the product asked for.
            e.context = format!("{product} {}", e.context);
            CoinbaseRestError::Decode(e)
        })
    }

    /// Every candle of `timeframe` opening in `from..=to` (Unix ms, both on
    /// the timeframe's boundaries), oldest first, fetched in windows of at
    /// most 350 source candles (4h candles are merged from hours).
    pub async fn fetch_candles(
        &self,
        product: &Symbol,
        timeframe: Timeframe,
        from: i64,
        to: i64,
    ) -> Result<Vec<Candle>, CoinbaseRestError> {
        let g = candles::granularity(timeframe);
        let last_source = to + g.candle_ms - g.source_ms;
        let mut source = Vec::new();
        let mut cursor = from;
        while cursor <= last_source {
            let window_last =
                (cursor + (MAX_CANDLES_PER_REQUEST - 1) * g.source_ms).min(last_source);
            // `end` one second short of the next candle: inclusive or not, it
            // never asks for a 351st candle.
            let end_s = (window_last + g.source_ms) / 1000 - 1;
            let page = self
                .candles_page(product, g.name, cursor / 1000, end_s)
                .await?;
            source.extend(
                page.into_iter()
                    .filter(|c| c.open_time >= cursor && c.open_time <= window_last),
            );
            cursor = window_last + g.source_ms;
        }
        Ok(candles::merge(source, g)
            .into_iter()
            .filter(|c| c.open_time >= from && c.open_time <= to)
            .collect())
    }

    /// The candles of the last `n` intervals closed at `now` (Unix ms),
    /// oldest first; fewer when some intervals had no trade.
    pub async fn fetch_recent(
        &self,
        product: &Symbol,
        timeframe: Timeframe,
        n: usize,
        now: i64,
    ) -> Result<Vec<Candle>, CoinbaseRestError> {
        let g: Granularity = candles::granularity(timeframe);
        let current = now - now.rem_euclid(g.candle_ms);
        if n == 0 {
            return Ok(Vec::new());
        }
        let from = current - n as i64 * g.candle_ms;
        self.fetch_candles(product, timeframe, from.max(0), current - g.candle_ms)
            .await
    }

    /// GET `url`, retrying per the policy; the body of a 2xx answer.
    async fn get_with_retry(&self, url: Url) -> Result<String, CoinbaseRestError> {
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.max_attempts;
            let (error, wait) = match self.http.get(url.clone()).send().await {
                Err(source) => (
                    CoinbaseRestError::Transport {
                        url: url.to_string(),
                        source,
                    },
                    backoff,
                ),
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(resp.headers());
                    let body = resp
                        .text()
                        .await
                        .map_err(|source| CoinbaseRestError::Transport {
                            url: url.to_string(),
                            source,
                        });
                    if status.is_success() {
                        return body;
                    }
                    let body = body.unwrap_or_default();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let limited = CoinbaseRestError::RateLimited { retry_after: after };
                        match after {
                            Some(a) if a > self.retry.max_retry_after => return Err(limited),
                            Some(a) => (limited, a),
                            None => (limited, backoff),
                        }
                    } else {
                        let error = status_error(status, &body);
                        if error.is_permanent() {
                            return Err(error);
                        }
                        (error, backoff)
                    }
                }
            };
            if last {
                return Err(error);
            }
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, %error,
                "Coinbase candles request failed; retrying");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
            attempt += 1;
        }
    }
}

/// The error for a non-success, non-rate-limit answer: Coinbase's
/// `{"error": "INVALID_ARGUMENT", "message": "…"}` when the body has it.
fn status_error(status: StatusCode, body: &str) -> CoinbaseRestError {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match (field("error"), field("message")) {
        (Some(error), message) => CoinbaseRestError::Api {
            status: status.as_u16(),
            message: message
                .or_else(|| field("error_details"))
                .unwrap_or_default(),
            error,
        },
        (None, _) => CoinbaseRestError::Http {
            status: status.as_u16(),
            body: wire::excerpt(body),
        },
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

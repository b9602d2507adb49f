//! REST client for Binance's public market data (`GET /api/v3/klines`), no keys.
//!
//! The base URL is a parameter, never a hard-coded choice: production
//! ([`BINANCE_API_URL`]), the Spot Test Network ([`BINANCE_TESTNET_API_URL`]),
//! or a local simulator. Rate limiting follows Binance's rules: 429 (too many
//! requests) and 418 (IP banned after ignoring 429s) carry `Retry-After` in
//! seconds, and the client waits at least that long before retrying; 5xx and
//! transport failures retry with capped exponential backoff (klines are a GET,
//! safe to repeat). Other 4xx are the caller's mistake and surface at once,
//! with Binance's `{"code","msg"}` when the body has it.

use super::klines::{self, Kline};
use super::wire::{self, ApiErrorBody, WireError};
use crate::domain::{Symbol, Timeframe};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Production REST base URL.
pub const BINANCE_API_URL: &str = "https://api.binance.com";
/// Spot Test Network REST base URL (same endpoints and formats, fake money).
pub const BINANCE_TESTNET_API_URL: &str = "https://testnet.binance.vision";
/// Binance's maximum `limit` for one klines request.
pub const MAX_KLINES_PER_REQUEST: u16 = 1000;

/// Errors of a REST call.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("invalid Binance REST base URL `{url}`: {reason} (expected e.g. {BINANCE_API_URL})")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("invalid klines request: {0}")]
    InvalidRequest(String),
    #[error("request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Binance refused the request with its error body.
    #[error("Binance answered HTTP {status}: code {code}: {msg}")]
    Api { status: u16, code: i64, msg: String },
    /// An error status without Binance's error body (a proxy page, an empty body).
    #[error("Binance answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// 429/418 and retrying is not allowed: attempts used up, or `Retry-After`
    /// longer than the policy's `max_retry_after`.
    #[error("Binance rate limit: HTTP {status}, retry after {retry_after:?}")]
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("malformed klines response: {0}")]
    Decode(#[from] WireError),
}

impl RestError {
    /// True for the caller's own mistakes (bad symbol, bad parameter, bad base
    /// URL): retrying the same request cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            RestError::InvalidBaseUrl { .. } | RestError::InvalidRequest(_) => true,
            RestError::Api { status, .. } | RestError::Http { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 418 | 429)
            }
            _ => false,
        }
    }

    /// How long Binance asked us to stay away, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RestError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// When and how long to retry a failed request (shared with the venue
/// clients: `crate::execution::retry`).
pub use crate::execution::RetryPolicy;

/// The `Retry-After` header as a duration (Binance sends whole seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    text.parse::<u64>().ok().map(Duration::from_secs)
}

/// Client for Binance's public market-data REST endpoints.
#[derive(Clone, Debug)]
pub struct MarketDataClient {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
}

impl MarketDataClient {
    /// A client for `base_url` with a 10 s request timeout and the default retry policy.
    pub fn new(base_url: &str) -> Result<Self, RestError> {
        Self::with_options(base_url, Duration::from_secs(10), RetryPolicy::default())
    }

    /// A client for `base_url` with this per-request `timeout` and retry policy.
    pub fn with_options(
        base_url: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, RestError> {
        let invalid = |reason: &str| RestError::InvalidBaseUrl {
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
            return Err(RestError::InvalidRequest(
                "retry policy max_attempts must be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| invalid(&format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base, retry })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// One `GET /api/v3/klines` request. With neither `start` nor `end`,
    /// Binance returns the most recent klines (the last one usually still open).
    pub async fn klines_page(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        start: Option<i64>,
        end: Option<i64>,
        limit: u16,
    ) -> Result<Vec<Kline>, RestError> {
        if limit == 0 || limit > MAX_KLINES_PER_REQUEST {
            return Err(RestError::InvalidRequest(format!(
                "limit {limit} is outside 1..={MAX_KLINES_PER_REQUEST}"
            )));
        }
        let mut url = self.base.clone();
        let path = format!("{}/api/v3/klines", self.base.path().trim_end_matches('/'));
        url.set_path(&path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("symbol", symbol.as_str());
            q.append_pair("interval", timeframe.as_str());
            if let Some(start) = start {
                q.append_pair("startTime", &start.to_string());
            }
            if let Some(end) = end {
                q.append_pair("endTime", &end.to_string());
            }
            q.append_pair("limit", &limit.to_string());
        }
        let body = self.get_with_retry(url).await?;
        klines::parse_klines(&body).map_err(|mut e| {
            // The rows do not say whose they are: name the symbol asked for.
            e.context = format!("{symbol} {}", e.context);
            RestError::Decode(e)
        })
    }

    /// Every kline with open time in `start..=end` (Unix ms), at most `limit`
    /// of them, oldest first; pages of up to 1000 are requested one after another.
    pub async fn fetch_klines(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<Kline>, RestError> {
        if start > end {
            return Err(RestError::InvalidRequest(format!(
                "start {start} is after end {end}"
            )));
        }
        if limit == 0 {
            return Err(RestError::InvalidRequest("limit must be at least 1".into()));
        }
        let mut out: Vec<Kline> = Vec::new();
        let mut cursor = start;
        while out.len() < limit && cursor <= end {
            let want = (limit - out.len()).min(MAX_KLINES_PER_REQUEST as usize) as u16;
            let page = self
                .klines_page(symbol, timeframe, Some(cursor), Some(end), want)
                .await?;
            let full = page.len() >= want as usize;
            for (i, k) in page.into_iter().enumerate() {
                if k.open_time < cursor {
                    return Err(RestError::Decode(WireError::new(
                        format!("klines page from {cursor}, row {i}"),
                        format!(
                            "open time {} is not after the previous kline (expected ascending, no duplicates)",
                            k.open_time
                        ),
                    )));
                }
                if k.open_time > end || out.len() >= limit {
                    return Ok(out);
                }
                cursor = k.open_time + timeframe.millis();
                out.push(k);
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// The `count` most recent klines, oldest first; the last is usually the
    /// one still in progress (see [`klines::closed_prefix`]).
    pub async fn fetch_recent_klines(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        count: usize,
    ) -> Result<Vec<Kline>, RestError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let first = count.min(MAX_KLINES_PER_REQUEST as usize) as u16;
        let mut recent = self
            .klines_page(symbol, timeframe, None, None, first)
            .await?;
        let missing = count.saturating_sub(recent.len());
        let oldest = recent.first().map_or(0, |k| k.open_time);
        if missing > 0 && recent.len() == first as usize && oldest > 0 {
            let start = oldest.saturating_sub(missing as i64 * timeframe.millis());
            let mut older = self
                .fetch_klines(symbol, timeframe, start.max(0), oldest - 1, missing)
                .await?;
            older.append(&mut recent);
            recent = older;
        }
        Ok(recent)
    }

    /// GET `url`, retrying per the policy; the body of a 2xx answer.
    async fn get_with_retry(&self, url: Url) -> Result<String, RestError> {
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.max_attempts;
            let (error, wait) = match self.http.get(url.clone()).send().await {
                Err(source) => {
                    let error = RestError::Transport {
                        url: url.to_string(),
                        source,
                    };
                    (error, backoff)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(resp.headers());
                    let body = resp.text().await.map_err(|source| RestError::Transport {
                        url: url.to_string(),
                        source,
                    });
                    if status.is_success() {
                        return body;
                    }
                    let body = body.unwrap_or_default();
                    if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
                        let limited = RestError::RateLimited {
                            status: status.as_u16(),
                            retry_after: after,
                        };
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
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                %error,
                "Binance klines request failed; retrying"
            );
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
            attempt += 1;
        }
    }
}

/// The error for a non-success, non-rate-limit answer.
fn status_error(status: StatusCode, body: &str) -> RestError {
    match ApiErrorBody::parse(body) {
        Some(ApiErrorBody { code, msg }) => RestError::Api {
            status: status.as_u16(),
            code,
            msg,
        },
        None => RestError::Http {
            status: status.as_u16(),
            body: wire::excerpt(body),
        },
    }
}

#[cfg(test)]
#[path = "market_client_tests.rs"]
mod tests;

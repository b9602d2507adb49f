//! The HTTP client of an OpenAI-compatible Chat Completions endpoint: one
//! decision = one POST `{endpoint}/chat/completions`, retried with backoff
//! on 429 (honouring `Retry-After`), 5xx and connection errors, all inside
//! one deadline. Redirects are not followed (the key must not travel to
//! another host). The key is sent as a Bearer token and never logged.

use std::time::{Duration, Instant};

use serde_json::json;

use super::AbstainCause;
use super::prompt::Prompt;
use super::reply::{Usage, parse_completion, response_format};

/// First backoff; doubled per retry, capped at [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Where and how to ask.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL up to the version, e.g. `https://api.openai.com/v1`.
    pub endpoint: String,
    pub model: String,
    pub temperature: f64,
    /// The whole decision, retries included.
    pub deadline: Duration,
    pub max_retries: u32,
}

/// An API key. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The outcome of one decision's HTTP exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The message content and usage, or why there is none.
    pub result: Result<(String, Usage), AbstainCause>,
    /// Requests sent (1 + retries).
    pub attempts: u32,
    pub latency: Duration,
}

/// A reusable client (connection pool).
#[derive(Clone, Debug)]
pub struct LlmClient {
    http: reqwest::Client,
}

impl LlmClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http })
    }

    /// Asks once, with retries, within `config.deadline`; never fails: a
    /// missed deadline or a refused request is an abstention cause.
    pub async fn complete(
        &self,
        config: &ClientConfig,
        key: Option<&ApiKey>,
        prompt: &Prompt,
    ) -> Completion {
        let started = Instant::now();
        let mut attempts = 0;
        let result = tokio::time::timeout(
            config.deadline,
            self.with_retries(config, key, prompt, started, &mut attempts),
        )
        .await
        .unwrap_or(Err(AbstainCause::Timeout));
        Completion {
            result,
            attempts,
            latency: started.elapsed(),
        }
    }

    async fn with_retries(
        &self,
        config: &ClientConfig,
        key: Option<&ApiKey>,
        prompt: &Prompt,
        started: Instant,
        attempts: &mut u32,
    ) -> Result<(String, Usage), AbstainCause> {
        let url = format!("{}/chat/completions", config.endpoint.trim_end_matches('/'));
        let body = json!({
            "model": config.model,
            "temperature": config.temperature,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "response_format": response_format(),
        });
        loop {
            *attempts += 1;
            let mut request = self.http.post(&url).json(&body);
            if let Some(k) = key {
                request = request.bearer_auth(&k.0);
            }
            let (cause, retry_after) = match request.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = retry_after_header(&resp);
                    match status {
                        200..=299 => {
                            let text = resp.text().await.map_err(|_| AbstainCause::Transport)?;
                            return parse_completion(&text);
                        }
                        429 => (AbstainCause::RateLimited, retry_after),
                        500..=599 => (AbstainCause::ServerError, retry_after),
                        // 4xx other than 429 (bad key, unknown model): retrying will not help.
                        _ => return Err(AbstainCause::Refused),
                    }
                }
                Err(_) => (AbstainCause::Transport, None),
            };
            if *attempts > config.max_retries {
                return Err(cause);
            }
            let backoff = retry_after.unwrap_or_else(|| backoff(*attempts));
            // Waiting past the deadline only delays the same abstention.
            if started.elapsed() + backoff >= config.deadline {
                return Err(cause);
            }
            tokio::time::sleep(backoff).await;
        }
    }
}

/// Backoff before retry `n` (1-based): 250 ms, 500 ms, 1 s, ... up to 4 s.
pub fn backoff(n: u32) -> Duration {
    BASE_BACKOFF
        .saturating_mul(1 << n.saturating_sub(1).min(8))
        .min(MAX_BACKOFF)
}

/// `Retry-After` in seconds (the HTTP-date form falls back to backoff).
fn retry_after_header(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
